package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newScaleCommand(o *Options) *cobra.Command {
	var replicas int32 = -1
	cmd := &cobra.Command{
		Use:   "scale NAME --replicas N",
		Short: "Set a spec's replicas (edits its file, keeping comments)",
		Example: `  scalectl scale web --replicas 5
  scalectl scale web --replicas 0   # keep the spec, run nothing`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("replicas") {
				return usageErrorf("--replicas is required: scalectl scale %s --replicas N", args[0])
			}
			if replicas < 0 {
				return usageErrorf("--replicas=%d: replicas must be 0 or more", replicas)
			}
			if err := o.client().Scale(cmd.Context(), args[0], replicas); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "scalespec/%s scaled\n", args[0])
			return nil
		},
	}
	cmd.Flags().Int32Var(&replicas, "replicas", -1, "the new number of replicas (0 or more)")
	return cmd
}
