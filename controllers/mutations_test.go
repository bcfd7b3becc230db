package controllers

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// The tests in this file each catch one of the deliberate bugs of
// hack/mutations.txt that no other unit test caught (issue 21): each says
// which, so that `make mutate` and a reader agree on why it exists.

// TestDrainWaitsMinDrainAfterTheReloadEvenWhenNoWorkerDrainsYet catches
// the minDrain wait dropped. Right after a reload the nginx master has not
// yet told its old workers to shut down, so "0 workers shutting down" is
// not yet "drained": a replica stopped then still has requests in flight
// through the old workers.
func TestDrainWaitsMinDrainAfterTheReloadEvenWhenNoWorkerDrainsYet(t *testing.T) {
	spec := testSpec(2)
	h := newHarness(t, spec)
	converge(h)
	one := int32(1)
	spec.Spec.Replicas = &one

	h.rt.shuttingDown = 0 // what nginx reports in the moment after SIGHUP
	res := h.mustReconcile()
	if got := strings.Join(h.upstream(), ","); got != "web-1" {
		t.Fatalf("upstream = %s, want web-1", got)
	}
	if got := h.rt.names(v1alpha1.RoleApp); len(got) != 2 {
		t.Fatalf("web-2 was stopped in the same pass as the reload that took it out, before minDrain: replicas %v", got)
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > minDrain {
		t.Errorf("requeue after %v, want a look again within minDrain (%v)", res.RequeueAfter, minDrain)
	}

	h.now = h.now.Add(minDrain / 2)
	h.mustReconcile()
	if got := h.rt.names(v1alpha1.RoleApp); len(got) != 2 {
		t.Fatalf("web-2 was stopped %v after the reload, less than minDrain (%v): replicas %v", minDrain/2, minDrain, got)
	}

	h.now = h.now.Add(minDrain)
	h.mustReconcile()
	if got := strings.Join(h.rt.names(v1alpha1.RoleApp), ","); got != "web-1" {
		t.Fatalf("minDrain passed with no worker draining: replicas = %s, want web-1", got)
	}
}

// TestDrainTimeoutReachesNginxWorkerShutdownTimeout catches the spec's
// drainTimeout not rendered as worker_shutdown_timeout: without it, old
// workers serve long requests without bound, or nginx's bound differs from
// the one scalerd waits for before it stops the replica.
func TestDrainTimeoutReachesNginxWorkerShutdownTimeout(t *testing.T) {
	spec := testSpec(2)
	spec.Spec.Strategy.DrainTimeout = &v1alpha1.Duration{Duration: 7 * time.Second}
	h := newHarness(t, spec)
	converge(h)
	if conf := h.rt.lbConfig(); !strings.Contains(conf, "worker_shutdown_timeout 7s;") {
		t.Fatalf("drainTimeout 7s is not nginx's worker_shutdown_timeout; config:\n%s", conf)
	}

	// A changed drainTimeout reaches nginx with the next change.
	h.setSpec(func(s *v1alpha1.ScaleSpec) {
		s.Spec.Strategy.DrainTimeout = &v1alpha1.Duration{Duration: 1500 * time.Millisecond}
		three := int32(3)
		s.Spec.Replicas = &three
	})
	converge(h)
	if conf := h.rt.lbConfig(); !strings.Contains(conf, "worker_shutdown_timeout 1500ms;") {
		t.Fatalf("drainTimeout 1.5s is not nginx's worker_shutdown_timeout after the change; config:\n%s", conf)
	}
}

// TestUnhealthyStaysWhileARolloutRemovesReadyOldReplicas catches the
// unhealthy keep count ignoring outdatedReadyRemoved: the ready old
// replica this plan drains no longer counts as serving, so fewer than
// Replicas serve without the unhealthy one, which must stay (it may
// recover sooner than a replacement starts).
func TestUnhealthyStaysWhileARolloutRemovesReadyOldReplicas(t *testing.T) {
	in := PlanInput{Spec: "web", Replicas: 3, TemplateHash: "b", MaxUnavailable: 1, Draining: map[string]bool{}, Observed: []Container{
		replica(1, "a", "ready"), replica(2, "a", "ready"), replica(3, "b", "ready"), replica(4, "b", "unhealthy")}}
	got := PlanReplicas(in).String()
	want := "drain web-2 (outdated)\nkeep web-4 (unhealthy) until replaced\nupstream [web-1 web-3]\n"
	if got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
}

// TestRolloutWithNoSurgeAndNoUnavailableStillProgresses catches the
// Kubernetes rule dropped (maxSurge and maxUnavailable both 0 means one
// unavailable): without it such a rollout never removes an old replica,
// so never makes room for a new one.
func TestRolloutWithNoSurgeAndNoUnavailableStillProgresses(t *testing.T) {
	in := PlanInput{Spec: "web", Replicas: 2, TemplateHash: "b", Draining: map[string]bool{}, Observed: []Container{
		replica(1, "a", "ready"), replica(2, "a", "ready")}}
	got := PlanReplicas(in).String()
	want := "drain web-2 (outdated)\nupstream [web-1]\n"
	if got != want {
		t.Errorf("plan:\n%s\nwant:\n%s", got, want)
	}
}

// graceRecorder is the fake runtime that also records the grace period of
// each stop, which the fake itself ignores.
type graceRecorder struct {
	*fakeRuntime
	mu     sync.Mutex
	graces map[string]time.Duration // by container ID
}

func (g *graceRecorder) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	g.mu.Lock()
	g.graces[id] = grace
	g.mu.Unlock()
	return g.fakeRuntime.StopContainer(ctx, id, grace)
}

// TestADrainedReplicaIsStoppedWithItsGracePeriod catches a drained
// replica stopped with no grace period: SIGKILL at once would cut the
// requests the app still finishes after SIGTERM.
func TestADrainedReplicaIsStoppedWithItsGracePeriod(t *testing.T) {
	spec := testSpec(2)
	spec.Spec.Template.StopGracePeriod = &v1alpha1.Duration{Duration: 7 * time.Second}
	h := newHarness(t, spec)
	converge(h)
	rec := &graceRecorder{fakeRuntime: h.rt, graces: map[string]time.Duration{}}
	h.r.Runtime = rec
	id := ""
	h.rt.mu.Lock()
	for cid, c := range h.rt.containers {
		if c.Name == "web-2" {
			id = cid
		}
	}
	h.rt.mu.Unlock()
	one := int32(1)
	spec.Spec.Replicas = &one
	h.mustReconcile()
	h.now = h.now.Add(minDrain)
	h.mustReconcile()
	if got := strings.Join(h.rt.names(v1alpha1.RoleApp), ","); got != "web-1" {
		t.Fatalf("replicas = %s, want web-1 after the drain", got)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if grace, ok := rec.graces[id]; !ok || grace != 7*time.Second {
		t.Errorf("web-2 stopped with grace %v (stopped: %v), want its stopGracePeriod 7s", grace, ok)
	}
}
