package testenv

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func TestName(t *testing.T) {
	tests := []struct {
		prefix     string
		wantPrefix string
	}{
		{"web", "sctest-web-"},
		{"Rolling_Update/Case 1", "sctest-rolling-update-case-1-"},
		{"a-very-long-prefix-that-goes-on-and-on-and-on", "sctest-a-very-long-prefix-that-"},
		{"---", "sctest-x-"},
	}
	for _, tt := range tests {
		seen := map[string]bool{}
		for range 50 {
			name := Name(t, tt.prefix)
			if len(name) > 40 || !dns1123Label.MatchString(name) {
				t.Errorf("Name(%q) = %q: not a DNS-1123 label of at most 40 characters", tt.prefix, name)
			}
			if !strings.HasPrefix(name, tt.wantPrefix) {
				t.Errorf("Name(%q) = %q, want prefix %q", tt.prefix, name, tt.wantPrefix)
			}
			if !regexp.MustCompile(`-[0-9a-f]{8}$`).MatchString(name) {
				t.Errorf("Name(%q) = %q, want 8 hex digits at the end", tt.prefix, name)
			}
			if seen[name] {
				t.Errorf("Name(%q) returned %q twice", tt.prefix, name)
			}
			seen[name] = true
		}
	}
}

func TestFreePort(t *testing.T) {
	port := FreePort(t)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("FreePort() = %d, but listening on it failed: %v", port, err)
	}
	ln.Close()
}

// recordingTB captures Fatalf instead of failing the real test.
type recordingTB struct {
	testing.TB
	mu    sync.Mutex
	fatal string
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// runTB runs f with a recordingTB in its own goroutine, as Fatalf's Goexit
// requires, and returns the fatal message, if any.
func runTB(t *testing.T, f func(tb testing.TB)) string {
	rec := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(rec)
	}()
	<-done
	return rec.fatal
}

func TestWaitFor(t *testing.T) {
	calls := 0
	start := time.Now()
	WaitFor(t, 5*time.Second, "third call", func() (bool, error) {
		calls++
		return calls == 3, errors.New("not yet")
	})
	if calls != 3 {
		t.Errorf("cond called %d times, want 3", calls)
	}
	if took := time.Since(start); took < 150*time.Millisecond || took > 2*time.Second {
		t.Errorf("WaitFor took %s for 3 polls, want about 200ms", took)
	}

	msg := runTB(t, func(tb testing.TB) {
		WaitFor(tb, 300*time.Millisecond, "the impossible", func() (bool, error) {
			return false, errors.New("still broken")
		})
	})
	if !strings.Contains(msg, "the impossible") || !strings.Contains(msg, "still broken") {
		t.Errorf("WaitFor timeout message = %q, want what and the last error", msg)
	}
}

func TestDockerAndCleanup(t *testing.T) {
	RequireDocker(t)
	network := Name(t, "testenv")
	t.Run("create", func(t *testing.T) {
		Cleanup(t, network, Name(t, "never-created"))
		Docker(t, "network", "create", "--label", LabelTest+"="+t.Name(), network)
		if got := Docker(t, "network", "inspect", "--format", "{{index .Labels \""+LabelTest+"\"}}", network); got != t.Name() {
			t.Errorf("network label = %q, want %q", got, t.Name())
		}
	})
	if out, err := runDocker(t.Context(), "network", "inspect", network); err == nil {
		t.Errorf("network %s still exists after Cleanup: %s", network, out)
	}

	msg := runTB(t, func(tb testing.TB) { Docker(tb, "network", "inspect", network) })
	if !strings.Contains(msg, "docker network inspect "+network) || !strings.Contains(msg, "not found") {
		t.Errorf("Docker failure message = %q, want the command and docker's output", msg)
	}
	msg = runTB(t, func(tb testing.TB) { RequireImages(tb, "sctest-no-such-image:never") })
	if !strings.Contains(msg, "image sctest-no-such-image:never missing: run `make images`") {
		t.Errorf("RequireImages message = %q", msg)
	}
}
