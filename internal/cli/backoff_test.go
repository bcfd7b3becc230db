package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// A rollout or scale-up held by crash-loop back-off says so, per slot, in
// get -o wide and describe.
func TestGetAndDescribeShowTheSlotsHeldByBackOff(t *testing.T) {
	b, sock := serveStub(t)
	b.spec.Status.Backoff = &v1alpha1.Backoff{Slots: []v1alpha1.SlotBackoff{
		{Replica: 2, Failures: 2, Delay: v1alpha1.Duration{Duration: 10 * time.Second}, Until: time.Now().Add(8 * time.Second)},
		{Replica: 5, Failures: 4, Delay: v1alpha1.Duration{Duration: 40 * time.Second}, Until: time.Now().Add(30 * time.Second)},
	}}
	wide, errOut, code := ctl(sock, "get", "web", "-o", "wide")
	if code != 0 {
		t.Fatalf("get: %s", errOut)
	}
	lines := strings.Split(strings.TrimSpace(wide), "\n")
	head, cells := strings.Fields(lines[0]), strings.Fields(lines[1])
	if head[len(head)-2] != "BACK-OFF" || cells[len(cells)-2] != "web-2:10s,web-5:40s" {
		t.Errorf("get -o wide:\n%s", wide)
	}
	desc, errOut, code := ctl(sock, "describe", "web")
	if code != 0 {
		t.Fatalf("describe: %s", errOut)
	}
	if !strings.Contains(desc, "web-2: 2 failed before ready in a row, back-off 10s, next replica in ") ||
		!strings.Contains(desc, "web-5: 4 failed before ready in a row, back-off 40s") {
		t.Errorf("describe lacks the held slots:\n%s", desc)
	}

	b.spec.Status.Backoff = nil
	if wide, _, _ := ctl(sock, "get", "web", "-o", "wide"); !strings.Contains(wide, "<none>") {
		t.Errorf("get -o wide with no slot held:\n%s", wide)
	}
}
