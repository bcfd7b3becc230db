package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/testenv"
	"github.com/scaler-dev/scaler/test/bench"
)

// manifest reads manifests/NAME and applies each replacement, failing when
// one no longer matches: this test runs the shipped manifests, so a change
// there must come here too rather than be silently not tested.
func manifest(t *testing.T, name string, replacements ...string) string {
	t.Helper()
	b, err := os.ReadFile("../../manifests/" + name)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for i := 0; i+1 < len(replacements); i += 2 {
		old, repl := replacements[i], replacements[i+1]
		if !strings.Contains(text, old) {
			t.Fatalf("manifests/%s no longer contains %q; update this test", name, old)
		}
		text = strings.ReplaceAll(text, old, repl)
	}
	return text
}

// TestHardenedStack runs manifests/redis.yaml and manifests/web.yaml as
// `make run` would (a generated Redis password filled in), made unique to
// this stack, with pidsLimit 64 on both and the load balancer's status page
// and upstream header off. Redis requires the password, its health check
// and demoapp authenticate, both roots are read-only with a tmpfs /tmp, and
// the app serves through the load balancer without counting degraded.
func TestHardenedStack(t *testing.T) {
	s := newStack(t)
	secret := make([]byte, 24)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	password := hex.EncodeToString(secret)
	redis, web := s.name("redis"), s.name("web")
	s.writeSpec("redis.yaml", manifest(t, "redis.yaml",
		"name: redis", "name: "+redis,
		"network: scaler-demo", "network: "+s.network,
		`"${REDIS_PASSWORD}"`, `"`+password+`"`,
		"    readOnlyRootFilesystem: true\n", "    readOnlyRootFilesystem: true\n    pidsLimit: 64\n"))
	s.writeSpec("web.yaml", manifest(t, "web.yaml",
		"name: web", "name: "+web,
		"replicas: 3", "replicas: 2",
		"dependsOn: [redis]", "dependsOn: ["+redis+"]",
		`"redis:6379"`, `"`+redis+`:6379"`,
		"network: scaler-demo", "network: "+s.network,
		`"${REDIS_PASSWORD}"`, `"`+password+`"`,
		"    readOnlyRootFilesystem: true\n", "    readOnlyRootFilesystem: true\n    pidsLimit: 64\n",
		"port: 8080", "port: "+strconv.Itoa(s.lbPort),
		"    failTimeout: 30s\n", "    failTimeout: 30s\n    statusPage: false\n    upstreamHeader: false\n"))
	s.startDaemon()
	s.waitReady(redis, 1, false, 90*time.Second)
	s.waitReady(web, 2, true, 120*time.Second)
	if err := bench.WaitOK(s.url(), 10*time.Second); err != nil {
		t.Fatalf("the load balancer does not serve: %v", err)
	}

	t.Log("every replica: pids limit 64, read-only root, a bounded tmpfs on /tmp")
	var redisID string
	for spec, want := range map[string]int{redis: 1, web: 2} {
		replicas := s.containers(spec, "app")
		if len(replicas) != want {
			t.Fatalf("%s has replicas %v, want %d", spec, replicas, want)
		}
		for name, id := range replicas {
			var host struct {
				PidsLimit      *int64
				ReadonlyRootfs bool
				Tmpfs          map[string]string
			}
			out := testenv.Docker(t, "inspect", "--format", "{{json .HostConfig}}", id)
			if err := json.Unmarshal([]byte(out), &host); err != nil {
				t.Fatalf("inspect %s: %v: %s", name, err, out)
			}
			if host.PidsLimit == nil || *host.PidsLimit != 64 || !host.ReadonlyRootfs {
				t.Errorf("%s: PidsLimit %v, ReadonlyRootfs %v; want 64, true", name, host.PidsLimit, host.ReadonlyRootfs)
			}
			if opts := host.Tmpfs["/tmp"]; !strings.Contains(opts, "size=64m") || !strings.Contains(opts, "mode=1777") {
				t.Errorf("%s: tmpfs %v, want /tmp with size=64m and mode=1777", name, host.Tmpfs)
			}
			if spec == redis {
				redisID = id
			}
		}
	}

	// demoapp's image has no shell; Redis's has, and runs as user redis.
	t.Log("in the Redis replica: / refuses writes, /tmp takes them, the kernel enforces the pids limit")
	if out, code := hardeningExec(t, "exec", redisID, "sh", "-c", "echo x > /probe"); code == 0 || !strings.Contains(out, "Read-only file system") {
		t.Errorf("writing to / exited %d: %s; want a read-only file system error", code, out)
	}
	if out, code := hardeningExec(t, "exec", redisID, "sh", "-c", "echo x > /tmp/probe && cat /tmp/probe"); code != 0 || out != "x" {
		t.Errorf("writing to /tmp exited %d: %s; want it to work", code, out)
	}
	if out, code := hardeningExec(t, "exec", redisID, "sh", "-c", "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max"); code != 0 || out != "64" {
		t.Errorf("pids.max in the replica's cgroup: %q (exit %d), want 64", out, code)
	}

	t.Log("Redis refuses a client without the password; the replicas' own (REDISCLI_AUTH) works")
	if out, _ := hardeningExec(t, "exec", "-e", "REDISCLI_AUTH=", redisID, "redis-cli", "incr", "probe"); !strings.Contains(out, "NOAUTH") {
		t.Errorf("redis-cli without a password: %q, want NOAUTH", out)
	}
	if out, code := hardeningExec(t, "exec", redisID, "redis-cli", "ping"); code != 0 || out != "PONG" {
		t.Errorf("redis-cli with the replica's REDISCLI_AUTH: %q (exit %d), want PONG", out, code)
	}

	t.Log("the app counts in Redis through the load balancer; no status page, no upstream header")
	client := &http.Client{Timeout: 5 * time.Second}
	for range 6 {
		resp, err := client.Get(s.url())
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var answer struct {
			Visits   *int64 `json:"visits"`
			Degraded bool   `json:"degraded"`
		}
		if err := json.Unmarshal(body, &answer); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /: %s %s (%v)", resp.Status, body, err)
		}
		if answer.Visits == nil || answer.Degraded {
			t.Errorf("GET /: %s; want visits counted in Redis, not degraded: demoapp did not authenticate", body)
		}
		if v := resp.Header.Get("X-Upstream-Server"); v != "" {
			t.Errorf("X-Upstream-Server: %s with upstreamHeader false", v)
		}
		if resp.Header.Get("X-Served-By") == "" || resp.Header.Get("X-Request-ID") == "" {
			t.Errorf("the other headers went missing: %v", resp.Header)
		}
	}
	resp, err := client.Get(s.url() + "nginx-status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "Active connections") {
		t.Errorf("GET /nginx-status with statusPage false: %s %q; want the app's 404", resp.Status, body)
	}
}

// hardeningExec runs the docker CLI and returns its trimmed combined output
// and exit code, for commands expected to fail.
func hardeningExec(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("docker", args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
		}
		code = exitErr.ExitCode()
	}
	return strings.TrimSpace(string(out)), code
}
