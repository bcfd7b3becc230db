package metricsource

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// scrapeTimeout bounds one load balancer's status read during a scrape: a
// load balancer that does not answer is left out of that scrape rather
// than hold it.
const scrapeTimeout = 2 * time.Second

// RequestsCollector exports scaler_requests_total{spec}, the requests each
// spec's load balancer has served, read from its status page when
// Prometheus scrapes: nothing is read while nobody scrapes. The counter
// starts again from 0 with a new load balancer container, which
// Prometheus' rate() takes as a counter reset.
type RequestsCollector struct {
	specs  func() []*v1alpha1.ScaleSpec
	client *http.Client
	desc   *prometheus.Desc
}

// NewRequestsCollector reads the specs in force from specs at each scrape.
func NewRequestsCollector(specs func() []*v1alpha1.ScaleSpec) *RequestsCollector {
	return &RequestsCollector{
		specs:  specs,
		client: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}},
		desc: prometheus.NewDesc("scaler_requests_total",
			"Requests served by the spec's load balancer (nginx's stub_status counter; starts again with a new load balancer container).",
			[]string{"spec"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *RequestsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *RequestsCollector) Collect(ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	for _, spec := range c.specs() {
		lb := spec.Spec.LoadBalancer
		if lb == nil || (lb.StatusPage != nil && !*lb.StatusPage) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
			defer cancel()
			n, err := ReadRequests(ctx, c.client, StatusURL(lb))
			if err != nil {
				return
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n), spec.Metadata.Name)
		}()
	}
	wg.Wait()
}
