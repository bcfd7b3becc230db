package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/events"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/engine"
)

// watchedActions are the container events that can change what a reconcile
// decides. Everything else is filtered out by the Engine, above all
// exec_create and exec_start: the controller execs into nginx on every
// reload, and reacting to its own execs would loop.
//
// "health_status" matches "health_status: healthy" and the other states
// because the Engine compares that action by prefix.
var watchedActions = []events.Action{
	events.ActionStart,
	events.ActionDie,
	events.ActionStop,
	events.ActionDestroy,
	events.ActionOOM,
	events.ActionHealthStatus,
}

// Events streams the lifecycle and health events of this instance's
// containers. It
// is one Engine event stream and no more: when the stream breaks, the error
// channel receives why and the event channel is closed; reconnecting, with
// back-off and a full resync, is the caller's job. When ctx ends, the error
// channel receives nil.
func (r *Runtime) Events(ctx context.Context) (<-chan engine.Event, <-chan error) {
	args := r.managedFilter()
	args.Add("type", string(events.ContainerEventType))
	for _, a := range watchedActions {
		args.Add("event", string(a))
	}
	msgs, errs := r.client.Events(ctx, events.ListOptions{Filters: args})

	out := make(chan engine.Event)
	errc := make(chan error, 1)
	go func() {
		defer close(out)
		for {
			select {
			case m := <-msgs:
				ev, ok := toEvent(m, r.instance)
				if !ok {
					continue
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					errc <- nil
					return
				}
			case err := <-errs:
				errc <- streamError(ctx, err)
				return
			}
		}
	}()
	return out, errc
}

// streamError says why the stream stopped: nil when the caller ended it.
func streamError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return nil
	case err == nil, errors.Is(err, io.EOF):
		return errors.New("docker event stream ended")
	default:
		return fmt.Errorf("docker event stream: %w", classify(err))
	}
}

// toEvent keeps what the controller may use from a message. The Engine
// filters already, but a second check keeps the contract independent of
// how faithfully an Engine (or a proxy in front of it) applies filters.
func toEvent(m events.Message, instance string) (engine.Event, bool) {
	attrs := m.Actor.Attributes
	if m.Type != events.ContainerEventType ||
		attrs[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue || attrs[v1alpha1.LabelInstance] != instance {
		return engine.Event{}, false
	}
	action := string(m.Action)
	watched := false
	for _, a := range watchedActions {
		if action == string(a) || strings.HasPrefix(action, string(a)+":") {
			watched = true
			break
		}
	}
	if !watched {
		return engine.Event{}, false
	}
	// Attributes mix the container's labels with the Engine's own keys
	// (name, image, exitCode); only scaler's labels are passed on.
	labels := map[string]string{}
	for k, v := range m.Actor.Attributes {
		if strings.HasPrefix(k, v1alpha1.LabelPrefix) {
			labels[k] = v
		}
	}
	return engine.Event{
		Action:      action,
		ContainerID: m.Actor.ID,
		Labels:      labels,
		Time:        time.Unix(0, m.TimeNano),
	}, true
}
