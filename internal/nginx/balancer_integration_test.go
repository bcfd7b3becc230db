package nginx

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
	"github.com/scaler-dev/scaler/internal/testenv"
)

// backendConf is a small HTTP server run by the load balancer's own image
// (nginx with its lua module): it answers any method on any path with its
// host name, /slow?ms=N after N ms, and logs "scaler-test got METHOD URI"
// to stderr when a request arrives, so that a test sees where a request
// is before it is answered.
const backendConf = `load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
worker_processes 1;
pid /run/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 80;
        location = /slow {
            content_by_lua_block {
                ngx.log(ngx.WARN, "scaler-test got ", ngx.req.get_method(), " ", ngx.var.request_uri)
                ngx.sleep((tonumber(ngx.var.arg_ms) or 0) / 1000)
                ngx.say(ngx.var.hostname)
            }
        }
        location / {
            return 200 "$hostname\n";
        }
    }
}
`

// balancerEnv is a load balancer in front of backends on one network,
// with the reload agent running in it as scalerd runs it.
type balancerEnv struct {
	t        *testing.T
	lb       string
	base     string
	backends []Upstream
	names    map[string]string // address -> container
	agent    *testAgent
}

// newBalancerEnv starts n backends and a load balancer (hardened as
// scalerd creates it) running cfg with no members, and its reload agent.
func newBalancerEnv(t *testing.T, n int, cfg Config) *balancerEnv {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the Docker Engine and make images")
	}
	testenv.RequireDocker(t)
	testenv.RequireImages(t, nginxImage)

	netName := testenv.Name(t, "lua-net")
	lb := testenv.Name(t, "lua-lb")
	label := testenv.LabelTest + "=" + t.Name()
	var backends []string
	for range n {
		backends = append(backends, testenv.Name(t, "lua-app"))
	}
	testenv.Cleanup(t, append(append([]string{lb}, backends...), netName)...)
	testenv.Docker(t, "network", "create", "--label", label, netName)

	e := &balancerEnv{t: t, lb: lb, names: map[string]string{}}
	for _, b := range backends {
		testenv.Docker(t, "create", "--name", b, "--label", label, "--network", netName, "--hostname", b, nginxImage, "nginx", "-g", "daemon off;", "-c", "/etc/nginx/backend.conf")
		copyInto(t, b, "/etc/nginx/backend.conf", []byte(backendConf))
		testenv.Docker(t, "start", b)
		ip := testenv.Docker(t, "inspect", "-f", fmt.Sprintf("{{(index .NetworkSettings.Networks %q).IPAddress}}", netName), b)
		addr := ip + ":80"
		e.backends = append(e.backends, Upstream{Name: b, Addr: addr})
		e.names[addr] = b
	}

	port := testenv.FreePort(t)
	args := []string{"create", "--name", lb, "--label", label, "--network", netName,
		"-p", fmt.Sprintf("127.0.0.1:%d:80", port), "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true", "--stop-signal", "SIGQUIT"}
	for _, c := range Capabilities() {
		args = append(args, "--cap-add", c)
	}
	testenv.Docker(t, append(append(args, nginxImage), StartCommand()...)...)
	copyInto(t, lb, ConfigPath, mustRender(t, cfg))
	testenv.Docker(t, "start", lb)
	e.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	e.waitServing()
	e.agent = startAgent(t, lb)
	return e
}

func (e *balancerEnv) waitServing() {
	e.t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	testenv.WaitFor(e.t, 30*time.Second, "the load balancer's /healthz", func() (bool, error) {
		resp, err := get(client, e.base+"/healthz", nil)
		return err == nil && resp.status == http.StatusOK, err
	})
}

// setPeers makes the running nginx use members, through the agent.
func (e *balancerEnv) setPeers(members ...Upstream) {
	e.t.Helper()
	peers, err := RenderPeers(Config{SpecName: "web", Algorithm: v1alpha1.AlgorithmRoundRobin, ListenPort: 80, Upstreams: members})
	if err != nil {
		e.t.Fatal(err)
	}
	if code, text := e.agent.call(PeersRequest(peers)); code != ReplyOK {
		e.t.Fatalf("peers request: code %d %s", code, text)
	}
}

// backendLog is what a backend logged (the requests that reached it).
func (e *balancerEnv) backendLog(name string) string {
	e.t.Helper()
	// nginx logs to stderr, which testenv.Docker leaves out.
	out, err := exec.Command("docker", "logs", name).CombinedOutput()
	if err != nil {
		e.t.Fatalf("docker logs %s: %v: %s", name, err, out)
	}
	return string(out)
}

// testAgent is the reload agent, fed on stdin as scalerd feeds it
// (docker exec -i stands in for the Engine's attach).
type testAgent struct {
	t       *testing.T
	stdin   io.WriteCloser
	replies *bufio.Reader
}

func startAgent(t *testing.T, lb string) *testAgent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "docker", append([]string{"exec", "-i", lb}, AgentCommand()...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cancel(); _ = cmd.Wait() })
	a := &testAgent{t: t, stdin: stdin, replies: bufio.NewReader(stdout)}
	if got := strings.TrimSpace(a.readLine()); got != AgentReady {
		t.Fatalf("agent's first line %q, want %q", got, AgentReady)
	}
	return a
}

func (a *testAgent) readLine() string {
	a.t.Helper()
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		line, err := a.replies.ReadString('\n')
		done <- result{line, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			a.t.Fatalf("reading the agent: %v", r.err)
		}
		return r.line
	case <-time.After(2 * time.Minute):
		a.t.Fatal("the agent did not answer in 2 minutes")
		return ""
	}
}

func (a *testAgent) call(req []byte) (int, string) {
	a.t.Helper()
	if _, err := a.stdin.Write(req); err != nil {
		a.t.Fatal(err)
	}
	code, text, err := ParseReply(a.readLine())
	if err != nil {
		a.t.Fatal(err)
	}
	return code, text
}

// spread sends n requests, one after the other on one keep-alive
// connection, and counts who answered each by X-Upstream-Server.
func spread(t *testing.T, base string, n int) map[string]int {
	t.Helper()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	got := map[string]int{}
	for range n {
		resp, err := get(client, base+"/", nil)
		if err != nil || resp.status != http.StatusOK {
			t.Fatalf("GET /: %d %v", resp.status, err)
		}
		got[resp.header.Get("X-Upstream-Server")]++
	}
	return got
}

// TestLuaBalancerAlgorithms: each algorithm spreads as nginx's upstream
// directive of the same name did.
func TestLuaBalancerAlgorithms(t *testing.T) {
	t.Parallel()
	cfg := Config{SpecName: "web", Algorithm: v1alpha1.AlgorithmRoundRobin, MaxFails: 1, ListenPort: 80, Keepalive: 8}
	e := newBalancerEnv(t, 3, cfg)
	e.setPeers(e.backends...)

	t.Log("round_robin: in turn")
	got := spread(t, e.base, 60)
	for _, b := range e.backends {
		// One connection is one worker, whose turn goes round exactly.
		if got[b.Addr] != 20 {
			t.Errorf("round_robin: %v, want 20 each", got)
			break
		}
	}

	apply := func(alg string) {
		t.Helper()
		c := cfg
		c.Algorithm = alg
		if code, text := e.agent.call(ApplyRequest(mustRender(t, c), nil)); code != ReplyOK {
			t.Fatalf("apply %s: code %d %s", alg, code, text)
		}
		// Until the new workers serve, the old ones may answer.
		testenv.WaitFor(t, 20*time.Second, "the reloaded config", func() (bool, error) {
			conf, _ := dockerExec(t, e.lb, "cat", ConfigPath)
			children, settled := masterChildrenSettled(t, e.lb)
			return settled && strings.Contains(conf, `algorithm = "`+alg+`"`), fmt.Errorf("workers %s", children)
		})
	}

	t.Log("random: every member gets a share")
	apply(v1alpha1.AlgorithmRandom)
	got = spread(t, e.base, 90)
	for _, b := range e.backends {
		// Binomial(90, 1/3): fewer than 10 has a probability below 1e-5.
		if got[b.Addr] < 10 {
			t.Errorf("random: %v, want every member well represented", got)
			break
		}
	}

	t.Log("ip_hash: one client address, one member")
	apply(v1alpha1.AlgorithmIPHash)
	got = spread(t, e.base, 30)
	if len(got) != 1 {
		t.Errorf("ip_hash: %v, want every request on one member", got)
	}

	t.Log("least_conn: a member busy with a slow request gets no other")
	apply(v1alpha1.AlgorithmLeastConn)
	client := &http.Client{Timeout: time.Minute}
	slow := inFlight(client, e.base+"/slow?ms=8000")
	var busy string
	testenv.WaitFor(t, 20*time.Second, "the slow request at a member", func() (bool, error) {
		for _, b := range e.backends {
			if strings.Contains(e.backendLog(b.Name), "scaler-test got GET /slow?ms=8000") {
				busy = b.Addr
				return true, nil
			}
		}
		return false, nil
	})
	got = spread(t, e.base, 30)
	if r := <-slow; r.err != nil || r.status != http.StatusOK || r.header.Get("X-Upstream-Server") != busy {
		t.Fatalf("the slow request: %d %v, served by %q, logged by %s", r.status, r.err, r.header.Get("X-Upstream-Server"), busy)
	}
	if got[busy] != 0 || len(got) != 2 {
		t.Errorf("least_conn: %v while %s was busy; want the other two only", got, busy)
	}
}

// TestLuaBalancerMembershipChangesWithoutReload: 100 membership changes
// under a keep-alive load of GETs and POSTs from a client that never
// resends: nothing fails, nothing is resent, and nginx's workers are the
// same processes after as before (no reload).
func TestLuaBalancerMembershipChangesWithoutReload(t *testing.T) {
	t.Parallel()
	cfg := Config{SpecName: "web", Algorithm: v1alpha1.AlgorithmLeastConn, MaxFails: 1, ListenPort: 80, Keepalive: 32, DrainTimeout: 10 * time.Second}
	e := newBalancerEnv(t, 3, cfg)
	two, three := e.backends[:2], e.backends
	e.setPeers(two...)
	workers := masterChildren(t, e.lb)

	stop := mixedLoad(e.base)
	for i := range 100 {
		if i%2 == 0 {
			e.setPeers(three...)
		} else {
			e.setPeers(two...)
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := stop()
	t.Logf("%d requests (%d POSTs, %d slow) across 100 membership changes: %d failed, %d resent; per member %d/%d/%d",
		got.requests, got.posts, got.slow, got.failed, got.resent, got.seen[three[0].Addr], got.seen[three[1].Addr], got.seen[three[2].Addr])
	if got.failed != 0 || got.resent != 0 {
		t.Errorf("%d failed, %d resent, want 0 and 0; first failures: %v", got.failed, got.resent, got.failures)
	}
	if got.requests < 200 || got.seen[three[2].Addr] == 0 {
		t.Errorf("the load did not cover the changes: %d requests, %d on the member that came and went", got.requests, got.seen[three[2].Addr])
	}
	if after := masterChildren(t, e.lb); after != workers {
		t.Errorf("nginx's workers changed from %q to %q: a membership change reloaded", workers, after)
	}

	t.Log("a removed member keeps its request in flight, and draining counts it until it ends")
	e.setPeers(three[2])
	client := &http.Client{Timeout: time.Minute}
	slow := inFlight(client, e.base+"/slow?ms=6000")
	testenv.WaitFor(t, 20*time.Second, "the slow request at the member", func() (bool, error) {
		return strings.Contains(e.backendLog(three[2].Name), "scaler-test got GET /slow?ms=6000"), nil
	})
	e.setPeers(two...)
	code, text := e.agent.call(DrainingRequest())
	if n, err := ParseCount(text); code != ReplyOK || err != nil || n < 1 {
		t.Errorf("draining with a request in flight to a removed member: code %d %q, want 1 or more", code, text)
	}
	for range 10 {
		resp, err := get(client, e.base+"/", nil)
		if err != nil || resp.status != http.StatusOK || resp.header.Get("X-Upstream-Server") == three[2].Addr {
			t.Errorf("after the removal: %d %v from %s", resp.status, err, resp.header.Get("X-Upstream-Server"))
		}
	}
	if r := <-slow; r.err != nil || r.status != http.StatusOK {
		t.Errorf("the request in flight to the removed member: %d %v", r.status, r.err)
	}
	testenv.WaitFor(t, 20*time.Second, "draining to count 0", func() (bool, error) {
		code, text := e.agent.call(DrainingRequest())
		n, err := ParseCount(text)
		return code == ReplyOK && err == nil && n == 0, fmt.Errorf("code %d %q", code, text)
	})
	// The exec fallback counts the same way.
	if out, code := dockerExec(t, e.lb, DrainingCommand()...); code != 0 || out != "0" {
		t.Errorf("DrainingCommand: exit %d %q, want 0", code, out)
	}
}

// TestLuaBalancerFailures: a POST whose member dies mid-request is not
// sent to another; a dead member is skipped (passive health) and costs a
// GET nothing; no members answer 503; the members survive a reload and a
// restart of the container; the exec fallback sets members too.
func TestLuaBalancerFailures(t *testing.T) {
	t.Parallel()
	cfg := Config{SpecName: "web", Algorithm: v1alpha1.AlgorithmRoundRobin, MaxFails: 1, FailTimeout: 30 * time.Second, ListenPort: 80, Keepalive: 8}
	e := newBalancerEnv(t, 3, cfg)
	e.setPeers(e.backends[:2]...)
	client := &http.Client{Timeout: time.Minute}

	t.Log("a POST whose member dies mid-request is not retried on another")
	post := make(chan response, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, e.base+"/slow?ms=20000", strings.NewReader("visit"))
		resp, err := client.Do(req)
		r := response{err: err}
		if err == nil {
			r.status, r.header = resp.StatusCode, resp.Header
			resp.Body.Close()
		}
		post <- r
	}()
	var victim, other Upstream
	testenv.WaitFor(t, 20*time.Second, "the POST at a member", func() (bool, error) {
		for i, b := range e.backends[:2] {
			if strings.Contains(e.backendLog(b.Name), "scaler-test got POST /slow") {
				victim, other = b, e.backends[1-i]
				return true, nil
			}
		}
		return false, nil
	})
	testenv.Docker(t, "kill", victim.Name)
	r := <-post
	if r.err != nil || r.status != http.StatusBadGateway || r.header.Get("X-Upstream-Server") != victim.Addr {
		t.Errorf("POST cut by its member's death: %d %v, tried %q; want 502 from %s alone", r.status, r.err, r.header.Get("X-Upstream-Server"), victim.Addr)
	}
	if strings.Contains(e.backendLog(other.Name), "POST") {
		t.Errorf("the POST reached the other member too:\n%s", e.backendLog(other.Name))
	}

	t.Log("passive health: the dead member is skipped, a GET is retried on the other")
	tried := 0
	for i := range 20 {
		resp, err := get(client, e.base+"/", nil)
		if err != nil || resp.status != http.StatusOK {
			t.Fatalf("GET %d with a dead member: %d %v", i, resp.status, err)
		}
		if strings.Contains(resp.header.Get("X-Upstream-Server"), victim.Addr) {
			tried++
		}
	}
	// max_fails=1: the first attempt on it takes it out for 30 s (the POST
	// above may already have).
	if tried > 1 {
		t.Errorf("the dead member was tried by %d of 20 GETs, want at most 1", tried)
	}

	t.Log("an address that joins again starts with no failures")
	// Docker gives a new replica the address of one that died; the dead
	// one's failures must not keep the new one out for failTimeout.
	e.setPeers(other)
	testenv.Docker(t, "start", victim.Name)
	netName := testenv.Docker(t, "inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}", victim.Name)
	ip := testenv.Docker(t, "inspect", "-f", fmt.Sprintf("{{(index .NetworkSettings.Networks %q).IPAddress}}", netName), victim.Name)
	if ip+":80" != victim.Addr {
		t.Logf("the restarted member got %s:80, not its old %s: a fresh address has no failures to forget", ip, victim.Addr)
	} else {
		// docker start returns once the process runs, not once it
		// listens: a first request before then would fail and, with
		// max_fails=1, take the member out for failTimeout, which is what
		// this step checks does not happen to a healthy joiner.
		testenv.WaitFor(t, 20*time.Second, "the restarted member to accept connections", func() (bool, error) {
			out, code := dockerExec(t, e.lb, "bash", "-c", "exec 3<>/dev/tcp/"+ip+"/80")
			return code == 0, fmt.Errorf("exit %d: %s", code, out)
		})
		e.setPeers(other, victim)
		if got := spread(t, e.base, 10); got[victim.Addr] == 0 {
			t.Errorf("a member whose address had failed before it left got none of 10 round-robin requests: %v", got)
		}
	}

	t.Log("no members: 503 with the reason")
	e.setPeers()
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, e.base+"/", strings.NewReader("visit"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || string(body) != `{"error":"no healthy replicas"}`+"\n" ||
			resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Retry-After") == "" || resp.Header.Get("X-Served-By") == "" {
			t.Errorf("%s with no members: %d %q %v", method, resp.StatusCode, body, resp.Header)
		}
	}

	only := e.backends[2]
	onlyServes := func(when string) {
		t.Helper()
		got := spread(t, e.base, 10)
		if got[only.Addr] != 10 {
			t.Errorf("%s: %v, want all on %s", when, got, only.Addr)
		}
	}
	t.Log("the exec fallback sets the members")
	peers, err := RenderPeers(Config{SpecName: "web", Algorithm: cfg.Algorithm, ListenPort: 80, Upstreams: []Upstream{only}})
	if err != nil {
		t.Fatal(err)
	}
	if out, code := dockerExec(t, e.lb, PeersCommand(peers)...); code != 0 || !strings.HasPrefix(out, "ok 1 peers") {
		t.Fatalf("PeersCommand: exit %d %q", code, out)
	}
	onlyServes("after PeersCommand")

	t.Log("the members survive a reload")
	changed := cfg
	changed.Keepalive = 4
	if code, text := e.agent.call(ApplyRequest(mustRender(t, changed), nil)); code != ReplyOK {
		t.Fatalf("apply: code %d %s", code, text)
	}
	testenv.WaitFor(t, 20*time.Second, "the old workers to exit", func() (bool, error) {
		children, settled := masterChildrenSettled(t, e.lb)
		return settled, fmt.Errorf("workers %s", children)
	})
	onlyServes("after a reload")

	t.Log("the members survive a restart of the container")
	testenv.Docker(t, "restart", e.lb)
	e.waitServing()
	onlyServes("after a restart")
}

// TestLuaBalancerThroughput compares the requests per second through the
// Lua balancer with those through the static upstream it replaced, in one
// container, alternating. It is a measurement, not a check: it runs only
// with SCALER_LB_BENCH=1 and logs the numbers.
func TestLuaBalancerThroughput(t *testing.T) {
	if testing.Short() || !strings.EqualFold(os.Getenv("SCALER_LB_BENCH"), "1") {
		t.Skip("a measurement: set SCALER_LB_BENCH=1")
	}
	cfg := Config{SpecName: "web", Algorithm: v1alpha1.AlgorithmLeastConn, MaxFails: 1, ListenPort: 80, Keepalive: 128}
	e := newBalancerEnv(t, 2, cfg)
	cfg.Upstreams = e.backends
	lua := mustRender(t, cfg)
	static := staticUpstreamConfig(t, string(lua), e.backends)
	e.setPeers(e.backends...)

	use := func(conf []byte) {
		t.Helper()
		if code, text := e.agent.call(ApplyRequest(conf, nil)); code != ReplyOK {
			t.Fatalf("apply: code %d %s", code, text)
		}
		testenv.WaitFor(t, 30*time.Second, "the old workers to exit", func() (bool, error) {
			children, settled := masterChildrenSettled(t, e.lb)
			return settled, fmt.Errorf("workers %s", children)
		})
	}
	// The machine is shared: throughput swings with the other tests'
	// load, so rounds alternate and the CPU time nginx's workers spent per
	// request (from /proc, which the load moves much less) is logged too.
	const rounds, seconds, conns = 6, 3, 16
	type total struct{ rate, cpuPerReq float64 }
	var sums [2]total
	var ratios []float64
	for round := range rounds {
		var rates [2]float64
		for i, c := range []struct {
			name string
			conf []byte
		}{{"static", []byte(static)}, {"lua", lua}} {
			use(c.conf)
			before := workersCPU(t, e.lb)
			n, failed := hammer(e.base, conns, seconds*time.Second)
			cpu := workersCPU(t, e.lb) - before
			rate := float64(n) / seconds
			perReq := float64(cpu) / float64(max(n, 1))
			sums[i].rate += rate
			sums[i].cpuPerReq += perReq
			rates[i] = rate
			t.Logf("round %d %-6s %6.0f req/s, %5.1f µs of worker CPU per request (%d failed)", round+1, c.name, rate, perReq, failed)
		}
		ratios = append(ratios, rates[1]/rates[0])
	}
	slices.Sort(ratios)
	t.Logf("mean over %d rounds of %d s, %d keep-alive connections: static %.0f req/s and %.1f µs CPU/request, lua %.0f req/s and %.1f µs CPU/request; throughput lua/static: mean %.3f, median of paired rounds %.3f; CPU per request lua/static %.3f",
		rounds, seconds, conns, sums[0].rate/rounds, sums[0].cpuPerReq/rounds, sums[1].rate/rounds, sums[1].cpuPerReq/rounds,
		sums[1].rate/sums[0].rate, (ratios[rounds/2-1]+ratios[rounds/2])/2, sums[1].cpuPerReq/sums[0].cpuPerReq)
}

// workersCPU is the user and system time, in microseconds, that the nginx
// master's children (its workers) have used.
func workersCPU(t *testing.T, lb string) int64 {
	t.Helper()
	out, code := dockerExec(t, lb, "sh", "-c",
		`s=0; for d in /proc/[0-9]*; do read -r line < "$d/stat" 2>/dev/null || continue; set -- $line; [ "$4" = 1 ] && s=$((s + ${14} + ${15})); done; echo "$s $(getconf CLK_TCK)"`)
	f := strings.Fields(out)
	if code != 0 || len(f) != 2 {
		t.Fatalf("reading the workers' CPU time: exit %d %q", code, out)
	}
	ticks, err1 := strconv.ParseInt(f[0], 10, 64)
	hz, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || hz <= 0 {
		t.Fatalf("reading the workers' CPU time: %q", out)
	}
	return ticks * 1_000_000 / hz
}

// staticUpstreamConfig turns a rendered config back into the design it
// replaced: the members listed in the upstream block (least_conn, shared
// zone), no Lua in the request path.
func staticUpstreamConfig(t *testing.T, conf string, members []Upstream) string {
	t.Helper()
	var servers strings.Builder
	for _, m := range members {
		fmt.Fprintf(&servers, "        server %s max_fails=1; # %s\n", m.Addr, m.Name)
	}
	replace := func(old, new string) {
		t.Helper()
		if !strings.Contains(conf, old) {
			t.Fatalf("rendered config lacks %q", old)
		}
		conf = strings.Replace(conf, old, new, 1)
	}
	replace(`        server 0.0.0.1:1 max_fails=0;
        balancer_by_lua_block {
            require("scaler.balancer").balance()
        }
`, "        zone web 64k;\n        least_conn;\n"+servers.String())
	replace(`            log_by_lua_block {
                require("scaler.balancer").log()
            }
`, "")
	return conf
}

// hammer sends GET / on conns keep-alive connections for d and returns how
// many were answered 200 and how many not.
func hammer(base string, conns int, d time.Duration) (ok, failed int64) {
	var okN, failN atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for time.Now().Before(deadline) {
				resp, err := client.Get(base + "/")
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != http.StatusOK {
					failN.Add(1)
					continue
				}
				okN.Add(1)
			}
		}()
	}
	wg.Wait()
	return okN.Load(), failN.Load()
}

// TestLuaBalancerVerify: nginx's verify answer (UpstreamInSync) says what
// the running workers use, not what was written: the config loaded, the
// members, and whether each accepts a connection from the load balancer;
// a config edited and reloaded by hand, or a peers file edited by hand,
// shows as drift; the exec fallback answers the same.
func TestLuaBalancerVerify(t *testing.T) {
	t.Parallel()
	cfg := Config{SpecName: "web", Algorithm: v1alpha1.AlgorithmRoundRobin, MaxFails: 1, FailTimeout: 10 * time.Second, ListenPort: 80, Keepalive: 8}
	e := newBalancerEnv(t, 2, cfg)
	rendered := mustRender(t, cfg)
	e.setPeers(e.backends...)
	peers, err := RenderPeers(Config{SpecName: "web", Algorithm: cfg.Algorithm, ListenPort: 80, Upstreams: e.backends})
	if err != nil {
		t.Fatal(err)
	}
	verify := func() Running {
		t.Helper()
		code, text := e.agent.call(VerifyRequest())
		if code != ReplyOK {
			t.Fatalf("verify: code %d %q", code, text)
		}
		r, err := ParseVerify(text)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	r := verify()
	if d := r.ConfigDrift(rendered); d != "" {
		t.Errorf("config drift right after start: %s", d)
	}
	if d := r.MembersDrift(peers); d != nil {
		t.Errorf("members drift right after a peers update: %v (answer %+v)", d, r)
	}
	if len(r.Unreachable) != 0 {
		t.Errorf("unreachable members while both listen: %v", r.Unreachable)
	}
	// The exec fallback gives the same answer.
	out, code := dockerExec(t, e.lb, VerifyCommand()...)
	if fromExec, err := ParseVerify(out); code != 0 || err != nil || fromExec.ConfigMD5 != r.ConfigMD5 || len(fromExec.Members) != 2 {
		t.Errorf("VerifyCommand: exit %d %q %v", code, out, err)
	}

	t.Log("the in-flight counts of members that left with nothing in flight go")
	if _, _ = get(&http.Client{Timeout: 10 * time.Second}, e.base+"/", nil); verify().Counts < 1 {
		t.Errorf("no in-flight count after a request: %+v", verify())
	}
	spread(t, e.base, 4) // a request to each of the two
	e.setPeers(e.backends[0])
	if c := verify().Counts; c != 1 {
		t.Errorf("%d in-flight counts after one of two members left with nothing in flight, want 1 (the member's)", c)
	}
	e.setPeers(e.backends...)

	t.Log("a member that stops listening is unreachable from the load balancer")
	testenv.Docker(t, "stop", "-t", "1", e.backends[1].Name)
	r = verify()
	if why := r.Unreachable[e.backends[1].Name]; why == "" || len(r.Unreachable) != 1 {
		t.Errorf("with %s stopped: unreachable %v", e.backends[1].Name, r.Unreachable)
	}
	if l := r.UnreachableList(); len(l) != 1 || !strings.Contains(l[0], e.backends[1].Addr) {
		t.Errorf("UnreachableList = %q", l)
	}

	t.Log("a peers file edited by hand and read by nginx is drift")
	if out, code := dockerExec(t, e.lb, "sh", "-c", "echo 'intruder 10.9.9.9:80' >> "+PeersPath); code != 0 {
		t.Fatalf("editing the peers file: %s", out)
	}
	r = verify()
	if d := strings.Join(r.MembersDrift(peers), "; "); !strings.Contains(d, "peers file differs") {
		t.Errorf("peers file edited, not yet read: drift %q", d)
	}
	if _, code := dockerExec(t, e.lb, "bash", "-c", pokeFunc+"poke "+PeersReloadPath); code != 0 {
		t.Fatal("asking nginx to read the edited peers file failed")
	}
	if d := strings.Join(verify().MembersDrift(peers), "; "); !strings.Contains(d, "members nginx has that scalerd removed: intruder") {
		t.Errorf("peers file edited and read: drift %q", d)
	}

	t.Log("a config edited and reloaded by hand is drift")
	handEdited := strings.Replace(string(rendered), "keepalive 8;", "keepalive 9;", 1)
	copyInto(t, e.lb, ConfigPath, []byte(handEdited))
	if d := verify().ConfigDrift(rendered); !strings.Contains(d, "config file differs") {
		t.Errorf("config file edited, not reloaded: drift %q", d)
	}
	if out, code := dockerExec(t, e.lb, ReloadCommand()...); code != 0 {
		t.Fatalf("reload by hand: %s", out)
	}
	testenv.WaitFor(t, 20*time.Second, "the hand-made config to run", func() (bool, error) {
		d := verify().ConfigDrift(rendered)
		return strings.Contains(d, "nginx runs another config"), fmt.Errorf("drift %q", d)
	})
	if got := verify(); got.ConfigMD5 != Checksum([]byte(handEdited)) {
		t.Errorf("after the reload by hand nginx reports config %s, want the hand-made one's %s", got.ConfigMD5, Checksum([]byte(handEdited)))
	}
}

// mixedCounts is what mixedLoad measured: requests by kind, those that
// failed (the first few of them in failures) or had to be resent, and the
// answers per member (X-Upstream-Server).
type mixedCounts struct {
	requests, posts, slow, failed, resent int64
	failures                              []string
	seen                                  map[string]int64
}

// mixedLoad sends, on 8 keep-alive connections until stopped, a mix of
// GET /, POST / (one in four) and GET /slow of 300 ms (one in ten), from
// clients that count a request the transport had to send on a second
// connection as resent, the failure a client that does not resend sees.
func mixedLoad(base string) (stop func() mixedCounts) {
	var requests, posts, slow, failed, resent atomic.Int64
	var mu sync.Mutex
	var failures []string
	seen := map[string]int64{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
			defer client.CloseIdleConnections()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				method, path := http.MethodGet, "/"
				switch {
				case (w+i)%10 == 0:
					path = "/slow?ms=300"
					slow.Add(1)
				case (w+i)%4 == 0:
					method = http.MethodPost
					posts.Add(1)
				}
				conns := 0
				ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { conns++ }})
				req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader("visit"))
				resp, err := client.Do(req)
				requests.Add(1)
				if conns > 1 {
					resent.Add(1)
				}
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				if err != nil || resp.StatusCode != http.StatusOK {
					failed.Add(1)
					if len(failures) < 10 {
						failures = append(failures, fmt.Sprintf("%s %s: %v %v", method, path, err, resp))
					}
				} else {
					seen[resp.Header.Get("X-Upstream-Server")]++
				}
				mu.Unlock()
			}
		}()
	}
	return func() mixedCounts {
		close(done)
		wg.Wait()
		return mixedCounts{requests.Load(), posts.Load(), slow.Load(), failed.Load(), resent.Load(), failures, seen}
	}
}

// TestMembershipChangeCostSideBySide measures, in one run and under the
// same mixed load, what 100 membership changes cost with the Lua balancer
// (a peers update each) and with the design it replaced (a static upstream
// in the config, reloaded for each change), and what 20 real reloads cost
// with the Lua balancer. It is a measurement, not a check: it runs only
// with SCALER_LB_BENCH=1 and logs a table (BENCHMARKS.md).
func TestMembershipChangeCostSideBySide(t *testing.T) {
	if testing.Short() || !strings.EqualFold(os.Getenv("SCALER_LB_BENCH"), "1") {
		t.Skip("a measurement: set SCALER_LB_BENCH=1")
	}
	cfg := Config{SpecName: "web", Algorithm: v1alpha1.AlgorithmLeastConn, MaxFails: 1, ListenPort: 80, Keepalive: 32, DrainTimeout: 10 * time.Second}
	e := newBalancerEnv(t, 3, cfg)
	two, three := e.backends[:2], e.backends
	lua := mustRender(t, cfg)
	apply := func(conf []byte) {
		t.Helper()
		if code, text := e.agent.call(ApplyRequest(conf, nil)); code != ReplyOK {
			t.Fatalf("apply: code %d %s", code, text)
		}
	}
	settle := func() {
		t.Helper()
		testenv.WaitFor(t, 60*time.Second, "the old workers to exit", func() (bool, error) {
			children, settled := masterChildrenSettled(t, e.lb)
			return settled, fmt.Errorf("workers %s", children)
		})
	}
	const changes, gap = 100, 100 * time.Millisecond
	var rows []string
	row := func(what string, c mixedCounts, took time.Duration) {
		rows = append(rows, fmt.Sprintf("| %s | %d (%d POST, %d slow) | %d | %d | %.1f s |", what, c.requests, c.posts, c.slow, c.failed, c.resent, took.Seconds()))
		t.Log(rows[len(rows)-1])
	}

	// The Lua balancer: each change is a peers update.
	e.setPeers(two...)
	time.Sleep(time.Second)
	stop, began := mixedLoad(e.base), time.Now()
	for i := range changes {
		if i%2 == 0 {
			e.setPeers(three...)
		} else {
			e.setPeers(two...)
		}
		time.Sleep(gap)
	}
	row(fmt.Sprintf("%d membership changes, Lua balancer (a peers update each)", changes), stop(), time.Since(began))

	// 20 real reloads with the Lua balancer: the algorithm toggled.
	other := cfg
	other.Algorithm = v1alpha1.AlgorithmRoundRobin
	otherConf := mustRender(t, other)
	stop, began = mixedLoad(e.base), time.Now()
	for i := range 20 {
		if i%2 == 0 {
			apply(otherConf)
		} else {
			apply(lua)
		}
		time.Sleep(4 * gap)
	}
	row("20 reloads (algorithm toggled), Lua balancer", stop(), time.Since(began))
	settle()

	// The design it replaced: the members in the config, a reload each.
	staticTwo, staticThree := staticUpstreamConfig(t, string(lua), two), staticUpstreamConfig(t, string(lua), three)
	apply([]byte(staticTwo))
	settle()
	stop, began = mixedLoad(e.base), time.Now()
	for i := range changes {
		if i%2 == 0 {
			apply([]byte(staticThree))
		} else {
			apply([]byte(staticTwo))
		}
		time.Sleep(gap)
	}
	row(fmt.Sprintf("%d membership changes, static upstream (a reload each, the replaced design)", changes), stop(), time.Since(began))
	settle()
	t.Logf("side by side, 8 keep-alive clients that never resend, a change every %v:\n| what | requests | failed | resent | took |\n| --- | ---: | ---: | ---: | ---: |\n%s",
		gap, strings.Join(rows, "\n"))
}

// TestMembersAtScale measures, on the real nginx image, what one change
// costs as the members grow: a peers update (a membership change: the
// file written and read by every worker, no reload) and a checked reload
// (nginx -t, then the master's reload) with 10, 100 and 1,000 members. It
// is a measurement, not a check: it runs only with SCALER_LB_BENCH=1 and
// logs a table (BENCHMARKS.md, "The cost of a pass").
func TestMembersAtScale(t *testing.T) {
	if testing.Short() || !strings.EqualFold(os.Getenv("SCALER_LB_BENCH"), "1") {
		t.Skip("a measurement: set SCALER_LB_BENCH=1")
	}
	cfg := Config{SpecName: "web", Algorithm: v1alpha1.AlgorithmLeastConn, MaxFails: 1, ListenPort: 80, Keepalive: 32}
	e := newBalancerEnv(t, 1, cfg)
	conf := mustRender(t, cfg)
	other := cfg
	other.Keepalive = 33
	otherConf := mustRender(t, other)
	var rows []string
	for _, n := range []int{10, 100, 1000} {
		members := make([]Upstream, n)
		for i := range members {
			members[i] = Upstream{Name: fmt.Sprintf("web-%d", i+1), Addr: fmt.Sprintf("10.%d.%d.%d:5000", 200+i/65536, i/256%256, i%256)}
		}
		peers, err := RenderPeers(Config{SpecName: "web", Algorithm: cfg.Algorithm, ListenPort: 80, Upstreams: members})
		if err != nil {
			t.Fatal(err)
		}
		const rounds = 5
		var update, reload time.Duration
		for r := range rounds {
			// Alternate two lists so that each update changes something.
			list := peers
			if r%2 == 1 {
				list = append(slices.Clone(peers), []byte("web-extra 10.250.0.1:5000\n")...)
			}
			start := time.Now()
			if code, text := e.agent.call(PeersRequest(list)); code != ReplyOK || !strings.HasPrefix(text, "ok ") {
				t.Fatalf("peers update with %d members: code %d %q", n, code, text)
			}
			update += time.Since(start)
			c := conf
			if r%2 == 1 {
				c = otherConf
			}
			start = time.Now()
			if code, text := e.agent.call(ApplyRequest(c, list)); code != ReplyOK {
				t.Fatalf("reload with %d members: code %d %q", n, code, text)
			}
			reload += time.Since(start)
			testenv.WaitFor(t, 60*time.Second, "the old workers to exit", func() (bool, error) {
				children, settled := masterChildrenSettled(t, e.lb)
				return settled, fmt.Errorf("workers %s", children)
			})
		}
		rows = append(rows, fmt.Sprintf("| %d | %d B | %.1f ms | %.1f ms |", n, len(peers),
			float64(update.Microseconds())/rounds/1000, float64(reload.Microseconds())/rounds/1000))
		t.Log(rows[len(rows)-1])
	}
	t.Logf("one change through the reload agent, mean of 5:\n| members | peers file | peers update (no reload) | nginx -t and reload |\n| ---: | ---: | ---: | ---: |\n%s", strings.Join(rows, "\n"))
}
