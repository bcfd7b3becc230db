package controllers

import (
	"fmt"
	"sync"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// Event reasons scalerd records.
const (
	ReasonScaledUp         = "ScaledUp"
	ReasonScaledDown       = "ScaledDown"
	ReasonReplicaUnhealthy = "ReplicaUnhealthy"
	ReasonReplicaFailed    = "ReplicaFailed"
	ReasonReplicaReplaced  = "ReplicaReplaced"
	// ReasonReplacedAtOnce and ReasonBackOff say which rule a failed
	// replica fell under (crashloop.go); ReasonBackOffLifted, that a hold
	// was lifted so that capacity does not stay at 0.
	ReasonReplacedAtOnce      = RuleReplacedAtOnce
	ReasonBackOff             = RuleBackOff
	ReasonBackOffLifted       = "BackOffLifted"
	ReasonUpstreamUpdated     = "UpstreamUpdated"
	ReasonReloadFailed        = "ReloadFailed"
	ReasonSpecInvalid         = "SpecInvalid"
	ReasonLoadBalancerCreated = "LoadBalancerCreated"
	ReasonCreateFailed        = "CreateFailed"
	ReasonWaiting             = "WaitingForDependencies"
	ReasonRolloutStarted      = "RolloutStarted"
	ReasonRolloutComplete     = "RolloutComplete"
	ReasonDeleted             = "Deleted"
	// ReasonHistoryWriteFailed and ReasonHistoryCorrupt report state
	// that could not be kept; neither stops convergence.
	ReasonHistoryWriteFailed = "HistoryWriteFailed"
	ReasonHistoryCorrupt     = "HistoryCorrupt"
)

// ConditionHistoryRecorded is False while the rollout history cannot be
// written; it appears only once a write has failed.
const ConditionHistoryRecorded = "HistoryRecorded"

// Recorder keeps the most recent events in a bounded ring, folding
// repeats as Kubernetes does: one event with a count and its first and
// last time seen.
//
// Folding must not hide what happened when. A repeat is folded only into
// an event of the same rollout: an event of the same spec that marks a
// rollout's start or end (RolloutStarted, RolloutComplete) stands between
// them as a barrier, so that the second rollout's "created web-3" does not
// swallow the first's and leave the first rollout without that step. And
// when the ring is full the oldest event of the spec with the most events
// goes, so that a crash-looping spec does not push a quiet spec's rollout
// out of `describe`.
type Recorder struct {
	mu     sync.Mutex
	events []v1alpha1.Event // oldest first
	limit  int
	now    func() time.Time
	// OnEvent, if set, is called for every recorded event (metrics, logs).
	OnEvent func(v1alpha1.Event)
}

// foldWindow is how many of the latest events a repeat may fold into.
const foldWindow = 10

// NewRecorder returns a recorder holding at most limit events.
func NewRecorder(limit int) *Recorder {
	return &Recorder{limit: limit, now: time.Now}
}

// Eventf records an event about object (e.g. "replica/web-2") of spec.
func (r *Recorder) Eventf(spec, object, eventType, reason, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	now := r.now()
	r.mu.Lock()
	var recorded v1alpha1.Event
	if i := r.foldInto(spec, object, eventType, reason, msg); i >= 0 {
		e := r.events[i]
		e.Count++
		e.LastTimestamp = now
		recorded = e
		// Move the folded event to the end so the ring stays in time order.
		r.events = append(append(r.events[:i:i], r.events[i+1:]...), recorded)
	} else {
		recorded = v1alpha1.Event{Type: eventType, Reason: reason, Spec: spec, Object: object, Message: msg,
			Count: 1, FirstTimestamp: now, LastTimestamp: now}
		r.events = append(r.events, recorded)
		for len(r.events) > r.limit {
			r.evictOne()
		}
	}
	hook := r.OnEvent
	r.mu.Unlock()
	if hook != nil {
		hook(recorded)
	}
}

// foldInto returns the index of the recent event a repeat folds into, or
// -1: the same event among the latest foldWindow, with no rollout
// boundary of its spec after it. A boundary itself folds only into the
// spec's latest event: two rollouts' ends stay two events.
func (r *Recorder) foldInto(spec, object, eventType, reason, msg string) int {
	for i := len(r.events) - 1; i >= 0 && i >= len(r.events)-foldWindow; i-- {
		e := &r.events[i]
		if e.Spec != spec {
			continue
		}
		if e.Object == object && e.Type == eventType && e.Reason == reason && e.Message == msg {
			return i
		}
		if isRolloutBoundary(e.Reason) || isRolloutBoundary(reason) {
			return -1
		}
	}
	return -1
}

// isRolloutBoundary reports whether an event of this reason starts or
// ends a rollout.
func isRolloutBoundary(reason string) bool {
	return reason == ReasonRolloutStarted || reason == ReasonRolloutComplete
}

// evictOne drops the oldest event of the spec that holds the most events
// (ties: the spec whose oldest event is older).
func (r *Recorder) evictOne() {
	counts := map[string]int{}
	for _, e := range r.events {
		counts[e.Spec]++
	}
	victim, most := "", 0
	for _, e := range r.events { // oldest first: the first maximum wins ties
		if counts[e.Spec] > most {
			victim, most = e.Spec, counts[e.Spec]
		}
	}
	for i, e := range r.events {
		if e.Spec == victim {
			r.events = append(r.events[:i:i], r.events[i+1:]...)
			return
		}
	}
}

// List returns the events of spec (all when spec is empty), oldest first.
func (r *Recorder) List(spec string) []v1alpha1.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []v1alpha1.Event
	for _, e := range r.events {
		if spec == "" || e.Spec == spec {
			out = append(out, e)
		}
	}
	return out
}
