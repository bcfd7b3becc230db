package daemon

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/scaler-dev/scaler/internal/docker"
)

// fakeEngine answers the Engine's ping until Hang, then leaves every
// request unanswered until Resume, as a wedged dockerd does.
type fakeEngine struct {
	mu   sync.Mutex
	gate chan struct{}
}

func (f *fakeEngine) Hang() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gate == nil {
		f.gate = make(chan struct{})
	}
}

func (f *fakeEngine) Resume() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gate != nil {
		close(f.gate)
		f.gate = nil
	}
}

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if r.URL.Path != "/_ping" {
		http.Error(w, `{"message":"not faked"}`, http.StatusNotImplemented)
		return
	}
	w.Header().Set("Api-Version", "1.41")
	w.Header().Set("Ostype", "linux")
	_, _ = w.Write([]byte("OK"))
}

// TestReadyzFollowsTheEngine: /readyz turns not ready, saying why, while
// the Engine does not answer its ping, and ready again once it does.
func TestReadyzFollowsTheEngine(t *testing.T) {
	engine := &fakeEngine{}
	srv := httptest.NewServer(engine)
	t.Cleanup(srv.Close)
	t.Cleanup(engine.Resume) // runs first: a hung request would hold Close
	t.Setenv("DOCKER_HOST", "tcp://"+srv.Listener.Addr().String())
	rt, err := docker.New(context.Background(), logr.Discard(), "readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	const timeout = 300 * time.Millisecond
	b := docker.NewBounded(rt, timeout, docker.DefaultMaxInFlight)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Watch(ctx, 50*time.Millisecond)

	synced := make(chan struct{})
	close(synced)
	reg := prometheus.NewRegistry()
	reg.MustRegister(engineMetrics(b)...)
	mux := metricsMux(reg, synced, b.Healthy, nil)
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body, _ := io.ReadAll(rec.Body)
		return rec.Code, string(body)
	}
	readyz := func() (int, string) { return get("/readyz") }
	engineUp := func(want string) {
		t.Helper()
		if _, body := get("/metrics"); !strings.Contains(body, "\nscaler_engine_up "+want+"\n") {
			t.Errorf("/metrics lacks scaler_engine_up %s", want)
		}
	}
	waitFor := func(code int, within time.Duration) (time.Duration, string) {
		t.Helper()
		start := time.Now()
		for {
			got, body := readyz()
			if got == code {
				return time.Since(start), body
			}
			if time.Since(start) > within {
				t.Fatalf("/readyz %d %q, want %d within %v", got, body, code, within)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	waitFor(http.StatusOK, time.Second)
	engineUp("1")
	engine.Hang()
	took, body := waitFor(http.StatusServiceUnavailable, timeout+time.Second)
	t.Logf("/readyz not ready %v after the Engine hung (timeout %v): %s", took, timeout, strings.TrimSpace(body))
	for _, want := range []string{"not ready", "did not answer within 300ms", "--engine-timeout"} {
		if !strings.Contains(body, want) {
			t.Errorf("/readyz body %q lacks %q", body, want)
		}
	}
	engineUp("0")
	engine.Resume()
	took, _ = waitFor(http.StatusOK, time.Second)
	engineUp("1")
	t.Logf("/readyz ready %v after the Engine resumed", took)
}

func TestPingInterval(t *testing.T) {
	for timeout, want := range map[time.Duration]time.Duration{
		time.Second: time.Second, 4 * time.Second: 2 * time.Second, 30 * time.Second: 5 * time.Second,
	} {
		if got := pingInterval(timeout); got != want {
			t.Errorf("pingInterval(%v) = %v, want %v", timeout, got, want)
		}
	}
}

// The backend finds logs, exec and the Engine's version by interface on
// its runtime: the bounded one scalerd uses must keep every one of them,
// or those verbs would say "not supported" instead of failing to build.
var (
	_ logOpener       = (*docker.Bounded)(nil)
	_ processStarter  = (*docker.Bounded)(nil)
	_ engineVersioner = (*docker.Bounded)(nil)
)
