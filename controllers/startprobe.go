package controllers

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// maxStartProbes bounds the start probes in flight at once, over all
// specs: each is a docker exec, and a scale-up of fifty replicas must not
// turn into fifty execs every startInterval. One spec may hold at most
// maxStartProbesPerSpec of them, so that a spec whose health command hangs
// until its timeout leaves a slot to the others.
const (
	maxStartProbes        = 4
	maxStartProbesPerSpec = maxStartProbes - 1
)

// startProber gives healthCheck.startInterval its meaning on Engines that
// ignore it (API < 1.44). There, Docker runs a new replica's first health
// probe one full interval after the start, which alone kept a replica that
// was ready in 100 ms out of the upstream for a second or more.
//
// So scalerd runs the start probes itself: the spec's health command, in
// the container (docker exec, as Docker's own probe), with the spec's
// timeout, every startInterval, for as long as Docker still calls the
// replica "starting" and at most for its start period (or one interval,
// if longer) from when scalerd first saw it starting. The first probe that passes counts as Docker's
// "healthy" until Docker's own verdict arrives, which then rules either
// way. A failing start probe counts for nothing, as Docker counts no
// failure in the start period either.
//
// What a probe found is memory only: a restarted scalerd probes a starting
// replica again, and a replica Docker already calls healthy needs none.
type startProber struct {
	runtime Runtime
	log     logr.Logger
	// ready is called, outside any lock, when a replica of spec passed.
	ready func(spec string)
	// passed, if set, is called with the ID of each replica that passed,
	// outside any lock: crash-loop back-off must know it had been ready
	// even if it dies before a reconcile sees the pass.
	passed func(id string)
	slots  chan struct{}

	mu      sync.Mutex
	probes  map[string]*startProbe   // by container ID
	perSpec map[string]chan struct{} // each spec's share of slots
}

type startProbe struct {
	spec   string
	passed bool
	cancel context.CancelFunc
}

func newStartProber(rt Runtime, log logr.Logger, ready func(string)) *startProber {
	return &startProber{runtime: rt, log: log, ready: ready,
		slots: make(chan struct{}, maxStartProbes), probes: map[string]*startProbe{}, perSpec: map[string]chan struct{}{}}
}

// overlay marks the starting replicas of spec that passed a start probe as
// healthy, starts probing those that have not, and stops probing replicas
// that are gone or that Docker has given its own verdict on. hc is the
// spec's health check (defaults applied), nil when it has none.
func (p *startProber) overlay(ctx context.Context, spec string, hc *v1alpha1.HealthCheck, app []Container) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	starting := map[string]bool{}
	for i := range app {
		c := &app[i]
		if c.State != StateRunning || c.Health != HealthStarting {
			continue
		}
		starting[c.ID] = true
		if probe, ok := p.probes[c.ID]; ok {
			if probe.passed {
				c.Health = HealthHealthy
			}
			continue
		}
		if hc == nil || len(hc.Command) == 0 || dur(hc.StartInterval) <= 0 {
			continue
		}
		// The window counts from when scalerd first sees the replica
		// starting, not from its creation: fifty replicas created at once
		// are started by the Engine over many seconds.
		window := max(dur(hc.StartPeriod), dur(hc.Interval))
		probeCtx, cancel := context.WithTimeout(ctx, window)
		p.probes[c.ID] = &startProbe{spec: spec, cancel: cancel}
		go p.run(probeCtx, spec, c.ID, c.Name, hc.Command, dur(hc.StartInterval), dur(hc.Timeout))
	}
	for id, probe := range p.probes {
		if probe.spec == spec && !starting[id] {
			probe.cancel()
			delete(p.probes, id)
		}
	}
}

// run probes one replica until a probe passes or ctx ends.
func (p *startProber) run(ctx context.Context, spec, id, name string, cmd []string, every, timeout time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		passed, gone := p.probe(ctx, spec, id, cmd, timeout)
		if gone {
			// The container stopped or was removed: no probe can run in it
			// again, and the next pass forgets it. Probing on would exec
			// into it every start interval until its window ended.
			return
		}
		if passed {
			p.mu.Lock()
			probe, ok := p.probes[id]
			if ok {
				probe.passed = true
			}
			p.mu.Unlock()
			if ok {
				p.log.V(1).Info("start probe passed", "spec", spec, "replica", name)
				if p.passed != nil {
					p.passed(id)
				}
				p.ready(spec)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// probe runs the health command once, in one of spec's slots and one of
// all, and reports whether it passed, and whether the container is gone
// (not running, or removed: the Engine answers conflict or not found).
func (p *startProber) probe(ctx context.Context, spec, id string, cmd []string, timeout time.Duration) (passed, gone bool) {
	p.mu.Lock()
	share, ok := p.perSpec[spec]
	if !ok {
		share = make(chan struct{}, maxStartProbesPerSpec)
		p.perSpec[spec] = share
	}
	p.mu.Unlock()
	for _, slots := range []chan struct{}{share, p.slots} {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		case <-ctx.Done():
			return false, false
		}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	res, err := p.runtime.Exec(ctx, id, cmd)
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		return false, true
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		p.log.V(1).Info("start probe could not run", "container", id, "error", err.Error())
	}
	return err == nil && res.ExitCode == 0, false
}

// mark marks the starting replicas in cs that passed a start probe as
// healthy, and does nothing else: for views of the containers, which must
// show what the reconciler acts on.
func (p *startProber) mark(cs []Container) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range cs {
		if probe, ok := p.probes[cs[i].ID]; ok && probe.passed && cs[i].State == StateRunning && cs[i].Health == HealthStarting {
			cs[i].Health = HealthHealthy
		}
	}
}

// inherit counts the replicas ids of spec as having passed a start
// probe: a restarted scalerd found them in the upstream its predecessor
// gave the load balancer, which only a passed probe (or Docker's
// "healthy") puts there. Without this, replicas that Docker still called
// starting left the upstream at the restart until probed again, and
// requests got 503 from an empty upstream. As with a probe that passed,
// Docker's own verdict rules once it arrives.
func (p *startProber) inherit(spec string, ids []string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		if _, ok := p.probes[id]; !ok {
			p.probes[id] = &startProbe{spec: spec, passed: true, cancel: func() {}}
		}
	}
}

// forgetSpec stops every probe of spec (it was deleted).
func (p *startProber) forgetSpec(spec string) {
	if p == nil {
		return
	}
	p.overlay(context.Background(), spec, nil, nil)
	p.mu.Lock()
	delete(p.perSpec, spec) // a probe still ending releases into its own
	p.mu.Unlock()
}
