package controllers

import (
	"fmt"
	"strconv"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// ReadOnlyTmpOptions mount the tmpfs on /tmp of a replica whose root is
// read-only: what Docker's --tmpfs gives (noexec, nosuid, nodev) plus
// mode 1777, which every user of the image needs on /tmp, and a size bound,
// since tmpfs pages count against the replica's memory limit but nothing
// else would stop a runaway writer before the OOM killer does.
const ReadOnlyTmpOptions = "rw,noexec,nosuid,nodev,size=64m,mode=1777"

// ReplicaContainerSpec turns a defaulted spec's template into the
// container of replica number index. Replicas get the spec name as their
// network alias, Docker limits from resources, the health check as the
// container's own, restart policy "no" (scalerd replaces replicas; the
// engine restarting them behind its back would hide crashes), and no
// published port: only the load balancer is reachable from the host.
func ReplicaContainerSpec(spec *v1alpha1.ScaleSpec, hash string, revision int64, index int, caps Capabilities) (ContainerSpec, error) {
	t := spec.Spec.Template
	name := spec.Metadata.Name
	cs := ContainerSpec{
		Name:  ReplicaName(name, index),
		Image: t.Image,
		Cmd:   t.Command,
		Labels: map[string]string{
			v1alpha1.LabelManagedBy:    v1alpha1.ManagedByValue,
			v1alpha1.LabelSpec:         name,
			v1alpha1.LabelRole:         v1alpha1.RoleApp,
			v1alpha1.LabelReplica:      strconv.Itoa(index),
			v1alpha1.LabelTemplateHash: hash,
		},
		Network:  spec.Spec.Network,
		Aliases:  []string{name},
		Hardened: true,
	}
	if t.StopGracePeriod != nil {
		cs.StopTimeout = t.StopGracePeriod.Duration
	}
	if t.PidsLimit != nil {
		cs.PidsLimit = *t.PidsLimit
	}
	if t.ReadOnlyRootFilesystem != nil && *t.ReadOnlyRootFilesystem {
		cs.ReadOnlyRootfs = true
		cs.Tmpfs = map[string]string{"/tmp": ReadOnlyTmpOptions}
	}
	for _, v := range t.Volumes {
		// The spec's own labels, no template hash: a volume outlives
		// every replica and template that mounts it.
		cs.Volumes = append(cs.Volumes, VolumeMount{
			Name:   v1alpha1.VolumeName(name, v.Name),
			Target: v.MountPath,
			Labels: map[string]string{
				v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue,
				v1alpha1.LabelSpec:      name,
				v1alpha1.LabelVolume:    v.Name,
			},
		})
	}
	if revision > 0 {
		cs.Labels[v1alpha1.LabelRevision] = strconv.FormatInt(revision, 10)
	}
	// The instance name lets demoapp-like apps report which replica served
	// a request; an explicit env entry wins.
	cs.Env = append(cs.Env, "INSTANCE_NAME="+cs.Name)
	for _, e := range t.Env {
		cs.Env = append(cs.Env, e.Name+"="+e.Value)
	}
	var err error
	lim, res := t.Resources.Limits, t.Resources.Reservations
	if lim.CPUs != "" {
		if cs.NanoCPUs, err = v1alpha1.ParseCPUs(lim.CPUs); err != nil {
			return cs, fmt.Errorf("spec.template.resources.limits.cpus: %w", err)
		}
	}
	if res.CPUs != "" {
		if cs.CPUReservationNanos, err = v1alpha1.ParseCPUs(res.CPUs); err != nil {
			return cs, fmt.Errorf("spec.template.resources.reservations.cpus: %w", err)
		}
	}
	if lim.Memory != "" {
		if cs.MemoryBytes, err = v1alpha1.ParseMemory(lim.Memory); err != nil {
			return cs, fmt.Errorf("spec.template.resources.limits.memory: %w", err)
		}
	}
	if res.Memory != "" {
		if cs.MemoryReservation, err = v1alpha1.ParseMemory(res.Memory); err != nil {
			return cs, fmt.Errorf("spec.template.resources.reservations.memory: %w", err)
		}
	}
	if hc := t.HealthCheck; hc != nil {
		cs.Health = &HealthConfig{Test: hc.Command, Retries: int(deref(hc.Retries))}
		cs.Health.Interval = dur(hc.Interval)
		cs.Health.Timeout = dur(hc.Timeout)
		cs.Health.StartPeriod = dur(hc.StartPeriod)
		if caps.HealthStartInterval {
			cs.Health.StartInterval = dur(hc.StartInterval)
		}
	}
	return cs, nil
}

func dur(d *v1alpha1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}
