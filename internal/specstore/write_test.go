package specstore

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// commented is a spec file as a person writes it, with comments and a
// layout that edits must keep.
const commented = `# Web tier. Owner: platform team.
apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata:
  name: web    # also the network alias
spec:
  # Three is enough until the sale.
  replicas: 3   # see runbook
  dependsOn: [redis]
  template:
    image: "demoapp:dev"
    env:
      - {name: REDIS_ADDR, value: "redis:6379"}   # the service name
    port: 5000
  loadBalancer:
    port: 8080
`

func TestSetReplicasKeepsCommentsAndLayout(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": commented, "redis.yaml": specYAML("redis", 1)})
	if err := h.store.SetReplicas("web", 10); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(commented, "replicas: 3   # see runbook", "replicas: 10   # see runbook", 1)
	if got := h.read("web.yaml"); got != want {
		t.Fatalf("file after SetReplicas:\n%s\nwant:\n%s", got, want)
	}
	// The store answers at once, without waiting for the watcher.
	if h.replicas("web") != 10 || h.generation("web") != 2 {
		t.Fatalf("store: replicas %d generation %d", h.replicas("web"), h.generation("web"))
	}
	if got := h.takeChanges(); len(got) != 1 || got[0] != "web" {
		t.Errorf("notifications %v, want [web]", got)
	}
	h.assertNoTempFiles()
}

func TestSetReplicasAddsTheField(t *testing.T) {
	without := strings.Replace(commented, "  # Three is enough until the sale.\n  replicas: 3   # see runbook\n", "", 1)
	h := newHarness(t, map[string]string{"web.yaml": without, "redis.yaml": specYAML("redis", 1)})
	if err := h.store.SetReplicas("web", 0); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(without, "spec:\n", "spec:\n  replicas: 0\n", 1)
	if got := h.read("web.yaml"); got != want {
		t.Fatalf("file after SetReplicas:\n%s\nwant:\n%s", got, want)
	}
	if h.replicas("web") != 0 {
		t.Fatalf("replicas %d, want 0", h.replicas("web"))
	}
}

func TestSetReplicasInFlowStyle(t *testing.T) {
	flow := "apiVersion: scaler.dev/v1alpha1\nkind: ScaleSpec\nmetadata: {name: web}\nspec: {template: {image: demoapp:dev}}\n"
	h := newHarness(t, map[string]string{"web.yaml": flow})
	if err := h.store.SetReplicas("web", 4); err != nil {
		t.Fatal(err)
	}
	if h.replicas("web") != 4 {
		t.Fatalf("replicas %d, want 4; file:\n%s", h.replicas("web"), h.read("web.yaml"))
	}
}

func TestSetReplicasLeavesOtherDocumentsAlone(t *testing.T) {
	redis := "# cache\n" + specYAML("redis", 1)
	worker := "---\n# jobs\n" + specYAML("worker", 2) + "...\n"
	h := newHarness(t, map[string]string{"app.yaml": redis + "---\n" + commented + worker})
	if err := h.store.SetReplicas("web", 7); err != nil {
		t.Fatal(err)
	}
	want := redis + "---\n" + strings.Replace(commented, "replicas: 3 ", "replicas: 7 ", 1) + worker
	if got := h.read("app.yaml"); got != want {
		t.Fatalf("file:\n%s\nwant:\n%s", got, want)
	}
}

func TestSetReplicasErrors(t *testing.T) {
	broken := strings.Replace(specYAML("web", 3), "image: demoapp:dev", "image: demoapp:dev\n    colour: blue", 1)
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 3)})
	h.write("web.yaml", broken)
	h.store.Reload()
	if err := h.store.SetReplicas("nope", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown spec: %v, want ErrNotFound", err)
	}
	err := h.store.SetReplicas("web", 5)
	if err == nil || !strings.Contains(err.Error(), "cannot change web until its file is fixed") || !strings.Contains(err.Error(), `web.yaml:9: spec.template.colour: unknown field`) {
		t.Errorf("invalid file: %v", err)
	}
	if h.read("web.yaml") != broken {
		t.Error("a failed SetReplicas changed the file")
	}
}

func TestSetReplicasUnchangedWritesNothing(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": commented, "redis.yaml": specYAML("redis", 1)})
	before, _ := os.Stat(h.path("web.yaml"))
	if err := h.store.SetReplicas("web", 3); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(h.path("web.yaml"))
	if !os.SameFile(before, after) {
		t.Fatal("the file was rewritten")
	}
}

func TestApply(t *testing.T) {
	h := newHarness(t, map[string]string{
		"app.yaml": "# shared file\n" + specYAML("redis", 1) + "---\n" + specYAML("worker", 1),
	})
	web := strings.Replace(commented, "replicas: 3", "replicas: 2", 1)
	results, err := h.store.Apply([]byte(web+"---\n"+specYAML("worker", 5)), false)
	if err != nil {
		t.Fatal(err)
	}
	want := []ApplyResult{
		{Name: "web", Action: ActionCreated, Path: h.path("web.yaml")},
		{Name: "worker", Action: ActionConfigured, Path: h.path("app.yaml")},
	}
	if len(results) != 2 || results[0].Name != want[0].Name || results[0].Action != want[0].Action || results[0].Path != want[0].Path ||
		results[1].Name != want[1].Name || results[1].Action != want[1].Action || results[1].Path != want[1].Path {
		t.Fatalf("results %+v, want %+v", results, want)
	}
	if got := h.read("web.yaml"); got != web {
		t.Errorf("new file:\n%s\nwant the document as applied:\n%s", got, web)
	}
	if got, want := h.read("app.yaml"), "# shared file\n"+specYAML("redis", 1)+"---\n"+specYAML("worker", 5); got != want {
		t.Errorf("app.yaml:\n%s\nwant only worker's document replaced:\n%s", got, want)
	}
	if h.replicas("web") != 2 || h.replicas("worker") != 5 {
		t.Errorf("store not updated: web %d worker %d", h.replicas("web"), h.replicas("worker"))
	}

	// The same again changes nothing.
	results, err = h.store.Apply([]byte(web), false)
	if err != nil || results[0].Action != ActionUnchanged {
		t.Fatalf("re-apply: %+v %v, want unchanged", results, err)
	}
	h.assertNoTempFiles()
}

func TestApplyDryRunWritesNothing(t *testing.T) {
	h := newHarness(t, map[string]string{"worker.yaml": specYAML("worker", 1)})
	results, err := h.store.Apply([]byte(specYAML("web", 1)+"---\n"+specYAML("worker", 3)), true)
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Action != ActionCreated || results[1].Action != ActionConfigured {
		t.Fatalf("results %+v", results)
	}
	if _, err := os.Stat(h.path("web.yaml")); !os.IsNotExist(err) {
		t.Error("dry run created a file")
	}
	if h.read("worker.yaml") != specYAML("worker", 1) || h.replicas("worker") != 1 {
		t.Error("dry run changed a spec")
	}
}

func TestApplyRejectsInvalidDocuments(t *testing.T) {
	withLB := func(name string) string {
		return strings.Replace(specYAML(name, 1), "image: demoapp:dev\n", "image: demoapp:dev\n    port: 5000\n  loadBalancer:\n    port: 8080\n", 1)
	}
	h := newHarness(t, map[string]string{"web.yaml": withLB("web")})
	tests := []struct {
		name, doc, want string
	}{
		{"invalid field", strings.Replace(specYAML("api", 1), "replicas", "replica", 1),
			`line 6: spec.replica: unknown field, did you mean "replicas"?`},
		{"applied twice", specYAML("api", 1) + "---\n" + specYAML("api", 2),
			`line 10: metadata.name: "api" is applied twice; keep one`},
		{"clash with a spec in force", withLB("api"),
			`line 11: spec.loadBalancer.port: 127.0.0.1:8080 is already published by "web" (web.yaml:1); choose another port`},
		{"no documents", "# nothing\n", "no ScaleSpec documents: the file holds only comments or empty documents"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.store.Apply([]byte(tt.doc), false)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error:\n%v\nwant:\n%s", err, tt.want)
			}
			var list v1alpha1.ErrorList
			if !errors.As(err, &list) {
				t.Errorf("error is not an ErrorList")
			}
			if _, err := os.Stat(h.path("api.yaml")); !os.IsNotExist(err) {
				t.Error("a rejected apply wrote a file")
			}
		})
	}
}

func TestApplyDropsStatusAndGeneration(t *testing.T) {
	h := newHarness(t, nil)
	doc := strings.Replace(specYAML("web", 2), "  name: web\n", "  name: web\n  generation: 4\n", 1) +
		"status:\n  observedGeneration: 4\n  replicas: 2\n  readyReplicas: 2\n  updatedReplicas: 2\n  upstream: [web-1, web-2]\n"
	if _, err := h.store.Apply([]byte(doc), false); err != nil {
		t.Fatal(err)
	}
	if got := h.read("web.yaml"); got != specYAML("web", 2) {
		t.Fatalf("file:\n%s\nwant status and generation dropped:\n%s", got, specYAML("web", 2))
	}
}

func TestApplyJSONBecomesYAML(t *testing.T) {
	h := newHarness(t, nil)
	doc := `{"apiVersion": "scaler.dev/v1alpha1", "kind": "ScaleSpec", "metadata": {"name": "web"}, "spec": {"replicas": 2, "template": {"image": "demoapp:dev", "env": [{"name": "A", "value": "0.5"}]}}}`
	if _, err := h.store.Apply([]byte(doc), false); err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: scaler.dev/v1alpha1
kind: ScaleSpec
metadata:
  name: web
spec:
  replicas: 2
  template:
    image: demoapp:dev
    env:
      - name: A
        value: "0.5"
`
	if got := h.read("web.yaml"); got != want {
		t.Fatalf("file:\n%s\nwant:\n%s", got, want)
	}
}

func TestApplyWarnsAboutMissingDependency(t *testing.T) {
	h := newHarness(t, nil)
	results, err := h.store.Apply([]byte(specYAML("web", 1)+"  dependsOn: [redis]\n"), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := `line 9: spec.dependsOn[0]: "redis" is not defined; web will wait until it is`; len(results[0].Warnings) != 1 || results[0].Warnings[0] != want {
		t.Fatalf("warnings %q, want %q", results[0].Warnings, want)
	}
}

func TestDelete(t *testing.T) {
	h := newHarness(t, map[string]string{"app.yaml": "# cache\n" + specYAML("redis", 1) + "---\n" + specYAML("web", 1)})
	if err := h.store.Delete("redis"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := h.store.Get("redis"); ok {
		t.Fatal("redis still in force")
	}
	if got := h.read("app.yaml"); got != "---\n"+specYAML("web", 1) {
		t.Fatalf("app.yaml:\n%s", got)
	}
	if err := h.store.Delete("web"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(h.path("app.yaml")); !os.IsNotExist(err) {
		t.Fatal("the emptied file was kept")
	}
	if err := h.store.Delete("web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if got := h.takeChanges(); len(got) != 2 {
		t.Errorf("notifications %v, want redis and web", got)
	}
	h.assertNoTempFiles()
}

func TestSetTemplate(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": commented, "redis.yaml": specYAML("redis", 1)})
	old, _, _ := h.store.Get("web")
	tmpl := old.Spec.Template
	tmpl.Image = "demoapp:v1"
	tmpl.Env = append(tmpl.Env, v1alpha1.EnvVar{Name: "MODE", Value: "true"})
	if err := h.store.SetTemplate("web", tmpl); err != nil {
		t.Fatal(err)
	}
	spec, _, _ := h.store.Get("web")
	if v1alpha1.TemplateHash(spec.Spec.Template) != v1alpha1.TemplateHash(tmpl) {
		t.Fatalf("template in force %+v, want %+v", spec.Spec.Template, tmpl)
	}
	if spec.Metadata.Generation != 2 || *spec.Spec.Replicas != 3 {
		t.Errorf("generation %d replicas %d", spec.Metadata.Generation, *spec.Spec.Replicas)
	}
	got := h.read("web.yaml")
	for _, kept := range []string{"# Web tier. Owner: platform team.", "# also the network alias", "# see runbook", "dependsOn: [redis]"} {
		if !strings.Contains(got, kept) {
			t.Errorf("file lost %q:\n%s", kept, got)
		}
	}
	if strings.Contains(got, "resources") {
		t.Errorf("empty resources written:\n%s", got)
	}
}

func TestApplyJoinsTheFileOfItsName(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("redis", 1)})
	results, err := h.store.Apply([]byte(specYAML("web", 2)), false)
	if err != nil {
		t.Fatal(err)
	}
	if results[0].Action != ActionCreated || results[0].Path != h.path("web.yaml") {
		t.Fatalf("results %+v", results)
	}
	if got, want := h.read("web.yaml"), specYAML("redis", 1)+"---\n"+specYAML("web", 2); got != want {
		t.Fatalf("web.yaml:\n%s\nwant:\n%s", got, want)
	}
}

func TestWritesRefuseToOverwriteAConcurrentSave(t *testing.T) {
	h := newHarness(t, map[string]string{"web.yaml": specYAML("web", 1)})
	err := replaceFile(h.path("web.yaml"), []byte(specYAML("web", 9)), []byte(specYAML("web", 2)))
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("replaceFile over a changed file: %v, want ErrConflict", err)
	}
	if err := replaceFile(h.path("new.yaml"), []byte("old"), []byte("x")); !errors.Is(err, ErrConflict) {
		t.Fatalf("replaceFile over a removed file: %v, want ErrConflict", err)
	}
	if err := replaceFile(h.path("web.yaml"), nil, []byte("x")); !errors.Is(err, ErrConflict) {
		t.Fatalf("creating over a file that appeared: %v, want ErrConflict", err)
	}
	if h.read("web.yaml") != specYAML("web", 1) {
		t.Fatal("the file was overwritten")
	}
	h.assertNoTempFiles()
}

func TestApplyWritesNewFilesPrivateAndKeepsAnExistingMode(t *testing.T) {
	h := newHarness(t, map[string]string{"redis.yaml": specYAML("redis", 1)})
	if err := os.Chmod(h.path("redis.yaml"), 0o640); err != nil {
		t.Fatal(err)
	}
	// env may hold secrets: a new file is for its owner only, whatever
	// the umask.
	if _, err := h.store.Apply([]byte(specYAML("web", 2)+"  # REDIS_PASSWORD lives here\n"), false); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(h.path("web.yaml")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("new spec file: %v, mode %v; want 0600", err, info.Mode().Perm())
	}
	if _, err := h.store.Apply([]byte(specYAML("redis", 2)), false); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(h.path("redis.yaml")); err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("edited spec file: %v, mode %v; want its own 0640 kept", err, info.Mode().Perm())
	}
	h.assertNoTempFiles()
}
