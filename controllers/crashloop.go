package controllers

import (
	"sort"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// Crash-loop back-off, per replica slot.
//
// A replica slot is a replica number: web-2 is slot 2 whichever container
// holds it. Back-off used to count failures per template, so two unrelated
// `docker kill`s of replicas that had served for minutes held every
// replacement of the spec, and a kill every 6 s emptied the app (issue 22).
// The rules now follow Kubernetes, where a ReplicaSet replaces a lost pod at
// once and only the kubelet backs off, per container, one that keeps
// exiting:
//
//   - A replica that had been ready (scalerd saw it ready at least once)
//     and then dies or turns unhealthy is replaced at once. Its death says
//     nothing about the template: an OOM kill, a chaos tool, a node under
//     pressure. "Ready at all" rather than "ready for longer than its start
//     period" on purpose: a replica only turns ready by passing its health
//     check, which already rate-limits a template that dies after starting
//     to one create per start-up time, and a longer bar would count a kill
//     that lands a few seconds after a replacement turned ready as a crash.
//   - A replica that exits or fails its health check before it ever became
//     ready counts against its slot. The first such failure in a row is
//     still replaced at once (a kill during start-up is no loop); from the
//     second on the slot is held for 10 s, doubling up to 5 min, as the
//     kubelet's CrashLoopBackOff. Other slots are not held.
//   - A slot's count resets once a replica of that slot has stayed ready
//     for crashResetAfter (1 min, not the kubelet's 10: only failures
//     before ready are counted, a stronger sign than the kubelet's any
//     exit, and a long window would let two kills of starting replicas
//     minutes apart hold a slot of a template that works).
//   - Capacity never falls to 0 by scaler's choice: while the template has
//     been seen ready and no replica of the spec is ready or starting, the
//     hold that ends first is lifted, so one replacement is always on its
//     way (keepOneReplacing).
//
// A template that never becomes ready thus creates a bounded number of
// containers per slot (5 in 2 minutes: at 0, at the first failure, then
// after 10, 20 and 40 s), and the planner counts held slots against what
// it may create, so a rollout or scale-up to it stops and says why
// (status.backoff, events, `get -o wide`).

// Back-off bounds. Not part of the API.
const (
	// crashBackoffBase and crashBackoffMax bound the wait before a slot
	// whose replicas keep failing before they are ready gets another.
	crashBackoffBase = 10 * time.Second
	crashBackoffMax  = 5 * time.Minute
	// crashResetAfter is how long a replica of a slot must stay ready for
	// the slot's failures to be forgotten.
	crashResetAfter = time.Minute
)

// Rules a failure is handled by, as events and metrics name them.
const (
	// RuleReplacedAtOnce: the replica had been ready, or it is the first
	// of its slot to fail before ready; it is replaced in the same pass.
	RuleReplacedAtOnce = "ReplacedAtOnce"
	// RuleBackOff: the slot's replicas keep failing before they are
	// ready; the slot is held for a delay.
	RuleBackOff = "BackOff"
)

// crashLoop is what scalerd remembers of the replicas of one template
// between passes. Losing it (a restart) costs at most one extra create per
// slot: the first failure of a slot is replaced at once anyway.
type crashLoop struct {
	// ran is set once any replica of the template was seen ready: the
	// template is known to run, and keepOneReplacing applies.
	ran bool
	// slots holds the slots with failures in a row, by replica index.
	slots map[int]*slotLoop
	// seen holds the containers of the template by ID, while they exist.
	seen map[string]*seenReplica
	// failed maps a failed replica's name to how it failed, until its
	// replacement is created (see reportReplacements).
	failed map[string]string
}

// slotLoop counts the replicas of one slot that failed in a row before
// they ever became ready.
type slotLoop struct {
	failures    int
	lastFailure time.Time
}

// seenReplica is one container as the crash tracker saw it.
type seenReplica struct {
	// readySince is when it was first seen ready, zero if never.
	readySince time.Time
	// handled is set once its failure was counted or forgiven.
	handled bool
}

// failure is one newly seen failure and the rule that handles it.
type failure struct {
	Replica Container
	Slot    int
	// What says how it failed: "exited" or "turned unhealthy".
	What string
	// WasReady is true when it had been ready before it failed.
	WasReady bool
	// Rule is RuleReplacedAtOnce or RuleBackOff.
	Rule string
	// Failures counts the slot's failures before ready in a row (0 when
	// WasReady), and Delay is the slot's hold (0 unless RuleBackOff).
	Failures int
	Delay    time.Duration
}

func newCrashLoop() *crashLoop {
	return &crashLoop{slots: map[int]*slotLoop{}, seen: map[string]*seenReplica{}}
}

// backoffDelay is the hold after failures replicas of a slot failed in a
// row before they were ready: none for the first, then 10 s doubling up
// to 5 min.
func backoffDelay(failures int) time.Duration {
	if failures <= 1 {
		return 0
	}
	d := crashBackoffBase
	for i := 2; i < failures && d < crashBackoffMax; i++ {
		d *= 2
	}
	return min(d, crashBackoffMax)
}

// observe takes in the containers of the template (those of other
// templates are ignored) seen at now, and returns the failures not seen
// before, each with its rule. wasHealthy, if set, says whether a container
// was ever reported healthy between two passes (an event, a start probe):
// such a container had been ready too. It is pure bookkeeping: no events,
// no I/O.
func (l *crashLoop) observe(hash string, app []Container, now time.Time, wasHealthy func(id string) bool) []failure {
	var out []failure
	present := make(map[string]bool, len(app))
	for _, c := range sortedByIndex(app) {
		if c.Labels[v1alpha1.LabelTemplateHash] != hash {
			continue
		}
		present[c.ID] = true
		s := l.seen[c.ID]
		if s == nil {
			s = &seenReplica{}
			l.seen[c.ID] = s
		}
		slot := ReplicaIndex(c)
		if IsReady(c) {
			l.ran = true
			if s.readySince.IsZero() {
				s.readySince = now
			}
			if now.Sub(s.readySince) >= crashResetAfter {
				delete(l.slots, slot)
			}
			continue
		}
		if !IsFailed(c) || s.handled {
			continue
		}
		s.handled = true
		wasReady := !s.readySince.IsZero() || wasHealthy != nil && wasHealthy(c.ID)
		l.ran = l.ran || wasReady
		f := failure{Replica: c, Slot: slot, What: "exited", WasReady: wasReady, Rule: RuleReplacedAtOnce}
		if c.State == StateRunning {
			f.What = "turned unhealthy"
		}
		if !f.WasReady {
			sl := l.slots[slot]
			if sl == nil {
				sl = &slotLoop{}
				l.slots[slot] = sl
			}
			sl.failures++
			sl.lastFailure = now
			f.Failures, f.Delay = sl.failures, backoffDelay(sl.failures)
			if f.Delay > 0 {
				f.Rule = RuleBackOff
			}
		}
		out = append(out, f)
	}
	for id := range l.seen {
		if !present[id] {
			delete(l.seen, id)
		}
	}
	return out
}

// heldSlot is a slot waiting out its back-off.
type heldSlot struct {
	Slot     int
	Failures int
	Delay    time.Duration
	Until    time.Time
}

// held lists the slots whose back-off has not ended at now, lowest first.
func (l *crashLoop) held(now time.Time) []heldSlot {
	var out []heldSlot
	for slot, sl := range l.slots {
		d := backoffDelay(sl.failures)
		if until := sl.lastFailure.Add(d); d > 0 && now.Before(until) {
			out = append(out, heldSlot{Slot: slot, Failures: sl.failures, Delay: d, Until: until})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Slot < out[j].Slot })
	return out
}

// keepOneReplacing applies "capacity never falls to 0 by scaler's choice":
// when the template is known to run (ran) and no replica of the spec is
// ready or on its way to it (live counts running replicas, of any
// template, that are not failed), the hold that ends first is lifted. It
// returns the holds that stay and the one lifted, if any.
func keepOneReplacing(held []heldSlot, ran bool, live int) (stay []heldSlot, lifted *heldSlot) {
	if !ran || live > 0 || len(held) == 0 {
		return held, nil
	}
	first := 0
	for i, h := range held {
		if h.Until.Before(held[first].Until) {
			first = i
		}
	}
	lifted = &held[first]
	for i, h := range held {
		if i != first {
			stay = append(stay, h)
		}
	}
	return stay, lifted
}

// liveReplicas counts the replicas that serve or may soon: running (or
// created) and not failed.
func liveReplicas(app []Container) int {
	n := 0
	for _, c := range app {
		if (c.State == StateRunning || c.State == StateCreated) && !IsFailed(c) {
			n++
		}
	}
	return n
}

// heldMap is the planner's view of held slots: slot to end of hold.
func heldMap(held []heldSlot) map[int]time.Time {
	if len(held) == 0 {
		return nil
	}
	m := make(map[int]time.Time, len(held))
	for _, h := range held {
		m[h.Slot] = h.Until
	}
	return m
}

// backoffStatus is the status.backoff of held slots, nil when none is.
func backoffStatus(held []heldSlot) *v1alpha1.Backoff {
	if len(held) == 0 {
		return nil
	}
	b := &v1alpha1.Backoff{}
	for _, h := range held {
		b.Slots = append(b.Slots, v1alpha1.SlotBackoff{Replica: int32(h.Slot), Failures: int32(h.Failures),
			Delay: v1alpha1.Duration{Duration: h.Delay}, Until: h.Until.UTC()})
	}
	return b
}

// trackCrashes takes in the failures of replicas of the current template
// since the last pass, reports the rule each falls under (events, metrics,
// log), and returns the slots the planner must leave empty for now.
// inFlight counts the replicas being created or started: they are on
// their way to ready, as live ones are.
func (r *Reconciler) trackCrashes(name string, st *specState, hash string, app []Container, inFlight int, now time.Time) []heldSlot {
	loop, ok := st.crash[hash]
	if !ok {
		loop = newCrashLoop()
		st.crash = map[string]*crashLoop{hash: loop} // older templates' counts no longer matter
	}
	for _, f := range loop.observe(hash, app, now, r.seen.wasHealthy) {
		c := f.Replica
		reason := ReasonReplicaFailed
		if c.State == StateRunning {
			reason = ReasonReplicaUnhealthy
		}
		r.Events.Eventf(name, "replica/"+c.Name, v1alpha1.EventWarning, reason, "replica %s %s; it left the upstream and is replaced", c.Name, f.What)
		r.Metrics.replicaFailed(name, f.Rule)
		loop.noteFailure(c.Name, f.What)
		switch {
		case f.WasReady:
			r.Events.Eventf(name, "replica/"+c.Name, v1alpha1.EventNormal, ReasonReplacedAtOnce,
				"%s had been ready, so its failure says nothing about the template: slot %d is not held, its replacement is created at once", c.Name, f.Slot)
		case f.Rule == RuleReplacedAtOnce:
			r.Events.Eventf(name, "replica/"+c.Name, v1alpha1.EventNormal, ReasonReplacedAtOnce,
				"%s failed before it became ready, the first of slot %d in a row: replaced at once; another such failure holds the slot for %s", c.Name, f.Slot, crashBackoffBase)
		default:
			r.Events.Eventf(name, "replica/"+c.Name, v1alpha1.EventWarning, ReasonBackOff,
				"slot %d (%s): %d replicas in a row failed before they became ready; back-off %s before the slot gets another", f.Slot, c.Name, f.Failures, f.Delay)
		}
		r.Log.Info("replica failed", "spec", name, "replica", c.Name, "state", c.State, "health", c.Health,
			"wasReady", f.WasReady, "rule", f.Rule, "slotFailures", f.Failures, "backoff", f.Delay)
	}
	held, lifted := keepOneReplacing(loop.held(now), loop.ran, liveReplicas(app)+inFlight)
	if lifted != nil {
		r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventNormal, ReasonBackOffLifted,
			"no replica is ready or starting and template %s has run before: slot %d's back-off (%s) is lifted so that one replacement is always on its way", hash, lifted.Slot, lifted.Delay)
	}
	r.Metrics.setHeldSlots(name, len(held))
	return held
}
