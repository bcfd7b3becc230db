package cli

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

func TestRolloutStateSpeaksLikeKubectl(t *testing.T) {
	five := int32(5)
	spec := func(gen, observed int64, replicas, updated, updatedReady int32, conds ...v1alpha1.Condition) *v1alpha1.ScaleSpec {
		return &v1alpha1.ScaleSpec{
			Metadata: v1alpha1.ObjectMeta{Name: "web", Generation: gen},
			Spec:     v1alpha1.Spec{Replicas: &five},
			Status: &v1alpha1.Status{ObservedGeneration: observed, Replicas: replicas, UpdatedReplicas: updated,
				UpdatedReadyReplicas: updatedReady, Conditions: conds},
		}
	}
	tests := []struct {
		spec *v1alpha1.ScaleSpec
		want string
		done bool
	}{
		{spec(3, 2, 5, 5, 5), "Waiting for rollout to finish: spec update to be observed...", false},
		{spec(3, 3, 6, 2, 1), "Waiting for rollout to finish: 2 out of 5 new replicas have been updated...", false},
		{spec(3, 3, 6, 5, 5), "Waiting for rollout to finish: 1 old replicas are pending termination...", false},
		{spec(3, 3, 5, 5, 2), "Waiting for rollout to finish: 2 of 5 updated replicas are available...", false},
		{spec(3, 3, 5, 5, 5), `scalespec "web" successfully rolled out`, true},
	}
	for _, tt := range tests {
		msg, done, err := rolloutState(tt.spec)
		if err != nil || msg != tt.want || done != tt.done {
			t.Errorf("rolloutState = %q, %v, %v; want %q, %v", msg, done, err, tt.want, tt.done)
		}
	}
	held := spec(3, 3, 5, 0, 0)
	held.Status.Backoff = &v1alpha1.Backoff{Slots: []v1alpha1.SlotBackoff{{Replica: 6, Failures: 3, Delay: v1alpha1.Duration{Duration: 20 * time.Second}}}}
	if msg, done, err := rolloutState(held); err != nil || done || msg != "Waiting for rollout to finish: 0 out of 5 new replicas have been updated... (back-off holds web-6:20s: its new replicas fail before they become ready)" {
		t.Errorf("rollout held by back-off: %q, %v, %v", msg, done, err)
	}
	stalled := spec(3, 3, 6, 1, 0, v1alpha1.Condition{Type: v1alpha1.ConditionProgressing, Status: v1alpha1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "no new replica turned ready"})
	if _, _, err := rolloutState(stalled); !errors.Is(err, errRolloutStalled) || !strings.Contains(err.Error(), "progress deadline") {
		t.Errorf("stalled rollout: %v", err)
	}

	// Why it waits is said with the count, and with a stall.
	failure := v1alpha1.Condition{Type: v1alpha1.ConditionReplicaFailure, Status: v1alpha1.ConditionTrue, Reason: "ImageNotFound", Message: `image "demoapp:typo" not found`}
	msg, _, err := rolloutState(spec(3, 3, 5, 0, 0, failure))
	if want := "Waiting for rollout to finish: 0 out of 5 new replicas have been updated...\n  ImageNotFound: image \"demoapp:typo\" not found"; err != nil || msg != want {
		t.Errorf("rolloutState = %q, %v; want %q", msg, err, want)
	}
	stalled.Status.Conditions = append(stalled.Status.Conditions, failure)
	if _, _, err := rolloutState(stalled); err == nil || !strings.Contains(err.Error(), `; ImageNotFound: image "demoapp:typo" not found`) {
		t.Errorf("stalled rollout with a cause: %v", err)
	}
	if got := stallReason(stalled.Status); got != "ImageNotFound" {
		t.Errorf("get's REASON = %q, want ImageNotFound", got)
	}
	if got := stallReason(spec(3, 3, 5, 5, 5).Status); got != "-" {
		t.Errorf("get's REASON of a converged spec = %q, want -", got)
	}
}

func TestRolloutCommands(t *testing.T) {
	_, sock := serveStub(t)
	out, errOut, code := ctl(sock, "rollout", "history", "web")
	if code != 0 || !strings.Contains(out, "demoapp:v2") || !strings.Contains(out, "(current)") {
		t.Fatalf("history: exit %d\n%s%s", code, out, errOut)
	}
	if out, _, _ := ctl(sock, "rollout", "history", "web", "--revision", "1"); !strings.Contains(out, "image: demoapp:v1") {
		t.Errorf("history --revision 1:\n%s", out)
	}
	if out, _, code := ctl(sock, "rollout", "undo", "web"); code != 0 || !strings.Contains(out, "revision 1") {
		t.Errorf("undo: %d %s", code, out)
	}
	if _, errOut, code := ctl(sock, "rollout", "undo", "web", "--to-revision", "-1"); code == 0 || !strings.Contains(errOut, "--to-revision") {
		t.Errorf("undo -1: %d %s", code, errOut)
	}
	if out, _, code := ctl(sock, "rollout", "restart", "web"); code != 0 || out != "scalespec/web restarted\n" {
		t.Errorf("restart: %d %q", code, out)
	}
	if _, errOut, code := ctl(sock, "rollout"); code == 0 || !strings.Contains(errOut, "subcommand") {
		t.Errorf("bare rollout: %d %s", code, errOut)
	}
}
