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

// breakBeforeName are edits whose YAML error comes before metadata.name,
// so that no spec name can be read from the file.
var breakBeforeName = []struct {
	what string
	edit func(string) string
}{
	{"tab before kind", func(s string) string { return strings.Replace(s, "\nkind:", "\n\tkind:", 1) }},
	{"unclosed quote on apiVersion", func(s string) string {
		return strings.Replace(s, "apiVersion: scaler.dev/v1alpha1", `apiVersion: "scaler.dev/v1alpha1`, 1)
	}},
}

// running is every container of the stack's two specs, name -> ID.
func (s *stack) running() map[string]string {
	all := map[string]string{}
	for _, spec := range []string{s.name("web"), s.name("redis")} {
		for _, role := range []string{v1alpha1.RoleApp, v1alpha1.RoleLB} {
			for n, id := range s.containers(spec, role) {
				all[n] = id
			}
		}
	}
	return all
}

// waitSpecInvalid waits until scalerd has reconciled name and reports
// SpecValid=False with a message containing text.
func (s *stack) waitSpecInvalid(name, text string) {
	s.t.Helper()
	testenv.WaitFor(s.t, 30*time.Second, name+" SpecValid=False", func() (bool, error) {
		spec, err := s.get(name)
		if err != nil {
			return false, err
		}
		c := v1alpha1.FindCondition(spec.Status.Conditions, v1alpha1.ConditionSpecValid)
		return c != nil && c.Status == v1alpha1.ConditionFalse && strings.Contains(c.Message, text), fmt.Errorf("condition %+v", c)
	})
}

// TestChaosBrokenSpecRestart restarts scalerd, under load, while the web
// spec's file has a YAML error before its name: nothing may be removed and
// no request may fail. The short variant (make test) kills scalerd once;
// SCALER_CHAOS=long restarts it for each kind of break, by SIGKILL and
// SIGTERM, with the state directory kept and lost (a first start after an
// upgrade, or a wiped --state-dir).
func TestChaosBrokenSpecRestart(t *testing.T) {
	s := upStack(t, 2)
	web := s.name("web")
	before := s.running()
	type round struct {
		brk       int
		sig       syscall.Signal
		loseState bool
	}
	rounds := []round{{0, syscall.SIGKILL, false}}
	if os.Getenv("SCALER_CHAOS") == "long" {
		rounds = nil
		for brk := range breakBeforeName {
			for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
				for _, lose := range []bool{false, true} {
					rounds = append(rounds, round{brk, sig, lose})
				}
			}
		}
	}
	stop := s.load()
	for i, r := range rounds {
		b := breakBeforeName[r.brk]
		t.Logf("round %d: %s, %v, state dir lost: %v", i+1, b.what, r.sig, r.loseState)
		s.stopDaemon(r.sig)
		s.writeSpec("web.yaml", b.edit(s.webSpec(2, "hello")))
		if r.loseState {
			if err := os.RemoveAll(filepath.Join(s.stateDir, "specs")); err != nil {
				t.Fatal(err)
			}
		}
		s.startDaemon()
		s.waitSpecInvalid(web, "YAML syntax error")
		// A few resyncs' worth of time in which a deletion would show.
		time.Sleep(2 * time.Second)
		if after := s.running(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("round %d: containers changed while the file was broken:\nbefore %v\nafter  %v", i+1, before, after)
		}
		out, _ := s.scalectl("get")
		if !strings.Contains(out, web) || !strings.Contains(out, "Invalid") {
			t.Errorf("round %d: scalectl get does not show %s Invalid:\n%s", i+1, web, out)
		}
		// Fixed: the same spec, so nothing is recreated either.
		s.writeSpec("web.yaml", s.webSpec(2, "hello"))
		s.waitReady(web, 2, true, 60*time.Second)
	}
	res := stop()
	requireNoFailures(t, res)
	if after := s.running(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("containers changed: before %v, after %v", before, after)
	}
	chaosRow(t, fmt.Sprintf("scalerd restarted %d time(s) (SIGKILL and SIGTERM, state dir kept and lost) while `web.yaml` has a YAML error before `metadata.name` (`TestChaosBrokenSpecRestart`)", len(rounds)),
		res, "every container kept, same IDs; `get` shows web Invalid; after the fix Ready 2/2 with nothing recreated")
}

// TestInvalidFirstVersionIsVisible: a spec that was never valid runs
// nothing, but get, describe and events show it with its error.
func TestInvalidFirstVersionIsVisible(t *testing.T) {
	s := newStack(t)
	name := s.name("redis")
	s.writeSpec("redis.yaml", strings.Replace(s.redisSpec(), "replicas: 1", "replicas: 5000", 1))
	// A new file broken before its name: no spec can show it, an event does.
	s.writeSpec("new.yaml", breakBeforeName[0].edit(s.webSpec(1, "hello")))
	s.startDaemon()
	want := "spec.replicas: 5000 is more than 1000"
	s.waitSpecInvalid(name, want)
	if out, err := s.scalectl("get"); err != nil || !strings.Contains(out, name) || !strings.Contains(out, "Invalid") {
		t.Errorf("scalectl get: %v\n%s", err, out)
	}
	if out, err := s.scalectl("describe", name); err != nil || !strings.Contains(out, want) {
		t.Errorf("scalectl describe: %v\n%s", err, out)
	}
	if out, err := s.scalectl("events", name); err != nil || !strings.Contains(out, "SpecInvalid") || !strings.Contains(out, want) {
		t.Errorf("scalectl events: %v\n%s", err, out)
	}
	if out, err := s.scalectl("events"); err != nil || !strings.Contains(out, "file/new.yaml") || !strings.Contains(out, "new.yaml:2: YAML syntax error") {
		t.Errorf("scalectl events lacks the broken new file: %v\n%s", err, out)
	}
	if got := s.containers(name, v1alpha1.RoleApp); len(got) != 0 {
		t.Errorf("an invalid spec runs containers: %v", got)
	}
}
