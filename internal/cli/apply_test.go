package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

func spec(name, body string) string {
	return fmt.Sprintf("apiVersion: scaler.dev/v1alpha1\nkind: ScaleSpec\nmetadata:\n  name: %s\nspec:\n  template: {image: demoapp:dev, port: 5000}\n%s", name, body)
}

// scalectl runs the command tree in-process and returns its exit code and
// output.
func scalectl(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// specDir writes files into a new directory and returns it.
func specDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestApplyDryRunClient(t *testing.T) {
	dir := specDir(t, map[string]string{
		"web.yaml":   spec("web", "  dependsOn: [redis]\n  loadBalancer: {port: 8080}\n"),
		"redis.yaml": spec("redis", ""),
		".web.swp":   "junk",
		"README.md":  "junk",
	})
	code, stdout, stderr := scalectl(t, "", "apply", "-f", dir, "--dry-run=client")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if want := "scalespec/redis created (dry run)\nscalespec/web created (dry run)\n"; stdout != want {
		t.Fatalf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
}

func TestApplyDryRunClientErrors(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		wantStdout string
		wantStderr string
	}{
		{"every error of a file, with file and line", map[string]string{
			"web.yaml": spec("web", "  replica: 3\n  loadBalancer: {port: 70000}\n"),
		}, "", `DIR/web.yaml:7: spec.replica: unknown field, did you mean "replicas"?
DIR/web.yaml:8: spec.loadBalancer.port: 70000 is not a port; use 1-65535
`},
		{"valid files still reported", map[string]string{
			"a.yaml": spec("a", ""),
			"b.yaml": "apiVersion: scaler.dev/v1alpha1\nkind: ScaleSpec\nmetadata: {name: b}\nspec: {template: {image: x, memory: 1g}}\n",
		}, "scalespec/a created (dry run)\n", `DIR/b.yaml:4: spec.template.memory: unknown field here; memory belongs under spec.template.resources.limits or spec.template.resources.reservations
`},
		{"names unique across files", map[string]string{
			"a.yaml": spec("web", ""),
			"b.yaml": spec("web", ""),
		}, "scalespec/web created (dry run)\n", `DIR/b.yaml:4: metadata.name: "web" is already defined in DIR/a.yaml:1
`},
		{"cycles across files", map[string]string{
			"a.yaml": spec("a", "  dependsOn: [b]\n"),
			"b.yaml": spec("b", "  dependsOn: [a]\n"),
		}, "", `DIR/a.yaml:7: spec.dependsOn[0]: dependency cycle a -> b -> a; a spec cannot wait for itself
DIR/b.yaml:7: spec.dependsOn[0]: dependency cycle b -> a -> b; a spec cannot wait for itself
`},
		{"empty file", map[string]string{"a.yaml": "# todo\n"}, "",
			"DIR/a.yaml: no ScaleSpec documents: the file holds only comments or empty documents\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := specDir(t, tt.files)
			code, stdout, stderr := scalectl(t, "", "apply", "-f", dir, "--dry-run=client")
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if stdout != tt.wantStdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout, tt.wantStdout)
			}
			if want := strings.ReplaceAll(tt.wantStderr, "DIR", dir); stderr != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
			}
		})
	}
}

func TestApplyDryRunClientWarnsAboutMissingDependency(t *testing.T) {
	dir := specDir(t, map[string]string{"web.yaml": spec("web", "  dependsOn: [redis]\n")})
	code, stdout, stderr := scalectl(t, "", "apply", "-f", filepath.Join(dir, "web.yaml"), "--dry-run=client")
	want := "Warning: " + filepath.Join(dir, "web.yaml") + `:7: spec.dependsOn[0]: "redis" is not defined; web will wait until it is (only the files given were checked)` + "\n"
	if code != 0 || stdout != "scalespec/web created (dry run)\n" || stderr != want {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant stderr:\n%s", code, stdout, stderr, want)
	}
}

func TestApplyOutput(t *testing.T) {
	in := spec("web", "  replicas: 2\n")
	code, stdout, stderr := scalectl(t, in, "apply", "-f", "-", "--dry-run=client", "-o", "yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	docs, err := v1alpha1.LoadDocuments("out", []byte(stdout))
	if err != nil || len(docs) != 1 || docs[0].Err != nil {
		t.Fatalf("-o yaml does not load back: %v %v\n%s", err, docs, stdout)
	}
	for _, want := range []string{"replicas: 2", "network: scaler-net", "stopGracePeriod: 10s", "maxSurge: 1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("-o yaml lacks the default %q:\n%s", want, stdout)
		}
	}

	code, stdout, stderr = scalectl(t, in+"---\n"+spec("redis", ""), "apply", "-f", "-", "--dry-run=client", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	var names []string
	for dec.More() {
		var s v1alpha1.ScaleSpec
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("-o json: %v\n%s", err, stdout)
		}
		names = append(names, s.Metadata.Name)
	}
	if strings.Join(names, ",") != "web,redis" {
		t.Fatalf("-o json printed %v", names)
	}
}

func TestApplyUsageErrors(t *testing.T) {
	file := filepath.Join(specDir(t, map[string]string{"web.yaml": spec("web", "")}), "web.yaml")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"apply", "--dry-run=client"}, "error: required flag(s) \"filename\" not set\nRun 'scalectl apply --help' for usage.\n"},
		{[]string{"apply", "-f", file, "--bogus"}, "error: unknown flag: --bogus\nRun 'scalectl apply --help' for usage.\n"},
		{[]string{"apply", "-f", file, "--dry-run=maybe"}, "error: --dry-run=\"maybe\": use client, server or none\nRun 'scalectl apply --help' for usage.\n"},
		{[]string{"apply", "-f", file, "--dry-run=client", "-o", "xml"}, "error: --output=\"xml\": use yaml or json\nRun 'scalectl apply --help' for usage.\n"},
		{[]string{"apply", "-f", file, "extra"}, "error: unknown command \"extra\" for \"scalectl apply\"\nRun 'scalectl apply --help' for usage.\n"},
		{[]string{"apply", "-f", "missing.yaml", "--dry-run=client"}, "error: -f missing.yaml: no such file or directory\n"},
		{[]string{"apply", "-f", t.TempDir(), "--dry-run=client"}, ""},
	}
	for _, tt := range tests {
		code, stdout, stderr := scalectl(t, "", tt.args...)
		if code != 1 || stdout != "" {
			t.Errorf("%v: exit %d stdout %q, want 1 and nothing", tt.args, code, stdout)
		}
		if tt.want != "" && stderr != tt.want {
			t.Errorf("%v: stderr:\n%s\nwant:\n%s", tt.args, stderr, tt.want)
		}
		if tt.want == "" && !strings.Contains(stderr, "the directory holds no spec files") {
			t.Errorf("%v: stderr %q", tt.args, stderr)
		}
	}
}

func TestApplyWithoutDryRunNeedsTheDaemon(t *testing.T) {
	file := filepath.Join(specDir(t, map[string]string{"web.yaml": spec("web", "")}), "web.yaml")
	code, _, stderr := scalectl(t, "", "--socket", "/nonexistent/scalerd.sock", "apply", "-f", file)
	if code != 1 || !strings.Contains(stderr, "scalerd is not running") || !strings.Contains(stderr, "/nonexistent/scalerd.sock") {
		t.Fatalf("exit %d stderr %q", code, stderr)
	}
}

func TestDefaultSocketPath(t *testing.T) {
	inDir(t, t.TempDir())
	SystemSocketPath = filepath.Join(t.TempDir(), "absent.sock")
	defer func() { SystemSocketPath = "/run/scaler/scalerd.sock" }()
	t.Setenv("SCALER_SOCKET", "/run/x.sock")
	if got := DefaultSocketPath(); got != "/run/x.sock" {
		t.Errorf("with SCALER_SOCKET: %q", got)
	}
	t.Setenv("SCALER_SOCKET", "")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	if got := DefaultSocketPath(); got != "/run/user/1000/scaler/scalerd.sock" {
		t.Errorf("with XDG_RUNTIME_DIR: %q", got)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	if got, want := DefaultSocketPath(), filepath.Join(os.TempDir(), fmt.Sprintf("scaler-%d", os.Getuid()), "scalerd.sock"); got != want {
		t.Errorf("fallback: %q, want %q", got, want)
	}
}

// With no SCALER_SOCKET and no socket of the user's own, scalectl finds
// the system service's socket; a user's own daemon still wins.
func TestDefaultSocketPathFindsTheSystemService(t *testing.T) {
	dir := t.TempDir()
	inDir(t, dir)
	SystemSocketPath = filepath.Join(dir, "system.sock")
	defer func() { SystemSocketPath = "/run/scaler/scalerd.sock" }()
	t.Setenv("SCALER_SOCKET", "")
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(dir, "user"))
	own := filepath.Join(dir, "user", "scaler", "scalerd.sock")
	if got := DefaultSocketPath(); got != own {
		t.Errorf("no socket at all: %q, want the user's %q", got, own)
	}
	if err := os.WriteFile(SystemSocketPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := DefaultSocketPath(); got != SystemSocketPath {
		t.Errorf("system socket present: %q, want %q", got, SystemSocketPath)
	}
	if err := os.MkdirAll(filepath.Dir(own), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(own, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := DefaultSocketPath(); got != own {
		t.Errorf("both present: %q, want the user's %q", got, own)
	}
	t.Setenv("SCALER_SOCKET", "/x.sock")
	if got := DefaultSocketPath(); got != "/x.sock" {
		t.Errorf("SCALER_SOCKET set: %q", got)
	}
}

// endless is a reader that never ends, like a device or a pipe left open.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '#'
	}
	return len(p), nil
}

func TestApplyRefusesFilesLargerThanScalerdReads(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: 200 MB that take no disk.
	if err := f.Truncate(200 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	code, _, stderr := scalectl(t, "", "apply", "-f", big, "--dry-run=client")
	if code == 0 || !strings.Contains(stderr, big+": the file is larger than 4194304 bytes (4 MiB)") {
		t.Errorf("exit %d, stderr %q; want the size limit named", code, stderr)
	}
	var out, errOut bytes.Buffer
	code = run(context.Background(), []string{"apply", "-f", "-", "--dry-run=client"}, endless{}, &out, &errOut)
	if code == 0 || !strings.Contains(errOut.String(), "stdin: the file is larger than") {
		t.Errorf("endless stdin: exit %d, stderr %q", code, errOut.String())
	}
}
