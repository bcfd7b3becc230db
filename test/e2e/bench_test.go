package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/controllers"
	"github.com/scaler-dev/scaler/internal/loadgen"
	"github.com/scaler-dev/scaler/internal/testenv"
	"github.com/scaler-dev/scaler/test/bench"
)

// benchParts are the parts of the benchmark, in the order they run;
// SCALER_BENCH_ONLY picks some of them.
var benchParts = []string{"zero-downtime", "reaction", "throughput", "footprint", "capacity", "many", "compose"}

// benchRerun reruns one part; the report prints it with the part's name.
const benchRerun = "SCALER_BENCH=1 SCALER_BENCH_ONLY=%s go test -count=1 -run '^TestBenchmarks$' -timeout 40m -v ./test/e2e/"

// scenarioOptions are the steady load and timing of the zero-downtime
// scenarios, for scaler and compose alike. 256 workers keep 200 req/s going even while
// compose's nginx holds requests on a replica that is gone for up to the
// 10 s client timeout (200/s × 10 s would need 2,000 to be exact; the
// achieved count is in the report).
var scenarioOptions = bench.RunOptions{
	Load:   bench.LoadOptions{Rate: 200, Concurrency: 256, Timeout: 10 * time.Second},
	Warmup: time.Second, Before: 3 * time.Second, Settle: 8 * time.Second,
}

// TestBenchmarks is `make bench`: issue 6's scenarios on the real Docker
// Engine, scaler and the tutorial's compose setup in the same run, and a
// report. It runs only when asked (SCALER_BENCH=1): it takes minutes and
// its figures mean something only on a machine that is otherwise quiet.
//
//	SCALER_BENCH_ONLY      comma-separated parts (default: all but many):
//	                       zero-downtime, reaction, throughput, footprint,
//	                       capacity, many, compose
//	SCALER_BENCH_JSON      where to write the results as JSON
//	SCALER_BENCH_MARKDOWN  a file (BENCHMARKS.md) whose generated section is
//	                       replaced with the report
func TestBenchmarks(t *testing.T) {
	if os.Getenv("SCALER_BENCH") == "" {
		t.Skip("benchmarks run with SCALER_BENCH=1 (make bench)")
	}
	parts := selectedParts(t)
	b := &benchRun{t: t, ctx: t.Context(), report: &bench.Report{
		Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Machine: machine(t.Context()), Rerun: benchRerun,
	}}
	defer b.write()

	if parts["zero-downtime"] || parts["reaction"] || parts["throughput"] || parts["footprint"] || parts["capacity"] {
		b.s = upStack(t, 1)
		b.target = newScalerTarget(t, b.s)
	}
	if parts["zero-downtime"] {
		b.scenarios(b.target)
	}
	if parts["reaction"] {
		for _, interval := range []string{"", "250ms"} {
			b.reaction(interval, 5, 3)
		}
	}
	if parts["throughput"] {
		b.throughput()
	}
	if parts["footprint"] {
		b.footprint()
	}
	if parts["capacity"] {
		b.report.Capacity = &bench.Capacity{From: capacityFrom, To: capacityTo,
			Settings: fmt.Sprintf("demoapp:dev limited to 0.5 CPU and 128M, health check every %s (timeout %s, %d retries), a steady %.0f req/s of GET / (up to %d in flight)",
				footprintHealth.Interval, footprintHealth.Timeout, footprintHealth.Retries, capacityLoad.Rate, capacityLoad.Concurrency)}
		b.report.Capacity.Scaler = b.capacityScaler()
	}
	if b.target != nil && parts["many"] {
		// The many part brings up 200 replicas of its own: none of the
		// first stack's may run beside them.
		b.target.replicas = 0
		b.target.save()
		_ = b.target.waitReplicas(b.ctx, 0, 3*time.Minute)
	}
	if parts["many"] {
		b.many()
	}
	if b.target != nil {
		// Quiet the Engine for compose: no scaler replica left running.
		b.target.replicas = 0
		b.target.save()
		_ = b.target.waitReplicas(b.ctx, 0, 3*time.Minute)
	}
	if parts["compose"] {
		c := b.compose("compose")
		if c != nil {
			b.scenarios(c)
		}
	}
	if parts["footprint"] && b.report.Footprint != nil {
		b.composeScaleUp(b.report.Footprint.Replicas)
	}
	if c := b.report.Capacity; c != nil {
		c.Compose = b.capacityCompose()
		b.plotCapacity()
	}
}

func selectedParts(t *testing.T) map[string]bool {
	parts := map[string]bool{}
	only := os.Getenv("SCALER_BENCH_ONLY")
	if only == "" {
		for _, p := range benchParts {
			// many is asked for by name only: on a 2-core machine its 200
			// replicas' health checks alone saturate the cores, and it
			// does not converge (BENCHMARKS.md, "The cost of a pass").
			parts[p] = p != "many"
		}
		return parts
	}
	for _, p := range strings.Split(only, ",") {
		p = strings.TrimSpace(p)
		known := false
		for _, k := range benchParts {
			known = known || k == p
		}
		if !known {
			t.Fatalf("SCALER_BENCH_ONLY=%q: unknown part %q; use a comma-separated list of %s", only, p, strings.Join(benchParts, ", "))
		}
		parts[p] = true
	}
	return parts
}

// benchRun is one run of the benchmark and its report.
type benchRun struct {
	t      *testing.T
	ctx    context.Context
	s      *stack
	target *scalerTarget
	report *bench.Report
}

// fail records a part that could not be measured: in the report, and as a
// test error so that `make bench` exits non-zero.
func (b *benchRun) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.report.Errors = append(b.report.Errors, msg)
	b.t.Error(msg)
}

// write writes the report where the environment says, and fails the run
// if scaler lost a request: that is what the benchmark is to show.
func (b *benchRun) write() {
	if path := os.Getenv("SCALER_BENCH_JSON"); path != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			b.t.Error(err)
		} else if err := b.report.WriteJSON(path); err != nil {
			b.t.Error(err)
		} else {
			b.t.Logf("wrote %s", path)
		}
	}
	md := b.report.Markdown()
	b.t.Logf("report:\n%s", md)
	if path := os.Getenv("SCALER_BENCH_MARKDOWN"); path != "" {
		if err := bench.UpdateSection(path, md); err != nil {
			b.t.Error(err)
		} else {
			b.t.Logf("updated the generated section of %s", path)
		}
	}
	for _, s := range b.report.ZeroDowntime {
		if s.Target == "scaler" && s.Failed() {
			b.t.Errorf("scaler: %s: %d of %d requests failed: %v", s.Name, s.Load.Failures, s.Load.Requests, s.Load.FailuresByKind)
		}
	}
}

// scenarios runs the zero-downtime scenarios against target.
func (b *benchRun) scenarios(target bench.Target) {
	for _, sc := range bench.Scenarios(false) {
		b.t.Logf("%s: %s", target.Name(), sc.Name)
		res, err := bench.Run(b.ctx, target, sc, scenarioOptions)
		b.report.ZeroDowntime = append(b.report.ZeroDowntime, res)
		if err != nil {
			b.fail("%v", err)
			return
		}
		b.t.Logf("%s: %s: %d requests, %d failed %v", target.Name(), sc.Name, res.Load.Requests, res.Load.Failures, res.Load.FailuresByKind)
	}
}

// compose prepares a compose project of the tutorial's setup.
func (b *benchRun) compose(prefix string) *bench.Compose {
	c, err := bench.NewCompose(filepath.Join("..", "bench", "testdata", "compose"), b.t.TempDir(), testenv.Name(b.t, prefix), testenv.FreePort(b.t), "0.5")
	if err != nil {
		b.fail("compose baseline: %v", err)
		return nil
	}
	b.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := c.Down(ctx); err != nil {
			b.t.Logf("removing compose project %s: %v", c.Project, err)
		}
	})
	return c
}

// probeLoad watches for the first answer of a new replica: 500 req/s is an
// answer every 2 ms, which bounds the resolution of "first answer".
var probeLoad = bench.LoadOptions{Rate: 500, Concurrency: 16, Timeout: 5 * time.Second}

// reaction measures how fast scalerd reacts, with the health check
// probing every interval ("" for the harness's 1s): scale-ups by one
// replica, split at the Engine's events and scalerd's, and kills.
func (b *benchRun) reaction(interval string, scaleTrials, killTrials int) {
	st, ctx := b.target, b.ctx
	shown := interval
	if shown == "" {
		shown = "1s"
	}
	set := bench.ReactionSet{HealthInterval: shown, Probe: probeLoad,
		Commands: []string{st.saveCommand("replicas: 4 (from 3)"), "docker kill -s KILL <the second replica>"}}
	defer func() { b.report.Reaction = append(b.report.Reaction, set) }()

	// A fresh template: every replica probes at interval, and no crash
	// of an earlier template holds a replacement back.
	old := st.s.containers(st.web, v1alpha1.RoleApp)
	st.health, st.greeting, st.replicas = bench.HealthCheck{Interval: interval}, "reaction-"+shown, 3
	st.save()
	if err := st.waitReplaced(ctx, old, 3, 3*time.Minute); err != nil {
		b.fail("reaction (%s): %v", shown, err)
		return
	}
	rec := bench.StartLoad(ctx, st.URL(), probeLoad)
	defer rec.Stop()
	time.Sleep(time.Second)

	for i := range scaleTrials {
		trial, err := b.scaleTrial(rec)
		if err != nil {
			set.Errors = append(set.Errors, fmt.Sprintf("scale-up %d: %v", i+1, err))
		} else {
			set.ScaleUp = append(set.ScaleUp, trial)
		}
		b.t.Logf("reaction (%s): scale-up %d: %+v %v", shown, i+1, trial, err)
		st.replicas = 3
		st.save()
		if err := st.waitReplicas(ctx, 3, time.Minute); err != nil {
			b.fail("reaction (%s): back to 3: %v", shown, err)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	for i := range killTrials {
		if i > 0 {
			old := st.s.containers(st.web, v1alpha1.RoleApp)
			st.greeting = fmt.Sprintf("reaction-%s-kill-%d", shown, i)
			st.save()
			if err := st.waitReplaced(ctx, old, 3, 2*time.Minute); err != nil {
				b.fail("reaction (%s): fresh template before kill %d: %v", shown, i+1, err)
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		trial, err := b.killTrial(rec)
		if err != nil {
			set.Errors = append(set.Errors, fmt.Sprintf("kill %d: %v", i+1, err))
		} else {
			set.Kill = append(set.Kill, trial)
		}
		b.t.Logf("reaction (%s): kill %d: %+v %v", shown, i+1, trial, err)
	}
	if len(set.Errors) > 0 {
		b.fail("reaction (%s): %s", shown, strings.Join(set.Errors, "; "))
	}
}

// waitFresh waits for the first answer after since from a host not in
// known.
func waitFresh(ctx context.Context, rec *bench.Recording, since time.Time, known map[string]bool, timeout time.Duration) (time.Time, string, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if at, host, ok := bench.FirstFresh(rec.Samples(), since, known); ok {
			return at, host, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Time{}, "", fmt.Errorf("no new replica answered within %s", timeout)
}

// scaleTrial scales 3 → 4 and splits the time to the new replica's first
// answer at the events that mark each hand-over.
func (b *benchRun) scaleTrial(rec *bench.Recording) (bench.ScaleTrial, error) {
	st, ctx := b.target, b.ctx
	// Replicas are their containers' hostnames: an answer, to a request
	// sent after the save, from a name no container had then is the new
	// replica's, even if an earlier trial's replica had that name.
	known := map[string]bool{}
	for name := range st.s.containers(st.web, v1alpha1.RoleApp) {
		known[name] = true
	}
	st.replicas = 4
	saved := st.save()
	answered, _, err := waitFresh(ctx, rec, saved, known, time.Minute)
	if err != nil {
		return bench.ScaleTrial{}, err
	}
	var firstLatency time.Duration
	for _, s := range rec.Samples() {
		if s.Kind == "" && !known[s.Host] && s.End().Equal(answered) {
			firstLatency = s.Latency
		}
	}
	if err := st.waitReplicas(ctx, 4, time.Minute); err != nil {
		return bench.ScaleTrial{}, err
	}
	events, err := bench.DockerEvents(ctx, saved.Add(-time.Second), time.Now(), "label="+v1alpha1.LabelInstance+"="+b.s.instance)
	if err != nil {
		return bench.ScaleTrial{}, err
	}
	var created bench.DockerEvent
	for _, e := range events {
		if e.Action == "create" && !e.Time.Before(saved) && strings.HasPrefix(e.Name, st.web+"-") && e.Name != st.web+"-lb" {
			created = e
			break
		}
	}
	if created.ID == "" {
		return bench.ScaleTrial{}, fmt.Errorf("no create event after the save in %d events", len(events))
	}
	at := func(action string) time.Time {
		for _, e := range events {
			if e.ID == created.ID && e.Action == action {
				return e.Time
			}
		}
		return time.Time{}
	}
	started, healthy := at("start"), at("health_status: healthy")
	// On an Engine without startInterval scalerd runs the start probes
	// itself; the first that passes is the replica's "healthy" moment,
	// and Docker's own verdict may come only after the trial.
	if probed, err := b.logLineAfter(created.Time, func(line string) bool {
		return strings.Contains(line, ` msg="start probe passed" `) && strings.Contains(line+" ", " replica="+created.Name+" ")
	}); err == nil && (healthy.IsZero() || probed.Before(healthy)) {
		healthy = probed
	}
	inUpstream, err := b.upstreamChange(healthy, func(names []string) bool { return slices.Contains(names, created.Name) })
	if err != nil {
		return bench.ScaleTrial{}, err
	}
	planned, err := b.plannedAfter(saved)
	if err != nil {
		return bench.ScaleTrial{}, err
	}
	if started.IsZero() || healthy.IsZero() {
		return bench.ScaleTrial{}, fmt.Errorf("%s: start event, or health_status event and start probe log line, missing", created.Name)
	}
	reloadStart, reloadEnd, err := b.reloadSpan(inUpstream)
	if err != nil {
		return bench.ScaleTrial{}, err
	}
	reload := ms(reloadStart, reloadEnd)
	return bench.ScaleTrial{
		Replica: created.Name, TotalMs: ms(saved, answered),
		SaveToPlanMs: ms(saved, planned), PlanToCreateMs: ms(planned, created.Time), CreateToStartMs: ms(created.Time, started),
		StartToHealthyMs: ms(started, healthy), HealthyToUpstreamMs: ms(healthy, inUpstream), ReloadMs: reload,
		UpstreamToAnswerMs: ms(inUpstream, answered), FirstAnswerMs: float64(firstLatency) / float64(time.Millisecond),
		ScalerdMs: ms(saved, planned) + ms(healthy, inUpstream) - reload,
	}, nil
}

func ms(from, to time.Time) float64 { return float64(to.Sub(from)) / float64(time.Millisecond) }

// throughputOneReplica scales to one replica and runs one more round on
// each path: nginx's hop alone, apart from the cost of three app processes.
func (b *benchRun) throughputOneReplica(tp *bench.Throughput, directURL string, load func(time.Duration, ...string) loadgen.Summary, round time.Duration) {
	st, ctx := b.target, b.ctx
	st.replicas = 1
	st.save()
	if err := st.waitReplicas(ctx, 1, 3*time.Minute); err != nil {
		b.fail("throughput, one replica: %v", err)
		return
	}
	load(2*time.Second, st.URL())
	lb, direct := load(round, st.URL()), load(round, directURL)
	tp.OneReplica = &bench.PathRates{LBRate: lb.RequestsPerSecond, DirectRate: direct.RequestsPerSecond,
		Ratio: lb.RequestsPerSecond / direct.RequestsPerSecond}
	tp.Commands = append(tp.Commands, st.saveCommand("replicas: 1")+"; the same two loadtest commands")
	b.t.Logf("throughput, one replica: nginx %.0f req/s, direct %.0f req/s", lb.RequestsPerSecond, direct.RequestsPerSecond)
}

// reloadSpan finds the reload that made the upstream change scalerd
// reported at upstreamAt: its "updated upstream" log line, the last one by
// then, gives its end and its length (reloadMillis: the request to the
// load balancer's reload agent, nginx -t and the SIGHUP, until the agent's
// reply). That span is nginx's work, not scalerd's.
func (b *benchRun) reloadSpan(upstreamAt time.Time) (start, end time.Time, err error) {
	f, err := os.Open(b.s.logs.Name())
	if err != nil {
		return start, end, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var took float64
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, ` msg="updated upstream" `) || !strings.Contains(line, " spec="+b.target.web+" ") {
			continue
		}
		fields := strings.Fields(line)
		ts, ok := strings.CutPrefix(fields[0], "time=")
		if !ok {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || at.After(upstreamAt) {
			continue
		}
		for _, f := range fields {
			if v, ok := strings.CutPrefix(f, "reloadMillis="); ok {
				if ms, err := strconv.ParseFloat(v, 64); err == nil {
					end, took = at, ms
				}
			}
		}
	}
	if end.IsZero() {
		return start, end, fmt.Errorf("no updated upstream log line with reloadMillis by %s", upstreamAt.Format(time.RFC3339Nano))
	}
	return end.Add(-time.Duration(took * float64(time.Millisecond))), end, nil
}

// killTrial kills the second replica and times its leaving the upstream
// and its replacement's first answer.
func (b *benchRun) killTrial(rec *bench.Recording) (bench.KillTrial, error) {
	st, ctx := b.target, b.ctx
	name, id, _, err := st.victim(ctx)
	if err != nil {
		return bench.KillTrial{}, err
	}
	// The survivors are known; an answer from any other name to a request
	// sent after the kill is the replacement's, whatever name it took.
	known := map[string]bool{}
	for n := range st.s.containers(st.web, v1alpha1.RoleApp) {
		known[n] = n != name
	}
	killed := time.Now()
	if _, err := bench.Docker(ctx, "kill", "-s", "KILL", id); err != nil {
		return bench.KillTrial{}, err
	}
	answered, _, err := waitFresh(ctx, rec, time.Now(), known, 2*time.Minute)
	if err != nil {
		return bench.KillTrial{}, err
	}
	if err := st.waitReplaced(ctx, map[string]string{name: id}, 3, time.Minute); err != nil {
		return bench.KillTrial{}, err
	}
	events, err := bench.DockerEvents(ctx, killed.Add(-time.Second), time.Now(), "label="+v1alpha1.LabelInstance+"="+b.s.instance, "event=die")
	if err != nil {
		return bench.KillTrial{}, err
	}
	var died time.Time
	for _, e := range events {
		if strings.HasPrefix(e.ID, id) { // id is docker ps's short form
			died = e.Time
		}
	}
	if died.IsZero() {
		return bench.KillTrial{}, fmt.Errorf("no die event for %s", name)
	}
	left, err := b.upstreamChange(died, func(names []string) bool { return !slices.Contains(names, name) })
	if err != nil {
		return bench.KillTrial{}, err
	}
	reloadStart, reloadEnd, err := b.reloadSpan(left)
	if err != nil {
		return bench.KillTrial{}, err
	}
	return bench.KillTrial{Replica: name, DieToUpstreamMs: ms(died, left), ReloadMs: ms(reloadStart, reloadEnd),
		DieToReloadMs: ms(died, reloadStart), DieToServingMs: ms(died, answered),
		Failed: bench.Cut(rec.Samples(), killed, answered).Failures}, nil
}

// upstreamChange returns when scalerd recorded an UpstreamUpdated event,
// at or after since, whose upstream satisfies match. Events repeat-fold,
// so the last time of a repeated upstream is the one after since.
func (b *benchRun) upstreamChange(since time.Time, match func([]string) bool) (time.Time, error) {
	events, err := b.target.api.Events(b.ctx, b.target.web)
	if err != nil {
		return time.Time{}, err
	}
	var first time.Time
	for _, e := range events {
		if e.Reason != controllers.ReasonUpstreamUpdated || e.LastTimestamp.Before(since) {
			continue
		}
		if match(upstreamNames(e.Message)) && (first.IsZero() || e.LastTimestamp.Before(first)) {
			first = e.LastTimestamp
		}
	}
	if first.IsZero() {
		return first, fmt.Errorf("no matching UpstreamUpdated event after %s", since.Format(time.RFC3339Nano))
	}
	return first, nil
}

// plannedAfter returns the time of scalerd's first "planned" log line
// (-v 1) for the web spec with a create in it, at or after since.
func (b *benchRun) plannedAfter(since time.Time) (time.Time, error) {
	return b.logLineAfter(since, func(line string) bool {
		return strings.Contains(line, " msg=planned ") && strings.Contains(line, " spec="+b.target.web+" ") && strings.Contains(line, "create ")
	})
}

// logLineAfter returns the time of scalerd's first log line that match
// accepts, at or after since. The log has millisecond times.
func (b *benchRun) logLineAfter(since time.Time, match func(line string) bool) (time.Time, error) {
	f, err := os.Open(b.s.logs.Name())
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	floor := since.Truncate(time.Millisecond)
	for sc.Scan() {
		line := sc.Text()
		if !match(line) {
			continue
		}
		ts, ok := strings.CutPrefix(strings.Fields(line)[0], "time=")
		if !ok {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err == nil && !at.Before(floor) {
			return at, nil
		}
	}
	return time.Time{}, fmt.Errorf("no matching log line after %s", since.Format(time.RFC3339Nano))
}

// throughput compares 3 replicas behind nginx with one replica reached
// through its own published port, alternating rounds. Neither has a CPU
// limit (both: memory 128M), so that the ratio is the cost of the load
// balancer's hop, not of a quota. A third path, three replicas each
// reached through its own published port by one client spread over them,
// splits that ratio in two: what running three app processes instead of
// one costs on these cores, with no load balancer, and what nginx's hop
// costs on top.
func (b *benchRun) throughput() {
	st, ctx, s := b.target, b.ctx, b.s
	// The rounds saturate both cores on purpose. A health probe that must
	// answer within 1 s twice in a row fails under that (measured: a
	// replica at a time turned unhealthy and was replaced mid-round, down
	// to an empty upstream), which is not what this part measures.
	st.noCPULimit, st.greeting, st.health = true, "throughput", throughputHealth
	old := s.containers(st.web, v1alpha1.RoleApp)
	st.replicas = 3
	st.save()
	if err := st.waitReplaced(ctx, old, 3, 3*time.Minute); err != nil {
		b.fail("throughput: %v", err)
		return
	}
	var directs, spreadURLs []string
	for i := range 3 {
		name := fmt.Sprintf("%s-direct-%d", s.instance, i+1)
		directs = append(directs, name)
		defer bench.Docker(context.Background(), "rm", "-f", "-v", name)
		u, err := b.startDirect(name, fmt.Sprintf("direct-%d", i+1))
		if err != nil {
			b.fail("throughput: %v", err)
			return
		}
		spreadURLs = append(spreadURLs, u)
	}
	directURL := spreadURLs[0]

	const concurrency, round = 64, 8 * time.Second
	load := func(d time.Duration, urls ...string) loadgen.Summary {
		res, err := loadgen.Run(ctx, loadgen.Options{URL: urls[0], MoreURLs: urls[1:], Concurrency: concurrency, Duration: d, Timeout: 10 * time.Second}, nil)
		if err != nil {
			b.fail("throughput: %v", err)
		}
		if res.Failures > 0 {
			b.fail("throughput: %v: %d of %d requests failed: %v", urls, res.Failures, res.Requests, res.ByKind)
		}
		return res.Summary()
	}
	load(2*time.Second, st.URL()) // warm-up: connections, page cache
	load(2*time.Second, directURL)
	load(2*time.Second, spreadURLs...)
	tp := &bench.Throughput{Replicas: 3, Concurrency: concurrency, Seconds: round.Seconds(),
		Limits: "no CPU limit on any demoapp (memory 128M each), health check every 2 s (timeout 10 s, 5 retries) so that the saturating load does not fail it; the load generator, nginx, the replicas and Redis share the 2 cores",
		Commands: []string{
			st.saveCommand("replicas: 3, no CPU limit") + "; scalectl loadtest " + st.URL() + " --rate 0 -c 64 -d 8s",
			"docker run -d --network <the stack's network> -p 127.0.0.1::5000 --memory 128M -e REDIS_ADDR=<redis>:6379 -e REDIS_PASSWORD=<its password> demoapp:dev; scalectl loadtest http://127.0.0.1:<its port>/ --rate 0 -c 64 -d 8s",
			"two more such docker runs; scalectl loadtest http://127.0.0.1:<port 1>/ http://127.0.0.1:<port 2>/ http://127.0.0.1:<port 3>/ --rate 0 -c 64 -d 8s",
		}}
	pids, err := b.throughputPIDs(directs, spreadURLs)
	if err != nil {
		b.t.Logf("throughput: no CPU split: %v", err)
	}
	for i := range 2 {
		if i == 1 && err == nil {
			// The last round of each path also splits its CPU by component.
			lb := measuredRound(b, pids.lb, func() loadgen.Summary { return load(round, st.URL()) })
			direct := measuredRound(b, pids.direct, func() loadgen.Summary { return load(round, directURL) })
			spread := measuredRound(b, pids.spread, func() loadgen.Summary { return load(round, spreadURLs...) })
			tp.ThroughLB, tp.Direct, tp.Spread = append(tp.ThroughLB, lb.summary), append(tp.Direct, direct.summary), append(tp.Spread, spread.summary)
			tp.CPUThroughLB, tp.CPUDirect, tp.CPUSpread = lb.cpu, direct.cpu, spread.cpu
		} else {
			tp.ThroughLB = append(tp.ThroughLB, load(round, st.URL()))
			tp.Direct = append(tp.Direct, load(round, directURL))
			tp.Spread = append(tp.Spread, load(round, spreadURLs...))
		}
		b.t.Logf("throughput round %d: nginx %.0f req/s, direct %.0f req/s, three direct %.0f req/s",
			i+1, tp.ThroughLB[i].RequestsPerSecond, tp.Direct[i].RequestsPerSecond, tp.Spread[i].RequestsPerSecond)
	}
	mean := func(ss []loadgen.Summary) float64 {
		total := 0.0
		for _, s := range ss {
			total += s.RequestsPerSecond
		}
		return total / float64(len(ss))
	}
	tp.LBRate, tp.DirectRate, tp.SpreadRate = mean(tp.ThroughLB), mean(tp.Direct), mean(tp.Spread)
	tp.Ratio = tp.LBRate / tp.DirectRate
	b.report.Throughput = tp
	defer b.throughputOneReplica(tp, directURL, load, round)

	if _, err := exec.LookPath("wrk"); err != nil {
		b.t.Logf("throughput: wrk not installed; no cross-check")
		return
	}
	lbRate, err := wrkRate(ctx, st.URL(), round)
	if err != nil {
		b.fail("throughput: %v", err)
		return
	}
	directRate, err := wrkRate(ctx, directURL, round)
	if err != nil {
		b.fail("throughput: %v", err)
		return
	}
	tp.Wrk = &bench.PathRates{LBRate: lbRate, DirectRate: directRate, Ratio: lbRate / directRate}
	tp.Commands = append(tp.Commands, fmt.Sprintf("wrk -t2 -c%d -d%s <each URL>", concurrency, round))
	b.t.Logf("throughput with wrk: nginx %.0f req/s, direct %.0f req/s", lbRate, directRate)
}

// startDirect runs a demoapp outside scaler, on the stack's network and
// Redis, with its port published on 127.0.0.1, and returns its URL once it
// answers.
func (b *benchRun) startDirect(name, instance string) (string, error) {
	s := b.s
	run := []string{"run", "-d", "--name", name, "--label", v1alpha1.LabelInstance + "=" + s.instance, "--label", testenv.LabelTest + "=bench",
		"--network", s.network, "--publish", "127.0.0.1::5000", "--memory", "128M",
		"-e", "REDIS_ADDR=" + s.name("redis") + ":6379", "-e", "REDIS_PASSWORD=" + s.redisPassword,
		"-e", "INSTANCE_NAME=" + instance, "demoapp:dev"}
	if _, err := bench.Docker(b.ctx, run...); err != nil {
		return "", err
	}
	addr, err := bench.Docker(b.ctx, "port", name, "5000/tcp")
	if err != nil {
		return "", err
	}
	u := "http://" + strings.Fields(addr)[0] + "/"
	return u, bench.WaitOK(u, 30*time.Second)
}

// pathPIDs are the host processes of each throughput path, by component.
type pathPIDs struct {
	lb, direct, spread map[string][]int
}

// throughputPIDs finds the host processes of each component of the three
// paths: the nginx path's load balancer, replicas and docker-proxy; the
// first direct replica and its docker-proxy; all the direct replicas and
// their docker-proxies; the client (this process) and Redis on every path.
func (b *benchRun) throughputPIDs(directs, directURLs []string) (pathPIDs, error) {
	ctx, st, s := b.ctx, b.target, b.s
	containerPIDs := func(names ...string) ([]int, error) {
		var all []int
		for _, n := range names {
			pids, err := bench.ContainerPIDs(ctx, n)
			if err != nil {
				return nil, err
			}
			all = append(all, pids...)
		}
		return all, nil
	}
	// The direct replicas' ports are in their URLs, known since they
	// started: no docker call is needed to find their docker-proxies.
	proxyPIDs := func(urls ...string) ([]int, error) {
		var all []int
		for _, u := range urls {
			parsed, err := url.Parse(u)
			if err != nil {
				return nil, err
			}
			port, err := strconv.Atoi(parsed.Port())
			if err != nil {
				return nil, fmt.Errorf("port of %s: %w", u, err)
			}
			pids, err := bench.ProxyPIDs(port)
			if err != nil {
				return nil, err
			}
			all = append(all, pids...)
		}
		return all, nil
	}
	var err error
	client := []int{os.Getpid()}
	p := pathPIDs{lb: map[string][]int{"client": client}, direct: map[string][]int{"client": client}, spread: map[string][]int{"client": client}}
	replicas := slices.Sorted(maps.Keys(s.containers(st.web, v1alpha1.RoleApp)))
	lbNames := slices.Sorted(maps.Keys(s.containers(st.web, v1alpha1.RoleLB)))
	redis := slices.Sorted(maps.Keys(s.containers(s.name("redis"), v1alpha1.RoleApp)))
	if p.lb["nginx"], err = containerPIDs(lbNames...); err != nil {
		return p, err
	}
	if p.lb["demoapp"], err = containerPIDs(replicas...); err != nil {
		return p, err
	}
	if p.lb["docker-proxy"], err = bench.ProxyPIDs(s.lbPort); err != nil {
		return p, err
	}
	if p.direct["demoapp"], err = containerPIDs(directs[0]); err != nil {
		return p, err
	}
	if p.direct["docker-proxy"], err = proxyPIDs(directURLs[0]); err != nil {
		return p, err
	}
	if p.spread["demoapp"], err = containerPIDs(directs...); err != nil {
		return p, err
	}
	if p.spread["docker-proxy"], err = proxyPIDs(directURLs...); err != nil {
		return p, err
	}
	if p.lb["redis"], err = containerPIDs(redis...); err != nil {
		return p, err
	}
	p.direct["redis"], p.spread["redis"] = p.lb["redis"], p.lb["redis"]
	return p, nil
}

type cpuRound struct {
	summary loadgen.Summary
	cpu     *bench.CPUShare
}

// measuredRound runs one load round and splits its CPU by component.
func measuredRound(b *benchRun, pids map[string][]int, round func() loadgen.Summary) cpuRound {
	var r cpuRound
	share, err := bench.MeasureCPU(pids, func() int64 {
		r.summary = round()
		return r.summary.Requests
	})
	if err != nil {
		b.t.Logf("throughput: no CPU split: %v", err)
		return r
	}
	r.cpu = &share
	return r
}

// wrkRate runs wrk against url for d and returns its requests per
// second, refusing a run with any non-2xx answer or socket error.
func wrkRate(ctx context.Context, url string, d time.Duration) (float64, error) {
	out, err := exec.CommandContext(ctx, "wrk", "-t2", "-c64", "-d"+d.String(), url).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("wrk %s: %v: %s", url, err, out)
	}
	if strings.Contains(string(out), "Non-2xx") || strings.Contains(string(out), "Socket errors") {
		return 0, fmt.Errorf("wrk %s: errors during the run:\n%s", url, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "Requests/sec:"); ok {
			var rate float64
			if _, err := fmt.Sscan(rest, &rate); err == nil {
				return rate, nil
			}
		}
	}
	return 0, fmt.Errorf("wrk %s: no Requests/sec in:\n%s", url, out)
}

// footprintReplicas is the size of the scale-up whose time and footprint
// are measured.
const footprintReplicas = 50

// footprintHealth is the health check of the 0 → 50 comparison, for
// scaler and compose alike: the demoapp image's own HEALTHCHECK timing.
// The scenarios' 1s probes, 50 times over, are 50 execs a second, which
// alone saturate 2 cores until probes time out and replicas turn
// unhealthy (seen in a trial run: replicas, and Redis, failed and were
// replaced in a crash loop).
// throughputHealth is lenient enough to hold under a saturating load.
var throughputHealth = bench.HealthCheck{Interval: "2s", Timeout: "10s", Retries: 5}

var footprintHealth = bench.HealthCheck{Interval: "5s", Timeout: "3s", Retries: 3}

// footprint reads scalerd's memory and CPU idle, then during 0 → 50 with
// the settings compose's app has (0.5 CPU, 128M, footprintHealth).
func (b *benchRun) footprint() {
	st, ctx := b.target, b.ctx
	b.s.mu.Lock()
	pid := b.s.daemon.Process.Pid
	b.s.mu.Unlock()
	f := &bench.Footprint{Replicas: footprintReplicas,
		Settings: fmt.Sprintf("demoapp:dev limited to 0.5 CPU and 128M, health check every %s (timeout %s, %d retries), Redis up",
			footprintHealth.Interval, footprintHealth.Timeout, footprintHealth.Retries),
		ScalerCommands: []string{st.saveCommand(fmt.Sprintf("replicas: %d (from 0)", footprintReplicas))}}

	if err := st.Reset(ctx, 3, st.greeting); err != nil {
		b.fail("footprint: %v", err)
		return
	}
	time.Sleep(2 * time.Second)
	stop, err := bench.Watch(pid)
	if err != nil {
		b.fail("footprint: %v", err)
		return
	}
	time.Sleep(10 * time.Second)
	if f.Idle, err = stop(); err != nil {
		b.fail("footprint: %v", err)
		return
	}
	b.t.Logf("footprint: idle %+v", f.Idle)

	st.replicas = 0
	st.save()
	if err := st.waitReplicas(ctx, 0, 3*time.Minute); err != nil {
		b.fail("footprint: scaling to 0: %v", err)
		return
	}
	st.noCPULimit, st.health, st.greeting = false, footprintHealth, "hello"
	time.Sleep(2 * time.Second)
	if stop, err = bench.Watch(pid); err != nil {
		b.fail("footprint: %v", err)
		return
	}
	starts, err := bench.WatchStarts(ctx, "label="+v1alpha1.LabelInstance+"="+b.s.instance)
	if err != nil {
		b.fail("footprint: %v", err)
		return
	}
	updates0, reloads0 := b.lbChanges()
	st.replicas = footprintReplicas
	saved := st.save()
	var firstServing time.Time
	// servingAt is when 10 and 25 replicas were first in the upstream: a
	// scale-up's capacity curve, not only its two ends.
	servingAt := map[int]time.Time{}
	err = st.waitStatus(ctx, 10*time.Minute, fmt.Sprintf("%d ready replicas in the upstream", footprintReplicas), func(s v1alpha1.Status) bool {
		if firstServing.IsZero() && len(s.Upstream) > 0 {
			firstServing = time.Now()
		}
		for _, n := range []int{10, 25} {
			if _, ok := servingAt[n]; !ok && len(s.Upstream) >= n {
				servingAt[n] = time.Now()
			}
		}
		return allServing(s, footprintReplicas)
	})
	done := time.Now()
	startTimes := starts()
	usage, werr := stop()
	if err != nil || werr != nil {
		b.fail("footprint: 0 → %d: %v %v", footprintReplicas, err, werr)
		return
	}
	updates1, reloads1 := b.lbChanges()
	updates, reloads := int(updates1-updates0), int(reloads1-reloads0)
	f.ScalerUpstreamUpdates, f.ScalerReloads = &updates, &reloads
	f.ScaleUp, f.ScalerSeconds = usage, done.Sub(saved).Seconds()
	f.ScalerStartedSeconds = lastStart(b.t, startTimes, saved, footprintReplicas)
	first := firstServing.Sub(saved).Seconds()
	f.ScalerFirstServingSeconds = &first
	f.ScalerServingSeconds = map[string]float64{"1": first, strconv.Itoa(footprintReplicas): f.ScalerSeconds}
	for n, at := range servingAt {
		f.ScalerServingSeconds[strconv.Itoa(n)] = at.Sub(saved).Seconds()
	}
	b.t.Logf("footprint: serving after the save: %v (replicas in the upstream: seconds); the Engine's create+start of all %d: %s",
		f.ScalerServingSeconds, footprintReplicas, derefSeconds(f.ScalerStartedSeconds))
	b.report.Footprint = f
	b.t.Logf("footprint: 0 → %d in %.1fs, %+v", footprintReplicas, f.ScalerSeconds, usage)

	st.replicas = 0
	st.save()
	if err := st.waitReplicas(ctx, 0, 5*time.Minute); err != nil {
		b.fail("footprint: back to 0: %v", err)
	}
}

// lbChanges reads how often scalerd has changed the web spec's load
// balancer: members rewritten without a reload, and reloads.
func (b *benchRun) lbChanges() (updates, reloads float64) {
	samples := b.s.mustScrape()
	return metric(samples, "scaler_upstream_updates_total", "spec", b.target.web), metric(samples, "scaler_nginx_reloads_total", "spec", b.target.web)
}

// capacityFrom and capacityTo are the capacity part's scale-up; capacityLoad
// its steady load, open loop so that a stalled replica cannot lower the
// rate and hide a failure.
const capacityFrom, capacityTo = 1, 20

var capacityLoad = bench.LoadOptions{Rate: 200, Concurrency: 32, Timeout: 5 * time.Second}

// capacityScaler scales scaler's web from capacityFrom to capacityTo under
// capacityLoad and records the replicas in the upstream, and those that
// answered, over time.
func (b *benchRun) capacityScaler() *bench.CapacitySide {
	st, ctx := b.target, b.ctx
	side := &bench.CapacitySide{Command: st.saveCommand(fmt.Sprintf("replicas: %d (from %d)", capacityTo, capacityFrom))}
	fail := func(err error) *bench.CapacitySide {
		side.Error = err.Error()
		b.fail("capacity: scaler: %v", err)
		return side
	}
	st.noCPULimit, st.health, st.greeting, st.replicas = false, footprintHealth, "capacity", capacityFrom
	st.save()
	if err := st.waitReplicas(ctx, capacityFrom, 3*time.Minute); err != nil {
		return fail(err)
	}
	rec := bench.StartLoad(ctx, st.URL(), capacityLoad)
	time.Sleep(2 * time.Second)
	st.replicas = capacityTo
	saved := st.save()
	last := -1
	err := st.waitStatus(ctx, 5*time.Minute, fmt.Sprintf("%d in the upstream", capacityTo), func(s v1alpha1.Status) bool {
		if n := len(s.Upstream); n != last {
			side.Ready = append(side.Ready, bench.CurvePoint{Seconds: time.Since(saved).Seconds(), N: n})
			last = n
		}
		return allServing(s, capacityTo)
	})
	time.Sleep(2 * time.Second)
	res, lerr := rec.Stop()
	side.Load = res.Summary()
	side.Answering = bench.AnsweringCurve(rec.Samples(), saved, time.Now())
	side.Ready = append(side.Ready, bench.CurvePoint{Seconds: time.Since(saved).Seconds(), N: last})
	if err != nil || lerr != nil {
		return fail(errors.Join(err, lerr))
	}
	b.t.Logf("capacity: scaler: %d of %d failed; ready %v; answering %v", side.Load.Failures, side.Load.Requests, side.Ready, side.Answering)
	if side.Load.Failures > 0 {
		b.fail("capacity: scaler lost %d of %d requests: %v", side.Load.Failures, side.Load.Requests, side.Load.FailuresByKind)
	}
	st.replicas = capacityFrom
	st.save()
	_ = st.waitReplicas(ctx, capacityFrom, 3*time.Minute)
	return side
}

// capacityCompose does what capacityScaler does on the tutorial's compose
// setup: `up -d --scale`, healthy containers sampled every 250 ms.
func (b *benchRun) capacityCompose() *bench.CapacitySide {
	side := &bench.CapacitySide{}
	fail := func(err error) *bench.CapacitySide {
		side.Error = err.Error()
		b.fail("capacity: compose: %v", err)
		return side
	}
	c := b.compose("capacity")
	if c == nil {
		return fail(errors.New("no compose project"))
	}
	c.HealthTimeout = 5 * time.Minute
	c.HealthCheck = footprintHealth
	ctx := b.ctx
	if err := c.UpDependencies(ctx); err != nil {
		return fail(err)
	}
	if err := c.Reset(ctx, capacityFrom, "capacity"); err != nil {
		return fail(err)
	}
	rec := bench.StartLoad(ctx, c.URL(), capacityLoad)
	time.Sleep(2 * time.Second)
	saved := time.Now()
	sampling, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		last := -1
		for {
			if n, err := c.Healthy(ctx); err == nil && n != last {
				side.Ready = append(side.Ready, bench.CurvePoint{Seconds: time.Since(saved).Seconds(), N: n})
				last = n
			}
			select {
			case <-sampling:
				side.Ready = append(side.Ready, bench.CurvePoint{Seconds: time.Since(saved).Seconds(), N: last})
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	ch, err := c.Scale(ctx, capacityTo)
	time.Sleep(2 * time.Second)
	close(sampling)
	<-sampled
	res, lerr := rec.Stop()
	side.Load = res.Summary()
	side.Answering = bench.AnsweringCurve(rec.Samples(), saved, time.Now())
	if len(ch.Commands) > 0 {
		side.Command = ch.Commands[0]
	}
	if err != nil || lerr != nil {
		return fail(errors.Join(err, lerr))
	}
	b.t.Logf("capacity: compose: %d of %d failed; healthy %v; answering %v", side.Load.Failures, side.Load.Requests, side.Ready, side.Answering)
	return side
}

// plotCapacity draws the capacity curves next to BENCHMARKS.md (docs/)
// when the run updates it, else into the test's temporary directory.
func (b *benchRun) plotCapacity() {
	c := b.report.Capacity
	dir, rel := b.t.TempDir(), ""
	if md := os.Getenv("SCALER_BENCH_MARKDOWN"); md != "" {
		dir, rel = filepath.Join(filepath.Dir(md), "docs"), "docs/capacity.png"
	}
	path := filepath.Join(dir, "capacity.png")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.fail("capacity: plot: %v", err)
		return
	}
	if err := bench.PlotCapacity(path, c); err != nil {
		b.fail("capacity: plot: %v", err)
		return
	}
	c.Plot = rel
	b.t.Logf("capacity: plotted %s", path)
}

// composeScaleUp times `docker-compose up -d --scale app=n` from a project
// with only redis running, until every app container is healthy.
func (b *benchRun) composeScaleUp(n int) {
	f := b.report.Footprint
	c := b.compose("compose-up")
	if c == nil {
		f.ComposeError = "no compose project"
		return
	}
	c.HealthTimeout = 10 * time.Minute
	c.HealthCheck = footprintHealth
	if err := c.UpDependencies(b.ctx); err != nil {
		f.ComposeError = err.Error()
		b.fail("compose 0 → %d: %v", n, err)
		return
	}
	time.Sleep(2 * time.Second)
	starts, err := bench.WatchStarts(b.ctx, "label=com.docker.compose.project="+c.Project)
	if err != nil {
		f.ComposeError = err.Error()
		b.fail("compose 0 → %d: %v", n, err)
		return
	}
	ch, err := c.Scale(b.ctx, n)
	started := starts()
	f.ComposeCommands = ch.Commands
	if err != nil {
		f.ComposeError = err.Error()
		b.fail("compose 0 → %d: %v", n, err)
		return
	}
	secs := ch.Converged.Sub(ch.Requested).Seconds()
	f.ComposeSeconds = &secs
	f.ComposeStartedSeconds = lastStart(b.t, started, ch.Requested, n)
	b.t.Logf("compose: 0 → %d in %.1fs", n, secs)
}

// lastStart is the seconds from since to the last of times, if there are
// at least n of them (the scale-up's starts), else nil.
func lastStart(t *testing.T, times []time.Time, since time.Time, n int) *float64 {
	if len(times) < n {
		t.Logf("footprint: %d start events for %d replicas; not reported", len(times), n)
		return nil
	}
	secs := slices.MaxFunc(times, time.Time.Compare).Sub(since).Seconds()
	return &secs
}

// machine describes where the run happens.
func machine(ctx context.Context) bench.Machine {
	m := bench.Machine{CPUs: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAverage = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%f", &kb)
		m.MemoryGiB = kb / (1 << 20)
	}
	if v, err := bench.Docker(ctx, "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"); err == nil {
		m.Docker = v
	}
	if out, err := exec.CommandContext(ctx, "docker-compose", "version", "--short").Output(); err == nil {
		m.Compose = "docker-compose " + strings.TrimSpace(string(out))
	}
	return m
}
