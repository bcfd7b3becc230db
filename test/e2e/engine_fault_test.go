package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/testenv"
	"github.com/scaler-dev/scaler/internal/testenv/engineproxy"
)

// startDaemonVia runs scalerd against the Engine behind host (a DOCKER_HOST
// value) with extra flags, and waits until it is ready.
func (s *stack) startDaemonVia(host string, extra ...string) {
	s.t.Helper()
	args := append([]string{"--spec-dir", s.specDir, "--socket", s.socket, "--state-dir", s.stateDir,
		"--metrics-addr", s.metricsAddr, "--instance", s.instance, "-v", "1"}, extra...)
	cmd := exec.Command(filepath.Join(binDir, "scalerd"), args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting scalerd: %v", err)
	}
	s.mu.Lock()
	s.daemon = cmd
	s.mu.Unlock()
	s.waitReadyz(http.StatusOK, 30*time.Second)
}

// waitReadyz waits until /readyz answers code, and returns how long that
// took and the body.
func (s *stack) waitReadyz(code int, within time.Duration) (time.Duration, string) {
	s.t.Helper()
	start := time.Now()
	var took time.Duration
	var body string
	testenv.WaitFor(s.t, within, fmt.Sprintf("scalerd /readyz %d", code), func() (bool, error) {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://" + s.metricsAddr + "/readyz")
		if err != nil {
			return false, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took, body = time.Since(start), strings.TrimSpace(string(b))
		return resp.StatusCode == code, fmt.Errorf("status %s: %s", resp.Status, body)
	})
	return took, body
}

// TestChaosEngineHangs puts a proxy between scalerd and the real
// Engine and makes it stop answering: /readyz turns not ready within the
// timeout and says why, scalerd logs it and records an event, the app
// keeps serving through nginx, and once the Engine answers again scalerd
// is ready and converges to what was asked meanwhile.
func TestChaosEngineHangs(t *testing.T) {
	// Long enough for a container start on a loaded 2-core machine (3 s
	// was seen to time out starts there, with load average 18).
	const engineTimeout = 10 * time.Second
	proxy := engineproxy.Start(t)
	s := newStack(t)
	s.writeSpec("redis.yaml", s.redisSpec())
	s.writeSpec("web.yaml", s.webSpec(2, "hello"))
	s.startDaemonVia(proxy.Host(), "--engine-timeout", engineTimeout.String())
	s.waitReady(s.name("redis"), 1, false, 60*time.Second)
	s.waitReady(s.name("web"), 2, true, 90*time.Second)
	stop := s.load()

	proxy.Hang()
	// A ping every 5 s (half the timeout, at most 5 s), each given the
	// timeout: not ready within 15 s, 20 s with slack for a loaded machine.
	hungAfter, body := s.waitReadyz(http.StatusServiceUnavailable, engineTimeout+10*time.Second)
	t.Logf("/readyz not ready %v after the Engine hung (--engine-timeout %v): %s", hungAfter, engineTimeout, body)
	for _, want := range []string{"did not answer within 10s", "--engine-timeout"} {
		if !strings.Contains(body, want) {
			t.Errorf("/readyz says %q, which lacks %q", body, want)
		}
	}
	// Asked while the Engine hangs, done once it answers.
	s.writeSpec("web.yaml", s.webSpec(3, "hello"))
	time.Sleep(engineTimeout) // reconciles and the resync meet the hung Engine
	events, err := s.scalectl("events")
	if err != nil {
		t.Errorf("scalectl events while the Engine hangs: %v\n%s", err, events)
	}
	if !strings.Contains(events, "EngineNotAnswering") || !strings.Contains(events, "--engine-timeout") {
		t.Errorf("scalectl events does not say the Engine does not answer:\n%s", events)
	}
	if log, _ := os.ReadFile(s.logs.Name()); !strings.Contains(string(log), "the Docker Engine does not answer") {
		t.Error("scalerd's log does not say the Engine does not answer")
	}

	proxy.Resume()
	took, _ := s.waitReadyz(http.StatusOK, 10*time.Second)
	t.Logf("/readyz ready %v after the Engine answered again", took)
	s.waitReady(s.name("web"), 3, true, 90*time.Second)
	// The load balancer never depended on the Engine: no request failed.
	res := stop()
	requireNoFailures(t, res)
	if events, _ := s.scalectl("events"); !strings.Contains(events, "EngineAnswering") {
		t.Errorf("scalectl events does not say the Engine answers again:\n%s", events)
	}
	chaosRow(t, "the Engine stops answering (a proxy socket holds every byte), then answers again (`TestChaosEngineHangs`, `--engine-timeout 10s`)", res,
		fmt.Sprintf("`/readyz` 503 naming the Engine and `--engine-timeout` %.1f s after the hang, an `EngineNotAnswering` event; the app served throughout; ready again %.1f s after, and the scale asked for meanwhile converged", hungAfter.Seconds(), took.Seconds()))
}

// TestChaosEngineEventsCut cuts every connection between scalerd and the
// Engine (its event stream included, as an Engine restart does) again and
// again for a while, and kills a replica in the middle of it: scalerd
// reconnects, learns of the death from the new stream or its resync, and
// replaces the replica; no request fails.
func TestChaosEngineEventsCut(t *testing.T) {
	cutFor := 5 * time.Second
	if chaosLong() {
		cutFor = 30 * time.Second
	}
	proxy := engineproxy.Start(t)
	s := newStack(t)
	s.writeSpec("redis.yaml", s.redisSpec())
	s.writeSpec("web.yaml", s.webSpec(2, "hello"))
	s.startDaemonVia(proxy.Host(), "--engine-timeout", "10s")
	web := s.name("web")
	s.waitReady(s.name("redis"), 1, false, 60*time.Second)
	s.waitReady(web, 2, true, 90*time.Second)
	before := s.containers(web, "app")
	// No POSTs: the one a SIGKILLed replica is serving dies with it, and
	// nothing may resend it (withoutPOSTs); what this test checks is that
	// the cuts lose nothing else.
	stop := s.loadWith(withoutPOSTs)

	cuts := 0
	started := time.Now()
	killed := false
	for time.Since(started) < cutFor {
		proxy.Cut()
		cuts++
		if !killed && time.Since(started) > cutFor/2 {
			testenv.Docker(t, "kill", "-s", "KILL", web+"-2")
			killed = true
		}
		time.Sleep(250 * time.Millisecond)
	}
	restored := time.Now()
	testenv.WaitFor(t, 90*time.Second, "the killed replica replaced and serving", func() (bool, error) {
		now := s.containers(web, "app")
		spec, err := s.get(web)
		if err != nil {
			return false, err
		}
		replaced := now[web+"-2"] != "" && now[web+"-2"] != before[web+"-2"]
		return replaced && spec.Status.ReadyReplicas == 2 && len(spec.Status.Upstream) == 2,
			fmt.Errorf("containers %v, ready %d, upstream %v", now, spec.Status.ReadyReplicas, spec.Status.Upstream)
	})
	converged := time.Since(restored)
	time.Sleep(time.Second)
	res := stop()
	requireNoFailures(t, res)
	chaosRow(t, fmt.Sprintf("every Engine connection of scalerd (the event stream included) cut %d times over %v, a replica SIGKILLed in the middle (`TestChaosEngineEventsCut`)", cuts, cutFor), res,
		fmt.Sprintf("scalerd reconnected and replaced the replica, serving %.1f s after the cuts stopped", converged.Seconds()))
}
