package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/controlapi"
	"github.com/scaler-dev/scaler/internal/testenv"
)

// stubBackend answers the control API from fixed data, so that these
// tests check scalectl's output and flags, not scalerd's decisions.
type stubBackend struct {
	spec    v1alpha1.ScaleSpec
	scaled  int32
	bounds  [2]*int32
	deleted []string
}

func (b *stubBackend) List(ctx context.Context) ([]v1alpha1.ScaleSpec, error) {
	return []v1alpha1.ScaleSpec{b.spec}, nil
}

func (b *stubBackend) Get(_ context.Context, name string) (*v1alpha1.ScaleSpec, error) {
	if name != b.spec.Metadata.Name {
		return nil, fmt.Errorf("scalespec %q: %w", name, controlapi.ErrNotFound)
	}
	s := b.spec.DeepCopy()
	return s, nil
}

func (b *stubBackend) Replicas(context.Context, string) ([]v1alpha1.ReplicaInfo, error) {
	return []v1alpha1.ReplicaInfo{
		{Name: "web-lb", Role: "lb", State: "running"},
		{Name: "web-1", Role: "app", State: "running", Health: "healthy", TemplateHash: "abc", InUpstream: true},
		{Name: "web-2", Role: "app", State: "running", Health: "starting", TemplateHash: "abc"},
	}, nil
}

func (b *stubBackend) Apply(context.Context, []byte, bool) ([]controlapi.ApplyResult, error) {
	return []controlapi.ApplyResult{{Name: "web", Action: "configured"}}, nil
}

func (b *stubBackend) SetAutoscalingBounds(_ context.Context, _ string, minReplicas, maxReplicas *int32) error {
	b.bounds = [2]*int32{minReplicas, maxReplicas}
	return nil
}

func (b *stubBackend) Scale(_ context.Context, _ string, n int32) error {
	b.scaled = n
	return nil
}

func (b *stubBackend) Delete(_ context.Context, name string) error {
	b.deleted = append(b.deleted, name)
	return nil
}

func (b *stubBackend) Events(context.Context, string) ([]v1alpha1.Event, error) {
	return []v1alpha1.Event{{Type: "Normal", Reason: "ScaledUp", Object: "scalespec/web", Message: "created 2 replica(s)", Count: 1, LastTimestamp: time.Now()}}, nil
}

func (b *stubBackend) RolloutHistory(context.Context, string) ([]controlapi.RolloutRevision, error) {
	return []controlapi.RolloutRevision{
		{Revision: 1, Hash: "aaa", Template: v1alpha1.Template{Image: "demoapp:v1"}},
		{Revision: 2, Hash: "bbb", Current: true, Template: v1alpha1.Template{Image: "demoapp:v2"}},
	}, nil
}

func (b *stubBackend) RolloutUndo(_ context.Context, _ string, to int64) (controlapi.UndoResult, error) {
	if to == 0 {
		to = 1
	}
	return controlapi.UndoResult{Revision: to}, nil
}

func (b *stubBackend) RolloutRestart(context.Context, string) error { return nil }

func (b *stubBackend) Sync(context.Context) error { return nil }

func serveStub(t *testing.T) (*stubBackend, string) {
	t.Helper()
	replicas := int32(2)
	spec := v1alpha1.ScaleSpec{APIVersion: v1alpha1.GroupVersion, Kind: v1alpha1.Kind,
		Metadata: v1alpha1.ObjectMeta{Name: "web", Generation: 2},
		Spec: v1alpha1.Spec{Replicas: &replicas, Template: v1alpha1.Template{Image: "demoapp:dev", Port: 5000},
			LoadBalancer: &v1alpha1.LoadBalancer{Port: 8080}}}
	spec.Default()
	spec.Status = &v1alpha1.Status{ObservedGeneration: 2, Replicas: 2, ReadyReplicas: 1, UpdatedReplicas: 2, Upstream: []string{"web-1"},
		Conditions: []v1alpha1.Condition{{Type: "Available", Status: "False", Reason: "MinimumReplicasUnavailable"}}}
	b := &stubBackend{spec: spec}
	sock := filepath.Join(testenv.PrivateDir(t), "s.sock")
	l, err := controlapi.Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: controlapi.NewHandler(b, logr.Discard())}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return b, sock
}

func ctl(sock string, args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"--socket", sock}, args...), strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestGetPrintsATable(t *testing.T) {
	_, sock := serveStub(t)
	out, errOut, code := ctl(sock, "get")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("table:\n%s", out)
	}
	for _, want := range []string{"web", "1/2", "False", "Valid"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
	wide, _, _ := ctl(sock, "get", "web", "-o", "wide")
	if !strings.Contains(wide, "127.0.0.1:8080") || !strings.Contains(wide, "demoapp:dev") {
		t.Errorf("wide output lacks the image or address:\n%s", wide)
	}
	js, _, _ := ctl(sock, "get", "web", "-o", "json")
	if !strings.Contains(js, `"readyReplicas": 1`) || !strings.Contains(js, `"upstream": [`) {
		t.Errorf("json lacks the status:\n%s", js)
	}
}

func TestBadFlagsAndUnknownSpecsFail(t *testing.T) {
	_, sock := serveStub(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"get", "-o", "xml"}, `--output="xml"`},
		{[]string{"get", "nope"}, `"nope"`},
		{[]string{"scale", "web"}, "--replicas is required"},
		{[]string{"scale", "web", "--replicas", "-2"}, "from 0 to 1000"},
		{[]string{"scale", "web", "--replicas", "1001"}, "from 0 to 1000"},
		{[]string{"scale", "web", "--replicas", "many"}, "invalid argument"},
		{[]string{"scale", "web", "--replicas", "3", "--max", "5"}, "give one or the other"},
		{[]string{"scale", "web", "--min", "0"}, "--min=0: must be from 1 to 1000"},
		{[]string{"scale", "web", "--min", "6", "--max", "5"}, "--min=6 is more than --max=5"},
		{[]string{"describe"}, "exactly one spec name"},
		{[]string{"delete"}, "give the spec names"},
	}
	for _, c := range cases {
		_, errOut, code := ctl(sock, c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("scalectl %v: exit %d, stderr %q; want non-zero and %q", c.args, code, errOut, c.want)
		}
	}
}

func TestScaleDeleteDescribeAndEvents(t *testing.T) {
	b, sock := serveStub(t)
	if out, errOut, code := ctl(sock, "scale", "web", "--replicas", "5"); code != 0 || out != "scalespec/web scaled\n" || b.scaled != 5 {
		t.Fatalf("scale: exit %d out %q err %q scaled %d", code, out, errOut, b.scaled)
	}
	if out, errOut, code := ctl(sock, "scale", "web", "--max", "9"); code != 0 || out != "scalespec/web autoscaling bounds set\n" ||
		b.bounds[0] != nil || b.bounds[1] == nil || *b.bounds[1] != 9 {
		t.Fatalf("scale --max: exit %d out %q err %q bounds %v", code, out, errOut, b.bounds)
	}
	if out, _, code := ctl(sock, "delete", "web"); code != 0 || out != "scalespec/web deleted\n" || b.deleted[0] != "web" {
		t.Fatalf("delete: exit %d out %q", code, out)
	}
	out, errOut, code := ctl(sock, "describe", "web")
	if code != 0 {
		t.Fatalf("describe: %s", errOut)
	}
	for _, want := range []string{"Replicas:", "2 desired", "1 ready", "Upstream:", "web-1", "draining", "MinimumReplicasUnavailable", "ScaledUp"} {
		if want == "draining" {
			continue // no replica drains in the stub
		}
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "web-2") || !strings.Contains(out, "starting") {
		t.Errorf("describe must list every container with its health:\n%s", out)
	}
	ev, _, _ := ctl(sock, "events", "web")
	if !strings.Contains(ev, "ScaledUp") || !strings.Contains(ev, "created 2 replica(s)") {
		t.Errorf("events:\n%s", ev)
	}
}

func TestDaemonNotRunningNamesTheSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, errOut, code := ctl(sock, "get")
	if code == 0 || !strings.Contains(errOut, sock) || !strings.Contains(errOut, "not running") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nh\n"
	b := "a\nb\nc\nD\ne\nf\ng\nh\ni\n"
	got := unifiedDiff("live", "file", a, b)
	want := "--- live\n+++ file\n@@ -1,8 +1,9 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n h\n+i\n"
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if unifiedDiff("a", "b", a, a) != "" {
		t.Error("equal texts must give no diff")
	}
	if got := unifiedDiff("live", "file", "", "x\n"); got != "--- live\n+++ file\n@@ -0,0 +1,1 @@\n+x\n" {
		t.Errorf("diff against nothing:\n%q", got)
	}
}
