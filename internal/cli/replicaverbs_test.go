package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/replicaio"
)

// The stub's logs: two replicas, lines out of name order, and following
// adds a joiner and a leaver.
func (b *stubBackend) Logs(_ context.Context, name string, opts controlapi.LogsOptions) (controlapi.LogStream, error) {
	if name != b.spec.Metadata.Name {
		return nil, fmt.Errorf("scalespec %q: %w", name, controlapi.ErrNotFound)
	}
	for _, r := range opts.Replicas {
		if r != "web-1" && r != "web-2" {
			return nil, fmt.Errorf("%w: scalespec %q has no replica %q; its replicas: web-1, web-2", controlapi.ErrNotFound, name, r)
		}
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func(ctx context.Context, emit func(controlapi.LogRecord) error) error {
		recs := []controlapi.LogRecord{
			{Replica: "web-2", Time: t0, Stream: "stdout", Line: "first"},
			{Replica: "web-1", Time: t0.Add(time.Second), Stream: "stderr", Line: "second"},
		}
		if opts.Follow {
			recs = append(recs,
				controlapi.LogRecord{Replica: "web-10", Event: controlapi.LogJoined},
				controlapi.LogRecord{Replica: "web-10", Time: t0.Add(2 * time.Second), Stream: "stdout", Line: "third"},
				controlapi.LogRecord{Replica: "web-1", Event: controlapi.LogLeft})
		}
		for _, r := range recs {
			if err := emit(r); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// exitProcess runs "exit N": it prints to both streams and exits with N.
type exitProcess struct{ code int }

func (p exitProcess) CopyOutput(stdout, stderr io.Writer) error {
	fmt.Fprint(stdout, "out\n")
	fmt.Fprint(stderr, "err\n")
	return nil
}
func (exitProcess) Write(b []byte) (int, error)              { return len(b), nil }
func (exitProcess) CloseStdin() error                        { return nil }
func (exitProcess) Resize(context.Context, uint, uint) error { return nil }
func (p exitProcess) ExitCode(context.Context) (int, error)  { return p.code, nil }
func (exitProcess) Close() error                             { return nil }

func (b *stubBackend) Exec(_ context.Context, name string, req controlapi.ExecRequest) (replicaio.Process, string, error) {
	if name != b.spec.Metadata.Name {
		return nil, "", fmt.Errorf("scalespec %q: %w", name, controlapi.ErrNotFound)
	}
	if len(req.Cmd) != 2 || req.Cmd[0] != "exit" {
		return nil, "", fmt.Errorf("%w: the stub runs only `exit N`", controlapi.ErrInvalid)
	}
	n, err := strconv.Atoi(req.Cmd[1])
	if err != nil {
		return nil, "", err
	}
	return exitProcess{n}, "web-1", nil
}

func (b *stubBackend) Version(context.Context) (controlapi.VersionInfo, error) {
	return controlapi.VersionInfo{Daemon: controlapi.BuildInfo{Version: "(devel)", GoVersion: "go1.26", Platform: "linux/amd64"},
		Instance: "default", Engine: controlapi.EngineInfo{Kind: "docker", Version: "28.5.2", APIVersion: "1.51",
			MinAPIVersion: "1.24", NegotiatedAPIVersion: "1.51", Platform: "linux/amd64"}}, nil
}

func TestLogsPrefixesLinesAndReportsJoinsOnStderr(t *testing.T) {
	_, sock := serveStub(t)
	out, errOut, code := ctl(sock, "logs", "web", "-f", "--timestamps")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "web-2  | 2026-01-02T03:04:05Z first\n" +
		"web-1  | 2026-01-02T03:04:06Z second\n" +
		"web-10 | 2026-01-02T03:04:07Z third\n"
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if errOut != "+ web-10 joined\n- web-1 left\n" {
		t.Errorf("stderr: %q", errOut)
	}
	// Not a terminal: no colour unless asked; asked, each name has one.
	out, _, _ = ctl(sock, "logs", "web", "--color", "always")
	if !strings.Contains(out, "\x1b["+colorOf("web-2")+"mweb-2 \x1b[0m | first") {
		t.Errorf("coloured output: %q", out)
	}
}

func TestLogsRejectsBadInputWithTheFix(t *testing.T) {
	_, sock := serveStub(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "nope"}, `scalespec "nope"`},
		{[]string{"logs", "web", "--replica", "web-9"}, `no replica "web-9"; its replicas: web-1, web-2`},
		{[]string{"logs", "web", "--since", "yesterday"}, "--since"},
		{[]string{"logs", "web", "--tail", "-5"}, "--tail=-5"},
		{[]string{"logs"}, "give exactly one spec name"},
	} {
		_, errOut, code := ctl(sock, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want non-zero and %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	if got, err := parseSince("5m", now); err != nil || !got.Equal(now.Add(-5*time.Minute)) {
		t.Errorf("5m: %v %v", got, err)
	}
	if got, err := parseSince("2026-01-01T00:00:00Z", now); err != nil || got.Day() != 1 {
		t.Errorf("RFC 3339: %v %v", got, err)
	}
	if got, err := parseSince("", now); err != nil || !got.IsZero() {
		t.Errorf("empty: %v %v", got, err)
	}
}

func TestExecPassesTheExitCodeThrough(t *testing.T) {
	_, sock := serveStub(t)
	out, errOut, code := ctl(sock, "exec", "web", "--", "exit", "3")
	if code != 3 || out != "out\n" || errOut != "err\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 3, the command's output and nothing of scalectl's", code, out, errOut)
	}
	if _, errOut, code := ctl(sock, "exec", "web", "--", "exit", "0"); code != 0 {
		t.Errorf("exit 0 became %d: %s", code, errOut)
	}
	if _, errOut, code := ctl(sock, "exec", "web"); code == 0 || !strings.Contains(errOut, "give the command after --") {
		t.Errorf("no command: exit %d, %q", code, errOut)
	}
	if _, errOut, code := ctl(sock, "exec", "nope", "--", "exit", "0"); code == 0 || !strings.Contains(errOut, `"nope"`) {
		t.Errorf("missing spec: exit %d, %q", code, errOut)
	}
}

func TestWaitTimesOutWithTheLastConditionMessage(t *testing.T) {
	b, sock := serveStub(t)
	b.spec.Status.Conditions[0].Message = "1 of 2 replicas ready, 2 needed"
	_, errOut, code := ctl(sock, "wait", "web", "--for=condition=Available", "--timeout", "1s")
	if code == 0 || !strings.Contains(errOut, "timed out after 1s waiting for condition Available=True of scalespec/web") ||
		!strings.Contains(errOut, "Available=False (MinimumReplicasUnavailable): 1 of 2 replicas ready, 2 needed") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
	// Met at once: condition names are matched in any case, as kubectl does.
	out, errOut, code := ctl(sock, "wait", "web", "--for=condition=available=false")
	if code != 0 || !strings.Contains(out, "condition met") {
		t.Errorf("exit %d, %q %q", code, out, errOut)
	}
	// Status of an older generation never counts.
	b.spec.Metadata.Generation = 3
	_, errOut, code = ctl(sock, "wait", "web", "--for=condition=Available=False", "--timeout", "0")
	if code == 0 || !strings.Contains(errOut, "has not observed generation 3") {
		t.Errorf("stale status: exit %d, %q", code, errOut)
	}
	if out, _, code := ctl(sock, "wait", "gone", "--for=delete"); code != 0 || out != "scalespec/gone deleted\n" {
		t.Errorf("delete: exit %d, %q", code, out)
	}
	for _, bad := range []string{"--for=ready", "--for=condition=Available=Maybe"} {
		if _, errOut, code := ctl(sock, "wait", "web", bad); code == 0 || !strings.Contains(errOut, "--for=") {
			t.Errorf("%s: exit %d, %q", bad, code, errOut)
		}
	}
	if _, errOut, code := ctl(sock, "wait", "nope", "--for=condition=Available"); code == 0 || !strings.Contains(errOut, `"nope"`) {
		t.Errorf("missing spec: exit %d, %q", code, errOut)
	}
}

func TestVersionPrintsClientDaemonAndEngine(t *testing.T) {
	_, sock := serveStub(t)
	out, errOut, code := ctl(sock, "version")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"Client:  scalectl ", "Daemon:  scalerd (devel), go1.26, linux/amd64, instance default",
		"Engine:  docker 28.5.2, API 1.51 (min 1.24), scalerd speaks 1.51, linux/amd64"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	out, _, code = ctl(sock+".missing", "version")
	if code == 0 || !strings.Contains(out, "Client:  scalectl") {
		t.Errorf("daemon down: exit %d, %q; want the client's version and a non-zero exit", code, out)
	}
}

func TestExplainDocumentsAFieldFromTheTypes(t *testing.T) {
	out, errOut, code := ctl("", "explain", "scalespec.spec.strategy")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"FIELD:    strategy <object>", "maxSurge\t<integer or percentage> (default 1)", "progressDeadline"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	out, _, _ = ctl("", "explain", "spec.loadBalancer.ALGORITHM")
	if !strings.Contains(out, "VALUES:   "+strings.Join(v1alpha1.Algorithms, ", ")) || !strings.Contains(out, "DEFAULT:  least_conn") {
		t.Errorf("algorithm:\n%s", out)
	}
	out, _, _ = ctl("", "explain", "scalespec", "--recursive")
	if !strings.Contains(out, "\n      healthCheck\t<object>\n        command\t<[]string> (required)\n") {
		t.Errorf("tree:\n%s", out)
	}
	_, errOut, code = ctl("", "explain", "scalespec.spec.stratgy")
	if code == 0 || !strings.Contains(errOut, `scalespec.spec has no field "stratgy"; its fields: replicas, dependsOn`) {
		t.Errorf("typo: exit %d, %q", code, errOut)
	}
}
