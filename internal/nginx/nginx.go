// Package nginx renders the load balancer's configuration. It is the only
// package of scaler that writes nginx syntax, and it does no I/O: the
// controller copies the bytes into the nginx container, checks them there
// with TestCommand and applies them with ReloadCommand.
//
// The config is always rendered whole, main context included, so that what
// runs is exactly what was tested, never a fragment merged with an image's
// defaults. The members of the upstream are not in it: they are the peers
// file (RenderPeers), which a Lua balancer (balancer.lua) reads without a
// reload, so that a membership change does not restart nginx's workers.
package nginx

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/scaler-dev/scaler/api/v1alpha1"
)

// Layout of the nginx container. The image's own /etc/nginx/nginx.conf is
// never used.
const (
	ConfigDir  = "/etc/nginx/scaler"
	ConfigPath = ConfigDir + "/nginx.conf"
	// CandidatePath is where a new config is written and checked with
	// `nginx -t` before it replaces ConfigPath; a config that fails the
	// check never reaches the running nginx.
	CandidatePath = ConfigDir + "/nginx.conf.candidate"
	// PeersPath holds the members, "NAME IP:PORT" a line (RenderPeers). The
	// master reads it on every start and reload; the workers read it again
	// when asked on ControlPort.
	PeersPath = ConfigDir + "/peers"
	// ControlPort is where nginx listens, on 127.0.0.1 inside the load
	// balancer's network namespace only, for scalerd's request to read the
	// peers file again (PeersReloadPath) or count the requests still in
	// flight to removed members (InflightPath), or to say what it runs
	// (VerifyPath, ParseVerify).
	ControlPort     = 10247
	PeersReloadPath = "/scaler/peers"
	InflightPath    = "/scaler/inflight"
	VerifyPath      = "/scaler/verify"
	// EmptyPort is where nginx answers, on 127.0.0.1 inside the load
	// balancer, 503 {"error":"no healthy replicas"}: the Lua balancer
	// sends requests there while it has no members.
	EmptyPort = 10248
	// PIDPath is where the master writes its PID; `nginx -s` reads it.
	PIDPath = "/run/nginx.pid"
	// DefaultWorkerUser owns nginx's worker processes when Config names
	// none: www-data exists in Debian-based images, scaler-nginx included.
	DefaultWorkerUser = "www-data"
)

// algorithms are those balancer.lua implements, each as nginx's upstream
// directive of the same name did (round robin, nginx's default, included).
var algorithms = map[string]bool{
	v1alpha1.AlgorithmLeastConn:  true,
	v1alpha1.AlgorithmRoundRobin: true,
	v1alpha1.AlgorithmIPHash:     true,
	v1alpha1.AlgorithmRandom:     true,
}

// tries bounds the attempts of one request, as proxy_next_upstream_tries
// did: one per member, at most this many.
const tries = 3

// balancerLua is the balancer, rendered into init_by_lua_block so that the
// config is whole: nginx -t checks it, and no other file must be copied in.
//
//go:embed balancer.lua
var balancerLua string

// Config is everything that varies between two renders.
type Config struct {
	// SpecName names the upstream block; it is a DNS-1123 label.
	SpecName string
	// Algorithm is one of v1alpha1.Algorithms.
	Algorithm string
	// Upstreams are the healthy replicas only, rendered by RenderPeers, not
	// Render. Order does not matter: they are rendered sorted by name so
	// that the same set always renders the same bytes, and an unchanged
	// list is recognised and not sent.
	Upstreams []Upstream
	// MaxFails and FailTimeout are the passive health check (nginx's, now
	// balancer.lua's): after MaxFails failed attempts within FailTimeout a
	// server is skipped for FailTimeout. Zero MaxFails disables it; zero
	// FailTimeout keeps nginx's default (10s); a fraction of a second
	// rounds up.
	MaxFails    int
	FailTimeout time.Duration
	// DrainTimeout bounds how long workers of a replaced config keep
	// serving in-flight requests after a reload (worker_shutdown_timeout).
	// Zero lets them finish however long that takes. A draining worker
	// obeys the value of the config it was started with, so a changed
	// DrainTimeout bounds the drains after the next reload, not this one.
	DrainTimeout time.Duration
	// ListenPort is the port nginx listens on inside its container.
	ListenPort int
	// Keepalive is the number of idle upstream connections each worker
	// keeps; zero opens a connection per request.
	Keepalive int
	// AccessLog writes one buffered line per request to stdout. Off by
	// default: under load the log costs the Engine more CPU than nginx.
	AccessLog bool
	// WorkerUser runs the worker processes; empty means DefaultWorkerUser.
	WorkerUser string
	// ServerSnippet is the user's raw nginx configuration for the server
	// block (loadBalancer.serverSnippet). It is not checked here: `nginx -t`
	// checks the whole config before it is applied.
	ServerSnippet string
	// NoStatusPage leaves out /nginx-status (stub_status), whose counters
	// tell anyone who can reach the port how busy the app is; the path
	// then goes to the replicas like any other (loadBalancer.statusPage).
	// Negative so that the zero Config renders what scaler always did.
	NoStatusPage bool
	// NoUpstreamHeader leaves out X-Upstream-Server, which tells every
	// client the answering replica's address on the container network
	// (loadBalancer.upstreamHeader).
	NoUpstreamHeader bool
}

// Upstream is one replica nginx sends traffic to.
type Upstream struct {
	// Name is the replica's container name, written as a comment so that
	// a human reading the config sees which replica an address is.
	Name string
	// Addr is the replica's IP:port on the spec's network.
	Addr string
}

// Render returns a whole nginx.conf for cfg, members left out (they are
// RenderPeers'), or an error naming every invalid field. Two configs that
// differ only in their members render the same bytes: the controller
// reloads only when these bytes change.
func Render(cfg Config) ([]byte, error) {
	if err := validate(cfg); err != nil {
		return nil, err
	}
	// Whole seconds, as nginx's fail_timeout took them (rounded up);
	// nginx's default when unset.
	failSecs := int64(10)
	if cfg.FailTimeout > 0 {
		failSecs = int64((cfg.FailTimeout + time.Second - 1) / time.Second)
	}
	user := cfg.WorkerUser
	if user == "" {
		user = DefaultWorkerUser
	}
	data := templateData{
		Config:      cfg,
		User:        user,
		PIDPath:     PIDPath,
		PeersPath:   PeersPath,
		ConfigPath:  ConfigPath,
		ControlPort: ControlPort,
		EmptyPort:   EmptyPort,
		FailSeconds: failSecs,
		Tries:       tries,
		Lua:         balancerLua,
	}
	if cfg.DrainTimeout > 0 {
		data.ShutdownTimeout = duration(cfg.DrainTimeout)
	}
	var buf bytes.Buffer
	if err := confTemplate.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render nginx config: %w", err)
	}
	return buf.Bytes(), nil
}

// peersHeader starts every peers file; RunningUpstream finds the members
// after it.
const peersHeader = "# scaler peers: NAME IP:PORT a line, sorted by name\n"

// RenderPeers returns the peers file of cfg's Upstreams, sorted by name so
// that the same set always renders the same bytes, or an error naming
// every invalid field of cfg.
func RenderPeers(cfg Config) ([]byte, error) {
	if err := validate(cfg); err != nil {
		return nil, err
	}
	ups := slices.Clone(cfg.Upstreams)
	slices.SortFunc(ups, func(a, b Upstream) int { return v1alpha1.CompareReplicaNames(a.Name, b.Name) })
	var buf bytes.Buffer
	buf.WriteString(peersHeader)
	for _, u := range ups {
		buf.WriteString(u.Name + " " + u.Addr + "\n")
	}
	return buf.Bytes(), nil
}

var (
	specNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	// Replica names go into a comment: no line breaks, nothing odd.
	replicaNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	userRE        = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
)

func validate(cfg Config) error {
	var errs []error
	if !specNameRE.MatchString(cfg.SpecName) {
		errs = append(errs, fmt.Errorf("spec name %q is not a DNS-1123 label", cfg.SpecName))
	}
	if !algorithms[cfg.Algorithm] {
		errs = append(errs, fmt.Errorf("algorithm %q is not one of least_conn, round_robin, ip_hash, random", cfg.Algorithm))
	}
	if cfg.ListenPort < 1 || cfg.ListenPort > 65535 {
		errs = append(errs, fmt.Errorf("listen port %d is out of range", cfg.ListenPort))
	}
	if cfg.MaxFails < 0 {
		errs = append(errs, fmt.Errorf("max fails %d is negative", cfg.MaxFails))
	}
	if cfg.FailTimeout < 0 || cfg.DrainTimeout < 0 {
		errs = append(errs, errors.New("fail and drain timeouts must not be negative"))
	}
	if cfg.Keepalive < 0 {
		errs = append(errs, fmt.Errorf("keepalive %d is negative", cfg.Keepalive))
	}
	if cfg.WorkerUser != "" && !userRE.MatchString(cfg.WorkerUser) {
		errs = append(errs, fmt.Errorf("worker user %q is not a user name", cfg.WorkerUser))
	}
	names := map[string]bool{}
	addrs := map[string]bool{}
	for _, u := range cfg.Upstreams {
		if !replicaNameRE.MatchString(u.Name) {
			errs = append(errs, fmt.Errorf("upstream name %q is not a container name", u.Name))
		}
		if err := validateAddr(u.Addr); err != nil {
			errs = append(errs, fmt.Errorf("upstream %s: %w", u.Name, err))
		}
		// A repeated address would double that replica's share; a
		// repeated name means the caller mixed up two observations.
		if names[u.Name] {
			errs = append(errs, fmt.Errorf("upstream %s is listed twice", u.Name))
		}
		if addrs[u.Addr] {
			errs = append(errs, fmt.Errorf("upstream address %s is listed twice", u.Addr))
		}
		names[u.Name], addrs[u.Addr] = true, true
	}
	return errors.Join(errs...)
}

// validateAddr accepts IP:port only: a host name would be resolved once, at
// reload, and silently go stale.
func validateAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q is not IP:port: %w", addr, err)
	}
	if net.ParseIP(host) == nil {
		return fmt.Errorf("address %q does not start with an IP", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("address %q has no valid port", addr)
	}
	return nil
}

// duration writes d in nginx's time syntax, whole seconds where exact and
// milliseconds (rounded up) otherwise.
func duration(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(int64((d+time.Millisecond-1)/time.Millisecond), 10) + "ms"
}

// TestCommand checks the config at path without touching the running nginx.
// -q keeps the success banner out of the output, so that any output is
// worth reporting.
func TestCommand(path string) []string {
	return []string{"nginx", "-t", "-q", "-c", path}
}

// Capabilities are the only ones the load balancer container keeps (it
// drops all others): nginx's master binds port 80 and switches its
// workers to www-data, and the reload agent, running as root, signals
// those www-data workers to hasten their exit, which takes CAP_KILL. (The
// master needs no CAP_KILL: it tells its workers through their channel.)
func Capabilities() []string {
	return []string{"NET_BIND_SERVICE", "SETUID", "SETGID", "CHOWN", "DAC_OVERRIDE", "KILL"}
}

// ReloadCommand makes the running master re-read ConfigPath: new workers
// start with it and old ones finish their requests, then exit. nginx reads
// the master's PID from the config's pid directive.
func ReloadCommand() []string {
	return []string{"nginx", "-s", "reload", "-c", ConfigPath}
}

// StartCommand runs nginx in the foreground as the container's process. The
// rendered config leaves "daemon" out, since nginx refuses a directive
// given both in the file and with -g.
func StartCommand() []string {
	return []string{"nginx", "-g", "daemon off;", "-c", ConfigPath}
}

// ShuttingDownWorkersCommand prints how many nginx workers of replaced
// configs are still draining. After a reload the controller waits for zero
// (or DrainTimeout) before stopping a replica that just left the upstream.
//
// nginx retitles a draining worker "nginx: worker process is shutting
// down", which shows in /proc/PID/cmdline. The pattern's "dow[n]" matches
// "down" but not itself, so grep and the shell running it never count.
func ShuttingDownWorkersCommand() []string {
	return []string{"/bin/sh", "-c", countShuttingDown}
}

// countShuttingDown prints the number of draining workers; the bracket
// keeps the shell running it from counting itself. The reload agent runs
// it too.
const countShuttingDown = "grep -a -l 'worker process is shutting dow[n]' /proc/[0-9]*/cmdline 2>/dev/null | wc -l"

// ParseCount reads the number ShuttingDownWorkersCommand prints.
func ParseCount(output string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(output))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("parse worker count %q: not a count", strings.TrimSpace(output))
	}
	return n, nil
}

type templateData struct {
	Config
	User            string
	PIDPath         string
	PeersPath       string
	ConfigPath      string
	ControlPort     int
	EmptyPort       int
	FailSeconds     int64
	Tries           int
	Lua             string
	ShutdownTimeout string
}

// The comments in the template end up in the rendered file; they explain
// to someone reading a running load balancer's config why it says what it
// says.
var confTemplate = template.Must(template.New("nginx.conf").Parse(
	`# Rendered by scalerd for ScaleSpec "{{.SpecName}}". Do not edit: a change of
# the healthy replicas rewrites only the peers file ({{.PeersPath}}), which
# the running workers read again without a reload; any other change
# re-renders, tests (nginx -t) and reloads this file.
# The members live in Lua (balancer_by_lua): ndk first, as the lua module
# needs it.
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
user {{.User}};
worker_processes auto;
# Above worker_connections, so that nginx -t does not warn where the soft
# limit is 1024.
worker_rlimit_nofile 8192;
pid {{.PIDPath}};
error_log stderr warn;
{{- if .ShutdownTimeout}}
# Workers of a replaced config get this long to finish in-flight requests.
worker_shutdown_timeout {{.ShutdownTimeout}};
{{- end}}

events {
    worker_connections 4096;
}

http {
    default_type application/octet-stream;
    server_tokens off;
    keepalive_timeout 15s;
{{- if .AccessLog}}
    log_format scaler '$remote_addr [$time_local] "$request" $status $body_bytes_sent '
                      'rt=$request_time upstream=$upstream_addr ust=$upstream_status '
                      'urt=$upstream_response_time id=$request_id_out';
    access_log /dev/stdout scaler buffer=64k flush=1s;
{{- else}}
    access_log off;
{{- end}}

    # Keep a client's X-Request-ID; otherwise use nginx's own.
    map $http_x_request_id $request_id_out {
        default $http_x_request_id;
        ""      $request_id;
    }

    # Shared by all workers: the members, their in-flight counts (least_conn,
    # drains) and max_fails state are the load balancer's, not each worker's.
    lua_shared_dict scaler_balancer 1m;
    init_by_lua_block {
        require "resty.core"
        local balancer = (function()
{{.Lua}}
        end)()
        package.loaded["scaler.balancer"] = balancer
        balancer.configure({ algorithm = "{{.Config.Algorithm}}", max_fails = {{.Config.MaxFails}}, fail_timeout = {{.FailSeconds}}, tries = {{.Tries}}, peers_path = "{{.PeersPath}}", config_path = "{{.ConfigPath}}", empty_port = {{.EmptyPort}} })
        balancer.init()
    }
    init_worker_by_lua_block {
        require("scaler.balancer").init_worker()
    }

    upstream {{.SpecName}} {
        # Never used: balancer_by_lua picks every peer, but nginx wants one
        # server in a block.
        server 0.0.0.1:1 max_fails=0;
        balancer_by_lua_block {
            require("scaler.balancer").balance()
        }
{{- if .Keepalive}}
        # After balancer_by_lua: keepalive wraps the balancer it finds.
        keepalive {{.Keepalive}};
        # Shorter than the idle timeout of common app servers (Node's 5s), so
        # nginx never reuses a connection the app is closing: a POST sent on
        # one would fail and, being non-idempotent, not be retried.
        keepalive_timeout 4s;
{{- end}}
    }

    # scalerd's channel to the balancer: bound to 127.0.0.1 in the load
    # balancer's own network namespace, so neither clients nor replicas reach
    # it. It makes nginx read the peers file, which only scalerd writes, and
    # says what nginx runs; it changes nothing else.
    server {
        listen 127.0.0.1:{{.ControlPort}};
        access_log off;
        location = /scaler/peers {
            content_by_lua_block {
                require("scaler.balancer").reload_peers()
            }
        }
        location = /scaler/inflight {
            content_by_lua_block {
                require("scaler.balancer").inflight()
            }
        }
        location = /scaler/verify {
            content_by_lua_block {
                require("scaler.balancer").verify()
            }
        }
        location / {
            return 404;
        }
    }

    # The answer while no replica is healthy: the balancer sends requests
    # here when it has no members, so that no phase of every request has
    # to check for that case.
    server {
        listen 127.0.0.1:{{.EmptyPort}};
        access_log off;
        location / {
            default_type application/json;
            add_header Retry-After 1 always;
            return 503 '{"error":"no healthy replicas"}\n';
        }
    }

    server {
        # No reuseport: a reload would reset connections still queued on
        # the sockets of the old workers.
        listen {{.ListenPort}};
{{- if .ServerSnippet}}

        # loadBalancer.serverSnippet
        {{.ServerSnippet}}
{{- end}}

        # The load balancer's own liveness, whatever the replicas do.
        location = /healthz {
            access_log off;
            default_type text/plain;
            return 200 "ok\n";
        }

{{- if not .NoStatusPage}}

        location = /nginx-status {
            access_log off;
            stub_status;
        }
{{- end}}

        location / {
            proxy_pass http://{{.SpecName}};
            # HTTP/1.1 without "Connection: close" lets upstream keepalive work.
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-ID $request_id_out;
            # A replica that is gone or failing costs a retry on another one,
            # not a client error. Non-idempotent requests (POST) are retried
            # only if they never reached the replica.
            proxy_connect_timeout 1s;
            proxy_next_upstream error timeout http_502 http_503 http_504;
            proxy_next_upstream_tries {{.Tries}};
            add_header X-Served-By $hostname always;
{{- if not .NoUpstreamHeader}}
            add_header X-Upstream-Server $upstream_addr always;
{{- end}}
            add_header X-Request-ID $request_id_out always;
            # Ends the request's in-flight count and records a failed last
            # attempt for max_fails.
            log_by_lua_block {
                require("scaler.balancer").log()
            }
        }
    }
}
`))

// ReadConfigCommand prints the config the load balancer runs and, after
// PeersSeparator, its peers file, so that a restarted scalerd can take over
// what its predecessor applied (SplitRunning, RunningUpstream).
func ReadConfigCommand() []string {
	return []string{"/bin/sh", "-c", "cat " + ConfigPath + " && echo '" + PeersSeparator + "' && { cat " + PeersPath + " 2>/dev/null || true; }"}
}

// PeersSeparator sits between the config and the peers file in
// ReadConfigCommand's output.
const PeersSeparator = "# ==> scaler peers file <=="

// SplitRunning splits ReadConfigCommand's output into the config and the
// peers file. An output without the separator is taken as a config alone.
func SplitRunning(out []byte) (cfg, peers []byte) {
	sep := []byte("\n" + PeersSeparator + "\n")
	i := bytes.LastIndex(out, sep)
	if i < 0 {
		return out, nil
	}
	return out[:i+1], out[i+len(sep):]
}

// RunningUpstream reads, from ReadConfigCommand's output, the members the
// running nginx uses: replica name -> address. Output from a load balancer
// of an older scalerd, whose config listed them in its upstream block as
// "server ADDR ...; # NAME", is read too. No members gives an empty map.
func RunningUpstream(out []byte) map[string]string {
	cfg, peers := SplitRunning(out)
	if peers == nil {
		return legacyUpstream(cfg)
	}
	return parsePeers(peers)
}

// parsePeers reads a peers file (RenderPeers): replica name -> address.
func parsePeers(peers []byte) map[string]string {
	servers := map[string]string{}
	for _, line := range strings.Split(string(peers), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, addr, ok := strings.Cut(line, " ")
		if ok && name != "" && addr != "" {
			servers[name] = addr
		}
	}
	return servers
}

func legacyUpstream(cfg []byte) map[string]string {
	servers := map[string]string{}
	for _, line := range strings.Split(string(cfg), "\n") {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "server ")
		if !ok {
			continue
		}
		directive, name, ok := strings.Cut(rest, "; # ")
		if !ok || name == "" {
			continue
		}
		addr, _, _ := strings.Cut(directive, " ")
		servers[name] = addr
	}
	return servers
}
