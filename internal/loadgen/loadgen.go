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
	"net/http/httptrace"
	"net/url"
	"os"
	"sort"
	"sync"
	"sync/atomic"
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
	// sending its next request as soon as the last one is answered. A
	// fixed rate is a schedule (request n is due at n/Rate): a worker that
	// comes late sends at once, and Result.Late counts those that went out
	// more than lateAfter after their time because every worker was busy.
	Rate float64
	// Concurrency is the number of workers (and at most that many
	// requests in flight).
	Concurrency int
	// Duration and Requests bound the run; whichever is reached first ends
	// it. Zero means no bound of that kind (ctx or Stop then ends the run).
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
	// Stop, if set, ends the run as ctx does: once either is done no
	// request is sent. However the run ends, the requests in flight finish
	// (within Timeout) and count: a request that hangs until Timeout at
	// the end of a run is the failure it is, not "canceled".
	Stop <-chan struct{}
	// CountTrue, if set, names a top-level JSON field of the answers (such
	// as demoapp's "degraded"): successes whose field is true are counted
	// in Result.CountedTrue. An app that answers 200 while its backing
	// store is away looks healthy to a status-code count; this shows it.
	CountTrue string

	// POSTRatio is the share of requests (0 to 1) sent as an empty POST to
	// POSTURL, a non-idempotent request that neither nginx nor net/http
	// may resend: the load then shows a failure that retries hide for GET.
	POSTRatio float64
	// POSTURL is where POSTs go; empty means /visits on each worker's URL
	// (demoapp's counter).
	POSTURL string
	// SlowRatio is the share of requests (0 to 1, with POSTRatio at most 1
	// in all) sent as GETs to SlowURL, requests that stay in flight long
	// enough (about a drain) to be caught by a replica's removal.
	SlowRatio float64
	// SlowURL is where slow requests go; empty means /slow?ms=1000 on
	// each worker's URL (demoapp's slow route).
	SlowURL string
}

// The classes of request a mixed load sends; Result.Sent counts by them.
const (
	ClassGET  = "GET"
	ClassPOST = "POST"
	ClassSlow = "slow"
)

// KindResent is the failure kind of a request that was answered 2xx only
// after the client had sent it again on another connection: a client that
// does not resend (or a POST) would have seen the first attempt fail.
const KindResent = "resent"

// lateAfter is how far behind its schedule a request may go out before it
// counts in Result.Late: scheduling noise is a few milliseconds.
const lateAfter = 100 * time.Millisecond

// Sample is one request's outcome.
type Sample struct {
	// Start is when the request was sent; Start+Latency is when its
	// answer (or error) arrived.
	Start   time.Time
	Latency time.Duration
	// Kind is "" for a 2xx, else the failure's kind as in
	// Result.ByKind ("status 502", "connection refused", "resent", ...).
	Kind string
	// Class is ClassGET, ClassPOST or ClassSlow.
	Class string
	// Resent is set when the client sent the request more than once (it
	// took more than one connection).
	Resent bool
	// Instance and Host are served_by.instance and served_by.hostname of
	// the answer. Host tells a replacement from the replica it replaced
	// when both carry the same instance name.
	Instance string
	Host     string
	// True is set when the answer's Options.CountTrue field is true.
	True bool
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
	// Sent counts the requests by class (ClassGET, ClassPOST, ClassSlow).
	Sent map[string]int64 `json:"sent"`
	// Resent counts the requests the client sent more than once. Each is
	// also a failure (kind KindResent when the resend was answered 2xx).
	Resent int64 `json:"resent"`
	// Late counts the requests of a fixed rate that went out more than
	// lateAfter after their time because every worker was busy: the rate
	// asked was not held.
	Late int64 `json:"late"`
	// CountedTrue is how many successes had Options.CountTrue true.
	CountedTrue int64 `json:"countedTrue"`
	// Elapsed runs from the first request to the last answer; Sending
	// from the first request to the end of sending (the bound, ctx or
	// Stop), before the wait for the requests still in flight.
	Elapsed time.Duration `json:"elapsedNanos"`
	Sending time.Duration `json:"sendingNanos"`
	// Latency summarises the successful GETs and POSTs; SlowLatency the
	// successful slow requests, whose time is mostly the sleep they asked.
	Latency     Latency `json:"latency"`
	SlowLatency Latency `json:"slowLatency"`
	latencies   []time.Duration
	slow        []time.Duration
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

// SendRate is the requests sent per second while sending: what a fixed
// rate is compared with, since the wait for the last answers sends none.
func (r *Result) SendRate() float64 {
	if r.Sending <= 0 {
		return r.Throughput()
	}
	return float64(r.Requests) / r.Sending.Seconds()
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

// checkMix validates the mix's ratios and URLs.
func checkMix(o Options) error {
	for _, r := range []struct {
		name  string
		ratio float64
	}{{"POSTRatio", o.POSTRatio}, {"SlowRatio", o.SlowRatio}} {
		if !(r.ratio >= 0 && r.ratio <= 1) {
			return fmt.Errorf("%s %v: use a share between 0 and 1", r.name, r.ratio)
		}
	}
	if o.POSTRatio+o.SlowRatio > 1 {
		return fmt.Errorf("POSTRatio %v + SlowRatio %v is more than 1: the shares of POSTs and slow requests add up to at most 1", o.POSTRatio, o.SlowRatio)
	}
	for _, u := range []string{o.POSTURL, o.SlowURL} {
		if u != "" {
			if err := CheckTarget(u, o.AllowRemote); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolve returns ref (such as "/visits") against base.
func resolve(base, ref string) string {
	b, err := url.Parse(base)
	if err != nil {
		return base
	}
	r, err := url.Parse(ref)
	if err != nil {
		return base
	}
	return b.ResolveReference(r).String()
}

// mix deals out request classes in their shares, evenly spread rather
// than at random, so that a short run has its share of each and a test can
// count them: each request goes to the class furthest behind its share.
type mix struct {
	post, slow float64
	sent       [3]int64 // GET, POST, slow
	n          int64
}

var mixClasses = [3]string{ClassGET, ClassPOST, ClassSlow}

func (m *mix) next() string {
	m.n++
	shares := [3]float64{1 - m.post - m.slow, m.post, m.slow}
	best, bestDeficit := 0, 0.0
	for i, share := range shares {
		if share <= 0 {
			continue
		}
		// Ties go to the rarer classes (later in the list), so that even
		// a short run sends them.
		if d := share*float64(m.n) - float64(m.sent[i]); d >= bestDeficit-1e-9 {
			best, bestDeficit = i, d
		}
	}
	m.sent[best]++
	return mixClasses[best]
}

// worker is one worker's targets, one per class.
type worker struct{ get, post, slow string }

// Run sends the load until its bound, ctx or Stop ends it, then waits for
// the requests in flight (each within Timeout) and counts them. progress,
// if set, is called about every interval with the counts so far.
func Run(ctx context.Context, o Options, progress func(Result)) (Result, error) {
	targets := append([]string{o.URL}, o.MoreURLs...)
	for _, t := range targets {
		if err := CheckTarget(t, o.AllowRemote); err != nil {
			return Result{}, err
		}
	}
	if err := checkMix(o); err != nil {
		return Result{}, err
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
	// Sending ends on ctx, Stop or Duration; a request already sent never
	// sees that end: it runs on a context of its own, bounded by Timeout.
	sendCtx, endSending := context.WithCancel(ctx)
	defer endSending()
	if o.Stop != nil {
		go func() {
			select {
			case <-o.Stop:
				endSending()
			case <-sendCtx.Done():
			}
		}()
	}
	if o.Duration > 0 {
		t := time.AfterFunc(o.Duration, endSending)
		defer t.Stop()
	}
	requestCtx := context.WithoutCancel(ctx)
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
	res := Result{ByKind: map[string]int64{}, Instances: map[string]int64{}, Sent: map[string]int64{}}
	var issued int64
	classes := mix{post: o.POSTRatio, slow: o.SlowRatio}
	var interval time.Duration
	if o.Rate > 0 {
		interval = time.Duration(float64(time.Second) / o.Rate)
	}
	start := time.Now()
	var sendingEnded time.Time
	// take hands out the next request: its class and, at a fixed rate,
	// when it is due.
	take := func() (class string, due time.Time, ok bool) {
		mu.Lock()
		defer mu.Unlock()
		if o.Requests > 0 && issued >= o.Requests {
			return "", time.Time{}, false
		}
		due = start.Add(time.Duration(issued) * interval)
		issued++
		return classes.next(), due, true
	}

	var wg sync.WaitGroup
	for i := range o.Concurrency {
		base := targets[i%len(targets)]
		w := worker{get: base, post: o.POSTURL, slow: o.SlowURL}
		if w.post == "" {
			w.post = resolve(base, "/visits")
		}
		if w.slow == "" {
			w.slow = resolve(base, "/slow?ms=1000")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for sendCtx.Err() == nil {
				class, due, ok := take()
				if !ok {
					return
				}
				if wait := time.Until(due); wait > 0 {
					t := time.NewTimer(wait)
					select {
					case <-sendCtx.Done():
						t.Stop()
						return
					case <-t.C:
					}
				}
				began := time.Now()
				late := interval > 0 && began.Sub(due) > lateAfter
				out := once(requestCtx, client, w, class, o.CountTrue)
				took := time.Since(began)
				if o.OnSample != nil {
					o.OnSample(Sample{Start: began, Latency: took, Kind: out.kind, Class: class, Resent: out.resent,
						Instance: out.instance, Host: out.host, True: out.flagged})
				}
				mu.Lock()
				res.Requests++
				res.Sent[class]++
				if late {
					res.Late++
				}
				if out.resent {
					res.Resent++
				}
				if out.kind == "" {
					res.Successes++
					if class == ClassSlow {
						res.slow = append(res.slow, took)
					} else {
						res.latencies = append(res.latencies, took)
					}
					if out.flagged {
						res.CountedTrue++
					}
					if out.instance != "" {
						res.Instances[out.instance]++
					}
				} else {
					res.Failures++
					res.ByKind[out.kind]++
				}
				mu.Unlock()
			}
		}()
	}
	go func() {
		<-sendCtx.Done()
		mu.Lock()
		sendingEnded = time.Now()
		mu.Unlock()
	}()
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
					snap := Result{Requests: res.Requests, Successes: res.Successes, Failures: res.Failures, Resent: res.Resent, Elapsed: time.Since(start)}
					mu.Unlock()
					progress(snap)
				}
			}
		}()
	}
	wg.Wait()
	end := time.Now()
	endSending() // a run bounded by Requests ends sending here
	mu.Lock()
	defer mu.Unlock()
	res.Elapsed = end.Sub(start)
	res.Sending = res.Elapsed
	if !sendingEnded.IsZero() && sendingEnded.Before(end) {
		res.Sending = sendingEnded.Sub(start)
	}
	res.Latency = summarise(res.latencies)
	res.SlowLatency = summarise(res.slow)
	return res, nil
}

// outcome is what one request came back with: kind is "" for a 2xx.
type outcome struct {
	instance, host, kind string
	flagged, resent      bool
}

// once sends one request of class and classifies the outcome. A request
// that took more than one connection was resent by net/http (it does so
// for an idempotent request whose reused keep-alive connection the server
// closed): it counts as resent, and as a failure even if the resend was
// answered, because a client that does not resend would have lost it.
func once(ctx context.Context, client *http.Client, w worker, class, countTrue string) outcome {
	method, target := http.MethodGet, w.get
	switch class {
	case ClassPOST:
		method, target = http.MethodPost, w.post
	case ClassSlow:
		target = w.slow
	}
	var conns atomic.Int32
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { conns.Add(1) }})
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return outcome{kind: "other"}
	}
	resp, err := client.Do(req)
	resent := conns.Load() > 1
	if err != nil {
		return outcome{kind: Classify(ctx, err), resent: resent}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return outcome{kind: Classify(ctx, err), resent: resent}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return outcome{kind: fmt.Sprintf("status %d", resp.StatusCode), resent: resent}
	}
	if resent {
		return outcome{kind: KindResent, resent: true}
	}
	var out outcome
	var served struct {
		ServedBy struct {
			Instance string `json:"instance"`
			Hostname string `json:"hostname"`
		} `json:"served_by"`
	}
	if json.Unmarshal(body, &served) == nil {
		out.instance, out.host = served.ServedBy.Instance, served.ServedBy.Hostname
	}
	if countTrue != "" {
		var fields map[string]json.RawMessage
		if json.Unmarshal(body, &fields) == nil {
			out.flagged = string(fields[countTrue]) == "true"
		}
	}
	return out
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
	Sent              map[string]int64 `json:"sent"`
	Resent            int64            `json:"resent"`
	Late              int64            `json:"late"`
	CountedTrue       int64            `json:"countedTrue"`
	ElapsedSeconds    float64          `json:"elapsedSeconds"`
	SendingSeconds    float64          `json:"sendingSeconds"`
	RequestsPerSecond float64          `json:"requestsPerSecond"`
	SendRate          float64          `json:"sendRate"`
	LatencyMillis     LatencyMillis    `json:"latencyMs"`
	// SlowLatencyMillis is the latency of the slow requests, if any.
	SlowLatencyMillis *LatencyMillis `json:"slowLatencyMs,omitempty"`
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
		FailuresByKind: map[string]int64{}, Instances: map[string]int64{}, Sent: map[string]int64{},
		Resent: r.Resent, Late: r.Late, CountedTrue: r.CountedTrue,
		ElapsedSeconds: r.Elapsed.Seconds(), SendingSeconds: r.Sending.Seconds(),
		RequestsPerSecond: r.Throughput(), SendRate: r.SendRate(),
		LatencyMillis: r.Latency.Millis(),
	}
	if r.Sent[ClassSlow] > 0 {
		slow := r.SlowLatency.Millis()
		s.SlowLatencyMillis = &slow
	}
	for k, v := range r.Sent {
		s.Sent[k] = v
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
