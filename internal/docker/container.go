package docker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/engine"
)

// Engine settings that every scaler container gets.
const (
	// logMaxSize caps each container's json-file log: replicas and nginx
	// run for weeks and the default json-file log grows without bound.
	logMaxSize = "10m"
	// sharesPerCPU is the cgroup cpu.shares weight of one full CPU.
	sharesPerCPU = 1024
	// minCPUShares is the kernel's lower bound for cpu.shares.
	minCPUShares = 2
)

// CreateContainer creates a container from spec without starting it, so
// that files (the nginx config) can be copied in first. A taken name wraps
// engine.ErrConflict; a missing image wraps engine.ErrNotFound
// (nothing is pulled: scaler's images are built locally). The container is
// labelled with this Runtime's instance, whatever spec.Labels say.
func (r *Runtime) CreateContainer(ctx context.Context, spec engine.ContainerSpec) (string, error) {
	spec.Labels = maps.Clone(spec.Labels)
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels[v1alpha1.LabelInstance] = r.instance
	cfg, hostCfg, netCfg, err := createConfig(spec, r.caps)
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	if err := r.ensureVolumes(ctx, spec); err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	resp, err := r.client.ContainerCreate(ctx, cfg, hostCfg, netCfg, nil, spec.Name)
	if err != nil {
		err = classify(err)
		if errors.Is(err, engine.ErrNotFound) && strings.Contains(err.Error(), "No such image") {
			return "", fmt.Errorf("create container %s: image %q not found; build it (make images) or point the spec at an existing image: %w: %w",
				spec.Name, spec.Image, engine.ErrImageNotFound, err)
		}
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	for _, w := range resp.Warnings {
		r.log.Info("engine warning on create", "container", spec.Name, "warning", w)
	}
	return resp.ID, nil
}

// createConfig maps a ContainerSpec onto the Engine's three create
// structures. It is pure so that the mapping is tested without an Engine.
func createConfig(spec engine.ContainerSpec, caps engine.Capabilities) (*container.Config, *container.HostConfig, *network.NetworkingConfig, error) {
	if spec.Image == "" {
		return nil, nil, nil, errors.New("no image")
	}
	if spec.Network == "" && len(spec.Aliases) > 0 {
		return nil, nil, nil, errors.New("network aliases need a network")
	}
	noInit := false
	cfg := &container.Config{
		Image:      spec.Image,
		Env:        spec.Env,
		Labels:     maps.Clone(spec.Labels),
		User:       spec.User,
		StopSignal: spec.StopSignal,
	}
	// The replica's name as its hostname lets an app that reports its
	// hostname (the demo does) say "web-2" rather than a container ID.
	if spec.Hostname != "" {
		cfg.Hostname = spec.Hostname
	} else if isHostname(spec.Name) {
		cfg.Hostname = spec.Name
	}
	// The spec's command replaces the image's entrypoint, as
	// template.command's doc says (api/v1alpha1/types.go): appending it to
	// an ENTRYPOINT would run "/demoapp /demoapp serve". The Engine drops
	// the image's CMD once the entrypoint is overridden.
	if len(spec.Cmd) > 0 {
		cfg.Entrypoint = spec.Cmd[:1]
		cfg.Cmd = spec.Cmd[1:]
	}
	if spec.StopTimeout > 0 {
		secs := ceilSeconds(spec.StopTimeout)
		cfg.StopTimeout = &secs
	}
	if h := spec.Health; h != nil {
		if len(h.Test) == 0 {
			return nil, nil, nil, errors.New("health check without a command")
		}
		cfg.Healthcheck = &container.HealthConfig{
			Test:        append([]string{"CMD"}, h.Test...),
			Interval:    h.Interval,
			Timeout:     h.Timeout,
			StartPeriod: h.StartPeriod,
			Retries:     h.Retries,
		}
		// An older Engine rejects the field outright; without it the probe
		// simply runs at Interval while starting.
		if caps.HealthStartInterval {
			cfg.Healthcheck.StartInterval = h.StartInterval
		}
	}

	hostCfg := &container.HostConfig{
		// The controller replaces dead replicas itself, with back-off; an
		// Engine restart policy would fight it.
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		Init:          &noInit,
		LogConfig: container.LogConfig{
			Type:   "json-file",
			Config: map[string]string{"max-size": logMaxSize},
		},
		Resources: container.Resources{
			NanoCPUs:          spec.NanoCPUs,
			CPUShares:         cpuShares(spec.CPUReservationNanos),
			Memory:            spec.MemoryBytes,
			MemoryReservation: spec.MemoryReservation,
		},
		CapAdd:         spec.CapAdd,
		ReadonlyRootfs: spec.ReadOnlyRootfs,
		Tmpfs:          maps.Clone(spec.Tmpfs),
		Mounts:         volumeMounts(spec.Volumes),
	}
	if spec.PidsLimit > 0 {
		limit := spec.PidsLimit
		hostCfg.PidsLimit = &limit
	}
	if spec.Hardened {
		hostCfg.SecurityOpt = []string{"no-new-privileges:true"}
		hostCfg.CapDrop = []string{"ALL"}
	}
	if p := spec.Publish; p != nil {
		if p.ContainerPort <= 0 || p.ContainerPort > 65535 || p.HostPort < 0 || p.HostPort > 65535 {
			return nil, nil, nil, fmt.Errorf("publish %s:%d->%d: port out of range", p.HostIP, p.HostPort, p.ContainerPort)
		}
		port, err := nat.NewPort("tcp", strconv.Itoa(p.ContainerPort))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("publish port %d: %w", p.ContainerPort, err)
		}
		hostPort := ""
		if p.HostPort != 0 {
			hostPort = strconv.Itoa(p.HostPort)
		}
		cfg.ExposedPorts = nat.PortSet{port: struct{}{}}
		hostCfg.PortBindings = nat.PortMap{port: {{HostIP: p.HostIP, HostPort: hostPort}}}
	}

	var netCfg *network.NetworkingConfig
	if spec.Network != "" {
		hostCfg.NetworkMode = container.NetworkMode(spec.Network)
		netCfg = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
			spec.Network: {Aliases: spec.Aliases},
		}}
	}
	return cfg, hostCfg, netCfg, nil
}

// cpuShares turns a CPU reservation into a cgroup weight. Docker has no hard
// reservation on a single host; the closest is a proportional weight that
// only matters under contention, relative to 1024 per CPU.
func cpuShares(reservationNanos int64) int64 {
	if reservationNanos <= 0 {
		return 0
	}
	return max(reservationNanos*sharesPerCPU/1e9, minCPUShares)
}

// ceilSeconds rounds up, so that a 1.5s grace period is never cut to 1s.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// isHostname reports whether name is usable as a container hostname (one
// DNS label).
func isHostname(name string) bool {
	if name == "" || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// StartContainer starts a created or exited container.
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	if err := r.client.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("start container %s: %w", id, classify(err))
	}
	return nil
}

// StopContainer sends the container's stop signal and, once grace (rounded up
// to whole seconds, the Engine's unit) has passed, SIGKILL. It returns when
// the container has exited; one that is not running is no error. ctx must
// outlast grace.
func (r *Runtime) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	secs := ceilSeconds(grace)
	if err := r.client.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs}); err != nil {
		return fmt.Errorf("stop container %s: %w", id, classify(err))
	}
	return nil
}

// RemoveContainer force-removes a container and its anonymous volumes. A
// missing container, or one already being removed, is no error: either way
// it is going away, which is what the caller wants.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	err := r.client.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	switch {
	case err == nil, cerrdefs.IsNotFound(err):
		return nil
	case cerrdefs.IsConflict(err) && strings.Contains(err.Error(), "already in progress"):
		return nil
	default:
		return fmt.Errorf("remove container %s: %w", id, classify(err))
	}
}
