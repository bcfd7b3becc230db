package controllers

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// slowCreate makes the Engine hold the creates of names until the
// returned function is called (or the test ends).
func (h *harness) slowCreate(names ...string) (release func()) {
	gate := make(chan struct{})
	h.rt.mu.Lock()
	if h.rt.slowCreate == nil {
		h.rt.slowCreate = map[string]chan struct{}{}
	}
	for _, n := range names {
		h.rt.slowCreate[n] = gate
	}
	h.rt.mu.Unlock()
	closed := false
	release = func() {
		if !closed {
			closed = true
			close(gate)
		}
	}
	h.t.Cleanup(func() { release(); h.r.WaitInFlight() })
	return release
}

// pass runs one reconcile pass and does not wait for what it launched, as
// the controller runs them; it fails the test if the pass does not return
// within 5 s (it waited for a create).
func (h *harness) pass() Result {
	h.t.Helper()
	type out struct {
		res Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := h.r.Reconcile(context.Background(), "web")
		done <- out{res, err}
	}()
	select {
	case o := <-done:
		if o.err != nil {
			h.t.Fatalf("reconcile: %v", o.err)
		}
		return o.res
	case <-time.After(5 * time.Second):
		h.t.Fatal("the pass did not return within 5 s: it waits for a create")
		return Result{}
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 5 s", what)
		}
	}
}

func (h *harness) appNames() string { return strings.Join(h.rt.names(v1alpha1.RoleApp), ",") }

func (h *harness) createCalls() int {
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	return h.rt.createCalls
}

// A pass launches its creates and returns before a slow one ends; a second
// pass meanwhile creates nothing more; the slow one is taken in once done.
func TestAPassReturnsBeforeItsSlowCreateAndTheNextCreatesNothingMore(t *testing.T) {
	h := newHarness(t, testSpec(3))
	release := h.slowCreate("web-2")
	h.pass()
	waitFor(t, "web-1 and web-3 created", func() bool { return h.appNames() == "web-1,web-3" })
	st, _ := h.r.Status("web")
	if st.Replicas != 3 || st.ReadyReplicas != 0 || st.UpdatedReplicas != 3 {
		t.Errorf("status with web-2 in flight: replicas %d, ready %d, updated %d; want 3, 0, 3 (in flight counts, not ready)",
			st.Replicas, st.ReadyReplicas, st.UpdatedReplicas)
	}
	calls := h.createCalls()
	for range 3 {
		h.pass()
	}
	if got := h.createCalls(); got != calls {
		t.Fatalf("passes while web-2 is in flight made %d more create calls, want none", got-calls)
	}
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionProgressing); c == nil || c.Reason == "ReplicasUpToDate" {
		t.Errorf("Progressing = %+v while a create is in flight; want not up to date", c)
	}

	release()
	h.r.WaitInFlight()
	if got := h.appNames(); got != "web-1,web-2,web-3" {
		t.Fatalf("replicas = %s", got)
	}
	h.pass() // takes the results in: events and metrics
	if got := h.createCalls(); got != 3 {
		t.Errorf("create calls = %d, want 3", got)
	}
	var created []string
	for _, e := range h.r.Events.List("web") {
		if e.Reason == ReasonScaledUp {
			created = append(created, e.Message)
		}
	}
	if len(created) != 1 || created[0] != "created 3 replica(s): web-1, web-2, web-3" {
		t.Errorf("ScaledUp events = %q, want one for the pass's 3 creates", created)
	}
}

// A replica that turns healthy joins the upstream in the next pass while
// another create is slow: the pass is not stuck behind it.
func TestAReplicaThatTurnsHealthyJoinsWhileAnotherCreateIsSlow(t *testing.T) {
	h := newHarness(t, testSpec(3))
	converge(h)
	release := h.slowCreate("web-4")
	h.setSpec(func(s *v1alpha1.ScaleSpec) { four := int32(4); s.Spec.Replicas = &four })
	h.rt.set("web-1", StateExited, "")
	h.pass() // web-1 leaves and is replaced; web-4 is created, slowly
	waitFor(t, "web-1 replaced", func() bool {
		for _, c := range must(h.rt.ListManaged(t.Context())) {
			if c.Name == "web-1" && c.State == StateRunning {
				return true
			}
		}
		return false
	})
	if got := strings.Join(h.upstream(), ","); got != "web-2,web-3" {
		t.Fatalf("upstream = %s, want the dead web-1 out", got)
	}
	h.rt.set("web-1", StateRunning, HealthHealthy) // its health event
	h.pass()
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-2,web-3" {
		t.Fatalf("upstream with web-4 still in flight = %s, want web-1 back in", got)
	}
	if !strings.Contains(h.rt.lbConfig(), "# web-1") {
		t.Errorf("nginx does not run web-1:\n%s", h.rt.lbConfig())
	}
	st, _ := h.r.Status("web")
	if st.Replicas != 4 || st.ReadyReplicas != 3 {
		t.Errorf("status: replicas %d, ready %d; want 4 (web-4 in flight) and 3", st.Replicas, st.ReadyReplicas)
	}
	release()
	h.r.WaitInFlight()
	h.rt.set("web-4", StateRunning, HealthHealthy)
	h.pass()
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-2,web-3,web-4" {
		t.Errorf("upstream = %s", got)
	}
	if n := countReason(h.r.Events.List("web"), ReasonReplicaReplaced); n != 1 {
		t.Errorf("%d ReplicaReplaced events, want 1 (web-1)", n)
	}
}

// A scale-down while a create is in flight leaves it alone and removes it
// once it completed: nothing is leaked, nothing that should run goes.
func TestAScaleDownWithACreateInFlightLeavesNoLeftover(t *testing.T) {
	h := newHarness(t, testSpec(3))
	release := h.slowCreate("web-3")
	h.pass()
	waitFor(t, "web-1 and web-2 created", func() bool { return h.appNames() == "web-1,web-2" })
	h.rt.set("web-1", StateRunning, HealthHealthy)
	h.setSpec(func(s *v1alpha1.ScaleSpec) { one := int32(1); s.Spec.Replicas = &one })
	h.pass()
	if got := h.appNames(); got != "web-1" {
		t.Fatalf("replicas after the scale-down = %s, want web-1 (web-3 still in flight)", got)
	}
	release()
	h.r.WaitInFlight()
	if got := h.appNames(); got != "web-1,web-3" {
		t.Fatalf("replicas after web-3's create returned = %s", got)
	}
	h.pass() // the pass its completion brings
	if got := h.appNames(); got != "web-1" {
		t.Errorf("replicas = %s, want web-3 removed by the pass its completion brought", got)
	}
	if got := strings.Join(h.upstream(), ","); got != "web-1" {
		t.Errorf("upstream = %s", got)
	}
}

// A spec deleted while a create is in flight: its containers go, the one
// created after the deletion too, and the load balancer last.
func TestADeletedSpecWithACreateInFlightLeavesNoLeftover(t *testing.T) {
	h := newHarness(t, testSpec(2))
	release := h.slowCreate("web-2")
	h.pass()
	waitFor(t, "web-1 created", func() bool { return h.appNames() == "web-1" })
	h.specs.mu.Lock()
	delete(h.specs.specs, "web")
	h.specs.mu.Unlock()
	h.pass()
	if got := h.appNames(); got != "" {
		t.Fatalf("replicas after the deletion = %s, want web-1 gone", got)
	}
	if got := h.rt.names(v1alpha1.RoleLB); len(got) != 1 {
		t.Fatalf("load balancers = %v; it stays while a create is in flight", got)
	}
	if n := countReason(h.r.Events.List("web"), ReasonDeleted); n != 0 {
		t.Fatalf("Deleted reported with a create in flight")
	}
	release()
	h.r.WaitInFlight()
	for range 3 {
		h.pass()
	}
	if got, lbs := h.appNames(), h.rt.names(v1alpha1.RoleLB); got != "" || len(lbs) != 0 {
		t.Errorf("left over: replicas %q, load balancers %v", got, lbs)
	}
	if n := countReason(h.r.Events.List("web"), ReasonDeleted); n != 1 {
		t.Errorf("%d Deleted events, want 1", n)
	}
}

// Failed creates say so (CreateFailed, ReplicaFailure) and are retried
// after the create back-off, not by every pass their failure brings.
func TestFailedCreatesBackOffInsteadOfLoopingOnTheirCompletions(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	h.rt.missingImages = map[string]bool{"demoapp:typo": true}
	h.setSpec(func(s *v1alpha1.ScaleSpec) { s.Spec.Template.Image = "demoapp:typo" })
	if _, err := h.reconcile(); err == nil {
		t.Fatal("a create of a missing image: no error")
	}
	if c := h.replicaFailure(); c == nil || c.Reason != StallImageNotFound {
		t.Fatalf("ReplicaFailure = %+v, want ImageNotFound", c)
	}
	if n := countReason(h.r.Events.List("web"), ReasonCreateFailed); n != 1 {
		t.Errorf("%d CreateFailed events, want 1", n)
	}
	calls := h.createCalls()
	for range 5 {
		h.pass() // the passes a completion and events bring, at once
	}
	h.r.WaitInFlight()
	if got := h.createCalls(); got != calls {
		t.Errorf("%d creates tried within the back-off, want none", got-calls)
	}
	if c := h.replicaFailure(); c == nil || c.Reason != StallImageNotFound {
		t.Errorf("ReplicaFailure within the back-off = %+v, want it kept", c)
	}
	h.now = h.now.Add(time.Second)
	h.pass()
	h.r.WaitInFlight()
	if got := h.createCalls(); got == calls {
		t.Error("no create tried after the back-off")
	}
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-2" {
		t.Errorf("the old replicas must keep serving: upstream %s", got)
	}
}

// scalerd stops (its context ends) with creates in flight: the pass had
// returned, the operations end, and the next scalerd adopts what exists.
func TestShutdownWithCreatesInFlightLeavesWhatExistsToTheNextScalerd(t *testing.T) {
	h := newHarness(t, testSpec(2))
	h.slowCreate("web-2")
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := h.r.Reconcile(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "web-1 created", func() bool { return h.appNames() == "web-1" })
	cancel()
	h.r.WaitInFlight()
	before := must(h.rt.ListManaged(t.Context()))

	h.restart()
	h.rt.mu.Lock()
	h.rt.slowCreate = nil
	h.rt.mu.Unlock()
	h.mustReconcile()
	if got := h.appNames(); got != "web-1,web-2" {
		t.Fatalf("replicas after the restart = %s", got)
	}
	for _, c := range before {
		if c.Name == "web-1" && !slices.ContainsFunc(must(h.rt.ListManaged(t.Context())), func(n Container) bool { return n.ID == c.ID }) {
			t.Error("web-1 was recreated instead of adopted")
		}
	}
}

// Through the controller and its work queue (which never runs two passes
// of a spec at once): a replica's health event brings a pass that puts it
// in the upstream while another create of the same spec is still slow.
func TestTheControllerServesAHealthyReplicaWhileAnotherCreateIsSlow(t *testing.T) {
	h := newHarness(t, testSpec(3))
	release := h.slowCreate("web-3")
	c := NewController(h.r, h.r.Log)
	h.r.Now = time.Now
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { release(); cancel(); <-done }()
	c.Enqueue("web")
	waitFor(t, "web-1 and web-2 created", func() bool { return h.appNames() == "web-1,web-2" })
	h.rt.set("web-1", StateRunning, HealthHealthy)
	c.Enqueue("web") // as web-1's health event does
	waitFor(t, "web-1 in the upstream while web-3's create waits", func() bool {
		return strings.Join(h.upstream(), ",") == "web-1" && strings.Contains(h.rt.lbConfig(), "# web-1")
	})
	release()
	waitFor(t, "web-3 created", func() bool { return h.appNames() == "web-1,web-2,web-3" })
}
