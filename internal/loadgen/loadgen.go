// Package loadgen sends a steady HTTP load and counts what comes back: the
// zero-downtime tests and `scalectl loadtest` both stand on it, so "no
// request failed" means the same thing everywhere.
package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"
)

// Options shape a load.
type Options struct {
	URL string
	// MoreURLs spreads the workers over URL and these in turn: worker i
	// sends to the (i mod n)th. One client then loads several replicas'
	// own ports as evenly as a round-robin load balancer would, without
	// one: the benchmarks tell what more replicas cost on the same cores
	// from what the load balancer's hop costs.
	MoreURLs []string
	// Rate is requests per second; 0 runs a closed loop, each worker
	// sending its next request as soon as the last one is answered.
	Rate float64
	// Concurrency is the number of workers (and at most that many
	// requests in flight).
	Concurrency int
	// Duration and Requests bound the run; whichever is reached first ends
	// it. Zero means no bound of that kind (ctx then ends the run).
	Duration time.Duration
	Requests int64
	// Timeout bounds one request.
	Timeout time.Duration
	// AllowRemote lets URL name a host other than loopback.
	AllowRemote bool
	// OnSample, if set, is called with every answered or failed request,
	// from the worker that sent it (so concurrently): the benchmarks cut a
	// run into time windows with it, around a change made mid-run.
	OnSample func(Sample)
	// Stop, if set, ends the run more gently than ctx: once it is closed
	// no request is sent, and those in flight finish (within Timeout) and
	// count. A run that must not lose the failures of its last seconds (a
	// request that hangs until Timeout) ends this way.
	Stop <-chan struct{}
}

// Sample is one request's outcome.
type Sample struct {
	// Start is when the request was sent; Start+Latency is when its
	// answer (or error) arrived.
	Start   time.Time
	Latency time.Duration
	// Kind is "" for a 2xx, else the failure's kind as in
	// Result.ByKind ("status 502", "connection refused", ...).
	Kind string
	// Instance and Host are served_by.instance and served_by.hostname of
	// the answer. Host tells a replacement from the replica it replaced
	// when both carry the same instance name.
	Instance string
	Host     string
}

// End is when the answer arrived.
func (s Sample) End() time.Time { return s.Start.Add(s.Latency) }

// Result is what a run measured.
type Result struct {
	Requests  int64            `json:"requests"`
	Successes int64            `json:"successes"`
	Failures  int64            `json:"failures"`
	ByKind    map[string]int64 `json:"failuresByKind"`
	Instances map[string]int64 `json:"instances"`
	Elapsed   time.Duration    `json:"elapsedNanos"`
	Latency   Latency          `json:"latency"`
	latencies []time.Duration
}

// Latency summarises successful request latencies.
type Latency struct {
	P50 time.Duration `json:"p50"`
	P90 time.Duration `json:"p90"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`
}

// Throughput is requests answered per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// CheckTarget refuses a URL that is not on loopback unless remote targets
// are allowed: this tool is for one's own machine.
func CheckTarget(raw string, allowRemote bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("URL %q: give an absolute http:// URL such as http://127.0.0.1:8080/", raw)
	}
	if allowRemote {
		return nil
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("URL %q is not on this machine (127.0.0.0/8, ::1 or localhost); pass --allow-remote to load another host", raw)
}

// Run sends the load until its bound or ctx ends. progress, if set, is
// called about every interval with the counts so far.
func Run(ctx context.Context, o Options, progress func(Result)) (Result, error) {
	targets := append([]string{o.URL}, o.MoreURLs...)
	for _, t := range targets {
		if err := CheckTarget(t, o.AllowRemote); err != nil {
			return Result{}, err
		}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Concurrency < len(targets) {
		return Result{}, fmt.Errorf("%d workers for %d URLs: each URL needs a worker of its own; raise the concurrency to %d or more", o.Concurrency, len(targets), len(targets))
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	client := &http.Client{
		Timeout: o.Timeout,
		Transport: &http.Transport{
			MaxIdleConns:        o.Concurrency,
			MaxIdleConnsPerHost: o.Concurrency,
			IdleConnTimeout:     30 * time.Second,
		},
	}
	defer client.CloseIdleConnections()

	var mu sync.Mutex
	res := Result{ByKind: map[string]int64{}, Instances: map[string]int64{}}
	var issued int64
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if o.Requests > 0 && issued >= o.Requests {
			return false
		}
		issued++
		return true
	}

	var ticks <-chan time.Time
	if o.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
		defer t.Stop()
		ticks = t.C
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range o.Concurrency {
		target := targets[i%len(targets)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if ticks != nil {
					select {
					case <-ctx.Done():
						return
					case <-o.Stop:
						return
					case <-ticks:
					}
				}
				if ctx.Err() != nil || stopped(o.Stop) || !take() {
					return
				}
				began := time.Now()
				instance, host, kind := once(ctx, client, target)
				if kind == "canceled" {
					return // the run ended mid-request; not the server's fault
				}
				took := time.Since(began)
				if o.OnSample != nil {
					o.OnSample(Sample{Start: began, Latency: took, Kind: kind, Instance: instance, Host: host})
				}
				mu.Lock()
				res.Requests++
				if kind == "" {
					res.Successes++
					res.latencies = append(res.latencies, took)
					if instance != "" {
						res.Instances[instance]++
					}
				} else {
					res.Failures++
					res.ByKind[kind]++
				}
				mu.Unlock()
			}
		}()
	}
	if progress != nil {
		done := make(chan struct{})
		defer close(done)
		go func() {
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					mu.Lock()
					snap := Result{Requests: res.Requests, Successes: res.Successes, Failures: res.Failures, Elapsed: time.Since(start)}
					mu.Unlock()
					progress(snap)
				}
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Latency = summarise(res.latencies)
	return res, nil
}

// stopped reports whether stop is closed; a nil stop never is.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// once sends one GET and classifies the outcome: kind is "" for a 2xx.
func once(ctx context.Context, client *http.Client, target string) (instance, host, kind string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", "", "other"
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", "", Classify(ctx, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", "", Classify(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", "", fmt.Sprintf("status %d", resp.StatusCode)
	}
	var served struct {
		ServedBy struct {
			Instance string `json:"instance"`
			Hostname string `json:"hostname"`
		} `json:"served_by"`
	}
	if json.Unmarshal(body, &served) == nil {
		instance, host = served.ServedBy.Instance, served.ServedBy.Hostname
	}
	return instance, host, ""
}

// Classify names a transport error the way an operator reads it.
func Classify(ctx context.Context, err error) string {
	var netErr net.Error
	switch {
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	}
	return "other"
}

// Summarise returns the percentiles of latencies; it sorts ls in place.
func Summarise(ls []time.Duration) Latency { return summarise(ls) }

func summarise(ls []time.Duration) Latency {
	if len(ls) == 0 {
		return Latency{}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i] < ls[j] })
	at := func(q float64) time.Duration { return ls[min(len(ls)-1, int(q*float64(len(ls))))] }
	return Latency{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ls[len(ls)-1]}
}

// Summary is a Result in the units people read: seconds, milliseconds and
// requests per second. `scalectl loadtest -o json` prints it and the
// benchmark report embeds it, so that both spell a run the same way.
type Summary struct {
	Requests          int64            `json:"requests"`
	Successes         int64            `json:"successes"`
	Failures          int64            `json:"failures"`
	FailuresByKind    map[string]int64 `json:"failuresByKind"`
	Instances         map[string]int64 `json:"instances"`
	ElapsedSeconds    float64          `json:"elapsedSeconds"`
	RequestsPerSecond float64          `json:"requestsPerSecond"`
	LatencyMillis     LatencyMillis    `json:"latencyMs"`
}

// LatencyMillis is Latency in milliseconds.
type LatencyMillis struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Millis converts a Latency to milliseconds.
func (l Latency) Millis() LatencyMillis {
	return LatencyMillis{P50: millis(l.P50), P90: millis(l.P90), P99: millis(l.P99), Max: millis(l.Max)}
}

// Summary returns r as a Summary. Its maps are never nil, so that JSON
// shows {} rather than null for a run with no failure.
func (r *Result) Summary() Summary {
	s := Summary{
		Requests: r.Requests, Successes: r.Successes, Failures: r.Failures,
		FailuresByKind: map[string]int64{}, Instances: map[string]int64{},
		ElapsedSeconds: r.Elapsed.Seconds(), RequestsPerSecond: r.Throughput(),
		LatencyMillis: r.Latency.Millis(),
	}
	for k, v := range r.ByKind {
		s.FailuresByKind[k] = v
	}
	for k, v := range r.Instances {
		s.Instances[k] = v
	}
	return s
}

// millis is d in milliseconds, rounded to the microsecond.
func millis(d time.Duration) float64 {
	return float64(d.Round(time.Microsecond)) / float64(time.Millisecond)
}
