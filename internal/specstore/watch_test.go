package specstore

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// saveLatency is how soon a save must reach the store. The controller's
// budget from save to traffic is one second; the store takes a small part.
const saveLatency = 500 * time.Millisecond

// Each function saves content to path the way a common tool does.

// vimSave saves as vim does with its defaults on Linux (writebackup,
// backupcopy=auto choosing "no"): probe the directory with a file named
// 4913, move the original away as a backup, write a new file, drop the
// backup. For a moment the file does not exist at all.
func vimSave(t *testing.T, path, content string) {
	dir := filepath.Dir(path)
	swap := filepath.Join(dir, "."+filepath.Base(path)+".swp")
	must(t, os.WriteFile(swap, []byte("swap"), 0o600))
	probe := filepath.Join(dir, "4913")
	must(t, os.WriteFile(probe, nil, 0o644))
	must(t, os.Remove(probe))
	must(t, os.Rename(path, path+"~"))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	must(t, err)
	_, err = f.WriteString(content)
	must(t, err)
	must(t, f.Sync())
	must(t, f.Close())
	must(t, os.Remove(path+"~"))
	must(t, os.Remove(swap))
}

// sedSave saves as `sed -i` does: a temp file in the same directory,
// renamed over the original.
func sedSave(t *testing.T, path, content string) {
	tmp := filepath.Join(filepath.Dir(path), "sedAb12Cd")
	must(t, os.WriteFile(tmp, []byte(content), 0o644))
	must(t, os.Rename(tmp, path))
}

// cpSave saves as `cp` and `echo >` do: truncate the file, then write it,
// here in two pieces, so that a read in between sees an empty or partial
// file.
func cpSave(t *testing.T, path, content string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	must(t, err)
	half := len(content) / 2
	_, err = f.WriteString(content[:half])
	must(t, err)
	time.Sleep(2 * time.Millisecond)
	_, err = f.WriteString(content[half:])
	must(t, err)
	must(t, f.Close())
}

// mvSave saves as `mv` from elsewhere does: the new file arrives by rename
// from outside the directory.
func mvSave(t *testing.T, path, content string) {
	outside := filepath.Join(t.TempDir(), filepath.Base(path))
	must(t, os.WriteFile(outside, []byte(content), 0o644))
	must(t, os.Rename(outside, path))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestWatchSaves(t *testing.T) {
	saves := map[string]func(*testing.T, string, string){
		"vim": vimSave, "sed -i": sedSave, "cp": cpSave, "mv": mvSave,
	}
	for name, save := range saves {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 1)})
			h.watch()
			for replicas := 2; replicas <= 4; replicas++ {
				start := time.Now()
				save(t, h.path("web.yaml"), specYAML("web", replicas))
				h.waitFor("the save", 3*time.Second, func() bool { return h.replicas("web") == int32(replicas) })
				if took := time.Since(start); took > saveLatency {
					t.Errorf("save %d reached the store after %v, want under %v", replicas, took, saveLatency)
				}
			}
			// Each save is one change, and none of them ever made the spec
			// look deleted or invalid.
			if got := h.takeChanges(); len(got) != 3 {
				t.Errorf("notifications %v, want one per save", got)
			}
			if h.specErr("web") != "" {
				t.Errorf("error after saves: %s", h.specErr("web"))
			}
		})
	}
}

func TestWatchBurstIsOneChange(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 1)})
	h.watch()
	for replicas := 2; replicas <= 20; replicas++ {
		must(t, os.WriteFile(h.path("web.yaml"), []byte(specYAML("web", replicas)), 0o644))
	}
	h.waitFor("the last write", 3*time.Second, func() bool { return h.replicas("web") == 20 })
	time.Sleep(2 * quietPeriod)
	// The 19 writes take well under the quiet period of 15 ms on an idle
	// machine, and come as one change; a loaded machine (CI runs the
	// packages side by side) can pause the writing loop for longer than
	// that, splitting the burst. What must hold either way is that the
	// writes coalesce: far fewer changes than writes.
	got := h.takeChanges()
	if len(got) == 0 || len(got) > 5 {
		t.Fatalf("notifications %v for 19 writes in a burst; want them coalesced (1 on an idle machine)", got)
	}
	// A read between os.WriteFile's truncate and its write sees an empty
	// file: a change to "invalid" that keeps the generation.
	if gen := h.generation("web"); gen < 2 || gen > int64(len(got))+1 {
		t.Fatalf("generation %d after %d changes, want 2 to %d", gen, len(got), len(got)+1)
	}
	if len(got) > 1 {
		t.Logf("the burst came as %d changes: the writing loop was paused longer than the quiet period", len(got))
	}
}

func TestWatchCreateAndDelete(t *testing.T) {
	h := newHarness(t, nil)
	h.watch()
	h.write("redis.yaml", specYAML("redis", 1))
	h.waitFor("the new file", 3*time.Second, func() bool { return h.replicas("redis") == 1 })

	start := time.Now()
	must(t, os.Remove(h.path("redis.yaml")))
	h.waitFor("the deletion", 3*time.Second, func() bool { return h.replicas("redis") == -1 })
	if took := time.Since(start); took < deleteGrace {
		t.Errorf("deleted after %v, before its grace of %v", took, deleteGrace)
	}
	if got := h.takeChanges(); len(got) != 2 {
		t.Errorf("notifications %v, want created and deleted", got)
	}
}

func TestWatchMoveOut(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 1)})
	h.watch()
	must(t, os.Rename(h.path("web.yaml"), filepath.Join(t.TempDir(), "web.yaml")))
	h.waitFor("the deletion", 3*time.Second, func() bool { return h.replicas("web") == -1 })
}

func TestWatchChmodChangesNothing(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 1)})
	h.watch()
	must(t, os.Chmod(h.path("web.yaml"), 0o600))
	now := time.Now()
	must(t, os.Chtimes(h.path("web.yaml"), now, now))
	time.Sleep(4 * quietPeriod)
	if got := h.takeChanges(); len(got) != 0 {
		t.Fatalf("notifications %v, want none", got)
	}
}

// TestWatchUnreadableFileKeepsSpec makes web.yaml unreadable in ways that
// stop root too (CI runs as root, which reads a file of mode 000): a
// symlink to itself (ELOOP at stat) and a symlink to /proc/self/mem (stat
// says a regular file; the read fails with EIO). Mode 000 is tried as
// well when the test does not run as root. Each time the spec stays in
// force with an error, and a readable file clears the error.
func TestWatchUnreadableFileKeepsSpec(t *testing.T) {
	// replaceWithLink puts a symlink to target in place of path in one
	// rename, so that the file never looks deleted in between.
	replaceWithLink := func(t *testing.T, path, target string) {
		tmp := filepath.Join(filepath.Dir(path), "link.tmp")
		must(t, os.Symlink(target, tmp))
		must(t, os.Rename(tmp, path))
	}
	ways := map[string]func(t *testing.T, path string){
		"symlink loop": func(t *testing.T, path string) { replaceWithLink(t, path, filepath.Base(path)) },
		"read fails":   func(t *testing.T, path string) { replaceWithLink(t, path, "/proc/self/mem") },
	}
	if os.Geteuid() != 0 {
		ways["mode 000"] = func(t *testing.T, path string) { must(t, os.Chmod(path, 0)) }
	}
	for name, breakFile := range ways {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 1)})
			h.watch()
			path := h.path("web.yaml")
			breakFile(t, path)
			if _, err := os.ReadFile(path); err == nil {
				t.Fatal("the file can still be read: the test would prove nothing")
			}
			h.waitFor("the error", 3*time.Second, func() bool { return h.specErr("web") != "" })
			if h.replicas("web") != 1 {
				t.Fatal("unreadable file dropped the spec")
			}
			sedSave(t, path, specYAML("web", 1))
			h.waitFor("the error to clear", 3*time.Second, func() bool { return h.specErr("web") == "" })
		})
	}
}

func TestWatchInvalidEditThenFix(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 1)})
	h.watch()
	sedSave(t, h.path("web.yaml"), "apiVersion: scaler.dev/v1alpha1\nkind: ScaleSpec\nmetadata: {name: web}\nspec: {replicas: -2, template: {image: demoapp:dev}}\n")
	h.waitFor("the error", 3*time.Second, func() bool { return h.specErr("web") != "" })
	if want := "web.yaml:4: spec.replicas: -2 is negative; use 0 or more"; h.specErr("web") != want || h.replicas("web") != 1 {
		t.Fatalf("error %q replicas %d; want %q and the last valid 1", h.specErr("web"), h.replicas("web"), want)
	}
	sedSave(t, h.path("web.yaml"), specYAML("web", 2))
	h.waitFor("the fix", 3*time.Second, func() bool { return h.specErr("web") == "" && h.replicas("web") == 2 })
}

func TestWatchDirectoryRemovedKeepsSpecs(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 1)})
	h.watch()
	moved := filepath.Join(t.TempDir(), "moved")
	must(t, os.Rename(h.dir, moved))
	time.Sleep(deleteGrace + 4*quietPeriod)
	if h.replicas("web") != 1 {
		t.Fatal("a vanished directory deleted its specs")
	}
	if fe := h.store.FileErrors(); len(fe) != 1 || fe[0].Path != h.dir {
		t.Fatalf("FileErrors() = %v, want the directory's error", fe)
	}
	must(t, os.Rename(moved, h.dir))
}
