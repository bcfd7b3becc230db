// Package v1alpha1 holds the ScaleSpec API: the declarative description of a
// replicated web app that scalerd converges toward. It does no I/O: decoding,
// defaulting and validation are pure functions over bytes and values.
package v1alpha1

import (
	"encoding/json"
	"fmt"
	"slices"
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
	// APIVersion is the version of the API the document is written for.
	// +required
	// +enum=scaler.dev/v1alpha1
	APIVersion string `json:"apiVersion"`
	// Kind is the kind of object the document describes.
	// +required
	// +enum=ScaleSpec
	Kind string `json:"kind"`
	// Metadata names the spec.
	// +required
	Metadata ObjectMeta `json:"metadata"`
	// Spec is what you want running: how many replicas of which template,
	// behind which load balancer, rolled out how.
	// +required
	Spec Spec `json:"spec"`
	// Status is what scalerd last observed. It is written by scalerd (see
	// `scalectl get NAME -o yaml`) and never read from a file.
	Status *Status `json:"status,omitempty"`

	// source is where the spec was decoded from, for error messages. It is
	// not part of the object: JSON never carries it and no hash covers it.
	source *Source
}

// ObjectMeta names a spec. Generation grows only when Spec changes; the spec
// store assigns it, a file never does.
type ObjectMeta struct {
	// Name is the spec's name: a DNS-1123 label (lowercase letters, digits
	// and '-', at most 63), unique among the specs. It names the replicas
	// (NAME-1, NAME-2, ...) and the load balancer (NAME-lb), and is the
	// replicas' DNS name on the network, so other specs reach them by it.
	// +required
	Name string `json:"name"`
	// Generation counts the changes of spec; scalerd assigns it and a file
	// never sets it.
	Generation int64 `json:"generation,omitempty"`
}

// Spec is the desired state of one app. Replicas is a pointer so that an
// omitted value (defaulted) can be told apart from an explicit 0.
type Spec struct {
	// Replicas is how many replicas of the template run, 0 to 1000. Scaling
	// never recreates a replica: it adds or removes the highest numbers.
	// +default=1
	Replicas *int32 `json:"replicas,omitempty"`
	// DependsOn names other specs that must be ready before this one's
	// replicas start, like a web app's Redis.
	DependsOn []string `json:"dependsOn,omitempty"`
	// Network is the user-defined bridge network the replicas and the load
	// balancer join, created if missing. Specs on one network reach each
	// other by spec name. Docker's predefined bridge, host and none are
	// refused: only user-defined networks resolve names.
	// +default=scaler-net
	Network string `json:"network,omitempty"`
	// Template is everything that makes up one replica. Changing it rolls
	// the replicas out to the new template, bounded by strategy.
	// +required
	Template Template `json:"template"`
	// Strategy bounds a rolling update or a replacement.
	Strategy Strategy `json:"strategy,omitempty"`
	// LoadBalancer puts an nginx container in front of the replicas, with
	// only healthy replicas in its upstream. Leave it out for a spec that
	// serves only other specs (a Redis).
	LoadBalancer *LoadBalancer `json:"loadBalancer,omitempty"`
	// RevisionHistoryLimit is how many earlier templates are kept for
	// `scalectl rollout undo`, 0 or more.
	// +default=10
	RevisionHistoryLimit *int32 `json:"revisionHistoryLimit,omitempty"`
	// Autoscaling lets scalerd choose the number of replicas from the
	// load, between minReplicas and maxReplicas, with the meaning of
	// Kubernetes' HorizontalPodAutoscaler v2. Replicas is then only the
	// count to start from; `scalectl scale` changes minReplicas and
	// maxReplicas instead.
	Autoscaling *Autoscaling `json:"autoscaling,omitempty"`
}

// Autoscaling follows metrics of the load: each metric proposes
// ceil(usage / target) replicas, the largest proposal wins, and a change
// within 10% of the targets is no change.
type Autoscaling struct {
	// MinReplicas is the fewest replicas the autoscaler keeps, 1 or more.
	// +default=1
	MinReplicas *int32 `json:"minReplicas,omitempty"`
	// MaxReplicas is the most replicas the autoscaler runs: at least
	// minReplicas, at most 1000.
	// +required
	MaxReplicas int32 `json:"maxReplicas"`
	// Metrics are what the count follows, at least one. A metric that
	// cannot be read holds the count (it never scales down for want of a
	// value) and the ScalingActive condition says why.
	// +required
	Metrics []AutoscalingMetric `json:"metrics"`
	// Behavior bounds how fast the count may move each way.
	Behavior AutoscalingBehavior `json:"behavior,omitempty"`
}

// AutoscalingMetric is one measure of the load and its target per replica.
type AutoscalingMetric struct {
	// Type is RequestsPerSecond (counted at the load balancer, which must
	// keep its status page), CPU (percent of one core, or of the
	// template's CPU limit when set, mean over ready replicas) or
	// Prometheus (the value of an instant PromQL query).
	// +required
	Type string `json:"type"`
	// Target is the value of the metric per replica that the count aims
	// for, more than 0: requests per second, percent, or the query's unit.
	// +required
	Target float64 `json:"target"`
	// Server is the Prometheus server's base URL, http or https, for
	// type Prometheus only: "http://127.0.0.1:9090".
	Server string `json:"server,omitempty"`
	// Query is an instant PromQL query that returns one number, the
	// total over all replicas, for type Prometheus only:
	// sum(rate(scaler_requests_total{spec="web"}[30s])).
	Query string `json:"query,omitempty"`
}

// AutoscalingBehavior holds the rules of each direction.
type AutoscalingBehavior struct {
	// ScaleUp bounds growth; by default at once and at most doubling per
	// autoscaler period.
	ScaleUp ScalingRules `json:"scaleUp,omitempty"`
	// ScaleDown bounds shrinking; by default after 5 minutes of lower
	// proposals, as Kubernetes' HPA does, one replica per period.
	ScaleDown ScalingRules `json:"scaleDown,omitempty"`
}

// ScalingRules damp one direction of change.
type ScalingRules struct {
	// StabilizationWindow is how far back proposals are remembered: a
	// scale-up goes only as high as the lowest proposal in the window, a
	// scale-down only as low as the highest, so that a short spike or dip
	// does not flap the count. 0s to 1h. Defaults: scaleUp 0s, scaleDown 5m.
	StabilizationWindow *Duration `json:"stabilizationWindow,omitempty"`
	// MaxStep is the most replicas added or removed in one autoscaler
	// period: a count, or a percentage of the current replicas; at least
	// one replica moves whatever the percentage. Defaults: scaleUp 100%,
	// scaleDown 1.
	MaxStep *IntOrPercent `json:"maxStep,omitempty"`
}

// Autoscaling metric types.
const (
	MetricRequestsPerSecond = "RequestsPerSecond"
	MetricCPU               = "CPU"
	MetricPrometheus        = "Prometheus"
)

// MetricTypes lists every accepted AutoscalingMetric.Type.
var MetricTypes = []string{MetricRequestsPerSecond, MetricCPU, MetricPrometheus}

// Template is everything that makes up one replica. Any change here is a
// rollout; Replicas is deliberately outside it.
type Template struct {
	// Image is the image the replicas run, like "demoapp:dev" or
	// "registry.example.com/team/app:1.2". scalerd never pulls: the Engine
	// must have it (`make images` builds the demo's).
	// +required
	Image string `json:"image"`
	// Command overrides the image's entrypoint and command, run without a
	// shell: ["/demoapp", "--port", "5000"].
	Command []string `json:"command,omitempty"`
	// Env sets environment variables of the replicas. Each replica also
	// gets INSTANCE_NAME, its container name.
	Env []EnvVar `json:"env,omitempty"`
	// Port is the port the app listens on inside the container, 1-65535;
	// the load balancer sends traffic there. Required with a load
	// balancer; there is no default, since a wrong guess would fail only
	// under traffic.
	Port int32 `json:"port,omitempty"`
	// Resources limit and reserve the CPU and memory of each replica; none
	// unless set.
	Resources Resources `json:"resources,omitempty"`
	// HealthCheck is the replica's Docker health check. A replica receives
	// traffic only once healthy, and leaves the upstream when unhealthy.
	// Without one, a running replica counts as ready.
	HealthCheck *HealthCheck `json:"healthCheck,omitempty"`
	// StopGracePeriod is how long a replica has to finish its requests
	// after SIGTERM before it is killed.
	// +default=10s
	StopGracePeriod *Duration `json:"stopGracePeriod,omitempty"`
	// PidsLimit caps the processes and threads of one replica, 16 to
	// 4194304 (the kernel's largest PID, which is no limit). Without a
	// cap a fork bomb or a thread leak in one replica fills the host's
	// process table and starves every other container, scalerd included.
	// The default is podman's, roomy for thread-heavy runtimes. Replicas
	// created before scaler set it keep running without one until they
	// are next replaced: the default alone does not roll them.
	// +default=2048
	PidsLimit *int64 `json:"pidsLimit,omitempty"`
	// ReadOnlyRootFilesystem mounts the replica's root file system
	// read-only, as Kubernetes' securityContext field of that name does,
	// so that a compromised app cannot change its own binaries or plant
	// files for the next process. /tmp is then a tmpfs of 64Mi (mode
	// 1777, noexec, counted against the memory limit) for scratch files;
	// an app that writes anywhere else fails to start or to serve, so
	// this is off unless asked for.
	// +default=false
	ReadOnlyRootFilesystem *bool `json:"readOnlyRootFilesystem,omitempty"`
	// Volumes are named volumes mounted into every replica, as compose's
	// named volumes are: data that outlives the replicas, so that a
	// rollout or `rollout restart` of a stateful spec (Redis, say) keeps
	// it. The Docker volume of name N is SPEC-N, created on first use
	// with scaler's labels; every replica of the spec mounts the same
	// one. scalerd never removes a volume, not on scale down, rollout or
	// `scalectl delete`: `docker volume rm SPEC-N` does, once its data is
	// no longer wanted. No host paths (bind mounts): a spec file cannot
	// expose the host's files.
	Volumes []Volume `json:"volumes,omitempty"`
}

// Volume is one named volume of a template.
type Volume struct {
	// Name names the volume within the spec: lowercase letters, digits
	// and '-', starting and ending with a letter or digit, at most 63
	// characters; each name once. The Docker volume is SPEC-NAME.
	// +required
	Name string `json:"name"`
	// MountPath is where the replicas see the volume: an absolute, clean
	// path ("/var/lib/redis"), each once, not "/" nor under /proc, /sys
	// or /dev, and not /tmp with readOnlyRootFilesystem (its tmpfs is
	// there). A volume created empty gets the image's files at that path.
	// +required
	MountPath string `json:"mountPath"`
}

// EnvVar is one environment variable of the replicas.
type EnvVar struct {
	// Name is the variable's name: letters, digits and '_', not starting
	// with a digit; each name once.
	// +required
	Name string `json:"name"`
	// Value is the variable's value, taken as written (no expansion).
	Value string `json:"value"`
}

// Resources are Docker's CPU and memory limits and reservations.
type Resources struct {
	// Limits cap what a replica may use.
	Limits ResourceList `json:"limits,omitempty"`
	// Reservations are what a replica is guaranteed under contention; each
	// at most its limit.
	Reservations ResourceList `json:"reservations,omitempty"`
}

// ResourceList holds CPUs as a decimal string ("0.5") and memory in compose
// ("256M") or Kubernetes ("256Mi") form.
type ResourceList struct {
	// CPUs is a number of CPUs as a decimal string, like "0.5"; more than 0.
	CPUs string `json:"cpus,omitempty"`
	// Memory is an amount of memory in compose form ("256M", "1G") or
	// Kubernetes form ("256Mi"); a limit is at least 6Mi, Docker's floor.
	Memory string `json:"memory,omitempty"`
}

// HealthCheck becomes the container's Docker HEALTHCHECK; it gates traffic.
type HealthCheck struct {
	// Command runs inside the replica, without a shell; exit 0 means
	// healthy: ["/demoapp", "healthcheck"].
	// +required
	Command []string `json:"command"`
	// Interval is the time between probes once the replica has started.
	// +default=2s
	Interval *Duration `json:"interval,omitempty"`
	// Timeout is how long one probe may run before it counts as failed.
	// +default=1s
	Timeout *Duration `json:"timeout,omitempty"`
	// Retries is how many probes in a row must fail for the replica to turn
	// unhealthy, at least 1.
	// +default=3
	Retries *int32 `json:"retries,omitempty"`
	// StartPeriod is the time a starting replica has before failed probes
	// count against it.
	// +default=10s
	StartPeriod *Duration `json:"startPeriod,omitempty"`
	// StartInterval is the time between probes during startPeriod: short,
	// so that a new replica serves soon after it can. Needs Engine API 1.44
	// or later; older Engines probe at interval.
	// +default=200ms
	StartInterval *Duration `json:"startInterval,omitempty"`
}

// Strategy bounds a rolling update or a replacement.
type Strategy struct {
	// MaxSurge is how many replicas a rollout may run above replicas: a
	// count or a percentage of replicas, rounded up. maxSurge and
	// maxUnavailable cannot both be 0.
	// +default=1
	MaxSurge *IntOrPercent `json:"maxSurge,omitempty"`
	// MaxUnavailable is how many replicas a rollout may have not ready
	// below replicas: a count or a percentage, rounded down. It defaults
	// to 0, or to 1 when maxSurge is 0, so that a rollout can progress.
	// +default=0
	MaxUnavailable *IntOrPercent `json:"maxUnavailable,omitempty"`
	// DrainTimeout is the longest wait for a replica's in-flight requests
	// after it left the load balancer's upstream, before it gets SIGTERM.
	// +default=5s
	DrainTimeout *Duration `json:"drainTimeout,omitempty"`
	// ProgressDeadline is how long a rollout may go without progress before
	// the spec reports Progressing=False (ProgressDeadlineExceeded).
	// +default=10m0s
	ProgressDeadline *Duration `json:"progressDeadline,omitempty"`
}

// LoadBalancer describes the nginx container in front of the replicas.
type LoadBalancer struct {
	// Image is the nginx image of the load balancer.
	// +default=scaler-nginx:dev
	Image string `json:"image,omitempty"`
	// HostIP is the host address the port is published on. Loopback by
	// default; 0.0.0.0 (every interface) must be written out.
	// +default=127.0.0.1
	HostIP string `json:"hostIP,omitempty"`
	// Port is the host port the app is published on, 1-65535; no default,
	// since two specs would collide.
	// +required
	Port int32 `json:"port"`
	// Algorithm is how nginx picks a replica for a request.
	// +default=least_conn
	// +enum=least_conn,round_robin,ip_hash,random
	Algorithm string `json:"algorithm,omitempty"`
	// MaxFails is how many failed attempts within failTimeout take a
	// replica out of nginx's rotation for failTimeout; 0 turns it off.
	// +default=3
	MaxFails *int32 `json:"maxFails,omitempty"`
	// FailTimeout is the window of maxFails, and how long a failing replica
	// then stays out of rotation.
	// +default=30s
	FailTimeout *Duration `json:"failTimeout,omitempty"`
	// ServerSnippet is raw nginx configuration added to the server block,
	// for what the other fields do not cover. scalerd checks the whole
	// config with `nginx -t` before applying it, so a bad snippet is
	// reported and never takes the running load balancer down.
	ServerSnippet string `json:"serverSnippet,omitempty"`
	// StatusPage serves nginx's connection and request counters
	// (stub_status) at /nginx-status. Turn it off when the port is
	// reachable by clients who should not see the traffic; the path then
	// goes to the replicas like any other.
	// +default=true
	StatusPage *bool `json:"statusPage,omitempty"`
	// UpstreamHeader adds X-Upstream-Server, the address of the replica
	// that answered, to every response: handy to watch the balancing, but
	// it tells every client the replicas' addresses on the container
	// network. Turn it off when clients you do not trust reach the port.
	// +default=true
	UpstreamHeader *bool `json:"upstreamHeader,omitempty"`
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
	// ObservedGeneration is the generation of the spec this status is of.
	ObservedGeneration int64 `json:"observedGeneration"`
	// Replicas counts the app containers, whatever their state.
	Replicas int32 `json:"replicas"`
	// ReadyReplicas counts the replicas that are running and healthy.
	ReadyReplicas int32 `json:"readyReplicas"`
	// UpdatedReplicas counts the replicas of the current template.
	UpdatedReplicas int32 `json:"updatedReplicas"`
	// UpdatedReadyReplicas are replicas of the current template that are
	// ready; a rollout is done when it equals the desired replicas.
	UpdatedReadyReplicas int32 `json:"updatedReadyReplicas"`
	// Upstream lists the replicas in the load balancer's upstream: the
	// ones that receive traffic.
	Upstream []string `json:"upstream"`
	// CurrentRevision is the rollout revision of the current template.
	CurrentRevision int64 `json:"currentRevision,omitempty"`
	// Backoff lists the replica slots held by crash-loop back-off: slots
	// whose replicas of the current template keep failing before they
	// ever become ready. Absent when no slot is held.
	Backoff *Backoff `json:"backoff,omitempty"`
	// Autoscaling is the autoscaler's latest decision, for a spec with
	// spec.autoscaling.
	Autoscaling *AutoscalingStatus `json:"autoscaling,omitempty"`
	// Conditions are the observed aspects of the spec: Available,
	// Progressing, SpecValid, LoadBalancerReady, UpstreamInSync,
	// ScalingActive.
	Conditions []Condition `json:"conditions,omitempty"`
}

// AutoscalingStatus is what the autoscaler saw and chose.
type AutoscalingStatus struct {
	// DesiredReplicas is the count the autoscaler chose; the replicas
	// converge to it.
	DesiredReplicas int32 `json:"desiredReplicas"`
	// Metrics are the latest values, per replica, beside their targets.
	Metrics []MetricValue `json:"metrics,omitempty"`
	// Reason says which rule decided the count.
	Reason string `json:"reason,omitempty"`
	// LastScaleTime is when the count last changed.
	LastScaleTime *time.Time `json:"lastScaleTime,omitempty"`
}

// MetricValue is one metric's latest reading.
type MetricValue struct {
	// Type is the metric's type.
	Type string `json:"type"`
	// Value is the reading per ready replica; absent when it could not be read.
	Value *float64 `json:"value,omitempty"`
	// Target is the metric's target per replica.
	Target float64 `json:"target"`
	// Proposal is the count this metric alone asks for.
	Proposal int32 `json:"proposal"`
	// Error says why the metric could not be read.
	Error string `json:"error,omitempty"`
}

// Backoff reports a crash loop, per replica slot. A replica that had been
// ready and then died is replaced at once and never appears here: only
// replicas that exit or fail their health check before they were ever
// ready count, so a template that cannot run stops its rollout or
// scale-up here, while external kills of serving replicas hold nothing.
type Backoff struct {
	// Slots are the held replica slots, lowest replica number first.
	Slots []SlotBackoff `json:"slots"`
}

// SlotBackoff is one replica slot waiting out its back-off.
type SlotBackoff struct {
	// Replica is the slot: the replica number n of <spec>-<n>.
	Replica int32 `json:"replica"`
	// Failures counts the replicas of this slot that failed in a row
	// before they became ready; the first is replaced at once.
	Failures int32 `json:"failures"`
	// Delay is the slot's current back-off: 10s after the second failure,
	// doubling up to 5m; it resets once a replica of the slot stays ready
	// for a minute.
	Delay Duration `json:"delay"`
	// Until is when the slot may get its next replica.
	Until time.Time `json:"until"`
}

// Condition types reported on a spec.
const (
	ConditionAvailable         = "Available"
	ConditionProgressing       = "Progressing"
	ConditionSpecValid         = "SpecValid"
	ConditionLoadBalancerReady = "LoadBalancerReady"
	ConditionUpstreamInSync    = "UpstreamInSync"
	// ConditionReplicaFailure is True, with the cause in its reason and
	// message, while something keeps replicas of the current template from
	// being created or turning ready: a missing image, a failing health
	// check, a dependency not ready, a crash loop's back-off. It is gone
	// once nothing does, as Kubernetes' Deployment condition of that name.
	ConditionReplicaFailure = "ReplicaFailure"
	// ConditionScalingActive is False while an autoscaler metric cannot
	// be read, as the HorizontalPodAutoscaler's condition of that name;
	// the count then holds.
	ConditionScalingActive = "ScalingActive"
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
	// Type names the aspect, an adjective.
	// +enum=Available,Progressing,SpecValid,LoadBalancerReady,UpstreamInSync
	Type string `json:"type"`
	// Status says whether the aspect holds.
	// +enum=True,False,Unknown
	Status ConditionStatus `json:"status"`
	// Reason is why, in one CamelCase word, for scripts.
	Reason string `json:"reason,omitempty"`
	// Message is why, for people.
	Message string `json:"message,omitempty"`
	// LastTransitionTime is when status last changed.
	LastTransitionTime time.Time `json:"lastTransitionTime"`
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

// RemoveCondition drops the condition of type t, if any.
func RemoveCondition(conds []Condition, t string) []Condition {
	return slices.DeleteFunc(conds, func(c Condition) bool { return c.Type == t })
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

// Duration is a time.Duration written as Go duration text ("2s", "150ms"),
// positive and at most 24h.
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
