package controllers

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// previewMaxWaves bounds the simulated passes of a preview: enough for the
// whole of any rollout a person reads step by step, while a rollout of
// 1,000 replicas one at a time (2,000 passes, each planning all of them)
// would cost seconds of scalerd's CPU per dry run and print 2,000 lines.
const previewMaxWaves = 60

// Preview says, in words, the steps scalerd would take to bring what runs
// to spec (`scalectl diff`, `apply --dry-run=server`). It runs the same
// planner as a reconcile, pass after pass, on a copy of the observed
// replicas in which every replica created turns healthy and every removal
// completes, so that it shows a whole rollout, not only its first wave. It
// changes nothing. What the simulation cannot know is said as such: a new
// replica may never turn healthy (the rollout then stops, with the old
// replicas serving), and operations already in flight are not counted.
func (r *Reconciler) Preview(ctx context.Context, spec *v1alpha1.ScaleSpec) ([]string, error) {
	spec = spec.DeepCopy()
	spec.Default()
	name := spec.Metadata.Name
	all, err := r.observe(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	// A replica in the upstream serves, whatever the Engine's health says
	// (a start probe passed before Docker's first check; see startprobe.go).
	serving := map[string]bool{}
	if st, ok := r.Status(name); ok {
		for _, n := range st.Upstream {
			serving[n] = true
		}
	}
	app, lbs := splitSpec(all, name)
	for i, c := range app {
		if serving[c.Name] && c.State == StateRunning && c.Health == HealthStarting {
			app[i].Health = HealthHealthy
		}
	}
	hash := v1alpha1.TemplateHash(spec.Spec.Template)
	if r.History != nil {
		hash = v1alpha1.RestartHash(hash, r.History.RestartedAt(name))
	}
	replicas := *spec.Spec.Replicas
	var steps []string
	if a := spec.Spec.Autoscaling; a != nil {
		current, ok := r.autoscale.peek(name)
		if !ok {
			current = int32(len(app) - countFailed(app))
		}
		replicas = a.Clamp(current)
		steps = append(steps, fmt.Sprintf("autoscaled: the count is the autoscaler's (%d now, within %d..%d); the steps below are for %d", current, a.Min(), a.MaxReplicas, replicas))
	}
	steps = append(steps, r.previewLoadBalancer(spec, lbs)...)
	in := planInput(spec, replicas, hash, app)
	waiting := r.unreadyDependencies(spec)
	in.CreateBlocked = len(waiting) > 0
	waves, last := simulate(in, spec.Spec.LoadBalancer != nil)
	for i, w := range waves {
		for j, s := range w {
			prefix := "   "
			if j == 0 {
				prefix = fmt.Sprintf("%2d.", i+1)
			}
			steps = append(steps, prefix+" "+s)
		}
	}
	switch {
	case len(waves) == previewMaxWaves && !last.Converged():
		steps = append(steps, fmt.Sprintf("and so on, a pass at a time, until %d replicas of template %s run", replicas, short(hash)))
	case last.Blocked > 0:
		steps = append(steps, fmt.Sprintf("then wait for %s to be ready before creating %d more", strings.Join(waiting, ", "), last.Blocked))
	case len(waves) == 0:
		steps = append(steps, fmt.Sprintf("nothing to do for the replicas: %d of template %s run", replicas, short(hash)))
	}
	return steps, nil
}

// previewLoadBalancer says what happens to the load balancer.
func (r *Reconciler) previewLoadBalancer(spec *v1alpha1.ScaleSpec, lbs []Container) []string {
	name := spec.Metadata.Name
	var running *Container
	for i := range lbs {
		if lbs[i].Labels[v1alpha1.LabelRole] == v1alpha1.RoleLB && lbs[i].State == StateRunning {
			running = &lbs[i]
		}
	}
	lb := spec.Spec.LoadBalancer
	switch {
	case lb == nil && running != nil:
		return []string{fmt.Sprintf("remove the load balancer %s: the replicas are reached by their network alias", running.Name)}
	case lb == nil:
		return nil
	case running == nil:
		return []string{fmt.Sprintf("create the load balancer %s on %s; it serves 503 until a replica is healthy", lbName(name), lbAddress(lb))}
	case running.Labels[v1alpha1.LabelConfigHash] != v1alpha1.LoadBalancerHash(*lb):
		return []string{fmt.Sprintf("replace the load balancer %s (its image or address changes, to %s on %s): the new one is checked (image, nginx -t, port) before the old one stops", running.Name, lb.Image, lbAddress(lb))}
	}
	live, _, ok := r.Specs.Get(name)
	if !ok {
		return nil
	}
	live = live.DeepCopy()
	live.Default()
	before, _, _, err1 := renderConfig(live, nil)
	after, _, _, err2 := renderConfig(spec, nil)
	if err1 == nil && err2 == nil && !bytes.Equal(before, after) {
		return []string{fmt.Sprintf("reload nginx in %s: its config changes (algorithm, timeouts or snippet); checked with nginx -t first, the running config stays if it fails", running.Name)}
	}
	return nil
}

// simulate runs the planner pass after pass on in, applying each plan as
// if it succeeded at once, and returns each pass's steps in words and the
// last plan. It stops when a plan does nothing, or after previewMaxWaves
// passes (the plan returned is then the next pass's).
func simulate(in PlanInput, withLB bool) ([][]string, Plan) {
	var waves [][]string
	var p Plan
	for {
		p = PlanReplicas(in)
		if len(waves) == previewMaxWaves {
			break // p is what the next pass would do
		}
		var steps []string
		gone := map[string]bool{}
		for _, rm := range p.Remove {
			gone[rm.Container.ID] = true
			switch {
			case rm.Drain && withLB:
				steps = append(steps, fmt.Sprintf("drain %s (%s): out of the upstream, stopped once its requests end", rm.Container.Name, rm.Reason))
			case rm.Drain:
				steps = append(steps, fmt.Sprintf("stop %s (%s), with its grace period", rm.Container.Name, rm.Reason))
			default:
				steps = append(steps, fmt.Sprintf("remove %s (%s)", rm.Container.Name, rm.Reason))
			}
		}
		var next []Container
		for _, c := range in.Observed {
			if !gone[c.ID] {
				next = append(next, c)
			}
		}
		join := ", wait until healthy"
		if withLB {
			join += ", add to the upstream"
		}
		for i := range next {
			for _, s := range p.Start {
				if next[i].ID == s.ID {
					steps = append(steps, "start "+s.Name+join)
					next[i].State, next[i].Health = StateRunning, HealthHealthy
				}
			}
		}
		replacing := p.Replacing()
		for n, i := range p.Create {
			c := Container{
				ID: "preview-" + strconv.Itoa(i), Name: ReplicaName(in.Spec, i), State: StateRunning, Health: HealthHealthy,
				Labels: map[string]string{v1alpha1.LabelReplica: strconv.Itoa(i), v1alpha1.LabelTemplateHash: in.TemplateHash},
			}
			what := fmt.Sprintf("create %s (template %s)%s", c.Name, short(in.TemplateHash), join)
			if n < len(replacing) {
				what += ", replacing " + replacing[n]
			}
			steps = append(steps, what)
			next = append(next, c)
		}
		if len(steps) == 0 {
			break
		}
		waves = append(waves, steps)
		in.Observed = next
	}
	return waves, p
}

func short(hash string) string { return hash[:min(6, len(hash))] }

// peek returns the autoscaler's count for name, if it has one.
func (s *autoscaleStates) peek(name string) (int32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.specs[name]
	if !ok {
		return 0, false
	}
	return st.desired, true
}
