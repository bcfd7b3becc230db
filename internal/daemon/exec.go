package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/controllers"
	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/replicaio"
)

// processStarter is the engine adapter's interactive exec.
type processStarter interface {
	StartProcess(ctx context.Context, id string, o replicaio.ExecOptions) (replicaio.Process, error)
}

func (b *backend) Exec(ctx context.Context, name string, req controlapi.ExecRequest) (replicaio.Process, string, error) {
	starter, ok := b.runtime.(processStarter)
	if !ok {
		return nil, "", errors.New("this engine adapter does not run commands in replicas")
	}
	spec, err := b.Get(ctx, name)
	if err != nil {
		return nil, "", err
	}
	all, err := b.reconciler.ListObserved(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("listing containers: %w", err)
	}
	target, err := execTarget(spec, all, req.Replica)
	if err != nil {
		return nil, "", err
	}
	proc, err := starter.StartProcess(ctx, target.ID, replicaio.ExecOptions{
		Cmd: req.Cmd, TTY: req.TTY, Height: req.Height, Width: req.Width, Stdin: req.Stdin,
	})
	if err != nil {
		return nil, "", err
	}
	return proc, target.Name, nil
}

// execTarget picks the container to run a command in: the one named
// (an app replica or the load balancer, running), or else the first ready
// app replica by number, the one a user would pick from `scalectl get`.
func execTarget(spec *v1alpha1.ScaleSpec, all []controllers.Container, replica string) (controllers.Container, error) {
	name := spec.Metadata.Name
	var mine []controllers.Container
	for _, c := range all {
		if c.Labels[v1alpha1.LabelSpec] == name {
			mine = append(mine, c)
		}
	}
	sort.SliceStable(mine, func(i, j int) bool { return replicaOrder(mine[i]) < replicaOrder(mine[j]) })
	names := make([]string, len(mine))
	for i, c := range mine {
		names[i] = c.Name
	}
	if replica != "" {
		for _, c := range mine {
			if c.Name != replica {
				continue
			}
			if c.State != controllers.StateRunning {
				return c, fmt.Errorf("%w: replica %q of scalespec %q is %s; exec needs a running replica", controlapi.ErrInvalid, replica, name, c.State)
			}
			return c, nil
		}
		return controllers.Container{}, fmt.Errorf("%w: scalespec %q has no replica %q; its replicas: %s", controlapi.ErrNotFound, name, replica, listOrNone(names))
	}
	var upstream []string
	if spec.Status != nil {
		upstream = spec.Status.Upstream
	}
	for _, c := range mine {
		if c.Labels[v1alpha1.LabelRole] != v1alpha1.RoleApp || c.State != controllers.StateRunning {
			continue
		}
		ready := c.Health == controllers.HealthHealthy || (c.Health == controllers.HealthNone && spec.Spec.Template.HealthCheck == nil)
		if ready || slices.Contains(upstream, c.Name) {
			return c, nil
		}
	}
	return controllers.Container{}, fmt.Errorf("%w: scalespec %q has no ready replica (its replicas: %s); name a running one with --replica",
		controlapi.ErrInvalid, name, listOrNone(names))
}
