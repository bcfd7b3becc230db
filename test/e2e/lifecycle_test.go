package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/testenv"
)

// TestApplyScaleDeleteThroughScalectl drives a spec's whole life through
// the daemon, as a user of scalectl would, starting from an empty
// directory.
func TestApplyScaleDeleteThroughScalectl(t *testing.T) {
	s := newStack(t)
	s.startDaemon()
	redisFile := filepath.Join(t.TempDir(), "redis.yaml")
	webFile := filepath.Join(t.TempDir(), "web.yaml")
	if err := os.WriteFile(redisFile, []byte(s.redisSpec()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(webFile, []byte(s.webSpec(2, "hello")), 0o644); err != nil {
		t.Fatal(err)
	}
	web := s.name("web")

	out, err := s.scalectl("apply", "-f", redisFile, "-f", webFile)
	if err != nil || !strings.Contains(out, "scalespec/"+web+" created") {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	s.waitReady(web, 2, true, 90*time.Second)
	if out, err := s.scalectl("apply", "-f", webFile); err != nil || !strings.Contains(out, "unchanged") {
		t.Errorf("second apply: %v\n%s", err, out)
	}
	if out, err := s.scalectl("diff", "-f", webFile); err != nil || out != "" {
		t.Errorf("diff of what runs: %v\n%s", err, out)
	}
	changed := filepath.Join(t.TempDir(), "web.yaml")
	if err := os.WriteFile(changed, []byte(s.webSpec(3, "hello")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := s.scalectl("diff", "-f", changed); err == nil || !strings.Contains(out, "-  replicas: 2") || !strings.Contains(out, "+  replicas: 3") ||
		!strings.Contains(out, "plan:\n   1. create "+web+"-3 (template ") {
		t.Errorf("diff of a change must show it, the plan, and exit 1: %v\n%s", err, out)
	}
	// A new template: the plan is the whole rollout, one replica at a
	// time (maxSurge 1, maxUnavailable 0), from the planner scalerd runs.
	rolled := filepath.Join(t.TempDir(), "web.yaml")
	if err := os.WriteFile(rolled, []byte(s.webSpec(2, "bonjour")), 0o644); err != nil {
		t.Fatal(err)
	}
	before := s.containers(web, v1alpha1.RoleApp)
	out, err = s.scalectl("apply", "-f", rolled, "--dry-run=server")
	wantPlan := []string{"1. create " + web + "-3 (template ", "2. drain " + web + "-2 (outdated)", "3. create " + web + "-2", "4. drain " + web + "-1 (outdated)"}
	for _, want := range wantPlan {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("apply --dry-run=server of a new template lacks %q: %v\n%s", want, err, out)
		}
	}
	if diff, _ := s.scalectl("diff", "-f", rolled); !strings.Contains(diff, out[strings.Index(out, "plan:"):]) {
		t.Errorf("diff and apply --dry-run=server print different plans:\n%s\n%s", diff, out)
	}
	if after := s.containers(web, v1alpha1.RoleApp); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a dry run changed the replicas: %v, then %v", before, after)
	}

	stop := s.load()
	if out, err := s.scalectl("scale", web, "--replicas", "3"); err != nil {
		t.Fatalf("scale: %v\n%s", err, out)
	}
	s.waitReady(web, 3, true, 60*time.Second)
	requireNoFailures(t, stop())
	written, err := os.ReadFile(filepath.Join(s.specDir, web+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(written), "replicas: 3   # edited by the test") {
		t.Errorf("scale must change only the number and keep the comment:\n%s", written)
	}

	if out, err := s.scalectl("delete", web); err != nil {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	testenv.WaitFor(t, 60*time.Second, "the web containers to go", func() (bool, error) {
		app, lb := s.containers(web, v1alpha1.RoleApp), s.containers(web, v1alpha1.RoleLB)
		return len(app) == 0 && len(lb) == 0, fmt.Errorf("left: %v %v", app, lb)
	})
	if _, err := os.Stat(filepath.Join(s.specDir, web+".yaml")); !os.IsNotExist(err) {
		t.Errorf("delete must remove the spec's file: %v", err)
	}
	if out, err := s.scalectl("get", web); err == nil || !strings.Contains(out, "not found") {
		t.Errorf("get after delete: %v\n%s", err, out)
	}
	if got := len(s.containers(s.name("redis"), v1alpha1.RoleApp)); got != 1 {
		t.Errorf("deleting web touched redis: %d containers", got)
	}
}

// TestSIGTERMLeavesTheAppRunning checks that stopping scalerd is not
// stopping the app: the containers are the desired state.
func TestSIGTERMLeavesTheAppRunning(t *testing.T) {
	s := upStack(t, 2)
	web := s.name("web")
	before := s.containers(web, v1alpha1.RoleApp)
	stop := s.load()
	s.stopDaemon(syscall.SIGTERM)
	time.Sleep(time.Second)
	res := stop()
	requireNoFailures(t, res)
	if after := s.containers(web, v1alpha1.RoleApp); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("containers changed when scalerd stopped: %v -> %v", before, after)
	}
	if _, err := os.Stat(s.socket); !os.IsNotExist(err) {
		t.Errorf("a stopped scalerd must remove its socket: %v", err)
	}
}
