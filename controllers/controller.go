package controllers

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/workqueue"
)

// eventRechecks are the delays after an event at which its spec is looked
// at again. The Engine can send an event before its container list shows
// the change (a "die" while the list still says running) for a few tens of
// milliseconds: a look soon after catches most, the later ones the rest.
var eventRechecks = []time.Duration{30 * time.Millisecond, 100 * time.Millisecond, 400 * time.Millisecond}

// Controller feeds spec names to the Reconciler. File changes, Docker
// events, API calls and a periodic resync only enqueue names: what to do
// is always decided afresh from the spec and the Engine.
type Controller struct {
	Reconciler   *Reconciler
	Queue        *workqueue.Queue
	Log          logr.Logger
	Workers      int
	ResyncPeriod time.Duration

	// synced is closed after the first full resync has been queued.
	synced   chan struct{}
	syncOnce sync.Once

	// busy holds when each worker's running reconcile began; scalerd's
	// watchdog (OldestReconcile) tells a wedged loop from a busy one.
	busyMu sync.Mutex
	busy   map[int]time.Time
}

// NewController returns a controller with a fresh work queue.
func NewController(r *Reconciler, log logr.Logger) *Controller {
	c := &Controller{
		Reconciler:   r,
		Queue:        workqueue.New(50*time.Millisecond, 30*time.Second),
		Log:          log,
		Workers:      4,
		ResyncPeriod: 30 * time.Second,
		synced:       make(chan struct{}),
		busy:         map[int]time.Time{},
	}
	if r.Requeue == nil {
		r.Requeue = c.Enqueue
	}
	return c
}

// Enqueue asks for spec name to be reconciled.
func (c *Controller) Enqueue(name string) { c.Queue.Add(name) }

// Synced is closed once the controller has queued its first full resync.
func (c *Controller) Synced() <-chan struct{} { return c.synced }

// Run works until ctx ends. It never stops containers on its way out:
// they are the desired state, not scalerd's children.
func (c *Controller) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2 + c.Workers)
	go func() { defer wg.Done(); c.watchEvents(ctx) }()
	go func() { defer wg.Done(); c.resyncLoop(ctx) }()
	for id := range c.Workers {
		go func() { defer wg.Done(); c.work(ctx, id) }()
	}
	<-ctx.Done()
	c.Queue.ShutDown()
	wg.Wait()
	c.Reconciler.WaitInFlight()
}

// OldestReconcile returns when the longest-running reconcile now in
// progress began, or the zero time when every worker waits for work. A
// worker stuck in one reconcile for long is a wedged loop even though the
// process answers.
func (c *Controller) OldestReconcile() time.Time {
	c.busyMu.Lock()
	defer c.busyMu.Unlock()
	var oldest time.Time
	for _, t := range c.busy {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	return oldest
}

func (c *Controller) markBusy(id int, busy bool) {
	c.busyMu.Lock()
	defer c.busyMu.Unlock()
	if busy {
		c.busy[id] = time.Now()
	} else {
		delete(c.busy, id)
	}
}

func (c *Controller) work(ctx context.Context, id int) {
	for {
		name, ok := c.Queue.Get()
		if !ok {
			return
		}
		c.markBusy(id, true)
		res, err := c.Reconciler.Reconcile(ctx, name)
		c.markBusy(id, false)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			c.Log.Error(err, "reconcile failed; retrying with back-off", "spec", name, "failures", c.Queue.Failures(name)+1)
			c.Queue.AddRateLimited(name)
		default:
			c.Queue.Forget(name)
			switch {
			case res.Requeue:
				c.Queue.Add(name) // runs again once Done below
			case res.RequeueAfter > 0:
				c.Queue.AddAfter(name, res.RequeueAfter)
			}
		}
		c.Queue.Done(name)
	}
}

// Resync queues every spec in force and every spec that still owns
// containers (so that leftovers of a deleted spec are removed).
func (c *Controller) Resync(ctx context.Context) {
	names := map[string]bool{}
	for _, n := range c.Reconciler.Specs.Names() {
		names[n] = true
	}
	if cs, err := c.Reconciler.Runtime.ListManaged(ctx); err == nil {
		for _, ctr := range cs {
			if n := ctr.Labels[v1alpha1.LabelSpec]; n != "" {
				names[n] = true
			}
		}
	} else if ctx.Err() == nil {
		c.Log.Error(err, "listing containers for resync")
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		c.Queue.Add(n)
	}
	c.syncOnce.Do(func() { close(c.synced) })
}

func (c *Controller) resyncLoop(ctx context.Context) {
	t := time.NewTicker(c.ResyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Resync(ctx)
		}
	}
}

// watchEvents turns container events into reconciles of their spec. A
// broken stream is re-opened with exponential back-off, and every (re)open
// is followed by a full resync, since events may have been missed.
func (c *Controller) watchEvents(ctx context.Context) {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		streamCtx, cancel := context.WithCancel(ctx)
		events, errs := c.Reconciler.Runtime.Events(streamCtx)
		if !first {
			c.Reconciler.Metrics.EventStreamReconnected()
		}
		first = false
		// Events may have been missed while the stream was down: from
		// here on, the list is the truth until new events come.
		c.Reconciler.seen.forget()
		c.Resync(ctx)
		opened := time.Now()
		err := c.drain(ctx, events, errs)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if time.Since(opened) > time.Minute {
			backoff = 100 * time.Millisecond // it worked for a while
		}
		c.Log.Error(err, "docker events stream broke; reconnecting", "backoff", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (c *Controller) drain(ctx context.Context, events <-chan Event, errs <-chan error) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errs:
			return err
		case ev, ok := <-events:
			if !ok {
				return <-errs
			}
			if name := ev.Labels[v1alpha1.LabelSpec]; name != "" {
				c.Reconciler.seen.record(ev, c.Reconciler.Now())
				c.Queue.Add(name)
				// Each recheck has a timer of its own: the queue's AddAfter
				// keeps the earliest pending time, so a recheck due for an
				// earlier event would come too soon for this one.
				for _, d := range eventRechecks {
					time.AfterFunc(d, func() { c.Queue.Add(name) })
				}
			}
		}
	}
}
