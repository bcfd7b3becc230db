package bench

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/scaler-dev/scaler/internal/loadgen"
)

// Target is a system the zero-downtime scenarios run against: scaler, or
// the tutorial's compose setup. Each change method makes the change the
// way that system's user would, waits until the system says it is done,
// and says when it was asked for and when it was done.
type Target interface {
	// Name is "scaler" or "compose".
	Name() string
	// URL is the load balancer's address on 127.0.0.1.
	URL() string
	// Reset brings the system to replicas serving replicas of version,
	// all of them reachable through the load balancer, outside of any
	// measurement.
	Reset(ctx context.Context, replicas int, version string) error
	// Scale changes the number of replicas.
	Scale(ctx context.Context, replicas int) (Change, error)
	// RollingUpdate moves every replica to a new version of the app (a
	// new GREETING, so a new container configuration).
	RollingUpdate(ctx context.Context, version string) (Change, error)
	// Kill kills one replica with `docker kill -s KILL`.
	Kill(ctx context.Context) (Change, error)
	// Crash kills one replica's process with SIGKILL from outside Docker,
	// as a crash or the kernel's OOM killer would: unlike `docker kill`,
	// which Docker takes for an order, Docker's restart policy applies.
	Crash(ctx context.Context) (Change, error)
	// ChangeLoadBalancer switches the algorithm from least_conn to round
	// robin.
	ChangeLoadBalancer(ctx context.Context) (Change, error)
}

// Change is one change made to a Target.
type Change struct {
	// Commands reproduce the change, in order.
	Commands []string
	// Requested is when the change was asked for: the spec file saved, or
	// the command started.
	Requested time.Time
	// Converged is when the system reported it done (zero: not within the
	// time the target waits).
	Converged time.Time
	// Killed is the host (container hostname) a Kill or Crash killed, and
	// KilledAt when the kill returned: answers from that host to requests
	// sent after it come from a restart of it (compose) or a replacement
	// that took its name (scaler).
	Killed   string
	KilledAt time.Time
	// Note says what the measurement cannot show by itself.
	Note string
}

// Step is one change of a scenario.
type Step struct {
	Name string
	// AddsReplicas is set when the change starts replicas that should
	// then receive traffic (a scale-up, a rollout, a replacement).
	AddsReplicas bool
	Do           func(ctx context.Context, t Target) (Change, error)
}

// Scenario is a sequence of changes made under one steady load, starting
// from Replicas serving replicas of Version.
type Scenario struct {
	ID       string
	Name     string
	Replicas int
	// Version is the app version the scenario starts from. Each replica
	// failure scenario starts from a version of its own, so that no
	// scenario's result depends on an earlier one. (scalerd's crash-loop
	// back-off once counted failures per template and held replacements
	// of later scenarios; it now holds only slots whose replicas fail
	// before they are ready, which a kill of a serving replica never is.)
	Version string
	Steps   []Step
	// Settle, when set, replaces RunOptions.Settle: the crash scenario
	// watches long enough to see nginx's fail_timeout (30 s) run out.
	Settle time.Duration
	// Reloads marks a scenario whose change is a real nginx reload (the
	// algorithm), not a membership change: the old workers close their
	// idle keep-alive connections, and a request a client sent on one as
	// it closed is resent (see RequestsResentOnly).
	Reloads bool
}

// Scenarios are issue 6's zero-downtime scenarios, in the order they run.
// The short version, for `make test`, rolls out 3 replicas instead of 5 and
// leaves out the scale-down from a fresh 5 and the crash, which only the
// compose baseline needs to show its behaviour: for scalerd both are the
// same as a scale-down and a kill.
func Scenarios(short bool) []Scenario {
	scale := func(from, to int) Step {
		return Step{Name: fmt.Sprintf("scale to %d", to), AddsReplicas: to > from,
			Do: func(ctx context.Context, t Target) (Change, error) { return t.Scale(ctx, to) }}
	}
	rollout := 5
	if short {
		rollout = 3
	}
	out := []Scenario{
		{ID: "scale", Name: "scale 1 → 3 → 5 → 1", Replicas: 1, Version: "v1", Steps: []Step{scale(1, 3), scale(3, 5), scale(5, 1)}},
	}
	if !short {
		out = append(out, Scenario{ID: "scale-down", Name: "scale 5 → 1, load balancer started with 5", Replicas: 5, Version: "v1", Steps: []Step{scale(5, 1)}})
	}
	out = append(out,
		Scenario{ID: "rollout", Name: fmt.Sprintf("rolling update of %d replicas", rollout), Replicas: rollout, Version: "v1", Steps: []Step{{
			Name: "new version", AddsReplicas: true, Do: func(ctx context.Context, t Target) (Change, error) { return t.RollingUpdate(ctx, "v2") },
		}}},
		Scenario{ID: "kill", Name: "docker kill -s KILL of one replica of 3", Replicas: 3, Version: "v2", Steps: []Step{{
			Name: "kill one replica", AddsReplicas: true, Do: func(ctx context.Context, t Target) (Change, error) { return t.Kill(ctx) },
		}}},
	)
	lbVersion := "v2"
	if !short {
		out = append(out, Scenario{ID: "crash", Name: "crash: SIGKILL to one replica's process, outside Docker", Replicas: 3, Version: "v3", Settle: 35 * time.Second, Steps: []Step{{
			Name: "crash one replica", AddsReplicas: true, Do: func(ctx context.Context, t Target) (Change, error) { return t.Crash(ctx) },
		}}})
		lbVersion = "v3"
	}
	return append(out, Scenario{ID: "lb", Name: "load balancer: least_conn → round robin", Replicas: 3, Version: lbVersion, Reloads: true, Steps: []Step{{
		Name: "change algorithm", Do: func(ctx context.Context, t Target) (Change, error) { return t.ChangeLoadBalancer(ctx) },
	}}})
}

// RunOptions time a scenario run.
type RunOptions struct {
	Load LoadOptions
	// Warmup runs the load before anything is measured (connections open).
	Warmup time.Duration
	// Before is the window before the first change that latency during
	// the changes is compared with.
	Before time.Duration
	// Settle is how long the load keeps running after each change is done:
	// failures that come late (a drained replica, nginx's fail_timeout) and
	// traffic that reaches new replicas late are still seen.
	Settle time.Duration
}

// ScenarioResult is what one scenario measured on one target.
type ScenarioResult struct {
	Target string `json:"target"`
	ID     string `json:"id"`
	Name   string `json:"name"`
	// Load is the whole load run: every request it sent counts, including
	// the warm-up and the settle time, so no failure falls between windows.
	Load loadgen.Summary `json:"load"`
	// Before is the window just before the first change; During runs from
	// the first change to the end of the load.
	Before Window        `json:"before"`
	During Window        `json:"during"`
	Steps  []StepResult  `json:"steps"`
	Error  string        `json:"error,omitempty"`
	Opts   LoadOptions   `json:"loadOptions"`
	Timing ScenarioTimes `json:"timing"`
}

// ScenarioTimes are the run options in seconds, for the report.
type ScenarioTimes struct {
	WarmupSeconds float64 `json:"warmupSeconds"`
	BeforeSeconds float64 `json:"beforeSeconds"`
	SettleSeconds float64 `json:"settleSeconds"`
}

// StepResult is what one change of a scenario measured.
type StepResult struct {
	Name     string   `json:"name"`
	Commands []string `json:"commands"`
	// AddsReplicas: new replicas were expected to answer.
	AddsReplicas bool `json:"addsReplicas"`
	// ConvergedSeconds is from the request to the system reporting it done;
	// nil when it did not within the time the target waits.
	ConvergedSeconds *float64 `json:"convergedSeconds"`
	// NewTrafficSeconds is from the request to the first answer from a
	// replica whose name had not answered before it (or from the killed
	// one's name, restarted or replaced); nil when none answered while the
	// step was observed.
	NewTrafficSeconds *float64 `json:"newTrafficSeconds"`
	// NewHosts are the names that answered first in this step. A new
	// container that reuses a name that answered before (a rollout's
	// replicas can) is not among them.
	NewHosts []string `json:"newHosts"`
	// ObservedSeconds is how long the step was watched, request to the
	// next step or the end of the load.
	ObservedSeconds float64 `json:"observedSeconds"`
	Window          Window  `json:"window"`
	Note            string  `json:"note,omitempty"`
}

// Failed reports whether any request of the scenario failed.
func (r ScenarioResult) Failed() bool { return r.Load.Failures > 0 }

// ResentOnly reports whether every failure was a request the client had
// to resend (and then got answered): what a reload costs a keep-alive
// client of nginx, and nothing worse.
func (r ScenarioResult) ResentOnly() bool {
	return r.Load.Failures == r.Load.FailuresByKind[loadgen.KindResent]
}

// Run resets t to the scenario's replicas, starts the load, makes each
// change in turn, and cuts the load into windows around them. An error
// making a change ends the scenario; what was measured until then is
// returned with it.
func Run(ctx context.Context, t Target, sc Scenario, o RunOptions) (ScenarioResult, error) {
	o.Load.TimeoutSeconds = o.Load.Timeout.Seconds()
	if sc.Settle > 0 {
		o.Settle = sc.Settle
	}
	res := ScenarioResult{Target: t.Name(), ID: sc.ID, Name: sc.Name, Opts: o.Load,
		Timing: ScenarioTimes{o.Warmup.Seconds(), o.Before.Seconds(), o.Settle.Seconds()}}
	if err := t.Reset(ctx, sc.Replicas, sc.Version); err != nil {
		res.Error = err.Error()
		return res, fmt.Errorf("%s: %s: getting to %d replicas of %s: %w", t.Name(), sc.ID, sc.Replicas, sc.Version, err)
	}
	rec := StartLoad(ctx, t.URL(), o.Load)
	sleep(ctx, o.Warmup+o.Before)

	var changes []Change
	var runErr error
	for _, step := range sc.Steps {
		ch, err := step.Do(ctx, t)
		changes = append(changes, ch)
		if err != nil {
			runErr = fmt.Errorf("%s: %s: %s: %w", t.Name(), sc.ID, step.Name, err)
			res.Error = runErr.Error()
			break
		}
		sleep(ctx, o.Settle)
	}
	end := time.Now()
	result, err := rec.Stop()
	if err != nil && runErr == nil {
		runErr = fmt.Errorf("%s: %s: load: %w", t.Name(), sc.ID, err)
	}
	res.Load = result.Summary()
	samples := rec.Samples()
	if len(changes) == 0 || changes[0].Requested.IsZero() {
		return res, runErr
	}
	first := changes[0].Requested
	res.Before = Cut(samples, first.Add(-o.Before), first)
	res.During = Cut(samples, first, end)
	for i, ch := range changes {
		until := end
		if i+1 < len(changes) && !changes[i+1].Requested.IsZero() {
			until = changes[i+1].Requested
		}
		res.Steps = append(res.Steps, stepResult(sc.Steps[i], ch, samples, rec.Started, until))
	}
	return res, runErr
}

// stepResult measures one change from the samples: the replicas that had
// answered before it are known; the first answer from any other (or from
// the killed one again) is new traffic.
func stepResult(step Step, ch Change, samples []loadgen.Sample, loadStart, until time.Time) StepResult {
	sr := StepResult{Name: step.Name, AddsReplicas: step.AddsReplicas, Commands: ch.Commands, Note: ch.Note,
		ObservedSeconds: until.Sub(ch.Requested).Seconds(), Window: Cut(samples, ch.Requested, until)}
	if !ch.Converged.IsZero() {
		sr.ConvergedSeconds = seconds(ch.Converged.Sub(ch.Requested))
	}
	known := Hosts(samples, loadStart, ch.Requested)
	since := ch.Requested
	if ch.Killed != "" {
		delete(known, ch.Killed)
		if !ch.KilledAt.IsZero() {
			since = ch.KilledAt
		}
	}
	inWindow := make([]loadgen.Sample, 0, len(samples))
	for _, s := range samples {
		if s.End().Before(until) {
			inWindow = append(inWindow, s)
		}
	}
	if at, _, ok := FirstFresh(inWindow, since, known); ok {
		sr.NewTrafficSeconds = seconds(at.Sub(ch.Requested))
	}
	fresh := map[string]bool{}
	for _, s := range inWindow {
		if s.Kind == "" && s.Host != "" && !known[s.Host] && !s.Start.Before(since) {
			fresh[s.Host] = true
		}
	}
	for h := range fresh {
		sr.NewHosts = append(sr.NewHosts, h)
	}
	sort.Strings(sr.NewHosts)
	return sr
}

func seconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
