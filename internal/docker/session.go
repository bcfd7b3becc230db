package docker

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/scaler-dev/scaler/engine"
)

// OpenSession starts cmd in a running container with stdin, stdout and
// stderr attached, and returns the stream. The process lives until its
// stdin closes (Close), it exits, or the container goes. ctx bounds only
// the opening: the hijacked connection outlives it.
func (r *Runtime) OpenSession(ctx context.Context, id string, cmd []string) (engine.Session, error) {
	if len(cmd) == 0 {
		return nil, fmt.Errorf("session in container %s: empty command", id)
	}
	created, err := r.client.ContainerExecCreate(ctx, id, container.ExecOptions{
		Cmd:          cmd,
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return nil, fmt.Errorf("session %q in container %s: %w", cmd[0], id, classify(err))
	}
	attach, err := r.client.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return nil, fmt.Errorf("session %q in container %s: %w", cmd[0], id, classify(err))
	}
	// Without a TTY the Engine multiplexes stdout and stderr in frames;
	// a pipe hands the reader the plain bytes.
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, attach.Reader)
		if err == nil {
			err = io.EOF
		}
		pw.CloseWithError(err)
	}()
	return &session{attach: attach, out: pr}, nil
}

type session struct {
	attach types.HijackedResponse
	out    *io.PipeReader

	closeOnce sync.Once
}

func (s *session) Read(p []byte) (int, error)  { return s.out.Read(p) }
func (s *session) Write(p []byte) (int, error) { return s.attach.Conn.Write(p) }

// Close ends the process's stdin, so that a shell loop reading it exits,
// then drops the connection, which also ends any Read in progress.
func (s *session) Close() error {
	s.closeOnce.Do(func() {
		_ = s.attach.CloseWrite()
		s.attach.Close()
		s.out.Close()
	})
	return nil
}
