package controllers

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

func TestBackoffDelayDoublesFrom10sTo5min(t *testing.T) {
	var got []string
	for n := 1; n <= 8; n++ {
		got = append(got, backoffDelay(n).String())
	}
	if want := "0s 10s 20s 40s 1m20s 2m40s 5m0s 5m0s"; strings.Join(got, " ") != want {
		t.Errorf("delays = %s, want %s", strings.Join(got, " "), want)
	}
}

// at is a fake clock for the pure functions: t0 plus s seconds.
func at(s float64) time.Time {
	return time.Unix(1000, 0).Add(time.Duration(s * float64(time.Second)))
}

func TestCrashLoopForgivesAReplicaThatHadBeenReady(t *testing.T) {
	l := newCrashLoop()
	ready := replica(2, "a", "ready")
	if f := l.observe("a", []Container{ready}, at(0), nil); len(f) != 0 {
		t.Fatalf("failures of a ready replica: %+v", f)
	}
	dead := ready
	dead.State = StateExited
	f := l.observe("a", []Container{dead}, at(30), nil)
	if len(f) != 1 || !f[0].WasReady || f[0].Rule != RuleReplacedAtOnce || f[0].Delay != 0 {
		t.Fatalf("failures = %+v, want one replaced at once", f)
	}
	if f := l.observe("a", []Container{dead}, at(31), nil); len(f) != 0 {
		t.Errorf("a failure is reported once, got %+v again", f)
	}
	if h := l.held(at(31)); len(h) != 0 {
		t.Errorf("held = %+v after the death of a ready replica", h)
	}
}

// neverReady returns a fresh container of slot that failed before it was
// ready; n makes its ID unique.
func neverReady(slot, n int, hash string) Container {
	c := replica(slot, hash, "exited")
	c.ID = fmt.Sprintf("%s-try%d", c.ID, n)
	return c
}

func TestCrashLoopHoldsOnlyTheSlotThatKeepsFailing(t *testing.T) {
	l := newCrashLoop()
	// Slot 3 fails before ready twice; slot 1 serves, slot 2 fails once.
	l.observe("a", []Container{replica(1, "a", "ready"), neverReady(2, 1, "a"), neverReady(3, 1, "a")}, at(0), nil)
	f := l.observe("a", []Container{replica(1, "a", "ready"), neverReady(3, 2, "a")}, at(2), nil)
	if len(f) != 1 || f[0].Rule != RuleBackOff || f[0].Slot != 3 || f[0].Failures != 2 || f[0].Delay != crashBackoffBase {
		t.Fatalf("failures = %+v, want slot 3 in back-off for 10s", f)
	}
	h := l.held(at(3))
	if len(h) != 1 || h[0].Slot != 3 || !h[0].Until.Equal(at(12)) {
		t.Fatalf("held = %+v, want slot 3 until +12s", h)
	}
	if h := l.held(at(12)); len(h) != 0 {
		t.Errorf("held at the end of the delay = %+v", h)
	}
}

func TestCrashLoopResetsASlotOnceAReplicaOfItStayedReady(t *testing.T) {
	l := newCrashLoop()
	l.observe("a", []Container{neverReady(1, 1, "a")}, at(0), nil)
	l.observe("a", []Container{neverReady(1, 2, "a")}, at(1), nil)
	l.observe("a", []Container{neverReady(1, 3, "a")}, at(12), nil)
	if h := l.held(at(13)); len(h) != 1 || h[0].Delay != 2*crashBackoffBase {
		t.Fatalf("held = %+v, want slot 1 for 20s", h)
	}
	// A replica of slot 1 turns ready at 40 s: not yet a reset.
	good := replica(1, "a", "ready")
	l.observe("a", []Container{good}, at(40), nil)
	l.observe("a", []Container{good}, at(40+crashResetAfter.Seconds()-1), nil)
	if sl := l.slots[1]; sl == nil || sl.failures != 3 {
		t.Fatalf("slot 1 reset before its replica was ready for %s: %+v", crashResetAfter, sl)
	}
	l.observe("a", []Container{good}, at(40+crashResetAfter.Seconds()), nil)
	if sl := l.slots[1]; sl != nil {
		t.Fatalf("slot 1 not reset after its replica was ready for %s: %+v", crashResetAfter, sl)
	}
	// The next failure before ready is the first of a new run.
	f := l.observe("a", []Container{neverReady(1, 4, "a")}, at(200), nil)
	if len(f) != 1 || f[0].Failures != 1 || f[0].Rule != RuleReplacedAtOnce {
		t.Errorf("failure after the reset = %+v, want the first of a run", f)
	}
}

func TestCrashLoopIgnoresOtherTemplatesAndForgetsRemovedContainers(t *testing.T) {
	l := newCrashLoop()
	if f := l.observe("b", []Container{neverReady(1, 1, "a")}, at(0), nil); len(f) != 0 {
		t.Errorf("a replica of another template was counted: %+v", f)
	}
	l.observe("b", []Container{replica(1, "b", "starting")}, at(1), nil)
	l.observe("b", nil, at(2), nil)
	if len(l.seen) != 0 {
		t.Errorf("seen = %v after every container went", l.seen)
	}
	if l.ran {
		t.Error("a template never seen ready is not known to run")
	}
}

func TestKeepOneReplacingLiftsTheHoldThatEndsFirst(t *testing.T) {
	held := []heldSlot{{Slot: 1, Until: at(40)}, {Slot: 2, Until: at(20)}, {Slot: 3, Until: at(30)}}
	if stay, lifted := keepOneReplacing(held, false, 0); lifted != nil || len(stay) != 3 {
		t.Errorf("a template never seen ready keeps its holds: stay %v, lifted %v", stay, lifted)
	}
	if stay, lifted := keepOneReplacing(held, true, 1); lifted != nil || len(stay) != 3 {
		t.Errorf("with a live replica the holds stay: stay %v, lifted %v", stay, lifted)
	}
	stay, lifted := keepOneReplacing(held, true, 0)
	if lifted == nil || lifted.Slot != 2 || len(stay) != 2 || stay[0].Slot != 1 || stay[1].Slot != 3 {
		t.Errorf("stay %v, lifted %v; want slot 2 lifted", stay, lifted)
	}
}

func TestPlanCreatesOnlyInFreeSlotsAndCountsHeldOnes(t *testing.T) {
	obs := []Container{replica(1, "a", "ready"), replica(3, "a", "ready")}
	p := PlanReplicas(PlanInput{Replicas: 4, TemplateHash: "a", Observed: obs, Held: map[int]time.Time{2: at(10)}})
	if got := p.String(); got != "create 4\nhold slot 2 (back-off)\nupstream [web-1 web-3]\n" {
		t.Errorf("plan =\n%s", got)
	}
	if p.Converged() {
		t.Error("a plan with a held slot is not converged")
	}
	// A rollout to a template whose slot 5 is held creates nothing else:
	// skipping to slot 6 would give a template that cannot run a fresh
	// slot, with no back-off, on every hold.
	obs = []Container{replica(1, "old", "ready"), replica(2, "old", "ready"), replica(3, "old", "ready"), replica(4, "old", "ready")}
	p = PlanReplicas(PlanInput{Replicas: 4, TemplateHash: "new", MaxSurge: 1, Observed: obs, Held: map[int]time.Time{5: at(10)}})
	if len(p.Create) != 0 || !slices.Equal(p.Held, []int{5}) || len(p.Remove) != 0 {
		t.Errorf("plan =\n%s", p)
	}
}

// crashLoopSim drives a harness on a fake clock: each tick advances it,
// makes the replicas that fails picks exit once they are 1 s old (a
// process that exits after 1 s), and reconciles. It counts creates.
type crashLoopSim struct {
	h       *harness
	started map[string]time.Time // container ID -> when created
	creates int
}

func (s *crashLoopSim) tick(d time.Duration, fails func(Container) bool) {
	s.h.t.Helper()
	s.h.now = s.h.now.Add(d)
	all, _ := s.h.rt.ListManaged(s.h.t.Context())
	for _, c := range all {
		if c.Labels[v1alpha1.LabelRole] != v1alpha1.RoleApp {
			continue
		}
		if _, ok := s.started[c.ID]; !ok {
			s.started[c.ID] = s.h.now
			s.creates++
			continue
		}
		if c.State == StateRunning && fails(c) && s.h.now.Sub(s.started[c.ID]) >= time.Second {
			s.h.rt.set(c.Name, StateExited, "")
		}
	}
	s.h.mustReconcile()
}

func TestANeverReadyTemplateHoldsItsSlotsWithDoublingDelays(t *testing.T) {
	h := newHarness(t, testSpec(3))
	sim := &crashLoopSim{h: h, started: map[string]time.Time{}}
	h.mustReconcile()
	var maxHeld []v1alpha1.SlotBackoff
	for range 240 { // 2 minutes, a pass every 0.5 s
		sim.tick(500*time.Millisecond, func(Container) bool { return true })
		if st, _ := h.r.Status("web"); st.Backoff != nil && len(st.Backoff.Slots) >= len(maxHeld) {
			maxHeld = st.Backoff.Slots
		}
	}
	sim.tick(0, func(Container) bool { return false }) // count the last creates
	t.Logf("%d containers created in 2 simulated minutes", sim.creates)
	// Per slot: at 0, at its first failure, then after 10, 20 and 40 s.
	if sim.creates > 3*5 {
		t.Errorf("%d containers created in 2 minutes by 3 slots that never turn ready, want at most 15", sim.creates)
	}
	if sim.creates < 3*4 {
		t.Errorf("only %d containers created; back-off must end and try again", sim.creates)
	}
	st, _ := h.r.Status("web")
	if st.Backoff == nil || len(st.Backoff.Slots) != 3 {
		t.Fatalf("status.backoff = %+v, want the 3 slots held", st.Backoff)
	}
	for _, sl := range st.Backoff.Slots {
		if sl.Delay.Duration < 4*crashBackoffBase || sl.Failures < 4 {
			t.Errorf("slot %d: %d failures, delay %s; want it doubled to 40s or more", sl.Replica, sl.Failures, sl.Delay.Duration)
		}
	}
	var backoffs []string
	for _, e := range h.r.Events.List("web") {
		if e.Reason == ReasonBackOff {
			backoffs = append(backoffs, e.Message)
		}
		if e.Reason == ReasonBackOffLifted {
			t.Errorf("a template never seen ready had a hold lifted: %s", e.Message)
		}
	}
	for _, want := range []string{"slot 1 (web-1): 2 replicas in a row failed before they became ready; back-off 10s", "back-off 20s", "back-off 40s"} {
		if !slices.ContainsFunc(backoffs, func(m string) bool { return strings.Contains(m, want) }) {
			t.Errorf("no BackOff event says %q: %q", want, backoffs)
		}
	}
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionAvailable); c == nil || c.Status != v1alpha1.ConditionFalse {
		t.Errorf("Available = %+v", c)
	}
}

func TestARolloutToANeverReadyTemplateKeepsTheOldReplicasServing(t *testing.T) {
	spec := testSpec(4)
	h := newHarness(t, spec)
	converge(h)
	old := h.rt.names(v1alpha1.RoleApp)
	sim := &crashLoopSim{h: h, started: map[string]time.Time{}}
	for _, c := range must(h.rt.ListManaged(t.Context())) {
		sim.started[c.ID] = h.now
	}
	spec.Spec.Template.Image = "demoapp:broken"
	for range 240 {
		sim.tick(500*time.Millisecond, func(c Container) bool { return c.Image == "demoapp:broken" })
		if up := h.upstream(); len(up) != 4 {
			t.Fatalf("upstream = %v at %s; the old replicas must keep serving", up, h.now.Sub(time.Unix(1000, 0)))
		}
	}
	sim.tick(0, func(Container) bool { return false })
	t.Logf("%d containers of the broken template created in 2 simulated minutes", sim.creates)
	if sim.creates > 5 {
		t.Errorf("%d containers of the broken template created in 2 minutes, want at most 5 (one slot, maxSurge 1)", sim.creates)
	}
	for _, n := range old {
		if !slices.Contains(h.rt.names(v1alpha1.RoleApp), n) {
			t.Errorf("old replica %s was removed", n)
		}
	}
	st, _ := h.r.Status("web")
	if st.Backoff == nil || len(st.Backoff.Slots) != 1 || st.Backoff.Slots[0].Replica != 5 {
		t.Errorf("status.backoff = %+v, want slot 5 held", st.Backoff)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestAKilledReadyReplicaIsReplacedInTheSamePass(t *testing.T) {
	h := newHarness(t, testSpec(4))
	converge(h)
	h.rt.set("web-3", StateExited, "")
	h.mustReconcile()
	calls := strings.Join(h.rt.takeCalls(), "; ")
	if !strings.Contains(calls, "remove web-3") || !strings.Contains(calls, "create web-3") {
		t.Fatalf("calls = %q, want web-3 removed and recreated in one pass", calls)
	}
	if st, _ := h.r.Status("web"); st.Backoff != nil {
		t.Errorf("status.backoff = %+v", st.Backoff)
	}
}

// Kills of replicas that had been ready, as `docker kill` every few
// seconds: none holds a slot, however many and however close.
func TestUnrelatedKillsOfReadyReplicasHoldNoSlot(t *testing.T) {
	h := newHarness(t, testSpec(4))
	converge(h)
	creates := 0
	for i, victim := range []string{"web-1", "web-3", "web-3", "web-2", "web-3", "web-4", "web-1"} {
		h.now = h.now.Add(5 * time.Second)
		h.rt.set(victim, StateExited, "")
		h.mustReconcile()
		for _, c := range h.rt.takeCalls() {
			if strings.HasPrefix(c, "create ") {
				creates++
			}
		}
		if creates != i+1 {
			t.Fatalf("after kill %d (%s): %d creates, want %d", i+1, victim, creates, i+1)
		}
		if st, _ := h.r.Status("web"); st.Backoff != nil {
			t.Fatalf("after kill %d: status.backoff = %+v", i+1, st.Backoff)
		}
		h.now = h.now.Add(time.Second)
		h.rt.set(victim, StateRunning, HealthHealthy) // the replacement turns ready
		h.mustReconcile()
		if up := h.upstream(); len(up) != 4 {
			t.Fatalf("after kill %d: upstream = %v", i+1, up)
		}
	}
	for _, e := range h.r.Events.List("web") {
		if e.Reason == ReasonBackOff {
			t.Errorf("BackOff event: %s", e.Message)
		}
	}
}

// A template that has run is never left with nothing on its way: with no
// replica ready or starting, the hold that ends first is lifted.
func TestCapacityNeverStaysAtZeroForATemplateThatRan(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	// Both slots' replacements keep dying before they are ready.
	for range 3 {
		h.rt.set("web-1", StateExited, "")
		h.rt.set("web-2", StateExited, "")
		h.now = h.now.Add(time.Second)
		h.mustReconcile()
	}
	if got := h.rt.names(v1alpha1.RoleApp); len(got) != 1 {
		t.Fatalf("replicas = %v, want one replacement on its way while both slots are held", got)
	}
	var lifted int
	for _, e := range h.r.Events.List("web") {
		if e.Reason == ReasonBackOffLifted {
			lifted++
		}
	}
	if lifted == 0 {
		t.Error("no BackOffLifted event")
	}
}

// Under a slow Engine a replica can pass its health check and be killed
// while its spec's reconcile is busy: no pass saw it ready, but an event
// or a start probe said it was healthy, and that is enough.
func TestCrashLoopForgivesAReplicaReportedHealthyBetweenPasses(t *testing.T) {
	l := newCrashLoop()
	starting := replica(2, "a", "starting")
	l.observe("a", []Container{starting}, at(0), nil)
	dead := starting
	dead.State = StateExited
	v := newEventView()
	v.record(Event{ContainerID: dead.ID, Action: "health_status: healthy"}, at(1))
	f := l.observe("a", []Container{dead}, at(9), v.wasHealthy)
	if len(f) != 1 || !f[0].WasReady || f[0].Failures != 0 {
		t.Fatalf("failures = %+v, want one that had been ready", f)
	}
	if !l.ran {
		t.Error("a template reported healthy is known to run")
	}
	v.record(Event{ContainerID: dead.ID, Action: "destroy"}, at(10))
	if v.wasHealthy(dead.ID) {
		t.Error("a destroyed container is forgotten")
	}
}
