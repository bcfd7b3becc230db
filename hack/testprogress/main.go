// Command testprogress turns `go test -json` into what a person (or a CI
// log) can follow: one line per finished package, a line as soon as a test
// fails, a heartbeat every 30 s naming the tests still running and for how
// long, and at the end every failure's full output and a summary. `make
// test` runs for minutes; without this it printed nothing until the end.
//
// It exits 1 when any test or package failed (and 0 otherwise), so that the
// pipeline's status holds even without pipefail. Lines that are not JSON
// (go test's own errors on stderr, merged in) are printed as they come and
// kept for the summary.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

func main() {
	heartbeat := flag.Duration("heartbeat", 30*time.Second, "how often to name the tests still running")
	flag.Parse()
	os.Exit(run(os.Stdin, os.Stdout, *heartbeat, time.Now))
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time        time.Time
	Action      string
	Package     string
	ImportPath  string // build-output and build-fail
	Test        string
	Elapsed     float64
	Output      string
	FailedBuild string
}

// key names a test of a package.
type key struct{ pkg, test string }

// failure is a failed test, or a package that failed outside its tests
// (test ""): a build error, a -timeout panic, a crash in TestMain.
type failure struct {
	pkg, test string
	build     string // the import path whose build failed, if that was it
}

// progress is what has been seen so far.
type progress struct {
	mu                                        sync.Mutex
	out                                       io.Writer
	now                                       func() time.Time
	start                                     time.Time
	running                                   map[key]time.Time // top-level tests, and packages under "" while they start
	output                                    map[key]*strings.Builder
	build                                     map[string]*strings.Builder // build output by import path
	failed                                    []failure
	stray                                     []string // lines that were not JSON
	passed, skipped, packages, failedPackages int
}

func run(in io.Reader, out io.Writer, heartbeat time.Duration, now func() time.Time) int {
	p := &progress{out: out, now: now, start: now(), running: map[key]time.Time{},
		output: map[key]*strings.Builder{}, build: map[string]*strings.Builder{}}
	done := make(chan struct{})
	var wg sync.WaitGroup
	if heartbeat > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(heartbeat)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					p.heartbeat()
				}
			}
		}()
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1024*1024), 16*1024*1024) // a goroutine dump is one long output
	for sc.Scan() {
		p.line(sc.Bytes())
	}
	close(done)
	wg.Wait()
	if err := sc.Err(); err != nil {
		fmt.Fprintf(out, "testprogress: reading go test's output: %v\n", err)
		p.summary()
		return 1
	}
	return p.summary()
}

// line takes in one line of input.
func (p *progress) line(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var e event
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &e) != nil {
		fmt.Fprintln(p.out, string(b))
		p.stray = append(p.stray, string(b))
		return
	}
	switch e.Action {
	case "build-output":
		buf := p.build[e.ImportPath]
		if buf == nil {
			buf = &strings.Builder{}
			p.build[e.ImportPath] = buf
		}
		buf.WriteString(e.Output)
		return
	case "build-fail":
		return // the package's fail says it, with the output
	}
	k := key{e.Package, e.Test}
	topLevel := e.Test != "" && !strings.Contains(e.Test, "/")
	switch e.Action {
	case "start":
		p.running[key{e.Package, ""}] = p.now()
	case "run":
		if topLevel {
			p.running[k] = p.now()
		}
	case "output":
		buf := p.output[k]
		if buf == nil {
			buf = &strings.Builder{}
			p.output[k] = buf
		}
		buf.WriteString(e.Output)
	case "pass", "skip", "fail":
		p.finish(e, k, topLevel)
	}
}

// finish records the end of a test or a package.
func (p *progress) finish(e event, k key, topLevel bool) {
	if e.Test == "" {
		delete(p.running, k)
		p.packages++
		elapsed := time.Duration(e.Elapsed * float64(time.Second)).Round(100 * time.Millisecond)
		switch {
		case e.Action == "fail":
			p.failedPackages++
			unfinished := p.stillRunning(e.Package)
			// A package that failed only because its tests did is
			// summed up by their failures; one that failed outside them
			// (a build error, a -timeout panic, a crash) shows its own
			// output.
			if unfinished != "" || e.FailedBuild != "" || !p.testFailed(e.Package) {
				p.failed = append(p.failed, failure{pkg: e.Package, build: e.FailedBuild})
			}
			fmt.Fprintf(p.out, "FAIL  %s  %s%s\n", e.Package, elapsed, unfinished)
		case e.Action == "skip":
			fmt.Fprintf(p.out, "-     %s  [no test files]\n", e.Package)
		default:
			fmt.Fprintf(p.out, "ok    %s  %s\n", e.Package, elapsed)
		}
		p.forgetPackage(e.Package)
		return
	}
	if topLevel {
		delete(p.running, k)
	}
	switch e.Action {
	case "pass":
		if topLevel {
			p.passed++
		}
	case "skip":
		if topLevel {
			p.skipped++
		}
	case "fail":
		p.failed = append(p.failed, failure{pkg: e.Package, test: e.Test})
		fmt.Fprintf(p.out, "--- FAIL: %s %s (%.2fs)\n", e.Package, e.Test, e.Elapsed)
	}
	if e.Action != "fail" {
		delete(p.output, k) // a passing test's output is not shown: keep memory small
	}
}

// testFailed reports whether a test of pkg failed.
func (p *progress) testFailed(pkg string) bool {
	for _, f := range p.failed {
		if f.pkg == pkg && f.test != "" {
			return true
		}
	}
	return false
}

// stillRunning names the tests of pkg that never finished: what a
// -timeout panic or a crash cut short.
func (p *progress) stillRunning(pkg string) string {
	var names []string
	for k := range p.running {
		if k.pkg == pkg && k.test != "" {
			names = append(names, k.test)
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	return " (unfinished: " + strings.Join(names, ", ") + ")"
}

// forgetPackage drops what the summary will not need of a finished package.
func (p *progress) forgetPackage(pkg string) {
	for k := range p.running {
		if k.pkg == pkg {
			delete(p.running, k)
		}
	}
	for k := range p.output {
		if k.pkg != pkg {
			continue
		}
		keep := false
		for _, f := range p.failed {
			keep = keep || f.pkg == pkg && f.test == k.test
		}
		if !keep {
			delete(p.output, k)
		}
	}
}

// heartbeat prints the time so far and the tests running, longest first.
func (p *progress) heartbeat() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	type item struct {
		name  string
		since time.Time
	}
	var items []item
	for k, since := range p.running {
		if k.test == "" {
			continue
		}
		items = append(items, item{short(k.pkg) + " " + k.test, since})
	}
	sort.Slice(items, func(i, j int) bool {
		if !items[i].since.Equal(items[j].since) {
			return items[i].since.Before(items[j].since)
		}
		return items[i].name < items[j].name
	})
	var parts []string
	for i, it := range items {
		if i == 6 {
			parts = append(parts, fmt.Sprintf("and %d more", len(items)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", it.name, now.Sub(it.since).Round(time.Second)))
	}
	what := "building or starting test binaries"
	if len(parts) > 0 {
		what = "running " + strings.Join(parts, ", ")
	}
	fmt.Fprintf(p.out, "... %s so far, %d packages done: %s\n", now.Sub(p.start).Round(time.Second), p.packages, what)
}

// short drops the module path, which every package shares.
func short(pkg string) string {
	if i := strings.Index(pkg, "/scaler/"); i >= 0 {
		return pkg[i+len("/scaler/"):]
	}
	return pkg
}

// summary prints every failure's full output and the counts, and returns
// the exit code.
func (p *progress) summary() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.failed) > 0 {
		fmt.Fprintf(p.out, "\n=== %d failure(s), with their output:\n", len(p.failed))
		for _, f := range p.failed {
			if f.test == "" {
				fmt.Fprintf(p.out, "\n--- FAIL: %s (the package, outside any test)\n", f.pkg)
			} else {
				fmt.Fprintf(p.out, "\n--- FAIL: %s %s\n", f.pkg, f.test)
			}
			if b := p.build[f.build]; f.build != "" && b != nil {
				fmt.Fprint(p.out, b.String())
			}
			if b := p.output[key{f.pkg, f.test}]; b != nil {
				fmt.Fprint(p.out, b.String())
			}
		}
	}
	if len(p.stray) > 0 && len(p.failed) > 0 {
		fmt.Fprintf(p.out, "\n=== go test also said:\n%s\n", strings.Join(p.stray, "\n"))
	}
	fmt.Fprintf(p.out, "\n%d packages (%d failed), %d tests passed, %d failed, %d skipped, in %s\n",
		p.packages, p.failedPackages, p.passed, p.countFailedTests(), p.skipped, p.now().Sub(p.start).Round(time.Second))
	if len(p.failed) > 0 || (p.packages == 0 && len(p.stray) > 0) {
		return 1
	}
	return 0
}

func (p *progress) countFailedTests() int {
	n := 0
	for _, f := range p.failed {
		if f.test != "" {
			n++
		}
	}
	return n
}
