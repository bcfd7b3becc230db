package controllers

import (
	"strings"
	"testing"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// One agent serves every reload of a load balancer.
func TestReloadsGoThroughOneAgent(t *testing.T) {
	h := newHarness(t, testSpec(3))
	converge(h)
	h.rt.set("web-2", StateExited, HealthNone)
	h.mustReconcile()
	h.rt.set("web-3", StateRunning, HealthUnhealthy)
	h.mustReconcile()
	if h.rt.sessions != 1 {
		t.Fatalf("opened %d agent sessions, want 1 for one load balancer", h.rt.sessions)
	}
	if cfg := h.rt.lbConfig(); strings.Contains(cfg, "# web-3") || !strings.Contains(cfg, "# web-1") {
		t.Fatalf("the agent did not apply the last config:\n%s", cfg)
	}
}

// Without an agent, or with one that cannot apply configs in the image,
// reloads and peers updates go through one exec each, and an agent that
// cannot work is not started again for the same load balancer.
func TestReloadFallsBackToExecWithoutAWorkingAgent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		agent int
	}{{"no agent", agentMissing}, {"agent cannot apply", agentCannotApply}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, testSpec(3))
			h.rt.agent = tc.agent
			converge(h)
			if got := h.upstream(); len(got) != 3 {
				t.Fatalf("upstream = %v, want 3 replicas", got)
			}
			// A config change: a reload.
			h.specs.specs["web"].Spec.LoadBalancer.Algorithm = v1alpha1.AlgorithmRandom
			h.mustReconcile()
			if h.rt.execReloads == 0 {
				t.Fatal("no reload went through exec")
			}
			if cfg := h.rt.lbConfig(); !strings.Contains(cfg, `algorithm = "random"`) {
				t.Fatalf("the algorithm change was not applied:\n%s", cfg)
			}
			h.rt.set("web-2", StateExited, HealthNone)
			h.mustReconcile()
			if cfg := h.rt.lbConfig(); strings.Contains(cfg, "# web-2") {
				t.Fatalf("web-2 died but stays in the config:\n%s", cfg)
			}
			if h.rt.execPeers == 0 {
				t.Fatal("no peers update went through exec")
			}
			want := 0
			if tc.agent == agentCannotApply {
				want = 1
			}
			if h.rt.sessions != want {
				t.Errorf("opened %d agent sessions, want %d", h.rt.sessions, want)
			}
		})
	}
}

// An agent whose stream broke is started afresh on the next reload, and
// the reload it was carrying is done by exec meanwhile.
func TestBrokenAgentIsRestarted(t *testing.T) {
	h := newHarness(t, testSpec(3))
	converge(h)
	st := h.r.state("web")
	st.agent.session.Close()
	h.rt.set("web-2", StateExited, HealthNone)
	h.mustReconcile()
	if cfg := h.rt.lbConfig(); strings.Contains(cfg, "# web-2") {
		t.Fatalf("web-2 died but stays in the config:\n%s", cfg)
	}
	h.rt.set("web-3", StateExited, HealthNone)
	h.mustReconcile()
	if h.rt.sessions != 2 {
		t.Fatalf("opened %d agent sessions, want 2 (the first broke)", h.rt.sessions)
	}
	if cfg := h.rt.lbConfig(); strings.Contains(cfg, "# web-3") {
		t.Fatalf("web-3 died but stays in the config:\n%s", cfg)
	}
}
