package logging

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Each line starts with the syslog priority of its level, so journald
// keeps levels; the time is the journal's, not repeated in the line.
func TestJournalLinesCarryTheirPriority(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, "journal", 1)
	if err != nil {
		t.Fatal(err)
	}
	log = log.WithValues("spec", "web")
	log.Error(errors.New("boom"), "reconcile failed")
	log.Info("created replica")
	log.V(1).Info("planned")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{"<3>level=ERROR msg=\"reconcile failed\" spec=web err=boom",
		"<6>level=INFO msg=\"created replica\" spec=web", "<7>level=V1 msg=planned spec=web"}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines:\n%s", len(lines), buf.String())
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %q; want %q", i, lines[i], want[i])
		}
	}
}

func TestJournalStreamDetection(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if !isJournalStream(fmt.Sprintf("%d:%d", st.Dev, st.Ino), f) {
		t.Error("a matching JOURNAL_STREAM was not recognised")
	}
	for _, env := range []string{"", "garbage", fmt.Sprintf("%d:%d", st.Dev, st.Ino+1)} {
		if isJournalStream(env, f) {
			t.Errorf("JOURNAL_STREAM=%q recognised; stderr is not that stream", env)
		}
	}
}
