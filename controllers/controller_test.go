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

func TestRequeueRunsTheSlowStartsNextBatchAtOnce(t *testing.T) {
	rt := newFakeRuntime()
	specs := &memSpecs{specs: map[string]*v1alpha1.ScaleSpec{"web": testSpec(10)}, errs: map[string]error{}}
	c := NewController(NewReconciler(rt, specs, logr.Discard(), NewRecorder(100), nil), logr.Discard())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	// No event arrives from the fake Engine, and the fallback poll of
	// starting replicas is 2 s: only Result.Requeue gets past the first
	// batch of 4 this soon.
	deadline := time.Now().Add(time.Second)
	for len(rt.names(v1alpha1.RoleApp)) < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("replicas after 1 s: %v; want all 10 created, batch after batch", rt.names(v1alpha1.RoleApp))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
