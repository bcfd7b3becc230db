package controllers

import (
	"strconv"
	"strings"
	"testing"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// replica builds an observed app container of spec "web". state is one of
// ready, starting, unhealthy, exited, created.
func replica(index int, hash, state string) Container {
	c := Container{
		ID:   "id-" + strconv.Itoa(index) + "-" + hash,
		Name: "web-" + strconv.Itoa(index),
		Labels: map[string]string{
			v1alpha1.LabelSpec:         "web",
			v1alpha1.LabelRole:         v1alpha1.RoleApp,
			v1alpha1.LabelReplica:      strconv.Itoa(index),
			v1alpha1.LabelTemplateHash: hash,
		},
		State: StateRunning,
	}
	switch state {
	case "ready":
		c.Health = HealthHealthy
	case "starting":
		c.Health = HealthStarting
	case "unhealthy":
		c.Health = HealthUnhealthy
	case "exited":
		c.State, c.Health = StateExited, HealthUnhealthy
	case "created":
		c.State, c.Health = StateCreated, HealthStarting
	default:
		panic("unknown state " + state)
	}
	return c
}

func TestPlanReplicas(t *testing.T) {
	tests := []struct {
		name     string
		in       PlanInput
		draining []string
		want     string
	}{{
		name: "nothing observed creates all",
		in:   PlanInput{Replicas: 3, TemplateHash: "a"},
		want: "create 1\ncreate 2\ncreate 3\nupstream []\n",
	}, {
		name: "a large scale-up from nothing starts with a small batch",
		in:   PlanInput{Replicas: 10, TemplateHash: "a"},
		want: "create 1\ncreate 2\ncreate 3\ncreate 4\nleave 6 to a later pass (slow start)\nupstream []\n",
	}, {
		name: "the slow start keeps at most max(4, twice the ready) replicas not ready",
		in: PlanInput{Replicas: 12, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "starting"), replica(3, "a", "created")}},
		want: "start web-3\ncreate 4\ncreate 5\nleave 7 to a later pass (slow start)\nupstream [web-1]\n",
	}, {
		name: "none ready and 4 starting: nothing more until one is ready",
		in: PlanInput{Replicas: 200, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "starting"), replica(2, "a", "starting"), replica(3, "a", "starting"), replica(4, "a", "starting")}},
		want: "leave 196 to a later pass (slow start)\nupstream []\n",
	}, {
		name: "a template that never turns healthy holds 4 unhealthy replicas and creates no more",
		in: PlanInput{Replicas: 200, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "unhealthy"), replica(2, "a", "unhealthy"), replica(3, "a", "unhealthy"), replica(4, "a", "unhealthy")}},
		want: "keep web-1 (unhealthy) until replaced\nkeep web-2 (unhealthy) until replaced\nkeep web-3 (unhealthy) until replaced\nkeep web-4 (unhealthy) until replaced\n" +
			"leave 200 to a later pass (slow start)\nupstream []\n",
	}, {
		name: "ready replicas let the batch double",
		in: PlanInput{Replicas: 20, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "ready"), replica(3, "a", "ready"), replica(4, "a", "ready")}},
		want: "create 5\ncreate 6\ncreate 7\ncreate 8\ncreate 9\ncreate 10\ncreate 11\ncreate 12\nleave 8 to a later pass (slow start)\nupstream [web-1 web-2 web-3 web-4]\n",
	}, {
		name: "an unhealthy replica counts among those not ready",
		in: PlanInput{Replicas: 8, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "unhealthy")}},
		want: "keep web-2 (unhealthy) until replaced\ncreate 3 (replaces web-2)\ncreate 4\ncreate 5\nleave 4 to a later pass (slow start)\nupstream [web-1]\n",
	}, {
		name: "the last batch creates what is left",
		in: PlanInput{Replicas: 10, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "ready"), replica(3, "a", "ready"), replica(4, "a", "ready")}},
		want: "create 5\ncreate 6\ncreate 7\ncreate 8\ncreate 9\ncreate 10\nupstream [web-1 web-2 web-3 web-4]\n",
	}, {
		name: "converged does nothing",
		in: PlanInput{Replicas: 2, TemplateHash: "a", Observed: []Container{
			replica(2, "a", "ready"), replica(1, "a", "ready")}},
		want: "upstream [web-1 web-2]\n",
	}, {
		name: "starting replicas stay out of the upstream",
		in: PlanInput{Replicas: 2, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "starting")}},
		want: "upstream [web-1]\n",
	}, {
		name: "scale up fills the lowest free numbers",
		in: PlanInput{Replicas: 4, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "ready"), replica(3, "a", "ready")}},
		want: "create 2\ncreate 4\nupstream [web-1 web-3]\n",
	}, {
		name: "scale down drains the highest numbers",
		in: PlanInput{Replicas: 1, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "ready"), replica(3, "a", "starting")}},
		want: "remove web-3 (scale-down)\ndrain web-2 (scale-down)\nupstream [web-1]\n",
	}, {
		name: "scale to zero drains everything",
		in: PlanInput{Replicas: 0, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "ready")}},
		want: "drain web-1 (scale-down)\nupstream []\n",
	}, {
		name: "crashed replica leaves at once and is replaced under its own number",
		in: PlanInput{Replicas: 3, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "exited"), replica(3, "a", "ready")}},
		want: "remove web-2 (exited)\ncreate 2\nupstream [web-1 web-3]\n",
	}, {
		name: "unhealthy replica leaves the upstream and is replaced under a new number",
		in: PlanInput{Replicas: 2, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "unhealthy"), replica(2, "a", "ready")}},
		want: "keep web-1 (unhealthy) until replaced\ncreate 3 (replaces web-1)\nupstream [web-2]\n",
	}, {
		name: "unhealthy replica stays while its replacement starts",
		in: PlanInput{Replicas: 2, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "unhealthy"), replica(2, "a", "ready"), replica(3, "a", "starting")}},
		want: "keep web-1 (unhealthy) until replaced\nupstream [web-2]\n",
	}, {
		name: "unhealthy replica goes once its replacement is ready",
		in: PlanInput{Replicas: 2, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "unhealthy"), replica(2, "a", "ready"), replica(3, "a", "ready")}},
		want: "remove web-1 (unhealthy)\nupstream [web-2 web-3]\n",
	}, {
		name: "a recovered replica rejoins and its unready replacement goes",
		in: PlanInput{Replicas: 2, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "ready"), replica(3, "a", "starting")}},
		want: "remove web-3 (scale-down)\nupstream [web-1 web-2]\n",
	}, {
		name: "back-off holds the replacement and keeps every unhealthy replica",
		in: PlanInput{Replicas: 3, TemplateHash: "a", CreateBlocked: true, Observed: []Container{
			replica(1, "a", "unhealthy"), replica(2, "a", "unhealthy"), replica(3, "a", "unhealthy")}},
		want: "keep web-1 (unhealthy) until replaced\nkeep web-2 (unhealthy) until replaced\n" +
			"keep web-3 (unhealthy) until replaced\nhold 3 until allowed to create\nupstream []\n",
	}, {
		name: "unhealthy replicas beyond the missing ones go, the highest numbers first",
		in: PlanInput{Replicas: 2, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "unhealthy"), replica(2, "a", "ready"), replica(3, "a", "unhealthy"), replica(4, "a", "starting")}},
		want: "remove web-3 (unhealthy)\nkeep web-1 (unhealthy) until replaced\nupstream [web-2]\n",
	}, {
		name: "scale to zero removes unhealthy replicas",
		in: PlanInput{Replicas: 0, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "unhealthy"), replica(2, "a", "ready")}},
		want: "drain web-2 (scale-down)\nremove web-1 (unhealthy)\nupstream []\n",
	}, {
		name: "an unhealthy old replica in a rollout stays until the new ones serve",
		in: PlanInput{Replicas: 2, TemplateHash: "b", MaxSurge: 1, Observed: []Container{
			replica(1, "a", "unhealthy"), replica(2, "a", "ready")}},
		want: "keep web-1 (unhealthy) until replaced\ncreate 3 (replaces web-1)\ncreate 4\nupstream [web-2]\n",
	}, {
		name: "back-off holds the replacement",
		in: PlanInput{Replicas: 2, TemplateHash: "a", CreateBlocked: true, Observed: []Container{
			replica(1, "a", "exited"), replica(2, "a", "ready")}},
		want: "remove web-1 (exited)\nhold 1 until allowed to create\nupstream [web-2]\n",
	}, {
		name: "created but not started is started",
		in: PlanInput{Replicas: 1, TemplateHash: "a", Observed: []Container{
			replica(1, "a", "created")}},
		want: "start web-1\nupstream []\n",
	}, {
		name: "created with an old template is removed",
		in: PlanInput{Replicas: 1, TemplateHash: "b", MaxSurge: 1, Observed: []Container{
			replica(1, "a", "created")}},
		want: "remove web-1 (outdated)\ncreate 1\nupstream []\n",
	}, {
		name: "rollout starts with one surge replica and keeps all old ones",
		in: PlanInput{Replicas: 3, TemplateHash: "b", MaxSurge: 1, Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "ready"), replica(3, "a", "ready")}},
		want: "create 4\nupstream [web-1 web-2 web-3]\n",
	}, {
		name: "rollout waits while the surge replica starts",
		in: PlanInput{Replicas: 3, TemplateHash: "b", MaxSurge: 1, Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "ready"), replica(3, "a", "ready"), replica(4, "b", "starting")}},
		want: "upstream [web-1 web-2 web-3]\n",
	}, {
		name: "rollout drains one old replica once a new one is ready",
		in: PlanInput{Replicas: 3, TemplateHash: "b", MaxSurge: 1, Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "ready"), replica(3, "a", "ready"), replica(4, "b", "ready")}},
		want: "drain web-3 (outdated)\nupstream [web-1 web-2 web-4]\n",
	}, {
		name: "rollout counts draining replicas against the surge",
		in: PlanInput{Replicas: 3, TemplateHash: "b", MaxSurge: 1, Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "ready"), replica(3, "a", "ready"), replica(4, "b", "ready")}},
		draining: []string{"web-3"},
		want:     "drain web-3 (draining)\nupstream [web-1 web-2 web-4]\n",
	}, {
		name: "rollout removes not-ready old replicas first",
		in: PlanInput{Replicas: 3, TemplateHash: "b", MaxSurge: 1, Observed: []Container{
			replica(1, "a", "starting"), replica(2, "a", "ready"), replica(3, "a", "ready"), replica(4, "b", "ready")}},
		want: "remove web-1 (outdated)\nupstream [web-2 web-3 web-4]\n",
	}, {
		name: "maxUnavailable lets a rollout drain before it surges",
		in: PlanInput{Replicas: 2, TemplateHash: "b", MaxUnavailable: 1, Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "ready")}},
		want: "drain web-2 (outdated)\nupstream [web-1]\n",
	}, {
		name: "a never-ready new template stalls at the surge and keeps serving",
		in: PlanInput{Replicas: 2, TemplateHash: "b", MaxSurge: 1, Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "ready"), replica(3, "b", "starting")}},
		want: "upstream [web-1 web-2]\n",
	}, {
		name: "scaling down during a rollout removes outdated replicas first",
		in: PlanInput{Replicas: 2, TemplateHash: "b", MaxSurge: 1, Observed: []Container{
			replica(1, "a", "ready"), replica(2, "a", "ready"), replica(3, "a", "ready"), replica(4, "a", "ready"), replica(5, "b", "ready")}},
		want: "drain web-4 (outdated)\ndrain web-3 (outdated)\ndrain web-2 (outdated)\nupstream [web-1 web-5]\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Spec = "web"
			tt.in.Draining = map[string]bool{}
			for _, name := range tt.draining {
				for _, c := range tt.in.Observed {
					if c.Name == name {
						tt.in.Draining[c.ID] = true
					}
				}
			}
			got := PlanReplicas(tt.in).String()
			if got != tt.want {
				t.Errorf("plan:\n%s\nwant:\n%s", indent(got), indent(tt.want))
			}
		})
	}
}

func TestPlanConverged(t *testing.T) {
	in := PlanInput{Spec: "web", Replicas: 1, TemplateHash: "a", Observed: []Container{replica(1, "a", "ready")}}
	if !PlanReplicas(in).Converged() {
		t.Error("one ready replica of the current template should be converged")
	}
	in.Replicas = 2
	if PlanReplicas(in).Converged() {
		t.Error("a missing replica should not be converged")
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ")
}

// TestPlanReplicasWithInFlight: replicas whose create (or start) an
// earlier pass launched and that have not reported back count as present
// and not ready, and are never removed while in flight.
func TestPlanReplicasWithInFlight(t *testing.T) {
	a := func(idx ...int) map[int]InFlight {
		m := map[int]InFlight{}
		for _, i := range idx {
			m[i] = InFlight{Hash: "a"}
		}
		return m
	}
	tests := []struct {
		name string
		in   PlanInput
		want string
	}{{
		name: "in-flight creates are not created again",
		in:   PlanInput{Replicas: 3, TemplateHash: "a", InFlight: a(1, 2, 3)},
		want: "wait for 1 (in flight)\nwait for 2 (in flight)\nwait for 3 (in flight)\nupstream []\n",
	}, {
		name: "a second pass creates only what is missing beside those in flight",
		in:   PlanInput{Replicas: 3, TemplateHash: "a", InFlight: a(1)},
		want: "wait for 1 (in flight)\ncreate 2\ncreate 3\nupstream []\n",
	}, {
		name: "an in-flight replica the Engine already lists is neither started nor counted twice",
		in: PlanInput{Replicas: 2, TemplateHash: "a", InFlight: map[int]InFlight{1: {Hash: "a", ID: "id-1-a"}},
			Observed: []Container{replica(1, "a", "created")}},
		want: "wait for 1 (in flight)\ncreate 2\nupstream []\n",
	}, {
		name: "an in-flight replica that already runs stays out of the upstream until it reports back",
		in: PlanInput{Replicas: 1, TemplateHash: "a", InFlight: a(1),
			Observed: []Container{replica(1, "a", "ready")}},
		want: "wait for 1 (in flight)\nupstream []\n",
	}, {
		name: "the slow start counts in-flight replicas as not ready",
		in: PlanInput{Replicas: 10, TemplateHash: "a", InFlight: a(2, 3, 4),
			Observed: []Container{replica(1, "a", "ready")}},
		want: "wait for 2 (in flight)\nwait for 3 (in flight)\nwait for 4 (in flight)\ncreate 5\nleave 5 to a later pass (slow start)\nupstream [web-1]\n",
	}, {
		name: "with 4 in flight and none ready nothing more is created",
		in:   PlanInput{Replicas: 50, TemplateHash: "a", InFlight: a(1, 2, 3, 4)},
		want: "wait for 1 (in flight)\nwait for 2 (in flight)\nwait for 3 (in flight)\nwait for 4 (in flight)\nleave 46 to a later pass (slow start)\nupstream []\n",
	}, {
		name: "a replica that turned ready lets the next one be created while others are in flight",
		in: PlanInput{Replicas: 50, TemplateHash: "a", InFlight: a(2, 3, 4),
			Observed: []Container{replica(1, "a", "ready"), replica(5, "a", "starting")}},
		want: "wait for 2 (in flight)\nwait for 3 (in flight)\nwait for 4 (in flight)\nleave 45 to a later pass (slow start)\nupstream [web-1]\n",
	}, {
		name: "a scale-down leaves an in-flight surplus replica to the pass its completion brings",
		in: PlanInput{Replicas: 1, TemplateHash: "a", InFlight: a(3),
			Observed: []Container{replica(1, "a", "ready"), replica(2, "a", "ready")}},
		want: "drain web-2 (scale-down)\nwait for 3 (in flight)\nupstream [web-1]\n",
	}, {
		name: "a deleted spec (0 replicas) removes what runs and waits for what is in flight",
		in: PlanInput{Replicas: 0, TemplateHash: "a", InFlight: a(2),
			Observed: []Container{replica(1, "a", "ready")}},
		want: "drain web-1 (scale-down)\nwait for 2 (in flight)\nupstream []\n",
	}, {
		name: "a rollout counts an in-flight old-template replica against the surge and does not remove it",
		in: PlanInput{Replicas: 2, TemplateHash: "b", MaxSurge: 1, InFlight: a(3),
			Observed: []Container{replica(1, "a", "ready"), replica(2, "a", "ready")}},
		want: "wait for 3 (in flight)\nupstream [web-1 web-2]\n",
	}, {
		name: "a rollout surges beside an in-flight new-template replica",
		in: PlanInput{Replicas: 2, TemplateHash: "b", MaxSurge: 2, InFlight: map[int]InFlight{3: {Hash: "b"}},
			Observed: []Container{replica(1, "a", "ready"), replica(2, "a", "ready")}},
		want: "wait for 3 (in flight)\ncreate 4\nupstream [web-1 web-2]\n",
	}, {
		name: "a dead container of the slot is not the in-flight one once its ID is known",
		in: PlanInput{Replicas: 2, TemplateHash: "a", InFlight: map[int]InFlight{2: {Hash: "a", ID: "new"}},
			Observed: []Container{replica(1, "a", "ready"), replica(2, "a", "exited")}},
		want: "remove web-2 (exited)\nwait for 2 (in flight)\nupstream [web-1]\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Spec = "web"
			got := PlanReplicas(tt.in).String()
			if got != tt.want {
				t.Errorf("plan:\n%s\nwant:\n%s", indent(got), indent(tt.want))
			}
		})
	}
	if PlanReplicas(PlanInput{Spec: "web", Replicas: 1, TemplateHash: "a", InFlight: a(1)}).Converged() {
		t.Error("a plan that waits for an in-flight replica is not converged")
	}
}
