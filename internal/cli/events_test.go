package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// A folded event shows its count and since when, as kubectl's do; a single
// one only its age; every event keeps its line, oldest first.
func TestPrintEventsShowsCountWithFirstAndLastSeen(t *testing.T) {
	now := time.Unix(10_000, 0)
	events := []v1alpha1.Event{
		{Type: "Normal", Reason: "ScaledUp", Object: "scalespec/web", Message: "created 1 replica(s): web-3",
			Count: 1, FirstTimestamp: now.Add(-10 * time.Minute), LastTimestamp: now.Add(-10 * time.Minute)},
		{Type: "Warning", Reason: "ReplicaUnhealthy", Object: "replica/web-4", Message: "health check failed",
			Count: 3, FirstTimestamp: now.Add(-90 * time.Second), LastTimestamp: now.Add(-5 * time.Second)},
	}
	var out bytes.Buffer
	printEvents(&out, events, now, "  ")
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want a header and 2 events, got:\n%s", out.String())
	}
	for i, want := range [][]string{
		{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"},
		{"  10m ", "ScaledUp", "created 1 replica(s): web-3"},
		{"  5s (x3 over 90s) ", "ReplicaUnhealthy", "replica/web-4", "health check failed"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d %q lacks %q", i, lines[i], w)
			}
		}
	}
}

// describe shows a spec's named volumes with the Docker volume of each.
func TestDescribeShowsVolumes(t *testing.T) {
	b, sock := serveStub(t)
	b.spec.Spec.Template.Volumes = []v1alpha1.Volume{{Name: "data", MountPath: "/var/lib/redis"}}
	desc, errOut, code := ctl(sock, "describe", "web")
	if code != 0 {
		t.Fatalf("describe: %s", errOut)
	}
	if !strings.Contains(desc, "Volumes:        data on /var/lib/redis (Docker volume web-data)") {
		t.Errorf("describe lacks the volume:\n%s", desc)
	}
}
