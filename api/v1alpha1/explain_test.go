package v1alpha1_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/fielddocs"
)

// TestFieldDocsAreGeneratedFromTypes fails when types.go changed and
// `go generate ./api/...` was not run, so explain never shows stale text.
func TestFieldDocsAreGeneratedFromTypes(t *testing.T) {
	src, err := os.ReadFile("types.go")
	if err != nil {
		t.Fatal(err)
	}
	fields, err := fielddocs.Parse("types.go", src)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fielddocs.Generate("v1alpha1", "fieldDocs", "types.go", fields)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("zz_generated.fielddocs.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("zz_generated.fielddocs.go is stale: run `go generate ./api/...` and commit the result")
	}
}

// TestEverySpecFieldIsDocumented keeps explain useful as fields are added.
func TestEverySpecFieldIsDocumented(t *testing.T) {
	for _, d := range v1alpha1.FieldDocs() {
		if d.Doc == "" {
			t.Errorf("%s has no doc comment in types.go; write what it does (and +default=, +enum= markers)", d.Path)
		}
	}
}

// TestDocumentedDefaultsAreTheDefaults checks every +default= marker
// against what Default fills into a spec that leaves the field out.
func TestDocumentedDefaultsAreTheDefaults(t *testing.T) {
	spec := v1alpha1.ScaleSpec{Spec: v1alpha1.Spec{
		Template:     v1alpha1.Template{HealthCheck: &v1alpha1.HealthCheck{Command: []string{"true"}}},
		LoadBalancer: &v1alpha1.LoadBalancer{Port: 8080},
		Autoscaling:  &v1alpha1.Autoscaling{MaxReplicas: 3},
	}}
	spec.Default()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, d := range v1alpha1.FieldDocs() {
		if d.Default == "" {
			continue
		}
		var v any = doc
		for _, seg := range strings.Split(d.Path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%s: the defaulted spec has no object at %q", d.Path, seg)
			}
			v = m[seg]
		}
		if got := fmt.Sprint(v); got != d.Default {
			t.Errorf("%s: documented default %q, Default() gives %q", d.Path, d.Default, got)
		}
		checked++
	}
	if checked < 15 {
		t.Errorf("only %d defaults checked; the markers went missing", checked)
	}
}

func TestDocumentedAlgorithmsAreTheAccepted(t *testing.T) {
	i := slices.IndexFunc(v1alpha1.FieldDocs(), func(d v1alpha1.FieldDoc) bool { return d.Path == "spec.loadBalancer.algorithm" })
	if i < 0 {
		t.Fatal("spec.loadBalancer.algorithm is not documented")
	}
	if got := v1alpha1.FieldDocs()[i].Enum; !slices.Equal(got, v1alpha1.Algorithms) {
		t.Errorf("documented algorithms %v, accepted %v", got, v1alpha1.Algorithms)
	}
}
