package controlapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/internal/replicaio"
	"github.com/scaler-dev/scaler/internal/testenv"
)

func (m *memBackend) Logs(_ context.Context, name string, opts LogsOptions) (LogStream, error) {
	if _, ok := m.replicas[name]; !ok {
		return nil, fmt.Errorf("scalespec %q: %w", name, ErrNotFound)
	}
	return func(ctx context.Context, emit func(LogRecord) error) error {
		t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
		for i := range 3 {
			if err := emit(LogRecord{Replica: fmt.Sprintf("%s-%d", name, i+1), Time: t0.Add(time.Duration(i)), Stream: "stdout", Line: "line"}); err != nil {
				return err
			}
		}
		if opts.Follow {
			if err := emit(LogRecord{Replica: name + "-4", Event: LogJoined}); err != nil {
				return err
			}
			<-ctx.Done()
		}
		return nil
	}, nil
}

// echoProcess answers its stdin on stdout, says "bye" on stderr when its
// stdin ends, and exits with code 7.
type echoProcess struct {
	stdinR *io.PipeReader
	stdinW *io.PipeWriter
	mu     sync.Mutex
	sizes  []string
}

func (p *echoProcess) CopyOutput(stdout, stderr io.Writer) error {
	if _, err := io.Copy(stdout, p.stdinR); err != nil {
		return err
	}
	_, err := io.WriteString(stderr, "bye")
	return err
}
func (p *echoProcess) Write(b []byte) (int, error) { return p.stdinW.Write(b) }
func (p *echoProcess) CloseStdin() error           { return p.stdinW.Close() }
func (p *echoProcess) Resize(_ context.Context, h, w uint) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sizes = append(p.sizes, fmt.Sprintf("%dx%d", h, w))
	return nil
}
func (p *echoProcess) ExitCode(context.Context) (int, error) { return 7, nil }
func (p *echoProcess) Close() error                          { p.stdinW.CloseWithError(errors.New("closed")); return nil }

var lastProcess *echoProcess

func (m *memBackend) Exec(_ context.Context, name string, req ExecRequest) (replicaio.Process, string, error) {
	if _, ok := m.replicas[name]; !ok {
		return nil, "", fmt.Errorf("scalespec %q: %w", name, ErrNotFound)
	}
	if req.Replica == "web-9" {
		return nil, "", fmt.Errorf("%w: scalespec %q has no replica %q", ErrNotFound, name, req.Replica)
	}
	r, w := io.Pipe()
	lastProcess = &echoProcess{stdinR: r, stdinW: w}
	return lastProcess, name + "-1", nil
}

func (m *memBackend) Version(context.Context) (VersionInfo, error) {
	return VersionInfo{Daemon: BuildInfo{Version: "(devel)"}, Engine: EngineInfo{Kind: "docker", Version: "28.0.0"}}, nil
}

func serveMem(t *testing.T) *Client {
	t.Helper()
	sock := filepath.Join(testenv.PrivateDir(t), "s.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewHandler(&memBackend{replicas: map[string]int32{"web": 2}}, logr.Discard())}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return NewClient(sock)
}

func TestLogsStreamsRecordsAndStopsWithTheCaller(t *testing.T) {
	c := serveMem(t)
	var got []LogRecord
	if err := c.Logs(context.Background(), "web", LogsOptions{Tail: -1}, func(r LogRecord) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2].Replica != "web-3" || got[0].Time.Nanosecond() != 6 {
		t.Fatalf("records = %+v", got)
	}

	// Following: the stream stays open until the caller's context ends.
	ctx, cancel := context.WithCancel(context.Background())
	var joined string
	done := make(chan error, 1)
	go func() {
		done <- c.Logs(ctx, "web", LogsOptions{Follow: true, Tail: -1}, func(r LogRecord) error {
			if r.Event == LogJoined {
				joined = r.Replica
				cancel()
			}
			return nil
		})
	}()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("following ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the followed stream did not deliver its join record before 10s")
	}
	if joined != "web-4" {
		t.Errorf("joined = %q, want web-4", joined)
	}

	err := c.Logs(context.Background(), "nope", LogsOptions{}, func(LogRecord) error { return nil })
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("logs of a missing spec: %v, want ErrNotFound", err)
	}
}

func TestExecRelaysStdinOutputResizeAndExitCode(t *testing.T) {
	c := serveMem(t)
	s, err := c.Exec(context.Background(), "web", ExecRequest{Cmd: []string{"cat"}, Stdin: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Replica != "web-1" {
		t.Errorf("replica = %q", s.Replica)
	}
	if err := s.Resize(40, 120); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 3*maxFrame+5) // more than one frame
	go func() {
		_, _ = io.WriteString(s, big)
		_ = s.CloseStdin()
	}()
	var stdout, stderr bytes.Buffer
	code, err := s.Wait(&stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if code != 7 || stdout.String() != big || stderr.String() != "bye" {
		t.Errorf("code %d, stdout %d bytes, stderr %q", code, stdout.Len(), stderr.String())
	}
	lastProcess.mu.Lock()
	sizes := lastProcess.sizes
	lastProcess.mu.Unlock()
	if len(sizes) != 1 || sizes[0] != "40x120" {
		t.Errorf("resizes = %v", sizes)
	}

	if _, err := c.Exec(context.Background(), "web", ExecRequest{Replica: "web-9", Cmd: []string{"true"}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("exec in a missing replica: %v, want ErrNotFound", err)
	}
	if _, err := c.Exec(context.Background(), "web", ExecRequest{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("exec without a command: %v, want ErrInvalid", err)
	}
}

func TestVersionCall(t *testing.T) {
	v, err := serveMem(t).Version(context.Background())
	if err != nil || v.Engine.Kind != "docker" || v.Daemon.Version != "(devel)" {
		t.Errorf("version = %+v, %v", v, err)
	}
}
