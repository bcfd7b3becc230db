package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

func newScaleCommand(o *Options) *cobra.Command {
	var replicas, minReplicas, maxReplicas int32 = -1, -1, -1
	cmd := &cobra.Command{
		Use:   "scale NAME --replicas N | --min N --max N",
		Short: "Set a spec's replicas, or an autoscaled spec's bounds (edits its file, keeping comments)",
		Example: `  scalectl scale web --replicas 5
  scalectl scale web --replicas 0       # keep the spec, run nothing
  scalectl scale web --min 2 --max 20   # an autoscaled spec: the autoscaler chooses within these`,
		Args: exactlyOneName,
		RunE: func(cmd *cobra.Command, args []string) error {
			flags := cmd.Flags()
			bounds := flags.Changed("min") || flags.Changed("max")
			switch {
			case flags.Changed("replicas") && bounds:
				return usageErrorf("--replicas sets a spec's count by hand, --min and --max bound an autoscaled spec's; give one or the other")
			case bounds:
				return scaleBounds(cmd, o, args[0], minReplicas, maxReplicas)
			case !flags.Changed("replicas"):
				return usageErrorf("--replicas is required: scalectl scale %s --replicas N (or --min/--max for an autoscaled spec)", args[0])
			}
			if replicas < 0 || replicas > v1alpha1.MaxReplicas {
				return usageErrorf("--replicas=%d: replicas must be from 0 to %d", replicas, v1alpha1.MaxReplicas)
			}
			if err := o.client().Scale(cmd.Context(), args[0], replicas); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "scalespec/%s scaled\n", args[0])
			return nil
		},
	}
	cmd.Flags().Int32Var(&replicas, "replicas", -1, "the new number of replicas (0 to 1000)")
	cmd.Flags().Int32Var(&minReplicas, "min", -1, "an autoscaled spec's new minReplicas (1 to 1000)")
	cmd.Flags().Int32Var(&maxReplicas, "max", -1, "an autoscaled spec's new maxReplicas (minReplicas to 1000)")
	return cmd
}

// scaleBounds changes spec.autoscaling's minReplicas and maxReplicas; a
// flag not given leaves its bound as it is.
func scaleBounds(cmd *cobra.Command, o *Options, name string, minReplicas, maxReplicas int32) error {
	var minPtr, maxPtr *int32
	for _, b := range []struct {
		flag  string
		value int32
		low   int32
		ptr   **int32
	}{{"min", minReplicas, 1, &minPtr}, {"max", maxReplicas, 1, &maxPtr}} {
		if !cmd.Flags().Changed(b.flag) {
			continue
		}
		if b.value < b.low || b.value > v1alpha1.MaxReplicas {
			return usageErrorf("--%s=%d: must be from %d to %d", b.flag, b.value, b.low, v1alpha1.MaxReplicas)
		}
		*b.ptr = &b.value
	}
	if minPtr != nil && maxPtr != nil && *minPtr > *maxPtr {
		return usageErrorf("--min=%d is more than --max=%d", *minPtr, *maxPtr)
	}
	if err := o.client().SetAutoscalingBounds(cmd.Context(), name, minPtr, maxPtr); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "scalespec/%s autoscaling bounds set\n", name)
	return nil
}
