package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// sse reads server-sent events from a stream.
type sse struct {
	t    *testing.T
	resp *http.Response
	sc   *bufio.Scanner
	// raw is everything read, to check for what must never be sent.
	raw strings.Builder
}

func openStream(t *testing.T, url string) *sse {
	t.Helper()
	resp, err := http.Get(url + "/dashboard/events")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("GET /dashboard/events: %s %s", resp.Status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q, want text/event-stream", ct)
	}
	s := &sse{t: t, resp: resp, sc: bufio.NewScanner(resp.Body)}
	s.sc.Buffer(make([]byte, 1<<20), 1<<20)
	t.Cleanup(func() { resp.Body.Close() })
	return s
}

// next returns the next event's name and data.
func (s *sse) next() (string, string) {
	s.t.Helper()
	var event, data string
	for s.sc.Scan() {
		line := s.sc.Text()
		s.raw.WriteString(line + "\n")
		switch {
		case line == "" && event != "":
			return event, data
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
	s.t.Fatalf("stream ended: %v", s.sc.Err())
	return "", ""
}

// waitState reads events until a state satisfies ok, for at most within.
func (s *sse) waitState(within time.Duration, ok func(State) bool) State {
	s.t.Helper()
	deadline := time.AfterFunc(within, func() { s.resp.Body.Close() })
	defer deadline.Stop()
	var last State
	for {
		ev, data := s.next()
		if ev != "state" {
			continue
		}
		if err := json.Unmarshal([]byte(data), &last); err != nil {
			s.t.Fatalf("state %q: %v", data, err)
		}
		if ok(last) {
			return last
		}
	}
}

func fastOptions() Options {
	return Options{Interval: 20 * time.Millisecond, UsageInterval: 50 * time.Millisecond, PointInterval: 50 * time.Millisecond, MaxClients: 2}
}

func serve(t *testing.T, src Source, opts Options) (*Dashboard, *httptest.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := New(ctx, src, opts)
	srv := httptest.NewServer(d)
	t.Cleanup(func() { cancel(); srv.Close() })
	return d, srv
}

func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStreamPushesChangesWithUsage(t *testing.T) {
	src := newFake(2)
	d, srv := serve(t, src, fastOptions())
	s := openStream(t, srv.URL)
	if ev, data := s.next(); ev != "history" || !strings.HasPrefix(data, "[") {
		t.Fatalf("first event %s %q, want the history of points", ev, data)
	}
	st := s.waitState(10*time.Second, func(st State) bool {
		return len(st.Specs) == 1 && len(st.Specs[0].Members) == 2 && st.Specs[0].Members[0].CPUPercent != nil && st.Specs[0].RequestRate != nil
	})
	web := st.Specs[0]
	if web.Desired != 2 || web.Ready != 2 || len(web.Upstream) != 2 || web.LoadBalancer != "127.0.0.1:8080" {
		t.Errorf("web = %+v, want 2 desired, 2 ready, 2 in the upstream at 127.0.0.1:8080", web)
	}
	m := web.Members[0]
	if m.CPULimit != 0.5 || m.MemoryLimitBytes != 128e6 || *m.MemoryBytes != 20<<20 || m.Share == nil || *m.Share != 0.5 {
		t.Errorf("web-1 usage = %+v, want 12.5%% of 0.5 CPU, 20 MiB of 128M, half the requests", m)
	}
	// 10 requests per replica per sample, samples 50 ms apart or more:
	// some positive rate, and never more than 2 replicas * 10 / 50 ms.
	if r := *web.RequestRate; r <= 0 || r > 400 {
		t.Errorf("request rate %v, want between 0 and 400/s", r)
	}
	if len(st.Events) != 1 || st.Events[0].Reason != "ScaledUp" {
		t.Errorf("events %+v, want the ScaledUp event", st.Events)
	}

	src.scale(4)
	src.mu.Lock()
	src.unhealth["web-3"] = true
	src.mu.Unlock()
	st = s.waitState(10*time.Second, func(st State) bool { return len(st.Specs[0].Members) == 4 })
	if st.Specs[0].Desired != 4 || st.Specs[0].Members[2].Health != "unhealthy" || st.Specs[0].Members[2].InUpstream {
		t.Errorf("after the scale: %+v, want 4 desired and web-3 unhealthy, out of the upstream", st.Specs[0])
	}
	// Plot points follow the state.
	for {
		ev, data := s.next()
		if ev != "point" {
			continue
		}
		var p Point
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			t.Fatal(err)
		}
		if p.Specs["web"].Replicas == 4 {
			break
		}
	}
	if strings.Contains(s.raw.String(), secret) {
		t.Errorf("the stream sent the template's secret:\n%s", s.raw.String())
	}
	if n := d.Clients(); n != 1 {
		t.Errorf("%d clients, want 1", n)
	}
}

// The collector runs only while someone watches: nothing reads the
// backend before the first browser or after the last one leaves.
func TestCollectorRunsOnlyWhileWatched(t *testing.T) {
	src := newFake(2)
	d, srv := serve(t, src, fastOptions())
	time.Sleep(200 * time.Millisecond)
	if d.Collecting() || src.reads.Load() != 0 || src.tops.Load() != 0 {
		t.Fatalf("collecting=%v reads=%d tops=%d before any browser connected", d.Collecting(), src.reads.Load(), src.tops.Load())
	}
	s := openStream(t, srv.URL)
	s.waitState(10*time.Second, func(st State) bool { return len(st.Specs) == 1 })
	waitFor(t, 10*time.Second, "a usage sample", func() bool { return src.tops.Load() > 0 })
	s.resp.Body.Close()
	// Collecting turns false once the collector's goroutines returned.
	waitFor(t, 10*time.Second, "the collector to stop", func() bool { return !d.Collecting() && d.Clients() == 0 })
	reads, tops := src.reads.Load(), src.tops.Load()
	time.Sleep(300 * time.Millisecond) // 15 intervals
	if r, tp := src.reads.Load(), src.tops.Load(); r != reads || tp != tops {
		t.Errorf("the backend was read %d more times and sampled %d more times with nobody watching", r-reads, tp-tops)
	}
	// A browser that comes back gets the plot points kept meanwhile.
	s = openStream(t, srv.URL)
	ev, data := s.next()
	var pts []Point
	if ev != "history" || json.Unmarshal([]byte(data), &pts) != nil || len(pts) == 0 {
		t.Errorf("reconnect: first event %s with %d points, want the history kept in the ring", ev, len(pts))
	}
}

func TestTooManyClientsGet503(t *testing.T) {
	_, srv := serve(t, newFake(1), fastOptions()) // MaxClients 2
	openStream(t, srv.URL)
	second := openStream(t, srv.URL)
	resp, err := http.Get(srv.URL + "/dashboard/events")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "at most 2 browsers") || resp.Header.Get("Retry-After") == "" {
		t.Errorf("third client: %s %q, want 503 saying at most 2 browsers, with Retry-After", resp.Status, body)
	}
	// A slot freed is a slot taken again.
	second.resp.Body.Close()
	waitFor(t, 10*time.Second, "a free slot", func() bool {
		resp, err := http.Get(srv.URL + "/dashboard/events")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func TestStateAndPageSendNoSecrets(t *testing.T) {
	_, srv := serve(t, newFake(3), fastOptions())
	for _, path := range []string{"/", "/dashboard/state", "/dashboard/static/app.js", "/dashboard/static/style.css"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", path, resp.Status)
		}
		if strings.Contains(string(body), secret) || strings.Contains(string(body), "REDIS_PASSWORD") {
			t.Errorf("GET %s sent the template's env or command: %s", path, body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
		if path == "/dashboard/state" {
			var st State
			if err := json.Unmarshal(body, &st); err != nil || len(st.Specs) != 1 || len(st.Specs[0].Members) != 3 {
				t.Errorf("state %s: %v; want one spec of 3 replicas", body, err)
			}
		}
	}
	if resp, err := http.Get(srv.URL + "/nothing-here"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing-here: %v %v, want 404", resp, err)
	}
}

func TestRingKeepsTheLatestPoints(t *testing.T) {
	r := newRing(3)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 10 {
		r.add(Point{Time: t0.Add(time.Duration(i) * time.Second)})
	}
	got := r.since(time.Time{})
	if r.len() != 3 || len(got) != 3 || !got[0].Time.Equal(t0.Add(7*time.Second)) || !got[2].Time.Equal(t0.Add(9*time.Second)) {
		t.Errorf("after 10 adds to a ring of 3: %v, want seconds 7, 8, 9", got)
	}
	if got := r.since(t0.Add(9 * time.Second)); len(got) != 1 {
		t.Errorf("since the last point: %d points, want 1", len(got))
	}
	// The hub's ring holds the window at the point spacing, no more.
	h := newHub(Options{Window: 15 * time.Minute, PointInterval: 2 * time.Second, MaxClients: 1}, func(context.Context) {})
	for range 2000 {
		h.publishPoint(Point{Time: time.Now()}, nil)
	}
	if n := h.points(); n != 450 {
		t.Errorf("hub ring holds %d points, want 450 (15 min at 2 s)", n)
	}
}
