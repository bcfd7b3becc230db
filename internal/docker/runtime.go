// Package docker implements engine.Runtime against the Docker Engine
// API. It is the only package of scaler that imports the Docker client, so
// that the controller decides in terms of its own small interface and a
// change of Engine or client version stays inside this package.
package docker

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/client"
	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/engine"
)

// minAPIHealthStartInterval is the first Engine API version that honours
// HealthConfig.StartInterval; older Engines reject a create that sets it.
const minAPIHealthStartInterval = "1.44"

// pingTimeout bounds the connection check of New, so that a daemon socket
// that accepts but never answers fails startup instead of hanging it.
const pingTimeout = 10 * time.Second

// Runtime is a engine.Runtime backed by one Docker Engine, scoped to
// one scalerd instance.
type Runtime struct {
	client *client.Client
	log    logr.Logger
	caps   engine.Capabilities
	// instance is stamped on every container this Runtime creates
	// (LabelInstance) and required of every container it lists or hears
	// of, so that two daemons on one Engine (a test run beside `make run`)
	// never see, adopt or remove each other's containers.
	instance string

	// networkMu serialises EnsureNetwork: the Engine's duplicate-name check
	// is not atomic, so two reconcile workers creating the same network at
	// once could otherwise leave two networks of one name, which makes every
	// later create on that name fail as ambiguous.
	networkMu sync.Mutex
}

var _ engine.Runtime = (*Runtime)(nil)

// New connects to the Engine named by the environment (DOCKER_HOST and
// friends, as the docker CLI does), negotiates the API version and checks
// that the Engine answers. instance names this daemon's containers.
func New(ctx context.Context, log logr.Logger, instance string) (*Runtime, error) {
	if err := validateInstance(instance); err != nil {
		return nil, err
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("configure docker client: %w", err)
	}
	r, err := newRuntime(ctx, cli, log, instance)
	if err != nil {
		_ = cli.Close()
		return nil, err
	}
	return r, nil
}

// newRuntime pings the Engine behind cli and records what it supports. The
// tests use it to point a Runtime at a fake Engine.
func newRuntime(ctx context.Context, cli *client.Client, log logr.Logger, instance string) (*Runtime, error) {
	pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	ping, err := cli.Ping(pingCtx)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the Docker Engine at %s: %w; is dockerd running?", cli.DaemonHost(), err)
	}
	cli.NegotiateAPIVersionPing(ping)
	version := cli.ClientVersion()
	caps := engine.Capabilities{
		APIVersion:          version,
		HealthStartInterval: versions.GreaterThanOrEqualTo(version, minAPIHealthStartInterval),
	}
	log.V(1).Info("connected to docker engine", "host", cli.DaemonHost(), "apiVersion", version,
		"healthStartInterval", caps.HealthStartInterval)
	return &Runtime{client: cli, log: log, caps: caps, instance: instance}, nil
}

// validateInstance keeps the instance a plain word, since it is a label
// value and part of every filter; an empty one would match nothing scalerd
// ever created.
func validateInstance(instance string) error {
	if !instanceRE.MatchString(instance) {
		return fmt.Errorf("instance %q (scalerd --instance): use letters, digits, '.', '_' or '-'", instance)
	}
	return nil
}

var instanceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// Close releases the client's idle connections.
func (r *Runtime) Close() error {
	return r.client.Close()
}

// Capabilities reports the negotiated API version and what depends on it.
func (r *Runtime) Capabilities() engine.Capabilities {
	return r.caps
}

// managedFilter selects what this scalerd instance owns; it never lists
// anything else. Label filters are ANDed by the Engine.
func (r *Runtime) managedFilter() filters.Args {
	return filters.NewArgs(
		filters.Arg("label", v1alpha1.LabelManagedBy+"="+v1alpha1.ManagedByValue),
		filters.Arg("label", v1alpha1.LabelInstance+"="+r.instance),
	)
}

// ListManaged lists every container of this instance, running or not, in
// one ContainerList call.
//
// Health comes from the list's Status text ("Up 3 seconds (healthy)")
// rather than from an inspect per container: a reconcile runs on every event
// and every resync, and N inspects per reconcile would make observation cost
// grow with the replica count while the Engine is busiest (during a
// rollout). API 1.41, which this must support, has no structured health in
// the list response; the Status text is what `docker ps` has shown since
// health checks exist (Engine 1.12).
func (r *Runtime) ListManaged(ctx context.Context) ([]engine.Container, error) {
	summaries, err := r.client.ContainerList(ctx, container.ListOptions{All: true, Filters: r.managedFilter()})
	if err != nil {
		return nil, fmt.Errorf("list managed containers: %w", classify(err))
	}
	out := make([]engine.Container, 0, len(summaries))
	for _, s := range summaries {
		out = append(out, fromSummary(s))
	}
	return out, nil
}

func fromSummary(s container.Summary) engine.Container {
	c := engine.Container{
		ID:      s.ID,
		Image:   s.Image,
		Labels:  s.Labels,
		State:   s.State,
		Health:  parseHealth(s.Status),
		IPs:     map[string]string{},
		Created: time.Unix(s.Created, 0),
	}
	if len(s.Names) > 0 {
		c.Name = strings.TrimPrefix(s.Names[0], "/")
	}
	if s.NetworkSettings != nil {
		for name, ep := range s.NetworkSettings.Networks {
			// A created or exited container has no address; leaving it out
			// keeps "has an IP" meaning "reachable now".
			if ep != nil && ep.IPAddress != "" {
				c.IPs[name] = ep.IPAddress
			}
		}
	}
	return c
}

// parseHealth reads the health state out of a list Status text. The Engine
// only appends it while the container runs, so a stopped container reports
// HealthNone whatever its last probe said.
func parseHealth(status string) string {
	switch {
	case strings.Contains(status, "(health: starting)"):
		return engine.HealthStarting
	case strings.Contains(status, "(unhealthy)"):
		return engine.HealthUnhealthy
	case strings.Contains(status, "(healthy)"):
		return engine.HealthHealthy
	default:
		return engine.HealthNone
	}
}

// EnsureNetwork creates a bridge network of that name unless one exists.
// An existing network is used as it is, whoever created it, so that a user
// may prepare the network with options of their own.
func (r *Runtime) EnsureNetwork(ctx context.Context, name string) error {
	if name == "" {
		return errors.New("ensure network: empty name")
	}
	r.networkMu.Lock()
	defer r.networkMu.Unlock()

	// The name filter matches substrings, so compare exactly.
	existing, err := r.client.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
	if err != nil {
		return fmt.Errorf("list networks: %w", classify(err))
	}
	for _, n := range existing {
		if n.Name == name {
			return nil
		}
	}
	_, err = r.client.NetworkCreate(ctx, name, network.CreateOptions{
		Driver: "bridge",
		// The instance label lets `make down` and test clean-up remove the
		// networks their daemon made, and no other.
		Labels: map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue, v1alpha1.LabelInstance: r.instance},
	})
	// Another process (a second scalerd, a user) may have won the race.
	if err != nil && !cerrdefs.IsConflict(err) && !strings.Contains(err.Error(), "already exists") {
		return fmt.Errorf("create network %s: %w", name, classify(err))
	}
	if err == nil {
		r.log.Info("created network", "network", name)
	}
	return nil
}

// engineError keeps the Engine's message while letting callers match the
// controller's sentinel with errors.Is (and errdefs with the original).
type engineError struct {
	sentinel error
	err      error
}

func (e *engineError) Error() string   { return e.err.Error() }
func (e *engineError) Unwrap() []error { return []error{e.sentinel, e.err} }

// classify wraps Engine "not found" and "conflict" answers so that they
// match engine.ErrNotFound and engine.ErrConflict.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return &engineError{sentinel: engine.ErrNotFound, err: err}
	case cerrdefs.IsConflict(err):
		return &engineError{sentinel: engine.ErrConflict, err: err}
	default:
		return err
	}
}
