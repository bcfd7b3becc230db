package controlapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-logr/logr"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/testenv"
)

// memBackend is an in-memory Backend for testing the wire, not decisions.
type memBackend struct {
	replicas map[string]int32
	applied  []byte
	bounds   [2]*int32
}

func (m *memBackend) List(context.Context) ([]v1alpha1.ScaleSpec, error) {
	var out []v1alpha1.ScaleSpec
	for name := range m.replicas {
		s, _ := m.Get(context.Background(), name)
		out = append(out, *s)
	}
	return out, nil
}

func (m *memBackend) Get(_ context.Context, name string) (*v1alpha1.ScaleSpec, error) {
	n, ok := m.replicas[name]
	if !ok {
		return nil, fmt.Errorf("scalespec %q: %w", name, ErrNotFound)
	}
	return &v1alpha1.ScaleSpec{Metadata: v1alpha1.ObjectMeta{Name: name}, Spec: v1alpha1.Spec{Replicas: &n}}, nil
}

func (m *memBackend) Replicas(context.Context, string) ([]v1alpha1.ReplicaInfo, error) {
	return []v1alpha1.ReplicaInfo{{Name: "web-1", InUpstream: true}}, nil
}

func (m *memBackend) Apply(_ context.Context, docs []byte, dryRun bool) ([]ApplyResult, error) {
	if strings.Contains(string(docs), "bad") {
		return nil, fmt.Errorf("%w: spec.replicas: must be >= 0", ErrInvalid)
	}
	if !dryRun {
		m.applied = docs
	}
	return []ApplyResult{{Name: "web", Action: "created"}}, nil
}

func (m *memBackend) SetAutoscalingBounds(_ context.Context, name string, minReplicas, maxReplicas *int32) error {
	if _, ok := m.replicas[name]; !ok {
		return fmt.Errorf("scalespec %q: %w", name, ErrNotFound)
	}
	m.bounds = [2]*int32{minReplicas, maxReplicas}
	return nil
}

func (m *memBackend) Scale(_ context.Context, name string, n int32) error {
	if _, ok := m.replicas[name]; !ok {
		return fmt.Errorf("scalespec %q: %w", name, ErrNotFound)
	}
	m.replicas[name] = n
	return nil
}

func (m *memBackend) Delete(_ context.Context, name string) error {
	delete(m.replicas, name)
	return nil
}

func (m *memBackend) Events(context.Context, string) ([]v1alpha1.Event, error) {
	return []v1alpha1.Event{{Reason: "ScaledUp"}}, nil
}

func (m *memBackend) RolloutHistory(context.Context, string) ([]RolloutRevision, error) {
	return []RolloutRevision{{Revision: 1}, {Revision: 2, Current: true}}, nil
}

func (m *memBackend) RolloutUndo(_ context.Context, _ string, to int64) (UndoResult, error) {
	if to == 9 {
		return UndoResult{}, fmt.Errorf("%w: no revision 9", ErrInvalid)
	}
	return UndoResult{Revision: 1}, nil
}

func (m *memBackend) RolloutRestart(context.Context, string) error { return nil }

func (m *memBackend) Sync(context.Context) error { return nil }

func TestRolloutCalls(t *testing.T) {
	sock := filepath.Join(testenv.PrivateDir(t), "s.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: NewHandler(&memBackend{}, logr.Discard())}
	go srv.Serve(l)
	defer srv.Close()
	c := NewClient(sock)
	ctx := context.Background()
	if revs, err := c.RolloutHistory(ctx, "web"); err != nil || len(revs) != 2 || !revs[1].Current {
		t.Errorf("history = %+v, %v", revs, err)
	}
	if res, err := c.RolloutUndo(ctx, "web", 0); err != nil || res.Revision != 1 {
		t.Errorf("undo = %+v, %v", res, err)
	}
	if _, err := c.RolloutUndo(ctx, "web", 9); !errors.Is(err, ErrInvalid) {
		t.Errorf("undo to a missing revision: %v", err)
	}
	if err := c.RolloutRestart(ctx, "web"); err != nil {
		t.Error(err)
	}
}

func TestClientServerOverUnixSocket(t *testing.T) {
	sock := filepath.Join(testenv.PrivateDir(t), "s.sock")
	l, err := Listen(sock)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode = %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	be := &memBackend{replicas: map[string]int32{"web": 3}}
	srv := &http.Server{Handler: NewHandler(be, logr.Discard())}
	go srv.Serve(l)
	defer srv.Close()

	if _, err := Listen(sock); err == nil || !strings.Contains(err.Error(), "another scalerd") {
		t.Errorf("a second daemon on the same socket must be refused, got %v", err)
	}

	ctx := context.Background()
	c := NewClient(sock)
	if err := c.Scale(ctx, "web", 5); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "web")
	if err != nil || *got.Spec.Replicas != 5 {
		t.Fatalf("Get after Scale = %+v, %v", got, err)
	}
	if _, err := c.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing spec: want ErrNotFound naming it, got %v", err)
	}
	if _, err := c.Apply(ctx, []byte("bad"), false); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "spec.replicas") {
		t.Errorf("invalid apply: want ErrInvalid with the field path, got %v", err)
	}
	if res, err := c.Apply(ctx, []byte("good"), true); err != nil || res[0].Action != "created" || be.applied != nil {
		t.Errorf("dry-run apply = %+v, %v; applied %q", res, err, be.applied)
	}
	if reps, err := c.Replicas(ctx, "web"); err != nil || len(reps) != 1 || !reps[0].InUpstream {
		t.Errorf("Replicas = %+v, %v", reps, err)
	}
	if ev, err := c.Events(ctx, "web"); err != nil || ev[0].Reason != "ScaledUp" {
		t.Errorf("Events = %+v, %v", ev, err)
	}
	if err := c.Delete(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	if list, err := c.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("List after Delete = %+v, %v", list, err)
	}
}

func TestClientWithoutDaemonNamesTheSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "absent.sock")
	_, err := NewClient(sock).List(context.Background())
	if !errors.Is(err, ErrDaemonNotRunning) || !strings.Contains(err.Error(), sock) {
		t.Fatalf("want ErrDaemonNotRunning naming %s, got %v", sock, err)
	}
}
