package controllers

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/nginx"
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
	// agent selects the reload agent's behaviour: agentWorks (the
	// default), agentMissing (OpenSession fails) or agentCannotApply
	// (it runs but answers every apply with a failure of its own).
	agent       int
	sessions    int // sessions opened
	execReloads int // reloads done by exec, not by the agent
}

const (
	agentWorks = iota
	agentMissing
	agentCannotApply
)

// OpenSession runs an in-memory reload agent that speaks nginx's agent
// protocol and records "reload" like the exec path does.
func (f *fakeRuntime) OpenSession(_ context.Context, id string, cmd []string) (Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.agent == agentMissing {
		return nil, fmt.Errorf("exec: /bin/sh: not found")
	}
	if _, ok := f.containers[id]; !ok {
		return nil, fmt.Errorf("container %s: %w", id, ErrNotFound)
	}
	f.sessions++
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	go f.serveAgent(id, bufio.NewReader(inR), outW)
	return &fakeSession{in: inW, out: outR}, nil
}

func (f *fakeRuntime) serveAgent(id string, in *bufio.Reader, out *io.PipeWriter) {
	reply := func(code int, text string) { fmt.Fprintf(out, "scaler-reply %d %s\n", code, text) }
	fmt.Fprintln(out, nginx.AgentReady)
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			out.CloseWithError(err)
			return
		}
		req, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch req {
		case "apply":
			n, _ := strconv.Atoi(arg)
			var body []byte
			for range n {
				line, err := in.ReadBytes('\n')
				if err != nil {
					out.CloseWithError(err)
					return
				}
				body = append(body, line...)
			}
			f.mu.Lock()
			switch {
			case f.agent == agentCannotApply:
				f.mu.Unlock()
				reply(2, "head: not found")
				continue
			case f.rejectConfig:
				f.record("reload rejected")
				f.mu.Unlock()
				reply(nginx.RejectedCode, "nginx: [emerg] unknown directive")
				continue
			}
			f.files[id+":"+configPathForTest] = body
			f.record("reload")
			f.mu.Unlock()
			reply(nginx.ReplyOK, "reloaded")
		case "draining":
			f.mu.Lock()
			n := f.shuttingDown
			f.mu.Unlock()
			reply(nginx.ReplyOK, strconv.Itoa(n))
		default:
			reply(2, "unknown request "+req)
		}
	}
}

type fakeSession struct {
	in  *io.PipeWriter
	out *io.PipeReader
}

func (s *fakeSession) Read(p []byte) (int, error)  { return s.out.Read(p) }
func (s *fakeSession) Write(p []byte) (int, error) { return s.in.Write(p) }
func (s *fakeSession) Close() error {
	s.in.Close()
	s.out.Close()
	return nil
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
	if script == "/demoapp healthcheck" {
		// A start probe (testSpec's health command): the fake's replicas
		// turn healthy only when a test says so.
		return ExecResult{ExitCode: 1, Output: "fake: not ready"}, nil
	}
	if strings.Contains(script, "shutting dow") {
		return ExecResult{Output: fmt.Sprintf("%d\n", f.shuttingDown)}, nil
	}
	if f.rejectConfig {
		f.record("reload rejected")
		return ExecResult{ExitCode: 3, Output: "nginx: [emerg] unknown directive"}, nil
	}
	// The reload script moves the candidate into place.
	if cand, ok := f.files[id+":"+candidatePathForTest]; ok {
		f.files[id+":"+configPathForTest] = cand
		delete(f.files, id+":"+candidatePathForTest)
	}
	f.execReloads++
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
