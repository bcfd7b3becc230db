package specstore

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
)

// brokenBeforeName are edits whose YAML error comes before metadata.name,
// so that no spec name can be read from the file.
var brokenBeforeName = map[string]func(string) string{
	"tab before kind": func(s string) string { return strings.Replace(s, "\nkind:", "\n\tkind:", 1) },
	"unclosed quote on apiVersion": func(s string) string {
		return strings.Replace(s, "apiVersion: scaler.dev/v1alpha1", `apiVersion: "scaler.dev/v1alpha1`, 1)
	},
}

// restart opens a new store over the same spec and state directories, as
// a restarted scalerd does.
func restart(t *testing.T, dir, stateDir string) *Store {
	t.Helper()
	s, err := OpenWithState(dir, stateDir, testr.New(t))
	if err != nil {
		t.Fatalf("OpenWithState: %v", err)
	}
	return s
}

func TestRestartWithAFileBrokenBeforeItsNameKeepsTheRecordedSpec(t *testing.T) {
	for what, breakIt := range brokenBeforeName {
		t.Run(what, func(t *testing.T) {
			dir, stateDir := t.TempDir(), filepath.Join(t.TempDir(), "specs")
			write := func(name, content string) {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			write("web.yaml", specYAML("web", 3))
			s := restart(t, dir, stateDir)
			write("web.yaml", specYAML("web", 4))
			s.Reload()
			if g := generationOf(t, s, "web"); g != 2 {
				t.Fatalf("generation %d, want 2", g)
			}

			write("web.yaml", breakIt(specYAML("web", 5)))
			s = restart(t, dir, stateDir)
			spec, specErr, ok := s.Get("web")
			if !ok || *spec.Spec.Replicas != 4 || spec.Metadata.Generation != 2 {
				t.Fatalf("after the restart: in force %v, spec %+v; want the recorded replicas 4, generation 2", ok, spec)
			}
			if specErr == nil || !strings.Contains(specErr.Error(), "web.yaml:") || !strings.Contains(specErr.Error(), "YAML syntax error") {
				t.Errorf("spec error %v, want the syntax error with its file and line", specErr)
			}
			if !s.Defined("web") || !slices.Equal(s.Names(), []string{"web"}) {
				t.Errorf("Defined(web)=%v Names()=%v", s.Defined("web"), s.Names())
			}
			// Twice, so that the first restart's own records are read too.
			s = restart(t, dir, stateDir)
			if spec, _, ok := s.Get("web"); !ok || *spec.Spec.Replicas != 4 {
				t.Fatalf("after a second restart: in force %v", ok)
			}

			// The fix takes effect, with the next generation.
			write("web.yaml", specYAML("web", 5))
			s.Reload()
			if spec, specErr, ok := s.Get("web"); !ok || specErr != nil || *spec.Spec.Replicas != 5 || spec.Metadata.Generation != 3 {
				t.Fatalf("after the fix: %v %v %+v", ok, specErr, spec)
			}
		})
	}
}

func TestRestartAfterTheFileWentDeletesTheSpec(t *testing.T) {
	for what, change := range map[string]func(dir string) error{
		"file removed": func(dir string) error { return os.Remove(filepath.Join(dir, "web.yaml")) },
		"file parses without it": func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(specYAML("api", 1)), 0o600)
		},
	} {
		t.Run(what, func(t *testing.T) {
			dir, stateDir := t.TempDir(), filepath.Join(t.TempDir(), "specs")
			if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(specYAML("web", 3)), 0o600); err != nil {
				t.Fatal(err)
			}
			restart(t, dir, stateDir)
			if err := change(dir); err != nil {
				t.Fatal(err)
			}
			s := restart(t, dir, stateDir)
			// Still in force for the grace that covers editors' saves.
			if !s.Defined("web") {
				t.Fatal("web deleted before its grace")
			}
			now := time.Now().Add(deleteGrace)
			s.now = func() time.Time { return now }
			s.Reload()
			if s.Defined("web") {
				t.Fatal("web still defined after its file went")
			}
			if _, err := os.Stat(filepath.Join(stateDir, "web.json")); !os.IsNotExist(err) {
				t.Errorf("the record of the deleted spec remains: %v", err)
			}
			if s = restart(t, dir, stateDir); s.Defined("web") {
				t.Error("web back after another restart")
			}
		})
	}
}

func TestUnreadableFileHoldsUnknownNames(t *testing.T) {
	// No state directory: a first start, or a lost one. The broken file may
	// define any spec, so none may be taken as deleted.
	dir := t.TempDir()
	broken := brokenBeforeName["tab before kind"](specYAML("web", 3))
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "api.yaml"), []byte(specYAML("api", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, testr.New(t))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Defined("web") {
		t.Fatal("an unknown name counts as deleted while a file that may define it cannot be read")
	}
	_, specErr, ok := s.Get("web")
	if ok || specErr == nil || !strings.Contains(specErr.Error(), "web.yaml:2: YAML syntax error") || !strings.Contains(specErr.Error(), "may be defined in a file that cannot be read") {
		t.Fatalf("Get(web) = %v, %v; want the reason it is held", ok, specErr)
	}
	// A spec the store saw deleted stays deleted.
	if err := os.Remove(filepath.Join(dir, "api.yaml")); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	now := time.Now().Add(deleteGrace)
	s.now = func() time.Time { return now }
	s.Reload()
	if s.Defined("api") {
		t.Error("api, removed while another file is broken, is still defined")
	}
	// Fixed without web: web is deleted.
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(specYAML("other", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	if s.Defined("web") {
		t.Error("web still held after the file was fixed without it")
	}
}

func TestInvalidFirstVersionIsRememberedAcrossRestarts(t *testing.T) {
	dir, stateDir := t.TempDir(), filepath.Join(t.TempDir(), "specs")
	invalid := strings.Replace(specYAML("web", 3), "replicas: 3", "replicas: -1", 1)
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(invalid), 0o600); err != nil {
		t.Fatal(err)
	}
	restart(t, dir, stateDir)
	broken := brokenBeforeName["tab before kind"](invalid)
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	s := restart(t, dir, stateDir)
	list := s.List()
	if len(list) != 1 || list[0].Name != "web" || list[0].Spec != nil || list[0].Err == nil || !strings.Contains(list[0].Err.Error(), "YAML syntax error") {
		t.Fatalf("List() = %+v; want web with no version in force and the syntax error", list)
	}
}

func TestBadRecordIsMovedAside(t *testing.T) {
	dir, stateDir := t.TempDir(), filepath.Join(t.TempDir(), "specs")
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(specYAML("web", 3)), 0o600); err != nil {
		t.Fatal(err)
	}
	restart(t, dir, stateDir)
	record := filepath.Join(stateDir, "web.json")
	if err := os.WriteFile(record, []byte(`{"file": "web.yaml", "spec": {`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := restart(t, dir, stateDir)
	if spec, specErr, ok := s.Get("web"); !ok || specErr != nil || *spec.Spec.Replicas != 3 {
		t.Fatalf("the file's spec did not load over a bad record: %v %v", ok, specErr)
	}
	if _, err := os.Stat(record + ".corrupt"); err != nil {
		t.Errorf("the bad record was not kept aside: %v", err)
	}
	if _, err := os.Stat(record); err != nil {
		t.Errorf("no new record written: %v", err)
	}
}

func TestUnwritableStateDirIsReportedNotFatal(t *testing.T) {
	dir, stateDir := t.TempDir(), filepath.Join(t.TempDir(), "specs")
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(specYAML("web", 3)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := restart(t, dir, stateDir)
	restore := makeUnwritable(t, stateDir)
	if err := os.WriteFile(filepath.Join(dir, "web.yaml"), []byte(specYAML("web", 4)), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Reload()
	if spec, _, ok := s.Get("web"); !ok || *spec.Spec.Replicas != 4 {
		t.Fatal("the edit did not take effect while the state dir is unwritable")
	}
	if err := s.StateErr(); err == nil || !strings.Contains(err.Error(), "recording specs in "+stateDir) {
		t.Errorf("StateErr() = %v, want the write failure", err)
	}
	restore()
	s.Reload()
	if err := s.StateErr(); err != nil {
		t.Errorf("StateErr() = %v after the directory became writable", err)
	}
	if spec, _, ok := restart(t, dir, stateDir).Get("web"); !ok || *spec.Spec.Replicas != 4 {
		t.Error("the record was not brought up to date")
	}
}

// makeUnwritable puts a regular file where dir was, so that nothing can be
// created in it, for any user, root included; restore puts dir back.
func makeUnwritable(t *testing.T, dir string) (restore func()) {
	t.Helper()
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(dir+".away", dir); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLeftoverTempFilesAreRemovedAtOpen(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{".scaler-123.tmp", ".web.yaml.swp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(dir, testr.New(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".scaler-123.tmp")); !os.IsNotExist(err) {
		t.Errorf("leftover temp file not removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".web.yaml.swp")); err != nil {
		t.Errorf("an editor's swap file was touched: %v", err)
	}
}

func generationOf(t *testing.T, s *Store, name string) int64 {
	t.Helper()
	spec, _, ok := s.Get(name)
	if !ok {
		t.Fatalf("%s not in force", name)
	}
	return spec.Metadata.Generation
}

func TestFileErrorsOfNoSpecAreReportedOnce(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 1)})
	var got []FileError
	h.store.OnFileError(func(fe FileError) { got = append(got, fe) })
	// A new file, broken before its name: no spec can carry the error.
	h.write("new.yaml", brokenBeforeName["tab before kind"](specYAML("api", 1)))
	h.store.Reload()
	h.store.Reload()
	if len(got) != 1 || got[0].Path != h.path("new.yaml") || !strings.Contains(got[0].Err.Error(), "new.yaml:2: YAML syntax error") {
		t.Fatalf("file errors reported: %+v; want the syntax error once", got)
	}
	h.write("new.yaml", specYAML("api", 1))
	h.store.Reload()
	if len(got) != 1 || len(h.store.FileErrors()) != 0 {
		t.Errorf("after the fix: reported %d, FileErrors %v", len(got), h.store.FileErrors())
	}
}
