package specstore

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOpenLoadsSpecFilesOnly(t *testing.T) {
	h := newHarness(t, map[string]string{
		"app.yaml":      specYAML("web", 3) + "---\n" + specYAML("redis", 1),
		"worker.yml":    specYAML("worker", 2),
		".web.yaml.swp": specYAML("swap", 1),
		"web.yaml~":     specYAML("backup", 1),
		"4913":          specYAML("probe", 1),
		"#web.yaml#":    specYAML("autosave", 1),
		"notes.txt":     specYAML("notes", 1),
	})
	if got := h.store.Names(); !slices.Equal(got, []string{"redis", "web", "worker"}) {
		t.Fatalf("Names() = %v", got)
	}
	if path, _ := h.store.Path("redis"); path != h.path("app.yaml") {
		t.Errorf("Path(redis) = %q", path)
	}
	if h.replicas("web") != 3 || h.generation("web") != 1 {
		t.Errorf("web: replicas %d generation %d", h.replicas("web"), h.generation("web"))
	}
	spec, _, _ := h.store.Get("web")
	if spec.Spec.Network != "scaler-net" {
		t.Errorf("spec not defaulted: network %q", spec.Spec.Network)
	}
}

func TestGetReturnsACopy(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 3)})
	spec, _, _ := h.store.Get("web")
	*spec.Spec.Replicas = 99
	spec.Spec.Template.Image = "changed"
	if h.replicas("web") != 3 {
		t.Fatal("changing what Get returned changed the store")
	}
}

func TestGeneration(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 3)})
	steps := []struct {
		name    string
		content string
		want    int64
		changed bool
	}{
		{"same content saved again", specYAML("web", 3), 1, false},
		{"comment added", "# hello\n" + specYAML("web", 3), 1, false},
		{"default written out", specYAML("web", 3) + "  network: scaler-net\n", 1, false},
		{"replicas changed", specYAML("web", 4), 2, true},
		{"image changed", strings.Replace(specYAML("web", 4), "demoapp:dev", "demoapp:v2", 1), 3, true},
		{"back to an earlier spec", specYAML("web", 4), 4, true},
	}
	for _, step := range steps {
		h.write("web.yaml", step.content)
		h.store.Reload()
		if got := h.generation("web"); got != step.want {
			t.Errorf("%s: generation %d, want %d", step.name, got, step.want)
		}
		if got := h.takeChanges(); (len(got) > 0) != step.changed {
			t.Errorf("%s: notifications %v, want changed=%v", step.name, got, step.changed)
		}
	}
}

func TestGenerationContinuesAfterDeletion(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 3)})
	if err := h.store.Delete("web"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := h.store.Get("web"); ok {
		t.Fatal("deleted spec still in force")
	}
	h.write("web.yaml", specYAML("web", 3))
	h.store.Reload()
	// A controller that still remembers generation 1 must not take the new
	// spec for the old one.
	if got := h.generation("web"); got != 2 {
		t.Fatalf("generation of re-created spec = %d, want 2", got)
	}
}

func TestInvalidEditKeepsLastValidSpec(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 3)})
	h.write("web.yaml", strings.Replace(specYAML("web", 5), "replicas:", "replica:", 1))
	h.store.Reload()
	if got := h.takeChanges(); !slices.Equal(got, []string{"web"}) {
		t.Errorf("notifications %v, want [web]", got)
	}
	spec, specErr, ok := h.store.Get("web")
	if !ok || *spec.Spec.Replicas != 3 || spec.Metadata.Generation != 1 {
		t.Fatalf("spec in force changed: ok=%v %+v", ok, spec)
	}
	want := `web.yaml:6: spec.replica: unknown field, did you mean "replicas"?`
	if specErr == nil || specErr.Error() != want {
		t.Fatalf("spec error = %v, want %s", specErr, want)
	}
	// Fixing the file clears the error and applies the fix.
	h.write("web.yaml", specYAML("web", 5))
	h.store.Reload()
	if h.specErr("web") != "" || h.replicas("web") != 5 || h.generation("web") != 2 {
		t.Fatalf("after the fix: error %q replicas %d generation %d", h.specErr("web"), h.replicas("web"), h.generation("web"))
	}
}

func TestInvalidFirstVersionIsNotInForce(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": strings.Replace(specYAML("web", 3), "demoapp:dev", "Demo App", 1)})
	spec, specErr, ok := h.store.Get("web")
	if ok || spec != nil || specErr == nil {
		t.Fatalf("Get = %v, %v, %v; want nothing in force and the error", spec, specErr, ok)
	}
	if !h.store.Defined("web") || h.store.Defined("api") {
		t.Errorf("Defined(web) = %v, Defined(api) = %v; want true, false", h.store.Defined("web"), h.store.Defined("api"))
	}
	if names := h.store.Names(); !slices.Equal(names, []string{"web"}) {
		t.Errorf("Names() = %v, want web, to be reconciled and report its error", names)
	}
	if list := h.store.List(); len(list) != 1 || list[0].Err == nil || list[0].Spec != nil {
		t.Errorf("List() = %+v, want web with its error", list)
	}
}

func TestBrokenFileKeepsItsSpecs(t *testing.T) {
	h := newHarness(t, map[string]string{"app.yaml": specYAML("web", 3) + "---\n" + specYAML("redis", 1)})
	// A syntax error early in the file: no name can be read from it.
	h.write("app.yaml", "apiVersion: [\n")
	h.store.Reload()
	for _, name := range []string{"web", "redis"} {
		if !strings.Contains(h.specErr(name), "app.yaml:1: YAML syntax error") {
			t.Errorf("%s: error %q, want the syntax error", name, h.specErr(name))
		}
		if _, _, ok := h.store.Get(name); !ok {
			t.Errorf("%s no longer in force", name)
		}
	}
	if fe := h.store.FileErrors(); len(fe) != 1 || fe[0].Path != h.path("app.yaml") {
		t.Fatalf("FileErrors() = %v", fe)
	}
	// Broken again in another way: still attributed.
	h.write("app.yaml", "")
	h.store.Reload()
	if !strings.Contains(h.specErr("web"), "no ScaleSpec documents") {
		t.Errorf("web: error %q", h.specErr("web"))
	}
	h.write("app.yaml", specYAML("web", 3)+"---\n"+specYAML("redis", 1))
	h.store.Reload()
	if h.specErr("web") != "" || h.specErr("redis") != "" || len(h.store.FileErrors()) != 0 {
		t.Fatalf("errors remain after the fix: %q %q %v", h.specErr("web"), h.specErr("redis"), h.store.FileErrors())
	}
}

func TestBrokenDocumentIsBlamedOnItsSpec(t *testing.T) {
	h := newHarness(t, map[string]string{"app.yaml": specYAML("web", 3) + "---\n" + specYAML("redis", 1)})
	// The name can still be read above the broken line.
	h.write("app.yaml", specYAML("web", 3)+"---\n"+strings.Replace(specYAML("redis", 2), "image: demoapp:dev", "image: [", 1))
	h.store.Reload()
	if h.specErr("web") != "" {
		t.Errorf("web blamed: %q", h.specErr("web"))
	}
	if want := "app.yaml:17: YAML syntax error"; !strings.HasPrefix(h.specErr("redis"), want) {
		t.Errorf("redis error %q, want %s...", h.specErr("redis"), want)
	}
	if h.replicas("redis") != 1 {
		t.Errorf("redis replicas %d, want the last valid 1", h.replicas("redis"))
	}
}

func TestInvalidRenameKeepsTheSpec(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 3)})
	h.write("web.yaml", specYAML("Web", 3))
	h.store.Reload()
	if _, _, ok := h.store.Get("web"); !ok || !strings.Contains(h.specErr("web"), `metadata.name: "Web" is not a valid name`) {
		t.Fatalf("web: in force %v, error %q", ok, h.specErr("web"))
	}
}

func TestNameDefinedTwice(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 3)})
	h.write("copy.yaml", specYAML("web", 5))
	h.store.Reload()
	want := `copy.yaml:1: metadata.name: "web" is defined more than once (copy.yaml:1, web.yaml:1); keep one
web.yaml:1: metadata.name: "web" is defined more than once (copy.yaml:1, web.yaml:1); keep one`
	if h.specErr("web") != want || h.replicas("web") != 3 {
		t.Fatalf("web: replicas %d, error:\n%s\nwant:\n%s", h.replicas("web"), h.specErr("web"), want)
	}
}

func TestCycleIsRejectedAndOldSpecsStay(t *testing.T) {
	h := newHarness(t, map[string]string{
		"web.yaml":   specYAML("web", 1) + "  dependsOn: [redis]\n",
		"redis.yaml": specYAML("redis", 1),
	})
	h.write("redis.yaml", specYAML("redis", 2)+"  dependsOn: [web]\n")
	h.store.Reload()
	if want := "redis.yaml:9: spec.dependsOn[0]: dependency cycle redis -> web -> redis; a spec cannot wait for itself"; h.specErr("redis") != want {
		t.Errorf("redis error %q, want %q", h.specErr("redis"), want)
	}
	if h.specErr("web") != "" || h.replicas("redis") != 1 {
		t.Errorf("web error %q, redis replicas %d; want web untouched and redis at its last valid version", h.specErr("web"), h.replicas("redis"))
	}
}

func TestMissingDependencyIsAWarning(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 1) + "  dependsOn: [redis]\n"})
	list := h.store.List()
	if len(list) != 1 || list[0].Spec == nil || len(list[0].Warnings) != 1 {
		t.Fatalf("List() = %+v", list)
	}
	if want := `web.yaml:9: spec.dependsOn[0]: "redis" is not defined; web will wait until it is`; list[0].Warnings[0] != want {
		t.Errorf("warning %q, want %q", list[0].Warnings[0], want)
	}
}

func TestRemovedDocumentIsDeletedAfterGrace(t *testing.T) {
	h := newHarness(t, map[string]string{"app.yaml": specYAML("web", 3) + "---\n" + specYAML("redis", 1)})
	now := h.store.now()
	h.store.now = func() time.Time { return now }
	h.write("app.yaml", specYAML("web", 3))
	h.store.Reload()
	if _, _, ok := h.store.Get("redis"); !ok {
		t.Fatal("redis deleted before its grace ended")
	}
	now = now.Add(deleteGrace)
	h.store.Reload()
	if _, _, ok := h.store.Get("redis"); ok {
		t.Fatal("redis still in force after its grace")
	}
	if got := h.takeChanges(); !slices.Equal(got, []string{"redis"}) {
		t.Errorf("notifications %v, want [redis] once", got)
	}
}

func TestRenamedFileKeepsGeneration(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 3)})
	if err := os.Rename(h.path("web.yaml"), h.path("frontend.yaml")); err != nil {
		t.Fatal(err)
	}
	h.store.Reload()
	if path, _ := h.store.Path("web"); path != h.path("frontend.yaml") || h.generation("web") != 1 {
		t.Fatalf("path %q generation %d; want the new file and generation 1", path, h.generation("web"))
	}
	if got := h.takeChanges(); !slices.Equal(got, []string{"web"}) {
		t.Errorf("notifications %v, want [web] for the new path", got)
	}
}
