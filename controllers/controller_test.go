package controllers

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// flakyEvents is a runtime whose event stream breaks on its first opening.
type flakyEvents struct {
	*fakeRuntime
	mu     sync.Mutex
	opened int
	lists  int
}

func (f *flakyEvents) Events(ctx context.Context) (<-chan Event, <-chan error) {
	f.mu.Lock()
	f.opened++
	first := f.opened == 1
	f.mu.Unlock()
	errs := make(chan error, 1)
	if first {
		errs <- errors.New("stream broke")
		return make(chan Event), errs
	}
	return f.fakeRuntime.Events(ctx)
}

func (f *flakyEvents) ListManaged(ctx context.Context) ([]Container, error) {
	f.mu.Lock()
	f.lists++
	f.mu.Unlock()
	return f.fakeRuntime.ListManaged(ctx)
}

func TestBrokenEventStreamReconnectsAndResyncs(t *testing.T) {
	rt := &flakyEvents{fakeRuntime: newFakeRuntime()}
	r := NewReconciler(rt, &memSpecs{specs: nil, errs: map[string]error{}}, logr.Discard(), NewRecorder(10), nil)
	c := NewController(r, logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rt.mu.Lock()
		opened, lists := rt.opened, rt.lists
		rt.mu.Unlock()
		if opened >= 2 && lists >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a broken stream: opened %d times, %d resync lists; want a reconnect and a resync each time", opened, lists)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

// TestSlowStartsNextBatchFollowsReadiness: the next batch comes as soon as
// the first turns ready (a health event enqueues the spec), and not before,
// however often the spec is reconciled meanwhile.
func TestSlowStartsNextBatchFollowsReadiness(t *testing.T) {
	rt := newFakeRuntime()
	specs := &memSpecs{specs: map[string]*v1alpha1.ScaleSpec{"web": testSpec(10)}, errs: map[string]error{}}
	c := NewController(NewReconciler(rt, specs, logr.Discard(), NewRecorder(100), nil), logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitReplicas := func(n int) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for len(rt.names(v1alpha1.RoleApp)) < n {
			if time.Now().After(deadline) {
				t.Fatalf("replicas after 1 s: %v; want %d", rt.names(v1alpha1.RoleApp), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitReplicas(4)
	for range 5 {
		c.Enqueue("web")
		time.Sleep(20 * time.Millisecond)
	}
	if got := rt.names(v1alpha1.RoleApp); len(got) != 4 {
		t.Fatalf("replicas with none ready: %v; want the first batch of 4 only", got)
	}
	for _, n := range rt.names(v1alpha1.RoleApp) {
		rt.set(n, StateRunning, HealthHealthy)
	}
	c.Enqueue("web") // as their health events do
	waitReplicas(10)
}

// hangingList is a runtime whose container list hangs until released, as
// a wedged Engine call would.
type hangingList struct {
	*fakeRuntime
	release chan struct{}
}

func (h *hangingList) ListManaged(ctx context.Context) ([]Container, error) {
	select {
	case <-h.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return h.fakeRuntime.ListManaged(ctx)
}

// OldestReconcile, what scalerd's watchdog reads, shows a reconcile that
// does not return, and goes back to zero once the workers are idle.
func TestOldestReconcileShowsAHangingReconcile(t *testing.T) {
	rt := &hangingList{fakeRuntime: newFakeRuntime(), release: make(chan struct{})}
	specs := &memSpecs{specs: map[string]*v1alpha1.ScaleSpec{"web": testSpec(1)}, errs: map[string]error{}}
	c := NewController(NewReconciler(rt, specs, logr.Discard(), NewRecorder(100), nil), logr.Discard())
	if !c.OldestReconcile().IsZero() {
		t.Fatal("OldestReconcile is set before anything ran")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	start := time.Now()
	c.Enqueue("web")
	waitForWatchdogTest(t, "a reconcile to be seen running", func() bool { return !c.OldestReconcile().IsZero() })
	time.Sleep(50 * time.Millisecond)
	if oldest := c.OldestReconcile(); oldest.Before(start) || time.Since(oldest) < 50*time.Millisecond {
		t.Errorf("OldestReconcile = %v; want the start of the hanging reconcile (after %v, at least 50ms ago)", oldest, start)
	}
	close(rt.release)
	waitForWatchdogTest(t, "the workers to be idle", func() bool { return c.OldestReconcile().IsZero() })
}

func waitForWatchdogTest(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 5s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
