package v1alpha1

import (
	"fmt"
	"strings"
	"testing"
)

// setSpec loads one spec from a file named after it, so that errors name
// the file and line.
func setSpec(t *testing.T, name string, body string) *ScaleSpec {
	t.Helper()
	data := fmt.Sprintf("apiVersion: scaler.dev/v1alpha1\nkind: ScaleSpec\nmetadata:\n  name: %s\nspec:\n  template: {image: demoapp:dev, port: 5000}\n%s", name, body)
	docs, err := LoadDocuments(name+".yaml", []byte(data))
	if err != nil || docs[0].Err != nil {
		t.Fatalf("load %s: %v %v", name, err, docs[0].Err)
	}
	return docs[0].Spec
}

func TestValidateSet(t *testing.T) {
	tests := []struct {
		name         string
		specs        func(t *testing.T) []*ScaleSpec
		wantErrors   []string
		wantWarnings []string
	}{
		{"independent specs", func(t *testing.T) []*ScaleSpec {
			return []*ScaleSpec{
				setSpec(t, "web", "  dependsOn: [redis]\n  loadBalancer: {port: 8080}\n"),
				setSpec(t, "redis", ""),
				setSpec(t, "api", "  dependsOn: [redis]\n  loadBalancer: {port: 8081}\n"),
			}
		}, nil, nil},
		{"same name twice", func(t *testing.T) []*ScaleSpec {
			other := setSpec(t, "web", "")
			other.source = &Source{File: "other.yaml", Line: 3}
			return []*ScaleSpec{setSpec(t, "web", ""), other}
		}, []string{`other.yaml:3: metadata.name: "web" is already defined in web.yaml:1`}, nil},
		{"missing dependency is a warning", func(t *testing.T) []*ScaleSpec {
			return []*ScaleSpec{setSpec(t, "web", "  dependsOn: [rdis]\n"), setSpec(t, "redis", "")}
		}, nil, []string{`web.yaml:7: spec.dependsOn[0]: "rdis" is not defined; web will wait until it is (did you mean "redis"?)`}},
		{"cycle of two", func(t *testing.T) []*ScaleSpec {
			return []*ScaleSpec{
				setSpec(t, "web", "  dependsOn: [api]\n"),
				setSpec(t, "api", "  dependsOn: [redis, web]\n"),
				setSpec(t, "redis", ""),
			}
		}, []string{
			`api.yaml:7: spec.dependsOn[1]: dependency cycle api -> web -> api; a spec cannot wait for itself`,
			`web.yaml:7: spec.dependsOn[0]: dependency cycle web -> api -> web; a spec cannot wait for itself`,
		}, nil},
		{"cycle of three", func(t *testing.T) []*ScaleSpec {
			return []*ScaleSpec{
				setSpec(t, "a", "  dependsOn: [b]\n"),
				setSpec(t, "b", "  dependsOn: [c]\n"),
				setSpec(t, "c", "  dependsOn: [a]\n"),
			}
		}, []string{
			`a.yaml:7: spec.dependsOn[0]: dependency cycle a -> b -> c -> a; a spec cannot wait for itself`,
			`b.yaml:7: spec.dependsOn[0]: dependency cycle b -> c -> a -> b; a spec cannot wait for itself`,
			`c.yaml:7: spec.dependsOn[0]: dependency cycle c -> a -> b -> c; a spec cannot wait for itself`,
		}, nil},
		{"same published address", func(t *testing.T) []*ScaleSpec {
			return []*ScaleSpec{
				setSpec(t, "web", "  loadBalancer: {port: 8080}\n"),
				setSpec(t, "api", "  loadBalancer: {port: 8080, hostIP: 127.0.0.1}\n"),
			}
		}, []string{`api.yaml:7: spec.loadBalancer.port: 127.0.0.1:8080 is already published by "web" (web.yaml:1); choose another port`}, nil},
		{"every address clashes with any", func(t *testing.T) []*ScaleSpec {
			return []*ScaleSpec{
				setSpec(t, "web", "  loadBalancer: {port: 8080, hostIP: 127.0.0.2}\n"),
				setSpec(t, "api", "  loadBalancer: {port: 8080, hostIP: 0.0.0.0}\n"),
			}
		}, []string{`api.yaml:7: spec.loadBalancer.port: 0.0.0.0:8080 is already published by "web" (web.yaml:1); choose another port`}, nil},
		{"same port on two addresses", func(t *testing.T) []*ScaleSpec {
			return []*ScaleSpec{
				setSpec(t, "web", "  loadBalancer: {port: 8080, hostIP: 127.0.0.1}\n"),
				setSpec(t, "api", "  loadBalancer: {port: 8080, hostIP: 127.0.0.2}\n"),
			}
		}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warnings, err := ValidateSet(tt.specs(t))
			assertErrors(t, err, tt.wantErrors)
			assertErrors(t, warnings.OrNil(), tt.wantWarnings)
		})
	}
}

func TestValidateSetWithoutSources(t *testing.T) {
	a := validSpec()
	b := validSpec()
	b.Spec.LoadBalancer.Port = 9090
	_, err := ValidateSet([]*ScaleSpec{a, b})
	if err == nil || !strings.Contains(err.Error(), `metadata.name: "web" is already defined by another document`) {
		t.Fatalf("got %v", err)
	}
}
