package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// fakeRuntime is an in-memory engine for testing the controller's
// decisions. It records the calls that change something.
type fakeRuntime struct {
	mu         sync.Mutex
	containers map[string]*Container // by ID
	specs      map[string]ContainerSpec
	files      map[string][]byte // "id:path"
	nextID     int
	calls      []string
	// rejectConfig makes the reload script fail as `nginx -t` would.
	rejectConfig bool
	// shuttingDown is what the worker count reports.
	shuttingDown int
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{containers: map[string]*Container{}, specs: map[string]ContainerSpec{}, files: map[string][]byte{}}
}

func (f *fakeRuntime) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeRuntime) ListManaged(context.Context) ([]Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Container
	for _, c := range f.containers {
		cp := *c
		out = append(out, cp)
	}
	return out, nil
}

func (f *fakeRuntime) EnsureNetwork(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("network %s", name)
	return nil
}

func (f *fakeRuntime) CreateContainer(_ context.Context, cs ContainerSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.Name == cs.Name {
			return "", fmt.Errorf("name %s: %w", cs.Name, ErrConflict)
		}
	}
	f.nextID++
	id := fmt.Sprintf("c%d", f.nextID)
	f.containers[id] = &Container{ID: id, Name: cs.Name, Image: cs.Image, Labels: cs.Labels, State: StateCreated,
		IPs: map[string]string{cs.Network: fmt.Sprintf("10.0.0.%d", f.nextID)}}
	f.specs[id] = cs
	f.record("create %s", cs.Name)
	return id, nil
}

func (f *fakeRuntime) StartContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return ErrNotFound
	}
	c.State = StateRunning
	if f.specs[id].Health != nil {
		c.Health = HealthStarting
	}
	return nil
}

func (f *fakeRuntime) StopContainer(_ context.Context, id string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return ErrNotFound
	}
	c.State = StateExited
	return nil
}

func (f *fakeRuntime) RemoveContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.containers[id]; ok {
		f.record("remove %s", c.Name)
	}
	delete(f.containers, id)
	return nil
}

func (f *fakeRuntime) CopyFile(_ context.Context, id, path string, content []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[id+":"+path] = content
	return nil
}

func (f *fakeRuntime) Exec(_ context.Context, id string, cmd []string) (ExecResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	script := strings.Join(cmd, " ")
	if strings.Contains(script, "shutting dow") {
		return ExecResult{Output: fmt.Sprintf("%d\n", f.shuttingDown)}, nil
	}
	if f.rejectConfig {
		f.record("reload rejected")
		return ExecResult{ExitCode: 3, Output: "nginx: [emerg] unknown directive"}, nil
	}
	f.record("reload")
	return ExecResult{}, nil
}

func (f *fakeRuntime) Events(ctx context.Context) (<-chan Event, <-chan error) {
	errs := make(chan error, 1)
	go func() { <-ctx.Done(); errs <- nil }()
	return make(chan Event), errs
}

func (f *fakeRuntime) Stats(context.Context, string) (Stats, error) { return Stats{}, nil }

func (f *fakeRuntime) Capabilities() Capabilities { return Capabilities{APIVersion: "1.41"} }

// set changes the observed state of the named container.
func (f *fakeRuntime) set(name, state, health string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.Name == name {
			c.State, c.Health = state, health
			return
		}
	}
	panic("no container " + name)
}

// names lists containers of a role, sorted, as "name:state".
func (f *fakeRuntime) names(role string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.containers {
		if c.Labels[v1alpha1.LabelRole] == role {
			out = append(out, c.Name)
		}
	}
	sortStrings(out)
	return out
}

// lbConfig returns the config nginx would run.
func (f *fakeRuntime) lbConfig() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, c := range f.containers {
		if c.Labels[v1alpha1.LabelRole] == v1alpha1.RoleLB {
			// The candidate is moved into place by the reload script.
			if cand, ok := f.files[id+":"+candidatePathForTest]; ok && !f.rejectConfig {
				return string(cand)
			}
			return string(f.files[id+":"+configPathForTest])
		}
	}
	return ""
}

func (f *fakeRuntime) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.calls
	f.calls = nil
	return out
}

// memSpecs is an in-memory SpecSource.
type memSpecs struct {
	mu    sync.Mutex
	specs map[string]*v1alpha1.ScaleSpec
	errs  map[string]error
}

func (m *memSpecs) Get(name string) (*v1alpha1.ScaleSpec, error, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.specs[name]
	if !ok {
		return nil, m.errs[name], false
	}
	return s.DeepCopy(), m.errs[name], true
}

func (m *memSpecs) Defined(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.specs[name]
	return ok || m.errs[name] != nil
}

func (m *memSpecs) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for n := range m.specs {
		out = append(out, n)
	}
	return out
}
