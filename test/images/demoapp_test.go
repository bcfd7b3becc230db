package images

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/testenv"
)

type rootResponse struct {
	Message  string `json:"message"`
	Visits   *int64 `json:"visits"`
	Degraded bool   `json:"degraded"`
	ServedBy struct {
		Hostname    string `json:"hostname"`
		ContainerID string `json:"container_id"`
		Instance    string `json:"instance"`
	} `json:"served_by"`
}

func getRoot(port int) (rootResponse, error) {
	var resp rootResponse
	status, contentType, body, err := httpGet(port, "/")
	if err != nil {
		return resp, err
	}
	if status != http.StatusOK || contentType != "application/json" {
		return resp, fmt.Errorf("GET / = %d %q: %s", status, contentType, body)
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return resp, fmt.Errorf("GET /: %w: %s", err, body)
	}
	return resp, nil
}

// startDemoapp runs demoapp:dev on net, published on a free loopback port,
// probing its health every 300ms so that tests need not wait for the
// image's 5s interval.
func startDemoapp(t *testing.T, net string, env ...string) (name string, port int) {
	t.Helper()
	port = testenv.FreePort(t)
	args := []string{"--network", net, "--publish", "127.0.0.1:" + strconv.Itoa(port) + ":5000", "--health-interval", "300ms"}
	for _, e := range env {
		args = append(args, "--env", e)
	}
	return run(t, "demoapp", append(args, demoappImage)...), port
}

func TestDemoappBesideRedis(t *testing.T) {
	t.Parallel()
	testenv.RequireDocker(t)
	testenv.RequireImages(t, demoappImage, redisImage)
	net := network(t)
	// The alias is demoapp's default REDIS_ADDR host, as in the tutorial.
	redis := run(t, "redis", "--network", net, "--network-alias", "redis", redisImage)
	instance := testenv.Name(t, "web")
	app, port := startDemoapp(t, net, "INSTANCE_NAME="+instance, "GREETING=hello from the test")

	waitHealthy(t, app, 30*time.Second)
	testenv.WaitFor(t, 30*time.Second, "demoapp to count visits in redis", func() (bool, error) {
		resp, err := getRoot(port)
		return err == nil && resp.Visits != nil, err
	})

	hostname := testenv.Docker(t, "inspect", "--format", "{{.Config.Hostname}}", app)
	var last int64
	for i := range 5 {
		resp, err := getRoot(port)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Visits == nil || resp.Degraded {
			t.Fatalf("request %d: visits %v, degraded %v with redis up", i, resp.Visits, resp.Degraded)
		}
		if *resp.Visits <= last {
			t.Errorf("request %d: visits %d after %d, want increasing", i, *resp.Visits, last)
		}
		last = *resp.Visits
		if resp.Message != "hello from the test" || resp.ServedBy.Instance != instance ||
			resp.ServedBy.Hostname != hostname || resp.ServedBy.ContainerID != hostname {
			t.Errorf("GET / = %+v, want GREETING, INSTANCE_NAME and hostname %s", resp, hostname)
		}
	}
	// Both counters are incremented by every request.
	if got := testenv.Docker(t, "exec", redis, "redis-cli", "get", "requests:"+instance); got != strconv.FormatInt(last, 10) {
		t.Errorf("requests:%s = %q, want %d (one per visit)", instance, got, last)
	}

	t.Log("stopping redis: demoapp must keep answering, degraded")
	testenv.Docker(t, "stop", redis)
	for i := range 10 {
		start := time.Now()
		resp, err := getRoot(port)
		if err != nil {
			t.Fatalf("request %d with redis stopped: %v", i, err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("request %d with redis stopped took %s", i, took)
		}
		if resp.Visits != nil || !resp.Degraded || resp.ServedBy.Instance != instance {
			t.Errorf("request %d with redis stopped = %+v, want visits null and degraded", i, resp)
		}
	}
	status, _, body, err := httpGet(port, "/health")
	if err != nil || status != http.StatusOK || !strings.Contains(string(body), `"redis":"down"`) {
		t.Errorf("GET /health with redis stopped = %d %s (%v), want 200 with redis down", status, body, err)
	}
	// Several probes run at 300ms: a Redis outage must not turn the app
	// unhealthy, or the load balancer would drop every replica at once.
	time.Sleep(1500 * time.Millisecond)
	if status := healthStatus(t, app); status != "healthy" {
		t.Errorf("demoapp health with redis stopped = %q, want healthy", status)
	}

	t.Log("starting redis again: demoapp must recover by itself")
	testenv.Docker(t, "start", redis)
	testenv.WaitFor(t, 30*time.Second, "demoapp to count visits again", func() (bool, error) {
		resp, err := getRoot(port)
		if err != nil {
			return false, err
		}
		// Redis runs without persistence: the count starts over.
		return resp.Visits != nil && !resp.Degraded, fmt.Errorf("visits %v, degraded %v", resp.Visits, resp.Degraded)
	})
}

func TestDemoappFinishesInFlightRequestOnSIGTERM(t *testing.T) {
	t.Parallel()
	testenv.RequireDocker(t)
	testenv.RequireImages(t, demoappImage)
	// No Redis at all: the app serves degraded, which is enough here.
	app, port := startDemoapp(t, network(t), "SHUTDOWN_TIMEOUT=10s")
	waitHTTP(t, port, "/health", 30*time.Second)

	type result struct {
		status int
		body   string
		err    error
		at     time.Time
	}
	done := make(chan result, 1)
	go func() {
		status, _, body, err := httpGet(port, "/slow?ms=1500")
		done <- result{status, string(body), err, time.Now()}
	}()
	time.Sleep(400 * time.Millisecond) // the request is in the handler by now
	termAt := time.Now()
	testenv.Docker(t, "kill", "--signal", "TERM", app)

	r := <-done
	if r.err != nil || r.status != http.StatusOK || !strings.Contains(r.body, `"slept_ms":1500`) {
		t.Fatalf("in-flight /slow?ms=1500 after SIGTERM = %d %q (%v), want it completed", r.status, r.body, r.err)
	}
	if exit := testenv.Docker(t, "wait", app); exit != "0" {
		t.Errorf("demoapp exit code after SIGTERM = %s, want 0\n%s", exit, testenv.Docker(t, "logs", app))
	}
	finished, err := time.Parse(time.RFC3339Nano, testenv.Docker(t, "inspect", "--format", "{{.State.FinishedAt}}", app))
	if err != nil {
		t.Fatal(err)
	}
	if finished.Before(r.at.Add(-200*time.Millisecond)) || finished.Sub(termAt) > 5*time.Second {
		t.Errorf("demoapp exited at %s: SIGTERM at %s, request done at %s; want it to exit right after the request",
			finished.Format(time.StampMilli), termAt.Format(time.StampMilli), r.at.Format(time.StampMilli))
	}
}

func TestDemoappRejectsBadConfig(t *testing.T) {
	t.Parallel()
	testenv.RequireDocker(t)
	testenv.RequireImages(t, demoappImage)
	for _, env := range []string{"PORT=abc", "PORT=70000"} {
		app := run(t, "demoapp-badcfg", "--env", env, demoappImage)
		if exit := testenv.Docker(t, "wait", app); exit != "2" {
			t.Errorf("%s: exit code %s, want 2", env, exit)
		}
		logs, _ := dockerExit(t, "logs", app)
		if !strings.Contains(logs, "PORT:") {
			t.Errorf("%s: logs %q do not name PORT", env, logs)
		}
	}
}

func TestDemoappHealthcheckCommand(t *testing.T) {
	t.Parallel()
	testenv.RequireDocker(t)
	testenv.RequireImages(t, demoappImage)
	app, port := startDemoapp(t, network(t))
	waitHTTP(t, port, "/health", 30*time.Second)

	if out, code := dockerExit(t, "exec", app, "/demoapp", "healthcheck"); code != 0 {
		t.Errorf("demoapp healthcheck = exit %d: %s, want 0", code, out)
	}
	out, code := dockerExit(t, "exec", app, "/demoapp", "healthcheck", "--url", "http://127.0.0.1:5000/no-such-path")
	if code == 0 || !strings.Contains(out, "404") {
		t.Errorf("demoapp healthcheck of a 404 = exit %d: %s, want a failure naming the status", code, out)
	}
	out, code = dockerExit(t, "exec", "--env", "PORT=5999", app, "/demoapp", "healthcheck", "--timeout", "500ms")
	if code == 0 {
		t.Errorf("demoapp healthcheck of a closed port = exit 0: %s", out)
	}
}
