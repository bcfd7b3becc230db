// Package v1alpha1 holds the ScaleSpec API: the declarative description of a
// replicated web app that scalerd converges toward. It does no I/O: decoding,
// defaulting and validation are pure functions over bytes and values.
package v1alpha1

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// GroupVersion and Kind identify a ScaleSpec document.
const (
	GroupVersion = "scaler.dev/v1alpha1"
	Kind         = "ScaleSpec"
)

// ScaleSpec is one declared app: what the user wants (Spec) and what scalerd
// last observed (Status). Status is never read from a file.
type ScaleSpec struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   ObjectMeta `json:"metadata"`
	Spec       Spec       `json:"spec"`
	Status     *Status    `json:"status,omitempty"`

	// source is where the spec was decoded from, for error messages. It is
	// not part of the object: JSON never carries it and no hash covers it.
	source *Source
}

// ObjectMeta names a spec. Generation grows only when Spec changes; the spec
// store assigns it, a file never does.
type ObjectMeta struct {
	Name       string `json:"name"`
	Generation int64  `json:"generation,omitempty"`
}

// Spec is the desired state of one app.
type Spec struct {
	// Replicas is a pointer so that an omitted value (defaulted to 1) can be
	// told apart from an explicit 0.
	Replicas     *int32        `json:"replicas,omitempty"`
	DependsOn    []string      `json:"dependsOn,omitempty"`
	Network      string        `json:"network,omitempty"`
	Template     Template      `json:"template"`
	Strategy     Strategy      `json:"strategy,omitempty"`
	LoadBalancer *LoadBalancer `json:"loadBalancer,omitempty"`
	// RevisionHistoryLimit bounds how many old templates are kept for undo.
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
}

// Template is everything that makes up one replica. Any change here is a
// rollout; Replicas is deliberately outside it.
type Template struct {
	Image           string       `json:"image"`
	Command         []string     `json:"command,omitempty"`
	Env             []EnvVar     `json:"env,omitempty"`
	Port            int32        `json:"port,omitempty"`
	Resources       Resources    `json:"resources,omitempty"`
	HealthCheck     *HealthCheck `json:"healthCheck,omitempty"`
	StopGracePeriod *Duration    `json:"stopGracePeriod,omitempty"`
}

// EnvVar is one environment variable of the replicas.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Resources are Docker's CPU and memory limits and reservations.
type Resources struct {
	Limits       ResourceList `json:"limits,omitempty"`
	Reservations ResourceList `json:"reservations,omitempty"`
}

// ResourceList holds CPUs as a decimal string ("0.5") and memory in compose
// ("256M") or Kubernetes ("256Mi") form.
type ResourceList struct {
	CPUs   string `json:"cpus,omitempty"`
	Memory string `json:"memory,omitempty"`
}

// HealthCheck becomes the container's Docker HEALTHCHECK; it gates traffic.
type HealthCheck struct {
	Command       []string  `json:"command"`
	Interval      *Duration `json:"interval,omitempty"`
	Timeout       *Duration `json:"timeout,omitempty"`
	Retries       *int32    `json:"retries,omitempty"`
	StartPeriod   *Duration `json:"startPeriod,omitempty"`
	StartInterval *Duration `json:"startInterval,omitempty"`
}

// Strategy bounds a rolling update or a replacement.
type Strategy struct {
	MaxSurge         *IntOrPercent `json:"maxSurge,omitempty"`
	MaxUnavailable   *IntOrPercent `json:"maxUnavailable,omitempty"`
	DrainTimeout     *Duration     `json:"drainTimeout,omitempty"`
	ProgressDeadline *Duration     `json:"progressDeadline,omitempty"`
}

// LoadBalancer describes the nginx container in front of the replicas.
type LoadBalancer struct {
	Image       string    `json:"image,omitempty"`
	HostIP      string    `json:"hostIP,omitempty"`
	Port        int32     `json:"port"`
	Algorithm   string    `json:"algorithm,omitempty"`
	MaxFails    *int32    `json:"maxFails,omitempty"`
	FailTimeout *Duration `json:"failTimeout,omitempty"`
	// ServerSnippet is raw nginx configuration added to the server block,
	// for what the other fields do not cover. scalerd checks the whole
	// config with `nginx -t` before applying it, so a bad snippet is
	// reported and never takes the running load balancer down.
	ServerSnippet string `json:"serverSnippet,omitempty"`
}

// Load-balancing algorithms nginx offers.
const (
	AlgorithmLeastConn  = "least_conn"
	AlgorithmRoundRobin = "round_robin"
	AlgorithmIPHash     = "ip_hash"
	AlgorithmRandom     = "random"
)

// Algorithms lists every accepted LoadBalancer.Algorithm.
var Algorithms = []string{AlgorithmLeastConn, AlgorithmRoundRobin, AlgorithmIPHash, AlgorithmRandom}

// Status is what scalerd observed; it can always be rebuilt from the Engine.
type Status struct {
	ObservedGeneration int64 `json:"observedGeneration"`
	Replicas           int32 `json:"replicas"`
	ReadyReplicas      int32 `json:"readyReplicas"`
	UpdatedReplicas    int32 `json:"updatedReplicas"`
	// UpdatedReadyReplicas are replicas of the current template that are
	// ready; a rollout is done when it equals the desired replicas.
	UpdatedReadyReplicas int32       `json:"updatedReadyReplicas"`
	Upstream             []string    `json:"upstream"`
	CurrentRevision      int64       `json:"currentRevision,omitempty"`
	Backoff              *Backoff    `json:"backoff,omitempty"`
	Conditions           []Condition `json:"conditions,omitempty"`
}

// Backoff reports a crash loop: replicas of the current template keep
// failing, and replacements wait until Until.
type Backoff struct {
	Failures int32     `json:"failures"`
	Until    time.Time `json:"until"`
}

// Condition types reported on a spec.
const (
	ConditionAvailable         = "Available"
	ConditionProgressing       = "Progressing"
	ConditionSpecValid         = "SpecValid"
	ConditionLoadBalancerReady = "LoadBalancerReady"
	ConditionUpstreamInSync    = "UpstreamInSync"
)

// ConditionStatus is "True", "False" or "Unknown", as in Kubernetes.
type ConditionStatus string

// Condition status values.
const (
	ConditionTrue    ConditionStatus = "True"
	ConditionFalse   ConditionStatus = "False"
	ConditionUnknown ConditionStatus = "Unknown"
)

// Condition is one observed aspect of a spec. Reason is one CamelCase word.
type Condition struct {
	Type               string          `json:"type"`
	Status             ConditionStatus `json:"status"`
	Reason             string          `json:"reason,omitempty"`
	Message            string          `json:"message,omitempty"`
	LastTransitionTime time.Time       `json:"lastTransitionTime"`
}

// SetCondition records c in conds, keeping LastTransitionTime when the status
// did not change, and returns the new slice.
func SetCondition(conds []Condition, c Condition) []Condition {
	for i := range conds {
		if conds[i].Type != c.Type {
			continue
		}
		if conds[i].Status == c.Status {
			c.LastTransitionTime = conds[i].LastTransitionTime
		}
		conds[i] = c
		return conds
	}
	return append(conds, c)
}

// FindCondition returns the condition of that type, or nil.
func FindCondition(conds []Condition, t string) *Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// Duration is a time.Duration written as Go duration text ("2s", "150ms").
type Duration struct {
	time.Duration
}

// MarshalJSON writes the duration as text.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.Duration.String())
}

// UnmarshalJSON reads Go duration text.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s is not a duration; write it like \"2s\" or \"500ms\"", string(b))
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration; write it like \"2s\" or \"500ms\"", s)
	}
	d.Duration = v
	return nil
}

// IntOrPercent is an absolute count (1) or a percentage ("25%"), as
// Kubernetes' maxSurge and maxUnavailable are.
type IntOrPercent struct {
	Value     int32
	IsPercent bool
}

// MarshalJSON writes an int, or a string ending in '%'.
func (v IntOrPercent) MarshalJSON() ([]byte, error) {
	if v.IsPercent {
		return json.Marshal(fmt.Sprintf("%d%%", v.Value))
	}
	return json.Marshal(v.Value)
}

// UnmarshalJSON reads 1 or "25%".
func (v *IntOrPercent) UnmarshalJSON(b []byte) error {
	var n int32
	if err := json.Unmarshal(b, &n); err == nil {
		*v = IntOrPercent{Value: n}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s is neither an integer nor a percentage like \"25%%\"", string(b))
	}
	num, ok := strings.CutSuffix(s, "%")
	p, err := strconv.ParseInt(num, 10, 32)
	if err != nil {
		return fmt.Errorf("%q is neither an integer nor a percentage like \"25%%\"", s)
	}
	*v = IntOrPercent{Value: int32(p), IsPercent: ok}
	return nil
}

// Resolve turns the value into a count out of total. Percentages round up
// when roundUp is set (maxSurge) and down otherwise (maxUnavailable), as
// Kubernetes does.
func (v IntOrPercent) Resolve(total int32, roundUp bool) int32 {
	if !v.IsPercent {
		return v.Value
	}
	n := int64(v.Value) * int64(total)
	if roundUp {
		return int32((n + 99) / 100)
	}
	return int32(n / 100)
}
