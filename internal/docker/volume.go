package docker

import (
	"context"
	"fmt"
	"maps"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/engine"
)

// ensureVolumes creates the named volumes of a container that the Engine
// does not have yet, with their labels and this Runtime's instance, so
// that `docker volume ls --filter label=scaler.dev/spec=NAME` finds them.
// A volume that exists is used as it is (its data is the point), unless
// scaler made it for another spec: two specs sharing a volume by accident
// of their names would corrupt each other's data. scaler never removes a
// volume (see template.volumes).
func (r *Runtime) ensureVolumes(ctx context.Context, spec engine.ContainerSpec) error {
	for _, v := range spec.Volumes {
		existing, err := r.client.VolumeInspect(ctx, v.Name)
		if err == nil {
			owner := existing.Labels[v1alpha1.LabelSpec]
			if existing.Labels[v1alpha1.LabelManagedBy] == v1alpha1.ManagedByValue && owner != v.Labels[v1alpha1.LabelSpec] {
				return fmt.Errorf("volume %s belongs to spec %q, not %q; rename the volume in template.volumes", v.Name, owner, v.Labels[v1alpha1.LabelSpec])
			}
			continue
		}
		if !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("inspect volume %s: %w", v.Name, classify(err))
		}
		labels := maps.Clone(v.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		labels[v1alpha1.LabelInstance] = r.instance
		if _, err := r.client.VolumeCreate(ctx, volume.CreateOptions{Name: v.Name, Labels: labels}); err != nil {
			return fmt.Errorf("create volume %s: %w", v.Name, classify(err))
		}
		r.log.Info("created volume", "volume", v.Name)
	}
	return nil
}

// volumeMounts maps named volumes onto the Engine's mounts. An empty
// volume gets the image's files at the mount path on first use (the
// Engine's copy-up), so that a directory the image owns for its user
// (/var/lib/redis) stays writable by that user.
func volumeMounts(vs []engine.VolumeMount) []mount.Mount {
	var out []mount.Mount
	for _, v := range vs {
		out = append(out, mount.Mount{Type: mount.TypeVolume, Source: v.Name, Target: v.Target})
	}
	return out
}
