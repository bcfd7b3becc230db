package controllers

import (
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

func (h *harness) replicaFailure() *v1alpha1.Condition {
	st, _ := h.r.Status("web")
	return v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionReplicaFailure)
}

// TestMissingImageIsTheStallReason: a rollout to an image the Engine does
// not have says so in the status, not only in an event.
func TestMissingImageIsTheStallReason(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	h.rt.missingImages = map[string]bool{"demoapp:typo": true}
	spec := testSpec(2)
	spec.Spec.Template.Image = "demoapp:typo"
	h.specs.specs["web"] = spec
	if _, err := h.reconcile(); err == nil {
		t.Fatal("reconcile with a missing image: no error")
	}
	c := h.replicaFailure()
	if c == nil || c.Status != v1alpha1.ConditionTrue || c.Reason != StallImageNotFound || !strings.Contains(c.Message, `"demoapp:typo" not found`) {
		t.Fatalf("ReplicaFailure = %+v, want ImageNotFound naming the image", c)
	}
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-2" {
		t.Errorf("the old replicas must keep serving: upstream %s", got)
	}
	// Fixed: the condition goes once nothing stands in the way.
	h.specs.specs["web"] = testSpec(2)
	h.mustReconcile()
	if c := h.replicaFailure(); c != nil {
		t.Errorf("ReplicaFailure after the fix = %+v, want none", c)
	}
}

// TestUnhealthyReplicaShowsItsLastProbe: the failing health check's own
// output is in the status, which before only `docker inspect` showed.
func TestUnhealthyReplicaShowsItsLastProbe(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	h.rt.probes = map[string]ProbeResult{"web-2": {ExitCode: 1, Output: "GET /health:\n  503 redis unreachable\n"}}
	h.rt.set("web-2", StateRunning, HealthUnhealthy)
	h.mustReconcile()
	c := h.replicaFailure()
	want := "web-2 is unhealthy: last health check exited 1: GET /health: 503 redis unreachable"
	if c == nil || c.Reason != StallUnhealthy || c.Message != want {
		t.Fatalf("ReplicaFailure = %+v, want reason Unhealthy and message %q", c, want)
	}
	h.rt.set("web-2", StateRunning, HealthHealthy)
	h.mustReconcile()
	if c := h.replicaFailure(); c != nil {
		t.Errorf("ReplicaFailure after recovery = %+v, want none", c)
	}
}

// TestSlowStartIsNotAFailureUntilStallAfter: a replica still starting is
// called failing only after stallAfter, and a converged spec makes no
// Engine call for any of this.
func TestSlowStartIsNotAFailureUntilStallAfter(t *testing.T) {
	h := newHarness(t, testSpec(1))
	converge(h)
	h.rt.lastProbes = 0
	h.mustReconcile()
	if h.rt.lastProbes != 0 {
		t.Errorf("%d LastProbe calls for a converged spec", h.rt.lastProbes)
	}
	h.rt.probes = map[string]ProbeResult{"web-1": {ExitCode: 7, Output: "connection refused"}}
	h.rt.set("web-1", StateRunning, HealthStarting)
	h.rt.setCreated("web-1", h.now.Add(-stallAfter/2))
	h.mustReconcile()
	if c := h.replicaFailure(); c != nil {
		t.Errorf("ReplicaFailure %+v for a replica starting for %s", c, stallAfter/2)
	}
	h.rt.setCreated("web-1", h.now.Add(-2*stallAfter))
	h.mustReconcile()
	c := h.replicaFailure()
	if c == nil || c.Reason != StallProbeFailing || !strings.Contains(c.Message, "web-1 has not passed its health check since it started: last health check exited 7: connection refused") {
		t.Errorf("ReplicaFailure = %+v, want ProbeFailing with the probe's output", c)
	}
	if !strings.Contains(eventsText(h), "ProbeFailing web-1 has not passed its health check") {
		t.Errorf("no ProbeFailing event:\n%s", eventsText(h))
	}
}

func (f *fakeRuntime) setCreated(name string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.Name == name {
			c.Created = at
		}
	}
}

func eventsText(h *harness) string {
	var b strings.Builder
	for _, e := range h.r.Events.List("web") {
		b.WriteString(e.Reason + " " + e.Message + "\n")
	}
	return b.String()
}
