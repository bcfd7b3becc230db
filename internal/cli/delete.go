package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

func newDeleteCommand(o *Options) *cobra.Command {
	var filenames []string
	cmd := &cobra.Command{
		Use:   "delete NAME... | -f FILE|DIR|-",
		Short: "Delete specs: scalerd drains, then removes all their containers",
		Example: `  scalectl delete web
  scalectl delete -f manifests/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			names := args
			if len(filenames) > 0 {
				if len(args) > 0 {
					return usageErrorf("give spec names or -f, not both")
				}
				inputs, err := readInputs(filenames, cmd.InOrStdin())
				if err != nil {
					return err
				}
				for _, in := range inputs {
					specs, err := v1alpha1.DecodeDocuments(in.name, in.data)
					if err != nil {
						return err
					}
					for _, s := range specs {
						names = append(names, s.Metadata.Name)
					}
				}
			}
			if len(names) == 0 {
				return usageErrorf("give the spec names to delete, or -f FILE")
			}
			c := o.client()
			for _, n := range names {
				if err := c.Delete(cmd.Context(), n); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "scalespec/%s deleted\n", n)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&filenames, "filename", "f", nil, "delete the specs named in these files")
	return cmd
}
