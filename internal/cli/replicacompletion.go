package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"
)

// replicaNameCompletion completes --replica with the containers of the
// spec named first on the line, load balancer included.
func replicaNameCompletion(o *Options) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
		defer cancel()
		reps, err := o.client().Replicas(ctx, args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []cobra.Completion
		for _, r := range reps {
			if strings.HasPrefix(r.Name, toComplete) {
				names = append(names, r.Name)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
