package daemon

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/internal/sdnotify"
	"github.com/scaler-dev/scaler/internal/sdnotify/sdnotifytest"
)

// fakeSystemd is a notify socket in a temporary directory.
func fakeSystemd(t *testing.T) (*sdnotify.Notifier, <-chan string) {
	t.Helper()
	path, ch := sdnotifytest.Listen(t)
	n, err := sdnotify.New(path)
	if err != nil {
		t.Fatal(err)
	}
	return n, ch
}

func next(t *testing.T, ch <-chan string, within time.Duration) (string, bool) {
	t.Helper()
	select {
	case m := <-ch:
		return m, true
	case <-time.After(within):
		return "", false
	}
}

// READY=1 comes after the first full resync and not before; WATCHDOG=1
// follows while the Engine answers, and stops when it hangs.
func TestServiceReadyAfterFirstResyncAndWatchdogStopsWhenTheEngineHangs(t *testing.T) {
	n, ch := fakeSystemd(t)
	synced := make(chan struct{})
	var engineHangs atomic.Bool
	svc := &service{log: logr.Discard(), notifier: n, watchdog: 80 * time.Millisecond, synced: synced,
		oldestReconcile: func() time.Time { return time.Time{} },
		pingEngine: func(ctx context.Context) error {
			if engineHangs.Load() {
				<-ctx.Done() // a hung Engine: only the timeout ends the call
				return ctx.Err()
			}
			return nil
		},
		reload: func() {}, now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go svc.run(ctx, "serving")

	if m, ok := next(t, ch, 200*time.Millisecond); ok {
		t.Fatalf("got %q before the first resync", m)
	}
	close(synced)
	if m, ok := next(t, ch, 5*time.Second); !ok || m != "READY=1\nSTATUS=serving" {
		t.Fatalf("after the first resync got %q (%v); want READY=1 and the status", m, ok)
	}
	for range 2 {
		if m, ok := next(t, ch, 5*time.Second); !ok || m != sdnotify.Watchdog {
			t.Fatalf("got %q (%v); want %s", m, ok, sdnotify.Watchdog)
		}
	}
	engineHangs.Store(true)
	time.Sleep(100 * time.Millisecond) // a ping in flight may still land
	for len(ch) > 0 {
		<-ch
	}
	if m, ok := next(t, ch, 300*time.Millisecond); ok {
		t.Fatalf("got %q while the Engine hangs; want no ping", m)
	}
	engineHangs.Store(false)
	if m, ok := next(t, ch, 5*time.Second); !ok || m != sdnotify.Watchdog {
		t.Fatalf("after the Engine came back got %q (%v); want %s", m, ok, sdnotify.Watchdog)
	}
	cancel()
	svc.stopping()
	if m, _ := next(t, ch, 5*time.Second); m != "STOPPING=1\nSTATUS=stopping; containers keep running" {
		t.Errorf("on stop got %q", m)
	}
}

func TestCheckAlive(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("connection refused") }
	hang := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	for _, c := range []struct {
		name   string
		ctx    context.Context
		oldest time.Time
		ping   func(context.Context) error
		alive  bool
	}{
		{"idle workers, Engine answers", context.Background(), time.Time{}, ok, true},
		{"a reconcile running for a minute", context.Background(), now.Add(-time.Minute), ok, true},
		{"a reconcile wedged", context.Background(), now.Add(-maxReconcile - time.Second), ok, false},
		{"Engine down", context.Background(), time.Time{}, down, false},
		{"Engine hangs", short, time.Time{}, hang, false},
	} {
		err := checkAlive(c.ctx, now, c.oldest, c.ping)
		if (err == nil) != c.alive {
			t.Errorf("%s: checkAlive = %v; want alive %v", c.name, err, c.alive)
		}
		if err != nil && !errors.Is(err, sdnotify.ErrNotAlive) {
			t.Errorf("%s: %v does not wrap ErrNotAlive", c.name, err)
		}
	}
}

// SIGHUP re-reads the spec directory, also before the first resync.
func TestServiceReloadsOnSIGHUP(t *testing.T) {
	// The test's own registration keeps a SIGHUP sent before run has
	// registered from killing the test binary.
	guard := make(chan os.Signal, 10)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)
	reloads := make(chan struct{}, 10)
	svc := &service{log: logr.Discard(), synced: make(chan struct{}),
		oldestReconcile: func() time.Time { return time.Time{} },
		pingEngine:      func(context.Context) error { return nil },
		reload:          func() { reloads <- struct{}{} }, now: time.Now}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go svc.run(ctx, "")
	deadline := time.After(5 * time.Second)
	for {
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		select {
		case <-reloads:
			return
		case <-deadline:
			t.Fatal("no reload within 5s of SIGHUP")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestSocketGroupID(t *testing.T) {
	if gid, err := socketGroupID(""); err != nil || gid != -1 {
		t.Errorf("unset: %d, %v; want -1", gid, err)
	}
	if gid, err := socketGroupID("0"); err != nil || gid != 0 {
		t.Errorf("by number: %d, %v; want 0", gid, err)
	}
	if gid, err := socketGroupID("4242"); err != nil || gid != 4242 {
		t.Errorf("a number no group has (an image with no /etc/group): %d, %v; want 4242", gid, err)
	}
	if gid, err := socketGroupID("root"); err != nil || gid != 0 {
		t.Errorf("by name: %d, %v; want 0", gid, err)
	}
	if _, err := socketGroupID("no-such-group-scaler-test"); err == nil || !strings.Contains(err.Error(), "--socket-group") {
		t.Errorf("unknown group: %v; want an error naming --socket-group", err)
	}
}
