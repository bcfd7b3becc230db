package cli

import (
	"fmt"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// autoscalingCell reads like `kubectl get hpa`: "1-8: RequestsPerSecond
// 250/100, CPU 41/70", or "<none>" for a spec without spec.autoscaling.
func autoscalingCell(s v1alpha1.ScaleSpec) string {
	a := s.Spec.Autoscaling
	if a == nil {
		return "<none>"
	}
	cell := fmt.Sprintf("%d-%d", a.Min(), a.MaxReplicas)
	if st := s.Status; st != nil && st.Autoscaling != nil {
		cell += ": " + v1alpha1.MetricTargets(st.Autoscaling.Metrics)
	}
	return cell
}

// desiredReplicas is the count the replicas converge to: the autoscaler's
// choice for an autoscaled spec, else spec.replicas.
func desiredReplicas(s v1alpha1.ScaleSpec) int32 {
	if s.Spec.Autoscaling != nil && s.Status != nil && s.Status.Autoscaling != nil {
		return s.Status.Autoscaling.DesiredReplicas
	}
	if s.Spec.Autoscaling != nil && s.Spec.Replicas != nil {
		return s.Spec.Autoscaling.Clamp(*s.Spec.Replicas)
	}
	return deref(s.Spec.Replicas)
}

// autoscalingLines are describe's lines for an autoscaled spec.
func autoscalingLines(s v1alpha1.ScaleSpec) []string {
	a := s.Spec.Autoscaling
	if a == nil {
		return nil
	}
	lines := []string{fmt.Sprintf("min %d, max %d", a.Min(), a.MaxReplicas)}
	st := s.Status
	if st == nil || st.Autoscaling == nil {
		return append(lines, "no decision yet")
	}
	as := st.Autoscaling
	decided := fmt.Sprintf("desired %d (%s)", as.DesiredReplicas, as.Reason)
	if as.LastScaleTime != nil {
		decided += ", last scaled " + as.LastScaleTime.Format("15:04:05")
	}
	lines = append(lines, decided)
	for _, m := range as.Metrics {
		line := fmt.Sprintf("%s: ", m.Type)
		if m.Value != nil {
			line += fmt.Sprintf("%.4g per replica, target %.4g, proposes %d", *m.Value, m.Target, m.Proposal)
		} else {
			line += fmt.Sprintf("unknown (%s), target %.4g; holds the count", m.Error, m.Target)
		}
		lines = append(lines, line)
	}
	return lines
}
