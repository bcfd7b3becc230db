package controllers

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// withMetrics gives the harness's reconciler real metrics in a registry of
// its own, so that tests read what a scrape would show.
func withMetrics(h *harness) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	h.r.Metrics = NewMetrics(reg, func() float64 { return 0 })
	return reg
}

// metricValue returns the value of the series name{spec="web", extra...}:
// a counter's or gauge's value, a histogram's sample count; -1 when absent.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"spec": "web"}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !labelsMatch(m, want) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return -1
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

func histogramSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) > 0 {
			return f.GetMetric()[0].GetHistogram().GetSampleSum()
		}
	}
	return -1
}

func reasons(events []v1alpha1.Event, object string) []string {
	var out []string
	for _, e := range events {
		if object == "" || e.Object == object {
			out = append(out, e.Reason)
		}
	}
	return out
}

func countReason(events []v1alpha1.Event, reason string) int {
	n := 0
	for _, e := range events {
		if e.Reason == reason {
			n += e.Count
		}
	}
	return n
}

func TestAReplacedReplicaIsReportedAsReplacedNotAsAScaleUpOrDown(t *testing.T) {
	h := newHarness(t, testSpec(3))
	reg := withMetrics(h)
	converge(h)
	h.rt.set("web-2", StateExited, "")
	h.mustReconcile()

	events := h.r.Events.List("web")
	got := reasons(events, "replica/web-2")
	if len(got) != 3 || got[0] != ReasonReplicaFailed || got[1] != ReasonReplacedAtOnce || got[2] != ReasonReplicaReplaced {
		t.Errorf("events of replica/web-2 = %v, want [%s %s %s]", got, ReasonReplicaFailed, ReasonReplacedAtOnce, ReasonReplicaReplaced)
	}
	if n := countReason(events, ReasonScaledUp); n != 1 {
		t.Errorf("%d ScaledUp events, want only the first one: a replacement is no scale-up", n)
	}
	if n := countReason(events, ReasonScaledDown); n != 0 {
		t.Errorf("%d ScaledDown events: removing a failed replica is no scale-down", n)
	}
	for metric, want := range map[string]float64{
		"scaler_replica_failures_total":     1,
		"scaler_replica_replacements_total": 1,
		"scaler_replicas_created_total":     4,
	} {
		if v := metricValue(t, reg, metric); v != want {
			t.Errorf("%s = %v, want %v", metric, v, want)
		}
	}
}

func TestAFailureHeldInBackOffIsReportedWhenItsReplacementComes(t *testing.T) {
	h := newHarness(t, testSpec(2))
	reg := withMetrics(h)
	converge(h)
	// web-1 had been ready: replaced at once. Its replacements die before
	// they are ready: the first of the slot is replaced at once, the
	// second holds the slot.
	h.rt.set("web-2", StateExited, "")
	h.mustReconcile()
	h.rt.set("web-2", StateExited, "")
	h.now = h.now.Add(time.Second)
	h.mustReconcile()
	h.rt.set("web-2", StateExited, "")
	h.now = h.now.Add(time.Second)
	h.mustReconcile() // back-off, nothing created
	if v := metricValue(t, reg, "scaler_replica_replacements_total"); v != 2 {
		t.Fatalf("replacements during back-off = %v, want 2", v)
	}
	if v := metricValue(t, reg, "scaler_replica_failures_total", "rule", RuleBackOff); v != 1 {
		t.Errorf("failures held by back-off = %v, want 1", v)
	}
	if v := metricValue(t, reg, "scaler_replica_failures_total", "rule", RuleReplacedAtOnce); v != 2 {
		t.Errorf("failures replaced at once = %v, want 2", v)
	}
	if v := metricValue(t, reg, "scaler_backoff_slots"); v != 1 {
		t.Errorf("held slots = %v, want 1", v)
	}
	h.now = h.now.Add(crashBackoffBase)
	h.mustReconcile()
	if v := metricValue(t, reg, "scaler_replica_replacements_total"); v != 3 {
		t.Errorf("replacements after back-off = %v, want 3", v)
	}
	if n := countReason(h.r.Events.List("web"), ReasonScaledUp); n != 1 {
		t.Errorf("%d ScaledUp events, want 1", n)
	}
}

func TestAFailureAbsorbedByAScaleDownIsNoReplacementLater(t *testing.T) {
	h := newHarness(t, testSpec(3))
	reg := withMetrics(h)
	converge(h)
	h.rt.set("web-3", StateExited, "")
	*h.specs.specs["web"].Spec.Replicas = 2
	h.mustReconcile() // web-3 is removed and not replaced
	*h.specs.specs["web"].Spec.Replicas = 3
	h.now = h.now.Add(time.Minute)
	h.mustReconcile()
	if v := metricValue(t, reg, "scaler_replica_replacements_total"); v > 0 {
		t.Errorf("replacements = %v; web-3 came back by a scale-up", v)
	}
	if n := countReason(h.r.Events.List("web"), ReasonScaledUp); n != 2 {
		t.Errorf("%d ScaledUp events, want 2", n)
	}
}

func TestMetricsFollowTheReconciler(t *testing.T) {
	h := newHarness(t, testSpec(2))
	reg := withMetrics(h)
	converge(h)
	for metric, want := range map[string]float64{
		"scaler_replicas_desired":      2,
		"scaler_replicas_ready":        2,
		"scaler_replicas_updated":      2,
		"scaler_upstream_size":         2,
		"scaler_spec_converge_seconds": 1,
	} {
		if v := metricValue(t, reg, metric); v != want {
			t.Errorf("%s = %v, want %v", metric, v, want)
		}
	}
	h.mustReconcile()
	if v := metricValue(t, reg, "scaler_spec_converge_seconds"); v != 1 {
		t.Errorf("converge samples = %v, want still 1: nothing changed", v)
	}
	// Replicas joined the upstream without a reload.
	if v := metricValue(t, reg, "scaler_upstream_updates_total", "result", "success"); v < 1 {
		t.Errorf("successful upstream updates = %v", v)
	}
	if v := metricValue(t, reg, "scaler_nginx_reloads_total", "result", "success"); v != -1 {
		t.Errorf("successful reloads = %v, want none: only the members changed", v)
	}
	if v := metricValue(t, reg, "scaler_reconciles_total", "result", "success"); v != 3 {
		t.Errorf("successful reconciles = %v, want 3", v)
	}

	h.rt.rejectConfig = true
	*h.specs.specs["web"].Spec.Replicas = 1
	h.specs.specs["web"].Spec.LoadBalancer.Algorithm = v1alpha1.AlgorithmRandom // a config change: nginx -t
	if _, err := h.reconcile(); err == nil {
		t.Fatal("a rejected config must fail the reconcile")
	}
	if v := metricValue(t, reg, "scaler_nginx_reloads_total", "result", "failure"); v != 1 {
		t.Errorf("failed reloads = %v, want 1", v)
	}
	if v := metricValue(t, reg, "scaler_reconciles_total", "result", "error"); v != 1 {
		t.Errorf("failed reconciles = %v, want 1", v)
	}
}

func TestConvergeTimeCountsFromWhenTheStoreSawTheChange(t *testing.T) {
	h := newHarness(t, testSpec(1))
	reg := withMetrics(h)
	converge(h)
	h.mustReconcile()
	before := histogramSum(t, reg, "scaler_spec_converge_seconds")

	spec := h.specs.specs["web"]
	*spec.Spec.Replicas = 2
	spec.Metadata.Generation = 2
	h.r.SpecChanged("web")
	// The reconcile starts late, as behind a long drain of the spec.
	h.now = h.now.Add(4 * time.Second)
	h.mustReconcile()
	h.rt.set("web-2", StateRunning, HealthHealthy)
	h.now = h.now.Add(time.Second)
	h.mustReconcile()
	if v := metricValue(t, reg, "scaler_spec_converge_seconds"); v != 2 {
		t.Fatalf("converge samples = %v, want 2 (start-up and the change)", v)
	}
	if got := histogramSum(t, reg, "scaler_spec_converge_seconds") - before; got != 5 {
		t.Errorf("converge time = %vs, want 5s: from SpecChanged, not from the first reconcile", got)
	}

	// An edit that keeps the generation (an invalid one) starts no clock:
	// generation 3 counts from its first reconcile.
	h.r.SpecChanged("web")
	h.now = h.now.Add(time.Minute)
	spec.Metadata.Generation = 3
	*spec.Spec.Replicas = 3
	h.mustReconcile()
	h.rt.set("web-3", StateRunning, HealthHealthy)
	h.now = h.now.Add(2 * time.Second)
	h.mustReconcile()
	if v := metricValue(t, reg, "scaler_spec_converge_seconds"); v != 3 {
		t.Fatalf("converge samples = %v, want 3", v)
	}
	if got := histogramSum(t, reg, "scaler_spec_converge_seconds") - before - 5; got != 2 {
		t.Errorf("converge time of generation 3 = %vs, want 2s", got)
	}
}

func TestAnUnhealthyReplicaIsReportedAndReplaced(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	before := len(h.r.Events.List("web"))
	h.rt.set("web-2", StateRunning, HealthUnhealthy)
	h.mustReconcile()
	events := h.r.Events.List("web")[before:]
	if got := reasons(events, "replica/web-2"); len(got) != 2 || got[0] != ReasonReplicaUnhealthy || got[1] != ReasonReplacedAtOnce {
		t.Fatalf("events of replica/web-2 = %v, want [%s %s]", got, ReasonReplicaUnhealthy, ReasonReplacedAtOnce)
	}
	if got := reasons(events, "replica/web-3"); len(got) != 1 || got[0] != ReasonReplicaReplaced {
		t.Fatalf("events of replica/web-3 = %v, want [%s]", got, ReasonReplicaReplaced)
	}
	if msg := events[len(events)-1].Message; msg != "created web-3 to replace web-2, which turned unhealthy" {
		t.Errorf("message = %q", msg)
	}
	for _, e := range events {
		if e.Reason == ReasonScaledUp {
			t.Errorf("a replacement was reported as a scale-up: %q", e.Message)
		}
	}
}

// brokenStream is an engine whose first events stream breaks at once.
type brokenStream struct {
	*fakeRuntime
	mu     sync.Mutex
	opened int
}

func (b *brokenStream) Events(ctx context.Context) (<-chan Event, <-chan error) {
	b.mu.Lock()
	b.opened++
	first := b.opened == 1
	b.mu.Unlock()
	if first {
		errs := make(chan error, 1)
		errs <- errors.New("unexpected EOF")
		return make(chan Event), errs
	}
	return b.fakeRuntime.Events(ctx)
}

func TestABrokenEventStreamIsCountedWhenReopened(t *testing.T) {
	h := newHarness(t, testSpec(1))
	rt := &brokenStream{fakeRuntime: h.rt}
	reg := prometheus.NewRegistry()
	r := NewReconciler(rt, h.specs, logr.Discard(), NewRecorder(10), nil)
	ctl := NewController(r, logr.Discard())
	r.Metrics = NewMetrics(reg, func() float64 { return float64(ctl.Queue.Len()) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ctl.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	deadline := time.Now().Add(5 * time.Second)
	for {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if f.GetName() == "scaler_docker_event_stream_reconnects_total" && f.GetMetric()[0].GetCounter().GetValue() == 1 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the re-opened events stream was not counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestARolloutIsReportedWhenItStartsAndEnds: a new template records one
// RolloutStarted, then one RolloutComplete; a scale records neither.
func TestARolloutIsReportedWhenItStartsAndEnds(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	count := func(reason string) int {
		n := 0
		for _, e := range h.r.Events.List("web") {
			if e.Reason == reason {
				n += int(max(e.Count, 1))
			}
		}
		return n
	}
	h.setSpec(func(s *v1alpha1.ScaleSpec) { n := int32(3); s.Spec.Replicas = &n })
	converge(h)
	if count(ReasonRolloutStarted)+count(ReasonRolloutComplete) != 0 {
		t.Fatalf("a scale-up reported a rollout: %v", h.r.Events.List("web"))
	}
	h.setSpec(func(s *v1alpha1.ScaleSpec) { s.Spec.Template.Image = "demoapp:v2" })
	h.mustReconcile()
	h.mustReconcile()
	if n := count(ReasonRolloutStarted); n != 1 {
		t.Errorf("%d RolloutStarted events after the template changed, want 1", n)
	}
	for range 30 {
		for _, n := range h.rt.names(v1alpha1.RoleApp) {
			h.rt.set(n, StateRunning, HealthHealthy)
		}
		h.now = h.now.Add(time.Second) // drains end
		h.mustReconcile()
	}
	if n, m := count(ReasonRolloutStarted), count(ReasonRolloutComplete); n != 1 || m != 1 {
		t.Errorf("%d RolloutStarted and %d RolloutComplete after the rollout, want 1 and 1: %v", n, m, h.r.Events.List("web"))
	}
}
