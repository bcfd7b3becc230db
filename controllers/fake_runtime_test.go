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
	execPeers   int // peers updates done by exec, not by the agent
	// probes are LastProbe's answers, by container name.
	probes map[string]ProbeResult
	// lastProbes counts LastProbe calls.
	lastProbes int

	// missingImages are images ImageExists and CreateContainer do not find.
	missingImages map[string]bool
	// rejectingImages are images whose nginx -t fails any config.
	rejectingImages map[string]bool
	// failStart makes starting a container of that name fail.
	failStart map[string]error
	// lbLog records, in order, every call on a load balancer or check
	// container: create, start, stop, remove, rename, check.
	lbLog []string
	// imageLookups counts ImageExists calls.
	imageLookups int
	// createGate, if set, holds every CreateContainer until it is closed
	// or receives, as a slow Engine would; slowCreate holds only the
	// creates of the names it maps.
	createGate chan struct{}
	slowCreate map[string]chan struct{}
	// createCalls counts CreateContainer calls of replicas, failed ones
	// included.
	createCalls int
	// loaded, if set for a load balancer's ID, is the config its nginx
	// says it loaded (verify), as after a reload by hand; otherwise it is
	// the config file. unreachable maps member names to the error their
	// connect from the load balancer gets.
	loaded      map[string][]byte
	unreachable map[string]string
}

// verifyLine answers nginx's verify request (nginx.ParseVerify) from the
// files of load balancer id. The caller holds f.mu.
func (f *fakeRuntime) verifyLine(id string) string {
	cfg := f.files[id+":"+configPathForTest]
	loaded, ok := f.loaded[id]
	if !ok {
		loaded = cfg
	}
	peers := f.files[id+":"+peersPathForTest]
	var members, connect []string
	for _, line := range strings.Split(string(peers), "\n") {
		name, addr, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		members = append(members, name+"@"+addr)
		res := "ok"
		if e, bad := f.unreachable[name]; bad {
			res = strings.ReplaceAll(e, " ", "_")
		}
		connect = append(connect, name+":"+res)
	}
	return fmt.Sprintf("config=%s file=%s peersfile=%s members=%s connect=%s", nginx.Checksum(loaded), nginx.Checksum(cfg),
		nginx.Checksum(peers), strings.Join(members, ","), strings.Join(connect, ","))
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
		fields := strings.Fields(line)
		req := ""
		if len(fields) > 0 {
			req = fields[0]
		}
		readLines := func(arg string) ([]byte, bool) {
			n, _ := strconv.Atoi(arg)
			var body []byte
			for range n {
				line, err := in.ReadBytes('\n')
				if err != nil {
					out.CloseWithError(err)
					return nil, false
				}
				body = append(body, line...)
			}
			return body, true
		}
		switch req {
		case "peers":
			body, ok := readLines(fields[1])
			if !ok {
				return
			}
			f.mu.Lock()
			f.files[id+":"+peersPathForTest] = body
			f.record("update peers")
			f.mu.Unlock()
			reply(nginx.ReplyOK, "ok")
		case "apply":
			body, ok := readLines(fields[1])
			if !ok {
				return
			}
			var peers []byte
			if len(fields) > 2 {
				if peers, ok = readLines(fields[2]); !ok {
					return
				}
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
			if peers != nil {
				f.files[id+":"+peersPathForTest] = peers
			}
			f.record("reload")
			f.mu.Unlock()
			reply(nginx.ReplyOK, "reloaded")
		case "verify":
			f.mu.Lock()
			line := f.verifyLine(id)
			f.mu.Unlock()
			reply(nginx.ReplyOK, line)
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
	return &fakeRuntime{containers: map[string]*Container{}, specs: map[string]ContainerSpec{}, files: map[string][]byte{},
		missingImages: map[string]bool{}, rejectingImages: map[string]bool{}, failStart: map[string]error{}}
}

// lbRecord logs a call on a load balancer or check container.
func (f *fakeRuntime) lbRecord(c *Container, verb string) {
	switch role := c.Labels[v1alpha1.LabelRole]; role {
	case v1alpha1.RoleLB:
		f.lbLog = append(f.lbLog, verb+" "+c.Name)
	case roleLBCheck:
		f.lbLog = append(f.lbLog, verb+" check")
	}
}

func (f *fakeRuntime) takeLBLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.lbLog
	f.lbLog = nil
	return out
}

// addForeign adds a container scalerd does not own (no labels), as a user
// would with docker run --name.
func (f *fakeRuntime) addForeign(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	id := fmt.Sprintf("c%d", f.nextID)
	f.containers[id] = &Container{ID: id, Name: name, Image: "busybox", Labels: map[string]string{}, State: StateRunning}
}

func (f *fakeRuntime) ImageExists(_ context.Context, ref string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.imageLookups++
	return !f.missingImages[ref], nil
}

func (f *fakeRuntime) RenameContainer(_ context.Context, id, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return ErrNotFound
	}
	for _, o := range f.containers {
		if o.Name == name && o.ID != id {
			return fmt.Errorf("name %s: %w", name, ErrConflict)
		}
	}
	f.lbLog = append(f.lbLog, "rename "+c.Name+" to "+name)
	c.Name = name
	return nil
}

// lbs lists the load balancer containers as "name:state", sorted.
func (f *fakeRuntime) lbs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.containers {
		if c.Labels[v1alpha1.LabelRole] == v1alpha1.RoleLB || c.Labels[v1alpha1.LabelRole] == roleLBCheck {
			out = append(out, c.Name+":"+c.State+":"+c.Image)
		}
	}
	sortStrings(out)
	return out
}

func (f *fakeRuntime) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeRuntime) ListManaged(context.Context) ([]Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Container
	for _, c := range f.containers {
		if c.Labels[v1alpha1.LabelManagedBy] != v1alpha1.ManagedByValue {
			continue // a container someone else runs
		}
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

func (f *fakeRuntime) CreateContainer(ctx context.Context, cs ContainerSpec) (string, error) {
	f.mu.Lock()
	gate, slow := f.createGate, f.slowCreate[cs.Name]
	if cs.Labels[v1alpha1.LabelRole] == v1alpha1.RoleApp {
		f.createCalls++
	}
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if slow != nil {
		select {
		case <-slow:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if cs.Name != "" && c.Name == cs.Name {
			return "", fmt.Errorf("Conflict. The container name \"/%s\" is already in use by container %q: %w", cs.Name, c.ID, ErrConflict)
		}
	}
	if f.missingImages[cs.Image] {
		return "", fmt.Errorf("create container %s: image %q not found: %w: %w", cs.Name, cs.Image, ErrImageNotFound, ErrNotFound)
	}
	f.nextID++
	id := fmt.Sprintf("c%d", f.nextID)
	c := &Container{ID: id, Name: cs.Name, Image: cs.Image, Labels: cs.Labels, State: StateCreated,
		IPs: map[string]string{cs.Network: fmt.Sprintf("10.%d.%d.%d", f.nextID>>16&255, f.nextID>>8&255, f.nextID&255)}}
	f.containers[id] = c
	f.specs[id] = cs
	if cs.Labels[v1alpha1.LabelRole] != roleLBCheck {
		f.record("create %s", cs.Name)
	}
	f.lbRecord(c, "create")
	return id, nil
}

func (f *fakeRuntime) StartContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.containers[id]
	if !ok {
		return ErrNotFound
	}
	if err := f.failStart[c.Name]; err != nil {
		f.lbRecord(c, "start (failed)")
		return err
	}
	// A published port is the Engine's to hand out once: a second
	// container on it cannot start while the first runs.
	if p := f.specs[id].Publish; p != nil {
		for oid, o := range f.containers {
			if op := f.specs[oid].Publish; oid != id && o.State == StateRunning && op != nil && op.HostPort == p.HostPort {
				f.lbRecord(c, "start (port taken)")
				return fmt.Errorf("Bind for %s:%d failed: port is already allocated", p.HostIP, p.HostPort)
			}
		}
	}
	f.lbRecord(c, "start")
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
	if c.State == StateRunning {
		f.lbRecord(c, "stop")
	}
	c.State = StateExited
	return nil
}

func (f *fakeRuntime) RemoveContainer(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.containers[id]; ok {
		if c.Labels[v1alpha1.LabelRole] != roleLBCheck {
			f.record("remove %s", c.Name)
		}
		f.lbRecord(c, "remove")
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
	if script == strings.Join(nginx.ReadConfigCommand(), " ") {
		cfg, ok := f.files[id+":"+configPathForTest]
		if !ok {
			return ExecResult{ExitCode: 1, Output: "cat: no such file"}, nil
		}
		return ExecResult{Output: string(cfg) + runningSeparator + string(f.files[id+":"+peersPathForTest])}, nil
	}
	if len(cmd) == 5 && cmd[0] == "bash" && strings.Contains(cmd[2], nginx.PeersReloadPath) {
		// nginx.PeersCommand: the peers are its last argument.
		f.files[id+":"+peersPathForTest] = []byte(cmd[4])
		f.execPeers++
		f.record("update peers")
		return ExecResult{Output: "ok"}, nil
	}
	if script == strings.Join(nginx.TestCommand(configPathForTest), " ") {
		c := f.containers[id]
		if c == nil || c.State != StateRunning {
			return ExecResult{}, fmt.Errorf("container %s is not running: %w", id, ErrConflict)
		}
		f.lbRecord(c, "nginx -t in")
		if f.rejectingImages[c.Image] {
			return ExecResult{ExitCode: 1, Output: "nginx: [emerg] unknown directive \"zone\" in /etc/nginx/scaler/nginx.conf:42"}, nil
		}
		return ExecResult{}, nil
	}
	if script == strings.Join(lbListeningCommand(), " ") {
		if c := f.containers[id]; c == nil || c.State != StateRunning {
			return ExecResult{}, fmt.Errorf("container %s is not running: %w", id, ErrConflict)
		}
		return ExecResult{}, nil
	}
	if script == strings.Join(nginx.VerifyCommand(), " ") {
		return ExecResult{Output: f.verifyLine(id) + "\n"}, nil
	}
	if strings.Contains(script, "shutting dow") {
		return ExecResult{Output: fmt.Sprintf("%d\n", f.shuttingDown)}, nil
	}
	if f.rejectConfig {
		f.record("reload rejected")
		return ExecResult{ExitCode: 3, Output: "nginx: [emerg] unknown directive"}, nil
	}
	// The reload script moves the candidate into place and writes the
	// peers, its last argument.
	if cand, ok := f.files[id+":"+candidatePathForTest]; ok {
		f.files[id+":"+configPathForTest] = cand
		delete(f.files, id+":"+candidatePathForTest)
	}
	if len(cmd) == 5 && cmd[0] == "/bin/sh" {
		f.files[id+":"+peersPathForTest] = []byte(cmd[4])
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

func (f *fakeRuntime) LastProbe(_ context.Context, id string) (ProbeResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastProbes++
	c, ok := f.containers[id]
	if !ok {
		return ProbeResult{}, ErrNotFound
	}
	p, ok := f.probes[c.Name]
	if !ok {
		return ProbeResult{}, ErrNotFound
	}
	return p, nil
}

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

// runningSeparator is what nginx.ReadConfigCommand prints between the
// config and the peers file.
const runningSeparator = nginx.PeersSeparator + "\n"

// lbConfig returns the config nginx would run, followed by its members
// as "server ADDR; # NAME" lines, as the config listed them before the
// members moved to the peers file.
func (f *fakeRuntime) lbConfig() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, c := range f.containers {
		if c.Labels[v1alpha1.LabelRole] == v1alpha1.RoleLB {
			// The candidate is moved into place by the reload script.
			cfg := string(f.files[id+":"+configPathForTest])
			if cand, ok := f.files[id+":"+candidatePathForTest]; ok && !f.rejectConfig {
				cfg = string(cand)
			}
			for name, addr := range nginx.RunningUpstream([]byte("\n" + runningSeparator + string(f.files[id+":"+peersPathForTest]))) {
				cfg += "server " + addr + "; # " + name + "\n"
			}
			return cfg
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
