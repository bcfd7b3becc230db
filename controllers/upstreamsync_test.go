package controllers

import (
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// lbID is the ID of the spec's running load balancer in the fake.
func (h *harness) lbID() string {
	h.t.Helper()
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	for id, c := range h.rt.containers {
		if c.Labels[v1alpha1.LabelRole] == v1alpha1.RoleLB && c.State == StateRunning {
			return id
		}
	}
	h.t.Fatal("no running load balancer")
	return ""
}

func (h *harness) inSync() v1alpha1.Condition {
	h.t.Helper()
	return h.condition(v1alpha1.ConditionUpstreamInSync)
}

// TestUpstreamCheckFindsAndMendsDrift: scalerd reads back what nginx runs
// every check interval; a config reloaded by hand and a peers file edited
// by hand are each reported (UpstreamInSync=False, an event) and applied
// again, and the next check finds nginx in sync.
func TestUpstreamCheckFindsAndMendsDrift(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	h.now = h.now.Add(DefaultUpstreamCheckInterval)
	h.mustReconcile()
	if c := h.inSync(); c.Status != v1alpha1.ConditionTrue || !strings.Contains(c.Message, "2 members") {
		t.Fatalf("after converging: %+v", c)
	}
	res := h.mustReconcile()
	if res.RequeueAfter <= 0 || res.RequeueAfter > DefaultUpstreamCheckInterval {
		t.Errorf("a converged spec with a load balancer is looked at again after %v, want within the check interval", res.RequeueAfter)
	}
	if calls := h.rt.takeCalls(); countCalls(calls, "reload") != 0 {
		t.Fatalf("a pass before the next check changed the load balancer: %v", calls)
	}

	// Someone reloads nginx with a config of their own.
	lb := h.lbID()
	h.rt.mu.Lock()
	if h.rt.loaded == nil {
		h.rt.loaded = map[string][]byte{}
	}
	h.rt.loaded[lb] = []byte("events {}\nhttp {}\n")
	h.rt.mu.Unlock()
	h.now = h.now.Add(DefaultUpstreamCheckInterval)
	res = h.mustReconcile()
	if c := h.inSync(); c.Status != v1alpha1.ConditionFalse || c.Reason != "Drifted" || !strings.Contains(c.Message, "another config") {
		t.Errorf("after a reload by hand: %+v", c)
	}
	if msg := h.warning(ReasonUpstreamDrifted); !strings.Contains(msg, "applies its config and members again") {
		t.Errorf("no UpstreamDrifted event: %q", msg)
	}
	if calls := h.rt.takeCalls(); countCalls(calls, "reload") != 1 {
		t.Errorf("the drift was not put right with one reload: %v", calls)
	}
	if res.RequeueAfter != upstreamSettle {
		t.Errorf("after mending, the next check comes after %v, want %v", res.RequeueAfter, upstreamSettle)
	}
	// The fake's nginx now runs the file that the apply wrote.
	h.rt.mu.Lock()
	delete(h.rt.loaded, lb)
	h.rt.mu.Unlock()
	h.now = h.now.Add(upstreamSettle)
	h.mustReconcile()
	if c := h.inSync(); c.Status != v1alpha1.ConditionTrue {
		t.Errorf("after mending: %+v", c)
	}
	if !h.hasEvent(v1alpha1.EventNormal, ReasonUpstreamRestored) {
		t.Error("no UpstreamRestored event")
	}

	// Someone adds a member to the peers file and has nginx read it.
	h.rt.mu.Lock()
	h.rt.files[lb+":"+peersPathForTest] = append(h.rt.files[lb+":"+peersPathForTest], []byte("intruder 10.9.9.9:5000\n")...)
	h.rt.mu.Unlock()
	h.rt.takeCalls()
	h.now = h.now.Add(DefaultUpstreamCheckInterval)
	h.mustReconcile()
	if msg := h.warning(ReasonUpstreamDrifted); !strings.Contains(msg, "members nginx has that scalerd removed: intruder") {
		t.Errorf("after an edit of the peers: %q", msg)
	}
	// A peers update is in force at once: the same pass confirms it.
	if c := h.inSync(); c.Status != v1alpha1.ConditionTrue {
		t.Errorf("after mending the peers, in the same pass: %+v", c)
	}
	calls := h.rt.takeCalls()
	if countCalls(calls, "update peers") != 1 || countCalls(calls, "reload") != 0 {
		t.Errorf("a members-only drift is put right with one peers update and no reload: %v", calls)
	}
	if strings.Contains(h.rt.lbConfig(), "intruder") {
		t.Errorf("the intruder is still a member:\n%s", h.rt.lbConfig())
	}
}

// TestUpstreamCheckReportsUnreachableMembers: a member whose health check
// passes but which the load balancer cannot connect to is reported, and
// left to the health check and nginx's passive check (no reload, no
// removal).
func TestUpstreamCheckReportsUnreachableMembers(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	h.rt.mu.Lock()
	h.rt.unreachable = map[string]string{"web-2": "connection refused"}
	h.rt.mu.Unlock()
	h.now = h.now.Add(DefaultUpstreamCheckInterval)
	h.mustReconcile()
	c := h.inSync()
	if c.Status != v1alpha1.ConditionFalse || c.Reason != "MembersUnreachable" || !strings.Contains(c.Message, "web-2 (") || !strings.Contains(c.Message, "connection refused") {
		t.Errorf("with web-2 unreachable: %+v", c)
	}
	if msg := h.warning(ReasonMemberUnreachable); !strings.Contains(msg, "web-2") {
		t.Errorf("no MemberUnreachable event: %q", msg)
	}
	calls := h.rt.takeCalls()
	if countCalls(calls, "reload")+countCalls(calls, "update peers") != 0 || strings.Contains(strings.Join(calls, ";"), "remove") {
		t.Errorf("an unreachable member changed the load balancer or the replicas: %v", calls)
	}
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-2" {
		t.Errorf("upstream = %s", got)
	}
	h.rt.mu.Lock()
	h.rt.unreachable = nil
	h.rt.mu.Unlock()
	h.now = h.now.Add(DefaultUpstreamCheckInterval)
	h.mustReconcile()
	if c := h.inSync(); c.Status != v1alpha1.ConditionTrue {
		t.Errorf("once web-2 answers: %+v", c)
	}
}

// TestUpstreamCheckWaitsForAReloadToSettle: right after a reload, old
// workers may still answer the check with the previous config, so no
// check runs until upstreamSettle has passed; a negative interval turns
// the check off.
func TestUpstreamCheckWaitsForAReloadToSettle(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	st := h.r.state("web")
	st.reloadedAt = h.now
	st.nextUpstreamCheck = time.Time{}
	if due, wait := h.r.upstreamCheckDue(st, h.now.Add(time.Second)); due || wait != upstreamSettle-time.Second {
		t.Errorf("1s after a reload: due %v, next in %v; want not due, in %v", due, wait, upstreamSettle-time.Second)
	}
	if due, wait := h.r.upstreamCheckDue(st, h.now.Add(upstreamSettle)); !due || wait != DefaultUpstreamCheckInterval {
		t.Errorf("once settled: due %v, next in %v; want due, next in %v", due, wait, DefaultUpstreamCheckInterval)
	}
	h.r.UpstreamCheckInterval = -1
	if due, wait := h.r.upstreamCheckDue(st, h.now.Add(time.Hour)); due || wait != 0 {
		t.Errorf("with the check off: due %v, next in %v", due, wait)
	}
}

func (h *harness) hasEvent(typ, reason string) bool {
	for _, e := range h.r.Events.List("web") {
		if e.Type == typ && e.Reason == reason {
			return true
		}
	}
	return false
}
