package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// Per-replica progress: creates and starts run as in-flight operations.
//
// A reconcile pass used to run its creates (create and start, up to
// maxParallelCalls at once) and wait for all of them before it returned,
// and passes of a spec never overlap (the work queue). So a replica that
// turned healthy joined the upstream only once the slowest create of the
// pass had returned: at 0 → 50 the first replica served 6 s after the save
// while one alone serves in 0.45 s, and under churn on a loaded Engine (a
// create and start took 8 to 13 s while other suites ran) a replacement
// that passed its start probe 2 s after its create waited for the next
// replacement's create, and ready replicas fell below 3 (RELIABILITY.md,
// Churn). A stop-gap (createFollowingUpstream) then refreshed the upstream
// from what scalerd already knew while a pass waited; it is gone, as no
// pass waits for a create any more.
//
// Now a pass launches its creates and starts and returns at once. What is
// in flight is part of the observed state: the reconciler keeps, per spec,
// each slot being created or started (inFlightOp), and the planner counts
// those replicas as present and not ready (PlanInput.InFlight), so no pass
// creates a slot twice or more than wanted, and the slow start counts them
// against its not-ready budget. Each completion records its result and
// enqueues the spec; the next pass takes the results in (collect): names
// taken by foreign containers, CreateFailed and the create back-off, the
// created-replica events and metrics. A replica that turns healthy
// meanwhile joins the upstream in the pass its health event (or start
// probe) brings, whatever else is in flight.
//
// The Engine-call limit holds across passes: an operation holds one of
// maxParallelCalls slots (Reconciler.calls) while it calls the Engine, and
// at most one goroutine per launch waits for a slot. On shutdown (ctx
// cancelled) the operations end with their calls; what the Engine created
// is adopted by the next scalerd (a created container is started by its
// plan.Start), as before.

// Create back-off bounds: after a pass's creates failed (not a name
// conflict), no create or start is launched for createBackoffBase,
// doubling up to createBackoffMax while they keep failing. A pass used to
// return its creates' error, and the work queue's back-off (50 ms doubling
// to 30 s) spaced the retries; completions now enqueue at once, so the
// spacing is kept here.
const (
	createBackoffBase = 50 * time.Millisecond
	createBackoffMax  = 30 * time.Second
)

// inFlightOp is one replica being created and started, or started.
type inFlightOp struct {
	index int
	name  string
	hash  string
	// id is the container's ID once known; r.mu guards it.
	id string
	// start is set for a replica that exists and is only started.
	start bool
	batch *opBatch
}

// opBatch is the operations one pass launched, with what that pass knew
// that their report needs: the created-replica event names the replicas
// it replaced, as the pass's plan said.
type opBatch struct {
	hash      string
	replacing []string
	// pending is set when the pass left creates for later (dependencies,
	// back-off): failures it replaces stay remembered.
	pending bool
	left    int
	created []string
	failed  bool
}

// opResult is what one operation reports back.
type opResult struct {
	op  *inFlightOp
	err error
}

// createLaunch is a spec's in-flight state; r.mu guards it.
type createLaunch struct {
	// ops holds the in-flight operations by slot.
	ops map[int]*inFlightOp
	// results are the completions not yet taken in by a pass.
	results []opResult
	// err is the last failed creates' error and hash the template they
	// were of: it stays the ReplicaFailure condition until a create of that
	// template succeeds or the template changes. failures counts failed
	// takes in a row, and retryAt is when creates may be launched again.
	err      error
	hash     string
	failures int
	retryAt  time.Time
}

// inFlight returns the planner's view of the spec's in-flight operations.
// It is taken before the Engine's list, so that an operation that
// completes in between is in one or the other (or both: the planner
// matches the container to its operation).
func (r *Reconciler) inFlight(st *specState) map[int]InFlight {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(st.launch.ops) == 0 {
		return nil
	}
	m := make(map[int]InFlight, len(st.launch.ops))
	for i, op := range st.launch.ops {
		m[i] = InFlight{Hash: op.hash, ID: op.id}
	}
	return m
}

// inFlightStandIns are containers standing for the in-flight replicas not
// in app (their create has not returned): status counts and name choices
// treat them as present and not ready.
func inFlightStandIns(spec string, inflight map[int]InFlight, app []Container) []Container {
	var out []Container
	for _, i := range sortedKeys(inflight) {
		op := inflight[i]
		seen := false
		for _, c := range app {
			if ReplicaIndex(c) == i && op.owns(c) {
				seen = true
				break
			}
		}
		if !seen {
			out = append(out, Container{ID: op.ID, Name: ReplicaName(spec, i), State: stateInFlight,
				Labels: map[string]string{v1alpha1.LabelSpec: spec, v1alpha1.LabelRole: v1alpha1.RoleApp,
					v1alpha1.LabelReplica: fmt.Sprint(i), v1alpha1.LabelTemplateHash: op.Hash}})
		}
	}
	return out
}

// createsHeld reports how long launches of hash must still wait after
// failed creates, 0 when they may go now.
func (r *Reconciler) createsHeld(st *specState, hash string, now time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := &st.launch
	if l.hash != hash || !now.Before(l.retryAt) {
		return 0
	}
	return l.retryAt.Sub(now)
}

// createFailure is the failed creates' error of template hash that still
// stands, nil if none: findStall's create error.
func (r *Reconciler) createFailure(st *specState, hash string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st.launch.hash != hash {
		return nil
	}
	return st.launch.err
}

// launch starts the plan's starts and creates as in-flight operations and
// returns at once. ctx bounds the operations (scalerd's life, not the
// pass's).
func (r *Reconciler) launch(ctx context.Context, spec *v1alpha1.ScaleSpec, st *specState, hash string, revision int64, plan Plan) {
	if len(plan.Create)+len(plan.Start) == 0 {
		return
	}
	name := spec.Metadata.Name
	b := &opBatch{hash: hash, replacing: plan.Replacing(), pending: plan.Blocked > 0 || len(plan.Held) > 0}
	var ops []*inFlightOp
	r.mu.Lock()
	if st.launch.ops == nil {
		st.launch.ops = map[int]*inFlightOp{}
	}
	for _, c := range plan.Start {
		op := &inFlightOp{index: ReplicaIndex(c), name: c.Name, hash: c.Labels[v1alpha1.LabelTemplateHash], id: c.ID, start: true, batch: b}
		st.launch.ops[op.index] = op
		ops = append(ops, op)
	}
	for _, i := range plan.Create {
		op := &inFlightOp{index: i, name: ReplicaName(name, i), hash: hash, batch: b}
		st.launch.ops[i] = op
		ops = append(ops, op)
	}
	b.left = len(ops)
	r.mu.Unlock()

	caps := r.Runtime.Capabilities()
	r.ops.Add(1)
	go func() {
		defer r.ops.Done()
		var wg sync.WaitGroup
		for _, op := range ops {
			select {
			case r.calls <- struct{}{}:
			case <-ctx.Done():
				r.complete(ctx, name, st, op, ctx.Err())
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := r.run(ctx, spec, st, revision, caps, op)
				<-r.calls
				r.complete(ctx, name, st, op, err)
			}()
		}
		wg.Wait()
	}()
}

// run is one operation's Engine calls.
func (r *Reconciler) run(ctx context.Context, spec *v1alpha1.ScaleSpec, st *specState, revision int64, caps Capabilities, op *inFlightOp) error {
	if op.start {
		if err := r.Runtime.StartContainer(ctx, op.id); err != nil {
			return fmt.Errorf("starting replica %s: %w", op.name, err)
		}
		return nil
	}
	cs, err := ReplicaContainerSpec(spec, op.hash, revision, op.index, caps)
	if err != nil {
		return err
	}
	id, err := r.Runtime.CreateContainer(ctx, cs)
	if err != nil {
		return fmt.Errorf("creating replica %s: %w", cs.Name, err)
	}
	r.mu.Lock()
	op.id = id
	r.mu.Unlock()
	if err := r.Runtime.StartContainer(ctx, id); err != nil {
		// A replica that cannot start is removed so that the next attempt
		// can take its name.
		_ = r.Runtime.RemoveContainer(ctx, id)
		return fmt.Errorf("starting replica %s: %w", cs.Name, err)
	}
	return nil
}

// complete records an operation's result and enqueues its spec. An
// operation cut short by scalerd's shutdown reports nothing: the next
// scalerd finds what the Engine has.
func (r *Reconciler) complete(ctx context.Context, name string, st *specState, op *inFlightOp, err error) {
	log := r.Log.WithValues("spec", name)
	r.mu.Lock()
	if st.launch.ops[op.index] == op {
		delete(st.launch.ops, op.index)
	}
	if ctx.Err() == nil {
		st.launch.results = append(st.launch.results, opResult{op: op, err: err})
	}
	r.mu.Unlock()
	switch {
	case ctx.Err() != nil:
		log.V(1).Info("operation ended by shutdown", "replica", op.name, "error", err)
		return
	case err == nil && op.start:
		log.Info("started replica", "action", "start", "replica", op.name)
	case err == nil:
		log.Info("created replica", "action", "create", "replica", op.name)
	}
	if r.Requeue != nil {
		r.Requeue(name)
	}
}

// collect takes in the results of the spec's operations that completed
// since the last pass: a name conflict marks the number as foreign (the
// plan of this pass creates the replica under another one), a create
// under a number frees it, failures give one CreateFailed event and hold
// creates for the create back-off, and each batch whose operations have
// all completed gives the created-replica events and metric. It returns
// the failures' error, which the pass returns (the controller logs it).
// It runs in the pass, so that only the spec's pass touches its state.
func (r *Reconciler) collect(name string, st *specState) error {
	r.mu.Lock()
	results := st.launch.results
	st.launch.results = nil
	r.mu.Unlock()
	if len(results) == 0 {
		return nil
	}
	now := r.Now()
	var errs []error
	conflicts, succeeded := false, false
	var done []*opBatch
	for _, res := range results {
		op, b := res.op, res.op.batch
		switch {
		case errors.Is(res.err, ErrConflict) && !op.start:
			conflicts = true
			b.failed = true
			r.noteForeignName(name, st, op.index, op.name, res.err, now)
		case res.err != nil:
			b.failed = true
			errs = append(errs, res.err)
		default:
			succeeded = true
			if !op.start {
				b.created = append(b.created, op.name)
				st.nameFree(op.index)
			}
		}
		if b.left--; b.left == 0 {
			done = append(done, b)
		}
	}
	if conflicts && r.Requeue != nil {
		r.Requeue(name) // the next pass creates them under other numbers
	}
	r.mu.Lock()
	othersInFlight := len(st.launch.ops) > 0
	r.mu.Unlock()
	for _, b := range done {
		sort.Strings(b.created)
		r.Metrics.replicasCreated(name, len(b.created))
		if scaledUp := r.reportReplacements(name, b.hash, b.created, b.replacing, b.pending || b.failed || othersInFlight); len(scaledUp) > 0 {
			r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventNormal, ReasonScaledUp, "created %d replica(s): %s", len(scaledUp), strings.Join(scaledUp, ", "))
		}
	}

	err := errors.Join(errs...)
	hash := results[len(results)-1].op.hash
	if err != nil {
		r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventWarning, ReasonCreateFailed, "%v", err)
		// Said at once, not by the next pass only: the create back-off
		// may hold that pass's creates for a while.
		r.setStall(name, st, createStall(err))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l := &st.launch
	switch {
	case err != nil:
		if l.hash != hash {
			l.failures = 0
		}
		l.err, l.hash = err, hash
		l.failures++
		d := createBackoffBase
		for i := 1; i < l.failures && d < createBackoffMax; i++ {
			d *= 2
		}
		l.retryAt = now.Add(min(d, createBackoffMax))
	case succeeded:
		l.err, l.failures, l.retryAt = nil, 0, time.Time{}
	}
	return err
}

// WaitInFlight returns once the creates and starts launched by reconcile
// passes have returned, as they do soon after scalerd's context ends.
func (r *Reconciler) WaitInFlight() { r.ops.Wait() }
