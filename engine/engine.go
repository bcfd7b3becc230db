// Package engine is what scaler needs of a container engine, as plain
// types and one interface: the Docker adapter (internal/docker) implements
// it, the controller (controllers) uses it, and neither imports the other,
// so that a second engine (Docker Swarm) is one more package beside
// internal/docker.
package engine

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors a Runtime wraps so that the controller can branch on them with
// errors.Is, whatever engine sits behind the interface.
var (
	// ErrNotFound means the container (or a path in it) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the name is taken, typically by a container a previous
	// reconcile created; the controller re-lists instead of failing.
	ErrConflict = errors.New("conflict")
	// ErrImageNotFound means a container could not be created because its
	// image is not on the Engine (scaler pulls from no registry).
	ErrImageNotFound = errors.New("image not found")
)

// Runtime is what the controller needs from a container engine. The Docker
// adapter (internal/docker) implements it against the Engine API; the
// controller's unit tests implement it in memory. Every method is one, or very few, Engine calls.
type Runtime interface {
	// ListManaged returns every container carrying the scaler.dev/managed-by
	// label, running or not. It is the one observation a reconcile makes.
	ListManaged(ctx context.Context) ([]Container, error)
	// EnsureNetwork creates the user-defined bridge network if it is missing.
	EnsureNetwork(ctx context.Context, name string) error
	// CreateContainer creates (but does not start) a container.
	CreateContainer(ctx context.Context, spec ContainerSpec) (id string, err error)
	// StartContainer starts a created or exited container.
	StartContainer(ctx context.Context, id string) error
	// StopContainer sends SIGTERM and, after grace, SIGKILL; it returns once
	// the container has stopped.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// RemoveContainer force-removes a container; a missing one is no error.
	RemoveContainer(ctx context.Context, id string) error
	// RenameContainer renames a container; a name that is taken wraps
	// ErrConflict.
	RenameContainer(ctx context.Context, id, name string) error
	// ImageExists reports whether an image is present on the Engine (nothing
	// is ever pulled), so that a load balancer's new image is known to be
	// there before the old load balancer stops.
	ImageExists(ctx context.Context, ref string) (bool, error)
	// CopyFile writes one file into a container (created or running), making
	// its parent directories.
	CopyFile(ctx context.Context, id, path string, content []byte) error
	// Exec runs cmd inside a running container and returns its exit code and
	// combined output.
	Exec(ctx context.Context, id string, cmd []string) (ExecResult, error)
	// OpenSession starts cmd in a running container and connects to its
	// stdin and output, for a process that answers many requests over its
	// life (the load balancer's reload agent) instead of one exec each.
	OpenSession(ctx context.Context, id string, cmd []string) (Session, error)
	// Events streams container events until ctx ends or the stream breaks;
	// the error channel then receives one error (nil when ctx ended).
	Events(ctx context.Context) (<-chan Event, <-chan error)
	// LastProbe returns the newest health-check result the Engine kept for
	// a container, so that a replica that does not turn ready can say why;
	// ErrNotFound when there is none yet.
	LastProbe(ctx context.Context, id string) (ProbeResult, error)
	// Stats samples one container's CPU and memory use.
	Stats(ctx context.Context, id string) (Stats, error)
	// Capabilities reports what the connected Engine supports.
	Capabilities() Capabilities
}

// ProbeResult is one health-check run of a container.
type ProbeResult struct {
	ExitCode int
	Output   string
	End      time.Time
}

// Session is a process started in a container by OpenSession: writes go
// to its stdin, reads come from its stdout and stderr, interleaved. Close
// ends its stdin and the connection; a read or write after the container
// or the connection went away fails.
type Session interface {
	io.Reader
	io.Writer
	io.Closer
}

// Capabilities are the Engine features that depend on its API version.
type Capabilities struct {
	APIVersion string
	// HealthStartInterval is true when the Engine honours a health check's
	// StartInterval (API >= 1.44).
	HealthStartInterval bool
}

// Container states as the Engine reports them.
const (
	StateCreated    = "created"
	StateRunning    = "running"
	StateExited     = "exited"
	StateDead       = "dead"
	StateRestarting = "restarting"
	StatePaused     = "paused"
	StateRemoving   = "removing"
)

// Health values as the Engine reports them; HealthNone means the container
// has no health check.
const (
	HealthNone      = ""
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Container is one observed container.
type Container struct {
	ID     string
	Name   string
	Image  string
	Labels map[string]string
	State  string
	Health string
	// IPs maps each attached network's name to the container's address on
	// it; nginx is configured with these, the host never connects to them.
	IPs     map[string]string
	Created time.Time
}

// ContainerSpec is everything needed to create one container.
type ContainerSpec struct {
	Name    string
	Image   string
	Cmd     []string
	Env     []string
	Labels  map[string]string
	Network string
	// Aliases are DNS names of the container on Network.
	Aliases []string
	// Hostname, if set, is the container's hostname; otherwise its name is
	// (when it is a valid host name). A load balancer created under another
	// name beside the one it replaces still calls itself NAME-lb.
	Hostname string

	NanoCPUs            int64
	CPUReservationNanos int64 // mapped to CPU shares relative to 1024 per CPU
	MemoryBytes         int64
	MemoryReservation   int64
	// PidsLimit caps the container's processes and threads; 0 leaves the
	// Engine's default (none).
	PidsLimit int64
	// ReadOnlyRootfs mounts the image's file system read-only; Tmpfs then
	// gives the app its writable places.
	ReadOnlyRootfs bool
	// Tmpfs mounts a tmpfs at each path, with mount options ("size=64m").
	Tmpfs map[string]string
	// Volumes mounts named volumes, each created with its labels when the
	// Engine has none of that name.
	Volumes []VolumeMount

	Health      *HealthConfig
	StopTimeout time.Duration
	// StopSignal defaults to SIGTERM.
	StopSignal string
	// Publish, if set, publishes one container port on HostIP:HostPort.
	Publish *PortBinding
	// Hardened drops all capabilities and sets no-new-privileges. The load
	// balancer needs a few capabilities back (binding, setuid for workers).
	Hardened bool
	CapAdd   []string
	// User runs the container as this user when set.
	User string
}

// VolumeMount is a named volume mounted into a container.
type VolumeMount struct {
	// Name is the Engine's volume name.
	Name string
	// Target is the path in the container.
	Target string
	// Labels are set on the volume when the Engine creates it; an
	// existing volume keeps its own.
	Labels map[string]string
}

// HealthConfig is a Docker health check.
type HealthConfig struct {
	Test          []string // the command, run with exec (no shell)
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
}

// PortBinding publishes ContainerPort/tcp on HostIP:HostPort.
type PortBinding struct {
	HostIP        string
	HostPort      int
	ContainerPort int
}

// ExecResult is the outcome of Runtime.Exec.
type ExecResult struct {
	ExitCode int
	Output   string
}

// Event is one container event. Only its labels are trusted, and only to
// decide which spec to reconcile; the payload is never acted on.
type Event struct {
	Action      string // start, die, health_status: healthy, destroy, oom, ...
	ContainerID string
	Labels      map[string]string
	Time        time.Time
}

// Stats is one sample of a container's resource use.
type Stats struct {
	CPUPercent  float64 // of one CPU: 100 means one full core
	MemoryBytes uint64
	MemoryLimit uint64
}
