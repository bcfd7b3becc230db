package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/scaler-dev/scaler/engine"
)

// execPollInterval is how often Exec re-inspects an exec whose output has
// ended but whose exit code the Engine has not recorded yet.
const execPollInterval = 20 * time.Millisecond

// CopyFile writes content to the absolute path p inside the container,
// creating missing parent directories. It uses the archive API, which works
// on a created container as well as a running one: the load balancer's
// first config is copied in before nginx starts.
//
// The file is extracted into its parent directory in one call. Only when
// that directory is missing does CopyFile look for the nearest existing
// ancestor and extract the missing directories too; it never puts existing
// directories in the archive, because extracting a directory entry resets
// the mode and owner of the directory already there (think /tmp).
func (r *Runtime) CopyFile(ctx context.Context, id, p string, content []byte) error {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		return fmt.Errorf("copy to container %s: %q is not a clean absolute file path", id, p)
	}
	dir, name := path.Split(p)
	dir = path.Clean(dir)
	err := r.extract(ctx, id, dir, nil, name, content)
	if err == nil || !errors.Is(err, engine.ErrNotFound) {
		return err
	}

	var missing []string
	base := dir
	for {
		if _, statErr := r.client.ContainerStatPath(ctx, id, base); statErr == nil {
			break
		} else if err := classify(statErr); !errors.Is(err, engine.ErrNotFound) || base == "/" {
			// At "/" the container itself is missing.
			return fmt.Errorf("copy %s to container %s: %w", p, id, err)
		}
		missing = append(missing, path.Base(base))
		base = path.Dir(base)
	}
	slices.Reverse(missing)
	return r.extract(ctx, id, base, missing, name, content)
}

// extract sends a tar holding the directories dirs (nested, relative to
// into) and the file name inside the last of them.
func (r *Runtime) extract(ctx context.Context, id, into string, dirs []string, name string, content []byte) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	rel := ""
	for _, d := range dirs {
		rel = path.Join(rel, d)
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: 0o755, ModTime: now}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("archive directory %s: %w", rel, err)
		}
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: path.Join(rel, name), Mode: 0o644, Size: int64(len(content)), ModTime: now}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if _, err := tw.Write(content); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if err := r.client.CopyToContainer(ctx, id, into, &buf, container.CopyToContainerOptions{}); err != nil {
		return fmt.Errorf("copy %s to container %s: %w", path.Join(into, rel, name), id, classify(err))
	}
	return nil
}

// Exec runs cmd in a running container, without a shell or a TTY, and
// returns its exit code with stdout and stderr interleaved as written. A
// non-zero exit is a result, not an error. ctx bounds the whole call: on
// expiry the output stream is cut and ctx's error returned, though the
// process may go on running in the container.
func (r *Runtime) Exec(ctx context.Context, id string, cmd []string) (engine.ExecResult, error) {
	if len(cmd) == 0 {
		return engine.ExecResult{}, fmt.Errorf("exec in container %s: empty command", id)
	}
	created, err := r.client.ContainerExecCreate(ctx, id, container.ExecOptions{
		Cmd:          cmd,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return engine.ExecResult{}, fmt.Errorf("exec %q in container %s: %w", cmd[0], id, classify(err))
	}
	attach, err := r.client.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return engine.ExecResult{}, fmt.Errorf("exec %q in container %s: %w", cmd[0], id, classify(err))
	}
	defer attach.Close()

	// The hijacked connection ignores ctx once established, so the copy
	// runs aside and closing the connection unblocks it.
	var output bytes.Buffer
	copied := make(chan error, 1)
	go func() {
		_, err := stdcopy.StdCopy(&output, &output, attach.Reader)
		copied <- err
	}()
	select {
	case err = <-copied:
	case <-ctx.Done():
		attach.Close()
		<-copied
		return engine.ExecResult{}, fmt.Errorf("exec %q in container %s: %w", cmd[0], id, ctx.Err())
	}
	if err != nil {
		return engine.ExecResult{}, fmt.Errorf("exec %q in container %s: read output: %w", cmd[0], id, err)
	}

	for {
		inspect, err := r.client.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return engine.ExecResult{}, fmt.Errorf("exec %q in container %s: %w", cmd[0], id, classify(err))
		}
		if !inspect.Running {
			return engine.ExecResult{ExitCode: inspect.ExitCode, Output: output.String()}, nil
		}
		select {
		case <-time.After(execPollInterval):
		case <-ctx.Done():
			return engine.ExecResult{}, fmt.Errorf("exec %q in container %s: %w", cmd[0], id, ctx.Err())
		}
	}
}
