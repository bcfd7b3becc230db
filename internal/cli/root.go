// Package cli is scalectl's command tree. Each verb lives in a file of its
// own and is listed once in verbs below, so adding a verb is one new file
// and one line here.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/controlapi"
)

// verbs builds every subcommand of scalectl.
var verbs = []func(*Options) *cobra.Command{
	newApplyCommand,
	newDiffCommand,
	newGetCommand,
	newDescribeCommand,
	newScaleCommand,
	newDeleteCommand,
	newEventsCommand,
	newRolloutCommand,
	newTopCommand,
	newLoadtestCommand,
}

// Options are the global flags, shared by every verb.
type Options struct {
	// Socket is scalerd's control API socket.
	Socket string
}

// DefaultSocketPath is where scalectl calls scalerd unless --socket says
// otherwise: $SCALER_SOCKET, else $XDG_RUNTIME_DIR/scaler/scalerd.sock,
// else /tmp/scaler-$UID/scalerd.sock. It is the control API's own default,
// which scalerd listens on, so that the two agree with no flags at all.
func DefaultSocketPath() string {
	return controlapi.DefaultSocketPath()
}

// Execute runs scalectl with the process's arguments and returns its exit
// code: 0 on success, 1 on any error, which is printed to stderr.
func Execute(ctx context.Context) int {
	return run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	if errors.Is(err, errDiffFound) {
		return 1 // the diff itself was the output
	}
	printError(stderr, cmd, err)
	return 1
}

// NewRootCommand builds the scalectl command tree.
func NewRootCommand() *cobra.Command {
	o := &Options{}
	root := &cobra.Command{
		Use:   "scalectl",
		Short: "Steer scalerd: apply specs, scale, roll out, inspect",
		Long: `scalectl is the client of scalerd, the daemon that keeps the ScaleSpecs of a
directory running on Docker behind nginx.
` + completionHelp,
		// Errors are printed once, by run, with a pointer to --help for
		// usage errors only; a validation error needs no usage text.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.PersistentFlags().StringVar(&o.Socket, "socket", DefaultSocketPath(),
		"scalerd's control socket ($SCALER_SOCKET, else $XDG_RUNTIME_DIR/scaler/scalerd.sock, else /tmp/scaler-$UID/scalerd.sock)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	for _, verb := range verbs {
		root.AddCommand(verb(o))
	}
	addSpecNameCompletion(root, o)
	return root
}

// usageError is a mistake in how scalectl was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usageErrorf reports a bad flag value or argument.
func usageErrorf(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// printError prints an error the way the user can act on it: validation
// errors one per line, each starting with file:line so that an editor can
// jump there; usage errors with the command to ask for help.
func printError(w io.Writer, cmd *cobra.Command, err error) {
	var list v1alpha1.ErrorList
	if errors.As(err, &list) {
		fmt.Fprintln(w, err.Error())
		return
	}
	fmt.Fprintf(w, "error: %v\n", err)
	var usage usageError
	if errors.As(err, &usage) || strings.HasPrefix(err.Error(), "unknown command") ||
		strings.HasPrefix(err.Error(), "required flag") {
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
}
