package v1alpha1

import (
	"math"
	"strings"
	"testing"
	"time"
)

func autoscaledSpec() *ScaleSpec {
	s := validSpec()
	s.Spec.Autoscaling = &Autoscaling{
		MinReplicas: ptr(int32(2)),
		MaxReplicas: 10,
		Metrics: []AutoscalingMetric{
			{Type: MetricRequestsPerSecond, Target: 100},
			{Type: MetricCPU, Target: 70},
			{Type: MetricPrometheus, Target: 50, Server: "http://127.0.0.1:9090", Query: `sum(rate(scaler_requests_total{spec="web"}[30s]))`},
		},
	}
	s.Default()
	return s
}

func TestAutoscalingValid(t *testing.T) {
	if err := autoscaledSpec().Validate(); err != nil {
		t.Fatalf("valid autoscaled spec rejected:\n%v", err)
	}
	a := autoscaledSpec().Spec.Autoscaling
	if got := a.Behavior.ScaleDown.StabilizationWindow.Duration; got != 5*time.Minute {
		t.Errorf("scaleDown window defaults to %v; want 5m", got)
	}
	if got := *a.Behavior.ScaleUp.MaxStep; got != (IntOrPercent{Value: 100, IsPercent: true}) {
		t.Errorf("scaleUp maxStep defaults to %+v; want 100%%", got)
	}
	if c := a.DeepCopy(); &c.Metrics[0] == &a.Metrics[0] || c.MinReplicas == a.MinReplicas {
		t.Error("DeepCopy shares memory")
	}
}

// Every wrong autoscaling field is named with its path and the fix.
func TestAutoscalingValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(a *Autoscaling, s *ScaleSpec)
		want   string
	}{
		{"min above max", func(a *Autoscaling, _ *ScaleSpec) { a.MinReplicas = ptr(int32(11)) },
			"spec.autoscaling.maxReplicas: 10 is less than minReplicas (11); make maxReplicas at least minReplicas"},
		{"min zero", func(a *Autoscaling, _ *ScaleSpec) { a.MinReplicas = ptr(int32(0)) },
			"spec.autoscaling.minReplicas: 0 is less than 1"},
		{"max missing", func(a *Autoscaling, _ *ScaleSpec) { a.MaxReplicas = 0 },
			"spec.autoscaling.maxReplicas: required"},
		{"max too big", func(a *Autoscaling, _ *ScaleSpec) { a.MaxReplicas = 5000 },
			"spec.autoscaling.maxReplicas: 5000 is more than 1000"},
		{"no metrics", func(a *Autoscaling, _ *ScaleSpec) { a.Metrics = nil },
			"spec.autoscaling.metrics: required"},
		{"unknown type", func(a *Autoscaling, _ *ScaleSpec) { a.Metrics[1].Type = "Memory" },
			`spec.autoscaling.metrics[1].type: "Memory" is not a metric type; use one of RequestsPerSecond, CPU, Prometheus`},
		{"target zero", func(a *Autoscaling, _ *ScaleSpec) { a.Metrics[0].Target = 0 },
			"spec.autoscaling.metrics[0].target: 0 is not a target"},
		{"target NaN", func(a *Autoscaling, _ *ScaleSpec) { a.Metrics[0].Target = math.NaN() },
			"spec.autoscaling.metrics[0].target: NaN is not a target"},
		{"cpu over 100", func(a *Autoscaling, _ *ScaleSpec) { a.Metrics[1].Target = 150 },
			"spec.autoscaling.metrics[1].target: 150 is more than 100"},
		{"duplicate", func(a *Autoscaling, _ *ScaleSpec) { a.Metrics[1].Type = MetricRequestsPerSecond },
			"spec.autoscaling.metrics[1].type: RequestsPerSecond is listed twice; the first is spec.autoscaling.metrics[0]"},
		{"rps without lb", func(_ *Autoscaling, s *ScaleSpec) { s.Spec.LoadBalancer = nil },
			"spec.autoscaling.metrics[0].type: RequestsPerSecond counts requests at the load balancer, and this spec has none"},
		{"rps without status page", func(_ *Autoscaling, s *ScaleSpec) { s.Spec.LoadBalancer.StatusPage = ptr(false) },
			"spec.loadBalancer.statusPage: false turns off"},
		{"prometheus url", func(a *Autoscaling, _ *ScaleSpec) { a.Metrics[2].Server = "ftp://127.0.0.1:9090" },
			`spec.autoscaling.metrics[2].server: "ftp://127.0.0.1:9090" is not an http or https URL`},
		{"prometheus url with query", func(a *Autoscaling, _ *ScaleSpec) { a.Metrics[2].Server = "http://p:9090/?x=1" },
			`spec.autoscaling.metrics[2].server: "http://p:9090/?x=1" has a query or fragment`},
		{"prometheus url missing", func(a *Autoscaling, _ *ScaleSpec) { a.Metrics[2].Server = "" },
			"spec.autoscaling.metrics[2].server: required for type Prometheus"},
		{"prometheus query missing", func(a *Autoscaling, _ *ScaleSpec) { a.Metrics[2].Query = " " },
			"spec.autoscaling.metrics[2].query: required for type Prometheus"},
		{"query on cpu", func(a *Autoscaling, _ *ScaleSpec) { a.Metrics[1].Query = "up" },
			"spec.autoscaling.metrics[1].query: is for type Prometheus only; remove it"},
		{"negative window", func(a *Autoscaling, _ *ScaleSpec) {
			a.Behavior.ScaleDown.StabilizationWindow = &Duration{-time.Second}
		}, `spec.autoscaling.behavior.scaleDown.stabilizationWindow: "-1s" is negative`},
		{"long window", func(a *Autoscaling, _ *ScaleSpec) {
			a.Behavior.ScaleUp.StabilizationWindow = &Duration{2 * time.Hour}
		}, `spec.autoscaling.behavior.scaleUp.stabilizationWindow: "2h0m0s" is longer than 1h0m0s`},
		{"zero step", func(a *Autoscaling, _ *ScaleSpec) { a.Behavior.ScaleDown.MaxStep = &IntOrPercent{} },
			"spec.autoscaling.behavior.scaleDown.maxStep: 0 would never move the count"},
		{"step over 100%", func(a *Autoscaling, _ *ScaleSpec) {
			a.Behavior.ScaleUp.MaxStep = &IntOrPercent{Value: 200, IsPercent: true}
		}, `spec.autoscaling.behavior.scaleUp.maxStep: "200%" is not a percentage from 0% to 100%`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := autoscaledSpec()
			tt.mutate(s.Spec.Autoscaling, s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got\n%v\nwant an error containing\n%s", err, tt.want)
			}
		})
	}
}

func TestAutoscalingFromYAML(t *testing.T) {
	docs, err := LoadDocuments("web.yaml", []byte(`apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata: {name: web}
spec:
  template: {image: demoapp:dev, port: 5000}
  loadBalancer: {port: 8080}
  autoscaling:
    maxReplicas: 6
    metrics:
      - type: RequestsPerSecond
        target: 100.5
    behavior:
      scaleDown: {stabilizationWindow: 20s, maxStep: 2}
`))
	if err != nil {
		t.Fatal(err)
	}
	if docs[0].Err != nil {
		t.Fatal(docs[0].Err)
	}
	a := docs[0].Spec.Spec.Autoscaling
	if a == nil || a.MaxReplicas != 6 || a.Metrics[0].Target != 100.5 || a.Behavior.ScaleDown.StabilizationWindow.Duration != 20*time.Second {
		t.Fatalf("decoded %+v", a)
	}
}

func TestAutoscalingTargetMustBeANumber(t *testing.T) {
	for value, want := range map[string]string{
		`"100"`: `spec.autoscaling.metrics[0].target: expected a number like 100 or 0.5, got the string "100"; write it without quotes`,
		`.inf`:  `spec.autoscaling.metrics[0].target: expected a number like 100 or 0.5`,
		`[1]`:   `spec.autoscaling.metrics[0].target: expected a number like 100 or 0.5`,
	} {
		docs, err := LoadDocuments("web.yaml", []byte(`apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata: {name: web}
spec:
  template: {image: demoapp:dev, port: 5000}
  loadBalancer: {port: 8080}
  autoscaling: {maxReplicas: 6, metrics: [{type: CPU, target: `+value+`}]}
`))
		if err != nil {
			t.Fatal(err)
		}
		if docs[0].Err == nil || !strings.Contains(docs[0].Err.Error(), want) {
			t.Errorf("target %s: got %v; want %s", value, docs[0].Err, want)
		}
	}
}
