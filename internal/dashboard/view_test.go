package dashboard

import (
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

func TestSpecViewMarksRolloutsAndFailures(t *testing.T) {
	f := newFake(2)
	s := f.spec()
	s.Status.Conditions = append(s.Status.Conditions,
		v1alpha1.Condition{Type: v1alpha1.ConditionProgressing, Status: v1alpha1.ConditionTrue, Reason: "ReplicasUpdating", Message: "1 of 2 updated replicas are available"},
		v1alpha1.Condition{Type: v1alpha1.ConditionReplicaFailure, Status: v1alpha1.ConditionTrue, Reason: "Unhealthy"})
	reps := []v1alpha1.ReplicaInfo{
		{Name: "web-1", Role: v1alpha1.RoleApp, State: "running", Health: "healthy", TemplateHash: "old", InUpstream: true},
		{Name: "web-3", Role: v1alpha1.RoleApp, State: "running", Health: "starting", TemplateHash: v1alpha1.TemplateHash(s.Spec.Template)},
	}
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	var events []v1alpha1.Event
	for i := range 20 {
		events = append(events, v1alpha1.Event{Reason: "UpstreamUpdated", Message: "step", LastTimestamp: t0.Add(time.Duration(i) * time.Second)})
	}
	v := specView(s, reps, events)
	if !v.Members[0].Outdated || v.Members[1].Outdated {
		t.Errorf("outdated = %v, %v; want web-1 (old template) only", v.Members[0].Outdated, v.Members[1].Outdated)
	}
	if v.Rollout == nil || !v.Rollout.Rollout || len(v.Rollout.Steps) == 0 || len(v.Rollout.Steps) > maxSteps {
		t.Fatalf("rollout = %+v, want a rollout with at most %d steps", v.Rollout, maxSteps)
	}
	if last := v.Rollout.Steps[len(v.Rollout.Steps)-1]; !strings.HasPrefix(last, "10:00:19 ") {
		t.Errorf("last step %q, want the newest event last", last)
	}
	for _, c := range v.Conditions {
		if want := c.Type != v1alpha1.ConditionReplicaFailure; c.Good != want {
			t.Errorf("condition %s %s: good=%v, want %v", c.Type, c.Status, c.Good, want)
		}
	}
	// A scale converges: not a rollout.
	reps[0].TemplateHash = reps[1].TemplateHash
	if v := specView(s, reps, events); v.Rollout == nil || v.Rollout.Rollout {
		t.Errorf("with every replica on the template: %+v, want a change in progress that is no rollout", v.Rollout)
	}
}

func TestLatestEventsNewestFirstAndBounded(t *testing.T) {
	t0 := time.Now()
	var events []v1alpha1.Event
	for i := range 100 {
		events = append(events, v1alpha1.Event{Reason: "R", LastTimestamp: t0.Add(time.Duration(i) * time.Second)})
	}
	got := latestEvents(events)
	if len(got) != maxEvents || !got[0].Last.Equal(t0.Add(99*time.Second)) {
		t.Errorf("%d events, first at %v; want %d, the newest first", len(got), got[0].Last, maxEvents)
	}
}

// An autoscaled spec shows the autoscaler's count as desired, with its
// bounds, reason and metrics.
func TestSpecViewShowsTheAutoscaler(t *testing.T) {
	f := newFake(2)
	s := f.spec()
	s.Spec.Autoscaling = &v1alpha1.Autoscaling{MaxReplicas: 8, Metrics: []v1alpha1.AutoscalingMetric{{Type: v1alpha1.MetricRequestsPerSecond, Target: 100}}}
	value := 250.0
	s.Status.Autoscaling = &v1alpha1.AutoscalingStatus{DesiredReplicas: 4, Reason: "ScaleUpLimitedByMaxStep",
		Metrics: []v1alpha1.MetricValue{{Type: v1alpha1.MetricRequestsPerSecond, Value: &value, Target: 100, Proposal: 5}}}
	v := specView(s, nil, nil)
	if v.Desired != 4 || v.Autoscaling != "1-8, desired 4 (ScaleUpLimitedByMaxStep): RequestsPerSecond 250/100" {
		t.Errorf("desired %d, autoscaling %q", v.Desired, v.Autoscaling)
	}
	if v := specView(f.spec(), nil, nil); v.Autoscaling != "" {
		t.Errorf("a spec without autoscaling shows %q", v.Autoscaling)
	}
}
