package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/loadgen"
	"github.com/scaler-dev/scaler/internal/testenv"
)

// sample is one series of a /metrics scrape.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var labelPair = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// scrape reads scalerd's /metrics in the Prometheus text format.
func (s *stack) scrape() ([]sample, error) {
	resp, err := http.Get("http://" + s.metricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics answered %s", resp.Status)
	}
	var out []sample
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cut := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[cut+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		series := line[:cut]
		smp := sample{name: series, labels: map[string]string{}, value: v}
		if i := strings.IndexByte(series, '{'); i >= 0 {
			smp.name = series[:i]
			for _, m := range labelPair.FindAllStringSubmatch(series[i:], -1) {
				smp.labels[m[1]] = m[2]
			}
		}
		out = append(out, smp)
	}
	return out, sc.Err()
}

// metric sums the series of name whose labels include labels (pairs);
// it returns -1 when there is none.
func metric(samples []sample, name string, labels ...string) float64 {
	total, found := 0.0, false
next:
	for _, smp := range samples {
		if smp.name != name {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if smp.labels[labels[i]] != labels[i+1] {
				continue next
			}
		}
		total += smp.value
		found = true
	}
	if !found {
		return -1
	}
	return total
}

// mustScrape scrapes or fails the test.
func (s *stack) mustScrape() []sample {
	s.t.Helper()
	samples, err := s.scrape()
	if err != nil {
		s.t.Fatalf("scraping %s: %v", s.metricsAddr, err)
	}
	return samples
}

// waitMetrics waits until every want (series -> value) holds for spec.
func (s *stack) waitMetrics(spec string, timeout time.Duration, want map[string]float64) []sample {
	s.t.Helper()
	var samples []sample
	testenv.WaitFor(s.t, timeout, fmt.Sprintf("metrics of %s to read %v", spec, want), func() (bool, error) {
		var err error
		if samples, err = s.scrape(); err != nil {
			return false, err
		}
		for name, v := range want {
			if got := metric(samples, name, "spec", spec); got != v {
				return false, fmt.Errorf("%s = %v", name, got)
			}
		}
		return true, nil
	})
	return samples
}

func TestMetricsMoveAsTheControllerActs(t *testing.T) {
	s := upStack(t, 1)
	web := s.name("web")
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get("http://" + s.metricsAddr + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	before := s.waitMetrics(web, 10*time.Second, map[string]float64{
		"scaler_replicas_desired": 1, "scaler_replicas_ready": 1, "scaler_replicas_updated": 1, "scaler_upstream_size": 1,
	})
	reconciles := metric(before, "scaler_reconciles_total", "spec", web, "result", "success")
	reloads := metric(before, "scaler_nginx_reloads_total", "spec", web, "result", "success")
	updates := metric(before, "scaler_upstream_updates_total", "spec", web, "result", "success")
	converges := metric(before, "scaler_spec_converge_seconds_count", "spec", web)
	created := metric(before, "scaler_replicas_created_total", "spec", web)
	if reconciles <= 0 || converges < 1 || created != 1 {
		t.Fatalf("after start-up: reconciles %v, converges %v, created %v", reconciles, converges, created)
	}
	for _, name := range []string{"scaler_workqueue_depth", "scaler_docker_event_stream_reconnects_total", "scaler_reconcile_duration_seconds_count"} {
		if metric(before, name) < 0 {
			t.Errorf("%s is not exported", name)
		}
	}

	if out, err := s.scalectl("scale", web, "--replicas", "3"); err != nil {
		t.Fatalf("scale: %v: %s", err, out)
	}
	s.waitReady(web, 3, true, 90*time.Second)
	after := s.waitMetrics(web, 20*time.Second, map[string]float64{
		"scaler_replicas_desired": 3, "scaler_replicas_ready": 3, "scaler_replicas_updated": 3, "scaler_upstream_size": 3,
		"scaler_replicas_created_total": 3, "scaler_spec_converge_seconds_count": converges + 1,
	})
	if got := metric(after, "scaler_reconciles_total", "spec", web, "result", "success"); got <= reconciles {
		t.Errorf("reconciles went from %v to %v while scaling", reconciles, got)
	}
	// Members change without a reload (issue 21).
	if got := metric(after, "scaler_upstream_updates_total", "spec", web, "result", "success"); got <= updates {
		t.Errorf("upstream updates went from %v to %v while two replicas joined the upstream", updates, got)
	}
	if got := metric(after, "scaler_nginx_reloads_total", "spec", web, "result", "success"); got != reloads {
		t.Errorf("nginx reloads went from %v to %v while only the members changed", reloads, got)
	}
	if got := metric(after, "scaler_nginx_reloads_total", "spec", web, "result", "failure"); got > 0 {
		t.Errorf("%v failed reloads", got)
	}
	took := metric(after, "scaler_spec_converge_seconds_sum", "spec", web) - metric(before, "scaler_spec_converge_seconds_sum", "spec", web)
	t.Logf("scale 1 -> 3 converged in %.2fs", took)
	if took <= 0 || took > 90 {
		t.Errorf("converge time of the scale-up = %vs", took)
	}

	if out, err := s.scalectl("scale", web, "--replicas", "2"); err != nil {
		t.Fatalf("scale: %v: %s", err, out)
	}
	s.waitMetrics(web, 60*time.Second, map[string]float64{
		"scaler_replicas_desired": 2, "scaler_replicas_ready": 2, "scaler_upstream_size": 2,
		"scaler_spec_converge_seconds_count": converges + 2,
	})
}

// top runs `scalectl top NAME -o json`.
func (s *stack) top(name string, args ...string) (controlapi.TopReport, error) {
	out, err := s.scalectl(append([]string{"top", name, "-o", "json"}, args...)...)
	if err != nil {
		return controlapi.TopReport{}, fmt.Errorf("scalectl top: %v: %s", err, out)
	}
	var r controlapi.TopReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		return r, fmt.Errorf("decoding %q: %w", out, err)
	}
	return r, nil
}

func requestsByReplica(r controlapi.TopReport) map[string]int64 {
	m := map[string]int64{}
	for _, u := range r.Replicas {
		if u.Requests != nil {
			m[u.Name] = *u.Requests
		}
	}
	return m
}

func TestTopShowsTheRealReplicasAndTheirShareOfTheLoad(t *testing.T) {
	s := upStack(t, 3)
	web := s.name("web")
	before, err := s.top(web)
	if err != nil {
		t.Fatal(err)
	}
	if before.RequestsUnknown != "" || len(before.Replicas) != 3 {
		t.Fatalf("top before the load: %+v", before)
	}
	for i, u := range before.Replicas {
		if want := fmt.Sprintf("%s-%d", web, i+1); u.Name != want {
			t.Errorf("row %d is %s, want %s", i, u.Name, want)
		}
		if u.MemoryBytes == 0 || u.StatsError != "" || u.Health != "healthy" || !u.InUpstream {
			t.Errorf("%s: %+v", u.Name, u)
		}
		if u.CPULimit != 0.5 || u.MemoryLimitBytes != 128<<20 {
			t.Errorf("%s limits: cpus %v, memory %d; the spec says 0.5 and 128M", u.Name, u.CPULimit, u.MemoryLimitBytes)
		}
	}

	res, err := loadgen.Run(context.Background(), loadgen.Options{URL: s.url(), Rate: 300, Concurrency: 8, Requests: 900, Timeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	requireNoFailures(t, res)
	after, err := s.top(web)
	if err != nil {
		t.Fatal(err)
	}
	b, a := requestsByReplica(before), requestsByReplica(after)
	var sent, counted int64
	var shares float64
	for _, u := range after.Replicas {
		delta := a[u.Name] - b[u.Name]
		counted += delta
		sent += res.Instances[u.Name]
		shares += *u.Share
		t.Logf("%s: %d requests by Redis, %d answered by it according to the load, share %.1f%%, cpu %.1f%%, memory %d",
			u.Name, delta, res.Instances[u.Name], *u.Share*100, u.CPUPercent, u.MemoryBytes)
		if delta == 0 {
			t.Errorf("%s served none of the load", u.Name)
		}
		if math.Abs(float64(delta-res.Instances[u.Name])) > 2 {
			t.Errorf("%s: Redis counted %d requests, the load saw it answer %d", u.Name, delta, res.Instances[u.Name])
		}
	}
	if counted < res.Successes-2 || counted > res.Successes+2 {
		t.Errorf("the replicas' requests grew by %d in all, the load had %d answered", counted, res.Successes)
	}
	if math.Abs(shares-1) > 0.001 || after.TotalRequests != a[web+"-1"]+a[web+"-2"]+a[web+"-3"] {
		t.Errorf("shares sum to %v, total %d", shares, after.TotalRequests)
	}

	table, err := s.scalectl("top", web)
	if err != nil {
		t.Fatalf("scalectl top: %v: %s", err, table)
	}
	t.Logf("scalectl top %s:\n%s", web, table)
	for _, want := range []string{"CPU(%)", "MEM LIMIT", "SHARE", web + "-3", "128Mi (", "requests in all, from requests:<replica> in Redis of spec " + s.name("redis")} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	all, err := s.scalectl("top")
	if err != nil || !strings.Contains(all, s.name("redis")+"-1") || !strings.Contains(all, web+"-2") {
		t.Errorf("scalectl top of all specs: %v:\n%s", err, all)
	}

	// A Redis that is not there costs the requests column, not the table.
	noRedis, err := s.top(web, "--redis", "nope")
	if err != nil || !strings.Contains(noRedis.RequestsUnknown, "no spec nope") || len(noRedis.Replicas) != 3 || noRedis.Replicas[0].MemoryBytes == 0 {
		t.Errorf("top --redis nope: %v %+v", err, noRedis)
	}
}

// eventsOf returns `scalectl events NAME`.
func (s *stack) eventsOf(name string) string {
	s.t.Helper()
	out, err := s.scalectl("events", name)
	if err != nil {
		s.t.Fatalf("scalectl events: %v: %s", err, out)
	}
	return out
}

// hasEvent reports whether an events table has a row with reason about
// object whose message contains text.
// hasEvent reports whether the events table has a row of reason on object
// whose message contains text. The TYPE column is found by its value: LAST
// SEEN is one word, or several for a folded event ("10s (x2 over 10s)").
func hasEvent(table, reason, object, text string) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		for i := 1; i+3 < len(f); i++ {
			if (f[i] == v1alpha1.EventNormal || f[i] == v1alpha1.EventWarning) && f[i+1] == reason && f[i+2] == object && strings.Contains(line, text) {
				return true
			}
		}
	}
	return false
}

func (s *stack) waitEvent(name, reason, object, text string, timeout time.Duration) {
	s.t.Helper()
	var last string
	testenv.WaitFor(s.t, timeout, fmt.Sprintf("event %s on %s", reason, object), func() (bool, error) {
		last = s.eventsOf(name)
		return hasEvent(last, reason, object, text), fmt.Errorf("events:\n%s", last)
	})
}

func TestEventsAppearForEachAction(t *testing.T) {
	start := time.Now()
	step := func(what string) { t.Logf("%5.1fs %s", time.Since(start).Seconds(), what) }
	s := upStack(t, 2)
	step("stack up")
	web := s.name("web")
	lb := "loadbalancer/" + web + "-lb"

	// `events -w` runs throughout and must print what happens after it began.
	watchOut := filepath.Join(t.TempDir(), "watch.out")
	f, err := os.Create(watchOut)
	if err != nil {
		t.Fatal(err)
	}
	watch := exec.Command(filepath.Join(binDir, "scalectl"), "--socket", s.socket, "events", web, "-w")
	watch.Stdout, watch.Stderr = f, f
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = watch.Process.Kill(); _ = watch.Wait(); f.Close() })

	evs := s.eventsOf(web)
	for _, e := range []struct{ reason, object, text string }{
		{"LoadBalancerCreated", lb, "listens on 127.0.0.1"},
		{"ScaledUp", "scalespec/" + web, web + "-1, " + web + "-2"},
		{"UpstreamUpdated", lb, web + "-1 " + web + "-2"},
	} {
		if !hasEvent(evs, e.reason, e.object, e.text) {
			t.Errorf("no %s event on %s with %q:\n%s", e.reason, e.object, e.text, evs)
		}
	}

	if out, err := s.scalectl("scale", web, "--replicas", "1"); err != nil {
		t.Fatalf("scale: %v: %s", err, out)
	}
	s.waitEvent(web, "ScaledDown", "scalespec/"+web, web+"-2", 60*time.Second)
	s.waitEvent(web, "UpstreamUpdated", lb, "upstream is now ["+web+"-1]", 10*time.Second)
	step("scaled down")

	before := s.containers(web, v1alpha1.RoleApp)[web+"-1"]
	testenv.Docker(t, "kill", "-s", "KILL", web+"-1")
	// Seen within seconds, from the die event: the periodic resync (30s)
	// must not be what finds it.
	s.waitEvent(web, "ReplicaFailed", "replica/"+web+"-1", "exited", 10*time.Second)
	s.waitEvent(web, "ReplicaReplaced", "replica/"+web+"-1", "replace the replica that exited", 30*time.Second)
	s.waitReady(web, 1, true, 60*time.Second)
	step("replaced")
	if now := s.containers(web, v1alpha1.RoleApp)[web+"-1"]; now == before {
		t.Errorf("%s was not replaced", web+"-1")
	}
	evs = s.eventsOf(web)
	if strings.Count(evs, "ScaledUp") != 1 {
		t.Errorf("the replacement was reported as a scale-up too:\n%s", evs)
	}
	samples := s.mustScrape()
	if f, r := metric(samples, "scaler_replica_failures_total", "spec", web), metric(samples, "scaler_replica_replacements_total", "spec", web); f != 1 || r != 1 {
		t.Errorf("failures %v, replacements %v; want 1 and 1", f, r)
	}

	desc, err := s.scalectl("describe", web)
	if err != nil || !strings.Contains(desc, "ReplicaReplaced") || !strings.Contains(desc, "ScaledDown") {
		t.Errorf("describe lacks the events: %v\n%s", err, desc)
	}

	// An invalid edit is an event too, and what runs stays.
	s.writeSpec("web.yaml", strings.Replace(s.webSpec(1, "hello"), "port: 5000", "port: 0", 1))
	s.waitEvent(web, "SpecInvalid", "scalespec/"+web, "spec.template.port", 20*time.Second)
	step("invalid edit reported")

	// What happened after `events -w` started reached it.
	testenv.WaitFor(t, 10*time.Second, "events -w to print the replacement", func() (bool, error) {
		b, _ := os.ReadFile(watchOut)
		return strings.Contains(string(b), "ReplicaReplaced") && strings.Contains(string(b), "ScaledDown") && strings.Contains(string(b), "SpecInvalid"),
			fmt.Errorf("events -w printed:\n%s", b)
	})

	// Every action is one log line with a constant message and the spec,
	// replica and action as keys.
	logs, err := os.ReadFile(s.logs.Name())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]string{
		{`msg="created replica"`, "spec=" + web + " ", "action=create", "replica=" + web + "-2"},
		{`msg="draining replica"`, "spec=" + web + " ", "action=drain", "replica=" + web + "-2"},
		{`msg="removed replica"`, "spec=" + web + " ", "action=remove", "replica=" + web + "-2"},
		{`msg="replica failed"`, "spec=" + web + " ", "replica=" + web + "-1", "state=exited"},
		{`msg="updated upstream"`, "spec=" + web + " ", "action=updateUpstream"},
	} {
		if !hasLogLine(string(logs), want...) {
			t.Errorf("scalerd's log has no line with all of %q", want)
		}
	}
}

func hasLogLine(logs string, parts ...string) bool {
next:
	for _, line := range strings.Split(logs, "\n") {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				continue next
			}
		}
		return true
	}
	return false
}
