// Package bench measures scaler's claim that scaling, rolling out, crashing
// and changing the load balancer lose no request, and compares it, in the
// same run, with what the tutorial scaler replaces: docker-compose
// `up --scale` behind an nginx whose upstream is the one name app:5000.
//
// It holds what the full benchmark (`make bench`) and its short version in
// `make test` share: the scenarios and their runner, a load recorder that
// cuts one steady load into time windows around each change, the compose
// baseline, scalerd's footprint read from /proc, and the report (JSON and
// the generated section of BENCHMARKS.md). The tests that start scalerd
// live in test/e2e, next to the harness that starts it; this package never
// starts scalerd itself, so there is one way to run it in tests.
//
// The load is internal/loadgen's, the same as `scalectl loadtest`, so that
// a failed request means the same thing in both.
package bench

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/scaler-dev/scaler/internal/loadgen"
)

// LoadOptions shape the steady load that runs through a scenario.
type LoadOptions struct {
	// Rate is requests per second; 0 is a closed loop.
	Rate float64 `json:"rate"`
	// Concurrency bounds the requests in flight. It must cover Rate times
	// the slowest answer, or a stalled backend would quietly lower the
	// rate and hide failures (coordinated omission).
	Concurrency int `json:"concurrency"`
	// Timeout is the longest a client waits; a slower answer is a failure.
	Timeout time.Duration `json:"-"`
	// TimeoutSeconds is Timeout for the report.
	TimeoutSeconds float64 `json:"timeoutSeconds"`
}

// Recording is a load running in the background that keeps the outcome of
// every request with its time.
type Recording struct {
	Started time.Time

	mu       sync.Mutex
	samples  []loadgen.Sample
	cancel   context.CancelFunc
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	result   loadgen.Result
	err      error
}

// StartLoad starts sending o's load to url until Stop or until ctx ends
// (a test's context, so that a test that fails half-way stops its load).
func StartLoad(ctx context.Context, url string, o LoadOptions) *Recording {
	ctx, cancel := context.WithCancel(ctx)
	r := &Recording{Started: time.Now(), cancel: cancel, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.result, r.err = loadgen.Run(ctx, loadgen.Options{
			URL: url, Rate: o.Rate, Concurrency: o.Concurrency, Timeout: o.Timeout, Stop: r.stop,
			OnSample: func(s loadgen.Sample) {
				r.mu.Lock()
				r.samples = append(r.samples, s)
				r.mu.Unlock()
			},
		}, nil)
	}()
	return r
}

// Stop ends the load and returns what it measured over its whole run. It
// sends no more requests and waits for those in flight (at most the
// load's Timeout), so that a request that hangs until it times out is
// counted as the failure it is.
func (r *Recording) Stop() (loadgen.Result, error) {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
	r.cancel()
	return r.result, r.err
}

// Samples returns the outcomes so far, ordered by the time they were sent.
func (r *Recording) Samples() []loadgen.Sample {
	r.mu.Lock()
	out := append([]loadgen.Sample(nil), r.samples...)
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// Window summarises the requests sent within a span of time.
type Window struct {
	Seconds        float64               `json:"seconds"`
	Requests       int64                 `json:"requests"`
	Failures       int64                 `json:"failures"`
	FailuresByKind map[string]int64      `json:"failuresByKind"`
	LatencyMillis  loadgen.LatencyMillis `json:"latencyMs"`
}

// Cut summarises the samples sent in [from, to). A request is counted in
// the window it was sent in, however long its answer took, so that a
// failure is never lost between two windows.
func Cut(samples []loadgen.Sample, from, to time.Time) Window {
	w := Window{Seconds: to.Sub(from).Seconds(), FailuresByKind: map[string]int64{}}
	var ok []time.Duration
	for _, s := range samples {
		if s.Start.Before(from) || !s.Start.Before(to) {
			continue
		}
		w.Requests++
		if s.Kind != "" {
			w.Failures++
			w.FailuresByKind[s.Kind]++
			continue
		}
		ok = append(ok, s.Latency)
	}
	w.LatencyMillis = loadgen.Summarise(ok).Millis()
	return w
}

// Hosts returns the hosts (served_by.hostname: one per container) that
// answered requests sent in [from, to).
func Hosts(samples []loadgen.Sample, from, to time.Time) map[string]bool {
	hosts := map[string]bool{}
	for _, s := range samples {
		if s.Kind == "" && s.Host != "" && !s.Start.Before(from) && s.Start.Before(to) {
			hosts[s.Host] = true
		}
	}
	return hosts
}

// FirstFresh returns the earliest answer to a request sent at or after
// since from a host not in known, and that host. A replica's first answer
// is what "receives traffic" means here: the container is up, healthy, in
// the upstream, and nginx's workers route to it.
//
// Hosts are names (served_by.hostname), and scalerd names a container's
// host after its replica, which a replacement may reuse: callers choose
// known and since so that an answer from a reused name can only come from
// the new container (a request sent after the old one was killed).
func FirstFresh(samples []loadgen.Sample, since time.Time, known map[string]bool) (time.Time, string, bool) {
	var first time.Time
	var host string
	for _, s := range samples {
		if s.Kind != "" || s.Host == "" || known[s.Host] || s.Start.Before(since) {
			continue
		}
		if first.IsZero() || s.End().Before(first) {
			first, host = s.End(), s.Host
		}
	}
	return first, host, !first.IsZero()
}
