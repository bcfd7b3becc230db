package e2e

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/loadgen"
	"github.com/scaler-dev/scaler/internal/testenv"
	"github.com/scaler-dev/scaler/test/bench"
)

// autoscaledWebSpec is webSpec starting at one replica, with the
// autoscaling block given (indented for spec:).
func (s *stack) autoscaledWebSpec(autoscaling string) string {
	spec := s.webSpec(1, "hello")
	return strings.Replace(spec, "  loadBalancer:\n", autoscaling+"  loadBalancer:\n", 1)
}

// waitAutoscaledServing waits until every replica the autoscaler asks for
// (whatever it asks for meanwhile) is ready and in the upstream.
func (s *stack) waitAutoscaledServing(name string, timeout time.Duration) {
	s.t.Helper()
	testenv.WaitFor(s.t, timeout, name+" to serve with the autoscaler's count", func() (bool, error) {
		spec, err := s.get(name)
		if err != nil {
			return false, err
		}
		st := spec.Status
		if st == nil || st.Autoscaling == nil {
			return false, fmt.Errorf("no autoscaling status yet")
		}
		want := st.Autoscaling.DesiredReplicas
		return st.ReadyReplicas == want && st.Replicas == want && int32(len(st.Upstream)) == want,
			fmt.Errorf("desired %d, replicas %d, ready %d, upstream %d", want, st.Replicas, st.ReadyReplicas, len(st.Upstream))
	})
}

// desiredSampler records the autoscaler's count every 500 ms.
type desiredSampler struct {
	mu      sync.Mutex
	samples []int32
	stop    func()
}

func (s *stack) sampleDesired(name string) *desiredSampler {
	ctx, cancel := context.WithCancel(context.Background())
	d := &desiredSampler{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			spec, err := s.get(name)
			if err != nil || spec.Status == nil || spec.Status.Autoscaling == nil {
				continue
			}
			d.mu.Lock()
			d.samples = append(d.samples, spec.Status.Autoscaling.DesiredReplicas)
			d.mu.Unlock()
		}
	}()
	d.stop = func() { cancel(); <-done }
	return d
}

// last is the latest sample, 0 before the first.
func (d *desiredSampler) last() int32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.samples) == 0 {
		return 0
	}
	return d.samples[len(d.samples)-1]
}

// directionChanges counts how often the count turned from rising to
// falling or back: flapping shows as many.
func directionChanges(samples []int32) int {
	changes, dir := 0, 0
	for i := 1; i < len(samples); i++ {
		d := 0
		switch {
		case samples[i] > samples[i-1]:
			d = 1
		case samples[i] < samples[i-1]:
			d = -1
		}
		if d != 0 && dir != 0 && d != dir {
			changes++
		}
		if d != 0 {
			dir = d
		}
	}
	return changes
}

// steadyLoad sends rate requests per second to the load balancer until
// stop is called; the result counts every request.
func (s *stack) steadyLoad(rate float64) (stop func() loadgen.Result) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan loadgen.Result, 1)
	go func() {
		res, err := loadgen.Run(ctx, loadgen.Options{URL: s.url(), Rate: rate, Concurrency: 32, Timeout: 10 * time.Second}, nil)
		if err != nil {
			s.t.Errorf("load: %v", err)
		}
		done <- res
	}()
	return func() loadgen.Result { cancel(); return <-done }
}

// The ramp: RequestsPerSecond with target 100 under 100, then 600,
// then 100 req/s through the load balancer. The replicas rise to meet the
// load and fall back after the scale-down window, with no request lost
// and no flapping (one change of direction per load step at most).
func TestAutoscalerFollowsTheLoad(t *testing.T) {
	s := newStack(t)
	s.daemonArgs = []string{"--autoscale-interval", "1s"}
	s.writeSpec("redis.yaml", s.redisSpec())
	s.writeSpec("web.yaml", s.autoscaledWebSpec(`  autoscaling:
    minReplicas: 1
    maxReplicas: 8
    metrics:
      - {type: RequestsPerSecond, target: 100}
    behavior:
      scaleDown: {stabilizationWindow: 10s, maxStep: 2}
`))
	s.startDaemon()
	web := s.name("web")
	s.waitReady(s.name("redis"), 1, false, 60*time.Second)
	s.waitReady(web, 1, true, 90*time.Second)
	// The reload that added the replica returns before nginx's new
	// workers take over; wait for them to answer before measuring.
	if err := bench.WaitOK(s.url(), 10*time.Second); err != nil {
		t.Fatalf("the load balancer does not serve: %v", err)
	}
	sampler := s.sampleDesired(web)
	defer sampler.stop()

	wait := func(what string, timeout time.Duration, ok func(int32) bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for !ok(sampler.last()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the autoscaler's count is %d after %v", what, sampler.last(), timeout)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	stop := s.steadyLoad(100)
	time.Sleep(8 * time.Second)
	low := stop()
	requireNoFailures(t, low)
	if n := sampler.last(); n > 2 {
		t.Errorf("at 100 req/s with a target of 100 the count rose to %d", n)
	}

	// 600 req/s is asked for; a loaded 2-core machine may send less, so
	// the count is checked against what was sent.
	stop = s.steadyLoad(600)
	started := time.Now()
	wait("600 req/s", 60*time.Second, func(n int32) bool { return n >= 4 })
	t.Logf("600 req/s: the count reached %d after %v", sampler.last(), time.Since(started).Round(100*time.Millisecond))
	s.waitAutoscaledServing(web, 90*time.Second)
	time.Sleep(5 * time.Second)
	high := stop()
	requireNoFailures(t, high)
	peak := sampler.last()
	sent := high.Throughput()
	if want := int32(math.Ceil(sent / 100 * 0.85)); peak < min(want, 8) {
		t.Errorf("%.0f req/s with a target of 100 per replica brought %d replicas; want at least %d", sent, peak, want)
	}

	stop = s.steadyLoad(100)
	started = time.Now()
	wait("back to 100 req/s", 90*time.Second, func(n int32) bool { return n <= 2 })
	t.Logf("100 req/s again: the count fell from %d to %d after %v", peak, sampler.last(), time.Since(started).Round(100*time.Millisecond))
	// The window counts from the last high proposal, up to a period
	// before the load fell.
	if took := time.Since(started); took < 8*time.Second {
		t.Errorf("the count fell %v after the load did; the scale-down window is 10s", took)
	}
	time.Sleep(3 * time.Second)
	requireNoFailures(t, stop())

	sampler.mu.Lock()
	samples := append([]int32(nil), sampler.samples...)
	sampler.mu.Unlock()
	t.Logf("the count over time: %v", samples)
	if n := directionChanges(samples); n > 2 {
		t.Errorf("the count changed direction %d times over three load steps: it flaps", n)
	}
	if out, err := s.scalectl("scale", web, "--replicas", "3"); err == nil || !strings.Contains(out, "is autoscaled") {
		t.Errorf("scale of an autoscaled spec: %v\n%s; want a refusal saying minReplicas and maxReplicas govern", err, out)
	}
	// --min applies at once, through the file, whatever the load says.
	if out, err := s.scalectl("scale", web, "--min", "3"); err != nil {
		t.Fatalf("scale --min 3: %v\n%s", err, out)
	}
	wait("--min 3", 30*time.Second, func(n int32) bool { return n == 3 })
	s.waitAutoscaledServing(web, 90*time.Second)
	out, err := s.scalectl("describe", web)
	if err != nil {
		t.Fatalf("describe: %v\n%s", err, out)
	}
	for _, want := range []string{"Autoscaled", "RequestsPerSecond", "min 3, max 8"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
}

// promServer is a real Prometheus server scraping scalerd every second.
type promServer struct {
	t          *testing.T
	bin, dir   string
	addr       string
	cmd        *exec.Cmd
	logs       *os.File
	scrapeAddr string
}

func startPrometheus(t *testing.T, scrapeAddr string) *promServer {
	p := &promServer{t: t, bin: testenv.RequireCommand(t, "prometheus", "apt-get install prometheus"),
		dir: t.TempDir(), addr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), scrapeAddr: scrapeAddr}
	config := fmt.Sprintf("global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n  - job_name: scalerd\n    static_configs: [{targets: [%q]}]\n", scrapeAddr)
	if err := os.WriteFile(filepath.Join(p.dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	logs, err := os.Create(filepath.Join(p.dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	p.logs = logs
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("prometheus log (last 3000 bytes):\n%s", b[max(0, len(b)-3000):])
		}
		logs.Close()
	})
	p.start()
	return p
}

func (p *promServer) start() {
	p.cmd = exec.Command(p.bin, "--config.file="+filepath.Join(p.dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(p.dir, "data"), "--web.listen-address="+p.addr)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatalf("starting prometheus: %v", err)
	}
}

// stop kills the server (a crash, not a shutdown).
func (p *promServer) stop() {
	if p.cmd != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// The Prometheus source against a real Prometheus server that scrapes
// scalerd's scaler_requests_total every second: the count follows
// sum(rate(...)) up under load; with the server killed the count holds and
// ScalingActive turns False, however idle the app; with it back the count
// follows the query down.
func TestAutoscalerPrometheusSource(t *testing.T) {
	s := newStack(t)
	s.daemonArgs = []string{"--autoscale-interval", "1s"}
	prom := startPrometheus(t, s.metricsAddr)
	web := s.name("web")
	s.writeSpec("redis.yaml", s.redisSpec())
	s.writeSpec("web.yaml", s.autoscaledWebSpec(fmt.Sprintf(`  autoscaling:
    maxReplicas: 4
    metrics:
      - type: Prometheus
        server: http://%s
        query: sum(rate(scaler_requests_total{spec="%s"}[5s]))
        target: 100
    behavior:
      scaleDown: {stabilizationWindow: 5s, maxStep: 4}
`, prom.addr, web)))
	s.startDaemon()
	s.waitReady(s.name("redis"), 1, false, 60*time.Second)
	s.waitReady(web, 1, true, 90*time.Second)
	// The reload that added the replica returns before nginx's new
	// workers take over; wait for them to answer before measuring.
	if err := bench.WaitOK(s.url(), 10*time.Second); err != nil {
		t.Fatalf("the load balancer does not serve: %v", err)
	}
	sampler := s.sampleDesired(web)
	defer sampler.stop()
	waitCount := func(what string, ok func(int32) bool) {
		t.Helper()
		testenv.WaitFor(t, 90*time.Second, what, func() (bool, error) {
			return ok(sampler.last()), fmt.Errorf("the count is %d", sampler.last())
		})
	}
	scalingActive := func() *v1alpha1.Condition {
		spec, err := s.get(web)
		if err != nil || spec.Status == nil {
			return nil
		}
		return v1alpha1.FindCondition(spec.Status.Conditions, v1alpha1.ConditionScalingActive)
	}

	stop := s.steadyLoad(400)
	waitCount("the count to follow the query up", func(n int32) bool { return n >= 3 })
	requireNoFailures(t, stop())
	peak := sampler.last()

	prom.stop()
	testenv.WaitFor(t, 30*time.Second, "ScalingActive False with Prometheus down", func() (bool, error) {
		c := scalingActive()
		return c != nil && c.Status == v1alpha1.ConditionFalse && strings.Contains(c.Message, "Prometheus"), fmt.Errorf("ScalingActive %+v", c)
	})
	time.Sleep(8 * time.Second) // past the scale-down window, with no load at all
	if n := sampler.last(); n < peak {
		t.Errorf("with Prometheus down the count fell from %d to %d; a missing metric must hold it", peak, n)
	}

	prom.start()
	waitCount("the count to follow the query down", func(n int32) bool { return n == 1 })
	if c := scalingActive(); c == nil || c.Status != v1alpha1.ConditionTrue {
		t.Errorf("ScalingActive %+v; want True", c)
	}
	out, err := s.scalectl("events", web)
	if err != nil || !strings.Contains(out, "FailedGetMetrics") {
		t.Errorf("events lack FailedGetMetrics (%v):\n%s", err, out)
	}
}
