package v1alpha1

import "time"

// Defaults that Default fills in. They are exported so that documentation,
// the controller and tests quote one source.
const (
	DefaultReplicas = 1
	// DefaultNetwork is shared by every spec that names none, so that a web
	// spec reaches its redis spec by name with no configuration. It is not
	// Docker's "bridge": only user-defined networks resolve container names.
	DefaultNetwork              = "scaler-net"
	DefaultRevisionHistoryLimit = 10

	DefaultStopGracePeriod = 10 * time.Second
	// DefaultPidsLimit bounds each replica's processes and threads, as
	// podman does by default, so that a fork bomb in one replica cannot
	// starve the host.
	DefaultPidsLimit = 2048
	// DefaultReadOnlyRootFilesystem is false, as in Kubernetes: most images
	// write somewhere besides /tmp, and a replica that cannot start is a
	// worse first experience than a writable root.
	DefaultReadOnlyRootFilesystem = false

	DefaultHealthInterval      = 2 * time.Second
	DefaultHealthTimeout       = 1 * time.Second
	DefaultHealthRetries       = 3
	DefaultHealthStartPeriod   = 10 * time.Second
	DefaultHealthStartInterval = 200 * time.Millisecond

	DefaultMaxSurge         = 1
	DefaultMaxUnavailable   = 0
	DefaultDrainTimeout     = 5 * time.Second
	DefaultProgressDeadline = 10 * time.Minute

	DefaultLoadBalancerImage = "scaler-nginx:dev"
	// DefaultHostIP publishes the load balancer on loopback only; exposing
	// it on every interface (0.0.0.0) must be a decision written in the file.
	DefaultHostIP      = "127.0.0.1"
	DefaultAlgorithm   = AlgorithmLeastConn
	DefaultMaxFails    = 3
	DefaultFailTimeout = 30 * time.Second
	// DefaultStatusPage and DefaultUpstreamHeader keep what every load
	// balancer served before the fields existed.
	DefaultStatusPage     = true
	DefaultUpstreamHeader = true
)

// Default fills in every field the user may leave out, so that the rest of
// scaler reads one complete spec and a default written out explicitly
// compares (and hashes) equal to one left out. It is idempotent.
//
// Some fields have no default on purpose: template.port (the app's port
// cannot be guessed, and a wrong guess fails only at traffic time; Validate
// requires it with a load balancer), loadBalancer.port (two specs would
// collide) and resources (no limit unless asked).
func (s *ScaleSpec) Default() {
	spec := &s.Spec
	if spec.Replicas == nil {
		spec.Replicas = ptr(int32(DefaultReplicas))
	}
	if spec.Network == "" {
		spec.Network = DefaultNetwork
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = ptr(int32(DefaultRevisionHistoryLimit))
	}
	spec.Template.Default()
	spec.Strategy.Default()
	if spec.LoadBalancer != nil {
		spec.LoadBalancer.Default()
	}
	if spec.Autoscaling != nil {
		spec.Autoscaling.Default()
	}
}

// Default fills in the template's optional fields. Replicas are created
// from a defaulted template, and TemplateHash is taken over it.
func (t *Template) Default() {
	if t.StopGracePeriod == nil {
		t.StopGracePeriod = &Duration{DefaultStopGracePeriod}
	}
	if t.PidsLimit == nil {
		t.PidsLimit = ptr(int64(DefaultPidsLimit))
	}
	if t.ReadOnlyRootFilesystem == nil {
		t.ReadOnlyRootFilesystem = ptr(DefaultReadOnlyRootFilesystem)
	}
	if hc := t.HealthCheck; hc != nil {
		if hc.Interval == nil {
			hc.Interval = &Duration{DefaultHealthInterval}
		}
		if hc.Timeout == nil {
			hc.Timeout = &Duration{DefaultHealthTimeout}
		}
		if hc.Retries == nil {
			hc.Retries = ptr(int32(DefaultHealthRetries))
		}
		if hc.StartPeriod == nil {
			hc.StartPeriod = &Duration{DefaultHealthStartPeriod}
		}
		if hc.StartInterval == nil {
			hc.StartInterval = &Duration{DefaultHealthStartInterval}
		}
	}
}

// Default fills in the rollout bounds. A user who writes maxSurge: 0 asks
// for replacement in place (say, for a fixed host port), which needs room
// to take one replica down; maxUnavailable then defaults to 1 instead of 0,
// so that the two together still let a rollout progress.
func (st *Strategy) Default() {
	if st.MaxSurge == nil {
		st.MaxSurge = &IntOrPercent{Value: DefaultMaxSurge}
	}
	if st.MaxUnavailable == nil {
		unavailable := int32(DefaultMaxUnavailable)
		if st.MaxSurge.Value == 0 {
			unavailable = 1
		}
		st.MaxUnavailable = &IntOrPercent{Value: unavailable}
	}
	if st.DrainTimeout == nil {
		st.DrainTimeout = &Duration{DefaultDrainTimeout}
	}
	if st.ProgressDeadline == nil {
		st.ProgressDeadline = &Duration{DefaultProgressDeadline}
	}
}

// Default fills in the load balancer's optional fields.
func (lb *LoadBalancer) Default() {
	if lb.Image == "" {
		lb.Image = DefaultLoadBalancerImage
	}
	if lb.HostIP == "" {
		lb.HostIP = DefaultHostIP
	}
	if lb.Algorithm == "" {
		lb.Algorithm = DefaultAlgorithm
	}
	if lb.MaxFails == nil {
		lb.MaxFails = ptr(int32(DefaultMaxFails))
	}
	if lb.FailTimeout == nil {
		lb.FailTimeout = &Duration{DefaultFailTimeout}
	}
	if lb.StatusPage == nil {
		lb.StatusPage = ptr(DefaultStatusPage)
	}
	if lb.UpstreamHeader == nil {
		lb.UpstreamHeader = ptr(DefaultUpstreamHeader)
	}
}

func ptr[T any](v T) *T { return &v }
