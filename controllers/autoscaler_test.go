package controllers

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// fixedSource reads the same total for every metric until the test
// changes it.
type fixedSource struct {
	mu    sync.Mutex
	total float64
	err   error
}

func (f *fixedSource) set(total float64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.total, f.err = total, err
}

func (f *fixedSource) Read(context.Context, *v1alpha1.ScaleSpec, v1alpha1.AutoscalingMetric, []Container) (float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total, f.err
}

// settle reconciles, marking every replica healthy, until the spec has
// want replicas or ten passes went by.
func settle(h *harness, want int) {
	h.t.Helper()
	for range 10 {
		h.mustReconcile()
		for _, n := range h.rt.names(v1alpha1.RoleApp) {
			h.rt.set(n, StateRunning, HealthHealthy)
		}
		h.now = h.now.Add(10 * time.Second) // past every drain
		if len(h.rt.names(v1alpha1.RoleApp)) == want && len(h.upstream()) == want {
			return
		}
	}
	h.t.Fatalf("replicas %v, upstream %v; want %d", h.rt.names(v1alpha1.RoleApp), h.upstream(), want)
}

// The autoscaler's decision reaches the replicas through the same
// reconcile as a manual scale, and says why in status and events.
func TestAutoscalerScalesTheSpec(t *testing.T) {
	spec := testSpec(2)
	spec.Spec.Autoscaling = &v1alpha1.Autoscaling{
		MaxReplicas: 6,
		Metrics:     []v1alpha1.AutoscalingMetric{{Type: v1alpha1.MetricRequestsPerSecond, Target: 100}},
		Behavior: v1alpha1.AutoscalingBehavior{ScaleDown: v1alpha1.ScalingRules{
			StabilizationWindow: &v1alpha1.Duration{}, MaxStep: &v1alpha1.IntOrPercent{Value: 100, IsPercent: true}}},
	}
	spec.Default()
	h := newHarness(t, spec)
	settle(h, 2)
	var requeued []string
	h.r.Requeue = func(name string) { requeued = append(requeued, name) }
	src := &fixedSource{total: 500}
	a := NewAutoscaler(h.r, src, time.Second, logr.Discard())
	ctx := context.Background()

	a.pass(ctx) // 500 req/s over 2 replicas, target 100: 5, at most doubling
	st, _ := h.r.Status("web")
	if st.Autoscaling == nil || st.Autoscaling.DesiredReplicas != 4 || st.Autoscaling.Reason != "ScaleUpLimitedByMaxStep" {
		t.Fatalf("autoscaling status %+v; want 4 by ScaleUpLimitedByMaxStep", st.Autoscaling)
	}
	if v := st.Autoscaling.Metrics[0].Value; v == nil || *v != 250 {
		t.Errorf("metric value %v; want 250 per replica", v)
	}
	if len(requeued) != 1 || requeued[0] != "web" {
		t.Errorf("requeued %v; want the spec once", requeued)
	}
	if !hasEvent(h, ReasonAutoscaled, "replicas 2 → 4: ScaleUpLimitedByMaxStep (RequestsPerSecond 250/100)") {
		t.Errorf("no Autoscaled event: %v", h.r.Events.List("web"))
	}
	settle(h, 4)

	a.pass(ctx) // 500 over 4: 5
	settle(h, 5)

	src.set(0, errors.New("connection refused"))
	a.pass(ctx)
	st, _ = h.r.Status("web")
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionScalingActive); c == nil || c.Status != v1alpha1.ConditionFalse ||
		!strings.Contains(c.Message, "RequestsPerSecond: connection refused") {
		t.Errorf("ScalingActive %+v; want False naming the metric", c)
	}
	if st.Autoscaling.DesiredReplicas != 5 {
		t.Errorf("an unreadable metric moved the count to %d", st.Autoscaling.DesiredReplicas)
	}

	src.set(90, nil) // idle: down to minReplicas 1 (window 0, step 100%)
	a.pass(ctx)
	settle(h, 1)
	st, _ = h.r.Status("web")
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionScalingActive); c == nil || c.Status != v1alpha1.ConditionTrue {
		t.Errorf("ScalingActive %+v; want True again", c)
	}

	// Without spec.autoscaling, spec.replicas governs again.
	plain := testSpec(3)
	h.specs.specs["web"] = plain
	a.pass(ctx)
	settle(h, 3)
	st, _ = h.r.Status("web")
	if st.Autoscaling != nil || v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionScalingActive) != nil {
		t.Errorf("autoscaling status left behind: %+v %+v", st.Autoscaling, st.Conditions)
	}
}

// Bounds edited in the file apply at the next reconcile, before the
// autoscaler's next period.
func TestAutoscalingBoundsApplyAtOnce(t *testing.T) {
	spec := testSpec(5)
	spec.Spec.Autoscaling = &v1alpha1.Autoscaling{MaxReplicas: 3,
		Metrics: []v1alpha1.AutoscalingMetric{{Type: v1alpha1.MetricCPU, Target: 50}}}
	spec.Default()
	h := newHarness(t, spec)
	settle(h, 3) // spec.replicas 5 clamped to maxReplicas 3
	edited := spec.DeepCopy()
	edited.Spec.Autoscaling.MinReplicas = ptrTo(int32(4))
	edited.Spec.Autoscaling.MaxReplicas = 8
	h.specs.specs["web"] = edited
	settle(h, 4)
}

func ptrTo[T any](v T) *T { return &v }

func hasEvent(h *harness, reason, text string) bool {
	for _, e := range h.r.Events.List("web") {
		if e.Reason == reason && strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}

// A restarted scalerd starts an autoscaled spec from what runs: 5 replicas
// stay 5, though spec.replicas says 1.
func TestAutoscalingRestartKeepsWhatRuns(t *testing.T) {
	running := testSpec(5)
	h := newHarness(t, running)
	settle(h, 5)
	autoscaled := testSpec(1)
	autoscaled.Spec.Autoscaling = &v1alpha1.Autoscaling{MaxReplicas: 8,
		Metrics: []v1alpha1.AutoscalingMetric{{Type: v1alpha1.MetricCPU, Target: 50}}}
	autoscaled.Default()
	restarted := NewReconciler(h.rt, h.specs, logr.Discard(), NewRecorder(100), nil)
	restarted.Now = h.r.Now
	h.specs.specs["web"] = autoscaled
	h.r = restarted
	settle(h, 5)
	if calls := strings.Join(h.rt.takeCalls(), "\n"); strings.Contains(calls, "remove") || strings.Contains(calls, "stop") {
		t.Errorf("a restart scaled an autoscaled spec down:\n%s", calls)
	}
}
