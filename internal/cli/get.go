package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

type getOptions struct {
	*Options
	output string
	watch  bool
	// interval is how often -w polls.
	interval time.Duration
}

func newGetCommand(o *Options) *cobra.Command {
	g := &getOptions{Options: o, interval: time.Second}
	cmd := &cobra.Command{
		Use:   "get [NAME]",
		Short: "List specs with their replicas and upstream",
		Example: `  scalectl get
  scalectl get web -o wide
  scalectl get web -o json   # the whole object, status included
  scalectl get -w            # print again whenever something changes`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return g.run(cmd.Context(), cmd.OutOrStdout(), name)
		},
	}
	cmd.Flags().StringVarP(&g.output, "output", "o", "", "output format: wide, yaml or json")
	cmd.Flags().BoolVarP(&g.watch, "watch", "w", false, "after listing, print rows again as they change")
	return cmd
}

func (g *getOptions) run(ctx context.Context, out io.Writer, name string) error {
	switch g.output {
	case "", "wide", "yaml", "json":
	default:
		return usageErrorf("--output=%q: use wide, yaml or json", g.output)
	}
	if g.watch && (g.output == "yaml" || g.output == "json") {
		return usageErrorf("--watch prints table rows; drop -o %s or --watch", g.output)
	}
	specs, err := g.fetch(ctx, name)
	if err != nil {
		return err
	}
	switch g.output {
	case "json":
		var v any = specs
		if name != "" {
			v = specs[0]
		}
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(out, string(b))
		return nil
	case "yaml":
		for i, s := range specs {
			b, err := v1alpha1.MarshalYAML(s)
			if err != nil {
				return err
			}
			if i > 0 {
				fmt.Fprintln(out, "---")
			}
			fmt.Fprint(out, string(b))
		}
		return nil
	}
	if len(specs) == 0 && !g.watch {
		fmt.Fprintln(out, "No specs found.")
		return nil
	}
	wide := g.output == "wide"
	last := map[string]string{}
	g.printRows(out, specs, wide, true, last)
	for g.watch {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(g.interval):
		}
		if specs, err = g.fetch(ctx, name); err != nil {
			return err
		}
		g.printRows(out, specs, wide, false, last)
	}
	return nil
}

func (g *getOptions) fetch(ctx context.Context, name string) ([]v1alpha1.ScaleSpec, error) {
	if name == "" {
		return g.client().List(ctx)
	}
	s, err := g.client().Get(ctx, name)
	if err != nil {
		return nil, err
	}
	return []v1alpha1.ScaleSpec{*s}, nil
}

// printRows prints the table; with header false (watching) it prints only
// rows that differ from the last ones printed.
func (g *getOptions) printRows(out io.Writer, specs []v1alpha1.ScaleSpec, wide, header bool, last map[string]string) {
	tw := newTable(out)
	if header {
		cols := []any{"NAME", "READY", "UP-TO-DATE", "UPSTREAM", "AVAILABLE", "SPEC", "REASON"}
		if wide {
			cols = append(cols, "IMAGE", "LOAD BALANCER", "GENERATION", "UPSTREAM MEMBERS", "BACK-OFF", "AUTOSCALING")
		}
		row(tw, cols...)
	}
	for _, s := range specs {
		cells := summaryRow(s, wide)
		line := fmt.Sprint(cells...)
		if !header && last[s.Metadata.Name] == line {
			continue
		}
		last[s.Metadata.Name] = line
		row(tw, cells...)
	}
	tw.Flush()
}

// stallReason is what keeps the spec from converging, in one word: the
// ReplicaFailure condition's reason, else a stalled rollout's, else "-".
// describe and rollout status give the message.
func stallReason(st *v1alpha1.Status) string {
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionReplicaFailure); c != nil && c.Status == v1alpha1.ConditionTrue {
		return c.Reason
	}
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionProgressing); c != nil && c.Status == v1alpha1.ConditionFalse {
		return c.Reason
	}
	if c := v1alpha1.FindCondition(st.Conditions, v1alpha1.ConditionLoadBalancerReady); c != nil && c.Status == v1alpha1.ConditionFalse {
		return c.Reason
	}
	return "-"
}

func summaryRow(s v1alpha1.ScaleSpec, wide bool) []any {
	st := s.Status
	if st == nil {
		st = &v1alpha1.Status{}
	}
	want := desiredReplicas(s)
	cond := func(t string) string {
		if c := v1alpha1.FindCondition(st.Conditions, t); c != nil {
			return string(c.Status)
		}
		return "Unknown"
	}
	specState := "Valid"
	if cond(v1alpha1.ConditionSpecValid) == string(v1alpha1.ConditionFalse) {
		specState = "Invalid"
	}
	cells := []any{s.Metadata.Name, fmt.Sprintf("%d/%d", st.ReadyReplicas, want), st.UpdatedReplicas,
		len(st.Upstream), cond(v1alpha1.ConditionAvailable), specState, stallReason(st)}
	if wide {
		lb := "<none>"
		if s.Spec.LoadBalancer != nil {
			lb = fmt.Sprintf("%s:%d", s.Spec.LoadBalancer.HostIP, s.Spec.LoadBalancer.Port)
		}
		members := strings.Join(st.Upstream, ",")
		if members == "" {
			members = "<none>"
		}
		cells = append(cells, s.Spec.Template.Image, lb, fmt.Sprintf("%d/%d", st.ObservedGeneration, s.Metadata.Generation), members, backoffCell(s.Metadata.Name, st.Backoff),
			autoscalingCell(s))
	}
	return cells
}

// backoffCell names the replica slots held by crash-loop back-off and
// each one's delay ("web-2:20s,web-5:10s"), or "<none>". The delay, not
// the time left, so that `get -w` prints a row when a hold changes, not
// every second.
func backoffCell(spec string, b *v1alpha1.Backoff) string {
	if b == nil || len(b.Slots) == 0 {
		return "<none>"
	}
	var cells []string
	for _, sl := range b.Slots {
		cells = append(cells, fmt.Sprintf("%s:%s", replicaName(spec, sl.Replica), sl.Delay.Duration))
	}
	return strings.Join(cells, ",")
}

// replicaName is the name of a spec's replica slot n.
func replicaName(spec string, n int32) string { return fmt.Sprintf("%s-%d", spec, n) }
