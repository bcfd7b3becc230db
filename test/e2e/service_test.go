package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/sdnotify/sdnotifytest"
	"github.com/scaler-dev/scaler/internal/testenv"
	"github.com/scaler-dev/scaler/test/bench"
)

// scalerd in its image (scalerd:dev, `make images`), with the Engine's
// socket, a spec directory and a socket directory mounted, converges 2
// replicas of web behind the load balancer and answers the host's
// scalectl through the mounted socket. It labels what it creates as a
// host scalerd does: a host scalerd of the same instance then adopts
// every container, replacing none.
func TestScalerdImageConvergesAndAnswersThroughAMountedSocket(t *testing.T) {
	testenv.RequireImages(t, "scalerd:dev")
	s := newStack(t)
	// The container's scalerd runs as root and checks that the socket
	// directory is its own and closed to others: a 0700 directory of
	// root's, as the test runs as root (scaler's tests need the Engine).
	sockDir := filepath.Join(filepath.Dir(s.specDir), "run")
	if err := os.Mkdir(sockDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("the container's scalerd (root) must own the mounted socket directory: run as root")
	}
	s.socket = filepath.Join(sockDir, "scalerd.sock")
	if err := os.MkdirAll(s.stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	s.writeSpec("redis.yaml", s.redisSpec())
	s.writeSpec("web.yaml", s.webSpec(2, "hello"))

	name := s.instance + "-scalerd"
	// Registered after newStack's cleanup, so it runs first: scalerd is
	// gone before the stack's containers are removed.
	testenv.Cleanup(t, name)
	testenv.Docker(t, "run", "-d", "--name", name, "--label", testenv.LabelTest+"="+t.Name(),
		"-v", "/var/run/docker.sock:/var/run/docker.sock",
		"-v", s.specDir+":/etc/scaler/specs",
		"-v", sockDir+":/run/scaler",
		"-v", s.stateDir+":/var/lib/scaler",
		"-p", s.metricsAddr+":9090",
		"scalerd:dev", "--instance", s.instance, "-v", "1")
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := exec.Command("docker", "logs", "--tail", "60", name).CombinedOutput()
			t.Logf("scalerd container log (last 60 lines):\n%s", out)
		}
	})
	testenv.WaitFor(t, 60*time.Second, "the container's scalerd /readyz", func() (bool, error) {
		resp, err := http.Get("http://" + s.metricsAddr + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %s", resp.Status)
	})

	// waitReady asks through scalectl on the host, via the mounted socket.
	s.waitReady(s.name("redis"), 1, false, 90*time.Second)
	s.waitReady(s.name("web"), 2, true, 120*time.Second)
	if err := bench.WaitOK(s.url(), 10*time.Second); err != nil {
		t.Fatalf("the load balancer does not serve: %v", err)
	}
	if out, err := s.scalectl("get"); err != nil || !strings.Contains(out, s.name("web")) {
		t.Fatalf("scalectl get through the mounted socket: %v\n%s", err, out)
	}
	// Inside the image, scalectl finds the socket with no flags.
	if out := testenv.Docker(t, "exec", name, "/scalectl", "get"); !strings.Contains(out, s.name("web")) {
		t.Errorf("docker exec %s /scalectl get:\n%s", name, out)
	}
	before := s.allContainers()

	// Move to a host scalerd of the same instance: it adopts everything.
	testenv.Docker(t, "stop", "--time", "10", name)
	s.startDaemon()
	s.waitReady(s.name("web"), 2, true, 60*time.Second)
	if after := s.allContainers(); !maps.Equal(before, after) {
		t.Errorf("the host scalerd replaced containers of the image's:\nbefore %v\nafter  %v", before, after)
	}
}

// A running scalerd replaced by a freshly built one under steady load, as
// the README's upgrade says (stop, replace the binary, start): no request
// fails, and the new daemon adopts the very same containers.
func TestUpgradeScalerdUnderLoadKeepsTheContainers(t *testing.T) {
	// The new binary is built before anything stops, as an operator would.
	newBin := t.TempDir()
	build := exec.Command("go", "build", "-o", newBin, "../../cmd/scalerd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the new scalerd: %v\n%s", err, out)
	}
	s := upStack(t, 2)
	before := s.allContainers()

	stop := s.load()
	s.stopDaemon(syscall.SIGTERM)
	time.Sleep(500 * time.Millisecond) // the app serves with no scalerd at all
	s.startDaemonFrom(filepath.Join(newBin, "scalerd"))
	s.waitReady(s.name("web"), 2, true, 60*time.Second)
	time.Sleep(2 * time.Second) // and keeps serving under the new one
	requireNoFailures(t, stop())

	if after := s.allContainers(); !maps.Equal(before, after) {
		t.Errorf("the upgrade replaced containers:\nbefore %v\nafter  %v", before, after)
	}
}

// allContainers is every container of this stack, name -> ID, whatever
// its spec or role.
func (s *stack) allContainers() map[string]string {
	s.t.Helper()
	out := testenv.Docker(s.t, "ps", "-a", "--format", "{{.Names}} {{.ID}}",
		"--filter", "label="+v1alpha1.LabelInstance+"="+s.instance)
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			m[f[0]] = f[1]
		}
	}
	if len(m) == 0 {
		s.t.Fatal("the stack has no containers")
	}
	return m
}

// startDaemonFrom is startDaemon with another scalerd binary.
func (s *stack) startDaemonFrom(bin string) {
	s.t.Helper()
	cmd := exec.Command(bin,
		"--spec-dir", s.specDir, "--socket", s.socket, "--state-dir", s.stateDir,
		"--metrics-addr", s.metricsAddr, "--instance", s.instance, "-v", "1")
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting %s: %v", bin, err)
	}
	s.mu.Lock()
	s.daemon = cmd
	s.mu.Unlock()
	testenv.WaitFor(s.t, 30*time.Second, "the new scalerd's /readyz", func() (bool, error) {
		resp, err := http.Get("http://" + s.metricsAddr + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %s", resp.Status)
	})
}

// The real scalerd under a fake systemd: READY=1 once its first resync is
// done (and /readyz says so), WATCHDOG=1 at half of WATCHDOG_USEC, a
// SIGHUP re-reads the spec directory and says so, and SIGTERM sends
// STOPPING=1 while the containers keep running.
func TestScalerdNotifiesSystemd(t *testing.T) {
	s := newStack(t)
	s.writeSpec("redis.yaml", s.redisSpec())
	notify, msgs := sdnotifytest.Listen(t)
	next := func(what string) string {
		t.Helper()
		select {
		case m := <-msgs:
			return m
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s within 30s", what)
			return ""
		}
	}

	cmd := exec.Command(filepath.Join(binDir, "scalerd"),
		"--spec-dir", s.specDir, "--socket", s.socket, "--state-dir", s.stateDir,
		"--metrics-addr", s.metricsAddr, "--instance", s.instance, "--log-format", "journal")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify, "WATCHDOG_USEC=1000000")
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.daemon = cmd
	s.mu.Unlock()

	if m := next("READY=1"); !strings.HasPrefix(m, "READY=1\nSTATUS=") {
		t.Fatalf("first message %q; want READY=1 and a status", m)
	}
	resp, err := http.Get("http://" + s.metricsAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz %s after READY=1", resp.Status)
	}
	for range 2 {
		if m := next("WATCHDOG=1"); m != "WATCHDOG=1" {
			t.Fatalf("got %q; want WATCHDOG=1", m)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "scalerd to log the SIGHUP re-read", func() (bool, error) {
		b, err := os.ReadFile(s.logs.Name())
		return strings.Contains(string(b), "<6>level=INFO msg=\"SIGHUP: spec directory re-read\""), err
	})

	s.waitReady(s.name("redis"), 1, false, 60*time.Second)
	redis := s.allContainers()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for {
		m := next("STOPPING=1")
		if strings.HasPrefix(m, "STOPPING=1") {
			break
		}
		if m != "WATCHDOG=1" {
			t.Fatalf("got %q while stopping", m)
		}
	}
	s.stopDaemon(syscall.SIGTERM)
	if after := s.allContainers(); !maps.Equal(redis, after) {
		t.Errorf("stopping scalerd changed the containers: before %v after %v", redis, after)
	}
}
