package docker

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/scaler-dev/scaler/internal/replicaio"
)

// StartProcess starts a process in a running container and attaches to its
// streams, as `docker exec` does, for `scalectl exec`. Unlike Exec, whose
// output is collected for the controller, the caller streams it and may
// feed stdin and a terminal. ctx bounds the start only.
func (r *Runtime) StartProcess(ctx context.Context, id string, o replicaio.ExecOptions) (replicaio.Process, error) {
	if len(o.Cmd) == 0 {
		return nil, fmt.Errorf("exec in container %s: empty command", id)
	}
	opts := container.ExecOptions{
		Cmd:          o.Cmd,
		Tty:          o.TTY,
		AttachStdin:  o.Stdin,
		AttachStdout: true,
		AttachStderr: true,
	}
	var size *[2]uint
	if o.TTY && o.Height > 0 && o.Width > 0 {
		size = &[2]uint{o.Height, o.Width}
		opts.ConsoleSize = size
	}
	created, err := r.client.ContainerExecCreate(ctx, id, opts)
	if err != nil {
		return nil, fmt.Errorf("exec %q in container %s: %w", o.Cmd[0], id, classify(err))
	}
	attach, err := r.client.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{Tty: o.TTY, ConsoleSize: size})
	if err != nil {
		return nil, fmt.Errorf("exec %q in container %s: %w", o.Cmd[0], id, classify(err))
	}
	p := &process{r: r, execID: created.ID, attach: attach, tty: o.TTY, cmd: o.Cmd[0], container: id}
	if size != nil {
		// Engines before API 1.42 ignore ConsoleSize: size the terminal
		// now, as the docker CLI does. A failure leaves 80x24, no error.
		_ = p.Resize(ctx, size[0], size[1])
	}
	return p, nil
}

type process struct {
	r         *Runtime
	execID    string
	attach    types.HijackedResponse
	tty       bool
	cmd       string
	container string

	closeOnce sync.Once
}

func (p *process) CopyOutput(stdout, stderr io.Writer) error {
	var err error
	if p.tty {
		_, err = io.Copy(stdout, p.attach.Reader)
	} else {
		_, err = stdcopy.StdCopy(stdout, stderr, p.attach.Reader)
	}
	return err
}

func (p *process) Write(b []byte) (int, error) { return p.attach.Conn.Write(b) }

func (p *process) CloseStdin() error { return p.attach.CloseWrite() }

func (p *process) Resize(ctx context.Context, height, width uint) error {
	if err := p.r.client.ContainerExecResize(ctx, p.execID, container.ResizeOptions{Height: height, Width: width}); err != nil {
		return fmt.Errorf("resize the terminal of %q in container %s: %w", p.cmd, p.container, classify(err))
	}
	return nil
}

// ExitCode polls the exec until the Engine has recorded its end: the
// output stream may close a moment before.
func (p *process) ExitCode(ctx context.Context) (int, error) {
	for {
		inspect, err := p.r.client.ContainerExecInspect(ctx, p.execID)
		if err != nil {
			return 0, fmt.Errorf("exec %q in container %s: %w", p.cmd, p.container, classify(err))
		}
		if !inspect.Running {
			return inspect.ExitCode, nil
		}
		select {
		case <-time.After(execPollInterval):
		case <-ctx.Done():
			return 0, fmt.Errorf("exec %q in container %s: %w", p.cmd, p.container, ctx.Err())
		}
	}
}

func (p *process) Close() error {
	p.closeOnce.Do(p.attach.Close)
	return nil
}
