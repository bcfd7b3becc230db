package controllers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/history"
)

// A history that cannot be written costs the undo history, never
// convergence: with the state dir unwritable, a template change and a dead
// replica are still acted on, and the spec says why the history lags.
func TestFailedHistoryWriteDoesNotStopConvergence(t *testing.T) {
	spec := testSpec(3)
	h := newHarness(t, spec)
	dir := filepath.Join(t.TempDir(), "history")
	hist, err := history.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	h.r.History = hist
	converge(h)

	// Nothing can be created where the directory was, even by root.
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	spec.Spec.Template.Image = "demoapp:v2"
	h.rt.set("web-2", StateExited, HealthUnhealthy)
	h.mustReconcile()
	calls := strings.Join(h.rt.takeCalls(), "; ")
	if !strings.Contains(calls, "remove web-2") || !strings.Contains(calls, "create web-") {
		t.Fatalf("calls = %q; the dead replica must be replaced and the rollout start", calls)
	}
	if got := strings.Join(h.upstream(), ","); strings.Contains(got, "web-2") {
		t.Fatalf("upstream = %s; the dead replica must leave it", got)
	}
	st, _ := h.r.Status("web")
	c := v1alpha1.FindCondition(st.Conditions, ConditionHistoryRecorded)
	if c == nil || c.Status != v1alpha1.ConditionFalse || !strings.Contains(c.Message, "could not be written") {
		t.Fatalf("HistoryRecorded = %+v", c)
	}
	if st.CurrentRevision != 2 {
		t.Errorf("current revision %d, want 2 (kept in memory)", st.CurrentRevision)
	}
	h.mustReconcile()
	warnings := 0
	for _, e := range h.r.Events.List("web") {
		if e.Reason == ReasonHistoryWriteFailed {
			warnings += e.Count
		}
	}
	if warnings != 1 {
		t.Errorf("%d %s events, want one while the failure stays the same: %+v", warnings, ReasonHistoryWriteFailed, h.r.Events.List("web"))
	}

	// Writable again: the revision is written and the condition clears.
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	h.mustReconcile()
	st, _ = h.r.Status("web")
	if c := v1alpha1.FindCondition(st.Conditions, ConditionHistoryRecorded); c == nil || c.Status != v1alpha1.ConditionTrue {
		t.Errorf("HistoryRecorded after recovery = %+v", c)
	}
	reopened, _ := history.Open(dir)
	if revs, _ := reopened.List("web"); len(revs) != 2 {
		t.Errorf("revisions on disk = %+v, want 2", revs)
	}
}
