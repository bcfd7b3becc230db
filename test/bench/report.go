package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/scaler-dev/scaler/internal/loadgen"
)

// Report is everything one `make bench` run measured. It is written as
// JSON (bench/results.json) and rendered into BENCHMARKS.md.
type Report struct {
	Date    string  `json:"date"`
	Machine Machine `json:"machine"`
	// Rerun is the command that reruns one part alone; %s is the part.
	Rerun        string           `json:"rerun"`
	ZeroDowntime []ScenarioResult `json:"zeroDowntime"`
	Reaction     []ReactionSet    `json:"reaction,omitempty"`
	Throughput   *Throughput      `json:"throughput,omitempty"`
	Footprint    *Footprint       `json:"footprint,omitempty"`
	Capacity     *Capacity        `json:"capacity,omitempty"`
	Many         *Many            `json:"many,omitempty"`
	// Errors are parts that could not be measured, and why.
	Errors []string `json:"errors,omitempty"`
}

// Machine is where the figures come from.
type Machine struct {
	CPUs        int     `json:"cpus"`
	MemoryGiB   float64 `json:"memoryGiB"`
	Kernel      string  `json:"kernel"`
	Docker      string  `json:"docker"`
	Compose     string  `json:"compose"`
	LoadAverage string  `json:"loadAverageBefore"`
}

// ReactionSet is the reaction latency of scalerd with one health-check
// interval.
type ReactionSet struct {
	HealthInterval string       `json:"healthInterval"`
	Probe          LoadOptions  `json:"probeLoad"`
	ScaleUp        []ScaleTrial `json:"scaleUp"`
	Kill           []KillTrial  `json:"kill"`
	Errors         []string     `json:"errors,omitempty"`
	Commands       []string     `json:"commands"`
}

// ScaleTrial is one scale-up by one replica, split at the events that
// mark who is working: scalerd, Docker, the health check, nginx.
type ScaleTrial struct {
	Replica string `json:"replica"`
	// TotalMs is from saving the spec file to the first answer from the
	// new replica through the load balancer.
	TotalMs float64 `json:"totalMs"`
	// SaveToPlanMs: scalerd sees the file (fsnotify, a 50 ms quiet
	// period), loads it, lists the containers and plans (its V(1)
	// "planned" log line).
	SaveToPlanMs float64 `json:"saveToPlanMs"`
	// PlanToCreateMs: the Engine creates the container (its "create"
	// event).
	PlanToCreateMs float64 `json:"planToCreateMs"`
	// CreateToStartMs: the Engine starts it ("start").
	CreateToStartMs float64 `json:"createToStartMs"`
	// StartToHealthyMs: the health check passes: Docker's "health_status:
	// healthy" or, earlier, scalerd's start probe ("start probe passed").
	StartToHealthyMs float64 `json:"startToHealthyMs"`
	// HealthyToUpstreamMs: scalerd gets the event, reconciles, renders,
	// and has the load balancer's reload agent run nginx -t and the
	// reload (its UpstreamUpdated event).
	HealthyToUpstreamMs float64 `json:"healthyToUpstreamMs"`
	// ReloadMs is the part of HealthyToUpstreamMs spent applying the
	// config: from the request to the reload agent to its reply (nginx -t,
	// the move into place and the SIGHUP), as scalerd logs it.
	ReloadMs float64 `json:"reloadMs"`
	// UpstreamToAnswerMs: nginx's new workers route the first request to
	// it and it answers.
	UpstreamToAnswerMs float64 `json:"upstreamToAnswerMs"`
	// FirstAnswerMs is the latency of that first answer (request sent to
	// answer received): the part of UpstreamToAnswerMs the new replica
	// itself took, cold, rather than the routing to it.
	FirstAnswerMs float64 `json:"firstAnswerMs"`
	// ScalerdMs is scalerd's own share: SaveToPlanMs + HealthyToUpstreamMs
	// - ReloadMs. It includes the Engine API calls scalerd waits on (the
	// container list); it leaves out container start, the health check,
	// and nginx's test and reload.
	ScalerdMs float64 `json:"scalerdMs"`
}

// KillTrial is one `docker kill -s KILL` of a replica.
type KillTrial struct {
	Replica string `json:"replica"`
	// DieToUpstreamMs is from the Engine's "die" event to scalerd's
	// UpstreamUpdated event for an upstream without the replica.
	DieToUpstreamMs float64 `json:"dieToUpstreamMs"`
	// DieToReloadMs is from "die" to the request that has the load
	// balancer test and reload the config without it (scalerd's part),
	// ReloadMs that request (nginx's part).
	DieToReloadMs float64 `json:"dieToReloadMs"`
	ReloadMs      float64 `json:"reloadMs"`
	// DieToServingMs is from "die" to the first answer from the replacement.
	DieToServingMs float64 `json:"dieToServingMs"`
	// Failed counts the probe's failed requests from the kill until the
	// replacement served.
	Failed int64 `json:"failed"`
}

// Throughput compares nginx with replicas behind it against one replica
// reached directly, measured alternately in the same run.
type Throughput struct {
	Replicas    int               `json:"replicas"`
	Concurrency int               `json:"concurrency"`
	Seconds     float64           `json:"secondsPerRound"`
	Limits      string            `json:"limits"`
	ThroughLB   []loadgen.Summary `json:"throughLoadBalancer"`
	Direct      []loadgen.Summary `json:"direct"`
	// Spread is as many replicas as behind nginx, each reached through its
	// own published port, by one client spread over them: no load
	// balancer, but the same number of app processes. SpreadRate /
	// DirectRate is what the extra processes cost; LBRate / SpreadRate is
	// what nginx's hop costs on top. Their product is Ratio.
	Spread     []loadgen.Summary `json:"spreadDirect,omitempty"`
	LBRate     float64           `json:"lbRequestsPerSecond"`
	DirectRate float64           `json:"directRequestsPerSecond"`
	SpreadRate float64           `json:"spreadDirectRequestsPerSecond,omitempty"`
	Ratio      float64           `json:"ratio"`
	// Wrk is the same comparison with wrk, a lighter client than the Go
	// load generator, when wrk is installed.
	Wrk *PathRates `json:"wrk,omitempty"`
	// OneReplica is one more round on each path with a single replica
	// behind nginx: the load balancer's hop alone, without the cost of
	// running three app processes instead of one on the same cores.
	OneReplica *PathRates `json:"oneReplica,omitempty"`
	// CPUThroughLB and CPUDirect split the CPU of each path's last round
	// by component, per request.
	CPUThroughLB *CPUShare `json:"cpuThroughLoadBalancer,omitempty"`
	CPUDirect    *CPUShare `json:"cpuDirect,omitempty"`
	CPUSpread    *CPUShare `json:"cpuSpreadDirect,omitempty"`
	Commands     []string  `json:"commands"`
}

// PathRates is one round on each path, through nginx and direct: the wrk
// cross-check, or the one-replica round.
type PathRates struct {
	LBRate     float64 `json:"lbRequestsPerSecond"`
	DirectRate float64 `json:"directRequestsPerSecond"`
	Ratio      float64 `json:"ratio"`
}

// Footprint is scalerd's memory and CPU, idle and while scaling 0 → N, and
// that scale-up's time against compose's on the same Engine.
type Footprint struct {
	Idle     Usage `json:"idle"`
	ScaleUp  Usage `json:"scaleUp"`
	Replicas int   `json:"replicas"`
	// Settings are the app's, the same for scaler and compose.
	Settings       string   `json:"settings"`
	ScalerSeconds  float64  `json:"scalerSeconds"`
	ComposeSeconds *float64 `json:"composeSeconds"`
	// ScalerStartedSeconds and ComposeStartedSeconds are from the same
	// start to the Engine's last "start" event of the N app containers:
	// the part of each time the Engine spends creating and starting them,
	// before any health check.
	ScalerStartedSeconds  *float64 `json:"scalerStartedSeconds,omitempty"`
	ComposeStartedSeconds *float64 `json:"composeStartedSeconds,omitempty"`
	// ScalerFirstServingSeconds is from the save to the first of the N in
	// the upstream: how soon a large scale-up adds capacity at all.
	ScalerFirstServingSeconds *float64 `json:"scalerFirstServingSeconds,omitempty"`
	// ScalerServingSeconds maps a number of replicas in the upstream (1,
	// 10, 25, N) to the seconds from the save until that many served.
	ScalerServingSeconds map[string]float64 `json:"scalerServingSeconds,omitempty"`
	// ScalerUpstreamUpdates and ScalerReloads are what scalerd did to the
	// load balancer during the scale-up: members rewritten without a
	// reload, and real nginx reloads.
	ScalerUpstreamUpdates *int     `json:"scalerUpstreamUpdates,omitempty"`
	ScalerReloads         *int     `json:"scalerReloads,omitempty"`
	ComposeError          string   `json:"composeError,omitempty"`
	ScalerCommands        []string `json:"scalerCommands"`
	ComposeCommands       []string `json:"composeCommands"`
}

// WriteJSON writes the report, indented, to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Markers delimit the generated section of BENCHMARKS.md.
const (
	BeginMarker = "<!-- BEGIN bench: generated by `make bench` (hack/bench.sh); edit test/bench/report.go, not this -->"
	EndMarker   = "<!-- END bench -->"
)

// UpdateSection replaces the text between the markers of the file at path
// with section, or appends the markers and section when there are none, so
// that the hand-written rest of the file stays as it is.
func UpdateSection(path, section string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	updated, err := replaceSection(string(b), section)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, []byte(updated), 0o644)
}

func replaceSection(doc, section string) (string, error) {
	block := BeginMarker + "\n" + strings.TrimRight(section, "\n") + "\n" + EndMarker
	begin, end := strings.Index(doc, BeginMarker), strings.Index(doc, EndMarker)
	switch {
	case begin < 0 && end < 0:
		return strings.TrimRight(doc, "\n") + "\n\n" + block + "\n", nil
	case begin < 0 || end < begin:
		return "", fmt.Errorf("the bench markers are broken: fix or remove %q and %q", BeginMarker, EndMarker)
	}
	return doc[:begin] + block + doc[end+len(EndMarker):], nil
}

// Check is one target of issue 6 against what was measured.
type Check struct {
	What     string
	Goal     string
	Measured string
	// Met is "yes", "no" or "n/a" (not measured in this run).
	Met string
}

// Checks compares the report with issue 6's targets.
func (r *Report) Checks() []Check {
	var out []Check
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	var failed, sent int64
	var scenarios []string
	for _, s := range r.ZeroDowntime {
		if s.Target != "scaler" {
			continue
		}
		failed += s.Load.Failures
		sent += s.Load.Requests
		if s.Load.Failures > 0 || s.Error != "" {
			scenarios = append(scenarios, s.ID)
		}
	}
	if sent > 0 {
		m := fmt.Sprintf("%d failed of %d", failed, sent)
		if len(scenarios) > 0 {
			m += " (in " + strings.Join(scenarios, ", ") + ")"
		}
		out = append(out, Check{"scaler: failed requests, all scenarios", "0", m, yes(failed == 0 && len(scenarios) == 0)})
	}
	for _, set := range r.Reaction {
		if len(set.ScaleUp) > 0 {
			total := median(pluck(set.ScaleUp, func(t ScaleTrial) float64 { return t.TotalMs }))
			own := median(pluck(set.ScaleUp, func(t ScaleTrial) float64 { return t.ScalerdMs }))
			out = append(out,
				Check{"save → first answer from the new replica, median (health interval " + set.HealthInterval + ")", "< 1 s", fmtMs(total), yes(total < 1000)},
				Check{"↳ of it, scalerd's own share, median (no container start, health check, nginx -t and reload)", "< 50 ms", fmtMs(own), yes(own < 50)})
		}
		if len(set.Kill) > 0 {
			gone := median(pluckKill(set.Kill, func(t KillTrial) float64 { return t.DieToUpstreamMs }))
			out = append(out, Check{"kill → replica out of the upstream, median (health interval " + set.HealthInterval + ")", "< 100 ms", fmtMs(gone), yes(gone < 100)})
		}
	}
	if t := r.Throughput; t != nil {
		m := fmt.Sprintf("%.2f (%.0f / %.0f req/s)", t.Ratio, t.LBRate, t.DirectRate)
		if t.Wrk != nil {
			m += fmt.Sprintf("; with wrk %.2f (%.0f / %.0f req/s)", t.Wrk.Ratio, t.Wrk.LBRate, t.Wrk.DirectRate)
		}
		if t.SpreadRate > 0 {
			m += fmt.Sprintf("; = %.2f for %d replicas reached directly × %.2f for nginx's hop", t.SpreadRate/t.DirectRate, t.Replicas, t.LBRate/t.SpreadRate)
		}
		out = append(out, Check{fmt.Sprintf("throughput through nginx to %d replicas / one replica direct", t.Replicas), "≥ 0.6",
			m, yes(t.Ratio >= 0.6)})
	}
	if f := r.Footprint; f != nil {
		peak := max(f.Idle.PeakRSSMB, f.ScaleUp.PeakRSSMB)
		out = append(out, Check{fmt.Sprintf("scalerd RSS, idle and during 0 → %d (peak)", f.Replicas), "< 30 MB",
			fmt.Sprintf("%.1f MB idle, %.1f MB peak", f.Idle.RSSMB, peak), yes(peak < 30)})
		if f.ComposeSeconds != nil {
			ratio := f.ScalerSeconds / *f.ComposeSeconds
			out = append(out, Check{fmt.Sprintf("0 → %d time, scaler / docker-compose", f.Replicas), "≤ 0.5",
				fmt.Sprintf("%.2f (%.1f s / %.1f s)", ratio, f.ScalerSeconds, *f.ComposeSeconds), yes(ratio <= 0.5)})
		}
		if f.ScalerFirstServingSeconds != nil {
			out = append(out, Check{fmt.Sprintf("0 → %d: first replica serving after the save", f.Replicas), "< 1 s",
				fmt.Sprintf("%.2f s", *f.ScalerFirstServingSeconds), yes(*f.ScalerFirstServingSeconds < 1)})
		}
		if f.ScalerStartedSeconds != nil {
			ratio := f.ScalerSeconds / *f.ScalerStartedSeconds
			out = append(out, Check{fmt.Sprintf("0 → %d: all serving / the Engine's create+start of them", f.Replicas), "≤ 1.05",
				fmt.Sprintf("%.2f (%.1f s / %.1f s)", ratio, f.ScalerSeconds, *f.ScalerStartedSeconds), yes(ratio <= 1.05)})
		}
	}
	if m := r.Many; m != nil && m.Error == "" {
		peak := max(m.Usage.PeakRSSMB, m.Steady.PeakRSSMB)
		out = append(out, Check{fmt.Sprintf("scalerd RSS with %d replicas (%d specs)", m.Specs*m.Replicas, m.Specs), "< 50 MB",
			fmt.Sprintf("%.1f MB peak", peak), yes(peak < 50)})
	}
	if c := r.Capacity; c != nil && c.Scaler != nil {
		out = append(out, Check{fmt.Sprintf("scale %d → %d under load: failed requests", c.From, c.To), "0",
			fmt.Sprintf("%d of %d", c.Scaler.Load.Failures, c.Scaler.Load.Requests), yes(c.Scaler.Load.Failures == 0 && c.Scaler.Load.Requests > 0)})
	}
	return out
}

// Markdown renders the generated section of BENCHMARKS.md.
func (r *Report) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := r.Machine
	p("Run of %s on %d cores, %.0f GiB, kernel %s, Docker Engine %s, %s; load average before the run: %s.\n",
		r.Date, m.CPUs, m.MemoryGiB, m.Kernel, m.Docker, m.Compose, m.LoadAverage)
	p("Raw figures: `bench/results.json`. One part alone: `%s`.\n\n", fmt.Sprintf(r.Rerun, "<part>"))
	for _, e := range r.Errors {
		p("**Not measured:** %s\n\n", oneLine(e))
	}

	p("#### Targets\n\n| what | target | measured | met |\n| --- | --- | --- | --- |\n")
	for _, c := range r.Checks() {
		p("| %s | %s | %s | %s |\n", c.What, c.Goal, c.Measured, c.Met)
	}
	p("\n")

	for _, target := range []string{"scaler", "compose"} {
		var rows []ScenarioResult
		for _, s := range r.ZeroDowntime {
			if s.Target == target {
				rows = append(rows, s)
			}
		}
		if len(rows) == 0 {
			continue
		}
		if target == "scaler" {
			p("#### 1. Zero downtime under a steady load: scaler (part `zero-downtime`)\n\n")
		} else {
			p("#### 2. The same scenarios, same run: the tutorial's docker-compose + nginx (part `compose`)\n\n")
		}
		o := rows[0].Opts
		p("Load: `GET /` through the load balancer at %.0f req/s (fixed rate, up to %d in flight, %.0f s client timeout), from %.0f s before the first change to %.0f s after each change is done (the crash: %.0f s).\n\n",
			o.Rate, o.Concurrency, o.TimeoutSeconds, rows[0].Timing.BeforeSeconds, rows[0].Timing.SettleSeconds, crashSettle(rows))
		p("| scenario | requests | failed | latency before: p50 / p99 / max | during | first answer from a new replica | done after |\n| --- | ---: | --- | --- | --- | --- | --- |\n")
		for _, s := range rows {
			// A one-step scenario shows its step's figures on its own row.
			traffic, done := "", ""
			if len(s.Steps) == 1 {
				traffic, done = newTraffic(s.Steps[0]), converged(s.Steps[0])
			}
			p("| **%s** | %d | %s | %s | %s | %s | %s |\n", s.Name, s.Load.Requests, failures(s.Load.Failures, s.Load.FailuresByKind, s.Error), lat(s.Before), lat(s.During), traffic, done)
			if len(s.Steps) < 2 {
				continue
			}
			for _, st := range s.Steps {
				p("| ↳ %s | %d | %s | | %s | %s | %s |\n", st.Name, st.Window.Requests, failures(st.Window.Failures, st.Window.FailuresByKind, ""), lat(st.Window), newTraffic(st), converged(st))
			}
		}
		p("\nCommands, in order:\n\n")
		for _, s := range rows {
			for _, st := range s.Steps {
				p("- %s, %s: `%s`", s.ID, st.Name, strings.Join(st.Commands, "` then `"))
				if st.Note != "" {
					p(" (%s)", st.Note)
				}
				p("\n")
			}
		}
		p("\n")
	}

	if len(r.Reaction) > 0 {
		p("#### 3. Reaction latency: scaler (part `reaction`)\n\n")
		for _, set := range r.Reaction {
			p("Health check interval **%s**; probe: %.0f req/s through the load balancer. Medians of %d scale-ups by one replica and %d kills (ms):\n\n",
				set.HealthInterval, set.Probe.Rate, len(set.ScaleUp), len(set.Kill))
			if len(set.ScaleUp) > 0 {
				p("| save → plan | plan → created | created → started | started → healthy | healthy → in upstream (of it, nginx -t + reload) | in upstream → first answer (of it, that answer's latency) | **total** | **scalerd's share** |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
				col := func(f func(ScaleTrial) float64) string { return fmtMs(median(pluck(set.ScaleUp, f))) }
				p("| %s | %s | %s | %s | %s (%s) | %s (%s) | **%s** | **%s** |\n",
					col(func(t ScaleTrial) float64 { return t.SaveToPlanMs }), col(func(t ScaleTrial) float64 { return t.PlanToCreateMs }),
					col(func(t ScaleTrial) float64 { return t.CreateToStartMs }), col(func(t ScaleTrial) float64 { return t.StartToHealthyMs }),
					col(func(t ScaleTrial) float64 { return t.HealthyToUpstreamMs }), col(func(t ScaleTrial) float64 { return t.ReloadMs }),
					col(func(t ScaleTrial) float64 { return t.UpstreamToAnswerMs }), col(func(t ScaleTrial) float64 { return t.FirstAnswerMs }),
					col(func(t ScaleTrial) float64 { return t.TotalMs }), col(func(t ScaleTrial) float64 { return t.ScalerdMs }))
				p("\nEach trial's total: %s ms.\n\n", joinMs(pluck(set.ScaleUp, func(t ScaleTrial) float64 { return t.TotalMs })))
			}
			if len(set.Kill) > 0 {
				p("| die → reload starts (scalerd) | reload (nginx -t + reload) | **die → out of the upstream** | die → replacement answers | failed requests |\n| ---: | ---: | ---: | ---: | ---: |\n")
				var failed int64
				for _, k := range set.Kill {
					failed += k.Failed
				}
				p("| %s | %s | **%s** | %s | %d |\n\nEach trial: out of the upstream %s ms; replacement answers %s ms.\n\n",
					fmtMs(median(pluckKill(set.Kill, func(t KillTrial) float64 { return t.DieToReloadMs }))),
					fmtMs(median(pluckKill(set.Kill, func(t KillTrial) float64 { return t.ReloadMs }))),
					fmtMs(median(pluckKill(set.Kill, func(t KillTrial) float64 { return t.DieToUpstreamMs }))),
					fmtMs(median(pluckKill(set.Kill, func(t KillTrial) float64 { return t.DieToServingMs }))), failed,
					joinMs(pluckKill(set.Kill, func(t KillTrial) float64 { return t.DieToUpstreamMs })),
					joinMs(pluckKill(set.Kill, func(t KillTrial) float64 { return t.DieToServingMs })))
			}
			for _, e := range set.Errors {
				p("Trial not counted: %s\n\n", e)
			}
			if len(set.Commands) > 0 {
				p("Commands: `%s`.\n\n", strings.Join(set.Commands, "`, `"))
			}
		}
	}

	if t := r.Throughput; t != nil {
		p("#### 4. Throughput (part `throughput`)\n\n")
		p("Closed loop, %d workers, %.0f s per round, rounds alternating; %s.\n\n", t.Concurrency, t.Seconds, t.Limits)
		p("| path | rounds (req/s) | mean req/s | p50 / p99 |\n| --- | --- | ---: | --- |\n")
		row := func(name string, rounds []loadgen.Summary, rate float64) {
			var rs []string
			p50, p99 := 0.0, 0.0
			for _, s := range rounds {
				rs = append(rs, fmt.Sprintf("%.0f", s.RequestsPerSecond))
				p50, p99 = s.LatencyMillis.P50, s.LatencyMillis.P99
			}
			p("| %s | %s | %.0f | %s / %s (last round) |\n", name, strings.Join(rs, ", "), rate, fmtMs(p50), fmtMs(p99))
		}
		row(fmt.Sprintf("nginx → %d replicas", t.Replicas), t.ThroughLB, t.LBRate)
		row("one replica, published port", t.Direct, t.DirectRate)
		if len(t.Spread) > 0 {
			row(spreadPath(t.Replicas), t.Spread, t.SpreadRate)
		}
		p("\nRatio: **%.2f**.", t.Ratio)
		if t.SpreadRate > 0 {
			p(" It is the product of two: %d replicas reached directly / one replica, **%.2f**, what running %d app processes instead of one costs on these cores with no load balancer; and nginx → %d / %d replicas reached directly, **%.2f**, what nginx's hop costs on top.",
				t.Replicas, t.SpreadRate/t.DirectRate, t.Replicas, t.Replicas, t.Replicas, t.LBRate/t.SpreadRate)
			if need := 0.6 / (t.SpreadRate / t.DirectRate); need < 1 {
				p(" For 0.6, the hop could cost at most %.0f%% of the throughput of the %d replicas reached directly.", 100*(1-need), t.Replicas)
			} else {
				p(" For 0.6, the hop would have to cost nothing: the replicas reached directly are at %.2f already.", t.SpreadRate/t.DirectRate)
			}
		}
		if w := t.Wrk; w != nil {
			p(" The same with wrk (2 threads, 64 connections, one %.0f s round each), a lighter client than the Go load generator: nginx %.0f req/s, direct %.0f req/s, ratio **%.2f**.", t.Seconds, w.LBRate, w.DirectRate, w.Ratio)
		}
		if o := t.OneReplica; o != nil {
			p(" With **one** replica behind nginx (the Go load generator, one round each), the hop alone: nginx %.0f req/s, direct %.0f req/s, ratio **%.2f**.", o.LBRate, o.DirectRate, o.Ratio)
		}
		p(" Commands: `%s`.\n\n", strings.Join(t.Commands, "`, `"))
		if t.CPUThroughLB != nil && t.CPUDirect != nil {
			p("Where the CPU goes, in the last round of each path: each component's user + system time (its processes' `/proc/<pid>/stat`) per request, µs. The client is the load generator's process.\n\n")
			p("| path | %s | **total** |\n| --- |%s ---: |\n", strings.Join(Components, " | "), strings.Repeat(" ---: |", len(Components)))
			cpuRow := func(name string, c *CPUShare) {
				var cells []string
				for _, comp := range Components {
					if v, ok := c.PerRequest[comp]; ok {
						cells = append(cells, fmt.Sprintf("%.0f", v))
					} else {
						cells = append(cells, "–")
					}
				}
				p("| %s | %s | **%.0f** |\n", name, strings.Join(cells, " | "), c.TotalPerReq)
			}
			cpuRow(fmt.Sprintf("nginx → %d replicas", t.Replicas), t.CPUThroughLB)
			cpuRow("one replica, published port", t.CPUDirect)
			if t.CPUSpread != nil {
				cpuRow(spreadPath(t.Replicas), t.CPUSpread)
			}
			p("\n")
			if c := t.CPUSpread; c != nil && c.TotalPerReq > 0 {
				// The paths are CPU-bound on the same cores, so a ratio of
				// 0.6 needs the nginx path to spend at most 1/0.6 of the
				// direct path's CPU per request.
				budget := t.CPUDirect.TotalPerReq/0.6 - c.TotalPerReq
				p("At 0.6 the nginx path could spend %.0f µs per request (the direct path's %.0f / 0.6). The %d replicas reached directly spend %.0f of it, which leaves the load balancer's hop %.0f µs; nginx's own processes spent %.0f.\n\n",
					t.CPUDirect.TotalPerReq/0.6, t.CPUDirect.TotalPerReq, t.Replicas, c.TotalPerReq, budget, t.CPUThroughLB.PerRequest["nginx"])
			}
		}
	}

	if f := r.Footprint; f != nil {
		p("#### 5. scalerd's footprint and a 0 → %d scale-up (part `footprint`)\n\n", f.Replicas)
		p("Both sides: %s.\n\n", f.Settings)
		p("| | wall time | scalerd RSS (end / peak) | scalerd CPU |\n| --- | ---: | --- | --- |\n")
		p("| idle, 3 replicas serving | %.0f s | %.1f / %.1f MB | %.2f s (%.1f%% of a core) |\n", f.Idle.Seconds, f.Idle.RSSMB, f.Idle.PeakRSSMB, f.Idle.CPUSeconds, f.Idle.CPUPercent)
		p("| scaler 0 → %d, until all ready and in the upstream | **%.1f s** | %.1f / %.1f MB | %.2f s (%.1f%% of a core) |\n", f.Replicas, f.ScalerSeconds, f.ScaleUp.RSSMB, f.ScaleUp.PeakRSSMB, f.ScaleUp.CPUSeconds, f.ScaleUp.CPUPercent)
		switch {
		case f.ComposeSeconds != nil:
			p("| `docker-compose up -d --scale app=%d`, until all healthy | **%.1f s** | | |\n", f.Replicas, *f.ComposeSeconds)
		case f.ComposeError != "":
			p("| `docker-compose up -d --scale app=%d` | not measured: %s | | |\n", f.Replicas, oneLine(f.ComposeError))
		}
		if f.ScalerFirstServingSeconds != nil {
			p("\nThe first of scaler's %d replicas was in the upstream %.1f s after the save.\n", f.Replicas, *f.ScalerFirstServingSeconds)
		}
		if f.ScalerStartedSeconds != nil && f.ComposeStartedSeconds != nil {
			p("\nOf those times, the Engine's creating and starting the %d containers (to its last `start` event, before any health check): scaler %.1f s, compose %.1f s.\n",
				f.Replicas, *f.ScalerStartedSeconds, *f.ComposeStartedSeconds)
		}
		if f.ScalerUpstreamUpdates != nil && f.ScalerReloads != nil {
			p("\nDuring scaler's 0 → %d, scalerd rewrote the load balancer's members %d times without a reload (each replica joins the moment it is healthy; updates that come together are one) and reloaded nginx %d times.\n",
				f.Replicas, *f.ScalerUpstreamUpdates, *f.ScalerReloads)
		}
		p("\nCommands: scaler `%s`; compose `%s`.\n", strings.Join(f.ScalerCommands, "`, `"), strings.Join(f.ComposeCommands, "`, `"))
	}
	if c := r.Capacity; c != nil {
		p("\n#### 6. Capacity while scaling %d → %d under load (part `capacity`)\n\n", c.From, c.To)
		p("Both sides: %s. \"Ready\" is a replica in scaler's upstream, or a healthy compose container; \"answering\" counts the replicas that answered the load through the load balancer in each half second.\n\n", c.Settings)
		p("| | requests | failed | ready: 1st new / half / all | answering: half / all |\n| --- | ---: | ---: | --- | --- |\n")
		for _, side := range []struct {
			name string
			s    *CapacitySide
		}{{"scaler", c.Scaler}, {"compose", c.Compose}} {
			if side.s == nil {
				continue
			}
			if side.s.Error != "" {
				p("| %s | not measured: %s | | | |\n", side.name, oneLine(side.s.Error))
				continue
			}
			at := func(curve []CurvePoint, n int) string {
				if s := Reached(curve, n); s >= 0 {
					return fmt.Sprintf("%.1f s", s)
				}
				return "never"
			}
			p("| %s (`%s`) | %d | %d | %s / %s / %s | %s / %s |\n", side.name, side.s.Command, side.s.Load.Requests, side.s.Load.Failures,
				at(side.s.Ready, c.From+1), at(side.s.Ready, c.To/2), at(side.s.Ready, c.To), at(side.s.Answering, c.To/2), at(side.s.Answering, c.To))
		}
		if c.Plot != "" {
			p("\n![replicas ready and answering over time, scaler and compose](%s)\n", c.Plot)
		}
	}
	if m := r.Many; m != nil {
		p("\n#### 7. %d specs of %d replicas brought up together (part `many`)\n\n", m.Specs, m.Replicas)
		if m.Error != "" {
			p("Not measured: %s\n", oneLine(m.Error))
		} else {
			p("%s.\n\n", m.Settings)
			p("| | wall time | scalerd RSS (end / peak) | scalerd CPU |\n| --- | ---: | --- | --- |\n")
			p("| bring-up: all %d specs serving all their replicas | **%.1f s** (first spec %.1f s, last %.1f s) | %.1f / %.1f MB | %.2f s (%.1f%% of a core) |\n",
				m.Specs, m.Seconds, m.FirstSpecSeconds, m.LastSpecSeconds, m.Usage.RSSMB, m.Usage.PeakRSSMB, m.Usage.CPUSeconds, m.Usage.CPUPercent)
			p("| steady, everything up | %.0f s | %.1f / %.1f MB | %.2f s (%.1f%% of a core) |\n", m.Steady.Seconds, m.Steady.RSSMB, m.Steady.PeakRSSMB, m.Steady.CPUSeconds, m.Steady.CPUPercent)
			p("\nThe load on the first spec throughout: %d requests, %d failed.\n", m.Load.Requests, m.Load.Failures)
		}
	}
	return b.String()
}

// crashSettle is how long the crash scenario watched after its change.
func crashSettle(rows []ScenarioResult) float64 {
	for _, r := range rows {
		if r.ID == "crash" {
			return r.Timing.SettleSeconds
		}
	}
	return rows[0].Timing.SettleSeconds
}

func lat(w Window) string {
	if w.Requests == 0 {
		return "–"
	}
	l := w.LatencyMillis
	return fmt.Sprintf("%s / %s / %s", fmtMs(l.P50), fmtMs(l.P99), fmtMs(l.Max))
}

func failures(n int64, byKind map[string]int64, runErr string) string {
	out := fmt.Sprint(n)
	if n > 0 {
		var kinds []string
		for k, v := range byKind {
			kinds = append(kinds, fmt.Sprintf("%d %s", v, k))
		}
		sort.Strings(kinds)
		out = fmt.Sprintf("**%d** (%s)", n, strings.Join(kinds, ", "))
	}
	if runErr != "" {
		out += "; scenario error: " + strings.ReplaceAll(runErr, "\n", " ")
	}
	return out
}

func newTraffic(st StepResult) string {
	if st.NewTrafficSeconds != nil {
		return fmt.Sprintf("%.2f s", *st.NewTrafficSeconds)
	}
	if st.AddsReplicas {
		return fmt.Sprintf("never (not in %.1f s)", st.ObservedSeconds)
	}
	return "– (none expected)"
}

func converged(st StepResult) string {
	if st.ConvergedSeconds == nil {
		return "not done"
	}
	return fmt.Sprintf("%.2f s", *st.ConvergedSeconds)
}

func fmtMs(ms float64) string {
	switch {
	case ms >= 10000:
		return fmt.Sprintf("%.1f s", ms/1000)
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.2f ms", ms)
}

func joinMs(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(s, ", ")
}

func pluck(ts []ScaleTrial, f func(ScaleTrial) float64) []float64 {
	out := make([]float64, len(ts))
	for i, t := range ts {
		out[i] = f(t)
	}
	return out
}

func pluckKill(ts []KillTrial, f func(KillTrial) float64) []float64 {
	out := make([]float64, len(ts))
	for i, t := range ts {
		out[i] = f(t)
	}
	return out
}

// median of v; the mean of the middle two for an even count.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// oneLine shortens a command's multi-line error to one line (a table
// cell, a paragraph): its first line and docker-compose's ERROR line (else the last).
// The whole text stays in the JSON.
func oneLine(msg string) string {
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, strings.ReplaceAll(l, "|", "\\|"))
		}
	}
	switch len(lines) {
	case 0:
		return ""
	case 1:
		return lines[0]
	}
	last := lines[len(lines)-1]
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "ERROR") {
			last = l
			break
		}
	}
	return lines[0] + " … " + last
}

// spreadPath names the throughput path with no load balancer: as many
// replicas as behind nginx, one client spread over their own ports.
func spreadPath(replicas int) string {
	return fmt.Sprintf("%d replicas, each through its published port (one client spread over them)", replicas)
}

// Many is 20 specs of 10 replicas brought up together under load: how
// scalerd's cost holds as the specs and replicas add up (issue 14).
type Many struct {
	Specs, Replicas int
	Settings        string
	// Seconds is from writing the files to every spec's replicas serving.
	Seconds float64
	// FirstSpecSeconds and LastSpecSeconds are when the first and the last
	// spec had all its replicas in its upstream.
	FirstSpecSeconds, LastSpecSeconds float64
	// Usage is scalerd's CPU and memory over the bring-up; Steady over 10 s
	// with everything up.
	Usage, Steady Usage
	Load          loadgen.Summary
	Error         string `json:",omitempty"`
}
