package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

func newRolloutCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout SUBCOMMAND",
		Short: "Manage rollouts: status, history, undo, restart",
		Long: `A change of a spec's template (image, env, command, resources, health check)
rolls the replicas over to it within strategy.maxSurge and maxUnavailable.
These commands follow, list, undo and restart such rollouts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageErrorf("rollout needs a subcommand: status, history, undo or restart")
		},
	}
	cmd.AddCommand(newRolloutStatusCommand(o), newRolloutHistoryCommand(o), newRolloutUndoCommand(o), newRolloutRestartCommand(o))
	return cmd
}

func newRolloutStatusCommand(o *Options) *cobra.Command {
	var timeout time.Duration
	var watch bool
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Wait for a rollout to finish, printing its progress",
		Long: `Status waits until every replica runs the current template and is ready, as
kubectl rollout status does. It exits 0 once the rollout is done, and 1 if the
rollout exceeds its progress deadline or --timeout passes first.`,
		Example: `  scalectl rollout status web
  scalectl rollout status web --timeout 2m`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return usageErrorf("--timeout=%s: use a positive duration, or 0 to wait for ever", timeout)
			}
			ctx := cmd.Context()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return rolloutStatus(ctx, o, cmd.OutOrStdout(), args[0], watch, time.Second)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (0: wait for ever)")
	cmd.Flags().BoolVarP(&watch, "watch", "w", true, "wait for the rollout to finish; with --watch=false print the state once")
	return cmd
}

// errRolloutStalled is returned when a rollout passes its deadline.
var errRolloutStalled = errors.New("rollout stalled")

func rolloutStatus(ctx context.Context, o *Options, out io.Writer, name string, watch bool, poll time.Duration) error {
	c := o.client()
	// A spec file saved a moment ago may not have reached scalerd's
	// watcher yet; judging by the old spec would report the old rollout.
	if err := c.Sync(ctx); err != nil {
		return err
	}
	last := ""
	for {
		s, err := c.Get(ctx, name)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("timed out waiting for the rollout of %s: %s", name, last)
			}
			return err
		}
		msg, done, err := rolloutState(s)
		if err != nil {
			return err
		}
		if msg != last {
			fmt.Fprintln(out, msg)
			last = msg
		}
		if done || !watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for the rollout of %s: %s", name, last)
		case <-time.After(poll):
		}
	}
}

// rolloutState says where a rollout stands, in kubectl's words.
func rolloutState(s *v1alpha1.ScaleSpec) (msg string, done bool, err error) {
	st := s.Status
	if st == nil || st.ObservedGeneration < s.Metadata.Generation {
		return "Waiting for rollout to finish: spec update to be observed...", false, nil
	}
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionProgressing); c != nil && c.Reason == "ProgressDeadlineExceeded" {
		cause := ""
		if f := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionReplicaFailure); f != nil && f.Status == v1alpha1.ConditionTrue {
			cause = fmt.Sprintf("; %s: %s", f.Reason, f.Message)
		}
		return "", false, fmt.Errorf("%w: scalespec %q exceeded its progress deadline: %s%s", errRolloutStalled, s.Metadata.Name, c.Message, cause)
	}
	want := deref(s.Spec.Replicas)
	// Why it waits, when scalerd knows: crash-loop back-off's held slots
	// and their delays, else the ReplicaFailure condition (a missing image,
	// a failing health check). Both are stable values, so that the watch
	// prints a line per change.
	why := ""
	if b := st.Backoff; b != nil && len(b.Slots) > 0 {
		why = fmt.Sprintf(" (back-off holds %s: its new replicas fail before they become ready)", backoffCell(s.Metadata.Name, b))
	} else if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionReplicaFailure); c != nil && c.Status == v1alpha1.ConditionTrue {
		why = fmt.Sprintf("\n  %s: %s", c.Reason, c.Message)
	}
	switch {
	case st.UpdatedReplicas < want:
		return fmt.Sprintf("Waiting for rollout to finish: %d out of %d new replicas have been updated...%s", st.UpdatedReplicas, want, why), false, nil
	case st.Replicas > st.UpdatedReplicas:
		return fmt.Sprintf("Waiting for rollout to finish: %d old replicas are pending termination...%s", st.Replicas-st.UpdatedReplicas, why), false, nil
	case st.UpdatedReadyReplicas < st.UpdatedReplicas:
		return fmt.Sprintf("Waiting for rollout to finish: %d of %d updated replicas are available...%s", st.UpdatedReadyReplicas, st.UpdatedReplicas, why), false, nil
	}
	return fmt.Sprintf("scalespec %q successfully rolled out", s.Metadata.Name), true, nil
}

func newRolloutHistoryCommand(o *Options) *cobra.Command {
	var revision int64
	cmd := &cobra.Command{
		Use:   "history NAME",
		Short: "List a spec's revisions, or show one with --revision",
		Example: `  scalectl rollout history web
  scalectl rollout history web --revision 2`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			revs, err := o.client().RolloutHistory(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if revision != 0 {
				for _, r := range revs {
					if r.Revision == revision {
						fmt.Fprintf(out, "scalespec/%s with revision #%d\n", args[0], r.Revision)
						b, err := v1alpha1.MarshalYAML(map[string]any{"template": r.Template})
						if err != nil {
							return err
						}
						_, err = out.Write(b)
						return err
					}
				}
				return usageErrorf("--revision=%d: %s has no such revision; run scalectl rollout history %s", revision, args[0], args[0])
			}
			fmt.Fprintf(out, "scalespec/%s\n", args[0])
			tw := newTable(out)
			row(tw, "REVISION", "HASH", "IMAGE", "CREATED", "")
			for _, r := range revs {
				mark := ""
				if r.Current {
					mark = "(current)"
				}
				row(tw, r.Revision, r.Hash, r.Template.Image, r.Created.Local().Format(time.DateTime), mark)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().Int64Var(&revision, "revision", 0, "show the template of this revision")
	return cmd
}

func newRolloutUndoCommand(o *Options) *cobra.Command {
	var toRevision int64
	cmd := &cobra.Command{
		Use:   "undo NAME [--to-revision N]",
		Short: "Go back to the previous revision, or to revision N",
		Long: `Undo writes the template of an earlier revision back into the spec's file (the
file stays the truth) and scalerd rolls the replicas over to it.`,
		Example: `  scalectl rollout undo web
  scalectl rollout undo web --to-revision 1`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if toRevision < 0 {
				return usageErrorf("--to-revision=%d: give a revision from scalectl rollout history %s", toRevision, args[0])
			}
			res, err := o.client().RolloutUndo(cmd.Context(), args[0], toRevision)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "scalespec/%s rolled back (to the template of revision %d)\n", args[0], res.Revision)
			return nil
		},
	}
	cmd.Flags().Int64Var(&toRevision, "to-revision", 0, "the revision to go back to (0: the previous one)")
	return cmd
}

func newRolloutRestartCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:   "restart NAME",
		Short: "Replace every replica, one by one, without changing the template",
		Args:  exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.client().RolloutRestart(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "scalespec/%s restarted\n", args[0])
			return nil
		},
	}
}
