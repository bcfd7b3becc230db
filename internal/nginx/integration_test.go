package nginx

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/testenv"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// Images built by `make images`.
const (
	nginxImage = "scaler-nginx:dev"
	appImage   = "demoapp:dev"
	appPort    = 5000
)

// TestRenderedConfigInNginx runs rendered configs in the real load balancer
// image, in front of real demoapp replicas, and checks what the
// zero-downtime design relies on: nginx accepts every rendered shape, a bad
// candidate is caught by TestCommand, the proxy spreads load and passes
// request IDs, a dead replica costs no request, a reload lets in-flight
// requests finish (and ShuttingDownWorkersCommand sees them draining), and
// DrainTimeout bounds that wait.
func TestRenderedConfigInNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs the Docker Engine and make images")
	}
	testenv.RequireDocker(t)
	testenv.RequireImages(t, nginxImage, appImage)
	t.Parallel()

	netName := testenv.Name(t, "nginx-net")
	lb := testenv.Name(t, "nginx-lb")
	apps := []string{testenv.Name(t, "nginx-app"), testenv.Name(t, "nginx-app")}
	testenv.Cleanup(t, append(append([]string{lb}, apps...), netName)...)
	label := testenv.LabelTest + "=" + t.Name()

	testenv.Docker(t, "network", "create", "--label", label, netName)
	var upstreams []Upstream
	for _, app := range apps {
		testenv.Docker(t, "run", "-d", "--name", app, "--label", label, "--network", netName, "-e", "SLOW_MAX=30s", appImage)
		ip := testenv.Docker(t, "inspect", "-f", fmt.Sprintf("{{(index .NetworkSettings.Networks %q).IPAddress}}", netName), app)
		upstreams = append(upstreams, Upstream{Name: app, Addr: fmt.Sprintf("%s:%d", ip, appPort)})
	}

	// Created as scalerd creates it: hardened, with the capabilities
	// nginx's master needs to make its temp directories for www-data
	// (CHOWN) and to switch its workers to that user (SETUID, SETGID).
	port := testenv.FreePort(t)
	cfg := Config{
		SpecName:     "web",
		Algorithm:    v1alpha1.AlgorithmRoundRobin,
		MaxFails:     3,
		FailTimeout:  10 * time.Second,
		DrainTimeout: 30 * time.Second,
		ListenPort:   80,
		Keepalive:    16,
	}
	create := []string{"create", "--name", lb, "--label", label, "--network", netName,
		"-p", fmt.Sprintf("127.0.0.1:%d:80", port),
		"--cap-drop", "ALL", "--cap-add", "CHOWN", "--cap-add", "SETUID", "--cap-add", "SETGID",
		"--security-opt", "no-new-privileges:true", "--stop-signal", "SIGQUIT", nginxImage}
	testenv.Docker(t, append(create, StartCommand()...)...)
	copyInto(t, lb, ConfigPath, mustRender(t, cfg))
	testenv.Docker(t, "start", lb)

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	testenv.WaitFor(t, 15*time.Second, "the load balancer's /healthz", func() (bool, error) {
		resp, err := get(client, base+"/healthz", nil)
		return err == nil && resp.status == http.StatusOK, err
	})

	t.Log("no upstreams: 503 with a JSON reason")
	resp, err := get(client, base+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.status != http.StatusServiceUnavailable || resp.body != `{"error":"no healthy replicas"}`+"\n" ||
		resp.header.Get("Content-Type") != "application/json" || resp.header.Get("Retry-After") == "" {
		t.Errorf("with no upstreams got %d %q %v", resp.status, resp.body, resp.header)
	}

	t.Log("every rendered shape passes nginx -t in the image")
	for name, c := range goldenCases() {
		c.WorkerUser = "" // the image has www-data, not the golden case's user
		copyInto(t, lb, CandidatePath, mustRender(t, c))
		if out, code := dockerExec(t, lb, TestCommand(CandidatePath)...); code != 0 || out != "" {
			t.Errorf("%s: nginx -t exited %d: %s", name, code, out)
		}
	}

	t.Log("a broken candidate fails nginx -t and leaves nginx serving")
	copyInto(t, lb, CandidatePath, []byte("http { upstream web { server ; } }\n"))
	if out, code := dockerExec(t, lb, TestCommand(CandidatePath)...); code == 0 || !strings.Contains(out, CandidatePath) {
		t.Errorf("broken candidate: nginx -t exited %d: %s", code, out)
	}
	if resp, err := get(client, base+"/healthz", nil); err != nil || resp.status != http.StatusOK {
		t.Errorf("after a rejected candidate /healthz: %v %v", resp, err)
	}

	t.Log("two upstreams: both serve, headers and request IDs pass through")
	cfg.Upstreams = upstreams
	apply(t, lb, cfg)
	seen := map[string]bool{}
	testenv.WaitFor(t, 10*time.Second, "both replicas to serve", func() (bool, error) {
		resp, err := get(client, base+"/slow?ms=0", nil)
		if err != nil {
			return false, err
		}
		if resp.status == http.StatusOK && strings.Contains(resp.body, `"slept_ms":0`) {
			seen[resp.header.Get("X-Upstream-Server")] = true
		}
		return seen[upstreams[0].Addr] && seen[upstreams[1].Addr], fmt.Errorf("served by %v", seen)
	})
	resp, err = get(client, base+"/slow?ms=0", map[string]string{"X-Request-ID": "req-from-client"})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.header.Get("X-Request-ID"); got != "req-from-client" {
		t.Errorf("client's X-Request-ID came back as %q", got)
	}
	if resp.header.Get("X-Served-By") == "" {
		t.Error("no X-Served-By header")
	}
	resp, err = get(client, base+"/slow?ms=0", nil)
	if err != nil {
		t.Fatal(err)
	}
	if id := resp.header.Get("X-Request-ID"); len(id) != 32 {
		t.Errorf("generated X-Request-ID %q, want nginx's 32 hex digits", id)
	}
	if resp, err := get(client, base+"/nginx-status", nil); err != nil || !strings.Contains(resp.body, "Active connections:") {
		t.Errorf("/nginx-status: %v %v", resp, err)
	}

	t.Log("a reload lets an in-flight request finish; the old worker shows as draining")
	// Long enough to outlast a reload and the checks below on a loaded
	// two-core machine, where each docker exec can take seconds (at load
	// average 30 an 8 s request had ended before the first check ran).
	slow := inFlight(client, base+"/slow?ms=20000")
	waitInFlight(t, client, base)
	cfg.Upstreams = upstreams[:1] // the replica serving it may be leaving
	apply(t, lb, cfg)
	testenv.WaitFor(t, 15*time.Second, "a draining worker", func() (bool, error) {
		n, err := drainingWorkers(t, lb)
		return n >= 1, err
	})
	if r := <-slow; r.err != nil || r.status != http.StatusOK {
		t.Errorf("request in flight across a reload: %d %v", r.status, r.err)
	}
	testenv.WaitFor(t, 10*time.Second, "the draining worker to exit", func() (bool, error) {
		n, err := drainingWorkers(t, lb)
		return n == 0, err
	})

	t.Log("a replica that dies costs no request")
	cfg.Upstreams = upstreams
	cfg.DrainTimeout = time.Second
	apply(t, lb, cfg)
	testenv.Docker(t, "kill", apps[1])
	for i := range 8 {
		resp, err := get(client, base+"/slow?ms=0", nil)
		if err != nil || resp.status != http.StatusOK {
			t.Errorf("request %d after a replica died: %v %v", i, resp, err)
		}
	}

	t.Log("DrainTimeout bounds how long an old worker serves")
	slow = inFlight(client, base+"/slow?ms=15000")
	waitInFlight(t, client, base)
	cfg.Keepalive = 8 // any change
	apply(t, lb, cfg)
	reloaded := time.Now()
	if r := <-slow; r.err == nil && r.status == http.StatusOK {
		t.Errorf("a 15s request survived a 1s drain timeout")
	}
	if elapsed := time.Since(reloaded); elapsed > 4*time.Second {
		t.Errorf("the request was cut %s after the reload, want about 1s", elapsed)
	}
	testenv.WaitFor(t, 5*time.Second, "the old worker to exit", func() (bool, error) {
		n, err := drainingWorkers(t, lb)
		return n == 0, err
	})
}

func mustRender(t *testing.T, cfg Config) []byte {
	t.Helper()
	out, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// apply does what scalerd's exec fallback does on a config change:
// candidate, test, peers file and config into place, reload (the reloaded
// master reads the peers file).
func apply(t *testing.T, lb string, cfg Config) {
	t.Helper()
	copyInto(t, lb, CandidatePath, mustRender(t, cfg))
	if out, code := dockerExec(t, lb, TestCommand(CandidatePath)...); code != 0 {
		t.Fatalf("nginx -t exited %d: %s", code, out)
	}
	peers, err := RenderPeers(cfg)
	if err != nil {
		t.Fatal(err)
	}
	copyInto(t, lb, PeersPath, peers)
	testenv.Docker(t, "exec", lb, "mv", "-f", CandidatePath, ConfigPath)
	testenv.Docker(t, append([]string{"exec", lb}, ReloadCommand()...)...)
}

func drainingWorkers(t *testing.T, lb string) (int, error) {
	t.Helper()
	out, code := dockerExec(t, lb, ShuttingDownWorkersCommand()...)
	if code != 0 {
		return 0, fmt.Errorf("exit %d: %s", code, out)
	}
	return ParseCount(out)
}

// copyInto writes content to path in the container, creating its parent
// directory (one level, like /etc/nginx/scaler) if needed.
func copyInto(t *testing.T, container, p string, content []byte) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, path.Base(p)), content, 0o644); err != nil {
		t.Fatal(err)
	}
	// "dir/." copies the directory's contents, creating the target
	// directory when it is missing.
	testenv.Docker(t, "cp", dir+"/.", container+":"+path.Dir(p))
}

// dockerExec runs cmd in the container and returns its combined output and
// exit code; a non-zero exit is a result here, not a failure.
func dockerExec(t *testing.T, container string, cmd ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", append([]string{"exec", container}, cmd...)...).CombinedOutput()
	if exitErr, ok := err.(*exec.ExitError); ok {
		return strings.TrimSpace(string(out)), exitErr.ExitCode()
	}
	if err != nil {
		t.Fatalf("docker exec %s %v: %v", container, cmd, err)
	}
	return strings.TrimSpace(string(out)), 0
}

type response struct {
	status int
	header http.Header
	body   string
	err    error
}

func get(client *http.Client, url string, header map[string]string) (response, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return response{}, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(body)}, err
}

// waitInFlight waits until nginx is writing a response besides the status
// page's own, which is when a slow request started just before is inside
// a worker: only then does a reload put it in a draining worker.
func waitInFlight(t *testing.T, client *http.Client, base string) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, "a request in flight in nginx", func() (bool, error) {
		resp, err := get(client, base+"/nginx-status", nil)
		if err != nil {
			return false, err
		}
		m := writingRE.FindStringSubmatch(resp.body)
		if m == nil {
			return false, fmt.Errorf("no Writing count in %q", resp.body)
		}
		n, _ := strconv.Atoi(m[1])
		return n >= 2, fmt.Errorf("stub_status: %q", resp.body)
	})
}

var writingRE = regexp.MustCompile(`Writing: (\d+)`)

// inFlight starts a GET and delivers its outcome when it ends.
func inFlight(client *http.Client, url string) <-chan response {
	done := make(chan response, 1)
	go func() {
		resp, err := get(client, url, nil)
		resp.err = err
		done <- resp
	}()
	return done
}
