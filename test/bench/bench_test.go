package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/loadgen"
)

func TestCutCountsByTheTimeARequestWasSent(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	samples := []loadgen.Sample{
		{Start: at(0), Latency: time.Millisecond, Host: "a"},
		{Start: at(900), Latency: 5 * time.Second, Kind: "timeout"}, // answered long after the window
		{Start: at(1000), Latency: 2 * time.Millisecond, Host: "b"},
		{Start: at(1500), Latency: time.Millisecond, Kind: "status 502"},
	}
	w := Cut(samples, at(0), at(1000))
	if w.Requests != 2 || w.Failures != 1 || w.FailuresByKind["timeout"] != 1 || w.Seconds != 1 {
		t.Errorf("first window %+v", w)
	}
	if w.LatencyMillis.Max != 1 {
		t.Errorf("a failure's latency must not count: %+v", w.LatencyMillis)
	}
	w = Cut(samples, at(1000), at(2000))
	if w.Requests != 2 || w.Failures != 1 || w.FailuresByKind["status 502"] != 1 || w.LatencyMillis.P50 != 2 {
		t.Errorf("second window %+v", w)
	}
	if hosts := Hosts(samples, at(0), at(2000)); len(hosts) != 2 || !hosts["a"] || !hosts["b"] {
		t.Errorf("hosts %v", hosts)
	}
	first, host, ok := FirstFresh(samples, at(1), map[string]bool{"a": true})
	if !ok || host != "b" || !first.Equal(at(1002)) {
		t.Errorf("first fresh %v %s %v", first, host, ok)
	}
	if _, _, ok := FirstFresh(samples, at(1001), nil); ok {
		t.Error("an answer to a request sent before since is not fresh")
	}
	if _, _, ok := FirstFresh(samples, at(0), map[string]bool{"a": true, "b": true}); ok {
		t.Error("no host is fresh")
	}
}

// fakeTarget answers through an httptest server; a change switches the
// host it names, or makes it fail for a while.
type fakeTarget struct {
	url     string
	host    atomic.Value // string
	failing atomic.Bool
	resets  []int
}

func newFakeTarget(t *testing.T) *fakeTarget {
	f := &fakeTarget{}
	f.host.Store("old")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.failing.Load() {
			http.Error(w, "gone", http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, `{"served_by":{"hostname":%q,"instance":"web"}}`, f.host.Load())
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL + "/"
	return f
}

func (f *fakeTarget) Name() string { return "fake" }
func (f *fakeTarget) URL() string  { return f.url }
func (f *fakeTarget) Reset(_ context.Context, n int, _ string) error {
	f.resets = append(f.resets, n)
	return nil
}

func (f *fakeTarget) Scale(_ context.Context, n int) (Change, error) {
	ch := Change{Commands: []string{fmt.Sprintf("scale %d", n)}, Requested: time.Now()}
	time.Sleep(100 * time.Millisecond)
	f.host.Store(fmt.Sprintf("new-%d", n))
	ch.Converged = time.Now()
	return ch, nil
}

func (f *fakeTarget) RollingUpdate(context.Context, string) (Change, error) {
	ch := Change{Requested: time.Now()}
	f.failing.Store(true)
	time.Sleep(100 * time.Millisecond)
	f.failing.Store(false)
	return ch, nil // never converges
}

func (f *fakeTarget) Kill(context.Context) (Change, error) {
	return Change{Requested: time.Now(), Converged: time.Now(), Killed: f.host.Load().(string), KilledAt: time.Now()}, nil
}

func (f *fakeTarget) Crash(ctx context.Context) (Change, error) { return f.Kill(ctx) }

func (f *fakeTarget) ChangeLoadBalancer(context.Context) (Change, error) {
	return Change{Requested: time.Now(), Converged: time.Now()}, nil
}

var fastRun = RunOptions{Load: LoadOptions{Rate: 200, Concurrency: 4, Timeout: time.Second},
	Warmup: 50 * time.Millisecond, Before: 200 * time.Millisecond, Settle: 200 * time.Millisecond}

func TestRunMeasuresEachStepAgainstWhatAnsweredBefore(t *testing.T) {
	f := newFakeTarget(t)
	sc := Scenarios(true)[0] // scale 1 → 3 → 5 → 1
	res, err := Run(context.Background(), f, sc, fastRun)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.resets) != 1 || f.resets[0] != 1 {
		t.Errorf("resets %v, want [1]", f.resets)
	}
	if res.Failed() || res.Load.Requests < 50 {
		t.Errorf("load %+v", res.Load)
	}
	if len(res.Steps) != 3 || res.Before.Requests == 0 || res.During.Requests == 0 {
		t.Fatalf("result %+v", res)
	}
	for i, want := range []string{"new-3", "new-5", "new-1"} {
		st := res.Steps[i]
		if st.NewTrafficSeconds == nil || len(st.NewHosts) != 1 || st.NewHosts[0] != want {
			t.Errorf("step %d: new traffic %v from %v, want %s", i, st.NewTrafficSeconds, st.NewHosts, want)
		}
		if st.ConvergedSeconds == nil || *st.ConvergedSeconds < 0.1 || st.ObservedSeconds < 0.3 {
			t.Errorf("step %d: converged %v observed %v", i, st.ConvergedSeconds, st.ObservedSeconds)
		}
	}
	if res.Opts.TimeoutSeconds != 1 {
		t.Errorf("the report must carry the timeout: %+v", res.Opts)
	}
}

func TestRunCountsFailuresAndNeverConverged(t *testing.T) {
	f := newFakeTarget(t)
	var rollout Scenario
	for _, sc := range Scenarios(false) {
		if sc.ID == "rollout" {
			rollout = sc
		}
	}
	res, err := Run(context.Background(), f, rollout, fastRun)
	if err != nil {
		t.Fatal(err)
	}
	st := res.Steps[0]
	if !res.Failed() || st.Window.FailuresByKind["status 502"] == 0 || res.Load.FailuresByKind["status 502"] != res.Load.Failures {
		t.Errorf("the failures of the change must be counted: load %+v, step %+v", res.Load, st.Window)
	}
	if st.ConvergedSeconds != nil || st.NewTrafficSeconds != nil {
		t.Errorf("nothing converged and no new host answered: %+v", st)
	}
	if got := newTraffic(st); !strings.HasPrefix(got, "never (not in ") {
		t.Errorf("report cell %q", got)
	}
}

func TestKilledHostAnsweringAgainIsNewTraffic(t *testing.T) {
	f := newFakeTarget(t)
	sc := Scenario{ID: "kill", Replicas: 3, Steps: []Step{{Name: "kill one replica", AddsReplicas: true, Do: func(ctx context.Context, t Target) (Change, error) { return t.Kill(ctx) }}}}
	res, err := Run(context.Background(), f, sc, fastRun)
	if err != nil {
		t.Fatal(err)
	}
	// The fake keeps answering as "old", the host it "killed": as compose's
	// restarted container does, it counts as the replacement.
	if st := res.Steps[0]; st.NewTrafficSeconds == nil || st.NewHosts[0] != "old" {
		t.Errorf("step %+v", st)
	}
}

func TestScenariosShortAndFull(t *testing.T) {
	ids := func(scs []Scenario) string {
		var out []string
		for _, s := range scs {
			out = append(out, fmt.Sprintf("%s/%d/%d", s.ID, s.Replicas, len(s.Steps)))
		}
		return strings.Join(out, " ")
	}
	if got := ids(Scenarios(true)); got != "scale/1/3 rollout/3/1 kill/3/1 lb/3/1" {
		t.Errorf("short: %s", got)
	}
	if got := ids(Scenarios(false)); got != "scale/1/3 scale-down/5/1 rollout/5/1 kill/3/1 crash/3/1 lb/3/1" {
		t.Errorf("full: %s", got)
	}
	// Each replica failure starts from a version of its own.
	seen := map[string]string{}
	for _, sc := range Scenarios(false) {
		if sc.ID == "kill" || sc.ID == "crash" {
			if other, ok := seen[sc.Version]; ok {
				t.Errorf("%s and %s both start from %s", other, sc.ID, sc.Version)
			}
			seen[sc.Version] = sc.ID
		}
	}
}

func TestReplaceSectionKeepsTheRestOfTheFile(t *testing.T) {
	doc := "# Benchmarks\n\nhand-written\n"
	once, err := replaceSection(doc, "figures 1\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(once, doc) || !strings.Contains(once, BeginMarker+"\nfigures 1\n"+EndMarker) {
		t.Fatalf("appended:\n%s", once)
	}
	twice, err := replaceSection(once+"\nmore hand-written\n", "figures 2")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(twice, "figures 1") || !strings.Contains(twice, "figures 2") || !strings.HasSuffix(twice, "\nmore hand-written\n") || !strings.HasPrefix(twice, doc) {
		t.Fatalf("replaced:\n%s", twice)
	}
	if _, err := replaceSection(EndMarker+"\n"+BeginMarker, "x"); err == nil {
		t.Error("markers out of order must be an error")
	}
	path := filepath.Join(t.TempDir(), "B.md")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := UpdateSection(path, "figures"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "figures") {
		t.Errorf("file:\n%s", b)
	}
}

func TestReportChecksAndMarkdown(t *testing.T) {
	secs := func(f float64) *float64 { return &f }
	r := &Report{Date: "2026-11-27", Rerun: "SCALER_BENCH_ONLY=%s make bench", Machine: Machine{CPUs: 2, MemoryGiB: 24},
		ZeroDowntime: []ScenarioResult{
			{Target: "scaler", ID: "scale", Name: "scale 1 → 3 → 5 → 1", Load: loadgen.Summary{Requests: 1000},
				Steps: []StepResult{{Name: "scale to 3", AddsReplicas: true, NewTrafficSeconds: secs(1.5), NewHosts: []string{"x", "y"}, ConvergedSeconds: secs(2)},
					{Name: "scale to 1", ConvergedSeconds: secs(3)}}},
			{Target: "compose", ID: "scale", Name: "scale 1 → 3 → 5 → 1", Load: loadgen.Summary{Requests: 900, Failures: 7, FailuresByKind: map[string]int64{"timeout": 7}},
				Steps: []StepResult{{Name: "scale to 3", AddsReplicas: true, ObservedSeconds: 12.5, ConvergedSeconds: secs(4)}}},
		},
		Reaction:   []ReactionSet{{HealthInterval: "1s", ScaleUp: []ScaleTrial{{TotalMs: 1400, ScalerdMs: 70}, {TotalMs: 1200, ScalerdMs: 60}, {TotalMs: 1300, ScalerdMs: 65}}, Kill: []KillTrial{{DieToUpstreamMs: 40, DieToServingMs: 1500}}}},
		Throughput: &Throughput{Replicas: 3, Ratio: 0.7, LBRate: 7000, DirectRate: 10000, ThroughLB: []loadgen.Summary{{RequestsPerSecond: 7000}}, Direct: []loadgen.Summary{{RequestsPerSecond: 10000}}},
		Footprint:  &Footprint{Replicas: 50, Idle: Usage{RSSMB: 20, PeakRSSMB: 21}, ScaleUp: Usage{PeakRSSMB: 28}, ScalerSeconds: 20, ComposeSeconds: secs(50)},
	}
	checks := map[string]Check{}
	for _, c := range r.Checks() {
		checks[c.What] = c
	}
	for what, met := range map[string]string{
		"scaler: failed requests, all scenarios":                                                       "yes",
		"save → first answer from the new replica, median (health interval 1s)":                        "**no**",
		"↳ of it, scalerd's own share, median (no container start, health check, nginx -t and reload)": "**no**",
		"kill → replica out of the upstream, median (health interval 1s)":                              "yes",
		"throughput through nginx to 3 replicas / one replica direct":                                  "yes",
		"scalerd RSS, idle and during 0 → 50 (peak)":                                                   "yes",
		"0 → 50 time, scaler / docker-compose":                                                         "yes",
	} {
		if checks[what].Met != met {
			t.Errorf("%s: met %q, want %q (%+v)", what, checks[what].Met, met, checks[what])
		}
	}
	if c := checks["save → first answer from the new replica, median (health interval 1s)"]; c.Measured != "1300 ms" {
		t.Errorf("median: %+v", c)
	}
	md := r.Markdown()
	for _, want := range []string{
		"SCALER_BENCH_ONLY=<part> make bench",
		"| **scale 1 → 3 → 5 → 1** | 1000 | 0 |",
		"| ↳ scale to 3 | 0 | 0 | | – | 1.50 s | 2.00 s |",
		"| ↳ scale to 1 | 0 | 0 | | – | – (none expected) | 3.00 s |",
		"**7** (7 timeout)",
		"never (not in 12.5 s)",
		"Ratio: **0.70**",
		"**20.0 s**", "**50.0 s**",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	b, err := json.Marshal(r)
	if err != nil || !strings.Contains(string(b), `"zeroDowntime"`) || !strings.Contains(string(b), `"newTrafficSeconds":null`) {
		t.Errorf("json %v: %s", err, b)
	}
}

func TestOneLineKeepsTheFirstAndTheErrorLine(t *testing.T) {
	msg := "docker-compose up: exit status 1\nCreating app_1 ...\n\nERROR: for app  Read timed out. (read timeout=60)\nIf you encounter this issue | regularly"
	if got, want := oneLine(msg), "docker-compose up: exit status 1 … ERROR: for app  Read timed out. (read timeout=60)"; got != want {
		t.Errorf("oneLine = %q, want %q", got, want)
	}
	if got := oneLine("a | b\nc"); got != `a \| b … c` {
		t.Errorf("oneLine = %q", got)
	}
}

func TestMeasureCPUSplitsTheRoundsCPUPerRequest(t *testing.T) {
	share, err := MeasureCPU(map[string][]int{"client": {os.Getpid()}, "gone": {1 << 30}}, func() int64 {
		// Spin until this process has used 300 ms of CPU, not 300 ms of
		// wall time: other test packages share the cores under go test.
		for start := processCPU(t); processCPU(t)-start < 300*time.Millisecond; {
		}
		return 100
	})
	if err != nil {
		t.Fatal(err)
	}
	// 300 ms of CPU over 100 requests is 3,000 µs each; utime and stime
	// count in 10 ms ticks.
	if got := share.PerRequest["client"]; got < 2000 || got > 10000 {
		t.Errorf("client: %.0f µs per request, want about 3000", got)
	}
	if share.PerRequest["gone"] != 0 || share.TotalPerReq != share.PerRequest["client"] {
		t.Errorf("a process that does not exist counts %v; total %v", share.PerRequest["gone"], share.TotalPerReq)
	}
	if _, err := MeasureCPU(nil, func() int64 { return 0 }); err == nil {
		t.Error("a round without requests gave a split")
	}
}

func TestThroughputSplitsTheRatioInTwo(t *testing.T) {
	cpu := func(total, nginx float64) *CPUShare {
		per := map[string]float64{"demoapp": total - nginx}
		if nginx > 0 {
			per["nginx"] = nginx
		}
		return &CPUShare{Requests: 1000, PerRequest: per, TotalPerReq: total}
	}
	r := &Report{Throughput: &Throughput{Replicas: 3, Ratio: 0.5, LBRate: 5000, DirectRate: 10000, SpreadRate: 8000,
		ThroughLB: []loadgen.Summary{{RequestsPerSecond: 5000}}, Direct: []loadgen.Summary{{RequestsPerSecond: 10000}}, Spread: []loadgen.Summary{{RequestsPerSecond: 8000}},
		CPUThroughLB: cpu(240, 40), CPUDirect: cpu(120, 0), CPUSpread: cpu(150, 0)}}
	md := r.Markdown()
	for _, want := range []string{
		"| 3 replicas, each through its published port (one client spread over them) | 8000 | 8000 |",
		"3 replicas reached directly / one replica, **0.80**",
		"nginx → 3 / 3 replicas reached directly, **0.62**",
		// 0.6 / 0.8 = 0.75 of the direct three's throughput: 25% for the hop.
		"the hop could cost at most 25% of the throughput",
		// 120 / 0.6 = 200 µs; the three direct spend 150; 50 left.
		"At 0.6 the nginx path could spend 200 µs per request (the direct path's 120 / 0.6). The 3 replicas reached directly spend 150 of it, which leaves the load balancer's hop 50 µs; nginx's own processes spent 40.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	var check Check
	for _, c := range r.Checks() {
		if strings.HasPrefix(c.What, "throughput") {
			check = c
		}
	}
	if !strings.Contains(check.Measured, "= 0.80 for 3 replicas reached directly × 0.62 for nginx's hop") || check.Met != "**no**" {
		t.Errorf("check %+v", check)
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
