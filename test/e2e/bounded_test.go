package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/loadgen"
	"github.com/scaler-dev/scaler/internal/testenv"
)

// TestChaosNeverHealthyTemplateStaysSmall: a template that starts but never
// turns healthy, scaled to 200, holds 4 containers on the real Engine,
// starting and then unhealthy, instead of growing 4, 8, 24, 72...
func TestChaosNeverHealthyTemplateStaysSmall(t *testing.T) {
	s := newStack(t)
	name := s.name("never")
	s.writeSpec("never.yaml", fmt.Sprintf(`apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata:
  name: %s
spec:
  replicas: 200
  network: %s
  template:
    image: demoapp:dev
    port: 5000
    resources:
      limits: {cpus: "0.1", memory: 64M}
    healthCheck:
      command: ["/demoapp", "no-such-command"]   # always fails
      interval: 1s
      timeout: 2s
      retries: 2
      startPeriod: 2s
      startInterval: 200ms
    stopGracePeriod: 1s
`, name, s.network))
	s.startDaemon()

	most, unhealthy := 0, 0
	deadline := time.Now().Add(25 * time.Second)
	for time.Now().Before(deadline) {
		n := len(s.containers(name, "app"))
		most = max(most, n)
		if n > 4 {
			t.Fatalf("%d containers of a never-healthy template; want at most 4", n)
		}
		time.Sleep(500 * time.Millisecond)
	}
	out := testenv.Docker(t, "ps", "-a", "--format", "{{.Names}} {{.Status}}",
		"--filter", "label=scaler.dev/instance="+s.instance, "--filter", "label=scaler.dev/spec="+name)
	unhealthy = strings.Count(out, "(unhealthy)")
	t.Logf("over 25 s: at most %d containers; now:\n%s", most, out)
	if most != 4 {
		t.Errorf("at most %d containers, want the first batch of 4", most)
	}
	if unhealthy == 0 {
		t.Errorf("no container turned unhealthy within 25 s; the test did not reach the phase it checks:\n%s", out)
	}
	chaosRow(t, "a template that never turns healthy scaled to 200 (`TestChaosNeverHealthyTemplateStaysSmall`)", loadgen.Result{},
		fmt.Sprintf("at most %d containers over 25 s (the first batch; the batch grows only with ready replicas), %d unhealthy", most, unhealthy))
}
