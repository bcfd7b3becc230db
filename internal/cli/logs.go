package cli

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/internal/controlapi"
)

type logsOptions struct {
	*Options
	follow     bool
	since      string
	tail       int
	timestamps bool
	replicas   []string
	lb         bool
	color      string
}

func newLogsCommand(o *Options) *cobra.Command {
	l := &logsOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Print the logs of a spec's replicas, merged in time order",
		Long: `Print the logs of every replica of a spec, merged in time order, each line
prefixed with its replica's name (in a colour of its own on a terminal).

With -f, logs follows the replicas that come and go while it runs (a scale,
a rollout, a replacement), and says on stderr when one joins (+) or leaves (-).
The logs are read through scalerd, from its own containers only.`,
		Example: `  scalectl logs web
  scalectl logs web -f --tail 10         # the last 10 lines of each replica, then follow
  scalectl logs web --since 5m --timestamps
  scalectl logs web --replica web-2      # one replica (repeat for more)
  scalectl logs web --lb -f              # the replicas and the nginx load balancer`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			return l.run(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], time.Now())
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&l.follow, "follow", "f", false, "keep printing new lines, of replicas that join too")
	f.StringVar(&l.since, "since", "", "only lines newer than a duration (5m, 1h) or an RFC 3339 time")
	f.IntVar(&l.tail, "tail", -1, "only the last N lines of each replica (-1: all)")
	f.BoolVar(&l.timestamps, "timestamps", false, "print each line's time")
	f.StringArrayVar(&l.replicas, "replica", nil, "only this replica (web-2, or the load balancer web-lb); repeatable")
	f.BoolVar(&l.lb, "lb", false, "add the spec's load balancer (nginx) to the replicas")
	f.StringVar(&l.color, "color", "auto", "colour the replica names: auto (on a terminal), always or never")
	_ = cmd.RegisterFlagCompletionFunc("replica", replicaNameCompletion(o))
	return cmd
}

// parseSince reads --since: a duration back from now, or a time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, usageErrorf("--since=%s: give a positive duration like 5m", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageErrorf("--since=%q: give a duration like 5m or 1h30m, or a time like 2026-01-02T15:04:05Z", s)
}

func (l *logsOptions) run(ctx context.Context, out, info io.Writer, name string, now time.Time) error {
	since, err := parseSince(l.since, now)
	if err != nil {
		return err
	}
	if l.tail < -1 {
		return usageErrorf("--tail=%d: give a number of lines, or -1 for all", l.tail)
	}
	p := &logPrinter{out: out, info: info, timestamps: l.timestamps}
	switch l.color {
	case "auto":
		p.color = isTTY(out)
	case "always":
		p.color = true
	case "never":
	default:
		return usageErrorf("--color=%q: use auto, always or never", l.color)
	}
	// Names line up from the first line when the replicas are known; one
	// that joins later and is longer widens the column from then on.
	if reps, err := l.client().Replicas(ctx, name); err == nil {
		for _, r := range reps {
			p.width = max(p.width, len(r.Name))
		}
	}
	opts := controlapi.LogsOptions{Replicas: l.replicas, LoadBalancer: l.lb, Since: since, Tail: l.tail, Follow: l.follow}
	err = l.client().Logs(ctx, name, opts, p.print)
	if err != nil && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil // Ctrl-C ends following
	}
	return err
}

// logPrinter prints records as compose does: "web-2 | line", names padded
// to the widest seen so far, each name in a colour of its own.
type logPrinter struct {
	out, info  io.Writer
	color      bool
	timestamps bool
	width      int
}

// logColors are the ANSI foreground colours that read on dark and light
// backgrounds alike; a replica's colour is a hash of its name, so it is
// the same in every run and every terminal.
var logColors = []string{"36", "33", "32", "35", "34", "31", "96", "93", "92", "95", "94", "91"}

func colorOf(name string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return logColors[h.Sum32()%uint32(len(logColors))]
}

func (p *logPrinter) print(r controlapi.LogRecord) error {
	p.width = max(p.width, len(r.Replica))
	name := r.Replica + strings.Repeat(" ", p.width-len(r.Replica))
	if p.color {
		name = "\x1b[" + colorOf(r.Replica) + "m" + name + "\x1b[0m"
	}
	var err error
	switch {
	case r.Event == controlapi.LogJoined:
		_, err = fmt.Fprintf(p.info, "+ %s joined\n", r.Replica)
	case r.Event == controlapi.LogLeft:
		_, err = fmt.Fprintf(p.info, "- %s left\n", r.Replica)
	case r.Error != "":
		_, err = fmt.Fprintf(p.info, "! %s: %s\n", r.Replica, r.Error)
	case p.timestamps:
		_, err = fmt.Fprintf(p.out, "%s | %s %s\n", name, r.Time.Format(time.RFC3339Nano), r.Line)
	default:
		_, err = fmt.Fprintf(p.out, "%s | %s\n", name, r.Line)
	}
	return err
}
