package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
)

func newEventsCommand(o *Options) *cobra.Command {
	var watch bool
	cmd := &cobra.Command{
		Use:   "events [NAME]",
		Short: "List recent events, of one spec or all",
		Example: `  scalectl events
  scalectl events web -w`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return events(cmd.Context(), o, cmd.OutOrStdout(), name, watch)
		},
	}
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "keep printing new events")
	return cmd
}

func events(ctx context.Context, o *Options, out io.Writer, name string, watch bool) error {
	c := o.client()
	evs, err := c.Events(ctx, name)
	if err != nil {
		return err
	}
	if len(evs) == 0 && !watch {
		fmt.Fprintln(out, "No events found.")
		return nil
	}
	printEvents(out, evs, time.Now(), "")
	// Watching polls and prints what is newer than the last event seen.
	last := time.Time{}
	if len(evs) > 0 {
		last = evs[len(evs)-1].LastTimestamp
	}
	for watch {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
		evs, err := c.Events(ctx, name)
		if err != nil {
			return err
		}
		tw := newTable(out)
		for _, e := range evs {
			if e.LastTimestamp.After(last) {
				row(tw, lastSeen(e, time.Now()), e.Type, e.Reason, e.Object, e.Message)
				last = e.LastTimestamp
			}
		}
		tw.Flush()
	}
	return nil
}
