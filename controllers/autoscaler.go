package controllers

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// DefaultAutoscaleInterval is how often the autoscaler reads its metrics
// and decides: five times as often as the HorizontalPodAutoscaler's 15 s,
// which the request counter and the Engine's stats afford.
const DefaultAutoscaleInterval = 3 * time.Second

// ReasonAutoscaled is the event of a count the autoscaler changed.
const ReasonAutoscaled = "Autoscaled"

// MetricSource reads one metric of a spec: its usage summed over the
// ready replicas (requests per second at the load balancer, CPU percent,
// a Prometheus query's value). It touches the world; the decision
// (Autoscale) does not.
type MetricSource interface {
	Read(ctx context.Context, spec *v1alpha1.ScaleSpec, m v1alpha1.AutoscalingMetric, ready []Container) (float64, error)
}

// autoscaleState is what the autoscaler remembers of one spec.
type autoscaleState struct {
	desired   int32
	history   []Proposal
	lastScale time.Time
}

// autoscaleStates are the autoscaled specs' counts, read by every
// reconcile and written by the autoscaler's loop.
type autoscaleStates struct {
	mu    sync.Mutex
	specs map[string]*autoscaleState
}

// replicas is the count in force for an autoscaled spec: the autoscaler's
// latest, or spec.replicas clamped into min..max until it has decided.
// Changed bounds apply at once.
func (s *autoscaleStates) replicas(name string, a *v1alpha1.Autoscaling, start int32) int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.specs == nil {
		s.specs = map[string]*autoscaleState{}
	}
	st, ok := s.specs[name]
	if !ok {
		st = &autoscaleState{desired: a.Clamp(start)}
		s.specs[name] = st
	}
	// Clamped at every reconcile, so that edited bounds apply at once
	// rather than at the next period.
	st.desired = a.Clamp(st.desired)
	return st.desired
}

// keepOnly forgets every spec that is no longer autoscaled (or deleted).
func (s *autoscaleStates) keepOnly(specs []*v1alpha1.ScaleSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range s.specs {
		if !slices.ContainsFunc(specs, func(sp *v1alpha1.ScaleSpec) bool { return sp.Metadata.Name == name }) {
			delete(s.specs, name)
		}
	}
}

func (s *autoscaleStates) forget(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.specs, name)
}

// applyAutoscaling puts the autoscaler's count into spec.replicas of the
// spec a reconcile works on (a copy), so that the plan, the status and
// the rollout bounds all follow it.
//
// A scalerd that starts (or restarts after kill -9) has no decision yet:
// it starts from the replicas that run, not from spec.replicas, so that a
// restart under load never scales an autoscaled app back to its starting
// count. With nothing running, spec.replicas is the start.
func (r *Reconciler) applyAutoscaling(name string, st *specState, spec *v1alpha1.ScaleSpec, app []Container) {
	a := spec.Spec.Autoscaling
	if a == nil {
		r.autoscale.forget(name)
		r.mu.Lock()
		st.status.Autoscaling = nil
		st.status.Conditions = v1alpha1.RemoveCondition(st.status.Conditions, v1alpha1.ConditionScalingActive)
		r.mu.Unlock()
		return
	}
	start := *spec.Spec.Replicas
	if running := int32(len(app) - countFailed(app)); running > 0 {
		start = running
	}
	n := r.autoscale.replicas(name, a, start)
	spec.Spec.Replicas = &n
}

func countFailed(cs []Container) int {
	n := 0
	for _, c := range cs {
		if IsFailed(c) {
			n++
		}
	}
	return n
}

// Autoscaler runs the autoscaling loop over every spec with
// spec.autoscaling: read, decide, and enqueue the spec when its count
// changes; the reconcile then scales as for a manual scale, with the same
// drain before stop.
type Autoscaler struct {
	r        *Reconciler
	source   MetricSource
	interval time.Duration
	log      logr.Logger
}

// NewAutoscaler wires the loop; interval 0 means DefaultAutoscaleInterval.
func NewAutoscaler(r *Reconciler, source MetricSource, interval time.Duration, log logr.Logger) *Autoscaler {
	if interval <= 0 {
		interval = DefaultAutoscaleInterval
	}
	return &Autoscaler{r: r, source: source, interval: interval, log: log}
}

// Run decides every interval until ctx ends.
func (a *Autoscaler) Run(ctx context.Context) {
	tick := time.NewTicker(a.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		a.pass(ctx)
	}
}

// pass decides once for every autoscaled spec. One container list serves
// them all; the metric reads of one spec run one after the other, each
// bounded by the interval, so that a hung source delays only its spec's
// decision.
func (a *Autoscaler) pass(ctx context.Context) {
	var specs []*v1alpha1.ScaleSpec
	for _, name := range a.r.Specs.Names() {
		spec, _, ok := a.r.Specs.Get(name)
		if ok && spec.Spec.Autoscaling != nil {
			spec.Default()
			specs = append(specs, spec)
		}
	}
	a.r.autoscale.keepOnly(specs)
	if len(specs) == 0 {
		return
	}
	all, err := a.r.observe(ctx)
	if err != nil {
		a.log.Error(err, "autoscaler: listing containers; the counts hold")
		return
	}
	for _, spec := range specs {
		var ready []Container
		for _, c := range all {
			if c.Labels[v1alpha1.LabelSpec] == spec.Metadata.Name && c.Labels[v1alpha1.LabelRole] != v1alpha1.RoleLB &&
				c.Labels[v1alpha1.LabelRole] != roleLBCheck && IsReady(c) {
				ready = append(ready, c)
			}
		}
		a.decide(ctx, spec, ready)
	}
}

func (a *Autoscaler) decide(ctx context.Context, spec *v1alpha1.ScaleSpec, ready []Container) {
	name := spec.Metadata.Name
	as := spec.Spec.Autoscaling
	current := a.r.autoscale.replicas(name, as, *spec.Spec.Replicas)
	readings := make([]MetricReading, len(as.Metrics))
	for i, m := range as.Metrics {
		rctx, cancel := context.WithTimeout(ctx, a.interval)
		readings[i].Total, readings[i].Err = a.source.Read(rctx, spec, m, ready)
		cancel()
	}
	now := a.r.Now()
	s := &a.r.autoscale
	s.mu.Lock()
	st := s.specs[name]
	if st == nil {
		s.mu.Unlock()
		return // the spec went away meanwhile
	}
	d := Autoscale(AutoscaleInput{Spec: as, Current: current, Ready: int32(len(ready)), Readings: readings, History: st.history, Now: now})
	st.history = d.History
	changed := d.Desired != st.desired
	if changed {
		st.desired, st.lastScale = d.Desired, now
	}
	status := &v1alpha1.AutoscalingStatus{DesiredReplicas: d.Desired, Metrics: d.Metrics, Reason: d.Reason}
	if !st.lastScale.IsZero() {
		t := st.lastScale
		status.LastScaleTime = &t
	}
	s.mu.Unlock()

	a.r.Metrics.autoscaled(name, d)
	cond := a.r.condition(v1alpha1.ConditionScalingActive, v1alpha1.ConditionTrue, "ValidMetricFound", "every metric was read; the count follows them")
	if len(d.Unreadable) > 0 {
		cond = a.r.condition(v1alpha1.ConditionScalingActive, v1alpha1.ConditionFalse, "FailedGetMetrics",
			"the count holds for want of: "+strings.Join(d.Unreadable, "; "))
	}
	specSt := a.r.state(name)
	a.r.mu.Lock()
	prev := v1alpha1.FindCondition(specSt.status.Conditions, v1alpha1.ConditionScalingActive)
	flipped := prev == nil || prev.Status != cond.Status
	specSt.status.Autoscaling = status
	specSt.status.Conditions = v1alpha1.SetCondition(specSt.status.Conditions, cond)
	a.r.mu.Unlock()
	if flipped && cond.Status == v1alpha1.ConditionFalse {
		a.r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventWarning, "FailedGetMetrics", "%s", cond.Message)
	}
	if !changed {
		return
	}
	a.log.Info("autoscaled", "spec", name, "from", current, "to", d.Desired, "reason", d.Reason, "metrics", v1alpha1.MetricTargets(d.Metrics))
	a.r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventNormal, ReasonAutoscaled, "replicas %d → %d: %s (%s)", current, d.Desired, d.Reason, v1alpha1.MetricTargets(d.Metrics))
	if a.r.Requeue != nil {
		a.r.Requeue(name)
	}
}
