// Package controllers decides: it turns the ScaleSpecs in force and the
// containers observed into Engine calls, one spec at a time.
package controllers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/nginx"
)

// SpecSource is where the specs in force come from (the spec directory).
type SpecSource interface {
	// Get returns a copy of the spec in force, the error of its file if the
	// latest edit is invalid, and whether the spec exists at all.
	Get(name string) (spec *v1alpha1.ScaleSpec, specErr error, ok bool)
	// Names lists the specs the files define, in force or not.
	Names() []string
	// Defined reports whether any file still names the spec, valid or not.
	// A spec whose file is broken (and was broken when scalerd started, so
	// no valid version is in force) must not be torn down.
	Defined(name string) bool
}

// RevisionHistory numbers the templates a spec runs, so that a rollout
// can be undone, and holds `rollout restart` markers.
type RevisionHistory interface {
	// Record makes hash the current revision and returns its number. When
	// the history cannot be written, the number is still valid (kept in
	// memory) and comes with the error; 0 with an error means the history
	// could not be read.
	Record(spec, hash string, t v1alpha1.Template, limit int) (int64, error)
	// RestartedAt is the spec's restart marker, "" if never restarted.
	RestartedAt(spec string) string
	// Forget drops the history of a deleted spec.
	Forget(spec string) error
}

// Result tells the controller when to look at a spec again.
type Result struct {
	// Requeue reconciles the spec again as soon as this pass is done. The
	// slow start no longer sets it: its next batch waits for the replicas
	// of this one to turn ready, which their health events announce.
	Requeue bool
	// RequeueAfter, if positive, reconciles the spec again after it, even if
	// nothing happens meanwhile (waiting for health or for a drain).
	RequeueAfter time.Duration
}

// Timing knobs that are not part of the API.
const (
	// lbListenPort is the port nginx listens on inside its container.
	lbListenPort = 80
	// drainPoll is how often a draining replica is looked at.
	drainPoll = 100 * time.Millisecond
	// minDrain is the least time between a reload or peers update and the
	// check that the old workers have gone and no request is in flight to a
	// removed member: the master needs a moment to start shutting the old
	// workers down, and a worker that read the members just before the
	// update counts its request a moment later.
	minDrain = 200 * time.Millisecond
	// startingPoll is the fallback wait for a replica that is starting, in
	// case a health event is lost.
	startingPoll = 2 * time.Second
	// dependencyPoll is how often a spec waiting for its dependencies looks.
	dependencyPoll = 500 * time.Millisecond
)

// Reconciler converges one spec per call. Calls for one spec never overlap
// (the work queue serialises keys); calls for different specs may.
type Reconciler struct {
	Runtime Runtime
	Specs   SpecSource
	Log     logr.Logger
	Events  *Recorder
	Metrics *Metrics
	// History, if set, numbers revisions and holds restart markers.
	History RevisionHistory
	// Now is the clock; tests replace it.
	Now func() time.Time
	// UpstreamCheckInterval is how often each load balancer's upstream is
	// read back and compared with what scalerd applied (upstreamsync.go):
	// 0 means DefaultUpstreamCheckInterval, a negative value never.
	UpstreamCheckInterval time.Duration
	// Requeue, if set, asks for a spec to be reconciled soon; the
	// controller sets it. Start probes use it to report a ready replica.
	Requeue func(name string)

	mu    sync.Mutex
	specs map[string]*specState
	// seen holds recent Engine events, ahead of the container list.
	seen *eventView
	// starts runs start probes where the Engine ignores startInterval.
	starts *startProber
	// autoscale holds the autoscaled specs' counts (autoscaler.go).
	autoscale autoscaleStates
	// calls holds a slot per create or start in flight, over all specs:
	// the Engine-call limit (maxParallelCalls) across passes.
	calls chan struct{}
	// ops counts the launches whose operations have not all completed.
	ops sync.WaitGroup
}

// specState is what scalerd remembers of a spec between reconciles. All of
// it can be lost: a restarted scalerd rebuilds it from the Engine and from
// the config its load balancer runs (adoptLoadBalancer), at the cost of a
// fresh drain wait.
type specState struct {
	status v1alpha1.Status
	// lastSpec is the last spec in force, used to tear down a deleted spec.
	lastSpec *v1alpha1.ScaleSpec
	// appliedConfig is the nginx config the load balancer runs and
	// appliedPeers its peers file (nginx.RenderPeers).
	appliedConfig   []byte
	appliedPeers    []byte
	appliedUpstream []string
	// lastReload is the last reload or peers update.
	lastReload time.Time
	// nextUpstreamCheck is when the upstream is next read back
	// (upstreamsync.go); upstreamDrifted is set from a drift until a check
	// finds nginx in sync again.
	nextUpstreamCheck time.Time
	upstreamDrifted   bool
	// reloadedAt is the last reload (a peers update is none).
	reloadedAt time.Time
	// agent is the reload agent of the load balancer, nil until started
	// or after it broke; agentOff is a load balancer container whose
	// image cannot run one, so that it is not tried on every reload.
	agent    *lbAgent
	agentOff string
	// drainStart maps a container ID to when it left the upstream.
	drainStart map[string]time.Time
	// crash tracks crash loops per replica slot of the current template
	// (crashloop.go), keyed by its hash: older templates' counts no longer
	// matter.
	crash   map[string]*crashLoop
	network string // ensured network
	// progressSince is when the current rollout last made progress.
	progressSince time.Time
	lastReady     int32
	lastHash      string
	// completedHash is the template whose rollout last completed.
	completedHash string
	// changedAt is when a new generation was first seen, until it converges.
	seenGeneration int64
	changedAt      time.Time
	// change is when the spec store last reported a new generation.
	change specChange
	// lbRetry is a failed replacement of the load balancer, tried again
	// later; lbRenameAt is when to try again to name it NAME-lb.
	lbRetry    *lbRetry
	lbRenameAt time.Time
	// foreign holds replica numbers whose names containers scalerd does
	// not own hold (see skipForeignNames).
	foreign map[int]*foreignName
	// launch holds the creates and starts in flight and their results
	// (inflight.go).
	launch createLaunch
}

// NewReconciler wires a reconciler.
func NewReconciler(rt Runtime, specs SpecSource, log logr.Logger, events *Recorder, metrics *Metrics) *Reconciler {
	r := &Reconciler{Runtime: rt, Specs: specs, Log: log, Events: events, Metrics: metrics, Now: time.Now,
		specs: map[string]*specState{}, seen: newEventView(), calls: make(chan struct{}, maxParallelCalls)}
	if !rt.Capabilities().HealthStartInterval {
		r.starts = newStartProber(rt, log.WithName("startprobe"), func(name string) {
			if r.Requeue != nil {
				r.Requeue(name)
			}
		})
		r.starts.passed = r.seen.noteHealthy
	}
	return r
}

func (r *Reconciler) state(name string) *specState {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.specs[name]
	if !ok {
		st = &specState{drainStart: map[string]time.Time{}, crash: map[string]*crashLoop{}}
		r.specs[name] = st
	}
	return st
}

// Status returns a copy of the last status of a spec.
func (r *Reconciler) Status(name string) (v1alpha1.Status, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.specs[name]
	if !ok {
		return v1alpha1.Status{}, false
	}
	s := st.status
	s.Upstream = append([]string(nil), s.Upstream...)
	s.Conditions = append([]v1alpha1.Condition(nil), s.Conditions...)
	return s, true
}

// ListObserved lists the managed containers as the reconciler sees them:
// the Engine's list with the last seconds' events laid over it and the
// replicas that passed a start probe marked healthy. Views (describe, top)
// use it, so that they show what the upstream was built from.
func (r *Reconciler) ListObserved(ctx context.Context) ([]Container, error) {
	all, err := r.observe(ctx)
	if err != nil {
		return nil, err
	}
	r.starts.mark(all)
	return all, nil
}

// observe lists the managed containers with the last seconds' events laid
// over the Engine's list. Start probes are laid over per spec, by the
// reconcile that also starts them.
func (r *Reconciler) observe(ctx context.Context) ([]Container, error) {
	all, err := r.Runtime.ListManaged(ctx)
	if err != nil {
		return nil, err
	}
	r.seen.overlay(all, r.Now())
	return all, nil
}

// Draining reports whether a container is waiting for its drain.
func (r *Reconciler) Draining(spec, containerID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.specs[spec]
	if !ok {
		return false
	}
	_, draining := st.drainStart[containerID]
	return draining
}

// ready reports whether a spec counts as Ready for its dependents: every
// desired replica is ready.
func (r *Reconciler) ready(name string) bool {
	spec, _, ok := r.Specs.Get(name)
	if !ok {
		return false
	}
	status, ok := r.Status(name)
	return ok && status.ReadyReplicas >= *spec.Spec.Replicas
}

// Reconcile observes the containers of spec name, plans, and acts.
func (r *Reconciler) Reconcile(ctx context.Context, name string) (Result, error) {
	log := r.Log.WithValues("spec", name)
	start := r.Now()
	res, err := r.reconcile(logr.NewContext(ctx, log), name)
	r.Metrics.observeReconcile(name, r.Now().Sub(start), err)
	log.V(2).Info("reconciled", "duration", r.Now().Sub(start), "requeue", res.Requeue, "requeueAfter", res.RequeueAfter, "error", err)
	return res, err
}

func (r *Reconciler) reconcile(ctx context.Context, name string) (Result, error) {
	log := logr.FromContextOrDiscard(ctx)
	st := r.state(name)
	// What completed since the last pass, then what is still in flight,
	// then the Engine's list: an operation that completes meanwhile is in
	// the list, in flight, or both (the planner matches them).
	createErr := r.collect(name, st)
	inflight := r.inFlight(st)
	all, err := r.observe(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("listing containers: %w", err)
	}
	app, lbs := splitSpec(all, name)

	spec, specErr, ok := r.Specs.Get(name)
	if !ok && r.Specs.Defined(name) {
		// A file names the spec, or may (it cannot be read), but no valid
		// version of it is known: leave what runs alone until it is fixed.
		msg := "no valid version of this spec is known; what runs is left alone until the file is fixed"
		if specErr != nil {
			msg = specErr.Error() + "; " + msg
		}
		if c := v1alpha1.FindCondition(st.status.Conditions, v1alpha1.ConditionSpecValid); c == nil || c.Message != msg {
			r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventWarning, ReasonSpecInvalid, "%s", msg)
		}
		r.setConditions(st, v1alpha1.SetCondition(st.status.Conditions, r.condition(v1alpha1.ConditionSpecValid, v1alpha1.ConditionFalse, "InvalidSpec", msg)))
		return Result{}, nil
	}
	if !ok {
		return r.reconcileDeleted(ctx, name, st, app, lbs, inflight)
	}
	spec.Default()
	r.applyAutoscaling(name, st, spec, app)
	st.lastSpec = spec
	if spec.Spec.LoadBalancer != nil && st.appliedConfig == nil {
		r.adoptLoadBalancer(ctx, spec, st, lbs, app)
	}
	r.starts.overlay(context.WithoutCancel(ctx), name, spec.Spec.Template.HealthCheck, app)
	conds := st.status.Conditions
	if specErr != nil {
		if c := v1alpha1.FindCondition(conds, v1alpha1.ConditionSpecValid); c == nil || c.Status != v1alpha1.ConditionFalse || c.Message != specErr.Error() {
			r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventWarning, ReasonSpecInvalid, "%v; the last valid spec stays in force", specErr)
		}
		conds = v1alpha1.SetCondition(conds, r.condition(v1alpha1.ConditionSpecValid, v1alpha1.ConditionFalse, "InvalidSpec", specErr.Error()))
	} else {
		conds = v1alpha1.SetCondition(conds, r.condition(v1alpha1.ConditionSpecValid, v1alpha1.ConditionTrue, "Valid", "the spec in force is the one in the file"))
	}
	r.setConditions(st, conds)

	if err := r.ensureNetwork(ctx, st, spec.Spec.Network); err != nil {
		return Result{}, err
	}

	hash, revision, err := r.revision(spec)
	r.reportHistory(name, st, err)
	if err != nil && revision == 0 {
		return Result{}, err
	}
	replicas := *spec.Spec.Replicas
	now := r.Now()
	held := r.trackCrashes(name, st, hash, app, len(inflight), now)
	waiting := r.unreadyDependencies(spec)
	in := planInput(spec, replicas, hash, app)
	in.Draining, in.CreateBlocked, in.Held, in.InFlight = drainingSet(st), len(waiting) > 0, heldMap(held), inflight
	plan := PlanReplicas(in)
	if !plan.Converged() {
		log.V(1).Info("planned", "plan", plan.String())
	}

	var lb *Container
	var result Result
	if spec.Spec.LoadBalancer != nil {
		lb, err = r.ensureLoadBalancer(ctx, spec, st, lbs, plan.Upstream)
		if err == nil {
			// Read back before applying: a drift makes the apply below put
			// it right. A peers update is in force when it returns, so a
			// second check confirms it at once; a reload is confirmed by
			// the next check, once it has settled.
			check, next := r.upstreamCheckDue(st, now)
			result.RequeueAfter = next
			drifted := check && r.checkUpstream(ctx, name, st, *lb)
			err = r.applyUpstream(ctx, spec, st, *lb, plan.Upstream)
			if err == nil && drifted {
				if st.reloadedAt.Before(now) {
					r.checkUpstream(ctx, name, st, *lb)
				} else {
					st.nextUpstreamCheck = now
					result.RequeueAfter = upstreamSettle
				}
			}
		}
		if err != nil {
			// The upstream could not change, so nothing may leave it: only
			// replicas that cannot serve anyway are removed below.
			plan = withoutDrains(plan)
			r.updateStatus(name, st, spec, hash, append(app, inFlightStandIns(name, inflight, app)...), plan, now)
			return Result{}, errors.Join(err, createErr)
		}
	} else {
		// No load balancer, no upstream: the replicas are reached by
		// their network alias (redis, say).
		r.dropAgent(st)
		r.removeAll(ctx, lbs, 0)
		st.appliedUpstream = nil
	}

	wait, err := r.removeReplicas(ctx, spec, st, lb, plan.Remove, now)
	if err != nil {
		return Result{}, err
	}
	if wait > 0 {
		result.RequeueAfter = shortest(result.RequeueAfter, wait)
	}
	if d := r.lbRequeue(st, now); d > 0 {
		result.RequeueAfter = shortest(result.RequeueAfter, d)
	}
	r.setRevision(st, revision, held)
	standIns := inFlightStandIns(name, inflight, app)
	plan.Create = r.skipForeignNames(st, plan.Create, append(app, standIns...), now)
	backingOff := false
	if d := r.createsHeld(st, hash, now); d > 0 && len(plan.Create)+len(plan.Start) > 0 {
		// Creates failed a moment ago: they are tried again after the
		// create back-off, not by every pass their failure brings.
		plan.Create, plan.Start, backingOff = nil, nil, true
		result.RequeueAfter = shortest(result.RequeueAfter, d)
	}
	r.launch(ctx, spec, st, hash, revision, plan)
	if len(plan.Create)+len(plan.Start) == 0 && len(inflight) == 0 {
		// Nothing is being created: a failure that no back-off, dependency
		// or failed create keeps pending was absorbed (a scale-down), and a
		// later create under its name is no replacement.
		r.reportReplacements(name, hash, nil, nil, plan.Blocked > 0 || len(plan.Held) > 0 || backingOff)
	}
	launched := r.inFlight(st)
	r.setStall(name, st, r.findStall(ctx, name, hash, app, plan, r.createFailure(st, hash), waiting, now))
	r.updateStatus(name, st, spec, hash, append(app, inFlightStandIns(name, launched, app)...), plan, now)
	if createErr != nil {
		return Result{}, createErr
	}

	if plan.Blocked > 0 && len(waiting) > 0 {
		r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventNormal, ReasonWaiting, "waiting for %s to be ready", strings.Join(waiting, ", "))
		result.RequeueAfter = shortest(result.RequeueAfter, dependencyPoll)
	}
	// A held slot is looked at again when its back-off ends.
	for _, i := range plan.Held {
		result.RequeueAfter = shortest(result.RequeueAfter, in.Held[i].Sub(now))
	}
	if len(plan.Create) > 0 || len(plan.Start) > 0 || startingReplicas(app) {
		result.RequeueAfter = shortest(result.RequeueAfter, startingPoll)
	}
	// Replicas left by the slow start (plan.Pending) wait for those just
	// created to turn ready: their health events, or startingPoll above,
	// bring the next pass. Running again at once would find them not ready
	// and create nothing.
	return result, nil
}

func (r *Reconciler) condition(t string, s v1alpha1.ConditionStatus, reason, msg string) v1alpha1.Condition {
	return v1alpha1.Condition{Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: r.Now().UTC().Truncate(time.Second)}
}

func (r *Reconciler) setConditions(st *specState, conds []v1alpha1.Condition) {
	r.mu.Lock()
	st.status.Conditions = conds
	r.mu.Unlock()
}

// revision returns the template hash replicas must carry (the template's,
// with a `rollout restart` marker folded in) and its revision number.
func (r *Reconciler) revision(spec *v1alpha1.ScaleSpec) (string, int64, error) {
	name := spec.Metadata.Name
	hash := v1alpha1.TemplateHash(spec.Spec.Template)
	if r.History == nil {
		return hash, 0, nil
	}
	hash = v1alpha1.RestartHash(hash, r.History.RestartedAt(name))
	limit := 10
	if l := spec.Spec.RevisionHistoryLimit; l != nil {
		limit = int(*l)
	}
	rev, err := r.History.Record(name, hash, spec.Spec.Template, limit)
	if err != nil {
		return hash, rev, fmt.Errorf("recording revision: %w", err)
	}
	return hash, rev, nil
}

// reportHistory says whether the rollout history could be written. A write
// that fails costs the undo history of this change after a restart, never
// convergence: the reconcile goes on with the revision kept in memory.
func (r *Reconciler) reportHistory(name string, st *specState, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := v1alpha1.FindCondition(st.status.Conditions, ConditionHistoryRecorded)
	if err == nil {
		if c != nil && c.Status != v1alpha1.ConditionTrue {
			st.status.Conditions = v1alpha1.SetCondition(st.status.Conditions, r.condition(ConditionHistoryRecorded, v1alpha1.ConditionTrue, "Recorded", "the rollout history is written"))
		}
		return
	}
	msg := err.Error() + "; scalerd goes on converging, but `rollout undo` may lack this revision after a restart"
	if c == nil || c.Message != msg {
		r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventWarning, ReasonHistoryWriteFailed, "%s", msg)
		r.Log.Error(err, "cannot record the rollout history; converging anyway", "spec", name)
	}
	st.status.Conditions = v1alpha1.SetCondition(st.status.Conditions, r.condition(ConditionHistoryRecorded, v1alpha1.ConditionFalse, "WriteFailed", msg))
}

// setRevision records the current revision and the slots held by
// crash-loop back-off in the status. Every held slot is reported, not only
// those the plan would fill now: a slot stays held until its delay ends.
func (r *Reconciler) setRevision(st *specState, revision int64, held []heldSlot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st.status.CurrentRevision = revision
	st.status.Backoff = backoffStatus(held)
}

func (r *Reconciler) ensureNetwork(ctx context.Context, st *specState, network string) error {
	if st.network == network {
		return nil
	}
	if err := r.Runtime.EnsureNetwork(ctx, network); err != nil {
		return fmt.Errorf("ensuring network %s: %w", network, err)
	}
	st.network = network
	return nil
}

// unreadyDependencies lists the dependsOn specs that are not Ready yet.
func (r *Reconciler) unreadyDependencies(spec *v1alpha1.ScaleSpec) []string {
	var waiting []string
	for _, dep := range spec.Spec.DependsOn {
		if !r.ready(dep) {
			waiting = append(waiting, dep)
		}
	}
	return waiting
}

func drainingSet(st *specState) map[string]bool {
	m := make(map[string]bool, len(st.drainStart))
	for id := range st.drainStart {
		m[id] = true
	}
	return m
}

func withoutDrains(p Plan) Plan {
	var keep []Removal
	for _, rm := range p.Remove {
		if !rm.Drain {
			keep = append(keep, rm)
		}
	}
	p.Remove = keep
	p.Create, p.Start = nil, nil
	return p
}

func startingReplicas(app []Container) bool {
	for _, c := range app {
		if c.State == StateRunning && c.Health == HealthStarting {
			return true
		}
	}
	return false
}

func shortest(a, b time.Duration) time.Duration {
	if b <= 0 {
		b = time.Millisecond
	}
	if a <= 0 || b < a {
		return b
	}
	return a
}

// planInput is the planner's input for replicas of spec's template
// (hash) given the observed app replicas; what only a reconcile knows
// (drains, holds, operations in flight) is the caller's to add.
func planInput(spec *v1alpha1.ScaleSpec, replicas int32, hash string, app []Container) PlanInput {
	return PlanInput{
		Spec:           spec.Metadata.Name,
		Replicas:       replicas,
		TemplateHash:   hash,
		MaxSurge:       spec.Spec.Strategy.MaxSurge.Resolve(replicas, true),
		MaxUnavailable: spec.Spec.Strategy.MaxUnavailable.Resolve(replicas, false),
		Observed:       app,
	}
}

// splitSpec picks spec name's containers out of all: its replicas, and its
// load balancers (config-check containers included).
func splitSpec(all []Container, name string) (app, lbs []Container) {
	for _, c := range all {
		if c.Labels[v1alpha1.LabelSpec] != name {
			continue
		}
		if role := c.Labels[v1alpha1.LabelRole]; role == v1alpha1.RoleLB || role == roleLBCheck {
			lbs = append(lbs, c)
		} else {
			app = append(app, c)
		}
	}
	return app, lbs
}

// lbName is the name of a spec's load balancer container.
func lbName(spec string) string { return spec + "-lb" }

// ReplicaName is the name of a spec's replica number index.
func ReplicaName(spec string, index int) string { return spec + "-" + strconv.Itoa(index) }

// renderConfig renders the whole nginx config and the peers file for
// upstream, and the names of the replicas in it.
func renderConfig(spec *v1alpha1.ScaleSpec, upstream []Container) (cfgOut, peers []byte, names []string, err error) {
	lbSpec := spec.Spec.LoadBalancer
	cfg := nginx.Config{
		SpecName:     spec.Metadata.Name,
		Algorithm:    lbSpec.Algorithm,
		MaxFails:     int(*lbSpec.MaxFails),
		FailTimeout:  lbSpec.FailTimeout.Duration,
		DrainTimeout: spec.Spec.Strategy.DrainTimeout.Duration,
		ListenPort:   lbListenPort,
		// Idle upstream connections per worker: enough for a closed-loop
		// load of 64+ in flight, so nginx does not open a connection per
		// request to the replicas (measured: 1 in 10 did with 32).
		Keepalive:        128,
		ServerSnippet:    lbSpec.ServerSnippet,
		NoStatusPage:     lbSpec.StatusPage != nil && !*lbSpec.StatusPage,
		NoUpstreamHeader: lbSpec.UpstreamHeader != nil && !*lbSpec.UpstreamHeader,
	}
	for _, c := range upstream {
		ip := c.IPs[spec.Spec.Network]
		if ip == "" {
			continue // not attached yet; it joins on the next reconcile
		}
		cfg.Upstreams = append(cfg.Upstreams, nginx.Upstream{Name: c.Name, Addr: net.JoinHostPort(ip, strconv.Itoa(int(spec.Spec.Template.Port)))})
		names = append(names, c.Name)
	}
	if cfgOut, err = nginx.Render(cfg); err != nil {
		return nil, nil, nil, err
	}
	if peers, err = nginx.RenderPeers(cfg); err != nil {
		return nil, nil, nil, err
	}
	return cfgOut, peers, names, nil
}

// ErrConfigRejected wraps a config that failed `nginx -t`; the running
// config stays.
var ErrConfigRejected = errors.New("nginx rejected the new config")

// applyUpstream renders the config and peers for upstream and applies
// what differs from what runs: a changed config is tested and applied with
// a graceful reload (the peers going with it), while changed members alone
// are a peers update, which the running workers take without a reload.
func (r *Reconciler) applyUpstream(ctx context.Context, spec *v1alpha1.ScaleSpec, st *specState, lb Container, upstream []Container) error {
	log := logr.FromContextOrDiscard(ctx)
	name := spec.Metadata.Name
	cfg, peers, names, err := renderConfig(spec, upstream)
	if err != nil {
		return r.lbFailed(name, st, "RenderFailed", err)
	}
	reload := !bytes.Equal(cfg, st.appliedConfig)
	if !reload && bytes.Equal(peers, st.appliedPeers) {
		r.lbReady(st)
		return nil
	}
	started := time.Now()
	if reload {
		err = r.testAndReload(ctx, st, lb, cfg, peers)
		r.Metrics.reloaded(name, err)
		if err != nil {
			r.Events.Eventf(name, "loadbalancer/"+lb.Name, v1alpha1.EventWarning, ReasonReloadFailed, "%v", err)
			return r.lbFailed(name, st, "ReloadFailed", err)
		}
	} else {
		err = r.updatePeers(ctx, st, lb, peers)
		r.Metrics.upstreamUpdated(name, err)
		if err != nil {
			r.Events.Eventf(name, "loadbalancer/"+lb.Name, v1alpha1.EventWarning, ReasonReloadFailed, "updating the members without a reload: %v", err)
			return r.lbFailed(name, st, "UpstreamUpdateFailed", err)
		}
	}
	took := time.Since(started)
	prev := st.appliedUpstream
	st.appliedConfig, st.appliedPeers, st.appliedUpstream, st.lastReload = cfg, peers, names, r.Now()
	if reload {
		st.reloadedAt = st.lastReload
	}
	r.lbReady(st)
	if !equalStrings(prev, names) {
		log.Info("updated upstream", "action", "updateUpstream", "upstream", names, "reload", reload, "reloadMillis", float64(took.Microseconds())/1000)
		r.Events.Eventf(name, "loadbalancer/"+lb.Name, v1alpha1.EventNormal, ReasonUpstreamUpdated, "upstream is now [%s]", strings.Join(names, " "))
	} else if reload {
		log.Info("reloaded load balancer", "action", "reload", "replica", lb.Name, "reloadMillis", float64(took.Microseconds())/1000)
	} else {
		log.Info("rewrote the load balancer's members", "action", "updatePeers", "replica", lb.Name, "millis", float64(took.Microseconds())/1000)
	}
	return nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// removeReplicas removes what the plan says, after draining those that
// may be serving. It returns how soon to look again while drains are
// pending.
func (r *Reconciler) removeReplicas(ctx context.Context, spec *v1alpha1.ScaleSpec, st *specState, lb *Container, removals []Removal, now time.Time) (time.Duration, error) {
	log := logr.FromContextOrDiscard(ctx)
	name := spec.Metadata.Name
	grace := spec.Spec.Template.StopGracePeriod.Duration
	drainTimeout := spec.Spec.Strategy.DrainTimeout.Duration

	var ready []Container
	var wait time.Duration
	workersChecked, workersGone := false, false
	for _, rm := range removals {
		c := rm.Container
		if !rm.Drain || lb == nil {
			ready = append(ready, c)
			continue
		}
		started, ok := st.drainStart[c.ID]
		if !ok {
			started = now
			r.mu.Lock()
			st.drainStart[c.ID] = now
			r.mu.Unlock()
			log.Info("draining replica", "action", "drain", "replica", c.Name, "reason", rm.Reason)
		}
		if now.Sub(started) >= drainTimeout {
			ready = append(ready, c)
			continue
		}
		if now.Sub(st.lastReload) < minDrain || now.Sub(started) < minDrain {
			wait = shortest(wait, drainPoll)
			continue
		}
		if !workersChecked {
			workersChecked = true
			workersGone = r.oldWorkersGone(ctx, st, *lb)
		}
		if workersGone {
			ready = append(ready, c)
		} else {
			wait = shortest(wait, drainPoll)
		}
	}
	if len(ready) == 0 {
		return wait, nil
	}
	var mu sync.Mutex
	var errs []error
	var scaledDown []string
	work := newLimiter(maxParallelCalls)
	for _, c := range ready {
		work.Go(func() {
			// A replica that does not run (dead, exited, created) needs no
			// stop: the remove is forced. Under churn on a loaded Engine
			// each call costs seconds, and the dead replica's removal comes
			// before its replacement's create, which takes its name.
			var err error
			if c.State == StateRunning {
				err = r.Runtime.StopContainer(ctx, c.ID, grace)
			}
			if err == nil || errors.Is(err, ErrNotFound) {
				err = r.Runtime.RemoveContainer(ctx, c.ID)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("removing replica %s: %w", c.Name, err))
				return
			}
			r.mu.Lock()
			delete(st.drainStart, c.ID)
			r.mu.Unlock()
			log.Info("removed replica", "action", "remove", "replica", c.Name)
			// A failed replica's removal is part of its replacement,
			// which ReplicaFailed and ReplicaReplaced report.
			if !IsFailed(c) {
				scaledDown = append(scaledDown, c.Name)
			}
		})
	}
	work.Wait()
	if len(scaledDown) > 0 {
		sort.Strings(scaledDown)
		r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventNormal, ReasonScaledDown, "removed %d replica(s): %s", len(scaledDown), strings.Join(scaledDown, ", "))
	}
	return wait, errors.Join(errs...)
}

// oldWorkersGone asks the load balancer whether the nginx workers of the
// previous config have finished their requests and exited, and whether the
// requests in flight to members that were removed without a reload have
// ended: a replica that left by a peers update gets no new request, but
// keeps those it was sent.
func (r *Reconciler) oldWorkersGone(ctx context.Context, st *specState, lb Container) bool {
	text, err := r.askLB(ctx, st, lb, nginx.DrainingRequest(), nginx.DrainingCommand())
	if err != nil {
		return false // drainTimeout still bounds the wait
	}
	n, err := nginx.ParseCount(text)
	return err == nil && n == 0
}

// removeAll stops and removes containers without draining.
func (r *Reconciler) removeAll(ctx context.Context, cs []Container, grace time.Duration) {
	log := logr.FromContextOrDiscard(ctx)
	for _, c := range cs {
		if err := r.Runtime.StopContainer(ctx, c.ID, grace); err != nil && !errors.Is(err, ErrNotFound) {
			log.Error(err, "stopping container", "replica", c.Name)
		}
		if err := r.Runtime.RemoveContainer(ctx, c.ID); err != nil {
			log.Error(err, "removing container", "replica", c.Name)
			continue
		}
		log.Info("removed container", "action", "remove", "replica", c.Name)
	}
}

// reconcileDeleted tears down a spec that no longer exists: replicas
// drain as in a scale to zero, then the load balancer goes. Creates still
// in flight are waited for: each completion enqueues the spec, and the pass
// it brings removes the replica it made, so the spec is forgotten (and its
// load balancer removed) only once nothing is in flight.
func (r *Reconciler) reconcileDeleted(ctx context.Context, name string, st *specState, app, lbs []Container, inflight map[int]InFlight) (Result, error) {
	log := logr.FromContextOrDiscard(ctx)
	r.starts.forgetSpec(name)
	if len(app) == 0 && len(lbs) == 0 && len(inflight) == 0 {
		r.dropAgent(st)
		r.mu.Lock()
		delete(r.specs, name)
		r.mu.Unlock()
		r.Metrics.forget(name)
		return Result{}, nil
	}
	spec := st.lastSpec
	if spec == nil {
		// scalerd restarted after the spec went: nothing to drain through.
		log.Info("removing containers of a spec that no longer exists", "action", "removeOrphans", "count", len(app)+len(lbs))
		r.removeAll(ctx, app, 10*time.Second)
		r.dropAgent(st)
		r.removeAll(ctx, lbs, time.Second)
		return Result{RequeueAfter: drainPoll}, nil
	}
	spec = spec.DeepCopy()
	zero := int32(0)
	spec.Spec.Replicas = &zero
	plan := PlanReplicas(PlanInput{Spec: name, Observed: app, Draining: drainingSet(st), InFlight: inflight})
	var lb *Container
	for i := range lbs {
		if lbs[i].State == StateRunning && lbs[i].Labels[v1alpha1.LabelRole] == v1alpha1.RoleLB {
			lb = &lbs[i]
		}
	}
	if lb != nil && spec.Spec.LoadBalancer != nil {
		if err := r.applyUpstream(ctx, spec, st, *lb, nil); err != nil {
			return Result{}, err
		}
	}
	wait, err := r.removeReplicas(ctx, spec, st, lb, plan.Remove, r.Now())
	if err != nil {
		return Result{}, err
	}
	if wait > 0 {
		return Result{RequeueAfter: wait}, nil
	}
	if len(plan.InFlight) > 0 {
		// Their completions enqueue the spec; the poll is a fallback.
		return Result{RequeueAfter: startingPoll}, nil
	}
	r.dropAgent(st)
	r.removeAll(ctx, lbs, time.Second)
	if r.History != nil {
		if err := r.History.Forget(name); err != nil {
			log.Error(err, "forgetting revision history")
		}
	}
	r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventNormal, ReasonDeleted, "spec %s and all its containers removed", name)
	return Result{RequeueAfter: drainPoll}, nil
}
