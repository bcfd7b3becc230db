package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// goTestJSON is what `go test -json` printed for two packages: one passes,
// one has a failing test with output, and a third fails to build.
const goTestJSON = `{"Action":"start","Package":"example.com/scaler/api"}
{"Action":"run","Package":"example.com/scaler/api","Test":"TestA"}
{"Action":"output","Package":"example.com/scaler/api","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"pass","Package":"example.com/scaler/api","Test":"TestA","Elapsed":0.01}
{"Action":"pass","Package":"example.com/scaler/api","Elapsed":0.5}
{"Action":"start","Package":"example.com/scaler/controllers"}
{"Action":"run","Package":"example.com/scaler/controllers","Test":"TestScale"}
{"Action":"run","Package":"example.com/scaler/controllers","Test":"TestScale/down"}
{"Action":"output","Package":"example.com/scaler/controllers","Test":"TestScale/down","Output":"    scale_test.go:12: want 2 replicas, got 3\n"}
{"Action":"fail","Package":"example.com/scaler/controllers","Test":"TestScale/down","Elapsed":1.5}
{"Action":"output","Package":"example.com/scaler/controllers","Test":"TestScale","Output":"--- FAIL: TestScale (1.50s)\n"}
{"Action":"fail","Package":"example.com/scaler/controllers","Test":"TestScale","Elapsed":1.5}
{"Action":"run","Package":"example.com/scaler/controllers","Test":"TestSkipped"}
{"Action":"skip","Package":"example.com/scaler/controllers","Test":"TestSkipped","Elapsed":0}
{"Action":"fail","Package":"example.com/scaler/controllers","Elapsed":2.1}
{"ImportPath":"example.com/scaler/cmd/x","Action":"build-output","Output":"cmd/x/main.go:3:1: syntax error\n"}
{"ImportPath":"example.com/scaler/cmd/x","Action":"build-fail"}
{"Action":"start","Package":"example.com/scaler/cmd/x"}
{"Action":"fail","Package":"example.com/scaler/cmd/x","Elapsed":0,"FailedBuild":"example.com/scaler/cmd/x"}
`

func TestFailuresShowTheirOutputAndExitNonZero(t *testing.T) {
	var out bytes.Buffer
	code := run(strings.NewReader(goTestJSON), &out, 0, time.Now)
	got := out.String()
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"ok    example.com/scaler/api  500ms\n",
		"--- FAIL: example.com/scaler/controllers TestScale/down (1.50s)\n",
		"FAIL  example.com/scaler/controllers  2.1s\n",
		// The summary repeats each failure with its full output.
		"--- FAIL: example.com/scaler/controllers TestScale/down\n    scale_test.go:12: want 2 replicas, got 3\n",
		"--- FAIL: example.com/scaler/cmd/x (the package, outside any test)\ncmd/x/main.go:3:1: syntax error\n",
		"3 packages (2 failed), 1 tests passed, 2 failed, 1 skipped",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "--- FAIL: example.com/scaler/controllers (the package") {
		t.Errorf("a package that failed only by its tests is listed as a failure of its own:\n%s", got)
	}
	if strings.Contains(got, "=== RUN   TestA") {
		t.Errorf("a passing test's output was printed:\n%s", got)
	}
}

func TestAllPassingExitsZero(t *testing.T) {
	var out bytes.Buffer
	in := strings.Join(strings.Split(goTestJSON, "\n")[:5], "\n")
	if code := run(strings.NewReader(in), &out, 0, time.Now); code != 0 {
		t.Errorf("exit %d, want 0:\n%s", code, out.String())
	}
}

// A -timeout panic ends the package with tests that never finished: the
// package line names them and the summary shows the panic.
func TestTimeoutNamesTheUnfinishedTests(t *testing.T) {
	in := `{"Action":"start","Package":"example.com/scaler/test/e2e"}
{"Action":"run","Package":"example.com/scaler/test/e2e","Test":"TestSlow"}
{"Action":"output","Package":"example.com/scaler/test/e2e","Output":"panic: test timed out after 25m0s\n"}
{"Action":"fail","Package":"example.com/scaler/test/e2e","Elapsed":1500}
`
	var out bytes.Buffer
	if code := run(strings.NewReader(in), &out, 0, time.Now); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"(unfinished: TestSlow)", "panic: test timed out after 25m0s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// The heartbeat names the running tests, longest first, with their time.
func TestHeartbeatNamesRunningTests(t *testing.T) {
	clock := time.Unix(1000, 0)
	now := func() time.Time { return clock }
	var out bytes.Buffer
	p := &progress{out: &out, now: now, start: clock, running: map[key]time.Time{},
		output: map[key]*strings.Builder{}, build: map[string]*strings.Builder{}}
	p.line([]byte(`{"Action":"run","Package":"example.com/scaler/test/e2e","Test":"TestRollout"}`))
	clock = clock.Add(40 * time.Second)
	p.line([]byte(`{"Action":"run","Package":"example.com/scaler/internal/docker","Test":"TestCreate"}`))
	clock = clock.Add(5 * time.Second)
	p.heartbeat()
	want := "... 45s so far, 0 packages done: running test/e2e TestRollout (45s), internal/docker TestCreate (5s)\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

// A line that is not JSON (go test's own error) is printed as it comes.
func TestNonJSONLinesPassThrough(t *testing.T) {
	var out bytes.Buffer
	code := run(strings.NewReader("go: cannot find main module\n"), &out, 0, time.Now)
	if code != 1 || !strings.HasPrefix(out.String(), "go: cannot find main module\n") {
		t.Errorf("exit %d output %q", code, out.String())
	}
}
