package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/testenv"
)

// greetings asks the load balancer n times and counts the messages.
func (s *stack) greetings(t *testing.T, n int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range n {
		resp, err := http.Get(s.url())
		if err != nil {
			t.Fatalf("GET %s: %v", s.url(), err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var r struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatalf("decoding %q: %v", body, err)
		}
		seen[r.Message]++
	}
	return seen
}

func TestRollingUpdateOfFiveReplicasLosesNoRequest(t *testing.T) {
	s := upStack(t, 5)
	web := s.name("web")
	if got := s.greetings(t, 10); got["hello"] != 10 {
		t.Fatalf("before the rollout, greetings = %v", got)
	}
	stop := s.load()

	s.writeSpec("web.yaml", s.webSpec(5, "hello v2"))
	out, err := s.scalectl("rollout", "status", web, "--timeout", "3m")
	if err != nil {
		t.Fatalf("rollout status: %v\n%s", err, out)
	}
	if !strings.Contains(out, "successfully rolled out") || !strings.Contains(out, "Waiting for rollout to finish") {
		t.Errorf("rollout status printed no progress:\n%s", out)
	}
	time.Sleep(500 * time.Millisecond)
	requireNoFailures(t, stop())

	if got := s.greetings(t, 20); got["hello v2"] != 20 {
		t.Errorf("after the rollout, greetings = %v; every reply should be the new one", got)
	}
	revisions := map[string]int{}
	for name := range s.containers(web, v1alpha1.RoleApp) {
		revisions[testenv.Docker(t, "inspect", "-f", `{{index .Config.Labels "scaler.dev/revision"}}`, name)]++
	}
	if revisions["2"] != 5 || len(revisions) != 1 {
		t.Errorf("replica revisions = %v, want five of revision 2", revisions)
	}
	hist, err := s.scalectl("rollout", "history", web)
	if err != nil || !strings.Contains(hist, "(current)") || strings.Count(hist, "demoapp:dev") != 2 {
		t.Errorf("rollout history:\n%s", hist)
	}
}

func TestBrokenRolloutStallsWithoutLosingServiceAndUndoes(t *testing.T) {
	s := upStack(t, 3)
	web := s.name("web")
	before := s.containers(web, v1alpha1.RoleApp)
	stop := s.load()

	s.writeSpec("web.yaml", s.webSpecWith(3, "hello", "demoapp:no-such-tag", "5s"))
	out, err := s.scalectl("rollout", "status", web, "--timeout", "90s")
	if err == nil || !strings.Contains(out, "progress deadline") {
		t.Fatalf("rollout status of a broken image should fail on the deadline, got err=%v:\n%s", err, out)
	}
	// Why it stalls is in plain view: rollout status, get and describe.
	if !strings.Contains(out, `ImageNotFound: `) || !strings.Contains(out, `"demoapp:no-such-tag" not found`) {
		t.Errorf("rollout status does not say the image is missing:\n%s", out)
	}
	if out, _ := s.scalectl("get", web); !strings.Contains(out, "REASON") || !strings.Contains(out, "ImageNotFound") {
		t.Errorf("get shows no ImageNotFound reason:\n%s", out)
	}
	if out, _ := s.scalectl("describe", web); !strings.Contains(out, "ReplicaFailure") || !strings.Contains(out, "no-such-tag") {
		t.Errorf("describe shows no ReplicaFailure condition:\n%s", out)
	}
	spec, err := s.get(web)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Status.ReadyReplicas != 3 || len(spec.Status.Upstream) != 3 {
		t.Errorf("a stalled rollout must keep the old replicas serving: ready %d, upstream %v", spec.Status.ReadyReplicas, spec.Status.Upstream)
	}
	for name, id := range before {
		if s.containers(web, v1alpha1.RoleApp)[name] != id {
			t.Errorf("old replica %s was replaced during a stalled rollout", name)
		}
	}

	out, err = s.scalectl("rollout", "undo", web)
	if err != nil {
		t.Fatalf("rollout undo: %v\n%s", err, out)
	}
	file, _ := os.ReadFile(filepath.Join(s.specDir, "web.yaml"))
	if !strings.Contains(string(file), "demoapp:dev") || strings.Contains(string(file), "no-such-tag") {
		t.Errorf("undo must write the old template back into the file:\n%s", file)
	}
	if out, err := s.scalectl("rollout", "status", web, "--timeout", "90s"); err != nil {
		t.Fatalf("rollout status after undo: %v\n%s", err, out)
	}
	time.Sleep(500 * time.Millisecond)
	requireNoFailures(t, stop())
	if got := len(s.containers(web, v1alpha1.RoleApp)); got != 3 {
		t.Errorf("%d app containers after undo, want 3", got)
	}
}

func TestRolloutRestartReplacesEveryReplica(t *testing.T) {
	s := upStack(t, 2)
	web := s.name("web")
	before := s.containers(web, v1alpha1.RoleApp)
	stop := s.load()
	if out, err := s.scalectl("rollout", "restart", web); err != nil {
		t.Fatalf("rollout restart: %v\n%s", err, out)
	}
	testenv.WaitFor(t, 90*time.Second, "every replica replaced", func() (bool, error) {
		now := s.containers(web, v1alpha1.RoleApp)
		spec, err := s.get(web)
		if err != nil {
			return false, err
		}
		for name, id := range before {
			if now[name] == id {
				return false, fmt.Errorf("%s not replaced yet", name)
			}
		}
		return len(now) == 2 && spec.Status.UpdatedReadyReplicas == 2 && len(spec.Status.Upstream) == 2,
			fmt.Errorf("containers %v, status %+v", now, spec.Status)
	})
	time.Sleep(500 * time.Millisecond)
	requireNoFailures(t, stop())
}
