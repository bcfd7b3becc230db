package controllers

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

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
	// CreateBlocked is set while new replicas may not be created: during
	// crash-loop back-off, or while dependencies are not ready.
	CreateBlocked bool
}

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
	// Blocked counts replicas that would be created now but for back-off.
	Blocked int
	// Pending counts replicas left to later passes by the slow start (see
	// createBatch): they are created once those of Create have started.
	Pending int
	// Unhealthy lists the unhealthy replicas kept, out of the upstream,
	// until enough replicas are ready without them.
	Unhealthy []Container
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
	return len(p.Remove) == 0 && len(p.Start) == 0 && len(p.Create) == 0 && p.Blocked == 0 && p.Pending == 0 && len(p.Unhealthy) == 0
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
	for _, c := range sortedByIndex(in.Observed) {
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

	want := int(in.Replicas)
	// Surplus replicas of the current template go first from the top.
	if len(current) > want {
		surplus := current[want:]
		current = current[:want]
		for i := len(surplus) - 1; i >= 0; i-- {
			p.remove(surplus[i], "scale-down")
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
		budget := countReady(current) + len(outdated) - (want - unavailable)
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
			if batch := createBatch(len(current) + len(outdated) + len(unhealthy)); create > batch {
				p.Pending, create = create-batch, batch
			}
			for i := 1; len(p.Create) < create; i++ {
				if !used[i] {
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
		if IsReady(c) && !removing[c.ID] {
			p.Upstream = append(p.Upstream, c)
		}
	}
	return p
}

// minCreateBatch is how many replicas a pass may create however few exist.
const minCreateBatch = 4

// createBatch bounds the replicas one reconcile pass creates, given how
// many of the spec's replicas already exist: at least minCreateBatch, else
// twice as many as exist, so that a scale-up grows pass by pass (0 → 50
// goes 4, 8, 24, 14), a slow start like that of Kubernetes' ReplicaSet
// controller. A pass that returns between batches lets the replicas
// started so far be probed and join the upstream while the rest are
// created: with all 50 in one pass, none served until the last had
// started (8.4 to 8.6 s after the save, against 5.9 to 6.0 s; all 50
// served in about the same time either way, see BENCHMARKS.md). A
// template that cannot run also fails on a few containers, not on all of
// them. Batches that only doubled the total (4, 4, 8, 16, 18) let the
// first replicas serve sooner still (3.0 s) but took 0.3 to 0.6 s longer
// to bring all 50: each pass waits for the slowest start of its batch.
func createBatch(existing int) int {
	return max(minCreateBatch, 2*existing)
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

func countReady(cs []Container) int {
	n := 0
	for _, c := range cs {
		if IsReady(c) {
			n++
		}
	}
	return n
}

func sortedByIndex(cs []Container) []Container {
	out := append([]Container(nil), cs...)
	sort.SliceStable(out, func(i, j int) bool { return ReplicaIndex(out[i]) < ReplicaIndex(out[j]) })
	return out
}
