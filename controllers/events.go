package controllers

import (
	"fmt"
	"sync"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// Event reasons scalerd records.
const (
	ReasonScaledUp          = "ScaledUp"
	ReasonScaledDown        = "ScaledDown"
	ReasonReplicaUnhealthy  = "ReplicaUnhealthy"
	ReasonReplicaFailed     = "ReplicaFailed"
	ReasonReplicaReplaced   = "ReplicaReplaced"
	ReasonBackOff           = "BackOff"
	ReasonUpstreamUpdated   = "UpstreamUpdated"
	ReasonReloadFailed      = "ReloadFailed"
	ReasonSpecInvalid       = "SpecInvalid"
	ReasonLoadBalancerReady = "LoadBalancerCreated"
	ReasonCreateFailed      = "CreateFailed"
	ReasonWaiting           = "WaitingForDependencies"
	ReasonRolloutStarted    = "RolloutStarted"
	ReasonRolloutComplete   = "RolloutComplete"
	ReasonDeleted           = "Deleted"
)

// Recorder keeps the most recent events in a bounded ring, folding repeats.
type Recorder struct {
	mu     sync.Mutex
	events []v1alpha1.Event // oldest first
	limit  int
	now    func() time.Time
	// OnEvent, if set, is called for every recorded event (metrics, logs).
	OnEvent func(v1alpha1.Event)
}

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
	folded := false
	for i := len(r.events) - 1; i >= 0 && i >= len(r.events)-10; i-- {
		e := &r.events[i]
		if e.Spec == spec && e.Object == object && e.Type == eventType && e.Reason == reason && e.Message == msg {
			e.Count++
			e.LastTimestamp = now
			recorded = *e
			// Move the folded event to the end so the ring stays in time order.
			r.events = append(append(r.events[:i:i], r.events[i+1:]...), recorded)
			folded = true
			break
		}
	}
	if !folded {
		recorded = v1alpha1.Event{Type: eventType, Reason: reason, Spec: spec, Object: object, Message: msg,
			Count: 1, FirstTimestamp: now, LastTimestamp: now}
		r.events = append(r.events, recorded)
		if len(r.events) > r.limit {
			r.events = append([]v1alpha1.Event(nil), r.events[len(r.events)-r.limit:]...)
		}
	}
	hook := r.OnEvent
	r.mu.Unlock()
	if hook != nil {
		hook(recorded)
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
