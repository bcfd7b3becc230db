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
