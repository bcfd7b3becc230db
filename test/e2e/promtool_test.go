package e2e

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestMetricsPassPromtool scrapes the /metrics of a scalerd that runs a
// stack, has served requests and scaled, and checks it as Prometheus's own
// tools do: promlint (the linter in client_golang) always, and `promtool
// check metrics` (Debian's prometheus package; .ci/run installs it) when
// installed. Outside CI a missing promtool skips that half, saying how to
// get it; in CI (CI or SCALER_REQUIRE_PROMTOOL set) it fails.
func TestMetricsPassPromtool(t *testing.T) {
	promtool := findPromtool(t)
	s := upStack(t, 2)
	client := &http.Client{Timeout: 5 * time.Second}
	for range 10 {
		resp, err := client.Get(s.url())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if out, err := s.scalectl("scale", s.name("web"), "--replicas", "3"); err != nil {
		t.Fatalf("scale: %v: %s", err, out)
	}
	s.waitReady(s.name("web"), 3, true, 90*time.Second)

	resp, err := client.Get("http://" + s.metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s %v", resp.Status, err)
	}
	for _, want := range []string{"scaler_replicas_ready", "scaler_upstream_updates_total", "scaler_requests_total", "go_goroutines"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("promlint cannot parse /metrics: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}

	if promtool == "" {
		t.Skipf("promlint passed; promtool is not installed, so `promtool check metrics` did not run: %s", promtoolHow)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	} else {
		t.Logf("promtool check metrics: passed (%d bytes, %d lines)", len(body), bytes.Count(body, []byte("\n")))
	}
}

// findPromtool returns promtool's path ($SCALER_PROMTOOL, else PATH), or ""
// when it is missing outside CI; in CI a missing promtool fails the test.
func findPromtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SCALER_PROMTOOL"); p != "" {
		return p
	}
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" || os.Getenv("SCALER_REQUIRE_PROMTOOL") != "" {
		t.Fatalf("promtool is required in CI and not found; .ci/run installs it. %s", promtoolHow)
	}
	return ""
}

// promtoolHow says how to get promtool.
const promtoolHow = "Debian's prometheus package has it (apt-get install -y prometheus), or, with no service installed: " +
	"apt-get download prometheus && dpkg-deb -x prometheus_*.deb DIR, then put DIR/usr/bin on PATH (or set SCALER_PROMTOOL)"
