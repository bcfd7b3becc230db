package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// demoServer answers as demoapp does, naming one of instances in turn;
// every failEvery-th request gets a 502 when failEvery > 0.
func demoServer(t *testing.T, failEvery int64, instances ...string) string {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		if failEvery > 0 && i%failEvery == 0 {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, `{"message":"hi","served_by":{"hostname":"h","instance":%q}}`, instances[int(i)%len(instances)])
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// noDaemon is a socket nobody listens on: loadtest never calls scalerd.
func noDaemon(t *testing.T) string { return filepath.Join(t.TempDir(), "none.sock") }

func TestLoadtestReportsInstancesWithBars(t *testing.T) {
	url := demoServer(t, 0, "web-1", "web-2", "web-10")
	out, errOut, code := ctl(noDaemon(t), "loadtest", url, "--rate", "0", "-c", "2", "--requests", "30")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{"Requests:   30 in", "Successes:  30", "Failures:   0\n", "Latency:    p50 ", "closed loop, 2 workers, at most 30 requests", "INSTANCE", "33.3%", "█"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	// Natural order: web-10 after web-2.
	if i2, i10 := strings.Index(out, "web-2 "), strings.Index(out, "web-10"); i2 < 0 || i10 < i2 {
		t.Errorf("instances out of order:\n%s", out)
	}
	if strings.Contains(out, "Failures by kind") {
		t.Errorf("no failure, so no failure table:\n%s", out)
	}
	if errOut != "" {
		t.Errorf("no progress line off a terminal, got %q", errOut)
	}
}

func TestLoadtestSpreadsItsWorkersOverSeveralURLs(t *testing.T) {
	first, second := demoServer(t, 0, "direct-1"), demoServer(t, 0, "direct-2")
	out, errOut, code := ctl(noDaemon(t), "loadtest", first, second, "--rate", "0", "-c", "2", "-d", "300ms")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, want := range []string{"Target:     " + first + ", " + second, "2 workers spread over 2 URLs", "direct-1", "direct-2"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	out, _, code = ctl(noDaemon(t), "loadtest", first, second, "-c", "2", "-n", "4", "--rate", "0", "-o", "json")
	var got struct {
		URL      string   `json:"url"`
		MoreURLs []string `json:"moreUrls"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if got.URL != first || len(got.MoreURLs) != 1 || got.MoreURLs[0] != second {
		t.Errorf("json names %q and %v, want %q and [%q]", got.URL, got.MoreURLs, first, second)
	}
}

func TestLoadtestFailsOnAnyFailedRequestAndSaysWhich(t *testing.T) {
	url := demoServer(t, 5, "web-1")
	out, errOut, code := ctl(noDaemon(t), "loadtest", url, "--rate", "0", "-c", "1", "-n", "20")
	if code == 0 {
		t.Fatalf("4 of 20 requests failed, yet exit 0:\n%s", out)
	}
	if !strings.Contains(errOut, "4 of 20 requests failed") {
		t.Errorf("stderr %q", errOut)
	}
	if !strings.Contains(out, "Failures by kind:") || !strings.Contains(out, "status 502") || !strings.Contains(out, "Failures:   4 (20.00%)") {
		t.Errorf("report:\n%s", out)
	}
}

func TestLoadtestJSONIsOneObject(t *testing.T) {
	url := demoServer(t, 4, "web-1", "web-2")
	out, _, code := ctl(noDaemon(t), "loadtest", url, "--rate", "0", "-c", "1", "-n", "8", "-o", "json")
	if code == 0 {
		t.Error("failures must exit non-zero with -o json too")
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	if got["requests"] != 8.0 || got["failures"] != 2.0 || got["url"] != url {
		t.Errorf("json %v", got)
	}
	inst, _ := got["instances"].(map[string]any)
	if len(inst) != 2 {
		t.Errorf("instances %v", got["instances"])
	}
	if kinds, _ := got["failuresByKind"].(map[string]any); kinds["status 502"] != 2.0 {
		t.Errorf("failuresByKind %v", got["failuresByKind"])
	}
	if lat, _ := got["latencyMs"].(map[string]any); lat["p99"] == nil {
		t.Errorf("latencyMs %v", got["latencyMs"])
	}
}

func TestLoadtestCountsDegradedAnswers(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"degraded":%v,"served_by":{"instance":"web-1"}}`, n.Add(1)%2 == 0)
	}))
	t.Cleanup(srv.Close)
	out, errOut, code := ctl(noDaemon(t), "loadtest", srv.URL+"/", "--rate", "0", "-c", "1", "-n", "10", "--count-true", "degraded")
	if code != 0 || !strings.Contains(out, "degraded:   5 (50.00%) of the successes") {
		t.Errorf("exit %d, stderr %q; report lacks the degraded count:\n%s", code, errOut, out)
	}
	out, _, code = ctl(noDaemon(t), "loadtest", srv.URL+"/", "--rate", "0", "-c", "1", "-n", "4", "--count-true", "degraded", "-o", "json")
	var rep struct {
		CountTrue   string `json:"countTrue"`
		CountedTrue int64  `json:"countedTrue"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.CountTrue != "degraded" || rep.CountedTrue != 2 {
		t.Errorf("exit %d, json %+v (%v):\n%s", code, rep, err, out)
	}
}

func TestLoadtestBadFlagsExitNonZeroNamingTheFix(t *testing.T) {
	url := "http://127.0.0.1:1/"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"loadtest"}, "give a URL"},
		{[]string{"loadtest", url, url, url, "-c", "2"}, "--concurrency=2 for 3 URLs: each URL needs a worker of its own; use -c 3 or more"},
		{[]string{"loadtest", url, "http://203.0.113.7/"}, "203.0.113.7"},
		{[]string{"loadtest", url, "--rate=-1"}, "--rate=-1: use 0 for a closed loop or a positive rate"},
		{[]string{"loadtest", url, "--concurrency", "0"}, "--concurrency=0: use 1 or more"},
		{[]string{"loadtest", url, "--duration=-1s"}, "--duration=-1s: use a positive duration"},
		{[]string{"loadtest", url, "--requests=-5"}, "--requests=-5"},
		{[]string{"loadtest", url, "--duration", "0"}, "would never end"},
		{[]string{"loadtest", url, "--timeout", "0"}, "--timeout=0s"},
		{[]string{"loadtest", url, "-o", "yaml"}, `--output="yaml": use json`},
		{[]string{"loadtest", url, "--count-true", "a.b"}, `--count-true="a.b": name a top-level JSON field`},
		{[]string{"loadtest", url, "--rate", "fast"}, "invalid argument"},
		{[]string{"loadtest", "http://203.0.113.7/"}, "--allow-remote"},
		{[]string{"loadtest", "127.0.0.1:8080"}, "absolute http:// URL"},
	}
	for _, c := range cases {
		_, errOut, code := ctl(noDaemon(t), c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("scalectl %v: exit %d, stderr %q; want non-zero and %q", c.args, code, errOut, c.want)
		}
		if !strings.Contains(errOut, "--help") && c.want != "invalid argument" {
			t.Errorf("scalectl %v: a usage error should point at --help: %q", c.args, errOut)
		}
	}
}

func TestLoadtestCountsRefusedConnections(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/"
	srv.Close() // nothing listens there any more
	out, errOut, code := ctl(noDaemon(t), "loadtest", url, "-n", "3", "--rate", "0", "-c", "1")
	if code == 0 || !strings.Contains(out, "connection refused") || !strings.Contains(errOut, "3 of 3 requests failed") {
		t.Errorf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "no answer named its instance") {
		t.Errorf("report:\n%s", out)
	}
}

func TestBarAndNaturalOrder(t *testing.T) {
	if got := bar(10, 10, 4); got != "████" {
		t.Errorf("full bar %q", got)
	}
	if got := bar(1, 16, 4); got != "▏" && got != "▎" {
		t.Errorf("small bar %q", got)
	}
	if bar(0, 10, 4) != "" {
		t.Error("zero gets no bar")
	}
	for _, c := range [][2]string{{"web-2", "web-10"}, {"a", "b"}, {"web-1", "web-1a"}, {"app-09", "app-10"}} {
		if !naturalLess(c[0], c[1]) || naturalLess(c[1], c[0]) {
			t.Errorf("naturalLess(%s, %s)", c[0], c[1])
		}
	}
}
