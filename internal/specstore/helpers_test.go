package specstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
)

// specYAML is a small valid spec file.
func specYAML(name string, replicas int) string {
	return fmt.Sprintf(`apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata:
  name: %s
spec:
  replicas: %d
  template:
    image: demoapp:dev
`, name, replicas)
}

// harness is a store over a temporary directory that records every change
// notification.
type harness struct {
	t     *testing.T
	dir   string
	store *Store

	mu      sync.Mutex
	changes []string
	signal  chan struct{}
}

func newHarness(t *testing.T, files map[string]string) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), signal: make(chan struct{}, 1)}
	for name, content := range files {
		h.write(name, content)
	}
	store, err := Open(h.dir, testr.New(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	h.store = store
	store.OnChange(func(name string) {
		h.mu.Lock()
		h.changes = append(h.changes, name)
		h.mu.Unlock()
		select {
		case h.signal <- struct{}{}:
		default:
		}
	})
	return h
}

// watch runs the store's watcher until the test ends.
func (h *harness) watch() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.store.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("Run: %v", err)
		}
	})
	// Let the watch start before the test edits files.
	time.Sleep(20 * time.Millisecond)
	h.takeChanges()
}

func (h *harness) path(name string) string { return filepath.Join(h.dir, name) }

func (h *harness) write(name, content string) {
	h.t.Helper()
	if err := os.WriteFile(h.path(name), []byte(content), 0o644); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) read(name string) string {
	h.t.Helper()
	b, err := os.ReadFile(h.path(name))
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

// takeChanges returns and forgets the notifications so far.
func (h *harness) takeChanges() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.changes
	h.changes = nil
	return out
}

// waitFor waits until cond holds, failing the test after timeout.
func (h *harness) waitFor(what string, timeout time.Duration, cond func() bool) time.Duration {
	h.t.Helper()
	start := time.Now()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-h.signal:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			h.t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
	return time.Since(start)
}

// replicas returns the replicas of the spec in force, or -1 if none.
func (h *harness) replicas(name string) int32 {
	spec, _, ok := h.store.Get(name)
	if !ok {
		return -1
	}
	return *spec.Spec.Replicas
}

func (h *harness) generation(name string) int64 {
	h.t.Helper()
	spec, _, ok := h.store.Get(name)
	if !ok {
		h.t.Fatalf("%s not in force", name)
	}
	return spec.Metadata.Generation
}

func (h *harness) specErr(name string) string {
	_, err, _ := h.store.Get(name)
	if err == nil {
		return ""
	}
	return err.Error()
}

// assertNoTempFiles checks that no write left a temp file behind.
func (h *harness) assertNoTempFiles() {
	h.t.Helper()
	entries, err := os.ReadDir(h.dir)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".scaler-") {
			h.t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}
