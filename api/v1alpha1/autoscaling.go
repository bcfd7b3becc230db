package v1alpha1

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Autoscaling defaults: HPA v2's, but for a step of one replica down per
// period, which drains the replicas one by one.
const (
	DefaultMinReplicas            = 1
	DefaultScaleUpWindow          = 0
	DefaultScaleDownWindow        = 5 * time.Minute
	DefaultScaleUpMaxStepPercent  = 100
	DefaultScaleDownMaxStep       = 1
	MaxStabilizationWindow        = time.Hour
	maxQueryLength                = 4096
	autoscalingToleranceExplained = "within 10% of the target no change is made"
)

// Default fills in the autoscaler's optional fields.
func (a *Autoscaling) Default() {
	if a.MinReplicas == nil {
		a.MinReplicas = ptr(int32(DefaultMinReplicas))
	}
	up, down := &a.Behavior.ScaleUp, &a.Behavior.ScaleDown
	if up.StabilizationWindow == nil {
		up.StabilizationWindow = &Duration{DefaultScaleUpWindow}
	}
	if up.MaxStep == nil {
		up.MaxStep = &IntOrPercent{Value: DefaultScaleUpMaxStepPercent, IsPercent: true}
	}
	if down.StabilizationWindow == nil {
		down.StabilizationWindow = &Duration{DefaultScaleDownWindow}
	}
	if down.MaxStep == nil {
		down.MaxStep = &IntOrPercent{Value: DefaultScaleDownMaxStep}
	}
}

// DeepCopy returns a copy of a that shares no memory with it; nil stays nil.
func (a *Autoscaling) DeepCopy() *Autoscaling {
	if a == nil {
		return nil
	}
	out := *a
	out.MinReplicas = copyPtr(a.MinReplicas)
	out.Metrics = slices.Clone(a.Metrics)
	out.Behavior = AutoscalingBehavior{ScaleUp: a.Behavior.ScaleUp.deepCopy(), ScaleDown: a.Behavior.ScaleDown.deepCopy()}
	return &out
}

func (r ScalingRules) deepCopy() ScalingRules {
	return ScalingRules{StabilizationWindow: copyPtr(r.StabilizationWindow), MaxStep: copyPtr(r.MaxStep)}
}

// DeepCopy returns a copy of s that shares no memory with it; nil stays nil.
func (s *AutoscalingStatus) DeepCopy() *AutoscalingStatus {
	if s == nil {
		return nil
	}
	out := *s
	out.LastScaleTime = copyPtr(s.LastScaleTime)
	out.Metrics = make([]MetricValue, len(s.Metrics))
	for i, m := range s.Metrics {
		out.Metrics[i] = m
		out.Metrics[i].Value = copyPtr(m.Value)
	}
	return &out
}

// Min is MinReplicas, defaulted.
func (a *Autoscaling) Min() int32 {
	if a.MinReplicas == nil {
		return DefaultMinReplicas
	}
	return *a.MinReplicas
}

// Clamp returns n within MinReplicas..MaxReplicas.
func (a *Autoscaling) Clamp(n int32) int32 {
	return min(max(n, a.Min()), a.MaxReplicas)
}

func (a *Autoscaling) validate(errs *ErrorList, path string, lb *LoadBalancer) {
	minReplicas := a.Min()
	switch {
	case minReplicas < 1:
		errs.addf(path+".minReplicas", "%d is less than 1; an autoscaled spec keeps at least one replica (set spec.replicas: 0 without autoscaling to stop it)", minReplicas)
	case minReplicas > MaxReplicas:
		errs.addf(path+".minReplicas", "%d is more than %d, the most replicas scaler runs for one spec", minReplicas, MaxReplicas)
	}
	switch {
	case a.MaxReplicas == 0:
		errs.addf(path+".maxReplicas", "required; the most replicas the autoscaler may run, like 10")
	case a.MaxReplicas > MaxReplicas:
		errs.addf(path+".maxReplicas", "%d is more than %d, the most replicas scaler runs for one spec", a.MaxReplicas, MaxReplicas)
	case a.MaxReplicas < minReplicas:
		errs.addf(path+".maxReplicas", "%d is less than minReplicas (%d); make maxReplicas at least minReplicas", a.MaxReplicas, minReplicas)
	}
	if len(a.Metrics) == 0 {
		errs.addf(path+".metrics", "required; list at least one metric, like {type: RequestsPerSecond, target: 100}")
	}
	seen := map[string]int{}
	for i, m := range a.Metrics {
		mp := fmt.Sprintf("%s.metrics[%d]", path, i)
		m.validate(errs, mp, lb)
		if m.Type != MetricPrometheus {
			if first, dup := seen[m.Type]; dup {
				errs.addf(mp+".type", "%s is listed twice; the first is %s.metrics[%d]", m.Type, path, first)
			} else {
				seen[m.Type] = i
			}
		}
	}
	a.Behavior.ScaleUp.validate(errs, path+".behavior.scaleUp")
	a.Behavior.ScaleDown.validate(errs, path+".behavior.scaleDown")
}

func (m AutoscalingMetric) validate(errs *ErrorList, path string, lb *LoadBalancer) {
	switch m.Type {
	case "":
		errs.addf(path+".type", "required; one of %s", strings.Join(MetricTypes, ", "))
	case MetricRequestsPerSecond:
		switch {
		case lb == nil:
			errs.addf(path+".type", "RequestsPerSecond counts requests at the load balancer, and this spec has none; add spec.loadBalancer or use CPU")
		case lb.StatusPage != nil && !*lb.StatusPage:
			errs.addf(path+".type", "RequestsPerSecond reads the load balancer's request counter from its status page, which spec.loadBalancer.statusPage: false turns off; turn it on or use CPU")
		}
	case MetricCPU:
	case MetricPrometheus:
		validatePrometheusURL(errs, path+".server", m.Server)
		switch q := strings.TrimSpace(m.Query); {
		case q == "":
			errs.addf(path+".query", `required for type Prometheus; an instant PromQL query that returns one number, like sum(rate(scaler_requests_total{spec="web"}[30s]))`)
		case len(m.Query) > maxQueryLength:
			errs.addf(path+".query", "is %d bytes long; a query has at most %d", len(m.Query), maxQueryLength)
		default:
			validateNoNUL(errs, path+".query", m.Query)
		}
	default:
		errs.addf(path+".type", "%q is not a metric type; use one of %s", truncate(m.Type), strings.Join(MetricTypes, ", "))
	}
	if m.Type != MetricPrometheus {
		if m.Server != "" {
			errs.addf(path+".server", "is for type Prometheus only; remove it")
		}
		if m.Query != "" {
			errs.addf(path+".query", "is for type Prometheus only; remove it")
		}
	}
	switch {
	case math.IsNaN(m.Target) || math.IsInf(m.Target, 0) || m.Target <= 0:
		errs.addf(path+".target", "%v is not a target; use a number more than 0, the value per replica to aim for (%s)", m.Target, autoscalingToleranceExplained)
	case m.Type == MetricCPU && m.Target > 100:
		errs.addf(path+".target", "%v is more than 100; a CPU target is a percentage of one core or of the CPU limit, like 70", m.Target)
	}
}

func validatePrometheusURL(errs *ErrorList, path, raw string) {
	if raw == "" {
		errs.addf(path, `required for type Prometheus; the server's base URL, like "http://127.0.0.1:9090"`)
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		errs.addf(path, "%q is not a URL; write it like \"http://127.0.0.1:9090\"", truncate(raw))
	case u.Scheme != "http" && u.Scheme != "https":
		errs.addf(path, "%q is not an http or https URL; write it like \"http://127.0.0.1:9090\"", truncate(raw))
	case u.Host == "":
		errs.addf(path, "%q names no host; write it like \"http://127.0.0.1:9090\"", truncate(raw))
	case u.RawQuery != "" || u.Fragment != "":
		errs.addf(path, "%q has a query or fragment; give the server's base URL only, the query goes in query", truncate(raw))
	}
}

func (r ScalingRules) validate(errs *ErrorList, path string) {
	if w := r.StabilizationWindow; w != nil {
		switch {
		case w.Duration < 0:
			errs.addf(path+".stabilizationWindow", "%q is negative; use 0s or more", w.Duration.String())
		case w.Duration > MaxStabilizationWindow:
			errs.addf(path+".stabilizationWindow", "%q is longer than %s, the longest window scaler keeps", w.Duration.String(), MaxStabilizationWindow)
		}
	}
	if s := r.MaxStep; s != nil {
		validateIntOrPercent(errs, path+".maxStep", s)
		if s.Value == 0 {
			errs.addf(path+".maxStep", "0 would never move the count; use 1 or more, or a percentage like \"100%%\"")
		}
	}
}

// MetricTargets reads like `kubectl get hpa`'s TARGETS column, each
// metric's value per replica over its target: "RequestsPerSecond 312/100,
// CPU <unknown>/70".
func MetricTargets(ms []MetricValue) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		v := "<unknown>"
		if m.Value != nil {
			v = fmt.Sprintf("%.4g", *m.Value)
		}
		parts = append(parts, fmt.Sprintf("%s %s/%.4g", m.Type, v, m.Target))
	}
	return strings.Join(parts, ", ")
}
