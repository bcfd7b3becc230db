package v1alpha1

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	s := &ScaleSpec{Spec: Spec{
		Template:     Template{Image: "demoapp:dev", HealthCheck: &HealthCheck{Command: []string{"true"}}},
		LoadBalancer: &LoadBalancer{Port: 8080},
	}}
	s.Default()
	got, _ := json.Marshal(s.Spec)
	want := `{"replicas":1,"network":"scaler-net",` +
		`"template":{"image":"demoapp:dev","resources":{"limits":{},"reservations":{}},` +
		`"healthCheck":{"command":["true"],"interval":"2s","timeout":"1s","retries":3,"startPeriod":"10s","startInterval":"200ms"},` +
		`"stopGracePeriod":"10s","pidsLimit":2048,"readOnlyRootFilesystem":false},` +
		`"strategy":{"maxSurge":1,"maxUnavailable":0,"drainTimeout":"5s","progressDeadline":"10m0s"},` +
		`"loadBalancer":{"image":"scaler-nginx:dev","hostIP":"127.0.0.1","port":8080,"algorithm":"least_conn","maxFails":3,"failTimeout":"30s","statusPage":true,"upstreamHeader":true},` +
		`"revisionHistoryLimit":10}`
	if string(got) != want {
		t.Fatalf("defaulted spec\ngot:  %s\nwant: %s", got, want)
	}
}

func TestDefaultKeepsWhatIsWritten(t *testing.T) {
	s := validSpec()
	s.Spec.Replicas = ptr(int32(0))
	s.Spec.Template.HealthCheck.Interval = &Duration{5 * time.Second}
	s.Spec.LoadBalancer.HostIP = "0.0.0.0"
	s.Default()
	if *s.Spec.Replicas != 0 || s.Spec.Template.HealthCheck.Interval.Duration != 5*time.Second || s.Spec.LoadBalancer.HostIP != "0.0.0.0" {
		t.Fatalf("Default overwrote a written value: %+v", s.Spec)
	}
}

func TestDefaultIsIdempotent(t *testing.T) {
	s := validSpec()
	once, _ := json.Marshal(s)
	s.Default()
	twice, _ := json.Marshal(s)
	if string(once) != string(twice) {
		t.Fatalf("second Default changed the spec:\n%s\n%s", once, twice)
	}
}

func TestDefaultNoSurgeAllowsOneUnavailable(t *testing.T) {
	st := Strategy{MaxSurge: &IntOrPercent{Value: 0}}
	st.Default()
	if st.MaxUnavailable.Value != 1 || st.MaxUnavailable.IsPercent {
		t.Fatalf("maxUnavailable = %+v, want 1 when maxSurge is 0", st.MaxUnavailable)
	}
}

// A default written out and one left out must hash alike, or adding
// "interval: 2s" to a file would roll every replica.
func TestDefaultExplicitHashesLikeOmitted(t *testing.T) {
	omitted := Template{Image: "demoapp:dev", HealthCheck: &HealthCheck{Command: []string{"true"}}}
	explicit := *omitted.DeepCopy()
	explicit.HealthCheck.Interval = &Duration{DefaultHealthInterval}
	explicit.StopGracePeriod = &Duration{DefaultStopGracePeriod}
	omitted.Default()
	explicit.Default()
	if TemplateHash(omitted) != TemplateHash(explicit) {
		t.Fatal("explicit defaults hash differently from omitted ones")
	}
}
