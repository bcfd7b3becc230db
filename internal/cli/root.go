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
	"path/filepath"
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
	newLogsCommand,
	newExecCommand,
	newExplainCommand,
	newWaitCommand,
	newVersionCommand,
}

// Options are the global flags, shared by every verb.
type Options struct {
	// Socket is scalerd's control API socket.
	Socket string
}

// SystemSocketPath is where the systemd unit's scalerd listens
// (hack/systemd/scalerd.service.in).
var SystemSocketPath = "/run/scaler/scalerd.sock"

// DefaultSocketPath is where scalectl calls scalerd unless --socket says
// otherwise: $SCALER_SOCKET, else the per-user socket
// ($XDG_RUNTIME_DIR/scaler/scalerd.sock, else /tmp/scaler-$UID/scalerd.sock)
// when it exists, else the socket of `make run`'s daemon
// (.scaler/scalerd.sock in the working directory or the nearest parent
// that has one) when it exists, else the system service's
// /run/scaler/scalerd.sock when that exists, else the per-user path. The
// per-user path is the control API's own default, which scalerd listens
// on, so that the two agree with no flags at all; a user's own daemon wins
// over a checkout's, which wins over the system one, so that `make run`'s
// daemon answers from any directory of the checkout with no setup, and a
// member of the scaler group reaches the system one with no flags either.
func DefaultSocketPath() string {
	path, _ := socketCandidates()
	return path
}

// CheckoutSocket is where `make run` (hack/run.sh) has scalerd listen,
// relative to the checkout's root.
const CheckoutSocket = ".scaler/scalerd.sock"

// workingDir is where the search for a checkout's socket starts; tests
// point it elsewhere.
var workingDir = os.Getwd

// socketCandidates returns the socket DefaultSocketPath chooses and, when
// the choice was a search rather than $SCALER_SOCKET, every place searched
// in order, for the error that says scalerd is not running.
func socketCandidates() (string, []string) {
	if os.Getenv("SCALER_SOCKET") != "" {
		return controlapi.DefaultSocketPath(), nil
	}
	own := controlapi.DefaultSocketPath()
	searched := []string{own}
	if exists(own) {
		return own, searched
	}
	if dir, err := workingDir(); err == nil {
		if sock := findCheckoutSocket(dir); sock != "" {
			return sock, append(searched, sock)
		}
		searched = append(searched, filepath.Join(dir, CheckoutSocket)+" and in each parent directory")
	}
	searched = append(searched, SystemSocketPath)
	if exists(SystemSocketPath) {
		return SystemSocketPath, searched
	}
	return own, searched
}

// findCheckoutSocket walks up from dir to the root and returns the first
// .scaler/scalerd.sock it finds, as an absolute path, or "".
func findCheckoutSocket(dir string) string {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	start := dir
	for {
		sock := filepath.Join(dir, CheckoutSocket)
		if exists(sock) {
			return dialablePath(start, sock)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// maxSocketPath is the longest path a unix socket address holds on Linux
// (sun_path is 108 bytes with its NUL).
const maxSocketPath = 107

// dialablePath returns sock as an absolute path, or, in a checkout so deep
// that the absolute path is too long to dial, relative to the working
// directory, as `make run` itself gives it to scalerd.
func dialablePath(cwd, sock string) string {
	if len(sock) <= maxSocketPath {
		return sock
	}
	if rel, err := filepath.Rel(cwd, sock); err == nil && len(rel) < len(sock) {
		return rel
	}
	return sock
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
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
	if code, ok := exitCode(err); ok {
		return code // exec's command said what it had to
	}
	printError(stderr, cmd, err)
	printSocketSearch(stderr, cmd, err)
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
		"scalerd's control socket ($SCALER_SOCKET, else $XDG_RUNTIME_DIR/scaler/scalerd.sock, else /tmp/scaler-$UID/scalerd.sock, else .scaler/scalerd.sock of `make run` in this directory or a parent, else /run/scaler/scalerd.sock)")
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

// printSocketSearch follows a "scalerd is not running" error with every
// place scalectl looked for the socket, when it looked rather than being
// told by --socket or $SCALER_SOCKET: the socket named in the error may be
// only the last resort.
func printSocketSearch(w io.Writer, cmd *cobra.Command, err error) {
	if !errors.Is(err, controlapi.ErrDaemonNotRunning) || cmd == nil {
		return
	}
	if f := cmd.Flag("socket"); f != nil && f.Changed {
		return
	}
	_, searched := socketCandidates()
	if len(searched) == 0 {
		return
	}
	fmt.Fprintln(w, "scalectl looked for a socket (with no --socket and no $SCALER_SOCKET) at:")
	for _, s := range searched {
		fmt.Fprintf(w, "  %s\n", s)
	}
}
