package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/testenv"
)

// syncBuffer is a bytes.Buffer that a running process writes while the
// test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// hasLine reports whether out has a line of replica (its "NAME | " prefix,
// padded) that contains text.
func hasLine(out, replica, text string) bool {
	for _, line := range strings.Split(out, "\n") {
		name, rest, ok := strings.Cut(line, " | ")
		if ok && strings.TrimSpace(name) == replica && strings.Contains(rest, text) {
			return true
		}
	}
	return false
}

// TestScalectlLogsExecWaitVersion runs the verbs of issue 19 against a
// real scalerd, Engine and demoapp: logs -f across a scale from 2 to 3
// shows the new replica's lines and says it joined; exec returns the
// command's exit code; wait times out with the spec's condition message;
// version reaches the Engine.
func TestScalectlLogsExecWaitVersion(t *testing.T) {
	s := upStack(t, 2)
	web := s.name("web")

	// Following starts before the scale: the third replica must be picked
	// up as it comes.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logsOut, logsErr syncBuffer
	follow := exec.CommandContext(ctx, filepath.Join(binDir, "scalectl"), "--socket", s.socket, "logs", web, "-f")
	follow.Stdout, follow.Stderr = &logsOut, &logsErr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	followDone := make(chan error, 1)
	go func() { followDone <- follow.Wait() }()
	// demoapp logs "serving" once it listens.
	testenv.WaitFor(t, 30*time.Second, "logs -f to show both replicas' start", func() (bool, error) {
		out := logsOut.String()
		return hasLine(out, web+"-1", "serving") && hasLine(out, web+"-2", "serving"),
			fmt.Errorf("stdout so far:\n%s\nstderr: %s", out, logsErr.String())
	})

	t.Run("exec returns the command's exit code", func(t *testing.T) {
		out, err := s.scalectl("exec", web, "--", "/demoapp", "healthcheck")
		if err != nil {
			t.Errorf("exec /demoapp healthcheck: %v: %s", err, out)
		}
		out, err = s.scalectl("exec", web, "--replica", web+"-2", "--", "/demoapp", "no-such-command")
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(out, `unknown command "no-such-command"`) {
			t.Errorf("exec of a failing command: %v, output %q; want exit code 2 and demoapp's message", err, out)
		}
		// The load balancer is a replica too: its image has a shell.
		out, err = s.scalectl("exec", web, "--replica", web+"-lb", "--", "sh", "-c", "exit 7")
		if !errors.As(err, &exit) || exit.ExitCode() != 7 {
			t.Errorf("exec sh -c 'exit 7' in the load balancer: %v, %q; want exit code 7", err, out)
		}
		out, err = s.scalectl("exec", web, "--replica", web+"-9", "--", "true")
		if err == nil || !strings.Contains(out, `has no replica "`+web+`-9"`) {
			t.Errorf("exec in a missing replica: %v, %q", err, out)
		}
	})

	t.Run("wait", func(t *testing.T) {
		out, err := s.scalectl("wait", web, "--for=condition=Available", "--timeout", "60s")
		if err != nil {
			t.Errorf("wait for Available: %v: %s", err, out)
		}
		start := time.Now()
		out, err = s.scalectl("wait", web, "--for=condition=Available=False", "--timeout", "2s")
		if err == nil || !strings.Contains(out, "timed out after 2s") || !strings.Contains(out, "Available=True") {
			t.Errorf("wait that cannot be met: %v, %q; want a timeout with the Available condition's message", err, out)
		}
		if took := time.Since(start); took > 30*time.Second {
			t.Errorf("a 2s wait took %s", took)
		}
	})

	t.Run("version", func(t *testing.T) {
		out, err := s.scalectl("version")
		if err != nil || !strings.Contains(out, "Daemon:  scalerd") || !strings.Contains(out, "Engine:  docker ") ||
			!strings.Contains(out, "instance "+s.instance) {
			t.Errorf("version: %v:\n%s", err, out)
		}
	})

	if out, err := s.scalectl("scale", web, "--replicas", "3"); err != nil {
		t.Fatalf("scale: %v: %s", err, out)
	}
	testenv.WaitFor(t, 90*time.Second, "logs -f to show the third replica", func() (bool, error) {
		out := logsOut.String()
		return hasLine(out, web+"-3", "serving") && strings.Contains(logsErr.String(), "+ "+web+"-3 joined"),
			fmt.Errorf("stdout so far:\n%s\nstderr: %s", out, logsErr.String())
	})
	select {
	case err := <-followDone:
		t.Fatalf("logs -f ended by itself: %v", err)
	default:
	}
	cancel()
	<-followDone

	// Without -f: the history, merged in time order across replicas.
	out, err := s.scalectl("logs", web, "--timestamps", "--tail", "20")
	if err != nil {
		t.Fatalf("logs: %v: %s", err, out)
	}
	var last time.Time
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		_, rest, ok := strings.Cut(line, " | ")
		stamp, _, _ := strings.Cut(rest, " ")
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		if !ok || err != nil {
			t.Fatalf("line without a replica and a time: %q", line)
		}
		if ts.Before(last) {
			t.Errorf("lines out of time order at %q", line)
		}
		last = ts
	}
	for _, r := range []string{web + "-1", web + "-2", web + "-3"} {
		if !hasLine(out, r, "serving") {
			t.Errorf("logs has no start line of %s:\n%s", r, out)
		}
	}
	if out, err := s.scalectl("logs", web, "--replica", web+"-7"); err == nil || !strings.Contains(out, "has no replica") {
		t.Errorf("logs of a missing replica: %v, %q", err, out)
	}
}
