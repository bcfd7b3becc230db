package controllers

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// slowCalls is a runtime whose removes and creates take a while, counting
// how many run at once.
type slowCalls struct {
	*fakeRuntime
	inFlight, most atomic.Int32
}

func (s *slowCalls) slow() func() {
	n := s.inFlight.Add(1)
	for m := s.most.Load(); n > m && !s.most.CompareAndSwap(m, n); m = s.most.Load() {
	}
	time.Sleep(2 * time.Millisecond)
	return func() { s.inFlight.Add(-1) }
}

func (s *slowCalls) RemoveContainer(ctx context.Context, id string) error {
	defer s.slow()()
	return s.fakeRuntime.RemoveContainer(ctx, id)
}

func (s *slowCalls) CreateContainer(ctx context.Context, cs ContainerSpec) (string, error) {
	defer s.slow()()
	return s.fakeRuntime.CreateContainer(ctx, cs)
}

// TestCreatesInFlightRunAtMostMaxParallelCalls: creates launched by passes
// hold one of maxParallelCalls slots each, across passes.
func TestCreatesInFlightRunAtMostMaxParallelCalls(t *testing.T) {
	h := newHarness(t, testSpec(40))
	converge(h)
	rt := &slowCalls{fakeRuntime: h.rt}
	h.r.Runtime = rt
	h.setSpec(func(s *v1alpha1.ScaleSpec) { n := int32(120); s.Spec.Replicas = &n })
	for range 3 {
		if _, err := h.r.Reconcile(t.Context(), "web"); err != nil {
			t.Fatal(err)
		}
	}
	h.r.WaitInFlight()
	if got := len(h.rt.names(v1alpha1.RoleApp)); got != 120 {
		t.Fatalf("%d replicas, want 120 (80 created: twice the 40 ready)", got)
	}
	t.Logf("80 creates: at most %d at once", rt.most.Load())
	if m := rt.most.Load(); m > maxParallelCalls || m < 2 {
		t.Errorf("at most %d creates at once, want 2 to %d", m, maxParallelCalls)
	}
}

// TestRemovalsRunAtMostMaxParallelCalls: a pass that removes 200 dead
// replicas removes at most maxParallelCalls at once, not one goroutine each.
func TestRemovalsRunAtMostMaxParallelCalls(t *testing.T) {
	h := newHarness(t, testSpec(200))
	converge(h)
	names := h.rt.names(v1alpha1.RoleApp)
	if len(names) != 200 {
		t.Fatalf("%d replicas after converging, want 200", len(names))
	}
	for _, n := range names {
		h.rt.set(n, StateExited, HealthNone)
	}
	rt := &slowCalls{fakeRuntime: h.rt}
	h.r.Runtime = rt
	h.mustReconcile()
	t.Logf("200 removals: at most %d at once", rt.most.Load())
	if m := rt.most.Load(); m > maxParallelCalls || m < 2 {
		t.Errorf("at most %d removes at once, want 2 to %d", m, maxParallelCalls)
	}
}

func TestLimiterBoundsConcurrency(t *testing.T) {
	l := newLimiter(3)
	var inFlight, most, ran atomic.Int32
	for range 50 {
		l.Go(func() {
			n := inFlight.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(time.Millisecond)
			inFlight.Add(-1)
			ran.Add(1)
		})
	}
	l.Wait()
	if ran.Load() != 50 || most.Load() > 3 {
		t.Errorf("ran %d of 50, at most %d at once (limit 3)", ran.Load(), most.Load())
	}
}
