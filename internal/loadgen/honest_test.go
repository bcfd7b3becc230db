package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// closingServer answers the first request of every keep-alive connection
// and closes the connection under the client on the second, without an
// answer: what an nginx reload does to idle keep-alive connections.
func closingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var mu sync.Mutex
	perConn := map[string]int{}
	var closed atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		perConn[r.RemoteAddr]++
		n := perConn[r.RemoteAddr]
		mu.Unlock()
		if n == 1 {
			_, _ = w.Write([]byte(`{"served_by":{"instance":"web-1"}}`))
			return
		}
		closed.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv, &closed
}

func TestAGetResentOnANewConnectionCountsAsResentAndFailed(t *testing.T) {
	srv, closed := closingServer(t)
	res, err := Run(context.Background(), Options{URL: srv.URL, Concurrency: 1, Requests: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Request 1 is answered on a fresh connection; each later one is
	// first sent on the kept-alive connection, which the server closes,
	// and net/http silently sends it again on a new one, where it is
	// answered: 9 resent, every one a failure although it got its 200.
	if closed.Load() == 0 {
		t.Fatal("the server closed no connection: the test proves nothing")
	}
	if res.Requests != 10 || res.Resent != closed.Load() || res.Failures != res.Resent || res.ByKind[KindResent] != res.Resent {
		t.Errorf("requests %d resent %d failures %d by kind %v; the server closed %d connections under a request",
			res.Requests, res.Resent, res.Failures, res.ByKind, closed.Load())
	}
	if res.Successes != res.Requests-res.Failures {
		t.Errorf("successes %d of %d with %d failures", res.Successes, res.Requests, res.Failures)
	}
}

func TestAPostOnAClosedConnectionFailsAndIsNotResent(t *testing.T) {
	srv, closed := closingServer(t)
	res, err := Run(context.Background(), Options{URL: srv.URL, Concurrency: 1, Requests: 6, POSTRatio: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// net/http does not resend a POST it has written: each one sent on a
	// reused connection is lost, and counted as lost.
	if closed.Load() == 0 || res.Failures != closed.Load() || res.Sent[ClassPOST] != 6 {
		t.Errorf("requests %d failures %d %v sent %v; the server closed %d connections under a request",
			res.Requests, res.Failures, res.ByKind, res.Sent, closed.Load())
	}
	if res.ByKind[KindResent] != 0 {
		t.Errorf("a POST counted as resent and answered: %v", res.ByKind)
	}
}

// hangingServer holds every request until the test ends.
func hangingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	release := make(chan struct{})
	var started atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	return srv, &started
}

func TestRequestsHangingAtStopCountAsTimeouts(t *testing.T) {
	srv, started := hangingServer(t)
	stop := make(chan struct{})
	done := make(chan Result, 1)
	go func() {
		res, _ := Run(context.Background(), Options{URL: srv.URL, Concurrency: 3, Timeout: 300 * time.Millisecond, Stop: stop}, nil)
		done <- res
	}()
	for started.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	res := <-done
	// Three hung when the run stopped: they are waited for up to their
	// timeout and counted as failed, not dropped as canceled.
	if res.Requests < 3 || res.Failures != res.Requests || res.ByKind["timeout"] != res.Requests {
		t.Errorf("requests %d failures %d by kind %v, want every hung request a timeout failure", res.Requests, res.Failures, res.ByKind)
	}
}

func TestRequestsHangingAtTheEndOfTheDurationOrCtxCount(t *testing.T) {
	for name, bound := range map[string]func(*Options) context.Context{
		"duration": func(o *Options) context.Context { o.Duration = 500 * time.Millisecond; return context.Background() },
		"ctx": func(*Options) context.Context {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv, _ := hangingServer(t)
			o := Options{URL: srv.URL, Concurrency: 2, Timeout: time.Second}
			ctx := bound(&o)
			res, err := Run(ctx, o, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != 2 || res.ByKind["timeout"] != 2 {
				t.Errorf("requests %d by kind %v, want the 2 hung requests counted as timeouts", res.Requests, res.ByKind)
			}
			if res.Sending >= res.Elapsed {
				t.Errorf("sending %s, elapsed %s: the wait for the hung requests is not told apart", res.Sending, res.Elapsed)
			}
		})
	}
}

func TestMixSendsItsSharesOfPostsAndSlowRequests(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.RequestURI()]++
		mu.Unlock()
		_, _ = w.Write([]byte(`{"served_by":{"instance":"web-1"}}`))
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL + "/", Concurrency: 4, Requests: 100, POSTRatio: 0.2, SlowRatio: 0.1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"GET /": 70, "POST /visits": 20, "GET /slow?ms=1000": 10}
	for k, n := range want {
		if seen[k] != n {
			t.Errorf("server saw %v, want %v", seen, want)
			break
		}
	}
	if res.Sent[ClassGET] != 70 || res.Sent[ClassPOST] != 20 || res.Sent[ClassSlow] != 10 || res.Failures != 0 {
		t.Errorf("sent %v failures %v", res.Sent, res.ByKind)
	}
	if res.SlowLatency.Max <= 0 || res.Latency.Max <= 0 {
		t.Errorf("latency %+v, slow latency %+v: both classes answered", res.Latency, res.SlowLatency)
	}
	if s := res.Summary(); s.SlowLatencyMillis == nil || s.Sent[ClassPOST] != 20 {
		t.Errorf("summary = %+v", s)
	}
}

func TestMixURLsCanBeGiven(t *testing.T) {
	var posts, slows atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/count":
			posts.Add(1)
		case r.URL.RequestURI() == "/wait?ms=5":
			slows.Add(1)
		}
	}))
	defer srv.Close()
	_, err := Run(context.Background(), Options{URL: srv.URL, Concurrency: 1, Requests: 4, POSTRatio: 0.5, POSTURL: srv.URL + "/count",
		SlowRatio: 0.5, SlowURL: srv.URL + "/wait?ms=5"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if posts.Load() != 2 || slows.Load() != 2 {
		t.Errorf("posts %d slows %d, want 2 and 2", posts.Load(), slows.Load())
	}
}

func TestMixRefusesBadShares(t *testing.T) {
	for _, o := range []Options{
		{POSTRatio: -0.1}, {SlowRatio: 1.5}, {POSTRatio: 0.6, SlowRatio: 0.6},
		{POSTRatio: 0.1, POSTURL: "http://example.com/visits"},
	} {
		o.URL = "http://127.0.0.1:1/"
		_, err := Run(context.Background(), o, nil)
		if err == nil {
			t.Errorf("%+v: no error", o)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "Ratio") && !strings.Contains(msg, "not on this machine") {
			t.Errorf("%+v: error %q names neither the ratio nor the URL", o, msg)
		}
	}
}

func TestARateTheWorkersCannotHoldIsCountedLate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
	}))
	defer srv.Close()
	// One worker answering in 50 ms or more cannot send 100 a second.
	res, err := Run(context.Background(), Options{URL: srv.URL, Rate: 100, Concurrency: 1, Duration: 600 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Late == 0 || res.SendRate() >= 100 {
		t.Errorf("late %d, send rate %.1f/s: the rate missed is not shown", res.Late, res.SendRate())
	}
}
