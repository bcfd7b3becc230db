package controllers

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// autoscaleTolerance is the HorizontalPodAutoscaler's: a usage within 10%
// of the target proposes no change, so that noise does not move the count.
const autoscaleTolerance = 0.1

// MetricReading is one metric's usage summed over the ready replicas
// (requests per second, CPU percent, or a Prometheus query's value), or
// the reason it could not be read.
type MetricReading struct {
	Total float64
	Err   error
}

// AutoscaleInput is everything one autoscaling decision depends on; the
// decision itself (Autoscale) does no I/O, so that it is table-tested.
type AutoscaleInput struct {
	Spec *v1alpha1.Autoscaling
	// Current is the count in force: the autoscaler's last decision, or
	// spec.replicas clamped at the start.
	Current int32
	// Ready counts the ready replicas the readings were taken over.
	Ready int32
	// Readings are in the order of Spec.Metrics.
	Readings []MetricReading
	// History holds the earlier proposals still inside a stabilization
	// window, oldest first; Autoscale returns it trimmed and extended.
	History []Proposal
	Now     time.Time
}

// Proposal is what the metrics asked for at one time, before the
// stabilization windows and steps.
type Proposal struct {
	At       time.Time
	Replicas int32
}

// AutoscaleDecision is the count chosen and why.
type AutoscaleDecision struct {
	Desired int32
	// Reason names the rule that decided, for status, events and describe.
	Reason string
	// Metrics are the per-replica values and each metric's own proposal.
	Metrics []v1alpha1.MetricValue
	// Unreadable lists the metrics that could not be read, with why; the
	// ScalingActive condition is False while it is not empty.
	Unreadable []string
	History    []Proposal
}

// Autoscale decides the count with HPA v2's rules: each metric proposes
// ceil(total / target) (its current count within the 10% tolerance, and
// the current count when it cannot be read: a missing metric never scales
// down); the largest proposal wins; a scale-up goes no higher than the
// lowest proposal of its stabilization window and a scale-down no lower
// than the highest of its own; each period moves at most maxStep; the
// result stays within minReplicas..maxReplicas.
//
// While fewer replicas are ready than the count in force (a scale-up still
// starting, a replica replaced), the readings cover only the ready ones
// and would read as a drop in load: such a proposal may grow the count
// but never shrink it.
func Autoscale(in AutoscaleInput) AutoscaleDecision {
	a := in.Spec
	current := in.Current
	var d AutoscaleDecision
	proposal := int32(0)
	proposer := ""
	for i, m := range a.Metrics {
		mv := v1alpha1.MetricValue{Type: m.Type, Target: m.Target, Proposal: current}
		var r MetricReading
		if i < len(in.Readings) {
			r = in.Readings[i]
		} else {
			r.Err = fmt.Errorf("not read yet")
		}
		switch {
		case r.Err != nil:
			mv.Error = r.Err.Error()
			d.Unreadable = append(d.Unreadable, fmt.Sprintf("%s: %v", m.Type, r.Err))
		case in.Ready == 0:
			mv.Error = "no ready replica to measure"
		default:
			perReplica := r.Total / float64(in.Ready)
			mv.Value = &perReplica
			mv.Proposal = metricProposal(r.Total, m.Target, in.Ready, current)
		}
		d.Metrics = append(d.Metrics, mv)
		if mv.Proposal > proposal {
			proposal, proposer = mv.Proposal, m.Type
		}
	}
	if proposal < current && in.Ready < current {
		proposal, proposer = current, ""
	}
	proposal = a.Clamp(proposal)

	upWindow := window(a.Behavior.ScaleUp.StabilizationWindow)
	downWindow := window(a.Behavior.ScaleDown.StabilizationWindow)
	longest := max(upWindow, downWindow)
	for _, p := range in.History {
		if in.Now.Sub(p.At) < longest {
			d.History = append(d.History, p)
		}
	}
	d.History = append(d.History, Proposal{At: in.Now, Replicas: proposal})

	// The HPA's stabilization: the lowest proposal of the scale-up window
	// bounds a rise, the highest of the scale-down window bounds a fall.
	upBound, downBound := proposal, proposal
	for _, p := range d.History {
		age := in.Now.Sub(p.At)
		if age <= upWindow {
			upBound = min(upBound, p.Replicas)
		}
		if age <= downWindow {
			downBound = max(downBound, p.Replicas)
		}
	}
	desired := current
	reason := "ScaleWithinTolerance"
	switch {
	case upBound > current:
		desired, reason = upBound, "ScaleUp"
	case downBound < current:
		desired, reason = downBound, "ScaleDown"
	case proposal > current:
		reason = "ScaleUpStabilized"
	case proposal < current:
		reason = "ScaleDownStabilized"
	}
	if proposer != "" && desired != current && desired == proposal {
		reason += " by " + proposer
	}
	if limit := current + step(a.Behavior.ScaleUp.MaxStep, current); desired > limit {
		desired, reason = limit, "ScaleUpLimitedByMaxStep"
	}
	if limit := current - step(a.Behavior.ScaleDown.MaxStep, current); desired < limit {
		desired, reason = limit, "ScaleDownLimitedByMaxStep"
	}
	if clamped := a.Clamp(desired); clamped != desired || current != a.Clamp(current) {
		desired = clamped
		reason = fmt.Sprintf("KeptWithinMinAndMax (%d to %d)", a.Min(), a.MaxReplicas)
	}
	if len(d.Unreadable) > 0 && desired == current {
		reason = "MetricUnreadable: " + strings.Join(d.Unreadable, "; ")
	}
	d.Desired, d.Reason = desired, reason
	return d
}

// metricProposal is ceil(total / target), or current when the usage per
// ready replica is within the tolerance of the target.
func metricProposal(total, target float64, ready, current int32) int32 {
	ratio := total / (target * float64(ready))
	if math.Abs(ratio-1) <= autoscaleTolerance {
		return current
	}
	n := math.Ceil(total/target - 1e-9)
	if n > float64(v1alpha1.MaxReplicas) {
		return v1alpha1.MaxReplicas
	}
	return int32(max(n, 0))
}

// step resolves a maxStep against the current count: at least one.
func step(s *v1alpha1.IntOrPercent, current int32) int32 {
	if s == nil {
		return math.MaxInt32 / 2
	}
	return max(s.Resolve(current, true), 1)
}

func window(d *v1alpha1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}
