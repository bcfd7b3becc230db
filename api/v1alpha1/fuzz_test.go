package v1alpha1

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// FuzzDecode feeds arbitrary bytes to LoadDocuments. No input may panic,
// every error must point inside the file, and every spec that loads must be
// valid and survive a round trip through YAML unchanged.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(header + "spec:\n  replicas: 3\n  template: {image: demoapp:dev, port: 5000}\n  loadBalancer: {port: 8080}\n"))
	f.Add([]byte(header + `spec:
  replicas: 3
  dependsOn: [redis]
  network: app-network
  template:
    image: demoapp:dev
    command: []
    env:
      - {name: REDIS_ADDR, value: "redis:6379"}
    port: 5000
    resources:
      limits:       {cpus: "0.5",  memory: 256M}
      reservations: {cpus: "0.25", memory: 128M}
    healthCheck:
      command: ["/demoapp", "healthcheck"]
      interval: 2s
      timeout: 1s
      retries: 3
      startPeriod: 10s
      startInterval: 200ms
    stopGracePeriod: 10s
  strategy:
    maxSurge: 25%
    maxUnavailable: 0
    drainTimeout: 5s
  loadBalancer:
    image: scaler-nginx:dev
    hostIP: 127.0.0.1
    port: 8080
    algorithm: least_conn
    maxFails: 3
    failTimeout: 30s
status:
  observedGeneration: 4
  conditions:
    - {type: Available, status: "True", lastTransitionTime: 2024-01-02T03:04:05Z}
`))
	f.Add([]byte("a: &a\n  b: *a\n---\n- x\n---\n" + header + "spec:\n  template:\n    <<: {image: x}\n"))
	f.Add([]byte("%YAML 1.1\n---\nkind: ScaleSpec\n...\n--- |\n  text\n"))
	f.Add([]byte(header + "spec:\n  template:\n    image: demoapp:dev\n   port: 5000\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The fuzzer has no per-input timeout; a hang would only show as
		// a stalled exec count. Crash instead, so the input is saved.
		timer := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("input took over 10s: %q", data)) })
		defer timer.Stop()
		docs, err := LoadDocuments("fuzz.yaml", data)
		// YAML breaks lines at \n, \r\n, a lone \r, NEL, LS and PS.
		lines := bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) - bytes.Count(data, []byte("\r\n")) + 1
		for _, r := range []string{"\u0085", "\u2028", "\u2029"} {
			lines += bytes.Count(data, []byte(r))
		}
		checkLines := func(err error) {
			for _, e := range AsErrorList(err) {
				if e.Line < 0 || e.Line > lines || e.Message == "" {
					t.Fatalf("error outside the file (%d lines): %v", lines, e)
				}
			}
		}
		checkLines(err)
		end := 0
		for _, d := range docs {
			if d.Start < end || d.End < d.Start || d.End > len(data) {
				t.Fatalf("bad range %d-%d after %d (len %d)", d.Start, d.End, end, len(data))
			}
			end = d.Start
			checkLines(d.Err)
			if (d.Spec == nil) == (d.Err == nil) {
				t.Fatalf("document has spec %v and error %v", d.Spec != nil, d.Err)
			}
			if d.Spec == nil {
				continue
			}
			if err := d.Spec.Validate(); err != nil {
				t.Fatalf("loaded spec is invalid: %v", err)
			}
			copied := d.Spec.DeepCopy()
			copied.Default()
			if !SpecEqual(&copied.Spec, &d.Spec.Spec) {
				t.Fatalf("Default is not idempotent")
			}
			out, err := yaml.Marshal(d.Spec)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			again, err := LoadDocuments("again.yaml", out)
			if err != nil || len(again) != 1 || again[0].Err != nil {
				t.Fatalf("round trip of\n%s\nfailed: %v %v", out, err, again)
			}
			if !SpecEqual(&again[0].Spec.Spec, &d.Spec.Spec) || again[0].Spec.Metadata.Name != d.Spec.Metadata.Name {
				t.Fatalf("round trip changed the spec:\n%s", out)
			}
		}
	})
}
