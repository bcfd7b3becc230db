package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// The Engine sends "die" before its container list says the container
// exited, so every event is looked at again after each of eventRechecks. A recheck
// still pending from an earlier event (the last replica of a scale-down
// being removed) must not stand in for it: firing sooner, it would see the
// list unchanged and leave a killed replica unnoticed until the resync.
func TestEveryEventIsRecheckedAFullDelayAfterIt(t *testing.T) {
	eventRecheck := eventRechecks[len(eventRechecks)-1]
	h := newHarness(t, testSpec(1))
	c := NewController(h.r, logr.Discard())
	events := make(chan Event)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = c.drain(ctx, events, make(chan error)) }()

	labels := map[string]string{v1alpha1.LabelSpec: "web"}
	events <- Event{Action: "destroy", Labels: labels}
	time.Sleep(eventRecheck / 2)
	killed := time.Now()
	events <- Event{Action: "die", Labels: labels}

	deadline := time.After(3 * eventRecheck)
	got := make(chan time.Time)
	go func() {
		for {
			key, ok := c.Queue.Get()
			if !ok {
				return
			}
			got <- time.Now()
			c.Queue.Done(key)
		}
	}()
	defer c.Queue.ShutDown()
	for {
		select {
		case at := <-got:
			if at.Sub(killed) >= eventRecheck {
				return
			}
		case <-deadline:
			t.Fatalf("no look at the spec %s after the die event", eventRecheck)
		}
	}
}
