package metricsource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/controllers"
)

// maxParallelStats bounds the Engine stats calls of one CPU reading.
const maxParallelStats = 8

// StatsReader is the part of the Engine the CPU metric needs.
type StatsReader interface {
	Stats(ctx context.Context, id string) (controllers.Stats, error)
}

// Source reads every metric type for the autoscaler.
type Source struct {
	stats  StatsReader
	client *http.Client
	now    func() time.Time

	mu sync.Mutex
	// counters is each spec's last request counter reading, for the rate.
	counters map[string]counterReading
}

type counterReading struct {
	url      string
	requests int64
	at       time.Time
}

var _ controllers.MetricSource = (*Source)(nil)

// New returns a Source that reads CPU through stats and HTTP sources with
// client (nil: a client of its own, with no proxy: every address it reads
// is scalerd's own load balancer or a Prometheus server the spec names).
func New(stats StatsReader, client *http.Client) *Source {
	if client == nil {
		client = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}}
	}
	return &Source{stats: stats, client: client, now: time.Now, counters: map[string]counterReading{}}
}

// Read implements controllers.MetricSource.
func (s *Source) Read(ctx context.Context, spec *v1alpha1.ScaleSpec, m v1alpha1.AutoscalingMetric, ready []controllers.Container) (float64, error) {
	switch m.Type {
	case v1alpha1.MetricRequestsPerSecond:
		if spec.Spec.LoadBalancer == nil {
			return 0, errors.New("the spec has no load balancer to count requests at")
		}
		return s.requestRate(ctx, spec.Metadata.Name, StatusURL(spec.Spec.LoadBalancer))
	case v1alpha1.MetricCPU:
		return s.cpu(ctx, spec, ready)
	case v1alpha1.MetricPrometheus:
		return QueryPrometheus(ctx, s.client, m.Server, m.Query)
	}
	return 0, fmt.Errorf("unknown metric type %q", m.Type)
}

// requestRate is the requests per second nginx served since the last
// reading. The first reading of a spec (or of a new load balancer, whose
// counter starts again) has nothing to compare with and is an error, so
// the count holds one period.
func (s *Source) requestRate(ctx context.Context, spec, url string) (float64, error) {
	n, err := ReadRequests(ctx, s.client, url)
	if err != nil {
		return 0, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.counters[spec]
	s.counters[spec] = counterReading{url: url, requests: n, at: now}
	switch {
	case !ok || prev.url != url:
		return 0, errors.New("first reading of the request counter; the rate needs two")
	case n < prev.requests:
		return 0, errors.New("the load balancer's request counter started again (a new load balancer); the rate needs two readings")
	}
	elapsed := now.Sub(prev.at).Seconds()
	if elapsed <= 0 {
		return 0, errors.New("no time passed between two readings of the request counter")
	}
	// The reading itself is a request nginx counts.
	return float64(max(n-prev.requests-1, 0)) / elapsed, nil
}

// cpu sums the ready replicas' CPU use, in percent of one core, or of the
// template's CPU limit when it has one (HPA's utilization of the request).
func (s *Source) cpu(ctx context.Context, spec *v1alpha1.ScaleSpec, ready []controllers.Container) (float64, error) {
	cores := 1.0
	if lim := spec.Spec.Template.Resources.Limits.CPUs; lim != "" {
		n, err := v1alpha1.ParseCPUs(lim)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("spec.template.resources.limits.cpus %q: %v", lim, err)
		}
		cores = float64(n) / 1e9
	}
	var (
		mu    sync.Mutex
		total float64
		errs  []error
		wg    sync.WaitGroup
		sem   = make(chan struct{}, maxParallelStats)
	)
	for _, c := range ready {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			st, err := s.stats.Stats(ctx, c.ID)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("stats of %s: %w", c.Name, err))
				return
			}
			total += st.CPUPercent / cores
		}()
	}
	wg.Wait()
	// A replica whose stats could not be read would count as idle and
	// pull the mean down: better no reading than a low one.
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return total, nil
}
