package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/specstore"
)

// Values of --dry-run, as kubectl has them.
const (
	dryRunNone   = "none"
	dryRunClient = "client"
	dryRunServer = "server"
)

type applyOptions struct {
	*Options
	filenames []string
	dryRun    string
	output    string
}

func newApplyCommand(o *Options) *cobra.Command {
	a := &applyOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|-",
		Short: "Create or update specs from YAML files",
		Long: `Apply creates or updates the ScaleSpecs in the given files: scalerd writes them
to its spec directory and converges to them.

With --dry-run=client nothing is sent: the files are decoded strictly, defaulted
and validated here, each on its own and all of them together (unique names, no
dependsOn cycles, no two load balancers on one address). Every error is printed
with its file, line and field.`,
		Example: `  # Check a directory of specs without scalerd
  scalectl apply -f manifests/ --dry-run=client

  # See a spec with every default filled in
  scalectl apply -f web.yaml --dry-run=client -o yaml

  # Apply from stdin
  cat web.yaml | scalectl apply -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.run(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	flags := cmd.Flags()
	flags.StringArrayVarP(&a.filenames, "filename", "f", nil, "spec file, directory of spec files (*.yaml, *.yml), or - for stdin; repeatable")
	flags.StringVar(&a.dryRun, "dry-run", dryRunNone, `"client": validate here, send nothing; "server": scalerd validates against the specs in force, prints the steps it would take, and writes nothing; "none": apply`)
	flags.StringVarP(&a.output, "output", "o", "", "print the defaulted specs instead of a summary: yaml or json")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

func (a *applyOptions) run(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	switch a.dryRun {
	case dryRunNone, dryRunClient, dryRunServer:
	default:
		return usageErrorf("--dry-run=%q: use client, server or none", a.dryRun)
	}
	switch a.output {
	case "", "yaml", "json":
	default:
		return usageErrorf("--output=%q: use yaml or json", a.output)
	}
	inputs, err := readInputs(a.filenames, stdin)
	if err != nil {
		return err
	}
	if a.dryRun != dryRunClient {
		return a.applyToDaemon(ctx, inputs, stdout)
	}
	specs, warnings, errs := checkInputs(inputs)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "Warning: %s\n", w)
	}
	if err := a.print(stdout, specs); err != nil {
		return err
	}
	return errs.OrNil()
}

// applyToDaemon sends the files to scalerd; scalerd validates them against
// the specs in force and writes them to its directory.
func (a *applyOptions) applyToDaemon(ctx context.Context, inputs []input, stdout io.Writer) error {
	// Check here first, so that errors name the user's files and lines;
	// scalerd checks again against the specs in force.
	specs, _, errs := checkInputs(inputs)
	if err := errs.OrNil(); err != nil {
		return err
	}
	c := a.client()
	dryRun := a.dryRun == dryRunServer
	for _, in := range inputs {
		results, err := c.Apply(ctx, in.data, dryRun)
		if err != nil {
			return fmt.Errorf("%s: %w", in.name, err)
		}
		if a.output != "" {
			continue
		}
		for _, r := range results {
			suffix := ""
			if dryRun {
				suffix = " (server dry run)"
			}
			fmt.Fprintf(stdout, "scalespec/%s %s%s\n", r.Name, r.Action, suffix)
			printPlan(stdout, r.Plan)
		}
	}
	if a.output != "" {
		return a.print(stdout, specs)
	}
	return nil
}

// print writes the summary, or the specs themselves with -o.
func (a *applyOptions) print(w io.Writer, specs []*v1alpha1.ScaleSpec) error {
	for i, s := range specs {
		switch a.output {
		case "yaml":
			b, err := v1alpha1.MarshalYAML(s)
			if err != nil {
				return err
			}
			if i > 0 {
				fmt.Fprintln(w, "---")
			}
			_, _ = w.Write(b)
		case "json":
			// A stream of objects, one after another, as jq reads them.
			b, err := json.MarshalIndent(s, "", "  ")
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\n", b)
		default:
			fmt.Fprintf(w, "scalespec/%s %s (dry run)\n", s.Metadata.Name, specstore.ActionCreated)
		}
	}
	return nil
}

// input is one file's content and the name its errors carry.
type input struct {
	name string
	data []byte
}

// readInputs reads every -f: a file, each spec file of a directory (not
// recursively, as scalerd reads its directory), or stdin for "-". A file
// named twice is read once. Each is refused past v1alpha1.MaxFileSize, as
// scalerd refuses it, without reading it whole.
func readInputs(filenames []string, stdin io.Reader) ([]input, error) {
	var inputs []input
	seen := map[string]bool{}
	add := func(name string, data []byte) {
		inputs = append(inputs, input{name, data})
	}
	for _, f := range filenames {
		if f == "-" {
			if seen["-"] {
				continue
			}
			seen["-"] = true
			data, err := specstore.ReadSpecs(stdin)
			if err != nil {
				return nil, fmt.Errorf("read stdin: %w", err)
			}
			add("stdin", data)
			continue
		}
		info, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("-f %s: %w", f, unwrapPathError(err))
		}
		files := []string{f}
		if info.IsDir() {
			entries, err := os.ReadDir(f)
			if err != nil {
				return nil, fmt.Errorf("-f %s: %w", f, unwrapPathError(err))
			}
			files = files[:0]
			for _, e := range entries {
				if !e.IsDir() && specstore.IsSpecFileName(e.Name()) {
					files = append(files, filepath.Join(f, e.Name()))
				}
			}
			if len(files) == 0 {
				return nil, fmt.Errorf("-f %s: the directory holds no spec files (*.yaml, *.yml)", f)
			}
		}
		for _, path := range files {
			key := filepath.Clean(path)
			if seen[key] {
				continue
			}
			seen[key] = true
			data, err := specstore.ReadSpecFile(path)
			if err != nil {
				return nil, fmt.Errorf("-f %s: %w", path, unwrapPathError(err))
			}
			add(path, data)
		}
	}
	return inputs, nil
}

// checkInputs loads every document of every input, then checks them all
// together. It returns the specs that passed, defaulted, in file order; the
// warnings; and every error.
func checkInputs(inputs []input) ([]*v1alpha1.ScaleSpec, []string, v1alpha1.ErrorList) {
	var specs []*v1alpha1.ScaleSpec
	var errs v1alpha1.ErrorList
	for _, in := range inputs {
		docs, err := v1alpha1.LoadDocuments(in.name, in.data)
		errs = append(errs, v1alpha1.AsErrorList(err)...)
		for _, d := range docs {
			if d.Err != nil {
				errs = append(errs, v1alpha1.AsErrorList(d.Err)...)
				continue
			}
			specs = append(specs, d.Spec)
		}
	}
	var warnings []string
	var rejected []*v1alpha1.ScaleSpec
	for _, p := range v1alpha1.CheckSet(specs) {
		if p.Warning {
			warnings = append(warnings, p.Err.Error()+" (only the files given were checked)")
			continue
		}
		errs = append(errs, p.Err)
		rejected = append(rejected, p.Spec)
	}
	specs = slices.DeleteFunc(specs, func(s *v1alpha1.ScaleSpec) bool { return slices.Contains(rejected, s) })
	return specs, warnings, errs
}

// unwrapPathError drops the *PathError's own copy of the path, which the
// message already names.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
