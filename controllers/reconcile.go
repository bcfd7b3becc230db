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
	// Names lists the specs in force.
	Names() []string
	// Defined reports whether any file still names the spec, valid or not.
	// A spec whose file is broken (and was broken when scalerd started, so
	// no valid version is in force) must not be torn down.
	Defined(name string) bool
}

// RevisionHistory numbers the templates a spec runs, so that a rollout
// can be undone, and holds `rollout restart` markers.
type RevisionHistory interface {
	// Record makes hash the current revision and returns its number.
	Record(spec, hash string, t v1alpha1.Template, limit int) (int64, error)
	// RestartedAt is the spec's restart marker, "" if never restarted.
	RestartedAt(spec string) string
	// Forget drops the history of a deleted spec.
	Forget(spec string) error
}

// Result tells the controller when to look at a spec again.
type Result struct {
	// Requeue reconciles the spec again as soon as this pass is done: the
	// plan left work to a later pass (the slow start's next batch).
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
	// minDrain is the least time between a reload and the check that the old
	// workers have gone: the master needs a moment to start shutting them down.
	minDrain = 200 * time.Millisecond
	// startingPoll is the fallback wait for a replica that is starting, in
	// case a health event is lost.
	startingPoll = 2 * time.Second
	// crashBackoffBase and crashBackoffMax bound the wait before replacing
	// a replica that keeps failing; crashResetAfter of running clears it.
	crashBackoffBase = 10 * time.Second
	crashBackoffMax  = 5 * time.Minute
	crashResetAfter  = 10 * time.Minute
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
	// Requeue, if set, asks for a spec to be reconciled soon; the
	// controller sets it. Start probes use it to report a ready replica.
	Requeue func(name string)

	mu    sync.Mutex
	specs map[string]*specState
	// seen holds recent Engine events, ahead of the container list.
	seen *eventView
	// starts runs start probes where the Engine ignores startInterval.
	starts *startProber
}

// specState is what scalerd remembers of a spec between reconciles. All of
// it can be lost: a restarted scalerd rebuilds it from the Engine, at the
// cost of one nginx reload and a fresh drain wait.
type specState struct {
	status v1alpha1.Status
	// lastSpec is the last spec in force, used to tear down a deleted spec.
	lastSpec *v1alpha1.ScaleSpec
	// appliedConfig is the nginx config the load balancer runs.
	appliedConfig   []byte
	appliedUpstream []string
	lastReload      time.Time
	// agent is the reload agent of the load balancer, nil until started
	// or after it broke; agentOff is a load balancer container whose
	// image cannot run one, so that it is not tried on every reload.
	agent    *lbAgent
	agentOff string
	// drainStart maps a container ID to when it left the upstream.
	drainStart map[string]time.Time
	crash      map[string]*crashLoop // by template hash
	network    string                // ensured network
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
}

// crashLoop counts consecutive failures of replicas of one template.
type crashLoop struct {
	count     int
	lastCrash time.Time
	counted   map[string]bool
	// failed maps a failed replica's name to how it failed, until its
	// replacement is created.
	failed map[string]string
}

// NewReconciler wires a reconciler.
func NewReconciler(rt Runtime, specs SpecSource, log logr.Logger, events *Recorder, metrics *Metrics) *Reconciler {
	r := &Reconciler{Runtime: rt, Specs: specs, Log: log, Events: events, Metrics: metrics, Now: time.Now,
		specs: map[string]*specState{}, seen: newEventView()}
	if !rt.Capabilities().HealthStartInterval {
		r.starts = newStartProber(rt, log.WithName("startprobe"), func(name string) {
			if r.Requeue != nil {
				r.Requeue(name)
			}
		})
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
	all, err := r.observe(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("listing containers: %w", err)
	}
	var app, lbs []Container
	for _, c := range all {
		if c.Labels[v1alpha1.LabelSpec] != name {
			continue
		}
		if c.Labels[v1alpha1.LabelRole] == v1alpha1.RoleLB {
			lbs = append(lbs, c)
		} else {
			app = append(app, c)
		}
	}

	spec, specErr, ok := r.Specs.Get(name)
	if !ok && r.Specs.Defined(name) {
		// The file names the spec but no valid version of it is known:
		// leave what runs alone until the file is fixed.
		msg := "no valid version of this spec is known; what runs is left alone until the file is fixed"
		if specErr != nil {
			msg = specErr.Error() + "; " + msg
		}
		r.setConditions(st, v1alpha1.SetCondition(st.status.Conditions, r.condition(v1alpha1.ConditionSpecValid, v1alpha1.ConditionFalse, "InvalidSpec", msg)))
		return Result{}, nil
	}
	if !ok {
		return r.reconcileDeleted(ctx, name, st, app, lbs)
	}
	spec.Default()
	st.lastSpec = spec
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
	if err != nil {
		return Result{}, err
	}
	replicas := *spec.Spec.Replicas
	now := r.Now()
	backoffUntil := r.trackCrashes(name, st, hash, app, now)
	waiting := r.unreadyDependencies(spec)
	in := PlanInput{
		Spec:           name,
		Replicas:       replicas,
		TemplateHash:   hash,
		MaxSurge:       spec.Spec.Strategy.MaxSurge.Resolve(replicas, true),
		MaxUnavailable: spec.Spec.Strategy.MaxUnavailable.Resolve(replicas, false),
		Observed:       app,
		Draining:       drainingSet(st),
		CreateBlocked:  now.Before(backoffUntil) || len(waiting) > 0,
	}
	plan := PlanReplicas(in)
	if !plan.Converged() {
		log.V(1).Info("planned", "plan", plan.String())
	}

	var lb *Container
	var result Result
	if spec.Spec.LoadBalancer != nil {
		lb, err = r.ensureLoadBalancer(ctx, spec, st, lbs, plan.Upstream)
		if err == nil {
			err = r.applyUpstream(ctx, spec, st, *lb, plan.Upstream)
		}
		if err != nil {
			// The upstream could not change, so nothing may leave it: only
			// replicas that cannot serve anyway are removed below.
			plan = withoutDrains(plan)
			r.updateStatus(name, st, spec, hash, app, plan, now)
			return Result{}, err
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
	result.RequeueAfter = wait
	r.setRevision(st, hash, revision, backoffUntil, now)
	if err := r.startAndCreate(ctx, spec, hash, revision, plan); err != nil {
		r.updateStatus(name, st, spec, hash, app, plan, now)
		return Result{}, err
	}
	r.updateStatus(name, st, spec, hash, app, plan, now)

	switch {
	case plan.Blocked > 0 && len(waiting) > 0:
		r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventNormal, ReasonWaiting, "waiting for %s to be ready", strings.Join(waiting, ", "))
		result.RequeueAfter = shortest(result.RequeueAfter, dependencyPoll)
	case plan.Blocked > 0:
		result.RequeueAfter = shortest(result.RequeueAfter, backoffUntil.Sub(now))
	}
	if len(plan.Create) > 0 || len(plan.Start) > 0 || startingReplicas(app) {
		result.RequeueAfter = shortest(result.RequeueAfter, startingPoll)
	}
	result.Requeue = plan.Pending > 0
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
		return "", 0, fmt.Errorf("recording revision: %w", err)
	}
	return hash, rev, nil
}

// setRevision records the current revision and any crash-loop back-off in
// the status.
func (r *Reconciler) setRevision(st *specState, hash string, revision int64, backoffUntil, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st.status.CurrentRevision = revision
	st.status.Backoff = nil
	if loop := st.crash[hash]; loop != nil && now.Before(backoffUntil) {
		st.status.Backoff = &v1alpha1.Backoff{Failures: int32(loop.count), Until: backoffUntil.UTC()}
	}
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

// trackCrashes counts failed replicas of the current template and returns
// until when creating replacements must wait: the first failure is replaced
// at once, then the wait doubles from 10 s up to 5 min, as Kubernetes'
// crash-loop back-off does, and clears after 10 min of running.
func (r *Reconciler) trackCrashes(name string, st *specState, hash string, app []Container, now time.Time) time.Time {
	loop, ok := st.crash[hash]
	if !ok {
		loop = &crashLoop{counted: map[string]bool{}}
		st.crash = map[string]*crashLoop{hash: loop} // older templates' counts no longer matter
	}
	for _, c := range app {
		if c.Labels[v1alpha1.LabelTemplateHash] != hash {
			continue
		}
		if c.State == StateRunning && !c.Created.IsZero() && now.Sub(c.Created) > crashResetAfter {
			loop.count = 0
		}
		if IsFailed(c) && !loop.counted[c.ID] {
			loop.counted[c.ID] = true
			loop.count++
			loop.lastCrash = now
			reason, what := ReasonReplicaFailed, "exited"
			if c.State == StateRunning {
				reason, what = ReasonReplicaUnhealthy, "turned unhealthy"
			}
			r.Events.Eventf(name, "replica/"+c.Name, v1alpha1.EventWarning, reason, "replica %s %s; it left the upstream and is replaced", c.Name, what)
			r.Metrics.replicaFailed(name)
			loop.noteFailure(c.Name, what)
			r.Log.Info("replica failed", "spec", name, "replica", c.Name, "state", c.State, "health", c.Health)
		}
	}
	if loop.count <= 1 {
		return time.Time{}
	}
	delay := crashBackoffBase
	for i := 2; i < loop.count && delay < crashBackoffMax; i++ {
		delay *= 2
	}
	delay = min(delay, crashBackoffMax)
	until := loop.lastCrash.Add(delay)
	if now.Before(until) {
		r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventWarning, ReasonBackOff, "replicas keep failing (%d times); back-off %s before the next replacement", loop.count, delay)
	}
	return until
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

func readyNames(cs []Container) []string {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return names
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

// lbName is the name of a spec's load balancer container.
func lbName(spec string) string { return spec + "-lb" }

// ReplicaName is the name of a spec's replica number index.
func ReplicaName(spec string, index int) string { return spec + "-" + strconv.Itoa(index) }

// renderConfig renders the whole nginx config for upstream.
func renderConfig(spec *v1alpha1.ScaleSpec, upstream []Container) ([]byte, []string, error) {
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
		Keepalive:     128,
		ServerSnippet: lbSpec.ServerSnippet,
	}
	var names []string
	for _, c := range upstream {
		ip := c.IPs[spec.Spec.Network]
		if ip == "" {
			continue // not attached yet; it joins on the next reconcile
		}
		cfg.Upstreams = append(cfg.Upstreams, nginx.Upstream{Name: c.Name, Addr: net.JoinHostPort(ip, strconv.Itoa(int(spec.Spec.Template.Port)))})
		names = append(names, c.Name)
	}
	out, err := nginx.Render(cfg)
	return out, names, err
}

// ensureLoadBalancer returns the running nginx container of the spec,
// creating it (with its first config in place) when it is missing, and
// recreating it when its image or address changed.
func (r *Reconciler) ensureLoadBalancer(ctx context.Context, spec *v1alpha1.ScaleSpec, st *specState, lbs []Container, upstream []Container) (*Container, error) {
	log := logr.FromContextOrDiscard(ctx)
	name := spec.Metadata.Name
	want := v1alpha1.LoadBalancerHash(*spec.Spec.LoadBalancer)
	var keep *Container
	var stale []Container
	for i := range lbs {
		c := lbs[i]
		if keep == nil && c.Labels[v1alpha1.LabelConfigHash] == want && c.State == StateRunning {
			keep = &lbs[i]
			continue
		}
		stale = append(stale, c)
	}
	if len(stale) > 0 {
		log.Info("removing load balancer", "action", "removeLoadBalancer", "count", len(stale))
		r.removeAll(ctx, stale, time.Second)
		r.dropAgent(st)
		st.appliedConfig, st.appliedUpstream = nil, nil
	}
	if keep != nil {
		return keep, nil
	}

	cfg, names, err := renderConfig(spec, upstream)
	if err != nil {
		return nil, r.lbFailed(name, st, "RenderFailed", err)
	}
	lbSpec := spec.Spec.LoadBalancer
	cs := ContainerSpec{
		Name:  lbName(name),
		Image: lbSpec.Image,
		Cmd:   nginx.StartCommand(),
		Labels: map[string]string{
			v1alpha1.LabelManagedBy:  v1alpha1.ManagedByValue,
			v1alpha1.LabelSpec:       name,
			v1alpha1.LabelRole:       v1alpha1.RoleLB,
			v1alpha1.LabelConfigHash: want,
		},
		Network:     spec.Spec.Network,
		StopTimeout: spec.Spec.Strategy.DrainTimeout.Duration,
		StopSignal:  "SIGQUIT",
		Publish:     &PortBinding{HostIP: lbSpec.HostIP, HostPort: int(lbSpec.Port), ContainerPort: lbListenPort},
		Hardened:    true,
		// Every request passes through nginx, and a reload's nginx -t
		// decides how soon a dead replica leaves the upstream: under
		// contention the load balancer gets the CPU weight of two
		// default containers.
		CPUReservationNanos: 2e9,
		CapAdd:              nginx.Capabilities(),
	}
	id, err := r.Runtime.CreateContainer(ctx, cs)
	if err != nil {
		return nil, r.lbFailed(name, st, "CreateFailed", fmt.Errorf("creating load balancer %s: %w", cs.Name, err))
	}
	if err := r.Runtime.CopyFile(ctx, id, nginx.ConfigPath, cfg); err != nil {
		_ = r.Runtime.RemoveContainer(ctx, id)
		return nil, r.lbFailed(name, st, "CreateFailed", fmt.Errorf("writing nginx config into %s: %w", cs.Name, err))
	}
	if err := r.Runtime.StartContainer(ctx, id); err != nil {
		_ = r.Runtime.RemoveContainer(ctx, id)
		return nil, r.lbFailed(name, st, "StartFailed", fmt.Errorf("starting load balancer %s on %s:%d (is the port free?): %w", cs.Name, lbSpec.HostIP, lbSpec.Port, err))
	}
	st.appliedConfig, st.appliedUpstream, st.lastReload = cfg, names, r.Now()
	log.Info("created load balancer", "action", "createLoadBalancer", "replica", cs.Name, "address", fmt.Sprintf("%s:%d", lbSpec.HostIP, lbSpec.Port))
	r.Events.Eventf(name, "loadbalancer/"+cs.Name, v1alpha1.EventNormal, ReasonLoadBalancerReady, "load balancer %s listens on %s:%d", cs.Name, lbSpec.HostIP, lbSpec.Port)
	return &Container{ID: id, Name: cs.Name, Labels: cs.Labels, State: StateRunning}, nil
}

func (r *Reconciler) lbFailed(name string, st *specState, reason string, err error) error {
	r.Events.Eventf(name, "loadbalancer/"+lbName(name), v1alpha1.EventWarning, reason, "%v", err)
	r.mu.Lock()
	st.status.Conditions = v1alpha1.SetCondition(st.status.Conditions, r.condition(v1alpha1.ConditionLoadBalancerReady, v1alpha1.ConditionFalse, reason, err.Error()))
	r.mu.Unlock()
	return err
}

// ErrConfigRejected wraps a config that failed `nginx -t`; the running
// config stays.
var ErrConfigRejected = errors.New("nginx rejected the new config")

// applyUpstream renders the config for upstream and, if it differs from
// the running one, tests and applies it with a graceful reload.
func (r *Reconciler) applyUpstream(ctx context.Context, spec *v1alpha1.ScaleSpec, st *specState, lb Container, upstream []Container) error {
	log := logr.FromContextOrDiscard(ctx)
	name := spec.Metadata.Name
	cfg, names, err := renderConfig(spec, upstream)
	if err != nil {
		return r.lbFailed(name, st, "RenderFailed", err)
	}
	if bytes.Equal(cfg, st.appliedConfig) {
		r.lbReady(st)
		return nil
	}
	started := time.Now()
	err = r.testAndReload(ctx, st, lb, cfg)
	took := time.Since(started)
	r.Metrics.reloaded(name, err)
	if err != nil {
		r.Events.Eventf(name, "loadbalancer/"+lb.Name, v1alpha1.EventWarning, ReasonReloadFailed, "%v", err)
		return r.lbFailed(name, st, "ReloadFailed", err)
	}
	prev := st.appliedUpstream
	st.appliedConfig, st.appliedUpstream, st.lastReload = cfg, names, r.Now()
	r.lbReady(st)
	if !equalStrings(prev, names) {
		log.Info("updated upstream", "action", "updateUpstream", "upstream", names, "reloadMillis", float64(took.Microseconds())/1000)
		r.Events.Eventf(name, "loadbalancer/"+lb.Name, v1alpha1.EventNormal, ReasonUpstreamUpdated, "upstream is now [%s]", strings.Join(names, " "))
	} else {
		log.Info("reloaded load balancer", "action", "reload", "replica", lb.Name, "reloadMillis", float64(took.Microseconds())/1000)
	}
	return nil
}

func (r *Reconciler) lbReady(st *specState) {
	r.mu.Lock()
	st.status.Conditions = v1alpha1.SetCondition(st.status.Conditions, r.condition(v1alpha1.ConditionLoadBalancerReady, v1alpha1.ConditionTrue, "ConfigApplied", "nginx runs the rendered config"))
	r.mu.Unlock()
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
	var wg sync.WaitGroup
	for _, c := range ready {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := grace
			if c.State != StateRunning {
				g = 0
			}
			err := r.Runtime.StopContainer(ctx, c.ID, g)
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
		}()
	}
	wg.Wait()
	if len(scaledDown) > 0 {
		sort.Strings(scaledDown)
		r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventNormal, ReasonScaledDown, "removed %d replica(s): %s", len(scaledDown), strings.Join(scaledDown, ", "))
	}
	return wait, errors.Join(errs...)
}

// oldWorkersGone asks the load balancer whether the nginx workers of the
// previous config have finished their requests and exited.
func (r *Reconciler) oldWorkersGone(ctx context.Context, st *specState, lb Container) bool {
	if a := r.reloadAgent(ctx, st, lb); a != nil {
		code, text, err := a.call(ctx, nginx.DrainingRequest())
		if err == nil && code == nginx.ReplyOK {
			n, err := nginx.ParseCount(text)
			return err == nil && n == 0
		}
		st.agent = nil
	}
	res, err := r.Runtime.Exec(ctx, lb.ID, nginx.ShuttingDownWorkersCommand())
	if err != nil || res.ExitCode != 0 {
		return false // drainTimeout still bounds the wait
	}
	n, err := nginx.ParseCount(res.Output)
	return err == nil && n == 0
}

// startAndCreate starts replicas left created and creates the plan's new
// ones, concurrently: the plan already bounds how many (createBatch).
func (r *Reconciler) startAndCreate(ctx context.Context, spec *v1alpha1.ScaleSpec, hash string, revision int64, plan Plan) error {
	log := logr.FromContextOrDiscard(ctx)
	name := spec.Metadata.Name
	var mu sync.Mutex
	var errs []error
	var created []string
	var wg sync.WaitGroup
	for _, c := range plan.Start {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Runtime.StartContainer(ctx, c.ID); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("starting replica %s: %w", c.Name, err))
				mu.Unlock()
				return
			}
			log.Info("started replica", "action", "start", "replica", c.Name)
		}()
	}
	for _, index := range plan.Create {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs, err := ReplicaContainerSpec(spec, hash, revision, index, r.Runtime.Capabilities())
			if err == nil {
				err = r.createAndStart(ctx, cs)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			created = append(created, cs.Name)
			log.Info("created replica", "action", "create", "replica", cs.Name)
		}()
	}
	wg.Wait()
	sort.Strings(created)
	r.Metrics.replicasCreated(name, len(created))
	if scaledUp := r.reportReplacements(name, hash, created, plan.Replacing(), plan.Blocked > 0 || len(errs) > 0); len(scaledUp) > 0 {
		r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventNormal, ReasonScaledUp, "created %d replica(s): %s", len(scaledUp), strings.Join(scaledUp, ", "))
	}
	if err := errors.Join(errs...); err != nil {
		r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventWarning, ReasonCreateFailed, "%v", err)
		return err
	}
	return nil
}

func (r *Reconciler) createAndStart(ctx context.Context, cs ContainerSpec) error {
	id, err := r.Runtime.CreateContainer(ctx, cs)
	if err != nil {
		return fmt.Errorf("creating replica %s: %w", cs.Name, err)
	}
	if err := r.Runtime.StartContainer(ctx, id); err != nil {
		// A replica that cannot start is removed so that the next attempt
		// can take its name.
		_ = r.Runtime.RemoveContainer(ctx, id)
		return fmt.Errorf("starting replica %s: %w", cs.Name, err)
	}
	return nil
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
// drain as in a scale to zero, then the load balancer goes.
func (r *Reconciler) reconcileDeleted(ctx context.Context, name string, st *specState, app, lbs []Container) (Result, error) {
	log := logr.FromContextOrDiscard(ctx)
	r.starts.forgetSpec(name)
	if len(app) == 0 && len(lbs) == 0 {
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
	plan := PlanReplicas(PlanInput{Spec: name, Observed: app, Draining: drainingSet(st)})
	var lb *Container
	for i := range lbs {
		if lbs[i].State == StateRunning {
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
