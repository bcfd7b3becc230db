package controllers

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// PlanInput is everything the planner needs to decide; it is plain data so
// that the planner can be tested without an engine.
type PlanInput struct {
	// Spec is the spec name; replica names are "<Spec>-<index>".
	Spec string
	// Replicas is the desired number of replicas (0 when the spec is gone).
	Replicas int32
	// TemplateHash identifies the desired template.
	TemplateHash string
	// MaxSurge and MaxUnavailable are already resolved against Replicas.
	MaxSurge, MaxUnavailable int32
	// Observed are the app containers of this spec, in any state.
	Observed []Container
	// Draining holds the IDs of containers already on their way out: they
	// have left the upstream and wait for in-flight requests to finish.
	Draining map[string]bool
	// CreateBlocked is set while no replica may be created at all: while
	// dependencies are not ready.
	CreateBlocked bool
	// Held maps the replica slots (indices) in crash-loop back-off to the
	// end of their hold. A held slot is never given a replica, and it
	// counts against what the plan creates: skipping to the next free slot
	// would walk a template that cannot run over ever new slots, each
	// with a fresh back-off (see crashloop.go).
	Held map[int]time.Time
	// InFlight maps the replica slots (indices) that an operation launched
	// by an earlier pass is creating and starting, or starting, to what it
	// knows of its replica (see inflight.go). Such a replica counts as
	// present and not ready: its slot is never given another, it counts
	// against the slow start's not-ready budget and against maxSurge, and
	// it is never removed while its operation runs (its completion enqueues
	// the spec, and the next pass decides about it from the Engine's list).
	InFlight map[int]InFlight
}

// InFlight is one replica whose create and start (or start) has not
// reported back yet.
type InFlight struct {
	// Hash is the template hash it is created with.
	Hash string
	// ID is its container's ID once known, "" while the create runs.
	ID string
}

// owns reports whether observed container c is the replica this operation
// creates or starts: the same ID, or, before the create returned, a
// container of the same slot and template (the Engine may list it before
// its create call returns).
func (op InFlight) owns(c Container) bool {
	if c.Labels[v1alpha1.LabelTemplateHash] != op.Hash {
		return false
	}
	return op.ID == c.ID || op.ID == ""
}

// stateInFlight is the state of the planner's stand-in for an in-flight
// replica: neither ready, nor failed, nor created (which would start it).
const stateInFlight = "in-flight"

// Removal is one replica to take away, and why.
type Removal struct {
	Container Container
	Reason    string
	// Drain is true for a replica that may hold in-flight requests: it
	// leaves the upstream, then waits for them, before it is stopped.
	Drain bool
}

// Plan is what one reconcile does to the replicas of one spec. Executing
// it is the reconciler's job; the plan itself holds no engine state.
type Plan struct {
	// Upstream are the replicas nginx should send traffic to: ready ones
	// that are not being removed, sorted by index.
	Upstream []Container
	// Remove lists replicas to take away.
	Remove []Removal
	// Start lists replicas created but never started (scalerd stopped
	// between the two calls).
	Start []Container
	// Create lists the indices of new replicas with the desired template.
	Create []int
	// Blocked counts replicas that would be created now but for
	// CreateBlocked.
	Blocked int
	// Held lists the slots that would get a replica now but for their
	// crash-loop back-off, lowest first.
	Held []int
	// Pending counts replicas left to later passes by the slow start (see
	// createBatch): they are created as those created before turn ready.
	Pending int
	// Unhealthy lists the unhealthy replicas kept, out of the upstream,
	// until enough replicas are ready without them.
	Unhealthy []Container
	// InFlight lists the slots whose create or start still runs, lowest
	// first: the plan waits for them.
	InFlight []int
}

// Replacing names the unhealthy replicas that the first creates of the
// plan replace, in order: they keep their names while they stay, so their
// replacements take new ones.
func (p Plan) Replacing() []string {
	var names []string
	for _, c := range p.Unhealthy[:min(len(p.Unhealthy), len(p.Create))] {
		names = append(names, c.Name)
	}
	return names
}

// Converged reports whether the plan has nothing left to do.
func (p Plan) Converged() bool {
	return len(p.Remove) == 0 && len(p.Start) == 0 && len(p.Create) == 0 && p.Blocked == 0 && len(p.Held) == 0 && p.Pending == 0 && len(p.Unhealthy) == 0 && len(p.InFlight) == 0
}

// String prints the plan one step a line, for logs and golden tests.
func (p Plan) String() string {
	var b strings.Builder
	for _, r := range p.Remove {
		verb := "remove"
		if r.Drain {
			verb = "drain"
		}
		fmt.Fprintf(&b, "%s %s (%s)\n", verb, r.Container.Name, r.Reason)
	}
	for _, c := range p.Start {
		fmt.Fprintf(&b, "start %s\n", c.Name)
	}
	for _, i := range p.InFlight {
		fmt.Fprintf(&b, "wait for %d (in flight)\n", i)
	}
	for _, c := range p.Unhealthy {
		fmt.Fprintf(&b, "keep %s (unhealthy) until replaced\n", c.Name)
	}
	replacing := p.Replacing()
	for n, i := range p.Create {
		if n < len(replacing) {
			fmt.Fprintf(&b, "create %d (replaces %s)\n", i, replacing[n])
			continue
		}
		fmt.Fprintf(&b, "create %d\n", i)
	}
	if p.Blocked > 0 {
		fmt.Fprintf(&b, "hold %d until allowed to create\n", p.Blocked)
	}
	for _, i := range p.Held {
		fmt.Fprintf(&b, "hold slot %d (back-off)\n", i)
	}
	if p.Pending > 0 {
		fmt.Fprintf(&b, "leave %d to a later pass (slow start)\n", p.Pending)
	}
	names := make([]string, len(p.Upstream))
	for i, c := range p.Upstream {
		names[i] = c.Name
	}
	fmt.Fprintf(&b, "upstream [%s]\n", strings.Join(names, " "))
	return b.String()
}

// IsReady reports whether a replica may receive traffic: running, and
// healthy if it has a health check.
func IsReady(c Container) bool {
	return c.State == StateRunning && (c.Health == HealthHealthy || c.Health == HealthNone)
}

// IsFailed reports whether a replica has to be replaced: it exited, died,
// or its health check reports it unhealthy.
func IsFailed(c Container) bool {
	switch c.State {
	case StateExited, StateDead:
		return true
	}
	return IsUnhealthy(c)
}

// IsUnhealthy reports whether a replica runs but fails its health check.
// Such a replica is out of the upstream, but unlike a dead one it is not
// removed at once: it stays until its replacement is ready, and rejoins
// the upstream if it passes a probe first. A probe that timed out because
// the machine was saturated thus costs no capacity; removing such replicas
// at once had emptied the upstream under load, with crash-loop back-off
// then holding the replacements (see BENCHMARKS.md).
func IsUnhealthy(c Container) bool {
	return c.State == StateRunning && c.Health == HealthUnhealthy
}

// ReplicaIndex reads the replica number from the container's label.
func ReplicaIndex(c Container) int {
	n, err := strconv.Atoi(c.Labels[v1alpha1.LabelReplica])
	if err != nil {
		return 0
	}
	return n
}

// PlanReplicas decides, from the desired state and the observed
// containers, which replicas to create, start, drain and remove, and which
// belong in the upstream. It follows the Kubernetes deployment controller's
// arithmetic: at most Replicas+MaxSurge replicas exist at once, and at least
// Replicas-MaxUnavailable stay ready while outdated ones are replaced.
// Unhealthy replicas are outside that count: each is replaced at once, and
// removed once enough replicas are ready without it.
func PlanReplicas(in PlanInput) Plan {
	var p Plan
	var current, outdated []Container // live: not failed, not draining
	var unhealthy []Container
	used := map[int]bool{}
	draining := 0
	inFlight := func(c Container) bool {
		op, ok := in.InFlight[ReplicaIndex(c)]
		return ok && op.owns(c)
	}
	for _, c := range sortedByIndex(in.Observed) {
		if inFlight(c) {
			continue // its stand-in below counts it
		}
		isCurrent := c.Labels[v1alpha1.LabelTemplateHash] == in.TemplateHash
		switch {
		case in.Draining[c.ID]:
			p.Remove = append(p.Remove, Removal{c, "draining", true})
			used[ReplicaIndex(c)] = true
			draining++
			continue
		case IsUnhealthy(c):
			used[ReplicaIndex(c)] = true
			unhealthy = append(unhealthy, c)
			continue
		case IsFailed(c):
			// A failed replica's index is free again: it is removed before
			// any replacement is created.
			p.Remove = append(p.Remove, Removal{c, failureReason(c), false})
			continue
		}
		if c.State == StateCreated && !isCurrent {
			p.Remove = append(p.Remove, Removal{c, "outdated", false})
			continue
		}
		used[ReplicaIndex(c)] = true
		switch {
		case c.State == StateCreated:
			p.Start = append(p.Start, c)
			current = append(current, c)
		case isCurrent:
			current = append(current, c)
		default:
			outdated = append(outdated, c)
		}
	}

	// In-flight replicas count as present and not ready, under the
	// template they are created with.
	for _, i := range sortedKeys(in.InFlight) {
		op := in.InFlight[i]
		used[i] = true
		p.InFlight = append(p.InFlight, i)
		stand := Container{Name: ReplicaName(in.Spec, i), State: stateInFlight,
			Labels: map[string]string{v1alpha1.LabelReplica: strconv.Itoa(i), v1alpha1.LabelTemplateHash: op.Hash}}
		if op.Hash == in.TemplateHash {
			current = append(current, stand)
		} else {
			outdated = append(outdated, stand)
		}
	}
	current, outdated = sortedByIndex(current), sortedByIndex(outdated)

	want := int(in.Replicas)
	// Surplus replicas of the current template go first from the top. An
	// in-flight one among them is left to the pass its completion brings:
	// it cannot be removed while its create runs.
	if len(current) > want {
		surplus := current[want:]
		current = current[:want]
		for i := len(surplus) - 1; i >= 0; i-- {
			if surplus[i].State != stateInFlight {
				p.remove(surplus[i], "scale-down")
			}
		}
	}

	create := want - len(current)
	outdatedReadyRemoved := 0
	if len(outdated) > 0 {
		surge, unavailable := int(in.MaxSurge), int(in.MaxUnavailable)
		if surge == 0 && unavailable == 0 {
			unavailable = 1 // as Kubernetes does, so a rollout can progress
		}
		total := len(current) + len(outdated) + draining
		create = min(create, want+surge-total)

		// Outdated replicas go while enough stay available: not-ready ones
		// first (they serve nothing), then the highest numbers.
		// In-flight outdated replicas are not removable yet, so they are
		// not part of the budget either.
		budget := countReady(current) + len(outdated) - countInFlight(outdated) - (want - unavailable)
		sort.SliceStable(outdated, func(i, j int) bool {
			ri, rj := IsReady(outdated[i]), IsReady(outdated[j])
			if ri != rj {
				return !ri
			}
			return ReplicaIndex(outdated[i]) > ReplicaIndex(outdated[j])
		})
		for _, c := range outdated {
			if budget <= 0 {
				break
			}
			if c.State == stateInFlight {
				continue // removed once its create has returned
			}
			p.remove(c, "outdated")
			budget--
			if IsReady(c) {
				outdatedReadyRemoved++
			}
		}
	}

	// An unhealthy replica is removed once the replicas that stay serve
	// Replicas without it; until then the lowest-numbered stay, as they
	// may recover sooner than a replacement turns ready.
	keep := max(0, want-countReady(current)-countReady(outdated)+outdatedReadyRemoved)
	for i, c := range unhealthy {
		if i < keep {
			p.Unhealthy = append(p.Unhealthy, c)
		} else {
			p.Remove = append(p.Remove, Removal{c, failureReason(c), false})
		}
	}

	if create > 0 {
		if in.CreateBlocked {
			p.Blocked = create
		} else {
			ready := countReady(current) + countReady(outdated)
			notReady := len(current) + len(outdated) + len(unhealthy) - ready
			if batch := createBatch(ready, notReady); create > batch {
				p.Pending, create = create-batch, batch
			}
			for i := 1; len(p.Create)+len(p.Held) < create; i++ {
				switch _, held := in.Held[i]; {
				case used[i]:
				case held:
					p.Held = append(p.Held, i)
				default:
					p.Create = append(p.Create, i)
				}
			}
		}
	}

	removing := map[string]bool{}
	for _, r := range p.Remove {
		removing[r.Container.ID] = true
	}
	for _, c := range sortedByIndex(in.Observed) {
		if IsReady(c) && !removing[c.ID] && !inFlight(c) {
			p.Upstream = append(p.Upstream, c)
		}
	}
	return p
}

// minCreateBatch is how many replicas may be starting at once however few
// are ready.
const minCreateBatch = 4

// createBatch bounds the replicas one reconcile pass creates, given how
// many of the spec's replicas are ready and how many exist but are not
// (in flight, starting, created, unhealthy): at most
// max(minCreateBatch, 2*ready) may be not ready at once, so that a
// scale-up grows with the replicas that turned healthy, a slow start like
// that of Kubernetes' ReplicaSet controller. Since creates run in flight
// (inflight.go), this is no longer a batch that a pass waits for: each
// replica that turns ready brings a pass that may create up to two more,
// and each joins the upstream when it is healthy. (With all 50 of a
// 0 → 50 in one waiting pass, none served until the last had started: 8.4
// to 8.6 s after the save; see BENCHMARKS.md.)
//
// Counting only ready replicas, and the not-ready ones against the batch,
// is what makes a template that cannot run fail on minCreateBatch
// containers: an earlier version doubled with the replicas that merely
// existed, and a template that started but never turned healthy grew 4, 8,
// 24, 72, 216, 648 with none ready. Now such a template holds 4 replicas,
// unhealthy ones kept until replaced, and creates no more until one of them
// is ready or gone.
func createBatch(ready, notReady int) int {
	return max(0, max(minCreateBatch, 2*ready)-notReady)
}

// remove schedules a live replica for removal. Only a ready replica can be
// in the upstream, so only a ready one is drained.
func (p *Plan) remove(c Container, reason string) {
	p.Remove = append(p.Remove, Removal{c, reason, IsReady(c)})
}

func failureReason(c Container) string {
	if c.State == StateRunning {
		return "unhealthy"
	}
	return c.State
}

func countInFlight(cs []Container) int {
	n := 0
	for _, c := range cs {
		if c.State == stateInFlight {
			n++
		}
	}
	return n
}

func countReady(cs []Container) int {
	n := 0
	for _, c := range cs {
		if IsReady(c) {
			n++
		}
	}
	return n
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// sortedByIndex returns cs ordered by replica index, stable. It sorts the
// parsed indices and copies each container once: sorting the containers
// themselves, with the label parsed at every comparison, was 60% of a
// pass over 1,000 replicas (BenchmarkReconcilePass).
func sortedByIndex(cs []Container) []Container {
	type keyed struct{ pos, index int }
	keys := make([]keyed, len(cs))
	for i, c := range cs {
		keys[i] = keyed{i, ReplicaIndex(c)}
	}
	slices.SortStableFunc(keys, func(a, b keyed) int { return cmp.Compare(a.index, b.index) })
	out := make([]Container, len(cs))
	for i, k := range keys {
		out[i] = cs[k.pos]
	}
	return out
}
