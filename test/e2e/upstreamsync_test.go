package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/nginx"
	"github.com/scaler-dev/scaler/internal/testenv"
)

// inSync returns the spec's UpstreamInSync condition, or a zero one.
func (s *stack) inSync(name string) v1alpha1.Condition {
	s.t.Helper()
	spec, err := s.get(name)
	if err != nil || spec.Status == nil {
		return v1alpha1.Condition{}
	}
	if c := v1alpha1.FindCondition(spec.Status.Conditions, v1alpha1.ConditionUpstreamInSync); c != nil {
		return *c
	}
	return v1alpha1.Condition{}
}

func (s *stack) waitInSync(name string, status v1alpha1.ConditionStatus, reason string, timeout time.Duration) v1alpha1.Condition {
	s.t.Helper()
	var c v1alpha1.Condition
	testenv.WaitFor(s.t, timeout, fmt.Sprintf("UpstreamInSync=%s (%s)", status, reason), func() (bool, error) {
		c = s.inSync(name)
		return c.Status == status && (reason == "" || c.Reason == reason), fmt.Errorf("condition %+v", c)
	})
	return c
}

// TestChaosUpstreamEditedByHand: scalerd reads back what the running
// nginx uses, and puts right what was changed behind its back: a member
// added to the peers file by hand and read by nginx, and a config edited
// and reloaded by hand. Each shows as UpstreamInSync=False with an
// UpstreamDrifted event, then True again; the load loses nothing.
func TestChaosUpstreamEditedByHand(t *testing.T) {
	s := newStack(t)
	s.daemonArgs = []string{"--upstream-check-interval", "1s"}
	s.writeSpec("redis.yaml", s.redisSpec())
	s.writeSpec("web.yaml", s.webSpec(2, "hello"))
	s.startDaemon()
	web := s.name("web")
	lb := web + "-lb"
	s.waitReady(web, 2, true, 90*time.Second)
	testenv.WaitFor(t, 30*time.Second, "UpstreamInSync=True with both members", func() (bool, error) {
		c := s.inSync(web)
		return c.Status == v1alpha1.ConditionTrue && strings.Contains(c.Message, "its 2 members"), fmt.Errorf("condition %+v", c)
	})
	stop := s.loadWith(withoutPOSTs)
	began := time.Now()
	var mended []string

	// A second name for web-1's address: traffic it gets still lands on a
	// healthy replica, so only the check can tell.
	peers := testenv.Docker(t, "exec", lb, "cat", nginx.PeersPath)
	var web1Addr string
	for _, line := range strings.Split(peers, "\n") {
		if name, addr, ok := strings.Cut(line, " "); ok && name == web+"-1" {
			web1Addr = addr
		}
	}
	if web1Addr == "" {
		t.Fatalf("no %s-1 in the peers file:\n%s", web, peers)
	}
	testenv.Docker(t, "exec", lb, "bash", "-c",
		"echo 'intruder "+web1Addr+"' >> "+nginx.PeersPath+" && exec 3<>/dev/tcp/127.0.0.1/10247 && printf 'GET "+nginx.PeersReloadPath+" HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3")
	s.waitEvent(web, "UpstreamDrifted", "loadbalancer/"+lb, "members nginx has that scalerd removed: intruder", 30*time.Second)
	s.waitInSync(web, v1alpha1.ConditionTrue, "InSync", 30*time.Second)
	mended = append(mended, fmt.Sprintf("the peers file's intruder gone and UpstreamInSync=True again %.1f s after the edit", time.Since(began).Seconds()))
	if peers := testenv.Docker(t, "exec", lb, "cat", nginx.PeersPath); strings.Contains(peers, "intruder") {
		t.Errorf("the intruder is still in the peers file:\n%s", peers)
	}

	// A config edited and reloaded by hand.
	began = time.Now()
	testenv.Docker(t, "exec", lb, "sh", "-c", "sed -i 's/keepalive_timeout 15s;/keepalive_timeout 16s;/' "+nginx.ConfigPath+" && nginx -c "+nginx.ConfigPath+" -s reload")
	s.waitEvent(web, "UpstreamDrifted", "loadbalancer/"+lb, "nginx runs another config", 30*time.Second)
	s.waitInSync(web, v1alpha1.ConditionTrue, "InSync", 30*time.Second)
	mended = append(mended, fmt.Sprintf("the config reloaded by hand replaced by scalerd's and UpstreamInSync=True again %.1f s after the reload", time.Since(began).Seconds()))
	if cfg := testenv.Docker(t, "exec", lb, "cat", nginx.ConfigPath); strings.Contains(cfg, "keepalive_timeout 16s;") {
		t.Error("the hand-edited config is still in place")
	}
	res := stop()
	requireNoFailuresAcrossReload(t, res)
	chaosRow(t, "a member added to the peers file by hand, then the config edited and reloaded by hand, `--upstream-check-interval 1s` (`TestChaosUpstreamEditedByHand`)", res,
		strings.Join(mended, "; ")+"; an `UpstreamDrifted` event each")

	samples := s.mustScrape()
	if v := metric(samples, "scaler_upstream_in_sync", "spec", web); v != 1 {
		t.Errorf("scaler_upstream_in_sync = %v, want 1", v)
	}
	if v := metric(samples, "scaler_upstream_drifts_total", "spec", web); v < 2 {
		t.Errorf("scaler_upstream_drifts_total = %v, want 2 or more", v)
	}
	if desc, err := s.scalectl("describe", web); err != nil || !strings.Contains(desc, "UpstreamRestored") {
		t.Errorf("describe lacks UpstreamRestored: %v\n%s", err, desc)
	}
}
