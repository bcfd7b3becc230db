package controllers

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// condition is the spec's condition of type typ.
func (h *harness) condition(typ string) v1alpha1.Condition {
	h.t.Helper()
	st, _ := h.r.Status("web")
	c := v1alpha1.FindCondition(st.Conditions, typ)
	if c == nil {
		h.t.Fatalf("no %s condition", typ)
	}
	return *c
}

// lbCondition is the spec's LoadBalancerReady condition.
func (h *harness) lbCondition() v1alpha1.Condition {
	h.t.Helper()
	return h.condition(v1alpha1.ConditionLoadBalancerReady)
}

// warning returns the message of the last Warning event with reason.
func (h *harness) warning(reason string) string {
	msg := ""
	for _, e := range h.r.Events.List("web") {
		if e.Type == v1alpha1.EventWarning && e.Reason == reason {
			msg = e.Message
		}
	}
	return msg
}

// restart replaces the reconciler by a new one, as a restarted scalerd.
func (h *harness) restart() {
	h.r = NewReconciler(h.rt, h.specs, logr.Discard(), NewRecorder(100), nil)
	h.r.Now = func() time.Time { return h.now }
}

// setSpec changes the spec in force (a new generation).
func (h *harness) setSpec(edit func(*v1alpha1.ScaleSpec)) {
	h.specs.mu.Lock()
	defer h.specs.mu.Unlock()
	s := h.specs.specs["web"]
	edit(s)
	s.Metadata.Generation++
}

// altName is the name a replacement load balancer gets while the old one
// holds NAME-lb.
func altName(s *v1alpha1.ScaleSpec) string {
	return "web-lb-" + v1alpha1.LoadBalancerHash(*s.Spec.LoadBalancer)[:8]
}

func TestLoadBalancerImageTypoKeepsTheOldOneServing(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	h.rt.takeLBLog()
	h.rt.missingImages["scaler-ngnix:dev"] = true
	h.setSpec(func(s *v1alpha1.ScaleSpec) { s.Spec.LoadBalancer.Image = "scaler-ngnix:dev" })

	res := h.mustReconcile()
	if got := strings.Join(h.rt.lbs(), ","); got != "web-lb:running:scaler-nginx:dev" {
		t.Fatalf("load balancers = %s; the old one must keep running", got)
	}
	if log := h.rt.takeLBLog(); len(log) != 0 {
		t.Errorf("calls on load balancers = %v, want none: the image is missing", log)
	}
	c := h.lbCondition()
	if c.Status != v1alpha1.ConditionFalse || c.Reason != ReasonImageNotFound || !strings.Contains(c.Message, "spec.loadBalancer.image") {
		t.Errorf("LoadBalancerReady = %+v, want False, ImageNotFound, naming the field", c)
	}
	msg := h.warning(ReasonImageNotFound)
	for _, want := range []string{"spec.loadBalancer.image", `"scaler-ngnix:dev"`, "keeps serving", "make images", `back to "scaler-nginx:dev"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("warning %q lacks %q", msg, want)
		}
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > lbRetryBase {
		t.Errorf("requeue after %s, want the retry within %s", res.RequeueAfter, lbRetryBase)
	}

	// The old load balancer still follows the replicas.
	h.rt.set("web-2", StateExited, HealthNone)
	h.mustReconcile()
	if got := strings.Join(h.upstream(), ","); got != "web-1" {
		t.Errorf("upstream = %s, want web-1: the old load balancer still applies upstream changes", got)
	}
	if strings.Contains(h.rt.lbConfig(), "# web-2") {
		t.Error("the dead replica is still in the old load balancer's config")
	}
	if c := h.lbCondition(); c.Reason != ReasonImageNotFound {
		t.Errorf("a reload on the old load balancer turned LoadBalancerReady into %+v; the failed change must stay visible", c)
	}

	// Back-off: passes within it do not look the image up again.
	lookups := h.rt.imageLookups
	h.mustReconcile()
	h.mustReconcile()
	if h.rt.imageLookups != lookups {
		t.Errorf("image looked up %d more times within the back-off", h.rt.imageLookups-lookups)
	}
	h.now = h.now.Add(lbRetryBase + time.Millisecond)
	h.mustReconcile()
	if h.rt.imageLookups != lookups+1 {
		t.Errorf("image lookups after the back-off = %d, want %d", h.rt.imageLookups, lookups+1)
	}
	if wait := h.r.state("web").lbRetry.until.Sub(h.now); wait != 2*lbRetryBase {
		t.Errorf("second retry after %s, want the back-off doubled to %s", wait, 2*lbRetryBase)
	}

	// Fixing the field back to the running image: nothing is replaced.
	h.setSpec(func(s *v1alpha1.ScaleSpec) { s.Spec.LoadBalancer.Image = "scaler-nginx:dev" })
	h.mustReconcile()
	if c := h.lbCondition(); c.Status != v1alpha1.ConditionTrue {
		t.Errorf("LoadBalancerReady after the fix = %+v, want True", c)
	}
	if log := h.rt.takeLBLog(); len(log) != 0 {
		t.Errorf("calls on load balancers after the fix = %v, want none", log)
	}
}

func TestLoadBalancerConfigRejectedByTheNewImageKeepsTheOldOne(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	h.rt.takeLBLog()
	h.rt.rejectingImages["nginx:ancient"] = true
	h.setSpec(func(s *v1alpha1.ScaleSpec) { s.Spec.LoadBalancer.Image = "nginx:ancient" })

	h.mustReconcile()
	log := strings.Join(h.rt.takeLBLog(), "; ")
	if log != "create check; start check; nginx -t in check; remove check" {
		t.Fatalf("calls = %q, want only a check container, removed after", log)
	}
	if got := strings.Join(h.rt.lbs(), ","); got != "web-lb:running:scaler-nginx:dev" {
		t.Fatalf("load balancers = %s", got)
	}
	c := h.lbCondition()
	if c.Status != v1alpha1.ConditionFalse || c.Reason != ReasonConfigRejected {
		t.Errorf("LoadBalancerReady = %+v, want False, ConfigRejected", c)
	}
	msg := h.warning(ReasonConfigRejected)
	for _, want := range []string{"spec.loadBalancer.image", "nginx:ancient", "unknown directive", "keeps serving"} {
		if !strings.Contains(msg, want) {
			t.Errorf("warning %q lacks %q", msg, want)
		}
	}
}

func TestLoadBalancerPortChangeStartsTheNewOneFirst(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	h.rt.takeLBLog()
	h.setSpec(func(s *v1alpha1.ScaleSpec) { s.Spec.LoadBalancer.Port = 8081 })
	alt := altName(h.specs.specs["web"])

	h.mustReconcile()
	want := "create check; start check; nginx -t in check; remove check; create " + alt + "; start " + alt +
		"; stop web-lb; remove web-lb; rename " + alt + " to web-lb"
	if log := strings.Join(h.rt.takeLBLog(), "; "); log != want {
		t.Fatalf("calls =\n%s\nwant\n%s\n(the new one listens before the old one stops)", log, want)
	}
	lbs := h.rt.lbs()
	if len(lbs) != 1 || !strings.HasPrefix(lbs[0], "web-lb:running") {
		t.Fatalf("load balancers = %v, want one, named web-lb", lbs)
	}
	if c := h.lbCondition(); c.Status != v1alpha1.ConditionTrue {
		t.Errorf("LoadBalancerReady = %+v", c)
	}
	if !strings.Contains(h.rt.lbConfig(), "# web-1") {
		t.Error("the new load balancer's config lacks the ready replicas")
	}
	h.mustReconcile()
	if log := h.rt.takeLBLog(); len(log) != 0 {
		t.Errorf("calls on the next pass = %v, want none", log)
	}
}

func TestLoadBalancerPortTakenKeepsTheOldOne(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	h.setSpec(func(s *v1alpha1.ScaleSpec) { s.Spec.LoadBalancer.Port = 8081 })
	h.rt.failStart[altName(h.specs.specs["web"])] = errFake("Bind for 127.0.0.1:8081 failed: port is already allocated")
	h.rt.takeLBLog()
	h.mustReconcile()
	if got := strings.Join(h.rt.lbs(), ","); got != "web-lb:running:scaler-nginx:dev" {
		t.Fatalf("load balancers = %s, want the old one alone", got)
	}
	if c := h.lbCondition(); c.Reason != ReasonPortUnavailable || !strings.Contains(c.Message, "spec.loadBalancer.port") {
		t.Errorf("LoadBalancerReady = %+v, want PortUnavailable naming spec.loadBalancer.port", c)
	}
}

type errFake string

func (e errFake) Error() string { return string(e) }

func TestLoadBalancerSamePortImageChangeStopsTheOldOneJustBeforeTheNewStarts(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	h.rt.takeLBLog()
	h.setSpec(func(s *v1alpha1.ScaleSpec) { s.Spec.LoadBalancer.Image = "scaler-nginx:v2" })
	alt := altName(h.specs.specs["web"])

	h.mustReconcile()
	// The fake refuses a second container on a published port, as the
	// Engine does: the old one must stop first, but only once the new one
	// is created with its config.
	want := "create check; start check; nginx -t in check; remove check; create " + alt + "; stop web-lb; start " + alt +
		"; remove web-lb; rename " + alt + " to web-lb"
	if log := strings.Join(h.rt.takeLBLog(), "; "); log != want {
		t.Fatalf("calls =\n%s\nwant\n%s", log, want)
	}
	if got := strings.Join(h.rt.lbs(), ","); got != "web-lb:running:scaler-nginx:v2" {
		t.Fatalf("load balancers = %s", got)
	}
	var replaced string
	for _, e := range h.r.Events.List("web") {
		if e.Reason == ReasonLoadBalancerReplaced {
			replaced = e.Message
		}
	}
	if !strings.Contains(replaced, "port was closed for") {
		t.Errorf("replaced event = %q, want the gap reported", replaced)
	}
}

func TestLoadBalancerSamePortStartFailureStartsTheOldOneAgain(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	h.setSpec(func(s *v1alpha1.ScaleSpec) { s.Spec.LoadBalancer.Image = "scaler-nginx:v2" })
	alt := altName(h.specs.specs["web"])
	h.rt.failStart[alt] = errFake("OCI runtime create failed")
	h.rt.takeLBLog()

	h.mustReconcile()
	want := "create check; start check; nginx -t in check; remove check; create " + alt + "; stop web-lb; start (failed) " + alt +
		"; start web-lb; remove " + alt
	if log := strings.Join(h.rt.takeLBLog(), "; "); log != want {
		t.Fatalf("calls =\n%s\nwant\n%s", log, want)
	}
	if got := strings.Join(h.rt.lbs(), ","); got != "web-lb:running:scaler-nginx:dev" {
		t.Fatalf("load balancers = %s, want the old one running again", got)
	}
	if c := h.lbCondition(); c.Reason != ReasonStartFailed {
		t.Errorf("LoadBalancerReady = %+v, want StartFailed", c)
	}
}

// A scalerd killed in the middle of a port change left both load
// balancers running; the restarted one keeps the new one only.
func TestLoadBalancerRestartMidPortChangeConvergesToOne(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	newSpec := testSpec(2)
	newSpec.Spec.LoadBalancer.Port = 8081
	cs := lbContainerSpec(newSpec)
	cs.Name = altName(newSpec)
	id, err := h.rt.CreateContainer(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.rt.StartContainer(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	h.setSpec(func(s *v1alpha1.ScaleSpec) { s.Spec.LoadBalancer.Port = 8081 })
	h.restart()
	h.rt.takeLBLog()

	h.mustReconcile()
	if log := strings.Join(h.rt.takeLBLog(), "; "); log != "stop web-lb; remove web-lb; rename "+cs.Name+" to web-lb" {
		t.Errorf("calls = %q, want the old one removed and the new one renamed", log)
	}
	lbs := h.rt.lbs()
	if len(lbs) != 1 || !strings.HasPrefix(lbs[0], "web-lb:running") {
		t.Fatalf("load balancers = %v, want one", lbs)
	}
	h.mustReconcile()
	if log := h.rt.takeLBLog(); len(log) != 0 {
		t.Errorf("calls on the next pass = %v, want none", log)
	}
}

// Killed between stopping the old load balancer and starting the new one
// on the same port: neither runs, and a check container is left over.
func TestLoadBalancerRestartMidSamePortSwapConvergesToOne(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	newSpec := testSpec(2)
	newSpec.Spec.LoadBalancer.Image = "scaler-nginx:v2"
	cs := lbContainerSpec(newSpec)
	cs.Name = altName(newSpec)
	if _, err := h.rt.CreateContainer(context.Background(), cs); err != nil {
		t.Fatal(err)
	}
	check := ContainerSpec{Image: "scaler-nginx:v2", Labels: map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue,
		v1alpha1.LabelSpec: "web", v1alpha1.LabelRole: roleLBCheck}}
	if _, err := h.rt.CreateContainer(context.Background(), check); err != nil {
		t.Fatal(err)
	}
	h.rt.set("web-lb", StateExited, HealthNone)
	h.setSpec(func(s *v1alpha1.ScaleSpec) { s.Spec.LoadBalancer.Image = "scaler-nginx:v2" })
	h.restart()

	h.mustReconcile()
	if got := strings.Join(h.rt.lbs(), ","); got != "web-lb:running:scaler-nginx:v2" {
		t.Fatalf("load balancers = %s, want one new one named web-lb", got)
	}
	h.rt.takeLBLog()
	h.mustReconcile()
	if log := h.rt.takeLBLog(); len(log) != 0 {
		t.Errorf("calls on the next pass = %v, want none", log)
	}
}

func TestForeignContainerHoldingAReplicaNameIsSkipped(t *testing.T) {
	h := newHarness(t, testSpec(3))
	h.rt.addForeign("web-1")
	var requeued atomic.Int32 // completions call it from their goroutines
	h.r.Requeue = func(string) { requeued.Add(1) }

	h.mustReconcile()
	if got := strings.Join(h.rt.names(v1alpha1.RoleApp), ","); got != "web-2,web-3" {
		t.Fatalf("replicas after the first pass = %s", got)
	}
	if requeued.Load() == 0 {
		t.Error("a conflict must requeue the spec, so that the replica is created under another number soon")
	}
	msg := h.warning(ReasonNameTaken)
	for _, want := range []string{"web-1", "docker rm web-1", "metadata.name"} {
		if !strings.Contains(msg, want) {
			t.Errorf("warning %q lacks %q", msg, want)
		}
	}
	h.mustReconcile()
	if got := strings.Join(h.rt.names(v1alpha1.RoleApp), ","); got != "web-2,web-3,web-4" {
		t.Fatalf("replicas = %s, want web-1 skipped", got)
	}
	for _, n := range h.rt.names(v1alpha1.RoleApp) {
		h.rt.set(n, StateRunning, HealthHealthy)
	}
	h.rt.takeCalls()
	h.mustReconcile()
	if got := strings.Join(h.upstream(), ","); got != "web-2,web-3,web-4" {
		t.Errorf("upstream = %s", got)
	}
	if calls := h.rt.takeCalls(); len(calls) != 1 || calls[0] != "update peers" {
		t.Errorf("calls = %v, want one peers update: nothing tries web-1 again", calls)
	}

	// A crash within the back-off: the replacement avoids web-1 too.
	h.rt.set("web-3", StateExited, HealthNone)
	h.mustReconcile()
	if got := strings.Join(h.rt.names(v1alpha1.RoleApp), ","); got != "web-2,web-3,web-4" {
		t.Errorf("replicas after a crash = %s, want web-3 replaced under its own number", got)
	}
}

func TestForeignContainerHoldingTheLoadBalancerName(t *testing.T) {
	spec := testSpec(1)
	h := newHarness(t, spec)
	h.rt.addForeign("web-lb")
	h.mustReconcile()
	lbs := h.rt.lbs()
	if len(lbs) != 1 || !strings.HasPrefix(lbs[0], altName(spec)+":running") {
		t.Fatalf("load balancers = %v, want one under %s", lbs, altName(spec))
	}
	msg := h.warning(ReasonNameTaken)
	if !strings.Contains(msg, "web-lb") || !strings.Contains(msg, "docker rm web-lb") {
		t.Errorf("warning = %q", msg)
	}
	// The rename is not tried on every pass.
	h.rt.takeLBLog()
	h.mustReconcile()
	h.mustReconcile()
	if log := h.rt.takeLBLog(); len(log) != 0 {
		t.Errorf("calls = %v, want none within the back-off", log)
	}
}

// The old load balancer dies while its replacement waits for a missing
// image: it is started again, not replaced by nothing.
func TestLoadBalancerDeadWhileTheNewImageIsMissingIsStartedAgain(t *testing.T) {
	h := newHarness(t, testSpec(2))
	converge(h)
	h.rt.missingImages["scaler-ngnix:dev"] = true
	h.setSpec(func(s *v1alpha1.ScaleSpec) { s.Spec.LoadBalancer.Image = "scaler-ngnix:dev" })
	h.mustReconcile()
	h.rt.set("web-lb", StateExited, HealthNone)
	h.rt.takeLBLog()

	h.mustReconcile()
	if got := strings.Join(h.rt.lbs(), ","); got != "web-lb:running:scaler-nginx:dev" {
		t.Fatalf("load balancers = %s, want the old one running again", got)
	}
	if log := strings.Join(h.rt.takeLBLog(), "; "); log != "start web-lb" {
		t.Errorf("calls = %q, want only the old one started", log)
	}
	if c := h.lbCondition(); c.Reason != ReasonImageNotFound {
		t.Errorf("LoadBalancerReady = %+v, want ImageNotFound", c)
	}
}

func TestLoadBalancerFirstCreationWithAMissingImageSaysSo(t *testing.T) {
	spec := testSpec(1)
	spec.Spec.LoadBalancer.Image = "scaler-ngnix:dev"
	h := newHarness(t, spec)
	h.rt.missingImages["scaler-ngnix:dev"] = true
	if _, err := h.reconcile(); err == nil {
		t.Fatal("no error without a load balancer")
	}
	c := h.lbCondition()
	if c.Reason != ReasonImageNotFound || !strings.Contains(c.Message, "spec.loadBalancer.image") || !strings.Contains(c.Message, "make images") {
		t.Errorf("LoadBalancerReady = %+v, want ImageNotFound naming the field and the fix", c)
	}
}

// A check container that a killed scalerd left is removed on the next pass.
func TestLoadBalancerLeftoverCheckContainerIsRemoved(t *testing.T) {
	h := newHarness(t, testSpec(1))
	converge(h)
	check := ContainerSpec{Image: "scaler-nginx:dev", Labels: map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue,
		v1alpha1.LabelSpec: "web", v1alpha1.LabelRole: roleLBCheck}}
	id, err := h.rt.CreateContainer(context.Background(), check)
	if err != nil {
		t.Fatal(err)
	}
	_ = h.rt.StartContainer(context.Background(), id)
	h.rt.takeLBLog()
	h.mustReconcile()
	if log := strings.Join(h.rt.takeLBLog(), "; "); log != "stop check; remove check" {
		t.Errorf("calls = %q, want the check container removed", log)
	}
	if got := strings.Join(h.rt.names(v1alpha1.RoleApp), ","); got != "web-1" {
		t.Errorf("replicas = %s: the check container must not count as one", got)
	}
}

// Once the foreign container is gone and the back-off passed, the number
// is used again.
func TestForeignNameIsTriedAgainAfterItsBackOff(t *testing.T) {
	h := newHarness(t, testSpec(1))
	h.rt.addForeign("web-1")
	h.mustReconcile() // conflict on web-1
	h.mustReconcile() // web-2 instead
	if got := strings.Join(h.rt.names(v1alpha1.RoleApp), ","); got != "web-2" {
		t.Fatalf("replicas = %s, want web-2", got)
	}
	// The user removes the foreign container; a scale-up after the
	// back-off takes web-1 again.
	h.rt.mu.Lock()
	for id, c := range h.rt.containers {
		if c.Name == "web-1" {
			delete(h.rt.containers, id)
		}
	}
	h.rt.mu.Unlock()
	h.now = h.now.Add(foreignRetryBase + time.Second)
	h.setSpec(func(s *v1alpha1.ScaleSpec) { two := int32(2); s.Spec.Replicas = &two })
	h.mustReconcile()
	if got := strings.Join(h.rt.names(v1alpha1.RoleApp), ","); got != "web-1,web-2" {
		t.Fatalf("replicas = %s, want web-1 used again", got)
	}
	if len(h.r.state("web").foreign) != 0 {
		t.Errorf("foreign names still remembered: %v", h.r.state("web").foreign)
	}
}
