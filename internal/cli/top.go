package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/internal/controlapi"
)

type topOptions struct {
	*Options
	redis  string
	output string
	watch  bool
	// interval is how long --watch waits between samples.
	interval time.Duration
}

func newTopCommand(o *Options) *cobra.Command {
	t := &topOptions{Options: o, interval: 2 * time.Second}
	cmd := &cobra.Command{
		Use:   "top [NAME]",
		Short: "Show each replica's CPU, memory, health, upstream membership and share of the requests",
		Long: `top samples every app replica of a spec, or of all specs without NAME: CPU and
memory from the Engine's stats against the template's limits, health, whether
nginx sends it traffic, and how many requests it served with its share of the
total. It is the tutorial's "docker stats" and "redis-cli mget requests:*" in
one table.

CPU(%) is of one CPU, as docker stats shows it: 100% is a full core, so a
replica limited to 0.5 CPUs tops out at 50%.

REQUESTS are the demoapp's requests:<replica> counters, read with redis-cli in
a replica of the spec named by --redis (by default the spec's first
dependsOn). They count since Redis started, per replica name, so a
replacement carries on from the replica it replaced. When they cannot be
read, the column shows "-" and a line under the table says why.`,
		Example: `  scalectl top web
  scalectl top               # every spec's replicas
  scalectl top web -w        # sample again every 2s
  scalectl top web --redis cache -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return t.run(cmd.Context(), cmd.OutOrStdout(), name)
		},
	}
	cmd.Flags().StringVar(&t.redis, "redis", "", "spec whose Redis holds the requests:<replica> counters (default: the spec's first dependsOn)")
	cmd.Flags().StringVarP(&t.output, "output", "o", "", "output format: json")
	cmd.Flags().BoolVarP(&t.watch, "watch", "w", false, "sample again every 2s; on a terminal the table is redrawn in place")
	_ = cmd.RegisterFlagCompletionFunc("redis", specNameCompletion(o, false))
	return cmd
}

func (t *topOptions) run(ctx context.Context, out io.Writer, name string) error {
	if t.output != "" && t.output != "json" {
		return usageErrorf("--output=%q: use json, or leave it out for a table", t.output)
	}
	redraw := t.watch && isTerminal(out)
	for first := true; ; first = false {
		reports, err := t.client().Top(ctx, name, controlapi.TopOptions{Redis: t.redis})
		if err != nil {
			if t.watch && ctx.Err() != nil {
				return nil // interrupted while sampling
			}
			return err
		}
		var buf bytes.Buffer
		if t.output == "json" {
			var v any = reports
			if name != "" {
				v = reports[0]
			}
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return err
			}
			buf.Write(append(b, '\n'))
		} else {
			writeTop(&buf, reports, name == "")
		}
		switch {
		case redraw:
			fmt.Fprint(out, "\x1b[H\x1b[2J") // home, clear screen
		case !first:
			fmt.Fprintln(out)
		}
		if _, err := out.Write(buf.Bytes()); err != nil {
			return err
		}
		if !t.watch {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(t.interval):
		}
	}
}

// writeTop prints the reports as one table, with a SPEC column when they
// are of several specs, and under it where the requests came from or why
// they are unknown, and any replica whose stats failed.
func writeTop(w io.Writer, reports []controlapi.TopReport, withSpec bool) {
	n := 0
	for _, r := range reports {
		n += len(r.Replicas)
	}
	if n == 0 {
		if withSpec {
			fmt.Fprintln(w, "No replicas found.")
		} else {
			fmt.Fprintf(w, "No replicas of %s found.\n", reports[0].Spec)
		}
		return
	}
	tw := newTable(w)
	header := []any{"NAME", "CPU(%)", "CPU LIMIT", "MEMORY", "MEM LIMIT", "HEALTH", "UPSTREAM", "REQUESTS", "SHARE", "DEGRADED"}
	if withSpec {
		header = append([]any{"SPEC"}, header...)
	}
	row(tw, header...)
	var notes []string
	for _, r := range reports {
		prefix := ""
		if withSpec {
			prefix = r.Spec + ": "
		}
		for _, u := range r.Replicas {
			cells := usageCells(u, r.LoadBalancer)
			if withSpec {
				cells = append([]any{r.Spec}, cells...)
			}
			row(tw, cells...)
			if u.StatsError != "" {
				notes = append(notes, fmt.Sprintf("%s: no stats: %s", u.Name, u.StatsError))
			}
		}
		switch {
		case len(r.Replicas) == 0:
		case r.RequestsUnknown != "":
			notes = append(notes, prefix+"requests unknown: "+r.RequestsUnknown)
		case r.RequestsFrom != "":
			notes = append(notes, fmt.Sprintf("%s%d requests in all, from %s", prefix, r.TotalRequests, r.RequestsFrom))
		}
	}
	tw.Flush()
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
}

func usageCells(u controlapi.ReplicaUsage, loadBalanced bool) []any {
	sampled := u.State == "running" && u.StatsError == ""
	cpu, mem := "-", "-"
	if sampled {
		cpu = fmt.Sprintf("%.1f%%", u.CPUPercent)
		mem = humanBytes(u.MemoryBytes)
	}
	cpuLimit := "-"
	if u.CPULimit > 0 {
		cpuLimit = strconv.FormatFloat(u.CPULimit, 'f', -1, 64)
	}
	memLimit := "-"
	if u.MemoryLimitBytes > 0 {
		memLimit = humanBytes(uint64(u.MemoryLimitBytes))
		if sampled {
			memLimit += fmt.Sprintf(" (%.0f%%)", float64(u.MemoryBytes)/float64(u.MemoryLimitBytes)*100)
		}
	}
	health := u.State
	if u.State == "running" {
		health = orNone(u.Health)
	}
	upstream := "no"
	switch {
	case !loadBalanced:
		upstream = "-"
	case u.Draining:
		upstream = "draining"
	case u.InUpstream:
		upstream = "yes"
	}
	requests, share := "-", "-"
	if u.Requests != nil {
		requests = strconv.FormatInt(*u.Requests, 10)
	}
	if u.Share != nil {
		share = fmt.Sprintf("%5.1f%% %s", *u.Share*100, shareBar(*u.Share, 10))
	}
	return []any{u.Name, cpu, cpuLimit, mem, memLimit, health, upstream, requests, share, degradedCell(u)}
}

// degradedCell is the share of the replica's answers its health check
// reports as degraded (demoapp: served without Redis), "-" when unknown.
func degradedCell(u controlapi.ReplicaUsage) string {
	switch {
	case u.Answers == nil || u.Degraded == nil:
		return "-"
	case *u.Answers == 0:
		return "0 of 0"
	}
	return fmt.Sprintf("%.1f%% (%d of %d)", float64(*u.Degraded)/float64(*u.Answers)*100, *u.Degraded, *u.Answers)
}

// shareBar draws share (0 to 1) as a bar of width cells, in eighths of a
// cell, so that 12% and 15% look different in a 10-cell bar.
func shareBar(share float64, width int) string {
	eighths := int(math.Round(math.Max(0, math.Min(1, share)) * float64(width*8)))
	bar := strings.Repeat("█", eighths/8)
	if rest := eighths % 8; rest > 0 {
		bar += string([]rune("▏▎▍▌▋▊▉")[rest-1])
	}
	return bar
}

// humanBytes prints a size in binary units as Kubernetes writes them
// (128Mi), which is also how the limits are usually given.
func humanBytes(n uint64) string {
	if n < 1024 {
		return fmt.Sprintf("%dB", n)
	}
	v, unit := float64(n)/1024, 0
	for v >= 1024 && unit < 4 {
		v /= 1024
		unit++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0") + string("KMGTP"[unit]) + "i"
}

// isTerminal reports whether out is a terminal, where --watch redraws in
// place; into a file or pipe it prints one table after another.
func isTerminal(out io.Writer) bool {
	f, ok := out.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
