package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// explainRoot is how a field path starts: the resource, as in kubectl.
const explainRoot = "scalespec"

func newExplainCommand(_ *Options) *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "explain FIELD",
		Short: "Document the ScaleSpec's fields: type, default, allowed values, meaning",
		Long: `Document a field of the ScaleSpec and the fields under it: type, default,
allowed values and what it does. The text is generated from the API's Go
doc comments, so it is the documentation of this very scalectl.`,
		Example: `  scalectl explain scalespec
  scalectl explain scalespec.spec.strategy
  scalectl explain spec.loadBalancer.algorithm
  scalectl explain scalespec --recursive   # the whole tree`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return explain(cmd.OutOrStdout(), args[0], recursive)
		},
		ValidArgsFunction: explainCompletion,
	}
	cmd.Flags().BoolVar(&recursive, "recursive", false, "print every field under FIELD as a tree, without descriptions")
	return cmd
}

// fieldPath turns "scalespec.spec.strategy" (or "spec.strategy") into the
// API path "spec.strategy".
func fieldPath(arg string) string {
	p := strings.Trim(arg, ".")
	for _, root := range []string{explainRoot, "scalespecs"} {
		if strings.EqualFold(p, root) {
			return ""
		}
		if len(p) > len(root) && strings.EqualFold(p[:len(root)+1], root+".") {
			return p[len(root)+1:]
		}
	}
	return p
}

// findField finds a field by path, segment by segment and ignoring case,
// so that a wrong segment is named with the fields that would fit.
func findField(docs []v1alpha1.FieldDoc, path string) (v1alpha1.FieldDoc, error) {
	if path == "" {
		return docs[0], nil
	}
	cur := ""
	var found v1alpha1.FieldDoc
	for _, seg := range strings.Split(path, ".") {
		var names []string
		ok := false
		for _, d := range children(docs, cur) {
			name := lastSegment(d.Path)
			names = append(names, name)
			if strings.EqualFold(name, seg) {
				found, ok = d, true
			}
		}
		if !ok {
			where := explainRoot
			if cur != "" {
				where += "." + cur
			}
			if len(names) == 0 {
				return found, usageErrorf("%s is a %s and has no fields; %q cannot be under it", where, found.Type, seg)
			}
			return found, usageErrorf("%s has no field %q; its fields: %s", where, seg, strings.Join(names, ", "))
		}
		cur = found.Path
	}
	return found, nil
}

// children returns the fields directly under path.
func children(docs []v1alpha1.FieldDoc, path string) []v1alpha1.FieldDoc {
	var out []v1alpha1.FieldDoc
	for _, d := range docs {
		if d.Path != "" && parentPath(d.Path) == path {
			out = append(out, d)
		}
	}
	return out
}

func parentPath(p string) string {
	i := strings.LastIndexByte(p, '.')
	if i < 0 {
		return ""
	}
	return p[:i]
}

func lastSegment(p string) string { return p[strings.LastIndexByte(p, '.')+1:] }

func explain(out io.Writer, arg string, recursive bool) error {
	docs := v1alpha1.FieldDocs()
	f, err := findField(docs, fieldPath(arg))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "KIND:     %s\nVERSION:  %s\n\n", v1alpha1.Kind, v1alpha1.GroupVersion)
	if f.Path != "" {
		fmt.Fprintf(out, "FIELD:    %s <%s>\nPATH:     %s.%s\n", lastSegment(f.Path), f.Type, explainRoot, f.Path)
		for _, line := range facts(f) {
			fmt.Fprintf(out, "%-10s%s\n", line[0]+":", line[1])
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out, "DESCRIPTION:")
	writeWrapped(out, f.Doc, "    ", 80)
	kids := children(docs, f.Path)
	if len(kids) == 0 {
		return nil
	}
	fmt.Fprintln(out, "\nFIELDS:")
	if recursive {
		printTree(out, docs, f.Path, "  ")
		return nil
	}
	for _, k := range kids {
		fmt.Fprintf(out, "  %s\t<%s>%s\n", lastSegment(k.Path), k.Type, summary(k))
		writeWrapped(out, k.Doc, "    ", 80)
		fmt.Fprintln(out)
	}
	return nil
}

// facts are a field's required-ness, default and allowed values.
func facts(f v1alpha1.FieldDoc) [][2]string {
	var out [][2]string
	if f.Required {
		out = append(out, [2]string{"REQUIRED", "yes"})
	}
	if f.Default != "" {
		out = append(out, [2]string{"DEFAULT", f.Default})
	}
	if len(f.Enum) > 0 {
		out = append(out, [2]string{"VALUES", strings.Join(f.Enum, ", ")})
	}
	return out
}

// summary is facts on one line, after a field's type.
func summary(f v1alpha1.FieldDoc) string {
	var parts []string
	if f.Required {
		parts = append(parts, "required")
	}
	if f.Default != "" {
		parts = append(parts, "default "+f.Default)
	}
	if len(f.Enum) > 0 {
		parts = append(parts, "one of "+strings.Join(f.Enum, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func printTree(out io.Writer, docs []v1alpha1.FieldDoc, path, indent string) {
	for _, k := range children(docs, path) {
		fmt.Fprintf(out, "%s%s\t<%s>%s\n", indent, lastSegment(k.Path), k.Type, summary(k))
		printTree(out, docs, k.Path, indent+"  ")
	}
}

// writeWrapped writes text's paragraphs wrapped at width, indented.
func writeWrapped(out io.Writer, text, indent string, width int) {
	if text == "" {
		fmt.Fprintf(out, "%s<no description>\n", indent)
		return
	}
	for i, para := range strings.Split(text, "\n\n") {
		if i > 0 {
			fmt.Fprintln(out)
		}
		line := indent
		for _, word := range strings.Fields(para) {
			if len(line) > len(indent) && len(line)+1+len(word) > width {
				fmt.Fprintln(out, line)
				line = indent
			}
			if len(line) > len(indent) {
				line += " "
			}
			line += word
		}
		fmt.Fprintln(out, line)
	}
}

// explainCompletion completes field paths one segment at a time.
func explainCompletion(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	depth := strings.Count(toComplete, ".")
	var out []cobra.Completion
	if !strings.Contains(toComplete, ".") && strings.HasPrefix(explainRoot, strings.ToLower(toComplete)) {
		out = append(out, explainRoot)
	}
	for _, d := range v1alpha1.FieldDocs() {
		if d.Path == "" {
			continue
		}
		full := explainRoot + "." + d.Path
		if strings.Count(full, ".") == depth && strings.HasPrefix(strings.ToLower(full), strings.ToLower(toComplete)) {
			out = append(out, full)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}
