package v1alpha1

import (
	"bytes"
	"encoding/json"
	"slices"
)

// DeepCopy returns a copy of s that shares no memory with it, so that a
// reader of the spec store can never change what the store holds.
func (s *ScaleSpec) DeepCopy() *ScaleSpec {
	if s == nil {
		return nil
	}
	out := *s // source is immutable once decoded and may be shared
	out.Spec = *s.Spec.DeepCopy()
	if s.Status != nil {
		out.Status = s.Status.DeepCopy()
	}
	return &out
}

// DeepCopy returns a copy of spec that shares no memory with it.
func (spec *Spec) DeepCopy() *Spec {
	out := *spec
	out.Replicas = copyPtr(spec.Replicas)
	out.DependsOn = slices.Clone(spec.DependsOn)
	out.Template = *spec.Template.DeepCopy()
	out.Strategy = Strategy{
		MaxSurge:         copyPtr(spec.Strategy.MaxSurge),
		MaxUnavailable:   copyPtr(spec.Strategy.MaxUnavailable),
		DrainTimeout:     copyPtr(spec.Strategy.DrainTimeout),
		ProgressDeadline: copyPtr(spec.Strategy.ProgressDeadline),
	}
	if lb := spec.LoadBalancer; lb != nil {
		lbCopy := *lb
		lbCopy.MaxFails = copyPtr(lb.MaxFails)
		lbCopy.FailTimeout = copyPtr(lb.FailTimeout)
		lbCopy.StatusPage = copyPtr(lb.StatusPage)
		lbCopy.UpstreamHeader = copyPtr(lb.UpstreamHeader)
		out.LoadBalancer = &lbCopy
	}
	out.RevisionHistoryLimit = copyPtr(spec.RevisionHistoryLimit)
	out.Autoscaling = spec.Autoscaling.DeepCopy()
	return &out
}

// DeepCopy returns a copy of t that shares no memory with it.
func (t *Template) DeepCopy() *Template {
	out := *t
	out.Command = slices.Clone(t.Command)
	out.Env = slices.Clone(t.Env)
	if hc := t.HealthCheck; hc != nil {
		out.HealthCheck = &HealthCheck{
			Command:       slices.Clone(hc.Command),
			Interval:      copyPtr(hc.Interval),
			Timeout:       copyPtr(hc.Timeout),
			Retries:       copyPtr(hc.Retries),
			StartPeriod:   copyPtr(hc.StartPeriod),
			StartInterval: copyPtr(hc.StartInterval),
		}
	}
	out.StopGracePeriod = copyPtr(t.StopGracePeriod)
	out.PidsLimit = copyPtr(t.PidsLimit)
	out.ReadOnlyRootFilesystem = copyPtr(t.ReadOnlyRootFilesystem)
	out.Volumes = slices.Clone(t.Volumes)
	return &out
}

// DeepCopy returns a copy of st that shares no memory with it.
func (st *Status) DeepCopy() *Status {
	out := *st
	out.Upstream = slices.Clone(st.Upstream)
	out.Conditions = slices.Clone(st.Conditions)
	if st.Backoff != nil {
		out.Backoff = &Backoff{Slots: slices.Clone(st.Backoff.Slots)}
	}
	out.Autoscaling = st.Autoscaling.DeepCopy()
	return &out
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// SpecEqual reports whether two specs ask for the same thing: their Spec
// parts are equal as JSON, so an empty list equals an omitted one. Default
// both first for a default to equal its explicit value.
func SpecEqual(a, b *Spec) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}
