package v1alpha1

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// header is the start of every test document: four lines, so that the
// spec's fields start on line 5.
const header = `apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata:
  name: web
`

func TestLoadDocumentsErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"misspelt field", header + `spec:
  replica: 3
  template: {image: demoapp:dev}
`, []string{`web.yaml:6: spec.replica: unknown field, did you mean "replicas"?`}},
		{"field in the wrong case", header + `spec:
  Replicas: 3
  template: {image: demoapp:dev}
`, []string{`web.yaml:6: spec.Replicas: unknown field, did you mean "replicas"?`}},
		{"snake case field", header + `spec:
  template:
    image: demoapp:dev
    health_check: {command: [x]}
`, []string{`web.yaml:8: spec.template.health_check: unknown field, did you mean "healthCheck"?`}},
		{"field at the wrong level", header + `replicas: 3
spec:
  template: {image: demoapp:dev}
`, []string{`web.yaml:5: replicas: unknown field here; did you mean spec.replicas?`}},
		{"field that lives in two places", header + `spec:
  image: demoapp:dev
`, []string{
			`web.yaml:5: spec.template.image: required; an image reference like "demoapp:dev"`,
			`web.yaml:6: spec.image: unknown field here; image belongs under spec.loadBalancer or spec.template`,
		}},
		{"unknown field", header + `spec:
  template: {image: demoapp:dev}
  colour: blue
`, []string{`web.yaml:7: spec.colour: unknown field; the fields here are replicas, dependsOn, network, template, strategy, loadBalancer, revisionHistoryLimit, autoscaling`}},
		{"odd field name is quoted", header + `spec:
  template: {image: demoapp:dev}
  "my field": 1
`, []string{`web.yaml:7: spec["my field"]: unknown field; the fields here are replicas, dependsOn, network, template, strategy, loadBalancer, revisionHistoryLimit, autoscaling`}},
		{"field set twice", header + `spec:
  replicas: 1
  template: {image: demoapp:dev}
  replicas: 2
`, []string{`web.yaml:8: spec.replicas: set twice; the first is on line 6`}},
		{"quoted integer", header + `spec:
  replicas: "3"
  template: {image: demoapp:dev}
`, []string{`web.yaml:6: spec.replicas: expected an integer, got the string "3"; write it without quotes`}},
		{"fractional integer", header + `spec:
  replicas: 2.5
  template: {image: demoapp:dev}
`, []string{`web.yaml:6: spec.replicas: expected an integer, got the number 2.5`}},
		{"integer out of range", header + `spec:
  replicas: 99999999999
  template: {image: demoapp:dev}
`, []string{`web.yaml:6: spec.replicas: 99999999999 is out of range; it must lie between -2147483648 and 2147483647`}},
		{"list where a string goes", header + `spec:
  template:
    image: [demoapp]
`, []string{`web.yaml:7: spec.template.image: expected a string, got a list`}},
		{"string where a list goes", header + `spec:
  template:
    image: demoapp:dev
    command: /demoapp serve
`, []string{`web.yaml:8: spec.template.command: expected a list, got the string "/demoapp serve"`}},
		{"scalar where a mapping goes", header + `spec:
  template: demoapp:dev
`, []string{`web.yaml:6: spec.template: expected a mapping (image, command, env, port, …), got the string "demoapp:dev"`}},
		{"duration without unit", header + `spec:
  template:
    image: demoapp:dev
    stopGracePeriod: 10
`, []string{`web.yaml:8: spec.template.stopGracePeriod: 10 is not a duration; write it like "2s" or "500ms"`}},
		{"duration text", header + `spec:
  template:
    image: demoapp:dev
    healthCheck: {command: [x], interval: soon}
`, []string{`web.yaml:8: spec.template.healthCheck.interval: "soon" is not a duration; write it like "2s" or "500ms"`}},
		{"duration as a list", header + `spec:
  template:
    image: demoapp:dev
    stopGracePeriod: [1s]
`, []string{`web.yaml:8: spec.template.stopGracePeriod: expected a duration like "2s", got a list`}},
		{"maxSurge text", header + `spec:
  template: {image: demoapp:dev}
  strategy: {maxSurge: lots}
`, []string{`web.yaml:7: spec.strategy.maxSurge: "lots" is neither an integer nor a percentage like "25%"`}},
		{"maxSurge fraction", header + `spec:
  template: {image: demoapp:dev}
  strategy: {maxSurge: 1.5}
`, []string{`web.yaml:7: spec.strategy.maxSurge: 1.5 is neither an integer nor a percentage like "25%"`}},
		{"validation errors carry lines", header + `spec:
  replicas: -1
  template:
    image: demoapp:dev
    env:
      - name: GOOD
      - name: 1BAD
    resources:
      limits: {memory: lots}
`, []string{
			`web.yaml:6: spec.replicas: -1 is negative; use 0 or more`,
			`web.yaml:11: spec.template.env[1].name: "1BAD" is not a valid variable name; use letters, digits and '_', not starting with a digit`,
			`web.yaml:13: spec.template.resources.limits.memory: "lots" is not a memory size; use a number with an optional unit like 256M or 256Mi`,
		}},
		{"missing field points at its parent", header + `spec:
  template: {image: demoapp:dev, port: 5000}
  loadBalancer:
    algorithm: random
`, []string{`web.yaml:7: spec.loadBalancer.port: required: the host port to publish the app on, 1-65535`}},
		{"decode and validation errors together, in file order", header + `spec:
  replicas: -1
  templte: {image: demoapp:dev}
`, []string{
			`web.yaml:5: spec.template.image: required; an image reference like "demoapp:dev"`,
			`web.yaml:6: spec.replicas: -1 is negative; use 0 or more`,
			`web.yaml:7: spec.templte: unknown field, did you mean "template"?`,
		}},
		{"null spec", header + `spec:
`, []string{`web.yaml:5: spec.template.image: required; an image reference like "demoapp:dev"`}},
		{"another kind", `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 1, selector: {}}
`, []string{`web.yaml:2: kind: "Deployment" is not a kind scaler reads; use "ScaleSpec"`}},
		{"no kind", `apiVersion: scaler.dev/v1alpha1
metadata: {name: web}
spec: {template: {image: demoapp:dev}}
`, []string{`web.yaml:1: kind: required; set it to "ScaleSpec"`}},
		{"not a mapping", `- web
- redis
`, []string{`web.yaml:1: expected a mapping (apiVersion, kind, metadata, spec, …), got a list`}},
		{"syntax error", header + `spec:
  template:
    image: demoapp:dev
   port: 5000
`, []string{`web.yaml:8: YAML syntax error: did not find expected key`}},
		{"tab indentation", header + "spec:\n\ttemplate: {}\n",
			[]string{`web.yaml:6: YAML syntax error: found character that cannot start any token`}},
		{"unknown status field", header + `spec:
  template: {image: demoapp:dev}
status:
  ready: 3
`, []string{`web.yaml:8: status.ready: unknown field; the fields here are observedGeneration, replicas, readyReplicas, updatedReplicas, updatedReadyReplicas, upstream, currentRevision, backoff, autoscaling, conditions`}},
		{"key that is not a string", header + `spec:
  template: {image: demoapp:dev}
  ? [a, b]
  : 1
`, []string{`web.yaml:7: spec: a field name must be a string, got a list`}},
		{"alias into its own ancestor", header + `spec: &spec
  template:
    image: demoapp:dev
    env: *spec
`, []string{`web.yaml:8: spec.template.env: alias *spec refers to a node that contains it`}},
		{"merge of a scalar", header + `spec:
  template:
    <<: 3
    image: demoapp:dev
`, []string{`web.yaml:7: spec.template: a merge key (<<) takes a mapping or a list of mappings, got the number 3`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := LoadDocuments("web.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("file error: %v", err)
			}
			if len(docs) != 1 {
				t.Fatalf("got %d documents, want 1", len(docs))
			}
			if docs[0].Spec != nil {
				t.Errorf("Spec set on a document with errors")
			}
			assertErrors(t, docs[0].Err, tt.want)
		})
	}
}

func TestLoadDocumentsFileErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"empty", "", "web.yaml: no ScaleSpec documents: the file is empty"},
		{"blank", "\n  \n", "web.yaml: no ScaleSpec documents: the file is empty"},
		{"comments", "# nothing yet\n---\n---\n", "web.yaml: no ScaleSpec documents: the file holds only comments or empty documents"},
		{"null document", "~\n", "web.yaml: no ScaleSpec documents: the file holds only comments or empty documents"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := LoadDocuments("web.yaml", []byte(tt.yaml))
			if err == nil || err.Error() != tt.want || docs != nil {
				t.Fatalf("got %v, %v; want %s", docs, err, tt.want)
			}
		})
	}
}

func TestLoadDocumentsSeveral(t *testing.T) {
	data := `# The app and its cache.
apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata: {name: redis}
spec:
  template: {image: "redis:7"}
---
# broken on purpose
apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata: {name: web}
spec:
  replicas: [
---
---
apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata:
  name: worker
spec:
  template: {image: "worker:1"}
...
`
	docs, err := LoadDocuments("app.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 3 {
		t.Fatalf("got %d documents, want 3", len(docs))
	}
	wantNames := []string{"redis", "web", "worker"}
	wantLines := []int{2, 9, 16}
	for i, d := range docs {
		if d.Name != wantNames[i] || d.Line != wantLines[i] {
			t.Errorf("document %d: name %q line %d, want %q line %d", i, d.Name, d.Line, wantNames[i], wantLines[i])
		}
	}
	if docs[0].Spec == nil || docs[2].Spec == nil {
		t.Fatalf("valid documents not loaded: %v / %v", docs[0].Err, docs[2].Err)
	}
	assertErrors(t, docs[1].Err, []string{`app.yaml:13: YAML syntax error: did not find expected node content`})
	// The name of a broken document is still read, so that the error can
	// be attributed to its spec.
	if docs[1].Name != "web" {
		t.Errorf("name of broken document = %q, want web", docs[1].Name)
	}
	// The byte ranges cover the file without gaps, so that a writer can
	// replace one document and leave the others byte for byte.
	if docs[0].Start != 0 || docs[2].End != len(data) || docs[0].End != docs[1].Start || docs[1].End != docs[2].Start {
		t.Errorf("ranges do not tile the file: %d-%d %d-%d %d-%d", docs[0].Start, docs[0].End, docs[1].Start, docs[1].End, docs[2].Start, docs[2].End)
	}
	if !strings.HasPrefix(data[docs[1].Start:], "---\n# broken") || !strings.HasPrefix(data[docs[2].Start:], "---\n---\n") {
		t.Errorf("ranges start at the wrong place: %q, %q", data[docs[1].Start:docs[1].End], data[docs[2].Start:docs[2].End])
	}
	if src := docs[2].Spec.Source(); src.File != "app.yaml" || src.Line != 16 {
		t.Errorf("Source() = %+v, want app.yaml line 16", src)
	}
}

func TestLoadDocumentsValues(t *testing.T) {
	data := header + `spec:
  replicas: 0x3
  template: &tmpl
    image: demoapp:dev
    port: 5000
    env:
      - {name: PORT, value: 5000}
      - {name: DEBUG, value: true}
      - {name: EMPTY}
    resources:
      limits: {cpus: 0.5, memory: 1073741824}
    healthCheck:
      <<: &probe {interval: 5s, retries: 4}
      command: [/demoapp, healthcheck]
      retries: 2
  strategy: {maxSurge: 25%, maxUnavailable: 1}
  loadBalancer: {port: 8080}
status:
  observedGeneration: 4
  conditions:
    - {type: Available, status: "True", lastTransitionTime: 2024-01-02T03:04:05Z}
`
	docs, err := LoadDocuments("web.yaml", []byte(strings.Replace(data, "name: web", "name: web\n  generation: 7", 1)))
	if err != nil || docs[0].Err != nil {
		t.Fatalf("load: %v %v", err, docs[0].Err)
	}
	s := docs[0].Spec
	if *s.Spec.Replicas != 3 {
		t.Errorf("replicas = %d, want 3", *s.Spec.Replicas)
	}
	wantEnv := []EnvVar{{"PORT", "5000"}, {"DEBUG", "true"}, {"EMPTY", ""}}
	for i, e := range wantEnv {
		if s.Spec.Template.Env[i] != e {
			t.Errorf("env[%d] = %+v, want %+v", i, s.Spec.Template.Env[i], e)
		}
	}
	if l := s.Spec.Template.Resources.Limits; l.CPUs != "0.5" || l.Memory != "1073741824" {
		t.Errorf("limits = %+v, want the text as written", l)
	}
	hc := s.Spec.Template.HealthCheck
	if hc.Interval.Duration != 5*time.Second || *hc.Retries != 2 || hc.Timeout.Duration != DefaultHealthTimeout {
		t.Errorf("merge key: interval %v retries %d timeout %v; want 5s from the merge, 2 written, 1s default", hc.Interval, *hc.Retries, hc.Timeout)
	}
	if ms := s.Spec.Strategy.MaxSurge; !ms.IsPercent || ms.Value != 25 {
		t.Errorf("maxSurge = %+v, want 25%%", ms)
	}
	// status and generation are checked, then dropped: they are never read
	// from a file.
	if s.Status != nil || s.Metadata.Generation != 0 {
		t.Errorf("status %+v / generation %d kept; want them dropped", s.Status, s.Metadata.Generation)
	}
	// LoadDocuments defaults.
	if s.Spec.Network != DefaultNetwork || s.Spec.LoadBalancer.Algorithm != DefaultAlgorithm {
		t.Errorf("spec not defaulted: %+v", s.Spec)
	}
}

func TestDecodeDocuments(t *testing.T) {
	specs, err := DecodeDocuments("web.yaml", []byte(header+"spec:\n  template: {image: demoapp:dev}\n---\n"+header+"spec: {replicas: x}\n"))
	assertErrors(t, err, []string{`web.yaml:12: spec.replicas: expected an integer, got the string "x"`})
	if len(specs) != 1 || specs[0].Spec.Replicas != nil {
		t.Fatalf("got %d specs (%+v), want one, not defaulted", len(specs), specs)
	}
}

func TestDecodeAliasBomb(t *testing.T) {
	// Each level merges the one before ten times: 10^9 pairs if expanded.
	var b strings.Builder
	b.WriteString("x0: &m0 {image: demoapp:dev}\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "x%d: &m%d {<<: [", i, i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*m%d", i-1)
		}
		b.WriteString("]}\n")
	}
	b.WriteString(header + "spec:\n  template: *m9\n")
	start := time.Now()
	docs, err := LoadDocuments("bomb.yaml", []byte(b.String()))
	if err != nil || len(docs) != 1 {
		t.Fatalf("want one document, got %v %v", docs, err)
	}
	if !strings.Contains(fmt.Sprint(docs[0].Err), "the document is too large or expands too many aliases") {
		t.Errorf("want a too-large error, got:\n%v", docs[0].Err)
	}
	if n := len(AsErrorList(docs[0].Err)); n > 20 {
		t.Errorf("%d errors; want a few", n)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("decoding took %v", elapsed)
	}
}
