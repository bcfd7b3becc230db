package specstore

import (
	"strings"
	"testing"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// flowStyled is written as manifests/web.yaml is: flow lists and
// mappings, quoted strings, comments inside the template, blank lines.
const flowStyled = `# The web tier.
apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata:
  name: web
spec:
  replicas: 3
  dependsOn: [redis]
  template:
    image: demoapp:dev   # built by make images
    env:
      - {name: REDIS_ADDR, value: "redis:6379"}
      # The greeting users see.
      - {name: GREETING, value: "Hello from scaler"}

    port: 5000
    resources:
      limits:       {cpus: "0.5",  memory: 256M}
    healthCheck:
      command: ["/demoapp", "healthcheck"]
      interval: 2s
      timeout: 5s   # a probe is a docker exec
  loadBalancer:
    port: 8080
`

// undo writes the template of before into a file that says after, as
// `rollout undo` does with the template history recorded (defaulted), and
// returns the file.
func undo(t *testing.T, before, after string) string {
	t.Helper()
	h := newHarness(t, map[string]string{"web.yaml": before, "redis.yaml": specYAML("redis", 1)})
	old, _, _ := h.store.Get("web")
	recorded := *old.Spec.Template.DeepCopy()
	h.write("web.yaml", after)
	if err := h.store.SetTemplate("web", recorded); err != nil {
		t.Fatal(err)
	}
	spec, _, _ := h.store.Get("web")
	if v1alpha1.TemplateHash(spec.Spec.Template) != v1alpha1.TemplateHash(recorded) {
		t.Fatalf("template in force %+v, want %+v", spec.Spec.Template, recorded)
	}
	return h.read("web.yaml")
}

// Undoing a one-line edit gives back the file as it was, byte for byte:
// flow lists stay flow, quotes, comments and blank lines stay, and a later
// sed edit of the same line matches again.
func TestSetTemplateChangesOnlyTheChangedLines(t *testing.T) {
	for _, c := range []struct{ name, from, to string }{
		{"a string in a flow mapping of a block list", `value: "Hello from scaler"}`, `value: "Hello v2"}`},
		{"a plain scalar with a line comment", "image: demoapp:dev   #", "image: demoapp:v2   #"},
		{"an item of a flow list", `command: ["/demoapp", "healthcheck"]`, `command: ["/demoapp", "healthcheck", "--deep"]`},
		{"a value in a flow mapping", "memory: 256M}", "memory: 512M}"},
		{"a field of a nested block mapping", "interval: 2s", "interval: 7s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			after := strings.Replace(flowStyled, c.from, c.to, 1)
			if after == flowStyled {
				t.Fatalf("%q not in the fixture", c.from)
			}
			if got := undo(t, flowStyled, after); got != flowStyled {
				t.Errorf("after undo:\n%s\nwant the file as before:\n%s", got, flowStyled)
			}
		})
	}
}

// A field added since the revision is removed, and one removed since is
// added back, each without touching another line.
func TestSetTemplateAddsAndRemovesFields(t *testing.T) {
	withGrace := strings.Replace(flowStyled, "    port: 5000\n", "    port: 5000\n    stopGracePeriod: 30s\n", 1)
	// The revision recorded its default, 10s: that is what comes back.
	if got, want := undo(t, flowStyled, withGrace), strings.Replace(withGrace, "30s", "10s", 1); got != want {
		t.Errorf("undoing stopGracePeriod:\n%s\nwant:\n%s", got, want)
	}
	withCommand := strings.Replace(flowStyled, "    port: 5000\n", "    command: [/demoapp, --verbose]   # debugging\n    port: 5000\n", 1)
	if got := undo(t, flowStyled, withCommand); got != flowStyled {
		t.Errorf("removing command:\n%s\nwant:\n%s", got, flowStyled)
	}
	got := undo(t, withGrace, flowStyled)
	// Only the added line differs; it goes after the template's last field.
	want := strings.Replace(flowStyled, "      timeout: 5s   # a probe is a docker exec\n",
		"      timeout: 5s   # a probe is a docker exec\n    stopGracePeriod: 30s\n", 1)
	if got != want {
		t.Errorf("adding stopGracePeriod back:\n%s\nwant:\n%s", got, want)
	}
}
