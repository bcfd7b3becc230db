// Package testenv is what every integration test of the repository uses to
// reach the Docker Engine: through the docker CLI, with unique names, free
// loopback ports and cleanup that runs even when a test fails.
//
// Integration tests fail, never skip, when Docker or an image is missing: a
// skipped integration test is a green CI that tested nothing.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// LabelTest is set on every container and network a test creates, with the
// test's name as its value, so that `make clean` can find leftovers of a
// test that was killed before its cleanup ran.
const LabelTest = "scaler.dev/test"

// dockerTimeout bounds one docker CLI call: no test should hang on a stuck
// Engine until the go test timeout kills the whole binary without cleanup.
const dockerTimeout = 3 * time.Minute

// RequireDocker fails the test when the Docker Engine cannot be reached.
func RequireDocker(t testing.TB) {
	t.Helper()
	out, err := runDocker(context.Background(), "info", "--format", "{{.ServerVersion}}")
	if err != nil {
		host := os.Getenv("DOCKER_HOST")
		if host == "" {
			host = "unix:///var/run/docker.sock"
		}
		t.Fatalf("scaler: cannot reach the Docker Engine at %s: is dockerd running? (docker info failed: %v: %s)", host, err, out)
	}
}

// RequireImages fails the test naming the first image that is not present
// locally; they are built by `make images`, never pulled.
func RequireImages(t testing.TB, images ...string) {
	t.Helper()
	for _, image := range images {
		if out, err := runDocker(context.Background(), "image", "inspect", "--format", "{{.Id}}", image); err != nil {
			t.Fatalf("image %s missing: run `make images` (%v: %s)", image, err, out)
		}
	}
}

// Name returns a name unique to this run of the test,
// "sctest-<prefix>-<8 random hex>": valid as a container, network and DNS
// name (lowercase DNS-1123 label) and at most 40 characters long.
func Name(t testing.TB, prefix string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: random name: %v", err)
	}
	const fixed = len("sctest-") + len("-") + 8
	p := sanitize(prefix, 40-fixed)
	if p == "" {
		p = "x"
	}
	return "sctest-" + p + "-" + hex.EncodeToString(b[:])
}

// sanitize lowercases s, turns anything outside [a-z0-9-] into '-', and
// trims it to max characters without leading or trailing dashes.
func sanitize(s string, max int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > max {
		out = strings.Trim(out[:max], "-")
	}
	return out
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// picked at random below the kernel's ephemeral range (32768 and up on
// Linux). A port from that range, as ":0" gives, was seen taken before the
// test could publish it: the load generators' outgoing connections draw
// their local ports from the same range, and a run of `make chaos` beside
// `make test` lost a test to "bind: address already in use".
func FreePort(t testing.TB) int {
	t.Helper()
	for range 200 {
		port := freePortLow + mrand.IntN(freePortHigh-freePortLow)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		return port
	}
	t.Fatalf("testenv: no free port in %d-%d after 200 tries", freePortLow, freePortHigh)
	return 0
}

// The range FreePort picks from: above the well-known and common service
// ports, below the ephemeral range.
const freePortLow, freePortHigh = 20000, 32700

// Docker runs the docker CLI and returns its trimmed standard output; on
// failure it fails the test with the command and everything it printed.
func Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := runDocker(context.Background(), args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// Cleanup registers a t.Cleanup that force-removes the named containers
// (with their anonymous volumes), then the named networks. Each name is tried
// as both, so callers need not say which is which. Objects already gone are
// no error; any other failure is logged, not fatal, so that every object
// still gets its chance to be removed.
func Cleanup(t testing.TB, containersOrNetworks ...string) {
	t.Helper()
	names := append([]string(nil), containersOrNetworks...)
	t.Cleanup(func() {
		// Containers first: a network cannot be removed while one is attached.
		for _, name := range names {
			if out, err := runDocker(context.Background(), "rm", "-f", "-v", name); err != nil && !isNoSuch(out) {
				t.Logf("testenv: removing container %s: %v: %s", name, err, out)
			}
		}
		for _, name := range names {
			if out, err := runDocker(context.Background(), "network", "rm", name); err != nil && !isNoSuch(out) {
				t.Logf("testenv: removing network %s: %v: %s", name, err, out)
			}
		}
	})
}

func isNoSuch(out string) bool {
	lower := strings.ToLower(out)
	return strings.Contains(lower, "no such") || strings.Contains(lower, "not found")
}

// WaitFor polls cond every 100ms until it reports true, and fails the test
// after timeout naming what it waited for and cond's last error. An error
// from cond does not end the wait: things are expected to fail until ready.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			if lastErr != nil {
				t.Fatalf("timed out after %s waiting for %s: last error: %v", timeout, what, lastErr)
			}
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runDocker returns stdout on success and stdout plus stderr on failure,
// trimmed.
func runDocker(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, dockerTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w (gave up after %s)", err, dockerTimeout)
		}
		return strings.TrimSpace(stdout.String() + "\n" + stderr.String()), err
	}
	return strings.TrimSpace(stdout.String()), nil
}

// PrivateDir returns a temporary directory closed to other users, the
// only kind scalerd accepts for its socket: t.TempDir follows the umask
// (0755 under the usual 022).
func PrivateDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// RequireCommand returns the path of a program a test needs (prometheus,
// promtool, chromium). Where it is missing the test fails under CI (CI is
// set: .ci/run installs every such program) and is skipped elsewhere,
// saying how to install it.
func RequireCommand(t testing.TB, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed, and CI must run this test: %s (.ci/run does)", name, install)
	}
	t.Skipf("%s is not installed; to run this test: %s", name, install)
	return ""
}
