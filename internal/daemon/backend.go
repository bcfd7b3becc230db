package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/controllers"
	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/history"
	"github.com/scaler-dev/scaler/internal/specstore"
)

// backend answers the control API from the spec store (what is wanted)
// and the reconciler (what was observed).
type backend struct {
	store      *specstore.Store
	reconciler *controllers.Reconciler
	runtime    controllers.Runtime
	controller *controllers.Controller
	events     *controllers.Recorder
	history    *history.Store
	// instance is scalerd's --instance, for `scalectl version`.
	instance string
}

var _ controlapi.Backend = (*backend)(nil)

// List returns every spec a file defines, those with no valid version yet
// included: they show as Invalid, with their errors, rather than not at all.
func (b *backend) List(ctx context.Context) ([]v1alpha1.ScaleSpec, error) {
	names := b.store.Names()
	// A spec held because a file that may define it cannot be read is
	// known only to the reconciler, which keeps its containers.
	for _, n := range b.reconciler.Known() {
		if !slices.Contains(names, n) && b.store.Defined(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := make([]v1alpha1.ScaleSpec, 0, len(names))
	for _, n := range names {
		if s, err := b.Get(ctx, n); err == nil {
			out = append(out, *s)
		}
	}
	return out, nil
}

// Get returns the spec in force with its status. A spec with no valid
// version (invalid from its first version, or held because a file that may
// define it cannot be read) comes back as its name and a status that says
// why: SpecValid=False with the errors.
func (b *backend) Get(_ context.Context, name string) (*v1alpha1.ScaleSpec, error) {
	spec, specErr, ok := b.store.Get(name)
	if !ok {
		if !b.store.Defined(name) {
			return nil, fmt.Errorf("scalespec %q: %w; `scalectl get` lists the specs", name, controlapi.ErrNotFound)
		}
		spec = &v1alpha1.ScaleSpec{APIVersion: v1alpha1.GroupVersion, Kind: v1alpha1.Kind, Metadata: v1alpha1.ObjectMeta{Name: name}}
		st, known := b.reconciler.Status(name)
		if !known || v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionSpecValid) == nil {
			msg := "no valid version of this spec is known"
			if specErr != nil {
				msg = specErr.Error()
			}
			st.Conditions = v1alpha1.SetCondition(st.Conditions, v1alpha1.Condition{Type: v1alpha1.ConditionSpecValid,
				Status: v1alpha1.ConditionFalse, Reason: "InvalidSpec", Message: msg, LastTransitionTime: time.Now().UTC().Truncate(time.Second)})
		}
		spec.Status = &st
		return spec, nil
	}
	spec.Default()
	if st, ok := b.reconciler.Status(name); ok {
		spec.Status = &st
	} else {
		spec.Status = &v1alpha1.Status{}
	}
	return spec, nil
}

func (b *backend) Replicas(ctx context.Context, name string) ([]v1alpha1.ReplicaInfo, error) {
	spec, err := b.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	all, err := b.reconciler.ListObserved(ctx)
	if err != nil {
		return nil, err
	}
	inUpstream := map[string]bool{}
	for _, n := range spec.Status.Upstream {
		inUpstream[n] = true
	}
	var out []v1alpha1.ReplicaInfo
	for _, c := range all {
		if c.Labels[v1alpha1.LabelSpec] != name {
			continue
		}
		id := c.ID
		if len(id) > 12 {
			id = id[:12]
		}
		out = append(out, v1alpha1.ReplicaInfo{
			Name: c.Name, ID: id, Role: c.Labels[v1alpha1.LabelRole], State: c.State, Health: c.Health,
			TemplateHash: c.Labels[v1alpha1.LabelTemplateHash], Revision: c.Labels[v1alpha1.LabelRevision],
			InUpstream: inUpstream[c.Name], Draining: b.reconciler.Draining(name, c.ID), Created: c.Created,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Role != out[j].Role {
			return out[i].Role == v1alpha1.RoleLB
		}
		return v1alpha1.CompareReplicaNames(out[i].Name, out[j].Name) < 0
	})
	return out, nil
}

// Apply writes the specs, or with dryRun checks them and says, for each,
// the steps scalerd would take (Reconciler.Preview).
func (b *backend) Apply(ctx context.Context, docs []byte, dryRun bool) ([]controlapi.ApplyResult, error) {
	results, err := b.store.Apply(docs, dryRun)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", controlapi.ErrInvalid, err)
	}
	out := make([]controlapi.ApplyResult, len(results))
	for i, r := range results {
		out[i] = controlapi.ApplyResult{Name: r.Name, Action: r.Action}
		if !dryRun {
			b.controller.Enqueue(r.Name)
			continue
		}
		if out[i].Plan, err = b.reconciler.Preview(ctx, r.Spec); err != nil {
			return nil, fmt.Errorf("planning %s: %w", r.Name, err)
		}
	}
	return out, nil
}

func (b *backend) Scale(_ context.Context, name string, replicas int32) error {
	if replicas < 0 || replicas > v1alpha1.MaxReplicas {
		return fmt.Errorf("%w: --replicas=%d: replicas must be from 0 to %d", controlapi.ErrInvalid, replicas, v1alpha1.MaxReplicas)
	}
	if spec, _, ok := b.store.Get(name); ok && spec.Spec.Autoscaling != nil {
		a := spec.Spec.Autoscaling
		return fmt.Errorf("%w: scalespec %q is autoscaled: spec.autoscaling's minReplicas (%d) and maxReplicas (%d) govern its count, not --replicas; change them with `scalectl scale %s --min N --max N`, or remove spec.autoscaling to set replicas by hand",
			controlapi.ErrInvalid, name, a.Min(), a.MaxReplicas, name)
	}
	if err := b.store.SetReplicas(name, replicas); err != nil {
		return storeError(name, err)
	}
	b.controller.Enqueue(name)
	return nil
}

func (b *backend) SetAutoscalingBounds(_ context.Context, name string, minReplicas, maxReplicas *int32) error {
	if minReplicas == nil && maxReplicas == nil {
		return fmt.Errorf("%w: give --min, --max or both", controlapi.ErrInvalid)
	}
	if err := b.store.SetAutoscalingBounds(name, minReplicas, maxReplicas); err != nil {
		return storeError(name, err)
	}
	b.controller.Enqueue(name)
	return nil
}

func (b *backend) Delete(_ context.Context, name string) error {
	if err := b.store.Delete(name); err != nil {
		return storeError(name, err)
	}
	b.controller.Enqueue(name)
	return nil
}

func (b *backend) Events(_ context.Context, spec string) ([]v1alpha1.Event, error) {
	return b.events.List(spec), nil
}

func storeError(name string, err error) error {
	if errors.Is(err, specstore.ErrNotFound) {
		return fmt.Errorf("scalespec %q: %w", name, controlapi.ErrNotFound)
	}
	return fmt.Errorf("%w: %v", controlapi.ErrInvalid, err)
}
