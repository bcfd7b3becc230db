package docker

import (
	"context"
	"errors"
	"fmt"

	"github.com/scaler-dev/scaler/engine"
)

// ImageExists reports whether the image ref (a name:tag or an ID) is on the
// Engine. Nothing is pulled: scaler's images are built locally, so the
// controller checks a new load balancer's image before it stops the old
// one, instead of learning of a typo from a create that fails when the old
// load balancer is already gone.
func (r *Runtime) ImageExists(ctx context.Context, ref string) (bool, error) {
	if ref == "" {
		return false, nil
	}
	if _, err := r.client.ImageInspect(ctx, ref); err != nil {
		if err = classify(err); errors.Is(err, engine.ErrNotFound) {
			return false, nil
		}
		return false, fmt.Errorf("inspect image %q: %w", ref, err)
	}
	return true, nil
}

// RenameContainer gives a container another name. A name taken by another
// container wraps engine.ErrConflict. A load balancer that had to be
// created beside the one it replaces takes the usual name back this way, so
// that `scalectl exec --replica web-lb` and `docker logs web-lb` keep working.
func (r *Runtime) RenameContainer(ctx context.Context, id, name string) error {
	if err := r.client.ContainerRename(ctx, id, name); err != nil {
		return fmt.Errorf("rename container %s to %s: %w", id, name, classify(err))
	}
	return nil
}
