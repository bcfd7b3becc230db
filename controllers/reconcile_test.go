package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/nginx"
)

const (
	candidatePathForTest = nginx.CandidatePath
	configPathForTest    = nginx.ConfigPath
	peersPathForTest     = nginx.PeersPath
)

func sortStrings(s []string) { sort.Strings(s) }

// testSpec is a defaulted web spec with a load balancer and health check.
func testSpec(replicas int32) *v1alpha1.ScaleSpec {
	s := &v1alpha1.ScaleSpec{
		APIVersion: v1alpha1.GroupVersion, Kind: v1alpha1.Kind,
		Metadata: v1alpha1.ObjectMeta{Name: "web", Generation: 1},
		Spec: v1alpha1.Spec{
			Replicas: &replicas,
			Network:  "net",
			Template: v1alpha1.Template{
				Image:       "demoapp:dev",
				Port:        5000,
				HealthCheck: &v1alpha1.HealthCheck{Command: []string{"/demoapp", "healthcheck"}},
			},
			LoadBalancer: &v1alpha1.LoadBalancer{Port: 8080},
		},
	}
	s.Default()
	return s
}

type harness struct {
	t     *testing.T
	rt    *fakeRuntime
	specs *memSpecs
	r     *Reconciler
	now   time.Time
}

func newHarness(t *testing.T, spec *v1alpha1.ScaleSpec) *harness {
	h := &harness{t: t, rt: newFakeRuntime(), specs: &memSpecs{specs: map[string]*v1alpha1.ScaleSpec{}, errs: map[string]error{}},
		now: time.Unix(1000, 0)}
	if spec != nil {
		h.specs.specs[spec.Metadata.Name] = spec
	}
	h.r = NewReconciler(h.rt, h.specs, logr.Discard(), NewRecorder(100), nil)
	h.r.Now = func() time.Time { return h.now }
	return h
}

// reconcile runs one pass and waits for the creates and starts it
// launched, then takes their results in as the pass their completion
// brings would (an error of theirs is returned as the pass's): a test sees
// a pass and its effect as one step. Tests of what happens while creates
// are in flight call h.r.Reconcile themselves.
func (h *harness) reconcile() (Result, error) {
	h.t.Helper()
	return h.reconcileSpec("web")
}

// reconcileSpec is reconcile for spec name.
func (h *harness) reconcileSpec(name string) (Result, error) {
	h.t.Helper()
	res, err := h.r.Reconcile(context.Background(), name)
	h.r.WaitInFlight()
	h.r.mu.Lock()
	st, ok := h.r.specs[name]
	h.r.mu.Unlock()
	if ok {
		if cerr := h.r.collect(name, st); err == nil {
			err = cerr
		}
	}
	return res, err
}

func (h *harness) mustReconcile() Result {
	h.t.Helper()
	res, err := h.reconcile()
	if err != nil {
		h.t.Fatalf("reconcile: %v", err)
	}
	return res
}

func (h *harness) upstream() []string {
	st, _ := h.r.Status("web")
	return st.Upstream
}

func TestReconcileCreatesLoadBalancerAndReplicasThenAddsHealthyOnes(t *testing.T) {
	h := newHarness(t, testSpec(3))
	res := h.mustReconcile()
	if got := h.rt.names(v1alpha1.RoleApp); strings.Join(got, ",") != "web-1,web-2,web-3" {
		t.Fatalf("replicas = %v", got)
	}
	if got := h.rt.names(v1alpha1.RoleLB); len(got) != 1 || got[0] != "web-lb" {
		t.Fatalf("load balancers = %v", got)
	}
	if res.RequeueAfter == 0 {
		t.Error("starting replicas should requeue in case a health event is lost")
	}
	if len(h.upstream()) != 0 || strings.Contains(h.rt.lbConfig(), "10.0.0.") {
		t.Fatalf("starting replicas must stay out of the upstream: %v", h.upstream())
	}

	h.rt.set("web-1", StateRunning, HealthHealthy)
	h.rt.set("web-3", StateRunning, HealthHealthy)
	h.mustReconcile()
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-3" {
		t.Fatalf("upstream = %s, want web-1,web-3", got)
	}
	cfg := h.rt.lbConfig()
	for _, want := range []string{"# web-1", "# web-3", ":5000"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("nginx config lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "# web-2") {
		t.Error("web-2 is starting and must not be in the config")
	}
	st, _ := h.r.Status("web")
	if st.ReadyReplicas != 2 || st.Replicas != 3 {
		t.Errorf("status = %+v", st)
	}
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionAvailable); c == nil || c.Status != v1alpha1.ConditionFalse {
		t.Errorf("2 of 3 ready with maxUnavailable 0 is not Available: %+v", c)
	}
}

func converge(h *harness) {
	h.t.Helper()
	desired := 0
	for _, s := range h.specs.specs {
		desired += int(*s.Spec.Replicas)
	}
	// The slow start's batches, each once the one before turned healthy.
	for before := -1; before != len(h.rt.names(v1alpha1.RoleApp)) && len(h.rt.names(v1alpha1.RoleApp)) < desired; {
		before = len(h.rt.names(v1alpha1.RoleApp))
		h.mustReconcile()
		for _, n := range h.rt.names(v1alpha1.RoleApp) {
			h.rt.set(n, StateRunning, HealthHealthy)
		}
	}
	h.mustReconcile()
	h.rt.takeCalls()
}

func TestReconcileScalesUpInGrowingBatches(t *testing.T) {
	h := newHarness(t, testSpec(20))
	var batches []int
	for pass := 0; pass < 6; pass++ {
		before := len(h.rt.names(v1alpha1.RoleApp))
		res := h.mustReconcile()
		if res.Requeue {
			t.Errorf("pass %d asks to run again at once; the next batch waits for this one to turn ready", pass)
		}
		batches = append(batches, len(h.rt.names(v1alpha1.RoleApp))-before)
		// Between passes, the replicas created so far turn healthy and
		// serve while the next batch is made; on pass 1 only web-1 does.
		for _, n := range h.rt.names(v1alpha1.RoleApp) {
			if pass != 1 || n == "web-1" {
				h.rt.set(n, StateRunning, HealthHealthy)
			}
		}
	}
	// 4; 8 (4 ready); 0 (1 ready, 11 not: max(4, 2) < 11); 8 (12 ready:
	// the whole 24 would do, 8 are left); nothing left.
	if fmt.Sprint(batches) != "[4 8 0 8 0 0]" {
		t.Fatalf("replicas created per pass = %v, want [4 8 0 8 0 0]: at most max(4, 2*ready) not ready at once", batches)
	}
	if got := len(h.upstream()); got != 20 {
		t.Errorf("upstream after the batches has %d replicas, want 20", got)
	}
}

// TestReconcileNeverHealthyTemplateStaysSmall: a template that starts but
// never turns healthy, scaled to 200, holds minCreateBatch containers
// however many passes run, whether they stay starting or turn unhealthy.
func TestReconcileNeverHealthyTemplateStaysSmall(t *testing.T) {
	h := newHarness(t, testSpec(200))
	for pass := 0; pass < 20; pass++ {
		h.mustReconcile()
		health := HealthStarting
		if pass >= 10 {
			health = HealthUnhealthy
		}
		for _, n := range h.rt.names(v1alpha1.RoleApp) {
			h.rt.set(n, StateRunning, health)
		}
	}
	if got := h.rt.names(v1alpha1.RoleApp); len(got) != minCreateBatch {
		t.Errorf("%d containers after 20 passes: %v; want %d", len(got), got, minCreateBatch)
	}
}

func TestReconcileReplacesACrashedReplicaAfterItLeavesTheUpstream(t *testing.T) {
	h := newHarness(t, testSpec(3))
	converge(h)
	h.rt.set("web-2", StateExited, HealthUnhealthy)
	h.mustReconcile()
	calls := strings.Join(h.rt.takeCalls(), "; ")
	if calls != "update peers; remove web-2; create web-2" {
		t.Fatalf("calls = %q; the dead replica must leave the upstream first, then be replaced", calls)
	}
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-3" {
		t.Fatalf("upstream = %s", got)
	}
	events := h.r.Events.List("web")
	found := false
	for _, e := range events {
		found = found || e.Reason == ReasonReplicaFailed
	}
	if !found {
		t.Errorf("no %s event in %+v", ReasonReplicaFailed, events)
	}
}

// An unhealthy replica leaves the upstream at once, but is removed only
// when its replacement is ready: under a saturating load, a probe that
// timed out would otherwise cost a serving replica.
func TestReconcileKeepsAnUnhealthyReplicaUntilItsReplacementIsReady(t *testing.T) {
	h := newHarness(t, testSpec(3))
	converge(h)
	h.rt.set("web-2", StateRunning, HealthUnhealthy)
	h.mustReconcile()
	if calls := strings.Join(h.rt.takeCalls(), "; "); calls != "update peers; create web-4" {
		t.Fatalf("calls = %q, want the upstream updated without web-2, then a replacement created", calls)
	}
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-3" {
		t.Fatalf("upstream = %s", got)
	}
	h.mustReconcile() // the replacement starts: nothing to do
	if calls := h.rt.takeCalls(); len(calls) != 0 {
		t.Fatalf("calls while the replacement starts = %v, want none", calls)
	}
	h.rt.set("web-4", StateRunning, HealthHealthy)
	h.mustReconcile()
	if calls := strings.Join(h.rt.takeCalls(), "; "); calls != "update peers; remove web-2" {
		t.Fatalf("calls = %q, want web-4 added, then web-2 removed", calls)
	}
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-3,web-4" {
		t.Fatalf("upstream = %s", got)
	}
}

func TestReconcileLetsARecoveredReplicaRejoin(t *testing.T) {
	h := newHarness(t, testSpec(3))
	converge(h)
	h.rt.set("web-2", StateRunning, HealthUnhealthy)
	h.mustReconcile()
	h.rt.takeCalls()
	h.rt.set("web-2", StateRunning, HealthHealthy) // passes a probe before web-4 is ready
	h.mustReconcile()
	if calls := strings.Join(h.rt.takeCalls(), "; "); calls != "update peers; remove web-4" {
		t.Fatalf("calls = %q, want web-2 back in the upstream and the unready web-4 removed", calls)
	}
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-2,web-3" {
		t.Fatalf("upstream = %s", got)
	}
}

// Replacing unhealthy replicas never costs capacity: every unhealthy
// replica stays, and rejoins the upstream if it recovers.
func TestReconcileBackOffKeepsUnhealthyReplicas(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	h.rt.set("web-1", StateRunning, HealthUnhealthy)
	h.rt.set("web-2", StateRunning, HealthUnhealthy)
	h.mustReconcile() // both had been ready: both are replaced at once
	calls := strings.Join(h.rt.takeCalls(), "; ")
	if strings.Contains(calls, "remove") {
		t.Fatalf("calls = %q; no unhealthy replica may be removed before a replacement is ready", calls)
	}
	h.rt.set("web-1", StateRunning, HealthHealthy)
	h.rt.set("web-2", StateRunning, HealthHealthy)
	h.mustReconcile()
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-2" {
		t.Fatalf("upstream = %s after both recovered", got)
	}
}

func TestReconcileBacksOffAReplicaThatKeepsCrashing(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	h.rt.set("web-2", StateExited, "")
	h.mustReconcile() // it had been ready: replaced at once
	h.rt.set("web-2", StateExited, "")
	h.now = h.now.Add(time.Second)
	h.mustReconcile() // the first of the slot to fail before ready: replaced at once
	h.rt.set("web-2", StateExited, "")
	h.now = h.now.Add(time.Second)
	res := h.mustReconcile()
	if got := h.rt.names(v1alpha1.RoleApp); len(got) != 1 {
		t.Fatalf("a second failure before ready must wait for back-off, replicas = %v", got)
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > crashBackoffBase {
		t.Errorf("requeue after %v, want within the %v back-off", res.RequeueAfter, crashBackoffBase)
	}
	h.now = h.now.Add(crashBackoffBase)
	h.mustReconcile()
	if got := h.rt.names(v1alpha1.RoleApp); len(got) != 2 {
		t.Fatalf("after the back-off the replica must be replaced, replicas = %v", got)
	}
}

func TestReconcileScaleDownDrainsBeforeStopping(t *testing.T) {
	spec := testSpec(3)
	h := newHarness(t, spec)
	converge(h)
	one := int32(1)
	spec.Spec.Replicas = &one

	h.rt.shuttingDown = 1 // the old workers still serve requests
	res := h.mustReconcile()
	if got := strings.Join(h.upstream(), ","); got != "web-1" {
		t.Fatalf("upstream = %s, want web-1", got)
	}
	if got := h.rt.names(v1alpha1.RoleApp); len(got) != 3 {
		t.Fatalf("replicas must stay while they drain: %v", got)
	}
	if res.RequeueAfter != drainPoll {
		t.Errorf("requeue after %v, want %v", res.RequeueAfter, drainPoll)
	}

	h.now = h.now.Add(minDrain)
	h.mustReconcile()
	if got := h.rt.names(v1alpha1.RoleApp); len(got) != 3 {
		t.Fatalf("replicas must stay while old nginx workers run: %v", got)
	}

	h.rt.shuttingDown = 0
	h.now = h.now.Add(drainPoll)
	h.mustReconcile()
	if got := strings.Join(h.rt.names(v1alpha1.RoleApp), ","); got != "web-1" {
		t.Fatalf("after the drain, replicas = %s, want web-1", got)
	}
}

func TestReconcileDrainTimeoutBoundsTheWait(t *testing.T) {
	spec := testSpec(2)
	h := newHarness(t, spec)
	converge(h)
	one := int32(1)
	spec.Spec.Replicas = &one
	h.rt.shuttingDown = 1
	h.mustReconcile()
	h.now = h.now.Add(spec.Spec.Strategy.DrainTimeout.Duration)
	h.mustReconcile()
	if got := strings.Join(h.rt.names(v1alpha1.RoleApp), ","); got != "web-1" {
		t.Fatalf("drainTimeout passed, replicas = %s, want web-1", got)
	}
}

func TestReconcileKeepsTheRunningConfigWhenNginxRejectsTheNewOne(t *testing.T) {
	spec := testSpec(2)
	h := newHarness(t, spec)
	converge(h)
	one := int32(1)
	spec.Spec.Replicas = &one
	// Members alone change without nginx -t; a config change is checked.
	spec.Spec.LoadBalancer.Algorithm = v1alpha1.AlgorithmRandom
	h.rt.rejectConfig = true
	_, err := h.reconcile()
	if !errors.Is(err, ErrConfigRejected) {
		t.Fatalf("want ErrConfigRejected, got %v", err)
	}
	if got := h.rt.names(v1alpha1.RoleApp); len(got) != 2 {
		t.Fatalf("no replica may leave while the upstream could not change: %v", got)
	}
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-2" {
		t.Errorf("status upstream = %s; it must report what nginx runs", got)
	}
	st, _ := h.r.Status("web")
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionLoadBalancerReady); c == nil || c.Status != v1alpha1.ConditionFalse {
		t.Errorf("LoadBalancerReady = %+v, want False", c)
	}
}

func TestReconcileWaitsForDependencies(t *testing.T) {
	spec := testSpec(1)
	spec.Spec.DependsOn = []string{"redis"}
	h := newHarness(t, spec)
	redis := testSpec(1)
	redis.Metadata.Name = "redis"
	redis.Spec.LoadBalancer = nil
	h.specs.specs["redis"] = redis

	h.mustReconcile()
	if got := h.rt.names(v1alpha1.RoleApp); len(got) != 0 {
		t.Fatalf("web must wait for redis, created %v", got)
	}
	if _, err := h.reconcileSpec("redis"); err != nil {
		t.Fatal(err)
	}
	h.rt.set("redis-1", StateRunning, HealthHealthy)
	if _, err := h.reconcileSpec("redis"); err != nil {
		t.Fatal(err)
	}
	h.mustReconcile()
	if got := h.rt.names(v1alpha1.RoleApp); strings.Join(got, ",") != "redis-1,web-1" {
		t.Fatalf("once redis is ready web starts, replicas = %v", got)
	}
}

func TestReconcileAdoptsRunningReplicasWithoutRestarting(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	// A new scalerd: same engine, fresh memory.
	h.r = NewReconciler(h.rt, h.specs, logr.Discard(), NewRecorder(100), nil)
	h.r.Now = func() time.Time { return h.now }
	h.mustReconcile()
	calls := strings.Join(h.rt.takeCalls(), "; ")
	if strings.Contains(calls, "create") || strings.Contains(calls, "remove") {
		t.Fatalf("a restarted scalerd must adopt, not recreate: %s", calls)
	}
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-2" {
		t.Errorf("upstream = %s", got)
	}
}

// TestRestartKeepsStartingReplicasInTheUpstream: replicas that passed a
// start probe serve while Docker still calls them starting. A restarted
// scalerd, which has no memory of those probes, must keep them in the
// upstream it finds nginx running, not empty it (13 requests got 503 in
// TestChaosBrokenSpecRestart when it did), and must not reload nginx for a
// config it already runs.
func TestRestartKeepsStartingReplicasInTheUpstream(t *testing.T) {
	h := newHarness(t, testSpec(3))
	converge(h)
	for _, n := range h.rt.names(v1alpha1.RoleApp) {
		h.rt.set(n, StateRunning, HealthStarting) // as Docker saw them
	}
	h.rt.set("web-3", StateExited, HealthNone) // died while scalerd was down
	h.rt.takeCalls()
	h.r = NewReconciler(h.rt, h.specs, logr.Discard(), NewRecorder(100), nil)
	h.r.Now = func() time.Time { return h.now }
	h.mustReconcile()
	if got := strings.Join(h.upstream(), ","); got != "web-1,web-2" {
		t.Errorf("upstream after restart = %s, want web-1,web-2 (the dead web-3 out, the starting ones kept)", got)
	}
	calls := h.rt.takeCalls()
	if reloads, updates := countCalls(calls, "reload"), countCalls(calls, "update peers"); reloads != 0 || updates != 1 {
		t.Errorf("%d reloads and %d peers updates, want 0 and 1 (for web-3 leaving)", reloads, updates)
	}

	// Nothing left the upstream: a restart reloads nothing.
	h.r = NewReconciler(h.rt, h.specs, logr.Discard(), NewRecorder(100), nil)
	h.r.Now = func() time.Time { return h.now }
	h.mustReconcile()
	if got := strings.Join(h.upstream(), ","); !strings.HasPrefix(got, "web-1,web-2") {
		t.Errorf("upstream after second restart = %s", got)
	}
	calls = h.rt.takeCalls()
	if reloads, updates := countCalls(calls, "reload"), countCalls(calls, "update peers"); reloads != 0 || updates != 0 {
		t.Errorf("%d reloads and %d peers updates on a restart that changes nothing, want 0", reloads, updates)
	}
	// Docker's own verdict rules once it arrives.
	h.rt.set("web-1", StateRunning, HealthUnhealthy)
	h.mustReconcile()
	if got := h.upstream(); slices.Contains(got, "web-1") {
		t.Errorf("upstream = %v: an unhealthy replica stays out whatever a predecessor probed", got)
	}
}

func countCalls(calls []string, want string) int {
	n := 0
	for _, c := range calls {
		if c == want {
			n++
		}
	}
	return n
}

func TestReconcileDeletedSpecDrainsThenRemovesEverything(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	delete(h.specs.specs, "web")
	h.mustReconcile()
	h.now = h.now.Add(minDrain)
	h.mustReconcile()
	if got := append(h.rt.names(v1alpha1.RoleApp), h.rt.names(v1alpha1.RoleLB)...); len(got) != 0 {
		t.Fatalf("containers left after delete: %v", got)
	}
	h.mustReconcile()
	if _, ok := h.r.Status("web"); ok {
		t.Error("a deleted spec's status must be forgotten")
	}
}

func TestReconcileRemovesOrphansAfterRestart(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	delete(h.specs.specs, "web")
	h.r = NewReconciler(h.rt, h.specs, logr.Discard(), NewRecorder(100), nil)
	h.mustReconcile()
	if got := append(h.rt.names(v1alpha1.RoleApp), h.rt.names(v1alpha1.RoleLB)...); len(got) != 0 {
		t.Fatalf("labelled containers of no spec must go: %v", got)
	}
}

func TestReconcileLeavesABrokenSpecsContainersAlone(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	// A restarted scalerd whose file was already broken: the name is
	// defined, but no valid version is known.
	delete(h.specs.specs, "web")
	h.specs.errs["web"] = errors.New("web.yaml:3: spec.replicas: must be 0 or more")
	h.r = NewReconciler(h.rt, h.specs, logr.Discard(), NewRecorder(100), nil)
	h.r.Now = func() time.Time { return h.now }
	h.mustReconcile()
	if calls := h.rt.takeCalls(); len(calls) != 0 {
		t.Fatalf("a broken file must not touch what runs: %v", calls)
	}
	st, _ := h.r.Status("web")
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionSpecValid); c == nil || c.Status != v1alpha1.ConditionFalse || !strings.Contains(c.Message, "spec.replicas") {
		t.Errorf("SpecValid = %+v", c)
	}
	// The user sees it in `scalectl events`, once, not only in the log.
	h.mustReconcile()
	var invalid []v1alpha1.Event
	for _, e := range h.r.Events.List("web") {
		if e.Reason == ReasonSpecInvalid {
			invalid = append(invalid, e)
		}
	}
	if len(invalid) != 1 || invalid[0].Count != 1 || !strings.Contains(invalid[0].Message, "spec.replicas") {
		t.Errorf("SpecInvalid events = %+v, want one naming the error", invalid)
	}
}

func TestRolloutCompleteIsRecordedOncePerTemplate(t *testing.T) {
	spec := testSpec(1)
	h := newHarness(t, spec)
	converge(h)
	count := func() int {
		n := 0
		for _, e := range h.r.Events.List("web") {
			if e.Reason == ReasonRolloutComplete {
				n += e.Count
			}
		}
		return n
	}
	spec.Spec.Template.Image = "demoapp:v2"
	for range 6 { // surge, ready, drain, remove
		h.mustReconcile()
		for _, n := range h.rt.names(v1alpha1.RoleApp) {
			h.rt.set(n, StateRunning, HealthHealthy)
		}
		h.now = h.now.Add(time.Second)
	}
	if got := count(); got != 1 {
		t.Fatalf("RolloutComplete recorded %d times after one rollout, want 1", got)
	}
	h.rt.set("web-2", StateExited, "")
	for range 3 {
		h.mustReconcile()
		for _, n := range h.rt.names(v1alpha1.RoleApp) {
			h.rt.set(n, StateRunning, HealthHealthy)
		}
	}
	if got := count(); got != 1 {
		t.Errorf("replacing a crashed replica recorded another RolloutComplete (%d)", got)
	}
}

func TestProgressDeadlineCountsFromTheStartOfAChange(t *testing.T) {
	spec := testSpec(1)
	h := newHarness(t, spec)
	converge(h)
	h.now = h.now.Add(time.Hour) // a long quiet spell
	h.mustReconcile()
	three := int32(3)
	spec.Spec.Replicas = &three
	h.mustReconcile()
	st, _ := h.r.Status("web")
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionProgressing); c == nil || c.Status != v1alpha1.ConditionTrue {
		t.Fatalf("a scale-up just started must be progressing, got %+v", c)
	}
	h.now = h.now.Add(11 * time.Minute) // the new replicas never turn ready
	h.mustReconcile()
	st, _ = h.r.Status("web")
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionProgressing); c == nil || c.Reason != "ProgressDeadlineExceeded" {
		t.Fatalf("after the deadline with no progress, Progressing = %+v", c)
	}
}
