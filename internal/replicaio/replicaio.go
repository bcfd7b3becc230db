// Package replicaio holds what scalectl reaches inside replicas through
// scalerd: their log lines and processes run in them. The engine adapter
// (internal/docker) produces these types and the daemon serves them, so
// neither imports the other and the controller's Runtime stays as small
// as reconciling needs.
package replicaio

import (
	"context"
	"io"
	"time"
)

// LogOptions select the lines of one container's log.
type LogOptions struct {
	// Since and Until bound the lines by time, both inclusive; zero means
	// no bound.
	Since time.Time
	Until time.Time
	// Tail keeps only the last Tail lines; negative means all of them.
	Tail int
	// Follow keeps the reader open for new lines until the container stops.
	Follow bool
}

// Line is one line a container wrote, without its newline.
type Line struct {
	Time time.Time
	// Stream is "stdout" or "stderr".
	Stream string
	Text   string
}

// LineReader yields one container's log lines, oldest first.
type LineReader interface {
	// Next returns the next line, or io.EOF when the log (or, following,
	// the container) ended.
	Next() (Line, error)
	io.Closer
}

// ExecOptions describe a process to start in a running container.
type ExecOptions struct {
	Cmd []string
	// TTY gives the process a terminal; its output then comes as one
	// stream, and Height and Width size the terminal.
	TTY           bool
	Height, Width uint
	// Stdin connects the process's standard input; without it the process
	// reads end-of-file.
	Stdin bool
}

// Process is a process started in a container, attached to its streams.
type Process interface {
	// CopyOutput copies the process's output until it ends: stdout and
	// stderr apart, or everything to stdout with a TTY.
	CopyOutput(stdout, stderr io.Writer) error
	// Write feeds the process's standard input.
	io.Writer
	// CloseStdin ends the standard input, as end-of-file.
	CloseStdin() error
	// Resize sets the size of the process's terminal.
	Resize(ctx context.Context, height, width uint) error
	// ExitCode waits for the process to end and returns its exit code.
	ExitCode(ctx context.Context) (int, error)
	// Close drops the connection to the process. A process that ignores
	// its closed streams may go on running in the container.
	io.Closer
}
