package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/internal/loadgen"
)

type loadtestOptions struct {
	*Options
	rate        float64
	concurrency int
	duration    time.Duration
	requests    int64
	timeout     time.Duration
	allowRemote bool
	output      string
	countTrue   string
	postRatio   float64
	postURL     string
	slowRatio   float64
	slowURL     string
}

// Defaults of loadtest: a steady 100 req/s for 10 s is enough to see a
// scale or a rollout through, and light enough for a laptop.
const (
	defaultLoadRate        = 100
	defaultLoadConcurrency = 10
	defaultLoadDuration    = 10 * time.Second
	defaultLoadTimeout     = 5 * time.Second
)

// errRequestsFailed makes loadtest exit non-zero when any request failed,
// after the report is printed: "no request lost" is what it checks.
var errRequestsFailed = errors.New("requests failed")

func newLoadtestCommand(o *Options) *cobra.Command {
	l := &loadtestOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "loadtest URL [URL...]",
		Short: "Send a steady HTTP load and report failures, latency and which replicas answered",
		Long: `loadtest sends GET requests to URL, at a fixed rate (--rate) or as fast as
--concurrency workers can (--rate 0, a closed loop), for --duration or until
--requests were sent, whichever comes first. On a terminal a progress line
counts as it goes; Ctrl-C stops early and still reports. However the run
ends, the requests still in flight are waited for (up to --timeout) and
counted.

A mix that no retry can flatter: --post-ratio sends that share of the
requests as POSTs to /visits (demoapp counts a visit; neither nginx nor the
client may resend a POST), --slow-ratio that share as GETs to /slow?ms=1000
(requests in flight long enough to be caught by a replica's drain). A
request the client had to send again on a new connection (net/http does so
silently for a GET whose kept-alive connection the server closed) counts as
resent and as failed: a client that does not resend lost it. When the
workers cannot hold --rate (all busy), the report says so.

The report gives the requests sent, the successes (2xx), the failures by kind
(non-2xx by status, connection refused, connection reset, connection closed,
timeout), latency percentiles of the successes, and how the answers spread
over the replicas, read from served_by.instance in each JSON answer (the
demoapp's, and the tutorial app's, field). -o json prints the same as one
object.

It exits 1 when any request failed or was resent, so a script can assert
that a scale, a rollout or a crash lost no request:
  scalectl loadtest http://127.0.0.1:8080/ --duration 60s & scalectl scale web --replicas 5

With several URLs the workers are spread over them in turn, one client for
several ports, e.g. a few replicas' own published ports, to compare with the
same load through the load balancer.

Every URL must be on this machine (127.0.0.0/8, ::1 or localhost) unless
--allow-remote is given: this is a tool for one's own stack, not for loading
other people's hosts.`,
		Example: `  scalectl loadtest http://127.0.0.1:8080/                      # 100 req/s for 10s
  scalectl loadtest http://127.0.0.1:8080/ --rate 0 -c 64 -d 30s   # as fast as 64 workers go
  scalectl loadtest http://127.0.0.1:8080/ --requests 1000 -o json
  scalectl loadtest http://127.0.0.1:8080/ --post-ratio 0.2 --slow-ratio 0.05 -c 32 -d 60s   # GETs, POSTs, slow requests
  scalectl loadtest http://127.0.0.1:32770/ http://127.0.0.1:32771/ --rate 0 -c 64   # two ports, 32 workers each`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("give a URL, e.g. scalectl loadtest http://127.0.0.1:8080/")
			}
			return nil
		},
		ValidArgsFunction: loadBalancerURLCompletion(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := l.validate(cmd, args); err != nil {
				return err
			}
			return l.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args)
		},
	}
	f := cmd.Flags()
	f.Float64Var(&l.rate, "rate", defaultLoadRate, "requests per second; 0 runs a closed loop (each worker sends as soon as it has its answer)")
	f.IntVarP(&l.concurrency, "concurrency", "c", defaultLoadConcurrency, "workers, and so the most requests in flight")
	f.DurationVarP(&l.duration, "duration", "d", defaultLoadDuration, "how long to send (with --requests alone: no time bound)")
	f.Int64VarP(&l.requests, "requests", "n", 0, "how many requests to send (0: no count bound)")
	f.DurationVar(&l.timeout, "timeout", defaultLoadTimeout, "longest wait for one answer; a slower one counts as a timeout failure")
	f.BoolVar(&l.allowRemote, "allow-remote", false, "allow a URL that is not on this machine")
	f.StringVarP(&l.output, "output", "o", "", "output format: json")
	f.StringVar(&l.countTrue, "count-true", "", "count the answers whose top-level JSON field of this name is true (demoapp: degraded, while Redis is away)")
	f.Float64Var(&l.postRatio, "post-ratio", 0, "share of the requests (0 to 1) sent as POSTs, which no one may resend")
	f.StringVar(&l.postURL, "post-url", "", "where the POSTs go (default: /visits on each URL, demoapp's counter)")
	f.Float64Var(&l.slowRatio, "slow-ratio", 0, "share of the requests (0 to 1) sent to --slow-url, to be in flight during a drain")
	f.StringVar(&l.slowURL, "slow-url", "", "where the slow requests go (default: /slow?ms=1000 on each URL, demoapp's slow route)")
	return cmd
}

// validate checks the flags and settles how the run is bounded: --requests
// alone means no time bound, so that -n 1000 really sends 1000.
func (l *loadtestOptions) validate(cmd *cobra.Command, targets []string) error {
	if l.output != "" && l.output != "json" {
		return usageErrorf("--output=%q: use json, or leave it out for a report", l.output)
	}
	if l.rate < 0 || math.IsNaN(l.rate) || math.IsInf(l.rate, 0) {
		return usageErrorf("--rate=%v: use 0 for a closed loop or a positive rate (requests per second)", l.rate)
	}
	if l.concurrency < 1 {
		return usageErrorf("--concurrency=%d: use 1 or more workers", l.concurrency)
	}
	if l.concurrency < len(targets) {
		return usageErrorf("--concurrency=%d for %d URLs: each URL needs a worker of its own; use -c %d or more", l.concurrency, len(targets), len(targets))
	}
	if l.duration < 0 {
		return usageErrorf("--duration=%s: use a positive duration such as 30s", l.duration)
	}
	if l.requests < 0 {
		return usageErrorf("--requests=%d: use a positive count, or 0 for no count bound", l.requests)
	}
	if strings.ContainsAny(l.countTrue, ".[]") {
		return usageErrorf("--count-true=%q: name a top-level JSON field such as degraded; nested fields are not read", l.countTrue)
	}
	if l.timeout <= 0 {
		return usageErrorf("--timeout=%s: use a positive duration such as 5s", l.timeout)
	}
	for _, r := range []struct {
		flag  string
		ratio float64
	}{{"--post-ratio", l.postRatio}, {"--slow-ratio", l.slowRatio}} {
		if !(r.ratio >= 0 && r.ratio <= 1) {
			return usageErrorf("%s=%v: use a share between 0 and 1, such as 0.2", r.flag, r.ratio)
		}
	}
	if l.postRatio+l.slowRatio > 1 {
		return usageErrorf("--post-ratio=%v with --slow-ratio=%v: the two shares add up to more than 1; lower one", l.postRatio, l.slowRatio)
	}
	for _, u := range []struct{ flag, url string }{{"--post-url", l.postURL}, {"--slow-url", l.slowURL}} {
		if u.url == "" {
			continue
		}
		if err := loadgen.CheckTarget(u.url, l.allowRemote); err != nil {
			return usageErrorf("%s: %v", u.flag, err)
		}
	}
	if cmd.Flags().Changed("requests") && !cmd.Flags().Changed("duration") {
		l.duration = 0
	}
	if l.duration == 0 && l.requests == 0 {
		return usageErrorf("--duration=0 with no --requests would never end: give a --duration such as 30s or a --requests count")
	}
	for _, target := range targets {
		if err := loadgen.CheckTarget(target, l.allowRemote); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// loadtestReport is what -o json prints: the run's settings, then its
// loadgen.Summary (requests, failures, failuresByKind, instances, ...).
type loadtestReport struct {
	URL string `json:"url"`
	// MoreURLs are the further URLs the workers were spread over.
	MoreURLs    []string `json:"moreUrls,omitempty"`
	Rate        float64  `json:"rate"`
	Concurrency int      `json:"concurrency"`
	loadgen.Summary
	// CountTrue is the --count-true field, if any; Summary.CountedTrue
	// counts the answers where it was true.
	CountTrue string `json:"countTrue,omitempty"`
	// Interrupted is set when Ctrl-C ended the run before its bound.
	Interrupted bool `json:"interrupted,omitempty"`
	// RateReached is false when a fixed --rate was not held: requests went
	// out late because every worker was busy.
	RateReached bool `json:"rateReached"`
	// POSTRatio and SlowRatio are the mix asked for.
	POSTRatio float64 `json:"postRatio,omitempty"`
	SlowRatio float64 `json:"slowRatio,omitempty"`
}

// rateTolerance is how far below a fixed rate the sending may fall before
// the report says the rate was not reached: scheduling noise is well
// under it, a worker pool too small for the latency is not.
const rateTolerance = 0.02

func (l *loadtestOptions) run(ctx context.Context, out, errOut io.Writer, targets []string) error {
	var progress func(loadgen.Result)
	live := isTerminal(errOut)
	if live {
		progress = func(r loadgen.Result) { fmt.Fprintf(errOut, "\r\x1b[K%s", progressLine(r)) }
	}
	res, err := loadgen.Run(ctx, loadgen.Options{
		URL: targets[0], MoreURLs: targets[1:], Rate: l.rate, Concurrency: l.concurrency, Duration: l.duration,
		Requests: l.requests, Timeout: l.timeout, AllowRemote: l.allowRemote, CountTrue: l.countTrue,
		POSTRatio: l.postRatio, POSTURL: l.postURL, SlowRatio: l.slowRatio, SlowURL: l.slowURL,
	}, progress)
	if live {
		fmt.Fprint(errOut, "\r\x1b[K")
	}
	if err != nil {
		return err
	}
	report := loadtestReport{URL: targets[0], MoreURLs: targets[1:], Rate: l.rate, Concurrency: l.concurrency, Summary: res.Summary(),
		CountTrue: l.countTrue, Interrupted: ctx.Err() != nil, RateReached: rateReached(l.rate, &res),
		POSTRatio: l.postRatio, SlowRatio: l.slowRatio}
	if l.output == "json" {
		b, err := json.MarshalIndent(report, "", "  ")
		if err != nil {
			return err
		}
		if _, err := out.Write(append(b, '\n')); err != nil {
			return err
		}
	} else {
		writeLoadReport(out, report, l.describeLoad(len(targets)))
	}
	if !report.RateReached {
		fmt.Fprintf(errOut, "warning: %s\n", rateMissed(l.rate, l.concurrency, &res))
	}
	if res.Resent > 0 {
		return fmt.Errorf("%d of %d %w (%d of them resent by the client on a new connection)", res.Failures, res.Requests, errRequestsFailed, res.Resent)
	}
	if res.Failures > 0 {
		return fmt.Errorf("%d of %d %w", res.Failures, res.Requests, errRequestsFailed)
	}
	if res.Requests == 0 {
		return errors.New("no request was sent")
	}
	return nil
}

// rateReached reports whether a fixed rate was held: no request went out
// late and the send rate is within rateTolerance of the rate. A closed
// loop asks for no rate, so reaches it.
func rateReached(rate float64, res *loadgen.Result) bool {
	if rate <= 0 || res.Requests == 0 {
		return true
	}
	return res.Late == 0 && res.SendRate() >= rate*(1-rateTolerance)
}

// rateMissed says by how much a fixed rate was missed, and the fix.
func rateMissed(rate float64, concurrency int, res *loadgen.Result) string {
	return fmt.Sprintf("--rate %s was not reached: %.1f req/s sent, %d requests went out late because all %d workers were busy; raise --concurrency",
		strconv.FormatFloat(rate, 'f', -1, 64), res.SendRate(), res.Late, concurrency)
}

// describeLoad says in words what was asked for.
func (l *loadtestOptions) describeLoad(urls int) string {
	var parts []string
	if l.rate > 0 {
		parts = append(parts, fmt.Sprintf("%s req/s fixed rate", strconv.FormatFloat(l.rate, 'f', -1, 64)))
	} else {
		parts = append(parts, "closed loop")
	}
	if urls > 1 {
		parts = append(parts, fmt.Sprintf("%d workers spread over %d URLs", l.concurrency, urls))
	} else {
		parts = append(parts, fmt.Sprintf("%d workers", l.concurrency))
	}
	if l.duration > 0 {
		parts = append(parts, "for "+l.duration.String())
	}
	if l.requests > 0 {
		parts = append(parts, fmt.Sprintf("at most %d requests", l.requests))
	}
	if l.postRatio > 0 || l.slowRatio > 0 {
		parts = append(parts, fmt.Sprintf("%.0f%% POST, %.0f%% slow", 100*l.postRatio, 100*l.slowRatio))
	}
	return strings.Join(parts, ", ")
}

// progressLine is the live line: elapsed, sent, rate so far, failures.
func progressLine(r loadgen.Result) string {
	rate := 0.0
	if s := r.Elapsed.Seconds(); s > 0 {
		rate = float64(r.Requests) / s
	}
	return fmt.Sprintf("%6.1fs  %d requests  %.1f req/s  %d failed  %d resent", r.Elapsed.Seconds(), r.Requests, rate, r.Failures, r.Resent)
}

// writeLoadReport prints the human report: totals, latency, failures by
// kind, and the answers per instance as a table with bars.
func writeLoadReport(w io.Writer, r loadtestReport, load string) {
	fmt.Fprintf(w, "Target:     %s\n", strings.Join(append([]string{r.URL}, r.MoreURLs...), ", "))
	fmt.Fprintf(w, "Load:       %s\n", load)
	interrupted := ""
	if r.Interrupted {
		interrupted = " (interrupted)"
	}
	fmt.Fprintf(w, "Requests:   %d in %s (%.1f req/s)%s\n", r.Requests, roundDuration(r.ElapsedSeconds), r.RequestsPerSecond, interrupted)
	if !r.RateReached {
		fmt.Fprintf(w, "Rate:       NOT REACHED: asked %s req/s, sent %.1f req/s; %d requests went out late (all %d workers busy: raise --concurrency)\n",
			strconv.FormatFloat(r.Rate, 'f', -1, 64), r.SendRate, r.Late, r.Concurrency)
	}
	if len(r.Sent) > 1 || r.Sent[loadgen.ClassGET] != r.Requests {
		fmt.Fprintf(w, "Sent:       %d GET, %d POST, %d slow\n", r.Sent[loadgen.ClassGET], r.Sent[loadgen.ClassPOST], r.Sent[loadgen.ClassSlow])
	}
	fmt.Fprintf(w, "Successes:  %d\n", r.Successes)
	fmt.Fprintf(w, "Failures:   %d%s\n", r.Failures, percentOf(r.Failures, r.Requests))
	if r.Resent > 0 {
		fmt.Fprintf(w, "Resent:     %d%s (sent again by the client on a new connection; each is a failure)\n", r.Resent, percentOf(r.Resent, r.Requests))
	} else {
		fmt.Fprintln(w, "Resent:     0")
	}
	if r.CountTrue != "" {
		fmt.Fprintf(w, "%-11s %d%s of the successes\n", r.CountTrue+":", r.CountedTrue, percentOf(r.CountedTrue, r.Successes))
	}
	lat := r.LatencyMillis
	fmt.Fprintf(w, "Latency:    p50 %s  p90 %s  p99 %s  max %s\n", fmtMillis(lat.P50), fmtMillis(lat.P90), fmtMillis(lat.P99), fmtMillis(lat.Max))
	if slow := r.SlowLatencyMillis; slow != nil {
		fmt.Fprintf(w, "Slow ones:  p50 %s  p90 %s  p99 %s  max %s\n", fmtMillis(slow.P50), fmtMillis(slow.P90), fmtMillis(slow.P99), fmtMillis(slow.Max))
	}

	if len(r.FailuresByKind) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Failures by kind:")
		tw := newTable(w)
		kinds := make([]string, 0, len(r.FailuresByKind))
		for k := range r.FailuresByKind {
			kinds = append(kinds, k)
		}
		sort.Slice(kinds, func(i, j int) bool {
			a, b := r.FailuresByKind[kinds[i]], r.FailuresByKind[kinds[j]]
			return a > b || a == b && kinds[i] < kinds[j]
		})
		for _, k := range kinds {
			row(tw, "  "+k, r.FailuresByKind[k])
		}
		tw.Flush()
	}

	fmt.Fprintln(w)
	if len(r.Instances) == 0 {
		fmt.Fprintln(w, "Served by:  no answer named its instance (served_by.instance)")
		return
	}
	fmt.Fprintln(w, "Served by:")
	names := make([]string, 0, len(r.Instances)+1)
	counts := map[string]int64{}
	var named, most int64
	for n, c := range r.Instances {
		names = append(names, n)
		counts[n] = c
		named += c
	}
	sort.Slice(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
	if unnamed := r.Successes - named; unnamed > 0 {
		names = append(names, "(no instance)")
		counts["(no instance)"] = unnamed
	}
	for _, c := range counts {
		most = max(most, c)
	}
	tw := newTable(w)
	row(tw, "  INSTANCE", "REQUESTS", "SHARE", "")
	for _, n := range names {
		c := counts[n]
		row(tw, "  "+n, c, fmt.Sprintf("%.1f%%", 100*float64(c)/float64(max(r.Successes, 1))), bar(c, most, 30))
	}
	tw.Flush()
}

// bar draws n against most as up to width cells of eighth blocks, so that
// close shares still look different.
func bar(n, most int64, width int) string {
	if most <= 0 || n <= 0 {
		return ""
	}
	eighths := int(math.Round(float64(n) / float64(most) * float64(width*8)))
	eighths = max(eighths, 1)
	partial := []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}
	return strings.Repeat("█", eighths/8) + partial[eighths%8]
}

// naturalLess orders web-2 before web-10.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := leadingDigits(a), leadingDigits(b)
		if da != "" && db != "" {
			na, _ := strconv.ParseUint(da, 10, 64)
			nb, _ := strconv.ParseUint(db, 10, 64)
			if na != nb {
				return na < nb
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

func percentOf(n, total int64) string {
	if n == 0 || total == 0 {
		return ""
	}
	return fmt.Sprintf(" (%.2f%%)", 100*float64(n)/float64(total))
}

// fmtMillis prints a latency with the precision that matters at its size.
func fmtMillis(ms float64) string {
	switch {
	case ms >= 1000:
		return fmt.Sprintf("%.2fs", ms/1000)
	case ms >= 100:
		return fmt.Sprintf("%.0fms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.2fms", ms)
}

func roundDuration(seconds float64) time.Duration {
	return time.Duration(seconds * float64(time.Second)).Round(10 * time.Millisecond)
}

// loadBalancerURLCompletion completes the URL with the addresses of the
// load balancers scalerd runs.
func loadBalancerURLCompletion(o *Options) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		specs, err := listForCompletion(o)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var urls []cobra.Completion
		for _, s := range specs {
			lb := s.Spec.LoadBalancer
			if lb == nil {
				continue
			}
			host := lb.HostIP
			if host == "" || host == "0.0.0.0" {
				host = "127.0.0.1"
			}
			u := "http://" + net.JoinHostPort(host, strconv.Itoa(int(lb.Port))) + "/"
			if strings.HasPrefix(u, toComplete) {
				urls = append(urls, u)
			}
		}
		return urls, cobra.ShellCompDirectiveNoFileComp
	}
}
