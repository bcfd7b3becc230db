package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/scaler-dev/scaler/internal/controlapi"
)

type execOptions struct {
	*Options
	replica string
	stdin   bool
	tty     bool
}

func newExecCommand(o *Options) *cobra.Command {
	e := &execOptions{Options: o}
	cmd := &cobra.Command{
		Use:   "exec NAME [--replica REPLICA] [-i] [-t] -- CMD [ARGS...]",
		Short: "Run a command in a replica of a spec; its exit code is scalectl's",
		Long: `Run a command in one replica of a spec: the first ready one, or the one
--replica names (the load balancer too, as NAME-lb). The command runs with
no shell unless you run one; its exit code becomes scalectl's.

-i connects your stdin, -t gives the command a terminal; -it with no
command starts sh, for images that have one (demoapp, built FROM scratch,
has none: run /demoapp's own subcommands instead).`,
		Example: `  scalectl exec web -- /demoapp healthcheck
  scalectl exec web --replica web-lb -- nginx -T    # the load balancer's config
  scalectl exec redis -it -- redis-cli
  scalectl exec redis -it                            # sh`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash > 1 {
				return usageErrorf("give one spec name before --, got %d: %v", dash, args[:dash])
			}
			return e.run(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args[0], args[1:])
		},
	}
	f := cmd.Flags()
	f.StringVar(&e.replica, "replica", "", "the replica to run in (default: the first ready one)")
	f.BoolVarP(&e.stdin, "stdin", "i", false, "pass stdin to the command")
	f.BoolVarP(&e.tty, "tty", "t", false, "give the command a terminal (needs a terminal on stdin)")
	_ = cmd.RegisterFlagCompletionFunc("replica", replicaNameCompletion(o))
	return cmd
}

// exitCodeError passes a remote command's exit code through as scalectl's
// own, with nothing printed: the command printed what it had to say.
type exitCodeError struct{ code int }

func (e exitCodeError) Error() string { return fmt.Sprintf("command exited with code %d", e.code) }

func (e *execOptions) run(ctx context.Context, in io.Reader, out, errOut io.Writer, name string, command []string) error {
	if len(command) == 0 {
		if !e.stdin || !e.tty {
			return usageErrorf("give the command after --: scalectl exec %s -- CMD [ARGS...] (or -it for a shell)", name)
		}
		command = []string{"sh"}
	}
	fd, inTerminal := terminalFd(in)
	tty := e.tty
	if tty && !inTerminal {
		fmt.Fprintln(errOut, "scalectl: stdin is not a terminal; running without -t")
		tty = false
	}
	req := controlapi.ExecRequest{Replica: e.replica, Cmd: command, TTY: tty, Stdin: e.stdin}
	if tty {
		if rows, cols, ok := terminalSize(fd); ok {
			req.Height, req.Width = uint(rows), uint(cols)
		}
	}
	s, err := e.client().Exec(ctx, name, req)
	if err != nil {
		return err
	}
	defer s.Close()
	go func() {
		<-ctx.Done()
		s.Close() // Ctrl-C without a terminal: drop the stream
	}()

	if tty {
		restore, err := makeRaw(fd)
		if err != nil {
			return fmt.Errorf("putting the terminal in raw mode: %w", err)
		}
		defer restore()
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, syscall.SIGWINCH)
		defer signal.Stop(winch)
		go func() {
			for range winch {
				if rows, cols, ok := terminalSize(fd); ok {
					_ = s.Resize(rows, cols)
				}
			}
		}()
	}
	if e.stdin {
		go func() {
			if _, err := io.Copy(s, in); err == nil {
				_ = s.CloseStdin()
			}
		}()
	}
	code, err := s.Wait(out, errOut)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("exec in %s: %w", s.Replica, err)
	}
	if code != 0 {
		return exitCodeError{code}
	}
	return nil
}

// exitCode is the exit code an error asks scalectl to end with.
func exitCode(err error) (int, bool) {
	var ec exitCodeError
	if errors.As(err, &ec) {
		return ec.code, true
	}
	return 0, false
}
