package controllers

import (
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// Metrics are scalerd's Prometheus metrics. A nil *Metrics records nothing,
// so tests need not register any.
type Metrics struct {
	reconciles        *prometheus.CounterVec
	reconcileDuration *prometheus.HistogramVec
	queueDepth        prometheus.GaugeFunc
	desired           *prometheus.GaugeVec
	ready             *prometheus.GaugeVec
	updated           *prometheus.GaugeVec
	upstream          *prometheus.GaugeVec
	created           *prometheus.CounterVec
	failed            *prometheus.CounterVec
	replaced          *prometheus.CounterVec
	heldSlots         *prometheus.GaugeVec
	reloads           *prometheus.CounterVec
	upstreamUpdates   *prometheus.CounterVec
	eventReconnects   prometheus.Counter
	convergeSeconds   *prometheus.HistogramVec
	autoscaleDesired  *prometheus.GaugeVec
	autoscaleMetric   *prometheus.GaugeVec
	upstreamInSync    *prometheus.GaugeVec
	upstreamDrifts    *prometheus.CounterVec
}

// NewMetrics registers scalerd's metrics with reg. queueDepth reports the
// work queue's length when scraped.
func NewMetrics(reg prometheus.Registerer, queueDepth func() float64) *Metrics {
	m := &Metrics{
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scaler_reconciles_total", Help: "Reconciles by spec and result (success, error).",
		}, []string{"spec", "result"}),
		reconcileDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scaler_reconcile_duration_seconds", Help: "Time one reconcile took.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"spec"}),
		queueDepth: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "scaler_workqueue_depth", Help: "Specs waiting to be reconciled.",
		}, queueDepth),
		desired: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scaler_replicas_desired", Help: "Replicas the spec asks for.",
		}, []string{"spec"}),
		ready: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scaler_replicas_ready", Help: "Replicas running and healthy.",
		}, []string{"spec"}),
		updated: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scaler_replicas_updated", Help: "Replicas running the current template.",
		}, []string{"spec"}),
		upstream: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scaler_upstream_size", Help: "Replicas in the nginx upstream.",
		}, []string{"spec"}),
		created: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scaler_replicas_created_total", Help: "Replicas created (scale-ups, rollouts and replacements).",
		}, []string{"spec"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scaler_replica_failures_total", Help: "Replicas that exited or turned unhealthy (scaler's restarts: a failed replica is replaced, never restarted in place), by the rule that handled the failure: ReplacedAtOnce (it had been ready, or is the first of its slot to fail before ready) or BackOff (its slot is held).",
		}, []string{"spec", "rule"}),
		heldSlots: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scaler_backoff_slots", Help: "Replica slots held by crash-loop back-off: their replicas keep failing before they become ready.",
		}, []string{"spec"}),
		replaced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scaler_replica_replacements_total", Help: "Replicas created to replace a failed one; failures minus replacements are waiting out back-off.",
		}, []string{"spec"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scaler_nginx_reloads_total", Help: "nginx reloads by spec and result (success, failure).",
		}, []string{"spec", "result"}),
		upstreamUpdates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scaler_upstream_updates_total", Help: "Changes of the load balancer's members applied without an nginx reload, by spec and result (success, failure).",
		}, []string{"spec", "result"}),
		eventReconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scaler_docker_event_stream_reconnects_total", Help: "Times the Docker events stream was re-opened.",
		}),
		convergeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "scaler_spec_converge_seconds", Help: "Time from the spec store seeing a new generation of a spec to its replicas and upstream matching it.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
		}, []string{"spec"}),
		autoscaleDesired: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scaler_autoscaler_desired_replicas", Help: "The replica count the autoscaler chose, for specs with spec.autoscaling.",
		}, []string{"spec"}),
		autoscaleMetric: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scaler_autoscaler_metric_value", Help: "The autoscaler's latest reading of a metric, per ready replica (NaN when it could not be read).",
		}, []string{"spec", "metric"}),
	}
	m.upstreamInSync = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "scaler_upstream_in_sync", Help: "1 when the load balancer's nginx, read back, runs the config and members scalerd applied and each member accepts its connections; 0 when not; absent until checked or when it could not be read (UpstreamInSync).",
	}, []string{"spec"})
	m.upstreamDrifts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "scaler_upstream_drifts_total", Help: "Times the load balancer was found running something other than what scalerd applied, which scalerd then applied again.",
	}, []string{"spec"})
	reg.MustRegister(m.autoscaleDesired, m.autoscaleMetric, m.upstreamInSync, m.upstreamDrifts)
	reg.MustRegister(m.reconciles, m.reconcileDuration, m.queueDepth, m.desired, m.ready, m.updated,
		m.upstream, m.created, m.failed, m.replaced, m.heldSlots, m.reloads, m.upstreamUpdates, m.eventReconnects, m.convergeSeconds)
	return m
}

func (m *Metrics) observeReconcile(spec string, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "success"
	if err != nil {
		result = "error"
	}
	m.reconciles.WithLabelValues(spec, result).Inc()
	m.reconcileDuration.WithLabelValues(spec).Observe(d.Seconds())
}

func (m *Metrics) setReplicas(spec string, desired, ready, updated, upstream int32) {
	if m == nil {
		return
	}
	m.desired.WithLabelValues(spec).Set(float64(desired))
	m.ready.WithLabelValues(spec).Set(float64(ready))
	m.updated.WithLabelValues(spec).Set(float64(updated))
	m.upstream.WithLabelValues(spec).Set(float64(upstream))
}

func (m *Metrics) replicasCreated(spec string, n int) {
	if m != nil {
		m.created.WithLabelValues(spec).Add(float64(n))
	}
}

func (m *Metrics) replicaFailed(spec, rule string) {
	if m != nil {
		m.failed.WithLabelValues(spec, rule).Inc()
	}
}

func (m *Metrics) setHeldSlots(spec string, n int) {
	if m != nil {
		m.heldSlots.WithLabelValues(spec).Set(float64(n))
	}
}

func (m *Metrics) replicaReplaced(spec string) {
	if m != nil {
		m.replaced.WithLabelValues(spec).Inc()
	}
}

func (m *Metrics) reloaded(spec string, err error) {
	if m == nil {
		return
	}
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.reloads.WithLabelValues(spec, result).Inc()
}

func (m *Metrics) upstreamUpdated(spec string, err error) {
	if m == nil {
		return
	}
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.upstreamUpdates.WithLabelValues(spec, result).Inc()
}

// EventStreamReconnected counts a re-opened Docker events stream.
func (m *Metrics) EventStreamReconnected() {
	if m != nil {
		m.eventReconnects.Inc()
	}
}

func (m *Metrics) converged(spec string, d time.Duration) {
	if m != nil {
		m.convergeSeconds.WithLabelValues(spec).Observe(d.Seconds())
	}
}

func (m *Metrics) forget(spec string) {
	if m == nil {
		return
	}
	for _, v := range []*prometheus.GaugeVec{m.desired, m.ready, m.updated, m.upstream, m.heldSlots, m.autoscaleDesired, m.upstreamInSync} {
		v.DeleteLabelValues(spec)
	}
	m.autoscaleMetric.DeletePartialMatch(prometheus.Labels{"spec": spec})
	m.upstreamDrifts.DeleteLabelValues(spec)
}

func (m *Metrics) setInSync(spec string, s v1alpha1.ConditionStatus) {
	if m == nil {
		return
	}
	switch s {
	case v1alpha1.ConditionTrue:
		m.upstreamInSync.WithLabelValues(spec).Set(1)
	case v1alpha1.ConditionFalse:
		m.upstreamInSync.WithLabelValues(spec).Set(0)
	default:
		m.upstreamInSync.DeleteLabelValues(spec)
	}
}

func (m *Metrics) upstreamDrifted(spec string) {
	if m != nil {
		m.upstreamDrifts.WithLabelValues(spec).Inc()
	}
}

func (m *Metrics) autoscaled(spec string, d AutoscaleDecision) {
	if m == nil {
		return
	}
	m.autoscaleDesired.WithLabelValues(spec).Set(float64(d.Desired))
	for _, v := range d.Metrics {
		value := math.NaN()
		if v.Value != nil {
			value = *v.Value
		}
		m.autoscaleMetric.WithLabelValues(spec, v.Type).Set(value)
	}
}
