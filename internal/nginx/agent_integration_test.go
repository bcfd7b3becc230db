package nginx

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/testenv"
)

// TestReloadAgentInNginx runs the reload agent in the real load balancer
// image, fed on stdin the way scalerd feeds it (docker exec -i stands in
// for the Engine's attach), and checks the protocol end to end: it starts,
// applies a config nginx then serves, rejects a broken one with nginx's
// message while the running config stays, counts draining workers, and
// keeps requests apart when they come back to back.
func TestReloadAgentInNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs the Docker Engine and make images")
	}
	testenv.RequireDocker(t)
	testenv.RequireImages(t, nginxImage)
	t.Parallel()

	lb := testenv.Name(t, "agent-lb")
	testenv.Cleanup(t, lb)
	port := testenv.FreePort(t)
	cfg := Config{SpecName: "web", Algorithm: "round_robin", MaxFails: 1, ListenPort: 80,
		ServerSnippet: "location = /version { return 200 \"one\\n\"; }"}
	// Hardened as scalerd creates it: the agent must work with only the
	// capabilities the load balancer keeps.
	args := []string{"create", "--name", lb, "--label", testenv.LabelTest + "=" + t.Name(),
		"-p", fmt.Sprintf("127.0.0.1:%d:80", port), "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true"}
	for _, c := range Capabilities() {
		args = append(args, "--cap-add", c)
	}
	testenv.Docker(t, append(append(args, nginxImage), StartCommand()...)...)
	copyInto(t, lb, ConfigPath, mustRender(t, cfg))
	testenv.Docker(t, "start", lb)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", append([]string{"exec", "-i", lb}, AgentCommand()...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	replies := bufio.NewReader(stdout)
	readLine := func() string {
		t.Helper()
		line, err := replies.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the agent: %v", err)
		}
		return line
	}
	call := func(req []byte) (int, string) {
		t.Helper()
		if _, err := stdin.Write(req); err != nil {
			t.Fatal(err)
		}
		code, text, err := ParseReply(readLine())
		if err != nil {
			t.Fatal(err)
		}
		return code, text
	}
	if got := strings.TrimSpace(readLine()); got != AgentReady {
		t.Fatalf("first line %q, want %q", got, AgentReady)
	}

	version := func() string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/version", port))
			if err == nil {
				var b strings.Builder
				_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
				resp.Body.Close()
				return strings.TrimSpace(b.String())
			}
			if time.Now().After(deadline) {
				t.Fatalf("nginx does not answer: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if got := version(); got != "one" {
		t.Fatalf("before any apply: %q", got)
	}
	// Before any reload, the master's children are one config's workers.
	workers := len(strings.Fields(masterChildren(t, lb)))

	// Backslashes, quotes and indentation arrive byte for byte.
	cfg.ServerSnippet = "location = /version { return 200 \"two\\n\"; }\n        location ~ \\.php$ { return 404; }"
	rendered := mustRender(t, cfg)
	if code, text := call(ApplyRequest(rendered, nil)); code != ReplyOK {
		t.Fatalf("apply: code %d %s", code, text)
	}
	waitVersion(t, version, "two")
	// The agent, not only the master 100 ms later, asked the old workers
	// to quit: this needs the capabilities the load balancer keeps.
	if got := waitHastened(t, lb); !strings.HasPrefix(got, "quit ") {
		t.Errorf("after a reload the agent's watch says %q, want the old workers asked to quit", got)
	}
	if got, _ := dockerExec(t, lb, "cat", ConfigPath); got != strings.TrimSpace(string(rendered)) {
		t.Fatalf("config in place differs from the one sent:\n%s\nwant:\n%s", got, rendered)
	}

	// Broken, then a good one right behind it: each gets its own reply.
	broken := cfg
	broken.ServerSnippet = "no_such_directive on;"
	cfg.ServerSnippet = "location = /version { return 200 \"three\\n\"; }"
	if _, err := stdin.Write(append(ApplyRequest(mustRender(t, broken), nil), ApplyRequest(mustRender(t, cfg), nil)...)); err != nil {
		t.Fatal(err)
	}
	code, text, err := ParseReply(readLine())
	if err != nil || code != RejectedCode || !strings.Contains(text, "no_such_directive") {
		t.Fatalf("broken config: code %d %q %v; want %d naming the directive", code, text, err, RejectedCode)
	}
	if code, text, err := ParseReply(readLine()); err != nil || code != ReplyOK {
		t.Fatalf("apply after a rejected one: code %d %q %v", code, text, err)
	}
	waitVersion(t, version, "three")

	// A config that nginx -t passes but the master then fails to load
	// (the new listen socket cannot be bound while the old one listens):
	// no new workers start, so the agent's hastening must signal none of
	// the old ones, which go on serving.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		// The workers of the replaced configs have to be gone first, reaped
		// by the master: the draining count alone misses a worker that was
		// asked to quit but has not retitled itself yet, and one that has
		// exited but is not reaped (a zombie has no command line).
		children, settled := masterChildrenSettled(t, lb)
		if settled && len(strings.Split(strings.TrimSpace(children), "\n")) == workers {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workers of replaced configs still children of the master after 10 s: %s", children)
		}
	}
	before := masterChildren(t, lb)
	failing := cfg
	failing.ServerSnippet = "listen 127.0.0.1:80 bind;\n        location = /version { return 200 \"four\\n\"; }"
	if code, text := call(ApplyRequest(mustRender(t, failing), nil)); code != ReplyOK {
		t.Fatalf("apply of a config nginx -t passes: code %d %s", code, text)
	}
	if got := waitHastened(t, lb); got != "no new workers" {
		t.Errorf("after a reload the master refused, the agent's watch says %q, want %q", got, "no new workers")
	}
	if got := version(); got != "three" {
		t.Errorf("after a reload the master refused: serving %q, want the running config's %q", got, "three")
	}
	if after := masterChildren(t, lb); after != before {
		t.Errorf("workers changed from %q to %q after a reload the master refused", before, after)
	}

	code, text = call(DrainingRequest())
	if n, err := ParseCount(text); code != ReplyOK || err != nil || n < 0 {
		t.Fatalf("draining: code %d %q %v", code, text, err)
	}
	if code, text := call([]byte("bogus\n")); code == ReplyOK || code == RejectedCode {
		t.Fatalf("unknown request answered %d %q; want an agent failure", code, text)
	}
}

// waitHastened returns what the agent's watch for new workers ended with.
func waitHastened(t *testing.T, lb string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, _ := dockerExec(t, lb, "cat", HastenLog)
		if out != "" {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still empty after 10 s", HastenLog)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// masterChildren lists the PIDs of the nginx master's children (its
// workers); the master is PID 1 in the container.
func masterChildren(t *testing.T, lb string) string {
	t.Helper()
	listing, _ := masterChildrenSettled(t, lb)
	var pids []string
	for _, line := range strings.Split(strings.TrimSpace(listing), "\n") {
		pids = append(pids, strings.Fields(line)[0])
	}
	return strings.Join(pids, " ")
}

// masterChildrenSettled lists the master's children, a line each with
// its state and title, and says whether all of them are live workers not
// shutting down.
func masterChildrenSettled(t *testing.T, lb string) (string, bool) {
	t.Helper()
	out, code := dockerExec(t, lb, "sh", "-c",
		`for d in /proc/[0-9]*; do read -r _ _ st pp _ 2>/dev/null < "$d/stat" && [ "$pp" = 1 ] && printf '%s %s %s\n' "${d#/proc/}" "$st" "$(tr '\0' ' ' < "$d/cmdline")"; done; true`)
	if code != 0 || out == "" {
		t.Fatalf("listing the master's workers: exit %d, %q", code, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.SplitN(line, " ", 3)
		if len(f) != 3 || f[1] == "Z" || strings.TrimSpace(f[2]) != "nginx: worker process" {
			return out, false
		}
	}
	return out, true
}

func waitVersion(t *testing.T, version func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for got := version(); got != want; got = version() {
		if time.Now().After(deadline) {
			t.Fatalf("nginx serves %q, want %q after the reload", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		line string
		code int
		text string
		ok   bool
	}{
		{"scaler-reply 0 reloaded\n", 0, "reloaded", true},
		{"scaler-reply 3 nginx: [emerg] unknown directive \"x\" \n", 3, "nginx: [emerg] unknown directive \"x\"", true},
		{"scaler-reply 0 2\n", 0, "2", true},
		{"scaler-reply 2\n", 2, "", true},
		{"sh: 1: head: not found\n", 0, "", false},
		{"scaler-reply x y\n", 0, "", false},
	} {
		code, text, err := ParseReply(tc.line)
		if (err == nil) != tc.ok || (tc.ok && (code != tc.code || text != tc.text)) {
			t.Errorf("ParseReply(%q) = %d, %q, %v", tc.line, code, text, err)
		}
	}
	if got := string(ApplyRequest([]byte("ab\ncd"), nil)); got != "apply 2\nab\ncd\n" {
		t.Errorf("ApplyRequest = %q", got)
	}
	if got := string(ApplyRequest([]byte("a \\ b\n\n"), nil)); got != "apply 2\na \\ b\n\n" {
		t.Errorf("ApplyRequest = %q", got)
	}
}
