package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// Reasons of the ReplicaFailure condition: what keeps replicas of the
// current template from being created or turning ready.
const (
	StallImageNotFound = "ImageNotFound"
	StallCreateFailed  = "CreateFailed"
	StallWaiting       = "WaitingForDependencies"
	StallUnhealthy     = "Unhealthy"
	StallProbeFailing  = "ProbeFailing"
	StallExited        = "Exited"
	StallBackOff       = "BackOff"
)

// stallAfter is how long a replica may stay "starting" before the
// output of its failing health check is shown: long enough that a
// replica which is merely slow to start is not called failing.
const stallAfter = 10 * time.Second

// stall is why the current template's replicas do not all run and serve.
type stall struct {
	reason, message string
}

// findStall says what keeps the current template's replicas from being
// created or turning ready, or returns nil when nothing does. It looks,
// in order, at the create error that still stands, the dependencies waited for, then
// the lowest-numbered replica of the template that failed or is still not
// ready after stallAfter. At most one Engine call (that replica's last
// health check) is made, and only when there is such a replica, so a
// converged spec costs nothing.
func (r *Reconciler) findStall(ctx context.Context, spec, hash string, app []Container, plan Plan, createErr error, waiting []string, now time.Time) *stall {
	if s := createStall(createErr); s != nil {
		return s
	}
	switch {
	case plan.Blocked > 0 && len(waiting) > 0:
		return &stall{StallWaiting, fmt.Sprintf("waiting for %s to be ready before creating %d replica(s)", strings.Join(waiting, ", "), plan.Blocked)}
	}
	for _, c := range sortedByIndex(app) {
		if c.Labels[v1alpha1.LabelTemplateHash] != hash {
			continue
		}
		switch {
		case c.State == StateExited || c.State == StateDead:
			return &stall{StallExited, fmt.Sprintf("%s exited; it is replaced", c.Name)}
		case IsUnhealthy(c):
			return &stall{StallUnhealthy, fmt.Sprintf("%s is unhealthy%s", c.Name, r.probeSays(ctx, c))}
		case c.State == StateRunning && c.Health == HealthStarting && !c.Created.IsZero() && now.Sub(c.Created) > stallAfter:
			if says := r.probeSays(ctx, c); says != "" {
				// No elapsed time in the message: it would change on every
				// pass, and `rollout status -w` prints each change.
				return &stall{StallProbeFailing, fmt.Sprintf("%s has not passed its health check since it started%s", c.Name, says)}
			}
		}
	}
	if len(plan.Held) > 0 {
		names := make([]string, len(plan.Held))
		for i, slot := range plan.Held {
			names[i] = ReplicaName(spec, slot)
		}
		return &stall{StallBackOff, fmt.Sprintf("the new replicas of %s fail before they become ready: held by crash-loop back-off", strings.Join(names, ", "))}
	}
	return nil
}

// createStall is the stall failed creates cause, nil for no error. The
// error stays the stall until a create of the template succeeds (see
// createFailure).
func createStall(createErr error) *stall {
	switch {
	case errors.Is(createErr, ErrImageNotFound):
		return &stall{StallImageNotFound, firstLine(createErr.Error())}
	case createErr != nil:
		return &stall{StallCreateFailed, firstLine(createErr.Error())}
	}
	return nil
}

// probeSays is ": last health check exited N: OUTPUT" for a replica whose
// last health check failed, else "".
func (r *Reconciler) probeSays(ctx context.Context, c Container) string {
	p, err := r.Runtime.LastProbe(ctx, c.ID)
	if err != nil || p.ExitCode == 0 {
		return ""
	}
	out := strings.Join(strings.Fields(p.Output), " ")
	if out == "" {
		out = "no output"
	}
	return fmt.Sprintf(": last health check exited %d: %s", p.ExitCode, out)
}

// setStall records s as the ReplicaFailure condition, or removes the
// condition when s is nil, with an event when a replica is first seen
// failing its start.
func (r *Reconciler) setStall(name string, st *specState, s *stall) {
	r.mu.Lock()
	prev := v1alpha1.FindCondition(st.status.Conditions, v1alpha1.ConditionReplicaFailure)
	changed := (prev == nil) != (s == nil) || prev != nil && s != nil && prev.Reason != s.reason
	if s == nil {
		st.status.Conditions = v1alpha1.RemoveCondition(st.status.Conditions, v1alpha1.ConditionReplicaFailure)
	} else {
		st.status.Conditions = v1alpha1.SetCondition(st.status.Conditions, r.condition(v1alpha1.ConditionReplicaFailure, v1alpha1.ConditionTrue, s.reason, s.message))
	}
	r.mu.Unlock()
	if changed && s != nil && s.reason == StallProbeFailing {
		// The other causes have events of their own (CreateFailed,
		// ReplicaUnhealthy, ReplicaFailed, BackOff, WaitingForDependencies).
		r.Events.Eventf(name, "scalespec/"+name, v1alpha1.EventWarning, s.reason, "%s", s.message)
	}
}

// firstLine is s up to its first newline: joined errors of many replicas
// failing alike say it once.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
