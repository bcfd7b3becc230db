package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// probeRuntime answers start probes: each container fails its first
// failures[id] probes, then passes. While hold is open, probes block.
type probeRuntime struct {
	*fakeRuntime
	mu       sync.Mutex
	failures map[string]int
	probes   map[string]int
	inFlight int
	maxSeen  int
	hold     chan struct{}
	// holds, if set, picks the containers whose probes hold; nil: all.
	holds func(id string) bool
	// gone are containers that stopped: exec fails as the Engine's does.
	gone map[string]bool
}

func newProbeRuntime() *probeRuntime {
	return &probeRuntime{fakeRuntime: newFakeRuntime(), failures: map[string]int{}, probes: map[string]int{}}
}

func (p *probeRuntime) Exec(ctx context.Context, id string, cmd []string) (ExecResult, error) {
	p.mu.Lock()
	p.probes[id]++
	n := p.probes[id]
	p.inFlight++
	p.maxSeen = max(p.maxSeen, p.inFlight)
	hold := p.hold
	if p.holds != nil && !p.holds(id) {
		hold = nil
	}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
	}()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ExecResult{}, ctx.Err()
		}
	}
	if p.gone[id] {
		return ExecResult{}, fmt.Errorf("container %s is not running: %w", id, ErrConflict)
	}
	if n <= p.failures[id] {
		return ExecResult{ExitCode: 1, Output: "not yet"}, nil
	}
	return ExecResult{}, nil
}

func (p *probeRuntime) probeCount(id string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.probes[id]
}

func startingReplica(id string, created time.Time) Container {
	return Container{ID: id, Name: "web-" + id, State: StateRunning, Health: HealthStarting, Created: created}
}

func testHealthCheck() *v1alpha1.HealthCheck {
	return testSpec(1).Spec.Template.HealthCheck // defaulted: 2 s interval, 10 s start period, 200 ms start interval
}

func TestStartProbeMarksAReplicaHealthyOnceAProbePasses(t *testing.T) {
	rt := newProbeRuntime()
	rt.failures["a"] = 2
	readied := make(chan string, 1)
	p := newStartProber(rt, logr.Discard(), func(spec string) { readied <- spec })
	seen := newEventView()
	p.passed = seen.noteHealthy
	hc := testHealthCheck()
	hc.StartInterval = &v1alpha1.Duration{Duration: 10 * time.Millisecond}
	now := time.Now()

	app := []Container{startingReplica("a", now)}
	p.overlay(context.Background(), "web", hc, app)
	if app[0].Health != HealthStarting {
		t.Fatalf("health before any probe passed = %q", app[0].Health)
	}
	select {
	case spec := <-readied:
		if spec != "web" {
			t.Errorf("ready called for %q, want web", spec)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no start probe passed")
	}
	if n := rt.probeCount("a"); n != 3 {
		t.Errorf("probes = %d, want 3 (two failures, then a pass)", n)
	}
	if !seen.wasHealthy("a") {
		t.Error("a replica that passed its start probe is not remembered as healthy (crash-loop back-off needs it)")
	}

	app = []Container{startingReplica("a", now)}
	p.overlay(context.Background(), "web", hc, app)
	if app[0].Health != HealthHealthy {
		t.Errorf("health after a start probe passed = %q, want healthy", app[0].Health)
	}
	view := []Container{startingReplica("a", now), startingReplica("b", now)}
	p.mark(view) // what describe and top show
	if view[0].Health != HealthHealthy || view[1].Health != HealthStarting {
		t.Errorf("views show %q and %q, want healthy for the probed replica, starting for the other", view[0].Health, view[1].Health)
	}

	// Docker's own verdict rules once it comes, and ends the start probe.
	app = []Container{startingReplica("a", now)}
	app[0].Health = HealthUnhealthy
	p.overlay(context.Background(), "web", hc, app)
	if app[0].Health != HealthUnhealthy {
		t.Errorf("health = %q, want Docker's unhealthy to stand", app[0].Health)
	}
	if len(p.probes) != 0 {
		t.Errorf("probes left after Docker's verdict: %v", p.probes)
	}
}

// TestStartProbeStopsWhenItsContainerIsGone: a replica that died while
// starting is not exec'ed into every start interval until its window ends.
func TestStartProbeStopsWhenItsContainerIsGone(t *testing.T) {
	rt := newProbeRuntime()
	rt.gone = map[string]bool{"dead": true}
	p := newStartProber(rt, logr.Discard(), func(string) {})
	hc := testHealthCheck()
	hc.StartInterval = &v1alpha1.Duration{Duration: 5 * time.Millisecond}
	p.overlay(context.Background(), "web", hc, []Container{startingReplica("dead", time.Now())})
	time.Sleep(200 * time.Millisecond) // 40 start intervals
	if n := rt.probeCount("dead"); n != 1 {
		t.Errorf("%d probes of a container that is not running, want 1", n)
	}
}

func TestStartProbeRunsOnlyWithinItsWindow(t *testing.T) {
	rt := newProbeRuntime()
	rt.failures["slow"] = 1 << 30 // never passes
	p := newStartProber(rt, logr.Discard(), func(string) {})
	hc := testHealthCheck()
	hc.StartInterval = &v1alpha1.Duration{Duration: 5 * time.Millisecond}
	hc.StartPeriod = &v1alpha1.Duration{Duration: 50 * time.Millisecond}
	hc.Interval = &v1alpha1.Duration{Duration: 50 * time.Millisecond}
	p.overlay(context.Background(), "web", hc, []Container{startingReplica("slow", time.Time{})})
	noStartInterval := testHealthCheck()
	noStartInterval.StartInterval = &v1alpha1.Duration{}
	// Other specs: a look at one spec stops the probes of its replicas
	// that it does not list.
	p.overlay(context.Background(), "api", nil, []Container{startingReplica("nohc", time.Time{})})
	p.overlay(context.Background(), "worker", noStartInterval, []Container{startingReplica("nostart", time.Time{})})

	time.Sleep(300 * time.Millisecond) // the window is 50 ms
	n := rt.probeCount("slow")
	time.Sleep(100 * time.Millisecond)
	if later := rt.probeCount("slow"); n == 0 || later != n {
		t.Errorf("probes of a replica that never passes: %d, then %d; want some, then none after its start window", n, later)
	}
	if n := rt.probeCount("nohc") + rt.probeCount("nostart"); n != 0 {
		t.Errorf("probes = %d, want none without a health check or a start interval", n)
	}
}

func TestStartProbesAreBoundedAndStopWithTheirReplica(t *testing.T) {
	rt := newProbeRuntime()
	rt.hold = make(chan struct{})
	p := newStartProber(rt, logr.Discard(), func(string) {})
	now := time.Now()
	var app []Container
	for i := range 3 * maxStartProbes {
		app = append(app, startingReplica(fmt.Sprint(i), now))
	}
	p.overlay(context.Background(), "web", testHealthCheck(), app)
	time.Sleep(100 * time.Millisecond)
	rt.mu.Lock()
	inFlight := rt.inFlight
	rt.mu.Unlock()
	if inFlight != maxStartProbesPerSpec {
		t.Errorf("probes in flight for one spec = %d, want its share %d", inFlight, maxStartProbesPerSpec)
	}
	var other []Container
	for i := range 3 * maxStartProbes {
		other = append(other, startingReplica(fmt.Sprint("other-", i), now))
	}
	p.overlay(context.Background(), "other", testHealthCheck(), other)
	time.Sleep(100 * time.Millisecond)
	rt.mu.Lock()
	inFlight = rt.inFlight
	rt.mu.Unlock()
	if inFlight != maxStartProbes {
		t.Errorf("probes in flight for two specs = %d, want the bound %d", inFlight, maxStartProbes)
	}
	p.forgetSpec("other")

	// The replicas go (scaled down): their probes end.
	p.overlay(context.Background(), "web", testHealthCheck(), nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		rt.mu.Lock()
		inFlight = rt.inFlight
		rt.mu.Unlock()
		if inFlight == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d probes still in flight after their replicas went", inFlight)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rt.maxSeen > maxStartProbes {
		t.Errorf("at most %d probes ran at once, bound %d", rt.maxSeen, maxStartProbes)
	}
}

// On an Engine that honours startInterval, scalerd leaves probing to it.
func TestNoStartProbesWhereTheEngineHonoursStartInterval(t *testing.T) {
	r := NewReconciler(modernEngine{newFakeRuntime()}, &memSpecs{}, logr.Discard(), NewRecorder(10), nil)
	if r.starts != nil {
		t.Error("start prober set up for an Engine with API 1.44")
	}
	if NewReconciler(newFakeRuntime(), &memSpecs{}, logr.Discard(), NewRecorder(10), nil).starts == nil {
		t.Error("no start prober for an Engine with API 1.41")
	}
}

type modernEngine struct{ *fakeRuntime }

func (modernEngine) Capabilities() Capabilities {
	return Capabilities{APIVersion: "1.44", HealthStartInterval: true}
}

// A spec whose health command hangs until its timeout holds only its
// share of the slots: another spec's new replica is still probed.
func TestAHangingSpecLeavesASlotToTheOthers(t *testing.T) {
	rt := newProbeRuntime()
	rt.hold = make(chan struct{})
	rt.holds = func(id string) bool { return strings.HasPrefix(id, "slow-") }
	passed := make(chan string, 1)
	p := newStartProber(rt, logr.Discard(), func(spec string) { passed <- spec })
	now := time.Now()
	var slow []Container
	for i := range 3 * maxStartProbes {
		slow = append(slow, startingReplica(fmt.Sprint("slow-", i), now))
	}
	hanging := testHealthCheck()
	hanging.Timeout = &v1alpha1.Duration{Duration: time.Minute}
	p.overlay(context.Background(), "slow", hanging, slow)
	time.Sleep(50 * time.Millisecond)
	p.overlay(context.Background(), "web", testHealthCheck(), []Container{startingReplica("1", now)})
	select {
	case spec := <-passed:
		if spec != "web" {
			t.Fatalf("%s passed; only web's replica can", spec)
		}
	case <-time.After(time.Second):
		t.Fatal("web's replica was not probed within 1 s while another spec's probes hang for a minute")
	}
	p.forgetSpec("slow")
	p.forgetSpec("web")
}
