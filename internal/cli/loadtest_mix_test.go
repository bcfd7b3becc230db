package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/loadgen"
)

func TestLoadtestSendsTheMixAndReportsIt(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Method+" "+r.URL.RequestURI()]++
		mu.Unlock()
		_, _ = w.Write([]byte(`{"served_by":{"instance":"web-1"}}`))
	}))
	t.Cleanup(srv.Close)
	out, errOut, code := ctl(noDaemon(t), "loadtest", srv.URL+"/", "--rate", "0", "-c", "2", "-n", "20",
		"--post-ratio", "0.25", "--slow-ratio", "0.25", "--slow-url", srv.URL+"/slow?ms=3")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	if seen["POST /visits"] != 5 || seen["GET /slow?ms=3"] != 5 || seen["GET /"] != 10 {
		t.Errorf("server saw %v", seen)
	}
	for _, want := range []string{"Sent:       10 GET, 5 POST, 5 slow", "Resent:     0", "Slow ones:  p50 ", "25% POST, 25% slow"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

// TestLoadtestFailsOnAResentRequest: the server closes every kept-alive
// connection under the second request; net/http resends those GETs on a
// new connection and gets a 200, which loadtest must not call a success.
func TestLoadtestFailsOnAResentRequest(t *testing.T) {
	var mu sync.Mutex
	perConn := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		perConn[r.RemoteAddr]++
		n := perConn[r.RemoteAddr]
		mu.Unlock()
		if n == 1 {
			_, _ = w.Write([]byte(`{"served_by":{"instance":"web-1"}}`))
			return
		}
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	out, errOut, code := ctl(noDaemon(t), "loadtest", srv.URL+"/", "--rate", "0", "-c", "1", "-n", "5", "-o", "json")
	if code == 0 {
		t.Fatalf("requests were resent, yet exit 0:\n%s", out)
	}
	var rep struct {
		Resent   int64            `json:"resent"`
		Failures int64            `json:"failures"`
		ByKind   map[string]int64 `json:"failuresByKind"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if rep.Resent != 4 || rep.Failures != 4 || rep.ByKind["resent"] != 4 {
		t.Errorf("json %+v, want 4 resent and failed", rep)
	}
	if !strings.Contains(errOut, "4 of 5 requests failed (4 of them resent by the client on a new connection)") {
		t.Errorf("stderr %q", errOut)
	}
}

func TestLoadtestSaysWhenTheRateWasNotReached(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(40 * time.Millisecond)
		_, _ = w.Write([]byte(`{"served_by":{"instance":"web-1"}}`))
	}))
	t.Cleanup(srv.Close)
	// One worker at 40 ms an answer sends at most 25 a second, not 200.
	out, errOut, code := ctl(noDaemon(t), "loadtest", srv.URL+"/", "--rate", "200", "-c", "1", "-d", "500ms")
	if code != 0 {
		t.Errorf("exit %d: no request failed; a missed rate is said, not an error: %s", code, errOut)
	}
	if !strings.Contains(out, "Rate:       NOT REACHED: asked 200 req/s, sent ") || !strings.Contains(errOut, "--rate 200 was not reached") ||
		!strings.Contains(errOut, "raise --concurrency") {
		t.Errorf("the missed rate is not said:\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}

}

func TestRateReached(t *testing.T) {
	held := loadgen.Result{Requests: 1000, Sending: 10 * time.Second}
	late := loadgen.Result{Requests: 1000, Sending: 10 * time.Second, Late: 3}
	short := loadgen.Result{Requests: 968, Sending: 10 * time.Second} // 96.8 req/s: issue 18 saw 193.6 of 200
	for _, c := range []struct {
		rate float64
		res  loadgen.Result
		want bool
	}{{100, held, true}, {0, short, true}, {100, late, false}, {100, short, false}, {200, held, false}, {101, held, true}} {
		if got := rateReached(c.rate, &c.res); got != c.want {
			t.Errorf("rateReached(%v, %d in %s, %d late) = %v, want %v", c.rate, c.res.Requests, c.res.Sending, c.res.Late, got, c.want)
		}
	}
}

func TestLoadtestBadMixFlagsNameTheFix(t *testing.T) {
	url := "http://127.0.0.1:1/"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--post-ratio", "1.5"}, "--post-ratio=1.5: use a share between 0 and 1"},
		{[]string{"--slow-ratio", "-0.1"}, "--slow-ratio=-0.1: use a share between 0 and 1"},
		{[]string{"--post-ratio", "0.7", "--slow-ratio", "0.5"}, "add up to more than 1"},
		{[]string{"--post-url", "http://203.0.113.7/visits", "--post-ratio", "0.1"}, "--post-url: "},
		{[]string{"--slow-url", "nope"}, "--slow-url: "},
	} {
		_, errOut, code := ctl(noDaemon(t), append([]string{"loadtest", url}, c.args...)...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("scalectl loadtest %v: exit %d, stderr %q; want non-zero and %q", c.args, code, errOut, c.want)
		}
	}
}
