package systemd

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// make install honours DESTDIR and PREFIX and installs exactly these
// files; make uninstall removes every one of them.
func TestMakeInstallAndUninstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	if testing.Short() {
		t.Skip("builds scalerd and scalectl; skipped with -short")
	}
	dir := t.TempDir()
	destdir := filepath.Join(dir, "root")
	vars := []string{"DESTDIR=" + destdir, "PREFIX=/usr", "BIN=" + filepath.Join(dir, "bin")}
	make := func(target string) {
		t.Helper()
		cmd := exec.Command("make", append([]string{"-s", "-C", "../..", target}, vars...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
	}
	make("install")

	want := []string{
		"usr/bin/scalectl",
		"usr/bin/scalerd",
		"usr/lib/systemd/system/scalerd.service",
		"usr/lib/sysusers.d/scaler.conf",
		"usr/share/bash-completion/completions/scalectl",
		"usr/share/fish/vendor_completions.d/scalectl.fish",
		"usr/share/zsh/site-functions/_scalectl",
	}
	if got := files(t, destdir); !slices.Equal(got, want) {
		t.Fatalf("installed files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	unit, err := os.ReadFile(filepath.Join(destdir, "usr/lib/systemd/system/scalerd.service"))
	if err != nil {
		t.Fatal(err)
	}
	// The unit names the binary where it runs, not under DESTDIR.
	if !strings.Contains(string(unit), "\nExecStart=/usr/bin/scalerd ") {
		t.Errorf("the installed unit's ExecStart is not /usr/bin/scalerd:\n%s", unit)
	}
	for _, f := range want {
		info, err := os.Stat(filepath.Join(destdir, f))
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() == 0 {
			t.Errorf("%s is empty", f)
		}
		if exe := strings.HasPrefix(f, "usr/bin/"); exe != (info.Mode().Perm()&0o111 != 0) {
			t.Errorf("%s has mode %04o", f, info.Mode().Perm())
		}
	}

	make("uninstall")
	if got := files(t, destdir); len(got) != 0 {
		t.Errorf("left after make uninstall:\n%s", strings.Join(got, "\n"))
	}
}

// files lists the regular files under root, relative to it, sorted.
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
