package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCountsSuccessesFailuresAndInstances(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if i%5 == 0 {
			http.Error(w, "boom", http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, `{"served_by":{"instance":"web-%d"}}`, i%2)
	}))
	defer srv.Close()

	res, err := Run(context.Background(), Options{URL: srv.URL, Concurrency: 1, Requests: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 10 || res.Failures != 2 || res.Successes != 8 {
		t.Fatalf("requests/successes/failures = %d/%d/%d, want 10/8/2", res.Requests, res.Successes, res.Failures)
	}
	if res.ByKind["status 502"] != 2 {
		t.Errorf("by kind = %v", res.ByKind)
	}
	if res.Instances["web-0"]+res.Instances["web-1"] != 8 || len(res.Instances) != 2 {
		t.Errorf("instances = %v", res.Instances)
	}
	if res.Latency.Max <= 0 || res.Latency.P50 > res.Latency.Max {
		t.Errorf("latency = %+v", res.Latency)
	}
}

func TestRunAtAFixedRateStopsAtItsDuration(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL, Rate: 100, Concurrency: 4, Duration: 500 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 100/s for half a second is about 50; the bounds only catch a rate
	// that is ignored altogether, not scheduling noise.
	if res.Requests < 10 || res.Requests > 80 {
		t.Errorf("requests = %d at 100/s for 0.5s", res.Requests)
	}
	if res.Failures != 0 {
		t.Errorf("failures = %v", res.ByKind)
	}
}

func TestConnectionRefusedIsClassified(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	res, err := Run(context.Background(), Options{URL: "http://" + addr + "/", Concurrency: 1, Requests: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.ByKind["connection refused"] != 3 {
		t.Errorf("by kind = %v", res.ByKind)
	}
}

func TestCheckTargetRefusesRemoteHosts(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080/", "http://localhost/", "http://[::1]:80/", "http://127.3.2.1/"} {
		if err := CheckTarget(ok, false); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://10.0.0.1/", "http://example.com/", "ftp://127.0.0.1/", "127.0.0.1:8080"} {
		if err := CheckTarget(bad, false); err == nil {
			t.Errorf("%s must be refused", bad)
		}
	}
	if err := CheckTarget("http://example.com/", false); !strings.Contains(err.Error(), "--allow-remote") {
		t.Errorf("the error must name --allow-remote: %v", err)
	}
	if err := CheckTarget("http://example.com/", true); err != nil {
		t.Errorf("--allow-remote: %v", err)
	}
}

func TestOnSampleSeesEveryRequestWithItsHost(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 3 {
			http.Error(w, "boom", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"served_by":{"hostname":"0123abcd","instance":"web-1"}}`)
	}))
	defer srv.Close()

	var mu sync.Mutex
	var samples []Sample
	before := time.Now()
	res, err := Run(context.Background(), Options{URL: srv.URL, Concurrency: 2, Requests: 6, OnSample: func(s Sample) {
		mu.Lock()
		samples = append(samples, s)
		mu.Unlock()
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(samples)) != res.Requests || len(samples) != 6 {
		t.Fatalf("%d samples for %d requests", len(samples), res.Requests)
	}
	failed := 0
	for _, s := range samples {
		if s.Start.Before(before) || s.Latency <= 0 || s.End().After(time.Now()) {
			t.Errorf("sample times %+v", s)
		}
		switch s.Kind {
		case "":
			if s.Host != "0123abcd" || s.Instance != "web-1" {
				t.Errorf("served_by not read: %+v", s)
			}
		case "status 503":
			failed++
		default:
			t.Errorf("kind %q", s.Kind)
		}
	}
	if failed != 1 {
		t.Errorf("%d failed samples, want 1", failed)
	}
}

func TestSummaryIsInMillisecondsWithNoNilMaps(t *testing.T) {
	r := Result{Requests: 4, Successes: 4, Elapsed: 2 * time.Second,
		Latency: Latency{P50: 1500 * time.Microsecond, P90: 2 * time.Millisecond, P99: 3 * time.Millisecond, Max: time.Second}}
	s := r.Summary()
	if s.RequestsPerSecond != 2 || s.ElapsedSeconds != 2 || s.LatencyMillis.P50 != 1.5 || s.LatencyMillis.Max != 1000 {
		t.Errorf("summary %+v", s)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"requests":4`, `"failures":0`, `"failuresByKind":{}`, `"instances":{}`, `"latencyMs":{"p50":1.5`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}

func TestStopLetsRequestsInFlightFinishAndCount(t *testing.T) {
	release := make(chan struct{})
	var started atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		<-release
		http.Error(w, "late", http.StatusGatewayTimeout)
	}))
	defer srv.Close()
	defer close(release)

	stop := make(chan struct{})
	done := make(chan Result)
	go func() {
		res, _ := Run(context.Background(), Options{URL: srv.URL, Concurrency: 3, Stop: stop}, nil)
		done <- res
	}()
	for started.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	time.Sleep(50 * time.Millisecond)
	release <- struct{}{}
	release <- struct{}{}
	release <- struct{}{}
	res := <-done
	// All three were answered after Stop closed, and count; no new one
	// was sent.
	if res.Requests != 3 || res.ByKind["status 504"] != 3 {
		t.Errorf("requests %d, by kind %v", res.Requests, res.ByKind)
	}
}

func TestMoreURLsSpreadTheWorkersOverEveryURL(t *testing.T) {
	// Every answer waits until all six workers have a request in flight,
	// so each worker sends exactly one: where they went shows how the
	// workers were spread, with no timing in the count (a closed loop's
	// shares drifted on a loaded machine).
	const workers = 6
	var arrived atomic.Int64
	all := make(chan struct{})
	var urls []string
	for i := range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if arrived.Add(1) == workers {
				close(all)
			}
			select {
			case <-all:
			case <-time.After(5 * time.Second):
			}
			fmt.Fprintf(w, `{"served_by":{"instance":"direct-%d"}}`, i)
		}))
		defer srv.Close()
		urls = append(urls, srv.URL)
	}
	res, err := Run(context.Background(), Options{URL: urls[0], MoreURLs: urls[1:], Concurrency: workers, Requests: workers}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failures != 0 || len(res.Instances) != 3 {
		t.Fatalf("instances = %v, failures = %v; want all three servers answering", res.Instances, res.ByKind)
	}
	for name, n := range res.Instances {
		if n != 2 {
			t.Errorf("%s answered %d of %d; want 2, one from each of its two workers (instances %v)", name, n, res.Successes, res.Instances)
		}
	}

	if _, err := Run(context.Background(), Options{URL: urls[0], MoreURLs: urls[1:], Concurrency: 2, Requests: 1}, nil); err == nil || !strings.Contains(err.Error(), "raise the concurrency to 3") {
		t.Errorf("2 workers for 3 URLs: err = %v, want the fix named", err)
	}
	if _, err := Run(context.Background(), Options{URL: urls[0], MoreURLs: []string{"http://example.com/"}, Concurrency: 2, Requests: 1}, nil); err == nil || !strings.Contains(err.Error(), "example.com") {
		t.Errorf("a remote URL among MoreURLs: err = %v, want it refused by name", err)
	}
}

// TestCountTrueCountsDegradedAnswers: an app that answers 200 without its
// store (demoapp's "degraded": true) is counted, and only when asked to.
func TestCountTrueCountsDegradedAnswers(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 4 {
		case 0:
			fmt.Fprint(w, `{"visits":null,"degraded":true,"served_by":{"instance":"web-1"}}`)
		case 1:
			fmt.Fprint(w, `{"visits":3,"degraded":false}`)
		case 2:
			fmt.Fprint(w, `{"degraded":"true"}`) // a string is not true
		default:
			fmt.Fprint(w, `not json`)
		}
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{URL: srv.URL, Concurrency: 1, Requests: 20, CountTrue: "degraded"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Successes != 20 || res.CountedTrue != 5 {
		t.Errorf("successes %d, counted true %d; want 20 and 5", res.Successes, res.CountedTrue)
	}
	if s := res.Summary(); s.CountedTrue != 5 {
		t.Errorf("summary counted true = %d", s.CountedTrue)
	}
	res, err = Run(context.Background(), Options{URL: srv.URL, Concurrency: 1, Requests: 8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.CountedTrue != 0 {
		t.Errorf("counted %d without CountTrue", res.CountedTrue)
	}
}
