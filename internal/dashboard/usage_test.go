package dashboard

import (
	"testing"
	"time"

	"github.com/scaler-dev/scaler/internal/controlapi"
)

func report(counts map[string]int64) controlapi.TopReport {
	r := controlapi.TopReport{Spec: "web", LoadBalancer: true}
	for n, c := range counts {
		r.Replicas = append(r.Replicas, controlapi.ReplicaUsage{Name: n, Requests: &c})
	}
	return r
}

// The rate counts what replicas present in both samples served; a
// replica new since the last sample (its counter may go on from a
// predecessor's) and one whose counter went back (Redis restarted) add
// nothing.
func TestRequestRateFromCounters(t *testing.T) {
	u := &usage{}
	t0 := time.Now()
	u.update(t0, []controlapi.TopReport{report(map[string]int64{"web-1": 100, "web-2": 50})})
	if u.rates["web"] != nil {
		t.Errorf("rate after one sample: %v, want none", *u.rates["web"])
	}
	u.update(t0.Add(2*time.Second), []controlapi.TopReport{report(map[string]int64{"web-1": 120, "web-2": 10, "web-3": 900})})
	if r := u.rates["web"]; r == nil || *r != 10 {
		t.Errorf("rate = %v, want 10/s (20 requests of web-1 in 2 s)", r)
	}
	unknown := controlapi.TopReport{Spec: "web", RequestsUnknown: "no redis"}
	u.update(t0.Add(4*time.Second), []controlapi.TopReport{unknown})
	if r := u.rates["web"]; r != nil {
		t.Errorf("rate with the counters unknown = %v, want none", *r)
	}
}
