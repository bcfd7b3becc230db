package cli

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// completionHelp is the part of scalectl's help that says how to turn on
// shell completion; cobra's `completion` command does the rest.
const completionHelp = `
Shell completion (commands, flags and the names of the running specs):
  bash:  source <(scalectl completion bash)
  zsh:   source <(scalectl completion zsh)
  fish:  scalectl completion fish | source
"scalectl completion SHELL --help" says how to load it in every new shell.`

// completionTimeout bounds the call to scalerd behind a <TAB>: a shell
// that hangs is worse than one that completes nothing.
const completionTimeout = 2 * time.Second

// addSpecNameCompletion makes every command of the tree that takes a NAME
// complete it with the specs scalerd knows, unless it completes its
// arguments itself.
func addSpecNameCompletion(cmd *cobra.Command, o *Options) {
	for _, c := range cmd.Commands() {
		addSpecNameCompletion(c, o)
	}
	if cmd.ValidArgsFunction != nil || !strings.Contains(cmd.Use, "NAME") {
		return
	}
	cmd.ValidArgsFunction = specNameCompletion(o, strings.Contains(cmd.Use, "NAME..."))
}

// specNameCompletion completes a spec name, or several when multi is set.
// With scalerd not running it completes nothing, and never file names.
func specNameCompletion(o *Options, multi bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 && !multi {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		specs, err := listForCompletion(o)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []cobra.Completion
		for _, s := range specs {
			n := s.Metadata.Name
			if strings.HasPrefix(n, toComplete) && !slices.Contains(args, n) {
				names = append(names, n)
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// listForCompletion asks scalerd for its specs within completionTimeout:
// completion must never hang a shell.
func listForCompletion(o *Options) ([]v1alpha1.ScaleSpec, error) {
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	return o.client().List(ctx)
}
