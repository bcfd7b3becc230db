package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

func newDescribeCommand(o *Options) *cobra.Command {
	return &cobra.Command{
		Use:     "describe NAME",
		Short:   "Show a spec in detail: status, conditions, replicas, events",
		Example: `  scalectl describe web`,
		Args:    exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return describe(cmd.Context(), o, cmd.OutOrStdout(), args[0], time.Now())
		},
	}
}

// exactlyOneName requires a single spec name argument.
func exactlyOneName(_ *cobra.Command, args []string) error {
	if len(args) != 1 {
		return usageErrorf("give exactly one spec name (scalectl get lists them), got %d arguments", len(args))
	}
	return nil
}

func describe(ctx context.Context, o *Options, out io.Writer, name string, now time.Time) error {
	c := o.client()
	s, err := c.Get(ctx, name)
	if err != nil {
		return err
	}
	replicas, err := c.Replicas(ctx, name)
	if err != nil {
		return err
	}
	events, err := c.Events(ctx, name)
	if err != nil {
		return err
	}
	st := s.Status
	if st == nil {
		st = &v1alpha1.Status{}
	}
	sp := s.Spec
	t := sp.Template
	field := func(label string, v any) { fmt.Fprintf(out, "%-16s%v\n", label+":", v) }
	field("Name", s.Metadata.Name)
	field("Generation", fmt.Sprintf("%d (observed %d)", s.Metadata.Generation, st.ObservedGeneration))
	field("Replicas", fmt.Sprintf("%d desired | %d total | %d ready | %d updated", desiredReplicas(*s), st.Replicas, st.ReadyReplicas, st.UpdatedReplicas))
	for i, line := range autoscalingLines(*s) {
		label := ""
		if i == 0 {
			label = "Autoscaling:"
		}
		fmt.Fprintf(out, "%-16s%s\n", label, line)
	}
	field("Image", t.Image)
	if len(t.Command) > 0 {
		field("Command", strings.Join(t.Command, " "))
	}
	field("Port", t.Port)
	field("Network", sp.Network)
	if len(sp.DependsOn) > 0 {
		field("Depends on", strings.Join(sp.DependsOn, ", "))
	}
	if hc := t.HealthCheck; hc != nil {
		field("Health check", fmt.Sprintf("%s (every %s, timeout %s, %d retries)", strings.Join(hc.Command, " "), durStr(hc.Interval), durStr(hc.Timeout), deref(hc.Retries)))
	}
	lim := t.Resources.Limits
	if lim.CPUs != "" || lim.Memory != "" {
		field("Limits", fmt.Sprintf("cpus %s, memory %s", orNone(lim.CPUs), orNone(lim.Memory)))
	}
	if len(t.Volumes) > 0 {
		var vols []string
		for _, v := range t.Volumes {
			vols = append(vols, fmt.Sprintf("%s on %s (Docker volume %s)", v.Name, v.MountPath, v1alpha1.VolumeName(s.Metadata.Name, v.Name)))
		}
		field("Volumes", strings.Join(vols, "; "))
	}
	if sg := sp.Strategy; sg.MaxSurge != nil {
		field("Strategy", fmt.Sprintf("maxSurge %s, maxUnavailable %s, drainTimeout %s", intOrPercent(sg.MaxSurge), intOrPercent(sg.MaxUnavailable), durStr(sg.DrainTimeout)))
	}
	if st.CurrentRevision > 0 {
		field("Revision", st.CurrentRevision)
	}
	if b := st.Backoff; b != nil {
		// Why a rollout or scale-up stalls: slots whose replicas keep
		// failing before they ever become ready. Replicas that had been
		// ready are replaced at once and never appear here.
		var slots []string
		for _, sl := range b.Slots {
			slots = append(slots, fmt.Sprintf("%s: %d failed before ready in a row, back-off %s, next replica in %s",
				replicaName(s.Metadata.Name, sl.Replica), sl.Failures, sl.Delay.Duration, max(0, sl.Until.Sub(now)).Round(time.Second)))
		}
		field("Back-off", strings.Join(slots, "; "))
	}
	if lb := sp.LoadBalancer; lb != nil {
		field("Load balancer", fmt.Sprintf("http://%s:%d/ (%s, maxFails %d, failTimeout %s)", lb.HostIP, lb.Port, lb.Algorithm, deref(lb.MaxFails), durStr(lb.FailTimeout)))
		field("Upstream", orNone(strings.Join(st.Upstream, " ")))
	}

	fmt.Fprintln(out, "Conditions:")
	tw := newTable(out)
	row(tw, "  TYPE", "STATUS", "REASON", "AGE", "MESSAGE")
	for _, c := range st.Conditions {
		row(tw, "  "+c.Type, c.Status, c.Reason, age(c.LastTransitionTime, now), c.Message)
	}
	tw.Flush()

	fmt.Fprintln(out, "Containers:")
	tw = newTable(out)
	row(tw, "  NAME", "ROLE", "STATE", "HEALTH", "UPSTREAM", "TEMPLATE", "AGE")
	for _, r := range replicas {
		upstream := "-"
		if r.Role == v1alpha1.RoleApp {
			upstream = "no"
			if r.InUpstream {
				upstream = "yes"
			}
			if r.Draining {
				upstream = "draining"
			}
		}
		row(tw, "  "+r.Name, r.Role, r.State, orNone(r.Health), upstream, orNone(r.TemplateHash), age(r.Created, now))
	}
	tw.Flush()

	fmt.Fprintln(out, "Events:")
	if len(events) == 0 {
		fmt.Fprintln(out, "  <none>")
		return nil
	}
	printEvents(out, events, now, "  ")
	return nil
}

// printEvents prints events as a table, oldest first.
func printEvents(out io.Writer, events []v1alpha1.Event, now time.Time, indent string) {
	tw := newTable(out)
	row(tw, indent+"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE")
	for _, e := range events {
		row(tw, indent+lastSeen(e, now), e.Type, e.Reason, e.Object, e.Message)
	}
	tw.Flush()
}

// lastSeen says when an event was last seen and, for a folded repeat, how
// many times since it was first seen, as kubectl does: "5s (x3 over 2m)".
func lastSeen(e v1alpha1.Event, now time.Time) string {
	last := age(e.LastTimestamp, now)
	if e.Count <= 1 {
		return last
	}
	return fmt.Sprintf("%s (x%d over %s)", last, e.Count, age(e.FirstTimestamp, now))
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func durStr(d *v1alpha1.Duration) string {
	if d == nil {
		return "<none>"
	}
	return d.Duration.String()
}

func intOrPercent(v *v1alpha1.IntOrPercent) string {
	if v == nil {
		return "<none>"
	}
	if v.IsPercent {
		return fmt.Sprintf("%d%%", v.Value)
	}
	return fmt.Sprint(v.Value)
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
