package specstore

import (
	"errors"
	"strings"
	"testing"
)

const autoscaledYAML = `apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata:
  name: web
spec:
  replicas: 2
  template:
    image: demoapp:dev
    port: 5000
  loadBalancer: {port: 8080}
  autoscaling:
    # raised for the sale
    maxReplicas: 5   # see runbook
    metrics: [{type: RequestsPerSecond, target: 100}]
`

// --max changes one number and nothing else; --min, absent from the file,
// is added.
func TestSetAutoscalingBoundsKeepsTheFile(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": autoscaledYAML})
	eight := int32(8)
	if err := h.store.SetAutoscalingBounds("web", nil, &eight); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(autoscaledYAML, "maxReplicas: 5   # see runbook", "maxReplicas: 8   # see runbook", 1)
	if got := h.read("web.yaml"); got != want {
		t.Fatalf("file after --max 8:\n%s\nwant:\n%s", got, want)
	}
	two := int32(2)
	if err := h.store.SetAutoscalingBounds("web", &two, nil); err != nil {
		t.Fatal(err)
	}
	got := h.read("web.yaml")
	if !strings.Contains(got, "minReplicas: 2") || !strings.Contains(got, "maxReplicas: 8   # see runbook") ||
		!strings.Contains(got, "metrics: [{type: RequestsPerSecond, target: 100}]") {
		t.Fatalf("file after --min 2:\n%s", got)
	}
	spec, _, _ := h.store.Get("web")
	if a := spec.Spec.Autoscaling; a.Min() != 2 || a.MaxReplicas != 8 {
		t.Errorf("store has %d-%d; want 2-8", a.Min(), a.MaxReplicas)
	}
	h.assertNoTempFiles()
}

func TestSetAutoscalingBoundsErrors(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": autoscaledYAML, "redis.yaml": specYAML("redis", 1)})
	nine := int32(9)
	err := h.store.SetAutoscalingBounds("web", &nine, nil)
	if err == nil || !strings.Contains(err.Error(), "spec.autoscaling.maxReplicas: 5 is less than minReplicas (9)") {
		t.Errorf("min above max: %v", err)
	}
	if got := h.read("web.yaml"); got != autoscaledYAML {
		t.Errorf("a refused edit changed the file:\n%s", got)
	}
	if err := h.store.SetAutoscalingBounds("redis", &nine, nil); !errors.Is(err, ErrNotAutoscaled) {
		t.Errorf("a spec without autoscaling: %v", err)
	}
}
