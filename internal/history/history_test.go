package history

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

func tmpl(image string) v1alpha1.Template { return v1alpha1.Template{Image: image, Port: 5000} }

func TestRecordNumbersRevisionsAndSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, step := range []struct {
		hash string
		want int64
	}{{"a", 1}, {"a", 1}, {"b", 2}, {"c", 3}, {"a", 4}} {
		got, err := s.Record("web", step.hash, tmpl("img:"+step.hash), 10)
		if err != nil || got != step.want {
			t.Fatalf("step %d: Record(%s) = %d, %v; want %d", i, step.hash, got, err, step.want)
		}
	}
	// A new scalerd reads the same file.
	s2, _ := Open(dir)
	revs, err := s2.List("web")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range revs {
		got = append(got, r.Hash)
	}
	if strings.Join(got, ",") != "b,c,a" {
		t.Errorf("revisions after undo to a = %v, want b,c,a (an old template moves to the top)", got)
	}
	prev, err := s2.Previous("web", 0)
	if err != nil || prev.Hash != "c" || prev.Template.Image != "img:c" {
		t.Errorf("Previous = %+v, %v; want revision of c", prev, err)
	}
	if _, err := s2.Previous("web", 1); !errors.Is(err, ErrNoRevision) || !strings.Contains(err.Error(), "rollout history web") {
		t.Errorf("a dropped revision: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("state dir holds %d files, want just web.json (no temp files left)", len(entries))
	}
}

func TestRecordKeepsTheLimit(t *testing.T) {
	s, _ := Open(t.TempDir())
	for _, h := range []string{"a", "b", "c", "d"} {
		if _, err := s.Record("web", h, tmpl(h), 2); err != nil {
			t.Fatal(err)
		}
	}
	revs, _ := s.List("web")
	if len(revs) != 2 || revs[1].Hash != "d" || revs[1].Revision != 4 {
		t.Errorf("revisions = %+v, want c(3), d(4)", revs)
	}
}

func TestRestartAndForget(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	if s.RestartedAt("web") != "" {
		t.Fatal("a new spec has no restart marker")
	}
	m, err := s.Restart("web")
	if err != nil || m == "" || s.RestartedAt("web") != m {
		t.Fatalf("Restart = %q, %v", m, err)
	}
	s2, _ := Open(dir)
	if s2.RestartedAt("web") != m {
		t.Error("the restart marker must survive a scalerd restart")
	}
	if err := s2.Forget("web"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir + "/web.json"); !os.IsNotExist(err) {
		t.Error("Forget must remove the file")
	}
}

func TestCorruptHistoryIsMovedAsideAndSaid(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/web.json", []byte(`{"revisions": [{"revision": 3,`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := Open(dir)
	var told []string
	s.OnCorrupt = func(spec, movedTo string, err error) {
		told = append(told, spec+" "+movedTo+" "+err.Error())
	}
	rev, err := s.Record("web", "a", tmpl("a"), 10)
	if err != nil || rev != 1 {
		t.Fatalf("Record over a corrupt history = %d, %v; want a fresh revision 1", rev, err)
	}
	if len(told) != 1 || !strings.Contains(told[0], "web "+dir+"/web.json.corrupt-") || !strings.Contains(told[0], "history of web in "+dir+"/web.json is corrupt") {
		t.Fatalf("OnCorrupt calls: %q", told)
	}
	moved := strings.Fields(told[0])[1]
	if b, err := os.ReadFile(moved); err != nil || !strings.Contains(string(b), `"revision": 3`) {
		t.Errorf("the corrupt file was not kept: %v %q", err, b)
	}
}

func TestFailedWriteKeepsTheRevisionAndRetries(t *testing.T) {
	dir := t.TempDir() + "/history"
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record("web", "a", tmpl("a"), 10); err != nil {
		t.Fatal(err)
	}
	// Nothing can be created where the directory was, even by root.
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rev, err := s.Record("web", "b", tmpl("b"), 10)
	if rev != 2 || !errors.Is(err, ErrNotSaved) {
		t.Fatalf("Record while unwritable = %d, %v; want revision 2 and ErrNotSaved", rev, err)
	}
	if rev, err := s.Record("web", "b", tmpl("b"), 10); rev != 2 || !errors.Is(err, ErrNotSaved) {
		t.Fatalf("Record again = %d, %v; want 2, still not saved", rev, err)
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	if rev, err := s.Record("web", "b", tmpl("b"), 10); rev != 2 || err != nil {
		t.Fatalf("Record once writable = %d, %v; want 2 saved", rev, err)
	}
	s2, _ := Open(dir)
	if revs, _ := s2.List("web"); len(revs) != 2 || revs[1].Hash != "b" {
		t.Errorf("after a restart: %+v; want the revision written late", revs)
	}
}
