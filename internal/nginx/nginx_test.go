package nginx

import (
	"flag"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// base is a typical web spec; the cases change what they are about.
func base() Config {
	return Config{
		SpecName:  "web",
		Algorithm: v1alpha1.AlgorithmLeastConn,
		// Deliberately unsorted, with a two-digit replica number.
		Upstreams: []Upstream{
			{Name: "web-10", Addr: "172.20.0.12:5000"},
			{Name: "web-2", Addr: "172.20.0.4:5000"},
			{Name: "web-1", Addr: "172.20.0.3:5000"},
		},
		MaxFails:     3,
		FailTimeout:  30 * time.Second,
		DrainTimeout: 5 * time.Second,
		ListenPort:   80,
		Keepalive:    32,
	}
}

// goldenCases are rendered, compared with testdata/<name>.golden and, where
// an nginx binary is at hand, checked with nginx -t.
func goldenCases() map[string]Config {
	cases := map[string]Config{}
	cases["least_conn"] = base()

	rr := base()
	rr.Algorithm = v1alpha1.AlgorithmRoundRobin
	cases["round_robin"] = rr

	ipHash := base()
	ipHash.Algorithm = v1alpha1.AlgorithmIPHash
	cases["ip_hash"] = ipHash

	random := base()
	random.Algorithm = v1alpha1.AlgorithmRandom
	cases["random"] = random

	empty := base()
	empty.Upstreams = nil
	cases["zero_upstreams"] = empty

	// Everything optional off or odd: no keepalive, no drain bound, nginx's
	// default fail_timeout, sub-second times, access log on, IPv6.
	odd := base()
	odd.SpecName = "api-v2"
	odd.Upstreams = []Upstream{{Name: "api-v2-1", Addr: "[fd00::3]:8080"}, {Name: "api-v2-2", Addr: "10.0.0.2:8080"}}
	odd.Keepalive = 0
	odd.DrainTimeout = 0
	odd.FailTimeout = 0
	odd.MaxFails = 0
	odd.ListenPort = 8080
	odd.AccessLog = true
	odd.WorkerUser = "nginx"
	cases["options"] = odd

	subsecond := base()
	subsecond.FailTimeout = 1500 * time.Millisecond
	subsecond.DrainTimeout = 250*time.Millisecond + time.Microsecond
	subsecond.Upstreams = subsecond.Upstreams[:1]
	cases["subsecond"] = subsecond

	// loadBalancer.statusPage and upstreamHeader false: nothing about the
	// load balancer or the replicas' addresses reaches a client.
	private := base()
	private.NoStatusPage = true
	private.NoUpstreamHeader = true
	cases["private"] = private
	return cases
}

// goldenText is what a golden file holds: the config, with the embedded
// balancer.lua (the same in every case) replaced by a marker, then the
// peers file.
func goldenText(t *testing.T, cfg Config) []byte {
	t.Helper()
	conf, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(conf), balancerLua) {
		t.Fatal("the config lacks balancer.lua")
	}
	peers, err := RenderPeers(cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(conf), balancerLua, "-- (balancer.lua, embedded)\n", 1)
	return []byte(text + "\n==> " + PeersPath + " <==\n" + string(peers))
}

func TestRenderGolden(t *testing.T) {
	for name, cfg := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			got := goldenText(t, cfg)
			path := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/nginx -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("Render differs from %s (run with -update if the change is intended):\n%s", path, diff(string(want), string(got)))
			}
		})
	}
}

// diff shows the first differing line, which is enough to see what moved.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return ""
}

// TestRenderBehaviour pins the properties the zero-downtime design relies
// on, independently of the golden files' layout.
func TestRenderBehaviour(t *testing.T) {
	out, err := Render(base())
	if err != nil {
		t.Fatal(err)
	}
	conf := string(out)
	for _, want := range []string{
		`algorithm = "least_conn", max_fails = 3, fail_timeout = 30, tries = 3,`,
		"worker_shutdown_timeout 5s;",
		"keepalive 32;",
		"load_module /usr/lib/nginx/modules/ndk_http_module.so;\nload_module /usr/lib/nginx/modules/ngx_http_lua_module.so;",
		"require(\"scaler.balancer\").balance()",
		"listen 127.0.0.1:" + strconv.Itoa(ControlPort) + ";",
		"proxy_next_upstream error timeout http_502 http_503 http_504;",
		"proxy_next_upstream_tries 3;",
		"proxy_set_header X-Request-ID $request_id_out;",
		"add_header X-Upstream-Server $upstream_addr always;",
		"location = /healthz",
		"stub_status;",
		"pid " + PIDPath + ";",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q", want)
		}
	}
	// Retrying a POST that reached a replica could run it twice.
	if strings.Contains(conf, "non_idempotent") {
		t.Error("config retries non-idempotent requests")
	}
	// StartCommand passes it with -g; nginx rejects it given twice.
	if strings.Contains(conf, "daemon ") {
		t.Error("config sets daemon, which StartCommand already does")
	}
	// The members are not in the config: a change of them alone must not
	// change it, or the controller would reload.
	for _, u := range base().Upstreams {
		if strings.Contains(conf, u.Addr) || strings.Contains(conf, u.Name) {
			t.Errorf("config names member %s %s", u.Name, u.Addr)
		}
	}
	for _, members := range [][]Upstream{nil, base().Upstreams[:1]} {
		other := base()
		other.Upstreams = members
		if again, err := Render(other); err != nil || string(again) != conf {
			t.Errorf("%d members render another config (%v)", len(members), err)
		}
	}
	// The e2e tests tell the algorithm of a running config by this text;
	// the embedded balancer must not contain it.
	if strings.Contains(balancerLua, "algorithm = \"") {
		t.Error(`balancer.lua contains 'algorithm = "', which the config's configure call is recognised by`)
	}

	peers, err := RenderPeers(base())
	if err != nil {
		t.Fatal(err)
	}
	p := string(peers)
	if !strings.Contains(p, "web-1 172.20.0.3:5000\n") {
		t.Errorf("peers file lacks web-1:\n%s", p)
	}
	i1, i2, i10 := strings.Index(p, "web-1 "), strings.Index(p, "web-2 "), strings.Index(p, "web-10 ")
	if !(i1 < i2 && i2 < i10) {
		t.Errorf("peers not in replica order: web-1 at %d, web-2 at %d, web-10 at %d", i1, i2, i10)
	}

	// The same set in another order renders the same bytes, so the
	// controller can tell that nothing changed and send nothing.
	shuffled := base()
	slices.Reverse(shuffled.Upstreams)
	again, err := RenderPeers(shuffled)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != p {
		t.Error("upstream order changes the rendered peers")
	}
	if in := base().Upstreams; shuffled.Upstreams[0] != in[2] {
		t.Error("RenderPeers reordered the caller's slice")
	}

	empty := base()
	empty.Upstreams = nil
	if out, err := RenderPeers(empty); err != nil || string(out) != peersHeader {
		t.Errorf("zero upstreams: peers %q %v, want the header alone", out, err)
	}
	// An empty list is answered by the load balancer's own empty server,
	// with the reason and Retry-After, not by a failing proxy
	// (TestLuaBalancerFailures checks the answer in nginx).
	if !strings.Contains(conf, `return 503 '{"error":"no healthy replicas"}\n';`) || !strings.Contains(conf, "listen 127.0.0.1:10248;") || !strings.Contains(conf, "empty_port = 10248") {
		t.Error("no 503 for an empty member list")
	}
}

func TestRenderRejects(t *testing.T) {
	tests := map[string]func(*Config){
		"unknown algorithm":    func(c *Config) { c.Algorithm = "fastest" },
		"empty algorithm":      func(c *Config) { c.Algorithm = "" },
		"bad spec name":        func(c *Config) { c.SpecName = "Web App" },
		"empty spec name":      func(c *Config) { c.SpecName = "" },
		"port zero":            func(c *Config) { c.ListenPort = 0 },
		"port too big":         func(c *Config) { c.ListenPort = 70000 },
		"negative max fails":   func(c *Config) { c.MaxFails = -1 },
		"negative drain":       func(c *Config) { c.DrainTimeout = -time.Second },
		"negative keepalive":   func(c *Config) { c.Keepalive = -1 },
		"empty address":        func(c *Config) { c.Upstreams[0].Addr = "" },
		"host name address":    func(c *Config) { c.Upstreams[0].Addr = "web-1:5000" },
		"address without port": func(c *Config) { c.Upstreams[0].Addr = "172.20.0.3" },
		"port zero address":    func(c *Config) { c.Upstreams[0].Addr = "172.20.0.3:0" },
		"empty name":           func(c *Config) { c.Upstreams[0].Name = "" },
		"name breaks the line": func(c *Config) { c.Upstreams[0].Name = "web-1\nserver 1.2.3.4:80" },
		"duplicate name":       func(c *Config) { c.Upstreams[1].Name = c.Upstreams[0].Name },
		"duplicate address":    func(c *Config) { c.Upstreams[1].Addr = c.Upstreams[0].Addr },
		"odd worker user":      func(c *Config) { c.WorkerUser = "www data;" },
	}
	for name, mutate := range tests {
		cfg := base()
		mutate(&cfg)
		if out, err := Render(cfg); err == nil {
			t.Errorf("%s: rendered\n%s", name, out)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * time.Second:        "30s",
		2 * time.Minute:         "120s",
		1500 * time.Millisecond: "1500ms",
		time.Microsecond:        "1ms",
	} {
		if got := duration(d); got != want {
			t.Errorf("duration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]int{"0\n": 0, "  3\n": 3, "12": 12} {
		if got, err := ParseCount(in); err != nil || got != want {
			t.Errorf("ParseCount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "sh: grep: not found\n", "-1", "2 3"} {
		if _, err := ParseCount(in); err == nil {
			t.Errorf("ParseCount(%q) accepted", in)
		}
	}
}

func TestCommands(t *testing.T) {
	if got := TestCommand(CandidatePath); !slices.Equal(got, []string{"nginx", "-t", "-q", "-c", CandidatePath}) {
		t.Errorf("TestCommand = %q", got)
	}
	if got := ReloadCommand(); !slices.Equal(got, []string{"nginx", "-s", "reload", "-c", ConfigPath}) {
		t.Errorf("ReloadCommand = %q", got)
	}
	if got := StartCommand(); !slices.Equal(got, []string{"nginx", "-g", "daemon off;", "-c", ConfigPath}) {
		t.Errorf("StartCommand = %q", got)
	}
}

// TestShuttingDownWorkersCommand runs the one-liner on this host: a process
// titled like a draining nginx worker counts, the command's own shell and
// grep (whose command lines hold the pattern) do not.
func TestShuttingDownWorkersCommand(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to retitle a process with exec -a")
	}
	cmd := ShuttingDownWorkersCommand()
	script := cmd[len(cmd)-1]
	// Run it against this host's real /proc, with a process retitled the
	// way nginx retitles a draining worker.
	worker := exec.Command(bash, "-c", `exec -a "nginx: worker process is shutting down" sleep 30`)
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = worker.Process.Kill(); _ = worker.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := exec.Command(sh, "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v: %s", script, err, out)
		}
		n, err := ParseCount(string(out))
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counted %d draining workers, want 1 (the retitled sleep)", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRunningUpstreamReadsWhatRenderWrote: a restarted scalerd learns the
// running upstream from the config, so every golden case must read back
// as the replicas it was rendered with.
func TestRunningUpstreamReadsWhatRenderWrote(t *testing.T) {
	// What ReadConfigCommand prints: the config, the separator, the peers.
	running := func(cfg Config) []byte {
		conf, err := Render(cfg)
		if err != nil {
			t.Fatal(err)
		}
		peers, err := RenderPeers(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out := string(conf) + PeersSeparator + "\n" + string(peers)
		gotConf, gotPeers := SplitRunning([]byte(out))
		if string(gotConf) != string(conf) || string(gotPeers) != string(peers) {
			t.Fatalf("SplitRunning does not give back the config and peers it was given")
		}
		return []byte(out)
	}
	for name, cfg := range goldenCases() {
		want := map[string]string{}
		for _, u := range cfg.Upstreams {
			want[u.Name] = u.Addr
		}
		if got := RunningUpstream(running(cfg)); !maps.Equal(got, want) {
			t.Errorf("%s: RunningUpstream = %v, want %v", name, got, want)
		}
	}
	empty := goldenCases()["options"]
	empty.Upstreams = nil
	if got := RunningUpstream(running(empty)); len(got) != 0 {
		t.Errorf("config without replicas: RunningUpstream = %v, want none", got)
	}
	// A load balancer of an older scalerd: the members in the config, no
	// peers file.
	legacy := "upstream web {\n        zone web 64k;\n        server 172.20.0.3:5000 max_fails=3; # web-1\n        server 172.20.0.4:5000 max_fails=3; # web-2\n    }\n"
	if got := RunningUpstream([]byte(legacy)); !maps.Equal(got, map[string]string{"web-1": "172.20.0.3:5000", "web-2": "172.20.0.4:5000"}) {
		t.Errorf("older config: RunningUpstream = %v", got)
	}
	if conf, peers := SplitRunning([]byte(legacy)); string(conf) != legacy || peers != nil {
		t.Errorf("older config: SplitRunning = %q, %q", conf, peers)
	}
}

// Turning the status page and the upstream header off removes those and
// nothing else: the liveness page and the other headers stay.
func TestRenderPrivateTogglesRemoveOnlyTheirDirectives(t *testing.T) {
	for _, upstreams := range [][]Upstream{base().Upstreams, nil} {
		cfg := base()
		cfg.Upstreams = upstreams
		cfg.NoStatusPage, cfg.NoUpstreamHeader = true, true
		out, err := Render(cfg)
		if err != nil {
			t.Fatal(err)
		}
		conf := string(out)
		for _, gone := range []string{"stub_status", "/nginx-status", "X-Upstream-Server", "$upstream_addr"} {
			if strings.Contains(conf, gone) {
				t.Errorf("%d upstreams: %q is still in the config", len(upstreams), gone)
			}
		}
		for _, kept := range []string{"location = /healthz", "add_header X-Served-By $hostname always;", "add_header X-Request-ID $request_id_out always;"} {
			if !strings.Contains(conf, kept) {
				t.Errorf("%d upstreams: %q went missing", len(upstreams), kept)
			}
		}
		on := base()
		on.Upstreams = upstreams
		full, _ := Render(on)
		if len(full)-len(out) > 200 {
			t.Errorf("%d upstreams: the toggles removed %d bytes, more than their directives", len(upstreams), len(full)-len(out))
		}
	}
}
