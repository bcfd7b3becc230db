package controllers

import (
	"fmt"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// specChange is when the spec store reported a generation of a spec.
type specChange struct {
	generation int64
	at         time.Time
}

// SpecChanged notes that the spec store reported a change of spec name;
// the daemon calls it from the store's change hook, before enqueueing.
// scaler_spec_converge_seconds then counts from the moment the store saw
// the edit, not from the reconcile that picked it up, which starts later
// when the spec's previous reconcile is still busy (a drain, a reload).
// The time is kept with the generation then in force, so an edit that
// leaves the generation alone (an invalid or a no-op edit) never starts
// the clock of a later one.
func (r *Reconciler) SpecChanged(name string) {
	spec, _, ok := r.Specs.Get(name)
	if !ok {
		return // deleted: there is nothing to converge to
	}
	now := r.Now()
	st := r.state(name)
	r.mu.Lock()
	defer r.mu.Unlock()
	if st.change.generation != spec.Metadata.Generation {
		st.change = specChange{generation: spec.Metadata.Generation, at: now}
	}
}

// changeStart is when generation began to be converged to: when the store
// reported it, or now for a generation it never reported (the specs scalerd
// found at start-up, loaded before anyone listened). r.mu must be held.
func (st *specState) changeStart(generation int64, now time.Time) time.Time {
	if c := st.change; c.generation == generation && !c.at.IsZero() && c.at.Before(now) {
		return c.at
	}
	return now
}

// noteFailure remembers a failed replica until its replacement is created,
// so that the create is reported as ReplicaReplaced, not as ScaledUp: a
// crash does not change how many replicas the user asked for.
func (l *crashLoop) noteFailure(replica, how string) {
	if l.failed == nil {
		l.failed = map[string]string{}
	}
	l.failed[replica] = how
}

// reportReplacements records ReplicaReplaced for each created replica that
// replaces a failed one, and returns the others. A dead replica's
// replacement takes its name (its index); an unhealthy one keeps its name
// until its replacement is ready, so the plan says which unhealthy replicas
// its first creates replace (replacing). A failure whose replacement is not
// pending any more (no back-off holds it, no create failed) is forgotten: a
// scale-down absorbed it, and a later scale-up reusing its name is no
// replacement.
func (r *Reconciler) reportReplacements(spec, hash string, created, replacing []string, stillPending bool) (scaledUp []string) {
	loop := r.state(spec).crash[hash]
	for _, name := range created {
		replaced, how, ok := name, "", false
		if loop != nil {
			how, ok = loop.failed[name]
			for !ok && len(replacing) > 0 {
				replaced, replacing = replacing[0], replacing[1:]
				how, ok = loop.failed[replaced]
			}
		}
		if !ok {
			scaledUp = append(scaledUp, name)
			continue
		}
		delete(loop.failed, replaced)
		r.Metrics.replicaReplaced(spec)
		msg := fmt.Sprintf("created %s to replace the replica that %s", name, how)
		if replaced != name {
			msg = fmt.Sprintf("created %s to replace %s, which %s", name, replaced, how)
		}
		r.Events.Eventf(spec, "replica/"+name, v1alpha1.EventNormal, ReasonReplicaReplaced, "%s", msg)
	}
	if loop != nil && !stillPending {
		loop.failed = nil
	}
	return scaledUp
}
