package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/controllers"
)

// topEngine is an in-memory engine holding containers, their stats and,
// for containers that run Redis, the keys redis-cli would see. Only the
// methods Top calls are implemented; the others panic through the nil
// embedded interface.
type topEngine struct {
	controllers.Runtime
	containers []controllers.Container
	stats      map[string]controllers.Stats // by ID
	statsErr   map[string]error
	redis      map[string]map[string]string // container ID -> key -> value
	statsDelay time.Duration
	// probes are the containers' last health-check outputs, by ID.
	probes map[string]string

	mu               sync.Mutex
	inFlight, maxFly int
	statsCalls       []string
	execs            []string
}

func (e *topEngine) ListManaged(context.Context) ([]controllers.Container, error) {
	return append([]controllers.Container(nil), e.containers...), nil
}

func (e *topEngine) Stats(_ context.Context, id string) (controllers.Stats, error) {
	e.mu.Lock()
	e.inFlight++
	e.maxFly = max(e.maxFly, e.inFlight)
	e.statsCalls = append(e.statsCalls, id)
	e.mu.Unlock()
	time.Sleep(e.statsDelay)
	e.mu.Lock()
	e.inFlight--
	e.mu.Unlock()
	if err := e.statsErr[id]; err != nil {
		return controllers.Stats{}, err
	}
	return e.stats[id], nil
}

func (e *topEngine) LastProbe(_ context.Context, id string) (controllers.ProbeResult, error) {
	out, ok := e.probes[id]
	if !ok {
		return controllers.ProbeResult{}, controllers.ErrNotFound
	}
	return controllers.ProbeResult{Output: out}, nil
}

// Exec answers `redis-cli --raw -p PORT MGET keys...` as redis-cli does:
// one line per key, empty for a missing one. Anything else is what the
// Engine reports for a missing executable.
func (e *topEngine) Exec(_ context.Context, id string, cmd []string) (controllers.ExecResult, error) {
	e.mu.Lock()
	e.execs = append(e.execs, id+": "+strings.Join(cmd, " "))
	e.mu.Unlock()
	keys, ok := e.redis[id]
	if !ok || len(cmd) < 5 || cmd[0] != "redis-cli" || cmd[4] != "MGET" {
		return controllers.ExecResult{ExitCode: 127, Output: `exec: "redis-cli": executable file not found in $PATH`}, nil
	}
	var b strings.Builder
	for _, k := range cmd[5:] {
		b.WriteString(keys[k] + "\n")
	}
	return controllers.ExecResult{Output: b.String()}, nil
}

func container(spec, role, name, id, state, health string) controllers.Container {
	idx := name[strings.LastIndexByte(name, '-')+1:]
	return controllers.Container{ID: id, Name: name, State: state, Health: health, Labels: map[string]string{
		v1alpha1.LabelSpec: spec, v1alpha1.LabelRole: role, v1alpha1.LabelReplica: idx}}
}

func topSpecs() map[string]*v1alpha1.ScaleSpec {
	web := &v1alpha1.ScaleSpec{Metadata: v1alpha1.ObjectMeta{Name: "web"}, Spec: v1alpha1.Spec{
		DependsOn: []string{"redis"},
		Template: v1alpha1.Template{Port: 5000, Resources: v1alpha1.Resources{
			Limits: v1alpha1.ResourceList{CPUs: "0.5", Memory: "128M"}}},
		LoadBalancer: &v1alpha1.LoadBalancer{Port: 8080}}}
	web.Status = &v1alpha1.Status{Upstream: []string{"web-1", "web-10"}}
	redis := &v1alpha1.ScaleSpec{Metadata: v1alpha1.ObjectMeta{Name: "redis"}, Spec: v1alpha1.Spec{
		Template: v1alpha1.Template{Port: 6380}}}
	return map[string]*v1alpha1.ScaleSpec{"web": web, "redis": redis}
}

func newTopEngine() *topEngine {
	return &topEngine{
		containers: []controllers.Container{
			container("web", v1alpha1.RoleApp, "web-10", "c10", controllers.StateRunning, controllers.HealthHealthy),
			container("web", v1alpha1.RoleLB, "web-lb", "clb", controllers.StateRunning, ""),
			container("web", v1alpha1.RoleApp, "web-2", "c2", controllers.StateRunning, controllers.HealthHealthy),
			container("web", v1alpha1.RoleApp, "web-1", "c1", controllers.StateRunning, controllers.HealthHealthy),
			container("web", v1alpha1.RoleApp, "web-3", "c3", controllers.StateExited, ""),
			container("redis", v1alpha1.RoleApp, "redis-1", "r1", controllers.StateRunning, controllers.HealthHealthy),
		},
		stats: map[string]controllers.Stats{
			"c1":  {CPUPercent: 12.5, MemoryBytes: 10 << 20},
			"c2":  {CPUPercent: 2, MemoryBytes: 8 << 20},
			"c10": {CPUPercent: 40, MemoryBytes: 12 << 20},
		},
		redis: map[string]map[string]string{"r1": {"requests:web-1": "30", "requests:web-10": "10", "requests:redis-1": "99"}},
		probes: map[string]string{
			"c1":  `{"status":"ok","redis":"down","answers":40,"degraded":10}` + "\n",
			"c10": "OK, not JSON",
			"r1":  "PONG",
		},
	}
}

func (e *topEngine) source(specs map[string]*v1alpha1.ScaleSpec) topSource {
	return topSource{
		runtime: e,
		spec: func(name string) (*v1alpha1.ScaleSpec, bool) {
			s, ok := specs[name]
			return s, ok
		},
		draining: func(spec, id string) bool { return id == "c2" },
	}
}

func TestTopJoinsStatsLimitsUpstreamAndRequests(t *testing.T) {
	e := newTopEngine()
	specs := topSpecs()
	reports, err := e.source(specs).top(context.Background(), []v1alpha1.ScaleSpec{*specs["web"]}, "")
	if err != nil {
		t.Fatal(err)
	}
	r := reports[0]
	if r.RequestsUnknown != "" || !strings.Contains(r.RequestsFrom, "redis-1") || r.TotalRequests != 40 {
		t.Fatalf("report = %+v", r)
	}
	var got []string
	for _, u := range r.Replicas {
		got = append(got, fmt.Sprintf("%s %s/%s up=%v drain=%v cpu=%.1f/%.1f mem=%d/%d req=%s share=%s degraded=%s/%s",
			u.Name, u.State, u.Health, u.InUpstream, u.Draining, u.CPUPercent, u.CPULimit, u.MemoryBytes, u.MemoryLimitBytes,
			deref(u.Requests), deref(u.Share), deref(u.Degraded), deref(u.Answers)))
	}
	want := []string{
		"web-1 running/healthy up=true drain=false cpu=12.5/0.5 mem=10485760/134217728 req=30 share=0.75 degraded=10/40",
		"web-2 running/healthy up=false drain=true cpu=2.0/0.5 mem=8388608/134217728 req=0 share=0 degraded=<nil>/<nil>",
		"web-3 exited/ up=false drain=false cpu=0.0/0.5 mem=0/134217728 req=0 share=0 degraded=<nil>/<nil>",
		"web-10 running/healthy up=true drain=false cpu=40.0/0.5 mem=12582912/134217728 req=10 share=0.25 degraded=<nil>/<nil>",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, id := range e.statsCalls {
		if id == "c3" || id == "clb" || id == "r1" {
			t.Errorf("stats of %s: only the spec's running app replicas are sampled", id)
		}
	}
	if len(e.execs) != 1 || e.execs[0] != "r1: redis-cli --raw -p 6380 MGET requests:web-1 requests:web-2 requests:web-3 requests:web-10" {
		t.Errorf("execs = %q", e.execs)
	}
}

func TestTopOfASpecWithoutLoadBalancerOrDependencies(t *testing.T) {
	e := newTopEngine()
	specs := topSpecs()
	specs["redis"].Status = &v1alpha1.Status{Upstream: []string{"redis-1"}}
	reports, err := e.source(specs).top(context.Background(), []v1alpha1.ScaleSpec{*specs["redis"]}, "redis")
	if err != nil {
		t.Fatal(err)
	}
	r := reports[0]
	if r.LoadBalancer || len(r.Replicas) != 1 || r.Replicas[0].InUpstream {
		t.Errorf("report = %+v", r)
	}
	if r.RequestsUnknown != "" || r.Replicas[0].Requests != nil || len(e.execs) != 0 {
		t.Errorf("a Redis serves no counted requests, yet: %q, execs %q", r.RequestsUnknown, e.execs)
	}
}

func deref[T any](p *T) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}

func TestTopSaysWhyRequestsAreUnknownInsteadOfFailing(t *testing.T) {
	cases := []struct {
		name     string
		override string
		change   func(e *topEngine, specs map[string]*v1alpha1.ScaleSpec)
		want     string
	}{
		{"no dependsOn", "", func(_ *topEngine, s map[string]*v1alpha1.ScaleSpec) { s["web"].Spec.DependsOn = nil }, "pass --redis NAME"},
		{"missing redis spec", "cache", nil, "no spec cache"},
		{"no running redis", "", func(e *topEngine, _ map[string]*v1alpha1.ScaleSpec) { e.containers[5].State = controllers.StateExited },
			"spec redis has no running replica"},
		{"no redis-cli", "", func(e *topEngine, _ map[string]*v1alpha1.ScaleSpec) { delete(e.redis, "r1") }, "exited 127"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newTopEngine()
			specs := topSpecs()
			if c.change != nil {
				c.change(e, specs)
			}
			reports, err := e.source(specs).top(context.Background(), []v1alpha1.ScaleSpec{*specs["web"]}, c.override)
			if err != nil {
				t.Fatalf("top failed instead of reporting requests unknown: %v", err)
			}
			r := reports[0]
			if !strings.Contains(r.RequestsUnknown, c.want) {
				t.Errorf("requestsUnknown = %q, want it to say %q", r.RequestsUnknown, c.want)
			}
			for _, u := range r.Replicas {
				if u.Requests != nil || u.Share != nil {
					t.Errorf("%s has requests %v though they are unknown", u.Name, *u.Requests)
				}
			}
			if r.Replicas[0].MemoryBytes == 0 {
				t.Error("stats must still be there")
			}
		})
	}
}

func TestTopReportsAStatsErrorPerReplica(t *testing.T) {
	e := newTopEngine()
	e.statsErr = map[string]error{"c2": errors.New("container c2: not found")}
	specs := topSpecs()
	reports, err := e.source(specs).top(context.Background(), []v1alpha1.ScaleSpec{*specs["web"]}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range reports[0].Replicas {
		switch {
		case u.Name == "web-2" && u.StatsError == "":
			t.Error("web-2's stats error is lost")
		case u.Name != "web-2" && u.StatsError != "":
			t.Errorf("%s: %s", u.Name, u.StatsError)
		}
	}
}

func TestTopBoundsConcurrentStatsCalls(t *testing.T) {
	e := newTopEngine()
	e.statsDelay = 20 * time.Millisecond
	e.containers = nil
	e.stats = map[string]controllers.Stats{}
	for i := 1; i <= 12; i++ {
		name, id := fmt.Sprintf("web-%d", i), fmt.Sprintf("c%d", i)
		e.containers = append(e.containers, container("web", v1alpha1.RoleApp, name, id, controllers.StateRunning, controllers.HealthHealthy))
		e.stats[id] = controllers.Stats{MemoryBytes: 1}
	}
	specs := topSpecs()
	start := time.Now()
	if _, err := e.source(specs).top(context.Background(), []v1alpha1.ScaleSpec{*specs["web"], *specs["redis"]}, ""); err != nil {
		t.Fatal(err)
	}
	if e.maxFly > statsParallelism || e.maxFly < 2 {
		t.Errorf("%d stats calls in flight at most, want 2..%d", e.maxFly, statsParallelism)
	}
	if len(e.statsCalls) != 12 {
		t.Errorf("%d stats calls, want 12", len(e.statsCalls))
	}
	if d := time.Since(start); d > 12*e.statsDelay {
		t.Errorf("took %v: the samples ran one after another", d)
	}
}

func TestParseMGET(t *testing.T) {
	names := []string{"a", "b", "c"}
	got, err := parseMGET("5\n\n12\n", names)
	if err != nil || got["a"] != 5 || got["b"] != 0 || got["c"] != 12 {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := parseMGET("\n\n\n", names); err != nil {
		t.Errorf("three missing keys: %v", err)
	}
	for _, bad := range []string{"5\n", "Could not connect to Redis at 127.0.0.1:6379: Connection refused\n", "1\nx\n2\n"} {
		if _, err := parseMGET(bad, names); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// A report of a spec with no replicas is empty, not an error, and asks
// nothing of Redis.
func TestTopOfASpecWithoutReplicas(t *testing.T) {
	e := newTopEngine()
	e.containers = e.containers[5:] // only redis-1
	specs := topSpecs()
	reports, err := e.source(specs).top(context.Background(), []v1alpha1.ScaleSpec{*specs["web"]}, "")
	if err != nil || len(reports) != 1 || len(reports[0].Replicas) != 0 || len(e.execs) != 0 {
		t.Errorf("reports = %+v, %v, execs %v", reports, err, e.execs)
	}
}
