package demoapp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// fakeCounter is an in-memory Counter whose failure can be switched on.
type fakeCounter struct {
	mu     sync.Mutex
	visits int64
	err    error
	calls  int
}

func newFakeCounter() *fakeCounter { return &fakeCounter{} }

func (f *fakeCounter) CountVisit(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return 0, f.err
	}
	f.visits++
	return f.visits, nil
}

func (f *fakeCounter) Ping(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.err
}

func (f *fakeCounter) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeCounter) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

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

func testConfig() Config {
	cfg, err := LoadConfig(envOf(map[string]string{
		"GREETING":                 `Hi "there" <b>`,
		"LOAD_TEST_ITERATIONS":     "1000",
		"LOAD_TEST_MAX_ITERATIONS": "5000",
		"SLOW_MAX":                 "50ms",
	}), "07ef452d3d91")
	if err != nil {
		panic(err)
	}
	return cfg
}

func get(t *testing.T, h http.Handler, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var v T
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %T: %v", v, err)
	}
	return v
}

func TestRootCountsVisits(t *testing.T) {
	counter := newFakeCounter()
	app := New(testConfig(), counter, logr.Discard())
	for want := int64(1); want <= 3; want++ {
		rec := get(t, app, "/")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET / = %d", rec.Code)
		}
		resp := decode[rootResponse](t, rec)
		if resp.Visits == nil || *resp.Visits != want {
			t.Errorf("visits = %v, want %d", resp.Visits, want)
		}
		if resp.Degraded {
			t.Error("degraded = true with a working counter")
		}
		if resp.Message != `Hi "there" <b>` {
			t.Errorf("message = %q", resp.Message)
		}
		if resp.ServedBy.Hostname != "07ef452d3d91" || resp.ServedBy.ContainerID != "07ef452d3d91" || resp.ServedBy.Instance != "app-07ef452d3d91" {
			t.Errorf("served_by = %+v", resp.ServedBy)
		}
	}
}

func TestRootDegradesWhenCounterFailsAndRecovers(t *testing.T) {
	counter := newFakeCounter()
	app := New(testConfig(), counter, logr.Discard())
	now := time.Unix(1000, 0)
	app.counter.now = func() time.Time { return now }

	counter.setErr(errors.New("dial tcp: connection refused"))
	rec := get(t, app, "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / with the counter down = %d, want 200", rec.Code)
	}
	resp := decode[rootResponse](t, rec)
	if resp.Visits != nil || !resp.Degraded {
		t.Errorf("visits = %v, degraded = %v; want null and true", resp.Visits, resp.Degraded)
	}
	if resp.ServedBy.Instance == "" {
		t.Error("degraded response lost served_by")
	}

	// While the breaker is open, requests must not wait on the store.
	calls := counter.callCount()
	for range 5 {
		get(t, app, "/")
	}
	if got := counter.callCount(); got != calls {
		t.Errorf("counter called %d times during the cool-down, want 0", got-calls)
	}
	if rec := get(t, app, "/health"); !strings.Contains(rec.Body.String(), `"redis":"down"`) || rec.Code != http.StatusOK {
		t.Errorf("GET /health while down = %d %s, want 200 with redis down", rec.Code, rec.Body)
	}

	counter.setErr(nil)
	now = now.Add(breakerCooldown + time.Millisecond)
	resp = decode[rootResponse](t, get(t, app, "/"))
	if resp.Visits == nil || *resp.Visits != 1 || resp.Degraded {
		t.Errorf("after recovery visits = %v, degraded = %v; want 1 and false", resp.Visits, resp.Degraded)
	}
}

func TestClientLeavingDoesNotTripTheBreaker(t *testing.T) {
	counter := newFakeCounter()
	app := New(testConfig(), counter, logr.Discard())

	counter.setErr(context.Canceled)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))

	counter.setErr(nil)
	resp := decode[rootResponse](t, get(t, app, "/"))
	if resp.Degraded || resp.Visits == nil {
		t.Errorf("after a client left mid-request: degraded = %v, visits = %v; want a counted visit", resp.Degraded, resp.Visits)
	}
}

func TestHealth(t *testing.T) {
	app := New(testConfig(), newFakeCounter(), logr.Discard())
	rec := get(t, app, "/health")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /health = %d", rec.Code)
	}
	type health struct {
		Status, Redis     string
		Answers, Degraded int64
	}
	if got := decode[health](t, rec); got != (health{"ok", "up", 0, 0}) {
		t.Errorf("GET /health = %+v", got)
	}
}

// TestHealthCountsDegradedAnswers: /health says how many answers of GET /
// were served without Redis, which `scalectl top` shows per replica.
func TestHealthCountsDegradedAnswers(t *testing.T) {
	counter := newFakeCounter()
	app := New(testConfig(), counter, logr.Discard())
	get(t, app, "/")
	counter.setErr(errors.New("redis away"))
	get(t, app, "/")
	get(t, app, "/")
	type health struct {
		Status, Redis     string
		Answers, Degraded int64
	}
	if got := decode[health](t, get(t, app, "/health")); got != (health{"ok", "down", 3, 2}) {
		t.Errorf("GET /health = %+v, want redis down, 3 answers, 2 degraded", got)
	}
}

func TestToggleHealthFailsHealthOnlyUntilToggledBack(t *testing.T) {
	app := New(testConfig(), newFakeCounter(), logr.Discard())
	if !app.ToggleHealth() {
		t.Fatal("first toggle reported health still on")
	}
	if rec := get(t, app, "/health"); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "SIGUSR1") {
		t.Errorf("GET /health while toggled off = %d %s, want 503 naming SIGUSR1", rec.Code, rec.Body)
	}
	if rec := get(t, app, "/"); rec.Code != http.StatusOK {
		t.Errorf("GET / while health is off = %d, want 200: only the probe fails", rec.Code)
	}
	if app.ToggleHealth() {
		t.Fatal("second toggle reported health still off")
	}
	if rec := get(t, app, "/health"); rec.Code != http.StatusOK {
		t.Errorf("GET /health after toggling back = %d, want 200", rec.Code)
	}
}

func TestLoadTest(t *testing.T) {
	app := New(testConfig(), newFakeCounter(), logr.Discard())
	type loadResponse struct {
		Iterations int     `json:"iterations"`
		Result     string  `json:"result"`
		ElapsedMS  float64 `json:"elapsed_ms"`
		ServedBy   struct {
			Instance    string `json:"instance"`
			Hostname    string `json:"hostname"`
			ContainerID string `json:"container_id"`
		} `json:"served_by"`
	}
	tests := []struct {
		target         string
		wantStatus     int
		wantIterations int
	}{
		{"/load-test", 200, 1000},
		{"/load-test?iterations=10", 200, 10},
		{"/load-test?iterations=999999999", 200, 5000}, // capped
		{"/load-test?iterations=0", 400, 0},
		{"/load-test?iterations=lots", 400, 0},
	}
	for _, tt := range tests {
		rec := get(t, app, tt.target)
		if rec.Code != tt.wantStatus {
			t.Errorf("GET %s = %d, want %d", tt.target, rec.Code, tt.wantStatus)
			continue
		}
		if tt.wantStatus != 200 {
			continue
		}
		resp := decode[loadResponse](t, rec)
		if resp.Iterations != tt.wantIterations {
			t.Errorf("GET %s: iterations = %d, want %d", tt.target, resp.Iterations, tt.wantIterations)
		}
		if resp.Result == "" || resp.ServedBy.Instance != "app-07ef452d3d91" {
			t.Errorf("GET %s = %+v", tt.target, resp)
		}
	}
}

func TestSlow(t *testing.T) {
	app := New(testConfig(), newFakeCounter(), logr.Discard())
	start := time.Now()
	rec := get(t, app, "/slow?ms=20")
	if took := time.Since(start); rec.Code != 200 || took < 20*time.Millisecond {
		t.Errorf("GET /slow?ms=20 = %d after %s", rec.Code, took)
	}
	start = time.Now()
	rec = get(t, app, "/slow?ms=600000")
	if took := time.Since(start); rec.Code != 200 || took > 2*time.Second {
		t.Errorf("GET /slow above SLOW_MAX = %d after %s, want capped at 50ms", rec.Code, took)
	}
	if !strings.Contains(rec.Body.String(), `"slept_ms":50`) {
		t.Errorf("capped slow body = %s", rec.Body)
	}
	if rec := get(t, app, "/slow?ms=-1"); rec.Code != 400 {
		t.Errorf("GET /slow?ms=-1 = %d, want 400", rec.Code)
	}
}

func TestPostVisitsCountsAVisitLikeRoot(t *testing.T) {
	counter := newFakeCounter()
	app := New(testConfig(), counter, logr.Discard())
	for want := int64(1); want <= 2; want++ {
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/visits", strings.NewReader(`{}`)))
		if rec.Code != http.StatusOK {
			t.Fatalf("POST /visits = %d %s", rec.Code, rec.Body)
		}
		resp := decode[rootResponse](t, rec)
		if resp.Visits == nil || *resp.Visits != want || resp.ServedBy.Instance != "app-07ef452d3d91" {
			t.Errorf("POST /visits #%d = visits %v served_by %+v, want visits %d from app-07ef452d3d91", want, resp.Visits, resp.ServedBy, want)
		}
	}
	// GET / counts on the same counter: a POST is a visit like any other.
	if resp := decode[rootResponse](t, get(t, app, "/")); resp.Visits == nil || *resp.Visits != 3 {
		t.Errorf("GET / after two POSTs: visits = %v, want 3", resp.Visits)
	}

	counter.setErr(errors.New("dial tcp: connection refused"))
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/visits", nil))
	if resp := decode[rootResponse](t, rec); rec.Code != http.StatusOK || resp.Visits != nil || !resp.Degraded {
		t.Errorf("POST /visits with the store down = %d %+v, want 200 degraded with visits null", rec.Code, resp)
	}
}

func TestVisitsTakesOnlyPost(t *testing.T) {
	counter := newFakeCounter()
	app := New(testConfig(), counter, logr.Discard())
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete} {
		rec := httptest.NewRecorder()
		app.ServeHTTP(rec, httptest.NewRequest(method, "/visits", nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
			t.Errorf("%s /visits = %d Allow=%q, want 405 Allow=POST", method, rec.Code, rec.Header().Get("Allow"))
		}
	}
	if n := counter.callCount(); n != 0 {
		t.Errorf("refused requests called the counter %d times, want 0", n)
	}
}

func TestSlowNamesTheBadParameter(t *testing.T) {
	app := New(testConfig(), newFakeCounter(), logr.Discard())
	for _, target := range []string{"/slow", "/slow?ms=", "/slow?ms=abc", "/slow?ms=-5", "/slow?ms=1.5"} {
		rec := get(t, app, target)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"ms: `) {
			t.Errorf("GET %s = %d %s, want 400 naming ms", target, rec.Code, rec.Body)
		}
	}
}

func TestRouting(t *testing.T) {
	app := New(testConfig(), newFakeCounter(), logr.Discard())
	if rec := get(t, app, "/nope"); rec.Code != http.StatusNotFound {
		t.Errorf("GET /nope = %d, want 404", rec.Code)
	}
	rec := httptest.NewRecorder()
	app.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST / = %d Allow=%q, want 405", rec.Code, rec.Header().Get("Allow"))
	}
}

func BenchmarkRoot(b *testing.B) {
	app := New(testConfig(), newFakeCounter(), logr.Discard())
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := &discardWriter{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		app.ServeHTTP(w, req)
	}
}

// discardWriter keeps the benchmark about the handler, not the recorder.
type discardWriter struct{ header http.Header }

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
