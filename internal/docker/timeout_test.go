package docker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"

	"github.com/scaler-dev/scaler/engine"
	"github.com/scaler-dev/scaler/internal/replicaio"
)

// hanger makes a fake Engine stop answering, pings included, until
// Resume: requests wait unanswered, as they do on a wedged dockerd.
type hanger struct {
	mu   sync.Mutex
	gate chan struct{} // nil while answering
}

func (h *hanger) Hang() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gate == nil {
		h.gate = make(chan struct{})
	}
}

func (h *hanger) Resume() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gate != nil {
		close(h.gate)
		h.gate = nil
	}
}

func (h *hanger) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		gate := h.gate
		h.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// hangingEngine is a fake Engine that hangs on demand, wrapped in Bounded.
func hangingEngine(t *testing.T, timeout time.Duration, maxInFlight int, routes map[string]http.HandlerFunc) (*Bounded, *hanger) {
	t.Helper()
	h := &hanger{}
	rt := fakeEngineWith(t, "1.41", routes, h.middleware)
	// Registered after the server's Close, so run before it: a request
	// left hanging would hold Close.
	t.Cleanup(h.Resume)
	return NewBounded(rt, timeout, maxInFlight), h
}

func listRoute(t *testing.T) map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"/containers/json": func(w http.ResponseWriter, _ *http.Request) { writeJSON(t, w, []container.Summary{}) },
	}
}

// checkTimeout fails unless err is an ErrEngineTimeout that names the flag and
// came within the timeout plus slack.
func checkTimeout(t *testing.T, err error, took, timeout time.Duration) {
	t.Helper()
	if !errors.Is(err, ErrEngineTimeout) {
		t.Fatalf("got %v, want ErrEngineTimeout", err)
	}
	if !strings.Contains(err.Error(), "--engine-timeout") {
		t.Errorf("error %q does not name --engine-timeout", err)
	}
	if slack := 500 * time.Millisecond; took < timeout || took > timeout+slack {
		t.Errorf("timed out after %v, want within [%v, %v]", took, timeout, timeout+slack)
	}
}

func TestBoundedCallTimesOutAndRecovers(t *testing.T) {
	const timeout = 200 * time.Millisecond
	b, h := hangingEngine(t, timeout, 4, listRoute(t))
	if _, err := b.ListManaged(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.Hang()
	start := time.Now()
	_, err := b.ListManaged(context.Background())
	checkTimeout(t, err, time.Since(start), timeout)
	if !strings.Contains(err.Error(), "list containers") {
		t.Errorf("error %q does not say which call", err)
	}
	if ok, reason := b.Healthy(); ok || !strings.Contains(reason, "--engine-timeout") {
		t.Errorf("Healthy() = %v, %q after a timeout; want false with the reason", ok, reason)
	}

	h.Resume()
	if _, err := b.ListManaged(context.Background()); err != nil {
		t.Fatalf("after resume: %v", err)
	}
	if ok, reason := b.Healthy(); !ok {
		t.Errorf("Healthy() false (%s) after a call was answered", reason)
	}
}

// TestBoundedCallerContextIsNotATimeout: the caller's own deadline is the
// caller's error, and says nothing about the Engine.
func TestBoundedCallerContextIsNotATimeout(t *testing.T) {
	b, h := hangingEngine(t, time.Minute, 4, listRoute(t))
	h.Hang()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := b.ListManaged(ctx)
	if err == nil || errors.Is(err, ErrEngineTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the caller's context.DeadlineExceeded", err)
	}
	if ok, _ := b.Healthy(); !ok {
		t.Error("the caller's deadline marked the Engine unhealthy")
	}
}

// TestBoundedExecAttachHangs: the Docker client ignores ctx once a hijacked
// exec attach has dialled, so only running the call aside bounds it.
func TestBoundedExecAttachHangs(t *testing.T) {
	const timeout = 300 * time.Millisecond
	release := make(chan struct{})
	b, _ := hangingEngine(t, timeout, 4, map[string]http.HandlerFunc{
		"/containers/c1/exec": func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusCreated)
			writeJSON(t, w, container.ExecCreateResponse{ID: "e1"})
		},
		"/exec/e1/start": func(http.ResponseWriter, *http.Request) { <-release },
	})
	defer close(release)
	start := time.Now()
	_, err := b.Exec(context.Background(), "c1", []string{"nginx", "-t"})
	checkTimeout(t, err, time.Since(start), timeout)
	if !strings.Contains(err.Error(), `exec "nginx"`) {
		t.Errorf("error %q does not say which call", err)
	}
}

// TestBoundedSlowCallAmongAnswersKeepsHealthy: one call that times out
// while the Engine answers others (a stuck exec, say) fails, but does not
// make the Engine unhealthy: /readyz would flap for nothing.
func TestBoundedSlowCallAmongAnswersKeepsHealthy(t *testing.T) {
	const timeout = 300 * time.Millisecond
	release := make(chan struct{})
	routes := listRoute(t)
	routes["/containers/slow/stop"] = func(w http.ResponseWriter, _ *http.Request) {
		<-release
		w.WriteHeader(http.StatusNoContent)
	}
	b, _ := hangingEngine(t, timeout, 4, routes)
	defer close(release)
	stopped := make(chan error, 1)
	go func() { stopped <- b.StopContainer(context.Background(), "slow", 0) }()
	time.Sleep(100 * time.Millisecond)
	if _, err := b.ListManaged(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-stopped; !errors.Is(err, ErrEngineTimeout) {
		t.Fatalf("slow stop: %v, want ErrEngineTimeout", err)
	}
	if ok, reason := b.Healthy(); !ok {
		t.Errorf("unhealthy (%s) though the Engine answered a call after the slow one started", reason)
	}
}

// TestBoundedStopGetsGrace: a stop answers only after the grace period,
// so its bound is grace plus the timeout.
func TestBoundedStopGetsGrace(t *testing.T) {
	const timeout = 200 * time.Millisecond
	b, _ := hangingEngine(t, timeout, 4, map[string]http.HandlerFunc{
		"/containers/c1/stop": func(w http.ResponseWriter, _ *http.Request) {
			time.Sleep(400 * time.Millisecond) // the container's grace
			w.WriteHeader(http.StatusNoContent)
		},
	})
	if err := b.StopContainer(context.Background(), "c1", time.Second); err != nil {
		t.Errorf("stop with 1s grace: %v", err)
	}
	start := time.Now()
	err := b.StopContainer(context.Background(), "c1", 0)
	checkTimeout(t, err, time.Since(start), timeout)
}

// TestBoundedConcurrencyCap runs 100 calls at once against an Engine that
// takes a while to answer: at most 32 are in flight.
func TestBoundedConcurrencyCap(t *testing.T) {
	var inFlight, most atomic.Int32
	b, _ := hangingEngine(t, 10*time.Second, DefaultMaxInFlight, map[string]http.HandlerFunc{
		"/containers/json": func(w http.ResponseWriter, _ *http.Request) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			time.Sleep(30 * time.Millisecond)
			writeJSON(t, w, []container.Summary{})
		},
	})
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 100 {
		wg.Go(func() {
			if _, err := b.ListManaged(context.Background()); err != nil {
				failed.Add(1)
				t.Error(err)
			}
		})
	}
	wg.Wait()
	t.Logf("100 concurrent calls: at most %d in flight at the Engine", most.Load())
	if m := most.Load(); m > DefaultMaxInFlight || m < DefaultMaxInFlight/2 {
		t.Errorf("at most %d calls in flight, want at most %d (and enough to show they overlap)", m, DefaultMaxInFlight)
	}
}

// TestBoundedQueuedCallObeysTimeout: a call waiting for a slot gives up at
// the timeout, says why, and does not mark the Engine unhealthy by itself.
func TestBoundedQueuedCallObeysTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	release := make(chan struct{})
	b, _ := hangingEngine(t, timeout, 1, map[string]http.HandlerFunc{
		"/containers/slow/stop": func(w http.ResponseWriter, _ *http.Request) {
			<-release
			w.WriteHeader(http.StatusNoContent)
		},
		"/containers/json": func(w http.ResponseWriter, _ *http.Request) { writeJSON(t, w, []container.Summary{}) },
	})
	defer close(release)
	go func() { _ = b.StopContainer(context.Background(), "slow", time.Hour) }()
	time.Sleep(50 * time.Millisecond) // the stop takes the only slot
	start := time.Now()
	_, err := b.ListManaged(context.Background())
	checkTimeout(t, err, time.Since(start), timeout)
	if !strings.Contains(err.Error(), "slots") {
		t.Errorf("error %q does not say the call waited for a slot", err)
	}
	if ok, reason := b.Healthy(); !ok {
		t.Errorf("a queued call marked the Engine unhealthy: %s", reason)
	}
	// The caller's cancellation ends the wait at once too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.ListManaged(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call waiting for a slot: %v", err)
	}
}

// TestBoundedStreamsOutliveTimeout: Events and Logs get the timeout for
// their setup only; once the Engine streams, they last.
func TestBoundedStreamsOutliveTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	managed := map[string]string{"scaler.dev/managed-by": "scalerd", "scaler.dev/instance": fakeInstance, "scaler.dev/spec": "web"}
	b, _ := hangingEngine(t, timeout, 4, map[string]http.HandlerFunc{
		"/events": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.(http.Flusher).Flush()
			for _, id := range []string{"a", "b"} {
				select {
				case <-time.After(3 * timeout):
				case <-r.Context().Done():
					return
				}
				writeJSON(t, w, events.Message{Type: events.ContainerEventType, Action: "die", Actor: events.Actor{ID: id, Attributes: managed}})
				w.(http.Flusher).Flush()
			}
			<-r.Context().Done()
		},
		"/containers/c1/logs": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/vnd.docker.multiplexed-stream")
			for _, line := range []string{"one", "two"} {
				_, _ = w.Write(frame(1, "2026-01-02T03:04:05.000000000Z "+line+"\n"))
				w.(http.Flusher).Flush()
				time.Sleep(3 * timeout)
			}
		},
	})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	evc, errc := b.Events(ctx)
	for _, want := range []string{"a", "b"} {
		select {
		case ev := <-evc:
			if ev.ContainerID != want {
				t.Errorf("event of %q, want %q", ev.ContainerID, want)
			}
		case err := <-errc:
			t.Fatalf("event stream cut: %v", err)
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
	}
	cancel()
	if err := receive(t, errc); err != nil {
		t.Errorf("stream ended with %v after cancel, want nil", err)
	}

	lr, err := b.Logs(context.Background(), "c1", replicaio.LogOptions{Follow: true, Tail: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Close()
	var got []string
	for {
		l, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("log stream cut after %q: %v", got, err)
		}
		got = append(got, l.Text)
	}
	if strings.Join(got, ",") != "one,two" {
		t.Errorf("log lines %q", got)
	}
}

// TestBoundedStreamSetupTimesOut: a stream whose request the Engine never
// answers fails at the timeout, saying so.
func TestBoundedStreamSetupTimesOut(t *testing.T) {
	const timeout = 200 * time.Millisecond
	// Requests abandoned at the timeout reach these once the Engine
	// resumes, at the test's end.
	notFound := func(w http.ResponseWriter, _ *http.Request) { http.Error(w, `{"message":"gone"}`, http.StatusNotFound) }
	b, h := hangingEngine(t, timeout, 4, map[string]http.HandlerFunc{
		"/events": notFound, "/containers/c1/logs": notFound, "/containers/c1/exec": notFound,
	})
	h.Hang()
	start := time.Now()
	evc, errc := b.Events(context.Background())
	err := receive(t, errc)
	checkTimeout(t, err, time.Since(start), timeout)
	if _, ok := <-evc; ok {
		t.Error("event channel open after the setup timed out")
	}
	start = time.Now()
	_, err = b.Logs(context.Background(), "c1", replicaio.LogOptions{Tail: -1})
	checkTimeout(t, err, time.Since(start), timeout)
	start = time.Now()
	_, err = b.OpenSession(context.Background(), "c1", []string{"sh"})
	checkTimeout(t, err, time.Since(start), timeout)
}

// TestBoundedWatchFollowsPings: with no other call, the periodic ping
// alone turns the Engine unhealthy while it hangs and healthy after.
func TestBoundedWatchFollowsPings(t *testing.T) {
	const timeout = 200 * time.Millisecond
	b, h := hangingEngine(t, timeout, 4, nil)
	var mu sync.Mutex
	var changes bytes.Buffer
	b.OnHealthChange(func(healthy bool, reason string) {
		mu.Lock()
		defer mu.Unlock()
		if healthy {
			changes.WriteString("up;")
		} else {
			changes.WriteString("down: " + reason + ";")
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Watch(ctx, 50*time.Millisecond)

	waitHealthy := func(want bool, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < within {
			if ok, _ := b.Healthy(); ok == want {
				return time.Since(start)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("Healthy() not %v within %v", want, within)
		return 0
	}
	h.Hang()
	took := waitHealthy(false, timeout+time.Second)
	t.Logf("unhealthy %v after the Engine hung (timeout %v, ping every 50ms)", took, timeout)
	if _, reason := b.Healthy(); !strings.Contains(reason, "ping") || !strings.Contains(reason, "--engine-timeout") {
		t.Errorf("reason %q", reason)
	}
	h.Resume()
	waitHealthy(true, time.Second)
	mu.Lock()
	defer mu.Unlock()
	if got := changes.String(); !strings.HasPrefix(got, "down: ping") || !strings.HasSuffix(got, "up;") ||
		strings.Count(got, "down:") != 1 || strings.Count(got, "up;") != 1 {
		t.Errorf("health changes %q, want one down and one up", got)
	}
}

var _ engine.Runtime = (*Bounded)(nil)
