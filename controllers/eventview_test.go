package controllers

import (
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// idOf returns the ID of the fake runtime's container called name.
func (f *fakeRuntime) idOf(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, c := range f.containers {
		if c.Name == name {
			return id
		}
	}
	panic("no container " + name)
}

// A "die" event takes a replica out of the upstream on the reconcile it
// starts, while the Engine's list still shows the replica running and
// healthy (the lag measured on Engine 20.10).
func TestDieEventTakesReplicaOutBeforeTheListShowsIt(t *testing.T) {
	h := newHarness(t, testSpec(3))
	converge(h)
	id := h.rt.idOf("web-2")
	h.r.seen.record(Event{Action: "die", ContainerID: id, Labels: map[string]string{v1alpha1.LabelSpec: "web"}}, h.now)

	h.mustReconcile() // the list still says web-2 runs, healthy
	calls := strings.Join(h.rt.takeCalls(), "; ")
	if calls != "update peers; remove web-2; create web-2" {
		t.Fatalf("calls = %q; the dead replica must leave the upstream at once, then be replaced", calls)
	}
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-3" {
		t.Fatalf("upstream = %s, want web-1,web-3", got)
	}
}

// A health verdict counts before the list shows it, both ways.
func TestHealthEventsCountBeforeTheListShowsThem(t *testing.T) {
	h := newHarness(t, testSpec(2))
	h.mustReconcile() // created, starting
	labels := map[string]string{v1alpha1.LabelSpec: "web"}
	for _, n := range []string{"web-1", "web-2"} {
		h.rt.set(n, StateRunning, HealthStarting)
		h.r.seen.record(Event{Action: "health_status: healthy", ContainerID: h.rt.idOf(n), Labels: labels}, h.now)
	}
	h.mustReconcile()
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-2" {
		t.Fatalf("upstream = %s after healthy events, want web-1,web-2", got)
	}

	h.r.seen.record(Event{Action: "health_status: unhealthy", ContainerID: h.rt.idOf("web-1"), Labels: labels}, h.now)
	h.mustReconcile() // the list still says healthy
	if got := strings.Join(h.upstream(), ","); got != "web-2" {
		t.Fatalf("upstream = %s after an unhealthy event, want web-2", got)
	}
}

// Once the events are older than eventViewTTL, or the stream was reopened,
// the list is the truth again.
func TestEventViewYieldsToTheListWhenOldOrForgotten(t *testing.T) {
	v := newEventView()
	now := time.Unix(1000, 0)
	running := func() []Container {
		return []Container{{ID: "a", State: StateRunning, Health: HealthHealthy, IPs: map[string]string{"n": "10.0.0.2"}}}
	}
	v.record(Event{Action: "die", ContainerID: "a"}, now)

	cs := running()
	v.overlay(cs, now.Add(100*time.Millisecond))
	if cs[0].State != StateExited || cs[0].Health != HealthNone || cs[0].IPs["n"] != "" {
		t.Fatalf("within the TTL a die must show as exited without health or address: %+v", cs[0])
	}
	cs = running()
	v.overlay(cs, now.Add(eventViewTTL+time.Millisecond))
	if cs[0].State != StateRunning {
		t.Fatalf("after the TTL the list wins: %+v", cs[0])
	}
	v.record(Event{Action: "die", ContainerID: "a"}, now)
	v.forget()
	cs = running()
	v.overlay(cs, now)
	if cs[0].State != StateRunning {
		t.Fatalf("after forget the list wins: %+v", cs[0])
	}
	// Events that say nothing safe to believe early are not kept.
	for _, a := range []string{"start", "stop", "oom", "kill", "health_status: bogus"} {
		v.record(Event{Action: a, ContainerID: "a"}, now)
	}
	if len(v.byID) != 0 {
		t.Fatalf("kept %v", v.byID)
	}
	v.record(Event{Action: "health_status: unhealthy", ContainerID: "a"}, now)
	v.record(Event{Action: "destroy", ContainerID: "a"}, now)
	if len(v.byID) != 0 {
		t.Fatalf("destroy must drop the container: %v", v.byID)
	}
}
