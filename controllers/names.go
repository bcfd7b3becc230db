package controllers

import (
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// Replica names taken by others. scalerd names replica N of spec web
// "web-N", but the Engine's container names are global: a container
// scalerd does not own (a user's `docker run --name web-1`, a leftover of
// another scalerd instance) makes creating web-1 fail with a conflict.
// scalerd never touches such a container, so retrying the same name would
// fail forever and leave the spec a replica short.
//
// The replica is created under the next free number instead: a replica's
// number carries no meaning (the upstream, scale-down by highest number
// first and rollouts work with any set of numbers), while a missing replica
// is missing capacity for as long as the user takes to read the event,
// maybe forever. The taken number is skipped for foreignRetryBase, doubling
// up to foreignRetryMax, and then tried again if the planner picks it
// (names return to 1..N once the foreign container is gone). Each conflict
// is reported with a Warning event naming the container and the fix.

const (
	foreignRetryBase = 30 * time.Second
	foreignRetryMax  = 10 * time.Minute
)

// foreignName is a replica number whose name a container scalerd does not
// own holds.
type foreignName struct {
	name     string
	failures int
	until    time.Time // the number is not tried before
}

// skipForeignNames maps the numbers of the replicas a plan creates that
// are known to be held by foreign containers to the lowest numbers that no
// replica of the spec (app, but for dead ones), no other create and no
// foreign container holds.
func (r *Reconciler) skipForeignNames(st *specState, create []int, app []Container, now time.Time) []int {
	if len(st.foreign) == 0 || len(create) == 0 {
		return create
	}
	taken := func(i int) bool {
		f := st.foreign[i]
		return f != nil && now.Before(f.until)
	}
	used := map[int]bool{}
	for _, c := range app {
		// A dead replica was removed before the creates, as the planner
		// counts on: its number is free again.
		if c.State != StateExited && c.State != StateDead {
			used[ReplicaIndex(c)] = true
		}
	}
	for _, i := range create {
		used[i] = true
	}
	out := make([]int, len(create))
	next := 1
	for k, i := range create {
		if !taken(i) {
			out[k] = i
			continue
		}
		for used[next] || taken(next) {
			next++
		}
		used[next] = true
		out[k] = next
	}
	return out
}

// noteForeignName records that creating replica index as name failed with
// err, a conflict: the name is someone else's.
func (r *Reconciler) noteForeignName(spec string, st *specState, index int, name string, err error, now time.Time) {
	f := st.foreign[index]
	if f == nil {
		f = &foreignName{name: name}
		if st.foreign == nil {
			st.foreign = map[int]*foreignName{}
		}
		st.foreign[index] = f
	}
	f.failures++
	wait := foreignRetryBase
	for i := 1; i < f.failures && wait < foreignRetryMax; i++ {
		wait *= 2
	}
	wait = min(wait, foreignRetryMax)
	f.until = now.Add(wait)
	r.Events.Eventf(spec, "replica/"+name, v1alpha1.EventWarning, ReasonNameTaken,
		"the name %s is taken by a container scalerd does not own (%v); replica %d is created under another number, and %s is tried again in %s. Fix: `docker rm %s` if it is a leftover, or rename the spec (metadata.name) so that its replicas get other names",
		name, err, index, name, wait, name)
}

// nameFree forgets a foreign holder of index once a replica got that name.
func (st *specState) nameFree(index int) {
	delete(st.foreign, index)
}
