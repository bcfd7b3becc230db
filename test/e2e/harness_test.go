// Package e2e runs the real scalerd and scalectl binaries against the real
// Docker Engine, nginx and Redis, with traffic only to 127.0.0.1.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/loadgen"
	"github.com/scaler-dev/scaler/internal/testenv"
	"github.com/scaler-dev/scaler/test/bench"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scaler-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-o", dir, "../../cmd/scalerd", "../../cmd/scalectl")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building scalerd and scalectl:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// stack is one scalerd with its own instance label, spec directory,
// socket, network and ports, so tests never touch each other's containers
// or a stack started by `make run`.
type stack struct {
	t           *testing.T
	instance    string
	network     string
	specDir     string
	stateDir    string
	socket      string
	metricsAddr string
	lbPort      int

	mu     sync.Mutex
	daemon *exec.Cmd
	logs   *os.File
}

func newStack(t *testing.T) *stack {
	t.Helper()
	testenv.RequireDocker(t)
	testenv.RequireImages(t, "demoapp:dev", "scaler-nginx:dev", "scaler-redis:dev")
	dir := t.TempDir()
	s := &stack{
		t:           t,
		instance:    testenv.Name(t, "e2e"),
		specDir:     filepath.Join(dir, "specs"),
		stateDir:    filepath.Join(dir, "state"),
		socket:      filepath.Join(dir, "scalerd.sock"),
		metricsAddr: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		lbPort:      testenv.FreePort(t),
	}
	s.network = s.instance + "-net"
	if err := os.MkdirAll(s.specDir, 0o755); err != nil {
		t.Fatal(err)
	}
	logs, err := os.Create(filepath.Join(dir, "scalerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.logs = logs
	t.Cleanup(s.cleanup)
	return s
}

// name is a spec name unique to this stack.
func (s *stack) name(short string) string { return s.instance + "-" + short }

func (s *stack) cleanup() {
	s.stopDaemon(syscall.SIGKILL)
	// SCALER_E2E_LOGS_TO=<dir> keeps every stack's whole scalerd log, for
	// looking into a run after the fact.
	if dir := os.Getenv("SCALER_E2E_LOGS_TO"); dir != "" {
		if b, err := os.ReadFile(s.logs.Name()); err == nil {
			if err := os.WriteFile(filepath.Join(dir, s.instance+".log"), b, 0o644); err != nil {
				s.t.Logf("keeping the scalerd log: %v", err)
			}
		}
	}
	if s.t.Failed() || os.Getenv("SCALER_E2E_LOGS") != "" {
		if b, err := os.ReadFile(s.logs.Name()); err == nil {
			lines := strings.Split(string(b), "\n")
			s.t.Logf("scalerd log (last 60 lines):\n%s", strings.Join(lines[max(0, len(lines)-60):], "\n"))
		}
	}
	s.logs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "docker", "ps", "-aq", "--filter", "label="+v1alpha1.LabelInstance+"="+s.instance).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		_ = exec.CommandContext(ctx, "docker", append([]string{"rm", "-f", "-v"}, ids...)...).Run()
	}
	_ = exec.CommandContext(ctx, "docker", "network", "rm", s.network).Run()
}

// startDaemon runs scalerd and waits until it is ready.
func (s *stack) startDaemon() {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "scalerd"),
		"--spec-dir", s.specDir, "--socket", s.socket, "--state-dir", s.stateDir,
		"--metrics-addr", s.metricsAddr, "--instance", s.instance, "-v", "1")
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting scalerd: %v", err)
	}
	s.mu.Lock()
	s.daemon = cmd
	s.mu.Unlock()
	testenv.WaitFor(s.t, 30*time.Second, "scalerd /readyz", func() (bool, error) {
		resp, err := http.Get("http://" + s.metricsAddr + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %s", resp.Status)
	})
}

// stopDaemon signals scalerd and waits for it to exit.
func (s *stack) stopDaemon(sig syscall.Signal) {
	s.mu.Lock()
	cmd := s.daemon
	s.daemon = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	_ = cmd.Wait()
}

// writeSpec writes a spec file atomically, as an editor that renames does.
func (s *stack) writeSpec(file, content string) {
	s.t.Helper()
	tmp := filepath.Join(s.specDir, "."+file+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(s.specDir, file)); err != nil {
		s.t.Fatal(err)
	}
}

// scalectl runs scalectl against this stack's daemon.
func (s *stack) scalectl(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(binDir, "scalectl"), append([]string{"--socket", s.socket}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// get returns a spec with its status, through scalectl.
func (s *stack) get(name string) (*v1alpha1.ScaleSpec, error) {
	out, err := s.scalectl("get", name, "-o", "json")
	if err != nil {
		return nil, fmt.Errorf("scalectl get: %v: %s", err, out)
	}
	var spec v1alpha1.ScaleSpec
	if err := json.Unmarshal([]byte(out), &spec); err != nil {
		return nil, fmt.Errorf("decoding %q: %w", out, err)
	}
	return &spec, nil
}

// waitReady waits until spec name has n ready replicas, n in the upstream
// (for a spec with a load balancer) and nothing else left over.
func (s *stack) waitReady(name string, n int, withLB bool, timeout time.Duration) {
	s.t.Helper()
	testenv.WaitFor(s.t, timeout, fmt.Sprintf("%s to have %d ready replicas", name, n), func() (bool, error) {
		spec, err := s.get(name)
		if err != nil {
			return false, err
		}
		st := spec.Status
		if st == nil {
			return false, fmt.Errorf("no status yet")
		}
		ok := st.ReadyReplicas == int32(n) && st.Replicas == int32(n) && (!withLB || len(st.Upstream) == n)
		return ok, fmt.Errorf("replicas=%d ready=%d upstream=%v", st.Replicas, st.ReadyReplicas, st.Upstream)
	})
}

// containers lists this stack's containers of a spec and role as
// name -> ID.
func (s *stack) containers(spec, role string) map[string]string {
	s.t.Helper()
	out := testenv.Docker(s.t, "ps", "-a", "--format", "{{.Names}} {{.ID}}",
		"--filter", "label="+v1alpha1.LabelInstance+"="+s.instance,
		"--filter", "label="+v1alpha1.LabelSpec+"="+spec,
		"--filter", "label="+v1alpha1.LabelRole+"="+role)
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			m[f[0]] = f[1]
		}
	}
	return m
}

// url is the load balancer's address.
func (s *stack) url() string { return fmt.Sprintf("http://127.0.0.1:%d/", s.lbPort) }

// minLoad is the least a load() runs before its stop function ends it,
// so that a change that finished fast (0.4 s for a scale-up on a quick
// machine) is still followed by requests to the state it left, and
// requireNoFailures's count is reached.
const minLoad = 1500 * time.Millisecond

// load runs a steady load against the load balancer until the returned
// function is called (and for at least minLoad), which returns what it
// measured.
func (s *stack) load() func() loadgen.Result {
	started := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan loadgen.Result, 1)
	go func() {
		res, err := loadgen.Run(ctx, loadgen.Options{URL: s.url(), Rate: 100, Concurrency: 8, Timeout: 10 * time.Second}, nil)
		if err != nil {
			s.t.Errorf("load: %v", err)
		}
		done <- res
	}()
	return func() loadgen.Result {
		time.Sleep(time.Until(started.Add(minLoad)))
		cancel()
		return <-done
	}
}

// requireNoFailures fails the test if any request of the load failed.
func requireNoFailures(t *testing.T, res loadgen.Result) {
	t.Helper()
	t.Logf("load: %d requests, %d failed %v, instances %v, p99 %v", res.Requests, res.Failures, res.ByKind, res.Instances, res.Latency.P99)
	if res.Requests < 50 {
		t.Errorf("only %d requests were sent; the load did not run", res.Requests)
	}
	if res.Failures > 0 {
		t.Errorf("%d of %d requests failed: %v", res.Failures, res.Requests, res.ByKind)
	}
}

// redisSpec and webSpec are the default stack's specs, made unique and
// quick to turn healthy.
func (s *stack) redisSpec() string {
	return fmt.Sprintf(`apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata:
  name: %s
spec:
  replicas: 1
  network: %s
  template:
    image: scaler-redis:dev
    port: 6379
    healthCheck:
      command: ["redis-cli", "ping"]
      interval: 1s
      timeout: 5s
      retries: 3
      startInterval: 100ms
    stopGracePeriod: 2s
`, s.name("redis"), s.network)
}

func (s *stack) webSpec(replicas int, greeting string) string {
	return s.webSpecWith(replicas, greeting, "demoapp:dev", "10m")
}

// webSpecWith is webSpec with another image and progress deadline.
func (s *stack) webSpecWith(replicas int, greeting, image, progressDeadline string) string {
	return fmt.Sprintf(`apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata:
  name: %s
spec:
  replicas: %d   # edited by the test
  dependsOn: [%s]
  network: %s
  template:
    image: %s
    env:
      - {name: REDIS_ADDR, value: "%s:6379"}
      - {name: GREETING, value: %q}
    port: 5000
    resources:
      limits: {cpus: "0.5", memory: 128M}
    healthCheck:
      command: ["/demoapp", "healthcheck"]
      interval: 1s
      # A probe is a docker exec into a replica limited to half a CPU: on
      # a loaded 2-core machine (CI runs the packages side by side) 1 s was
      # seen to time out for healthy replicas, which scalerd then replaced.
      timeout: 5s
      retries: 3
      startInterval: 100ms
    stopGracePeriod: 5s
  strategy:
    maxSurge: 1
    maxUnavailable: 0
    drainTimeout: 3s
    progressDeadline: %s
  loadBalancer:
    image: scaler-nginx:dev
    hostIP: 127.0.0.1
    port: %d
`, s.name("web"), replicas, s.name("redis"), s.network, image, s.name("redis"), greeting, progressDeadline, s.lbPort)
}

// upStack starts scalerd with redis and web at replicas and waits for all
// of it to serve.
func upStack(t *testing.T, replicas int) *stack {
	s := newStack(t)
	s.writeSpec("redis.yaml", s.redisSpec())
	s.writeSpec("web.yaml", s.webSpec(replicas, "hello"))
	s.startDaemon()
	s.waitReady(s.name("redis"), 1, false, 60*time.Second)
	s.waitReady(s.name("web"), replicas, true, 90*time.Second)
	// The reload that added the replicas returns before nginx's new
	// workers take over; wait for them to answer before measuring.
	if err := bench.WaitOK(s.url(), 10*time.Second); err != nil {
		t.Fatalf("the load balancer does not serve: %v", err)
	}
	return s
}
