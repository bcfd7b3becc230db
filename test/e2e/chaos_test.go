package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/loadgen"
	"github.com/scaler-dev/scaler/internal/testenv"
)

// The fault-injection suite: every TestChaos* test runs one fault against
// the real Engine, nginx and Redis under a steady load through the load
// balancer, and reports a row of RELIABILITY.md's table with chaosRow.
// `make test` runs each in its short form; `make chaos` (hack/chaos.sh)
// runs them with SCALER_CHAOS=long and prints the table.

// chaosLong reports whether the suite runs in its long form.
func chaosLong() bool { return os.Getenv("SCALER_CHAOS") == "long" }

// chaosRow logs one scenario's outcome and, when SCALER_CHAOS_TABLE names
// a file, appends it there as a Markdown table row.
func chaosRow(t *testing.T, scenario string, res loadgen.Result, converged string) {
	t.Helper()
	requests, failed := fmt.Sprint(res.Requests), fmt.Sprint(res.Failures)
	if res.Failures > 0 {
		failed += fmt.Sprintf(" %v", res.ByKind)
	}
	if res.Requests == 0 {
		requests, failed = "–", "–" // a scenario with no app to load
	}
	if t.Failed() {
		converged = "**the test failed**: " + converged
	}
	row := fmt.Sprintf("| %s | %s | %s | %s |\n", scenario, requests, failed, converged)
	t.Logf("chaos: %s", strings.TrimSpace(row))
	path := os.Getenv("SCALER_CHAOS_TABLE")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Errorf("chaos table: %v", err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(row); err != nil {
		t.Errorf("chaos table: %v", err)
	}
}

// chaosRand is a seeded source whose seed is logged, so that a failing
// round's moments can be replayed with SCALER_CHAOS_SEED.
func chaosRand(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SCALER_CHAOS_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("chaos seed %d (SCALER_CHAOS_SEED=%d replays it)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed))
}

// loadWith is load with the harness's options changed by edit. However
// it stops, the requests in flight finish (within the timeout) and count.
func (s *stack) loadWith(edit func(*loadgen.Options)) func() loadgen.Result {
	started := time.Now()
	stop := make(chan struct{})
	done := make(chan loadgen.Result, 1)
	o := harnessLoad(s.url())
	o.Stop = stop
	edit(&o)
	go func() {
		res, err := loadgen.Run(context.Background(), o, nil)
		if err != nil {
			s.t.Errorf("load: %v", err)
		}
		done <- res
	}()
	return func() loadgen.Result {
		time.Sleep(time.Until(started.Add(minLoad)))
		close(stop)
		res := <-done
		// A mix that did not send its classes checked less than it says.
		if o.POSTRatio > 0 && res.Sent[loadgen.ClassPOST] == 0 || o.SlowRatio > 0 && res.Sent[loadgen.ClassSlow] == 0 {
			s.t.Errorf("the load sent %v: no POST or no slow request, although its mix asks for them", res.Sent)
		}
		return res
	}
}

// requireConverged fails the test unless spec name runs exactly replicas
// app containers with distinct replica numbers (a rollout's surge takes a
// free number, so they need not be 1..replicas), all of the current
// template, all ready and in the upstream: a controller killed mid-change
// must neither leave a duplicate nor a replica of an old template behind.
func (s *stack) requireConverged(name string, replicas int) {
	s.t.Helper()
	s.waitReady(name, replicas, true, 3*time.Minute)
	spec, err := s.get(name)
	if err != nil {
		s.t.Fatal(err)
	}
	out := testenv.Docker(s.t, "ps", "-a", "--format", "{{.Names}} {{.Label \""+v1alpha1.LabelReplica+"\"}} {{.Label \""+v1alpha1.LabelTemplateHash+"\"}}",
		"--filter", "label="+v1alpha1.LabelInstance+"="+s.instance,
		"--filter", "label="+v1alpha1.LabelSpec+"="+name,
		"--filter", "label="+v1alpha1.LabelRole+"="+v1alpha1.RoleApp)
	var indices []string
	hashes := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			s.t.Fatalf("docker ps line %q", line)
		}
		indices = append(indices, f[1])
		hashes[f[2]] = true
	}
	sort.Strings(indices)
	if len(indices) != replicas || len(slices.Compact(slices.Clone(indices))) != replicas {
		s.t.Errorf("%s: replica numbers %v, want %d distinct ones (a duplicate or a leftover)", name, indices, replicas)
	}
	if len(hashes) != 1 || spec.Status == nil || spec.Status.UpdatedReplicas != int32(replicas) {
		s.t.Errorf("%s: template hashes %v, status %+v; want one template, every replica updated", name, hashes, spec.Status)
	}
}

// TestChaosKillScalerdDuringRollout SIGKILLs scalerd at random moments of
// rolling updates and restarts it at once: every rollout completes, no
// replica is duplicated or left behind, and no request fails.
func TestChaosKillScalerdDuringRollout(t *testing.T) {
	rounds := 2
	if chaosLong() {
		rounds = 10
	}
	s := upStack(t, 3)
	web := s.name("web")
	rng := chaosRand(t)
	stop := s.load()
	greeting := ""
	for i := range rounds {
		greeting = fmt.Sprintf("hello v%d", i+2)
		s.writeSpec("web.yaml", s.webSpec(3, greeting))
		at := time.Duration(rng.Int64N(int64(6 * time.Second)))
		time.Sleep(at)
		t.Logf("round %d: SIGKILL %v into the rollout to %q", i+1, at, greeting)
		s.stopDaemon(syscall.SIGKILL)
		s.startDaemon()
		if out, err := s.scalectl("rollout", "status", web, "--timeout", "3m"); err != nil {
			t.Fatalf("round %d: rollout status: %v\n%s", i+1, err, out)
		}
	}
	res := stop()
	requireNoFailures(t, res)
	s.requireConverged(web, 3)
	if got := s.greetings(t, 10); got[greeting] != 10 {
		t.Errorf("after the last rollout, greetings = %v", got)
	}
	chaosRow(t, fmt.Sprintf("scalerd SIGKILLed at %d random moments of a rolling update (3 replicas) and restarted (`TestChaosKillScalerdDuringRollout`)", rounds),
		res, "every rollout completed; 3 replicas with distinct numbers, all of the last template")
}

// TestChaosKillScalerdDuringScale does the same to scale changes, up and
// down in turn.
func TestChaosKillScalerdDuringScale(t *testing.T) {
	rounds := 2
	if chaosLong() {
		rounds = 10
	}
	s := upStack(t, 2)
	web := s.name("web")
	rng := chaosRand(t)
	stop := s.load()
	replicas := 2
	for i := range rounds {
		if replicas == 2 {
			replicas = 5
		} else {
			replicas = 2
		}
		s.writeSpec("web.yaml", s.webSpec(replicas, "hello"))
		at := time.Duration(rng.Int64N(int64(3 * time.Second)))
		time.Sleep(at)
		t.Logf("round %d: SIGKILL %v into the scale to %d", i+1, at, replicas)
		s.stopDaemon(syscall.SIGKILL)
		s.startDaemon()
		s.waitReady(web, replicas, true, 3*time.Minute)
	}
	res := stop()
	requireNoFailures(t, res)
	s.requireConverged(web, replicas)
	chaosRow(t, fmt.Sprintf("scalerd SIGKILLed at %d random moments of scale changes (2 ↔ 5) and restarted (`TestChaosKillScalerdDuringScale`)", rounds),
		res, "every scale converged; replicas with distinct numbers, none left over")
}

// TestChaosLoadBalancerKilled SIGKILLs the nginx container under load.
// Nothing listens on the port until scalerd has created a new one, so
// requests fail; this measures how many and for how long.
func TestChaosLoadBalancerKilled(t *testing.T) {
	s := upStack(t, 2)
	web := s.name("web")
	lbBefore := s.containers(web, v1alpha1.RoleLB)
	stop := s.load()
	time.Sleep(time.Second)
	killed := time.Now()
	testenv.Docker(t, "kill", "-s", "KILL", web+"-lb")
	var serving time.Time
	testenv.WaitFor(t, 60*time.Second, "a new load balancer serving", func() (bool, error) {
		resp, err := http.Get(s.url())
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("status %s", resp.Status)
		}
		serving = time.Now()
		return true, nil
	})
	gap := serving.Sub(killed)
	time.Sleep(time.Second)
	res := stop()
	if lb := s.containers(web, v1alpha1.RoleLB); len(lb) != 1 || lb[web+"-lb"] == lbBefore[web+"-lb"] {
		t.Errorf("load balancers after the kill: %v (before %v)", lb, lbBefore)
	}
	s.waitReady(web, 2, true, time.Minute)
	t.Logf("load balancer killed: serving again after %v; %d of %d requests failed %v", gap.Round(time.Millisecond), res.Failures, res.Requests, res.ByKind)
	if res.Requests < 50 {
		t.Errorf("only %d requests were sent; the load did not run", res.Requests)
	}
	chaosRow(t, "the load balancer container SIGKILLed (`TestChaosLoadBalancerKilled`)", res,
		fmt.Sprintf("a new load balancer served %.1f s after the kill (nothing listens in between: the failures are that gap)", gap.Seconds()))
}

// TestChaosRedisStopped takes Redis away (its spec scaled to 0) under
// load, then brings it back: the app keeps answering, degraded while Redis
// is away, and counts visits again after.
func TestChaosRedisStopped(t *testing.T) {
	away := 5 * time.Second
	if chaosLong() {
		away = 30 * time.Second
	}
	s := upStack(t, 2)
	redis, web := s.name("redis"), s.name("web")
	stop := s.loadWith(func(o *loadgen.Options) { o.CountTrue = "degraded" })
	time.Sleep(time.Second)
	if out, err := s.scalectl("scale", redis, "--replicas", "0"); err != nil {
		t.Fatalf("scale redis to 0: %v\n%s", err, out)
	}
	testenv.WaitFor(t, time.Minute, "redis gone", func() (bool, error) {
		n := len(s.containers(redis, v1alpha1.RoleApp))
		return n == 0, fmt.Errorf("%d redis containers", n)
	})
	// top shows it: the replicas' health checks report degraded answers.
	seen := time.Now()
	testenv.WaitFor(t, 30*time.Second, "top to show degraded answers", func() (bool, error) {
		r, err := s.top(web)
		if err != nil {
			return false, err
		}
		for _, u := range r.Replicas {
			if u.Degraded != nil && *u.Degraded > 0 {
				return true, nil
			}
		}
		return false, fmt.Errorf("replicas %+v", r.Replicas)
	})
	time.Sleep(time.Until(seen.Add(away)))
	if out, err := s.scalectl("scale", redis, "--replicas", "1"); err != nil {
		t.Fatalf("scale redis to 1: %v\n%s", err, out)
	}
	s.waitReady(redis, 1, false, time.Minute)
	// demoapp retries Redis after a cooldown; wait for counted visits.
	testenv.WaitFor(t, 30*time.Second, "visits counted again", func() (bool, error) {
		degraded, err := s.degraded()
		return err == nil && !degraded, err
	})
	res := stop()
	requireNoFailures(t, res)
	if res.CountedTrue == 0 {
		t.Errorf("no degraded answer while Redis was away for %v", away)
	}
	s.waitReady(web, 2, true, time.Minute)
	chaosRow(t, fmt.Sprintf("Redis stopped for %v (its spec scaled to 0), then started (`TestChaosRedisStopped`)", away), res,
		fmt.Sprintf("the app kept answering: %d answers degraded (visits not counted) while Redis was away, shown in `scalectl top`'s DEGRADED column; counted again after", res.CountedTrue))
}

// degraded asks the load balancer once whether the app answers degraded.
func (s *stack) degraded() (bool, error) {
	res, err := loadgen.Run(context.Background(), loadgen.Options{URL: s.url(), Concurrency: 1, Requests: 1, CountTrue: "degraded"}, nil)
	if err != nil {
		return false, err
	}
	if res.Failures > 0 {
		return false, fmt.Errorf("request failed: %v", res.ByKind)
	}
	return res.CountedTrue > 0, nil
}

// TestChaosStateDirUnwritable makes the history directory unwritable (a
// file where the directory was: root ignores permission bits, not that)
// during a rollout and a replica's death: both go on, and an event says
// the history could not be written.
func TestChaosStateDirUnwritable(t *testing.T) {
	s := upStack(t, 2)
	web := s.name("web")
	hist := filepath.Join(s.stateDir, "history")
	if err := os.Rename(hist, hist+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hist, []byte("not a directory\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stop := s.loadWith(withoutPOSTs) // SIGKILL loses the POST being served
	s.writeSpec("web.yaml", s.webSpec(2, "hello v2"))
	time.Sleep(500 * time.Millisecond)
	testenv.Docker(t, "kill", "-s", "KILL", web+"-1")
	if out, err := s.scalectl("rollout", "status", web, "--timeout", "3m"); err != nil {
		t.Fatalf("rollout status with the history unwritable: %v\n%s", err, out)
	}
	s.waitEvent(web, "HistoryWriteFailed", "scalespec/"+web, "", 30*time.Second)
	res := stop()
	requireNoFailures(t, res)
	s.requireConverged(web, 2)
	// Writable again: the revision is written on a later pass.
	if err := os.Remove(hist); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(hist+".away", hist); err != nil {
		t.Fatal(err)
	}
	chaosRow(t, "the history directory unwritable during a rolling update and a replica's SIGKILL (`TestChaosStateDirUnwritable`)", res,
		"the rollout completed and the dead replica was replaced; a `HistoryWriteFailed` event said why the revision was not recorded")
}

// TestChaosHistoryCorrupt restarts scalerd with its spec's history file
// garbled: nothing is rolled (the template hash is the spec's, not the
// history's), the file is moved aside with an event, and a later rollout
// works.
func TestChaosHistoryCorrupt(t *testing.T) {
	s := upStack(t, 2)
	web := s.name("web")
	before := s.containers(web, v1alpha1.RoleApp)
	stop := s.load()
	s.stopDaemon(syscall.SIGKILL)
	if err := os.WriteFile(filepath.Join(s.stateDir, "history", web+".json"), []byte(`{"revisions": [{"revis`), 0o600); err != nil {
		t.Fatal(err)
	}
	s.startDaemon()
	s.waitEvent(web, "HistoryCorrupt", "scalespec/"+web, "", 30*time.Second)
	time.Sleep(2 * time.Second)
	if after := s.containers(web, v1alpha1.RoleApp); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("a corrupt history changed the replicas: %v -> %v", before, after)
	}
	s.writeSpec("web.yaml", s.webSpec(2, "hello v2"))
	if out, err := s.scalectl("rollout", "status", web, "--timeout", "3m"); err != nil {
		t.Fatalf("rollout after the history was reset: %v\n%s", err, out)
	}
	res := stop()
	requireNoFailures(t, res)
	s.requireConverged(web, 2)
	chaosRow(t, "scalerd restarted with its spec's history file corrupt (`TestChaosHistoryCorrupt`)", res,
		"nothing rolled at the restart; the file was moved aside with a `HistoryCorrupt` event; the next rollout completed")
}

// TestChaosForeignSocketDirectory: the socket's directory was created
// first by another local user, mode 0777 (who could then swap in a socket
// of their own and read every apply): the scalerd binary refuses to start,
// says why, and exits non-zero, while the app it would manage is left
// alone.
func TestChaosForeignSocketDirectory(t *testing.T) {
	s := upStack(t, 1)
	web := s.name("web")
	before := s.containers(web, v1alpha1.RoleApp)
	stop := s.load()
	s.stopDaemon(syscall.SIGTERM)
	foreign := filepath.Join(testenv.PrivateDir(t), "scaler-1000")
	if err := os.Mkdir(foreign, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(foreign, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(foreign, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "scalerd"), "--spec-dir", s.specDir, "--socket", filepath.Join(foreign, "scalerd.sock"),
		"--state-dir", s.stateDir, "--metrics-addr", "127.0.0.1:0", "--instance", s.instance)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), foreign) {
		t.Errorf("scalerd with a foreign 0777 socket directory: %v, want a non-zero exit naming %s:\n%s", err, foreign, out)
	}
	t.Logf("scalerd said: %s", strings.TrimSpace(string(out)))
	if entries, _ := os.ReadDir(foreign); len(entries) != 0 {
		t.Errorf("scalerd created %v in the foreign directory", entries)
	}
	res := stop()
	requireNoFailures(t, res)
	if after := s.containers(web, v1alpha1.RoleApp); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("replicas changed: %v -> %v", before, after)
	}
	chaosRow(t, "the socket directory pre-created by another user (uid 65534, mode 0777) (`TestChaosForeignSocketDirectory`)", res,
		"scalerd refused to start, naming the directory and the fix; nothing created in it; the running app untouched")
}
