package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/buildinfo"
	"github.com/scaler-dev/scaler/internal/controlapi"
)

// versionReport is what `scalectl version -o json|yaml` prints.
type versionReport struct {
	Client controlapi.BuildInfo `json:"client"`
	// Server is scalerd's answer; nil with --client or when it is down.
	Server *controlapi.VersionInfo `json:"server,omitempty"`
}

func newVersionCommand(o *Options) *cobra.Command {
	var output string
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the versions of scalectl, scalerd and the Engine",
		Example: `  scalectl version
  scalectl version --client
  scalectl version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return version(cmd.Context(), o, cmd.OutOrStdout(), output, clientOnly)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: yaml or json")
	cmd.Flags().BoolVar(&clientOnly, "client", false, "only scalectl's version; do not call scalerd")
	return cmd
}

func version(ctx context.Context, o *Options, out io.Writer, output string, clientOnly bool) error {
	if output != "" && output != "json" && output != "yaml" {
		return usageErrorf("--output=%q: use yaml or json", output)
	}
	rep := versionReport{Client: buildinfo.Read()}
	var serverErr error
	if !clientOnly {
		v, err := o.client().Version(ctx)
		if err == nil {
			rep.Server = &v
		}
		serverErr = err
	}
	switch output {
	case "json":
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(out, string(b))
	case "yaml":
		b, err := v1alpha1.MarshalYAML(rep)
		if err != nil {
			return err
		}
		fmt.Fprint(out, string(b))
	default:
		fmt.Fprintf(out, "Client:  scalectl %s\n", describeBuild(rep.Client))
		if s := rep.Server; s != nil {
			fmt.Fprintf(out, "Daemon:  scalerd %s", describeBuild(s.Daemon))
			if s.Instance != "" {
				fmt.Fprintf(out, ", instance %s", s.Instance)
			}
			fmt.Fprintln(out)
			if s.EngineError != "" {
				fmt.Fprintf(out, "Engine:  unknown: %s (scalerd speaks API %s)\n", s.EngineError, s.Engine.NegotiatedAPIVersion)
			} else {
				e := s.Engine
				fmt.Fprintf(out, "Engine:  %s %s, API %s (min %s), scalerd speaks %s, %s\n",
					e.Kind, e.Version, e.APIVersion, e.MinAPIVersion, e.NegotiatedAPIVersion, e.Platform)
			}
		}
	}
	if serverErr != nil {
		return fmt.Errorf("the daemon's and the Engine's versions: %w", serverErr)
	}
	return nil
}

func describeBuild(b controlapi.BuildInfo) string {
	s := b.Version
	if b.Commit != "" {
		c := b.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s += " (commit " + c
		if b.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return fmt.Sprintf("%s, %s, %s", s, b.GoVersion, b.Platform)
}
