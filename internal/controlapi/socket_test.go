package controlapi

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/scaler-dev/scaler/internal/testenv"
)

func TestListenRefusesASocketDirectoryOthersCanWrite(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the socket path
		want  string
	}{
		{"mode 0777", func(t *testing.T, dir string) string {
			d := filepath.Join(dir, "scaler-1000")
			mustMkdir(t, d, 0o777)
			return filepath.Join(d, "scalerd.sock")
		}, "has mode 0777: other users could replace the socket; run chmod 700"},
		{"group readable", func(t *testing.T, dir string) string {
			d := filepath.Join(dir, "scaler-1000")
			mustMkdir(t, d, 0o750)
			return filepath.Join(d, "scalerd.sock")
		}, "has mode 0750"},
		{"a symlink to a directory of ours", func(t *testing.T, dir string) string {
			real := filepath.Join(dir, "real")
			mustMkdir(t, real, 0o700)
			link := filepath.Join(dir, "scaler-1000")
			if err := os.Symlink(real, link); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(link, "scalerd.sock")
		}, "is a symlink"},
		{"owned by another user", func(t *testing.T, dir string) string {
			if os.Geteuid() != 0 {
				t.Skip("only root can hand a directory to another user")
			}
			d := filepath.Join(dir, "scaler-1000")
			mustMkdir(t, d, 0o700)
			if err := os.Chown(d, 65534, 65534); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(d, "scalerd.sock")
		}, "belongs to uid 65534, not to scalerd's user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sock := tt.setup(t, t.TempDir())
			l, err := Listen(sock)
			if err == nil {
				l.Close()
				t.Fatal("Listen accepted the directory")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), filepath.Dir(sock)) {
				t.Errorf("error %q, want it to name the directory and say %q", err, tt.want)
			}
			if _, err := os.Lstat(sock); !os.IsNotExist(err) {
				t.Errorf("a socket was created in a refused directory: %v", err)
			}
		})
	}
}

func TestListenCreatesAPrivateDirectory(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "a", "b", "scalerd.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, d := range []string{filepath.Dir(sock), filepath.Dir(filepath.Dir(sock))} {
		if info, err := os.Stat(d); err != nil || info.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, mode %v; want 0700", d, err, info.Mode().Perm())
		}
	}
}

func TestListenRemovesOnlyAStaleSocket(t *testing.T) {
	dir := testenv.PrivateDir(t)
	// A regular file at the socket's path is never removed.
	file := filepath.Join(dir, "file.sock")
	if err := os.WriteFile(file, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(file); err == nil || !strings.Contains(err.Error(), "not a socket is there (a regular file)") {
		t.Errorf("Listen over a regular file: %v", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "precious" {
		t.Errorf("the file was touched: %v %q", err, b)
	}
	// A socket nothing listens on any more (a daemon was killed) is.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	l, err = Listen(stale)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l.Close()
}

func mustMkdir(t *testing.T, dir string, perm os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, perm); err != nil {
		t.Fatal(err)
	}
	// Mkdir is subject to the umask; the test wants perm exactly.
	if err := os.Chmod(dir, perm); err != nil {
		t.Fatal(err)
	}
}

// --socket-group: a 0750 directory of that group is accepted and the
// socket is 0660 of that group; group write, other bits, or another
// group are refused, saying what to run.
func TestListenGroupSharesTheSocketWithOneGroup(t *testing.T) {
	gid := os.Getgid()
	dir := t.TempDir()
	d := filepath.Join(dir, "run")
	mustMkdir(t, d, 0o750)
	if err := os.Chown(d, -1, gid); err != nil {
		t.Fatal(err)
	}
	l, err := ListenGroup(filepath.Join(d, "scalerd.sock"), gid)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	info, err := os.Stat(filepath.Join(d, "scalerd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o660 {
		t.Errorf("socket mode %04o; want 0660", perm)
	}
	if st := info.Sys().(*syscall.Stat_t); int(st.Gid) != gid {
		t.Errorf("socket group %d; want %d", st.Gid, gid)
	}

	for _, c := range []struct {
		mode fs.FileMode
		gid  int
		want string
	}{
		{0o770, gid, "run chmod 750"},
		{0o755, gid, "run chmod 750"},
		{0o750, gid + 1, "run chgrp"},
	} {
		d := filepath.Join(t.TempDir(), "run")
		mustMkdir(t, d, c.mode)
		if err := CheckSocketDirGroup(filepath.Join(d, "scalerd.sock"), c.gid); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("mode %04o, --socket-group %d: %v; want an error saying %q", c.mode, c.gid, err, c.want)
		}
	}
	// Without --socket-group a 0750 directory is still refused.
	if err := CheckSocketDir(filepath.Join(d, "x.sock")); err == nil {
		t.Error("CheckSocketDir accepted a 0750 directory")
	}
}
