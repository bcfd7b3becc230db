package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// inDir has the socket search start at dir for the rest of the test.
func inDir(t *testing.T, dir string) {
	t.Helper()
	workingDir = func() (string, error) { return dir, nil }
	t.Cleanup(func() { workingDir = os.Getwd })
}

// shortTempDir is a temporary directory whose path leaves room for a
// socket's under the 107 bytes a unix address holds (t.TempDir's, named
// after the test, may not).
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sock")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// touch creates an empty file and its directories; the search only asks
// whether the path exists.
func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// `make run`'s daemon listens on .scaler/scalerd.sock at the checkout's
// root: scalectl finds it from any directory below, as an absolute path
// (a relative one broke after cd), with no SCALER_SOCKET.
func TestDefaultSocketPathFindsMakeRunsDaemonFromAnySubdirectory(t *testing.T) {
	root := shortTempDir(t)
	SystemSocketPath = filepath.Join(root, "system.sock")
	defer func() { SystemSocketPath = "/run/scaler/scalerd.sock" }()
	t.Setenv("SCALER_SOCKET", "")
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(root, "user"))
	own := filepath.Join(root, "user", "scaler", "scalerd.sock")
	checkout := filepath.Join(root, "src", "scaler")
	sock := filepath.Join(checkout, ".scaler", "scalerd.sock")
	touch(t, sock)
	touch(t, SystemSocketPath)

	for _, dir := range []string{checkout, filepath.Join(checkout, "internal", "cli"), filepath.Join(checkout, ".scaler")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		inDir(t, dir)
		if got := DefaultSocketPath(); got != sock {
			t.Errorf("from %s: %q, want %q", dir, got, sock)
		}
	}

	inDir(t, filepath.Join(root, "src")) // above the checkout: not its daemon
	if got := DefaultSocketPath(); got != SystemSocketPath {
		t.Errorf("outside the checkout: %q, want the system socket %q", got, SystemSocketPath)
	}

	inDir(t, checkout)
	touch(t, own)
	if got := DefaultSocketPath(); got != own {
		t.Errorf("the user's own socket present: %q, want it (%q)", got, own)
	}
	t.Setenv("SCALER_SOCKET", "/x.sock")
	if got := DefaultSocketPath(); got != "/x.sock" {
		t.Errorf("SCALER_SOCKET set: %q", got)
	}
}

// With no daemon anywhere, the error names every place scalectl looked,
// so that a user sees which socket it tried and where `make run`'s is.
func TestNotRunningSaysWhereScalectlLooked(t *testing.T) {
	root := t.TempDir()
	SystemSocketPath = filepath.Join(root, "system.sock")
	defer func() { SystemSocketPath = "/run/scaler/scalerd.sock" }()
	t.Setenv("SCALER_SOCKET", "")
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(root, "user"))
	inDir(t, filepath.Join(root, "work"))

	code, _, stderr := scalectl(t, "", "get")
	own := filepath.Join(root, "user", "scaler", "scalerd.sock")
	for _, want := range []string{
		"scalerd is not running", own,
		filepath.Join(root, "work", ".scaler", "scalerd.sock") + " and in each parent directory",
		SystemSocketPath,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}

	// Told where to look, scalectl names that socket only.
	code, _, stderr = scalectl(t, "", "--socket", filepath.Join(root, "given.sock"), "get")
	if code != 1 || strings.Contains(stderr, "looked for") || !strings.Contains(stderr, "given.sock") {
		t.Errorf("with --socket: exit %d stderr %q", code, stderr)
	}
}

// A checkout so deep that the socket's absolute path exceeds a unix
// address's 107 bytes: scalectl dials it relative to the working
// directory, as make run has scalerd listen.
func TestCheckoutSocketTooLongToDialIsRelative(t *testing.T) {
	cwd := "/" + strings.Repeat("d", 120) + "/sub"
	sock := "/" + strings.Repeat("d", 120) + "/.scaler/scalerd.sock"
	if got, want := dialablePath(cwd, sock), "../.scaler/scalerd.sock"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := dialablePath("/src/a", "/src/.scaler/scalerd.sock"); got != "/src/.scaler/scalerd.sock" {
		t.Errorf("short path: %q, want it absolute", got)
	}
}
