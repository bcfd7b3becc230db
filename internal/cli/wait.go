package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/controlapi"
)

type waitOptions struct {
	*Options
	forCond  string
	timeout  time.Duration
	interval time.Duration
}

func newWaitCommand(o *Options) *cobra.Command {
	w := &waitOptions{Options: o, interval: 500 * time.Millisecond}
	cmd := &cobra.Command{
		Use:   "wait NAME --for=condition=TYPE[=STATUS] | --for=delete",
		Short: "Wait until a spec has a condition, or is gone; for scripts and CI",
		Long: `Wait until a spec's condition has a status (True unless given), or until the
spec is deleted. Exit 0 when it happens; on timeout exit 1 and print the
spec's last condition, which says what it waits for.

A condition counts only once scalerd has observed the spec's latest
generation, so "apply, then wait" never passes on the status of the
previous version.`,
		Example: `  scalectl wait web --for=condition=Available --timeout 2m
  scalectl wait web --for=condition=Progressing=False
  scalectl delete web && scalectl wait web --for=delete`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return w.run(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
	cmd.Flags().StringVar(&w.forCond, "for", "", "condition=TYPE[=STATUS] (Available, Progressing, SpecValid, LoadBalancerReady, UpstreamInSync) or delete")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 30*time.Second, "how long to wait; 0 checks once")
	_ = cmd.RegisterFlagCompletionFunc("for", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return []cobra.Completion{"delete", "condition=" + v1alpha1.ConditionAvailable, "condition=" + v1alpha1.ConditionProgressing,
			"condition=" + v1alpha1.ConditionSpecValid, "condition=" + v1alpha1.ConditionLoadBalancerReady,
			"condition=" + v1alpha1.ConditionUpstreamInSync}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// waitFor is what --for asks: a condition's status, or deletion.
type waitFor struct {
	delete    bool
	condition string
	status    v1alpha1.ConditionStatus
}

func (f waitFor) String() string {
	if f.delete {
		return "deletion"
	}
	return fmt.Sprintf("condition %s=%s", f.condition, f.status)
}

func parseWaitFor(s string) (waitFor, error) {
	if s == "delete" {
		return waitFor{delete: true}, nil
	}
	rest, ok := strings.CutPrefix(s, "condition=")
	if !ok || rest == "" {
		if s == "" {
			return waitFor{}, usageErrorf("--for is required: --for=condition=Available or --for=delete")
		}
		return waitFor{}, usageErrorf("--for=%q: use condition=TYPE[=STATUS] (like condition=Available) or delete", s)
	}
	cond, status, hasStatus := strings.Cut(rest, "=")
	f := waitFor{condition: cond, status: v1alpha1.ConditionTrue}
	if hasStatus {
		switch strings.ToLower(status) {
		case "true":
		case "false":
			f.status = v1alpha1.ConditionFalse
		case "unknown":
			f.status = v1alpha1.ConditionUnknown
		default:
			return waitFor{}, usageErrorf("--for=%q: the status is True, False or Unknown, not %q", s, status)
		}
	}
	return f, nil
}

// check says whether spec meets f, and if not, the spec's last word on it.
func (f waitFor) check(spec *v1alpha1.ScaleSpec) (bool, string) {
	var conds []v1alpha1.Condition
	var observed int64
	if spec.Status != nil {
		conds, observed = spec.Status.Conditions, spec.Status.ObservedGeneration
	}
	var c *v1alpha1.Condition
	for i := range conds {
		if strings.EqualFold(conds[i].Type, f.condition) { // as kubectl, any case
			c = &conds[i]
		}
	}
	if c == nil {
		return false, fmt.Sprintf("no %s condition reported yet", f.condition)
	}
	last := fmt.Sprintf("%s=%s", c.Type, c.Status)
	if c.Reason != "" {
		last += " (" + c.Reason + ")"
	}
	if c.Message != "" {
		last += ": " + c.Message
	}
	if observed < spec.Metadata.Generation {
		return false, fmt.Sprintf("scalerd has not observed generation %d yet (status is of %d); last: %s", spec.Metadata.Generation, observed, last)
	}
	return c.Status == f.status, last
}

func (w *waitOptions) run(ctx context.Context, out io.Writer, name string) error {
	f, err := parseWaitFor(w.forCond)
	if err != nil {
		return err
	}
	if w.timeout < 0 {
		return usageErrorf("--timeout=%s: give a positive duration, or 0 to check once", w.timeout)
	}
	c := w.client()
	deadline := time.Now().Add(w.timeout)
	last := ""
	for {
		spec, err := c.Get(ctx, name)
		switch {
		case f.delete && errors.Is(err, controlapi.ErrNotFound):
			fmt.Fprintf(out, "scalespec/%s deleted\n", name)
			return nil
		case err != nil:
			return err
		case f.delete:
			last = "the spec still exists"
		default:
			met, why := f.check(spec)
			if met {
				fmt.Fprintf(out, "scalespec/%s condition met: %s\n", name, why)
				return nil
			}
			last = why
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s of scalespec/%s; %s", w.timeout, f, name, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(w.interval, time.Until(deadline))):
		}
	}
}
