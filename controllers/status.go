package controllers

import (
	"fmt"
	"sort"

	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// updateStatus rebuilds the status of a spec from what this reconcile
// observed and did. Counts are of the observation, as Kubernetes reports
// them: the next reconcile sees the effect of this one.
func (r *Reconciler) updateStatus(name string, st *specState, spec *v1alpha1.ScaleSpec, hash string, app []Container, plan Plan, now time.Time) {
	var ready, updated, updatedReady int32
	for _, c := range app {
		current := c.Labels[v1alpha1.LabelTemplateHash] == hash
		if IsReady(c) {
			ready++
			if current {
				updatedReady++
			}
		}
		if current && !IsFailed(c) {
			updated++
		}
	}
	want := *spec.Spec.Replicas
	unavailable := spec.Spec.Strategy.MaxUnavailable.Resolve(want, false)

	r.mu.Lock()
	defer r.mu.Unlock()
	s := &st.status
	s.ObservedGeneration = spec.Metadata.Generation
	s.Replicas = int32(len(app))
	s.ReadyReplicas = ready
	s.UpdatedReplicas = updated
	s.UpdatedReadyReplicas = updatedReady
	s.Upstream = append([]string{}, st.appliedUpstream...)

	if ready >= want-unavailable {
		s.Conditions = v1alpha1.SetCondition(s.Conditions, r.condition(v1alpha1.ConditionAvailable, v1alpha1.ConditionTrue,
			"MinimumReplicasAvailable", fmt.Sprintf("%d of %d replicas ready", ready, want)))
	} else {
		s.Conditions = v1alpha1.SetCondition(s.Conditions, r.condition(v1alpha1.ConditionAvailable, v1alpha1.ConditionFalse,
			"MinimumReplicasUnavailable", fmt.Sprintf("%d of %d replicas ready, %d needed", ready, want, want-unavailable)))
	}

	// Progress is made whenever another replica of the current template
	// turns ready; a rollout that makes none for progressDeadline stalls.
	converged := plan.Converged() && updatedReady == want && int32(len(app)) == want
	// The deadline clock runs only while there is something to do: it
	// restarts whenever the spec is converged, so a scale-up or rollout
	// started after a long quiet spell gets its whole deadline.
	if converged || hash != st.lastHash || updatedReady > st.lastReady || st.progressSince.IsZero() {
		st.progressSince = now
	}
	// A new template with replicas of another still running starts a
	// rollout; a scalerd that just started (no last template) reports
	// none, it may be in the middle of one.
	if st.lastHash != "" && hash != st.lastHash && updated < int32(len(app)) {
		r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventNormal, ReasonRolloutStarted, "rolling %d replicas to template %s (maxSurge %d, maxUnavailable %d)",
			want, hash, spec.Spec.Strategy.MaxSurge.Resolve(want, true), unavailable)
	}
	st.lastHash, st.lastReady = hash, updatedReady
	deadline := 10 * time.Minute
	if d := spec.Spec.Strategy.ProgressDeadline; d != nil {
		deadline = d.Duration
	}
	switch {
	case converged:
		// A rollout is complete once per template: replacing a crashed
		// replica or scaling converges too, but completes no rollout.
		if st.completedHash != "" && st.completedHash != hash {
			r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventNormal, ReasonRolloutComplete, "all %d replicas run template %s and are ready", want, hash)
		}
		st.completedHash = hash
		s.Conditions = v1alpha1.SetCondition(s.Conditions, r.condition(v1alpha1.ConditionProgressing, v1alpha1.ConditionTrue,
			"ReplicasUpToDate", fmt.Sprintf("%d replicas of template %s ready", want, hash)))
	case now.Sub(st.progressSince) > deadline:
		s.Conditions = v1alpha1.SetCondition(s.Conditions, r.condition(v1alpha1.ConditionProgressing, v1alpha1.ConditionFalse,
			"ProgressDeadlineExceeded", fmt.Sprintf("no new replica turned ready for %s; %d of %d updated replicas ready", deadline, updatedReady, want)))
	default:
		s.Conditions = v1alpha1.SetCondition(s.Conditions, r.condition(v1alpha1.ConditionProgressing, v1alpha1.ConditionTrue,
			"ReplicasUpdating", fmt.Sprintf("%d of %d updated replicas are available", updatedReady, want)))
	}
	if spec.Metadata.Generation != st.seenGeneration {
		st.seenGeneration, st.changedAt = spec.Metadata.Generation, st.changeStart(spec.Metadata.Generation, now)
	}
	if converged && !st.changedAt.IsZero() {
		r.Metrics.converged(name, now.Sub(st.changedAt))
		st.changedAt = time.Time{}
	}
	r.Metrics.setReplicas(name, want, ready, updated, int32(len(st.appliedUpstream)))
}

// Known lists the specs the reconciler holds a status for, sorted: those
// in force, and those whose containers it keeps while a file that may
// define them cannot be read, which the spec source alone does not name.
func (r *Reconciler) Known() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.specs))
	for name := range r.specs {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
