package dashboard

import (
	"fmt"
	"sort"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/controlapi"
)

// The page is fed these types only, never a ScaleSpec: a template's env
// values and command (the Redis password is in both, in the default
// stack) must not reach a browser. Each field is one `scalectl get`,
// `describe` or `top` already shows; adding one here is a decision about
// what the page may show.

// State is what the page shows at one moment. It carries no time of its
// own, so that a state that did not change is not sent again.
type State struct {
	Specs  []SpecView  `json:"specs"`
	Events []EventView `json:"events"`
	// Error says why the state is incomplete (the Engine does not answer).
	Error string `json:"error,omitempty"`
	// UsageTime is when CPU, memory and requests were sampled; zero
	// before the first sample.
	UsageTime time.Time `json:"usageTime,omitzero"`
}

// SpecView is one spec's line.
type SpecView struct {
	Name  string `json:"name"`
	Image string `json:"image"`
	// Desired is spec.replicas; Replicas, Ready, Updated and Upstream are
	// the status's.
	Desired      int32           `json:"desired"`
	Replicas     int32           `json:"replicas"`
	Ready        int32           `json:"ready"`
	Updated      int32           `json:"updated"`
	Upstream     []string        `json:"upstream"`
	LoadBalancer string          `json:"loadBalancer,omitempty"`
	Revision     int64           `json:"revision,omitempty"`
	Conditions   []ConditionView `json:"conditions"`
	Rollout      *RolloutView    `json:"rollout,omitempty"`
	Members      []ReplicaView   `json:"members"`
	// RequestsUnknown says why the replicas' requests are not shown.
	RequestsUnknown string   `json:"requestsUnknown,omitempty"`
	TotalRequests   int64    `json:"totalRequests,omitempty"`
	RequestRate     *float64 `json:"requestRate,omitempty"`
	// Autoscaling is the autoscaler's bounds and last decision, for a
	// spec with spec.autoscaling: "1-8, desired 4 (ScaleUp by
	// RequestsPerSecond): RequestsPerSecond 250/100".
	Autoscaling string `json:"autoscaling,omitempty"`
}

// ConditionView is a status condition as `scalectl describe` shows it.
type ConditionView struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// Good is whether the page shows it green: True is good for every
	// condition but ReplicaFailure, where it says something failed.
	Good bool `json:"good"`
}

// RolloutView is a change in progress, a rollout or a convergence (a
// scale, a replacement): how far it got and its steps so far, which are
// the spec's events since the rollout started, or its latest events.
type RolloutView struct {
	// Rollout is true when replicas of an older template still run, or a
	// rollout started and did not complete; false for a scale or the
	// replacement of a failed replica.
	Rollout      bool     `json:"rollout"`
	Revision     int64    `json:"revision,omitempty"`
	UpdatedReady int32    `json:"updatedReady"`
	Desired      int32    `json:"desired"`
	Stalled      bool     `json:"stalled,omitempty"`
	Message      string   `json:"message"`
	Steps        []string `json:"steps"`
}

// ReplicaView is one container of a spec.
type ReplicaView struct {
	Name       string `json:"name"`
	Role       string `json:"role"`
	State      string `json:"state"`
	Health     string `json:"health,omitempty"`
	Revision   string `json:"revision,omitempty"`
	Outdated   bool   `json:"outdated,omitempty"`
	InUpstream bool   `json:"inUpstream"`
	Draining   bool   `json:"draining,omitempty"`
	// Usage, from the last `top` sample; nil before one.
	CPUPercent       *float64 `json:"cpuPercent,omitempty"`
	CPULimit         float64  `json:"cpuLimit,omitempty"`
	MemoryBytes      *uint64  `json:"memoryBytes,omitempty"`
	MemoryLimitBytes int64    `json:"memoryLimitBytes,omitempty"`
	StatsError       string   `json:"statsError,omitempty"`
	Requests         *int64   `json:"requests,omitempty"`
	Share            *float64 `json:"share,omitempty"`
}

// EventView is one event as `scalectl events` shows it.
type EventView struct {
	Type    string    `json:"type"`
	Reason  string    `json:"reason"`
	Spec    string    `json:"spec,omitempty"`
	Object  string    `json:"object"`
	Message string    `json:"message"`
	Count   int       `json:"count"`
	Last    time.Time `json:"last"`
}

// maxEvents is how many of the latest events the page lists, and
// maxSteps how many steps of a rollout.
const (
	maxEvents = 30
	maxSteps  = 12
)

// specView builds a spec's line from what the backend returns. The
// replicas' usage is laid over later, from the last top sample.
func specView(s v1alpha1.ScaleSpec, replicas []v1alpha1.ReplicaInfo, events []v1alpha1.Event) SpecView {
	v := SpecView{Name: s.Metadata.Name, Image: s.Spec.Template.Image, Upstream: []string{}, Conditions: []ConditionView{}, Members: []ReplicaView{}}
	if s.Spec.Replicas != nil {
		v.Desired = *s.Spec.Replicas
	}
	if a := s.Spec.Autoscaling; a != nil {
		v.Autoscaling = fmt.Sprintf("%d-%d", a.Min(), a.MaxReplicas)
		if st := s.Status; st != nil && st.Autoscaling != nil {
			as := st.Autoscaling
			v.Desired = as.DesiredReplicas
			v.Autoscaling += fmt.Sprintf(", desired %d (%s)", as.DesiredReplicas, as.Reason)
			if len(as.Metrics) > 0 {
				v.Autoscaling += ": " + v1alpha1.MetricTargets(as.Metrics)
			}
		}
	}
	if lb := s.Spec.LoadBalancer; lb != nil {
		host := lb.HostIP
		if host == "" {
			host = "127.0.0.1"
		}
		v.LoadBalancer = fmt.Sprintf("%s:%d", host, lb.Port)
	}
	var progressing *v1alpha1.Condition
	if st := s.Status; st != nil {
		v.Replicas, v.Ready, v.Updated, v.Revision = st.Replicas, st.ReadyReplicas, st.UpdatedReplicas, st.CurrentRevision
		v.Upstream = append(v.Upstream, st.Upstream...)
		for _, c := range st.Conditions {
			good := c.Status == v1alpha1.ConditionTrue
			if c.Type == v1alpha1.ConditionReplicaFailure {
				good = c.Status == v1alpha1.ConditionFalse
			}
			v.Conditions = append(v.Conditions, ConditionView{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message, Good: good})
		}
		progressing = v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionProgressing)
	}
	hash := ""
	if s.Spec.Template.Image != "" {
		hash = v1alpha1.TemplateHash(s.Spec.Template)
	}
	outdated := false
	for _, r := range replicas {
		m := ReplicaView{Name: r.Name, Role: r.Role, State: r.State, Health: r.Health, Revision: r.Revision,
			Outdated:   r.Role == v1alpha1.RoleApp && hash != "" && r.TemplateHash != "" && r.TemplateHash != hash,
			InUpstream: r.InUpstream, Draining: r.Draining}
		outdated = outdated || m.Outdated
		v.Members = append(v.Members, m)
	}
	if progressing != nil && progressing.Reason != "ReplicasUpToDate" && s.Status != nil {
		steps, rolling := changeSteps(events)
		v.Rollout = &RolloutView{Rollout: rolling || outdated, Revision: s.Status.CurrentRevision, UpdatedReady: s.Status.UpdatedReadyReplicas,
			Desired: v.Desired, Stalled: progressing.Status == v1alpha1.ConditionFalse, Message: progressing.Message, Steps: steps}
	}
	return v
}

// changeSteps are the steps of a change in progress, oldest first, as
// `describe` lists them: a spec's events since its latest RolloutStarted
// when no RolloutComplete followed it (rolling is then true), else its
// latest few events.
func changeSteps(events []v1alpha1.Event) (steps []string, rolling bool) {
	sorted := append([]v1alpha1.Event(nil), events...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].LastTimestamp.Before(sorted[j].LastTimestamp) })
	from := len(sorted) - maxSteps/2
	for i, e := range sorted {
		switch e.Reason {
		case "RolloutStarted":
			from, rolling = i, true
		case "RolloutComplete":
			rolling = false
		}
	}
	if !rolling {
		from = len(sorted) - maxSteps/2
	}
	sorted = sorted[max(from, len(sorted)-maxSteps, 0):]
	steps = make([]string, 0, len(sorted))
	for _, e := range sorted {
		steps = append(steps, fmt.Sprintf("%s %s: %s", e.LastTimestamp.UTC().Format("15:04:05"), e.Reason, e.Message))
	}
	return steps, rolling
}

// latestEvents are the newest events first, at most maxEvents.
func latestEvents(events []v1alpha1.Event) []EventView {
	sorted := append([]v1alpha1.Event(nil), events...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].LastTimestamp.After(sorted[j].LastTimestamp) })
	sorted = sorted[:min(len(sorted), maxEvents)]
	out := make([]EventView, 0, len(sorted))
	for _, e := range sorted {
		out = append(out, EventView{Type: e.Type, Reason: e.Reason, Spec: e.Spec, Object: e.Object, Message: e.Message, Count: e.Count, Last: e.LastTimestamp})
	}
	return out
}

// addUsage lays a top report over a spec's replicas.
func addUsage(v *SpecView, rep controlapi.TopReport, rate *float64) {
	byName := map[string]controlapi.ReplicaUsage{}
	for _, u := range rep.Replicas {
		byName[u.Name] = u
	}
	for i := range v.Members {
		u, ok := byName[v.Members[i].Name]
		if !ok {
			continue
		}
		m := &v.Members[i]
		m.CPULimit, m.MemoryLimitBytes, m.StatsError, m.Requests, m.Share = u.CPULimit, u.MemoryLimitBytes, u.StatsError, u.Requests, u.Share
		if u.StatsError == "" && u.State == "running" {
			cpu, mem := u.CPUPercent, u.MemoryBytes
			m.CPUPercent, m.MemoryBytes = &cpu, &mem
		}
	}
	v.RequestsUnknown, v.TotalRequests, v.RequestRate = rep.RequestsUnknown, rep.TotalRequests, rate
}
