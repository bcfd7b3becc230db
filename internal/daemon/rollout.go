package daemon

import (
	"context"
	"errors"
	"fmt"

	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/history"
)

func (b *backend) RolloutHistory(ctx context.Context, name string) ([]controlapi.RolloutRevision, error) {
	spec, err := b.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	revs, err := b.history.List(name)
	if err != nil {
		return nil, err
	}
	out := make([]controlapi.RolloutRevision, len(revs))
	for i, r := range revs {
		out[i] = controlapi.RolloutRevision{Revision: r.Revision, Hash: r.Hash, Created: r.Created, Template: r.Template,
			Current: r.Revision == spec.Status.CurrentRevision}
	}
	return out, nil
}

func (b *backend) RolloutUndo(ctx context.Context, name string, toRevision int64) (controlapi.UndoResult, error) {
	if _, err := b.Get(ctx, name); err != nil {
		return controlapi.UndoResult{}, err
	}
	if toRevision < 0 {
		return controlapi.UndoResult{}, fmt.Errorf("%w: --to-revision=%d: give a revision number from `scalectl rollout history %s`, or 0 for the previous one", controlapi.ErrInvalid, toRevision, name)
	}
	rev, err := b.history.Previous(name, toRevision)
	if errors.Is(err, history.ErrNoRevision) {
		return controlapi.UndoResult{}, fmt.Errorf("%w: %v", controlapi.ErrInvalid, err)
	}
	if err != nil {
		return controlapi.UndoResult{}, err
	}
	// The template goes back into the spec file, so that the file stays
	// the truth: a later edit starts from what runs.
	if err := b.store.SetTemplate(name, rev.Template); err != nil {
		return controlapi.UndoResult{}, storeError(name, err)
	}
	b.controller.Enqueue(name)
	return controlapi.UndoResult{Revision: rev.Revision}, nil
}

func (b *backend) RolloutRestart(ctx context.Context, name string) error {
	if _, err := b.Get(ctx, name); err != nil {
		return err
	}
	if _, err := b.history.Restart(name); err != nil {
		return err
	}
	b.controller.Enqueue(name)
	return nil
}

func (b *backend) Sync(context.Context) error {
	b.store.Reload()
	return nil
}
