package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/controlapi"
)

// errDiffFound makes scalectl exit 1 when there are differences, as
// kubectl diff and diff(1) do, without printing an error.
var errDiffFound = errors.New("differences found")

func newDiffCommand(o *Options) *cobra.Command {
	var filenames []string
	cmd := &cobra.Command{
		Use:   "diff -f FILE|DIR|-",
		Short: "Show what apply would change, against the specs in force",
		Long: `Diff compares the specs in the files, defaulted, with the ones scalerd runs,
and after each difference prints the steps scalerd would take to apply it,
from the same planner it reconciles with: which replicas it creates, drains
and removes, in order, and whether nginx reloads.
It exits 0 when nothing would change, 1 when something would, and 1 with an
error message when it could not compare.`,
		Example: `  scalectl diff -f manifests/web.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			inputs, err := readInputs(filenames, cmd.InOrStdin())
			if err != nil {
				return err
			}
			specs, _, errs := checkInputs(inputs)
			if err := errs.OrNil(); err != nil {
				return err
			}
			c := o.client()
			// scalerd checks the files against the specs in force and
			// plans each, as apply --dry-run=server does.
			plans := map[string][]string{}
			for _, in := range inputs {
				results, err := c.Apply(cmd.Context(), in.data, true)
				if err != nil {
					return fmt.Errorf("%s: %w", in.name, err)
				}
				for _, r := range results {
					plans[r.Name] = r.Plan
				}
			}
			changed := false
			for _, s := range specs {
				live, err := c.Get(cmd.Context(), s.Metadata.Name)
				var before []byte
				switch {
				case errors.Is(err, controlapi.ErrNotFound):
				case err != nil:
					return err
				default:
					live.Status = nil
					live.Metadata.Generation = 0
					if before, err = v1alpha1.MarshalYAML(live); err != nil {
						return err
					}
				}
				s.Status = nil
				s.Metadata.Generation = 0
				after, err := v1alpha1.MarshalYAML(s)
				if err != nil {
					return err
				}
				if d := unifiedDiff("live/"+s.Metadata.Name, "file/"+s.Metadata.Name, string(before), string(after)); d != "" {
					changed = true
					fmt.Fprint(cmd.OutOrStdout(), d)
					printPlan(cmd.OutOrStdout(), plans[s.Metadata.Name])
				}
			}
			if changed {
				return errDiffFound
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&filenames, "filename", "f", nil, "spec file, directory or - for stdin")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}

// printPlan prints the steps of a plan under a heading, if there are any.
func printPlan(w io.Writer, steps []string) {
	if len(steps) == 0 {
		return
	}
	fmt.Fprintln(w, "plan:")
	for _, s := range steps {
		fmt.Fprintln(w, "  "+s)
	}
}

// unifiedDiff returns a unified diff of two texts with three lines of
// context, or "" when they are equal. Specs are short, so a plain
// longest-common-subsequence table is fast enough.
func unifiedDiff(nameA, nameB, a, b string) string {
	if a == b {
		return ""
	}
	x, y := splitLines(a), splitLines(b)
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
		a, b int // line numbers (1-based) in a and b after this line
	}
	var lines []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			i, j = i+1, j+1
			lines = append(lines, line{' ', x[i-1], i, j})
		case j < len(y) && (i == len(x) || lcs[i][j+1] > lcs[i+1][j]):
			j++
			lines = append(lines, line{'+', y[j-1], i, j})
		default:
			i++
			lines = append(lines, line{'-', x[i-1], i, j})
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
	const context = 3
	for k := 0; k < len(lines); {
		if lines[k].op == ' ' {
			k++
			continue
		}
		start := max(0, k-context)
		end := k
		for end < len(lines) {
			if lines[end].op != ' ' {
				end++
				continue
			}
			next := end
			for next < len(lines) && lines[next].op == ' ' {
				next++
			}
			if next == len(lines) || next-end > 2*context {
				end = min(len(lines), end+context)
				break
			}
			end = next
		}
		aStart, bStart := lines[start].a, lines[start].b
		if lines[start].op != '+' {
			aStart--
		}
		if lines[start].op != '-' {
			bStart--
		}
		var aLen, bLen int
		var hunk strings.Builder
		for _, l := range lines[start:end] {
			if l.op != '+' {
				aLen++
			}
			if l.op != '-' {
				bLen++
			}
			fmt.Fprintf(&hunk, "%c%s\n", l.op, l.text)
		}
		// An empty side is numbered by the line before it, as diff -u does.
		if aLen > 0 {
			aStart++
		}
		if bLen > 0 {
			bStart++
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n%s", aStart, aLen, bStart, bLen, hunk.String())
		k = end
	}
	return out.String()
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
