package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

func autoscaling(minR, maxR int32, mutate func(*v1alpha1.Autoscaling)) *v1alpha1.Autoscaling {
	a := &v1alpha1.Autoscaling{
		MinReplicas: &minR, MaxReplicas: maxR,
		Metrics: []v1alpha1.AutoscalingMetric{
			{Type: v1alpha1.MetricRequestsPerSecond, Target: 100},
			{Type: v1alpha1.MetricCPU, Target: 50},
		},
	}
	if mutate != nil {
		mutate(a)
	}
	a.Default()
	return a
}

func TestAutoscale(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	read := func(totals ...float64) []MetricReading {
		r := make([]MetricReading, len(totals))
		for i, v := range totals {
			if v < 0 {
				r[i].Err = errors.New("stats: no answer")
			} else {
				r[i].Total = v
			}
		}
		return r
	}
	bigSteps := func(a *v1alpha1.Autoscaling) {
		a.Behavior.ScaleUp.MaxStep = &v1alpha1.IntOrPercent{Value: 100}
		a.Behavior.ScaleDown.MaxStep = &v1alpha1.IntOrPercent{Value: 100}
		a.Behavior.ScaleDown.StabilizationWindow = &v1alpha1.Duration{}
	}
	tests := []struct {
		name       string
		spec       *v1alpha1.Autoscaling
		current    int32
		ready      int32
		readings   []MetricReading
		history    []Proposal
		want       int32
		reason     string
		unreadable bool
	}{
		{name: "load doubles: at most double per period", spec: autoscaling(1, 10, nil),
			current: 2, ready: 2, readings: read(500, 20), want: 4, reason: "ScaleUpLimitedByMaxStep"},
		{name: "the largest proposal wins", spec: autoscaling(1, 10, bigSteps),
			current: 2, ready: 2, readings: read(250, 290), want: 6, reason: "ScaleUp by CPU"},
		{name: "within 10% of the target: no change", spec: autoscaling(1, 10, bigSteps),
			current: 2, ready: 2, readings: read(218, 20), want: 2, reason: "ScaleWithinTolerance"},
		{name: "just past the tolerance", spec: autoscaling(1, 10, bigSteps),
			current: 2, ready: 2, readings: read(222, 20), want: 3, reason: "ScaleUp by RequestsPerSecond"},
		{name: "clamped to maxReplicas", spec: autoscaling(1, 10, bigSteps),
			current: 4, ready: 4, readings: read(100000, 0), want: 10, reason: "ScaleUp by RequestsPerSecond"},
		{name: "clamped to minReplicas", spec: autoscaling(2, 10, bigSteps),
			current: 4, ready: 4, readings: read(0, 0), want: 2, reason: "ScaleDown"},
		{name: "a scale-down waits for its window", spec: autoscaling(1, 10, nil),
			current: 4, ready: 4, readings: read(100, 10),
			history: []Proposal{{At: now.Add(-time.Minute), Replicas: 4}}, want: 4, reason: "ScaleDownStabilized"},
		{name: "after the window one replica per period", spec: autoscaling(1, 10, nil),
			current: 4, ready: 4, readings: read(100, 10),
			history: []Proposal{{At: now.Add(-6 * time.Minute), Replicas: 4}, {At: now.Add(-4 * time.Minute), Replicas: 1}},
			want:    3, reason: "ScaleDownLimitedByMaxStep"},
		{name: "the window's highest proposal bounds the fall", spec: autoscaling(1, 10, func(a *v1alpha1.Autoscaling) {
			a.Behavior.ScaleDown.MaxStep = &v1alpha1.IntOrPercent{Value: 100}
		}),
			current: 6, ready: 6, readings: read(100, 10),
			history: []Proposal{{At: now.Add(-4 * time.Minute), Replicas: 3}, {At: now.Add(-2 * time.Minute), Replicas: 2}},
			want:    3, reason: "ScaleDown"},
		{name: "a scale-up window takes the lowest proposal", spec: autoscaling(1, 10, func(a *v1alpha1.Autoscaling) {
			a.Behavior.ScaleUp.StabilizationWindow = &v1alpha1.Duration{Duration: 30 * time.Second}
		}),
			current: 2, ready: 2, readings: read(600, 10),
			history: []Proposal{{At: now.Add(-10 * time.Second), Replicas: 3}}, want: 3, reason: "ScaleUp"},
		{name: "an unreadable metric holds the count", spec: autoscaling(1, 10, bigSteps),
			current: 4, ready: 4, readings: read(100, -1), want: 4, reason: "MetricUnreadable: CPU: stats: no answer", unreadable: true},
		{name: "an unreadable metric does not stop a rise", spec: autoscaling(1, 10, bigSteps),
			current: 2, ready: 2, readings: read(800, -1), want: 8, reason: "ScaleUp by RequestsPerSecond", unreadable: true},
		{name: "replicas still starting: no scale-down", spec: autoscaling(1, 10, bigSteps),
			current: 6, ready: 2, readings: read(200, 20), want: 6, reason: "ScaleWithinTolerance"},
		{name: "no ready replica: hold", spec: autoscaling(1, 10, bigSteps),
			current: 3, ready: 0, readings: read(0, 0), want: 3, reason: "ScaleWithinTolerance"},
		{name: "a count outside min and max comes back in", spec: autoscaling(3, 5, nil),
			current: 8, ready: 8, readings: read(800, 400), want: 5, reason: "KeptWithinMinAndMax (3 to 5)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Autoscale(AutoscaleInput{Spec: tt.spec, Current: tt.current, Ready: tt.ready,
				Readings: tt.readings, History: tt.history, Now: now})
			if d.Desired != tt.want || d.Reason != tt.reason {
				t.Errorf("got %d (%s); want %d (%s)", d.Desired, d.Reason, tt.want, tt.reason)
			}
			if (len(d.Unreadable) > 0) != tt.unreadable {
				t.Errorf("unreadable %q; want some: %v", d.Unreadable, tt.unreadable)
			}
			if len(d.Metrics) != len(tt.spec.Metrics) {
				t.Errorf("%d metric values for %d metrics", len(d.Metrics), len(tt.spec.Metrics))
			}
			if last := d.History[len(d.History)-1]; !last.At.Equal(now) {
				t.Errorf("history does not end with this proposal: %+v", d.History)
			}
		})
	}
}

// The history keeps only what a window can still use, so that it stays
// small however long scalerd runs.
func TestAutoscaleHistoryIsBounded(t *testing.T) {
	spec := autoscaling(1, 10, nil) // longest window: scale-down's 5m
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	var hist []Proposal
	current := int32(2)
	for i := range 1000 {
		d := Autoscale(AutoscaleInput{Spec: spec, Current: current, Ready: current,
			Readings: []MetricReading{{Total: float64(100 * (1 + i%5))}, {Total: 10}}, History: hist, Now: now})
		hist, current = d.History, d.Desired
		now = now.Add(3 * time.Second)
	}
	if len(hist) > 101 {
		t.Errorf("history holds %d proposals; 5m at one per 3s is 100", len(hist))
	}
	for _, v := range Autoscale(AutoscaleInput{Spec: spec, Current: current, Ready: current, History: hist, Now: now}).Metrics {
		if !strings.Contains(v.Error, "not read yet") {
			t.Errorf("missing reading shown as %+v", v)
		}
	}
}
