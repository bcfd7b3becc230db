package controllers

import (
	"testing"
	"time"
)

func TestRecorderFoldsRepeatsAndBoundsTheRing(t *testing.T) {
	r := NewRecorder(3)
	clock := time.Unix(100, 0)
	r.now = func() time.Time { clock = clock.Add(time.Second); return clock }

	r.Eventf("web", "replica/web-1", "Warning", ReasonReplicaFailed, "exited with %d", 137)
	r.Eventf("web", "replica/web-1", "Warning", ReasonReplicaFailed, "exited with %d", 137)
	events := r.List("web")
	if len(events) != 1 || events[0].Count != 2 {
		t.Fatalf("want one event with count 2, got %+v", events)
	}
	if !events[0].LastTimestamp.After(events[0].FirstTimestamp) {
		t.Error("a folded event must move its last timestamp")
	}

	r.Eventf("web", "scalespec/web", "Normal", ReasonScaledUp, "a")
	r.Eventf("redis", "scalespec/redis", "Normal", ReasonScaledUp, "b")
	r.Eventf("web", "scalespec/web", "Normal", ReasonScaledDown, "c")
	all := r.List("")
	if len(all) != 3 {
		t.Fatalf("ring of 3 holds %d events", len(all))
	}
	if all[0].Message != "a" || all[2].Message != "c" {
		t.Errorf("oldest event should go first: %+v", all)
	}
	if got := r.List("redis"); len(got) != 1 || got[0].Spec != "redis" {
		t.Errorf("List(redis) = %+v", got)
	}
}

// The first rollout's "created web-3" stays in the first rollout when the
// second repeats it word for word: a rollout boundary of the same spec
// stops the fold. Within one rollout, repeats still fold with a count and
// their first and last time.
func TestRecorderKeepsEachRolloutsSteps(t *testing.T) {
	r := NewRecorder(100)
	clock := time.Unix(100, 0)
	r.now = func() time.Time { clock = clock.Add(time.Second); return clock }

	rollout := func() {
		r.Eventf("web", "scalespec/web", "Normal", ReasonScaledUp, "created 1 replica(s): web-3")
		r.Eventf("web", "loadbalancer/web-lb", "Normal", ReasonUpstreamUpdated, "upstream is now [web-2 web-3]")
		r.Eventf("web", "scalespec/web", "Normal", ReasonScaledDown, "removed 1 replica(s): web-1")
		r.Eventf("web", "scalespec/web", "Normal", ReasonRolloutComplete, "all 2 replicas run template %s and are ready", "3f2a1c")
	}
	rollout()
	rollout()
	events := r.List("web")
	if len(events) != 8 {
		t.Fatalf("two rollouts of 4 steps: want 8 events, got %d: %+v", len(events), events)
	}
	for i, e := range events {
		if e.Count != 1 {
			t.Errorf("event %d (%s) folded across a rollout: count %d", i, e.Reason, e.Count)
		}
	}
	if events[0].Message != "created 1 replica(s): web-3" || events[4].Message != "created 1 replica(s): web-3" {
		t.Errorf("each rollout keeps its created web-3: %+v", events)
	}

	// A probe failing over and over within one rollout folds.
	first := clock.Add(time.Second)
	for range 3 {
		r.Eventf("web", "replica/web-4", "Warning", ReasonReplicaUnhealthy, "health check failed")
		r.Eventf("web", "scalespec/web", "Normal", ReasonWaiting, "waiting for redis to be ready")
	}
	events = r.List("web")
	if len(events) != 10 {
		t.Fatalf("repeats within a rollout fold: want 10 events, got %d: %+v", len(events), events)
	}
	unhealthy := events[8]
	if unhealthy.Reason != ReasonReplicaUnhealthy || unhealthy.Count != 3 ||
		!unhealthy.FirstTimestamp.Equal(first) || unhealthy.LastTimestamp.Sub(unhealthy.FirstTimestamp) != 4*time.Second {
		t.Errorf("want ReplicaUnhealthy x3 first seen %v over 4s, got %+v", first, unhealthy)
	}
}

// A full ring drops the oldest event of the spec with the most events: a
// crash-looping spec cannot push a quiet spec's rollout out.
func TestRecorderEvictsFromTheNoisiestSpec(t *testing.T) {
	r := NewRecorder(5)
	r.Eventf("redis", "scalespec/redis", "Normal", ReasonScaledUp, "created 1 replica(s): redis-1")
	r.Eventf("redis", "scalespec/redis", "Normal", ReasonRolloutComplete, "all 1 replicas ready")
	for i := range 10 {
		r.Eventf("web", "replica/web-1", "Warning", ReasonReplicaFailed, "exited with %d (attempt %d)", 1, i)
	}
	if got := r.List("redis"); len(got) != 2 {
		t.Errorf("the quiet spec lost events: %+v", got)
	}
	web := r.List("web")
	if len(web) != 3 || web[2].Message != "exited with 1 (attempt 9)" || web[0].Message != "exited with 1 (attempt 7)" {
		t.Errorf("want web's latest 3 events, got %+v", web)
	}
	if n := len(r.List("")); n != 5 {
		t.Errorf("ring of 5 holds %d", n)
	}
}
