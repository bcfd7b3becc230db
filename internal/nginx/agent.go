package nginx

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// The reload agent is a shell loop that scalerd starts once in each load
// balancer (one long-lived Docker exec) and then feeds requests on its
// stdin. Every reload through a fresh exec cost about 80 ms of Engine work
// (exec create, attach, runc exec, inspect) plus about 100 ms to copy the
// candidate in through the archive API, measured on Engine 20.10; through
// the agent a reload costs what nginx -t costs, and the config travels on
// the same stream.
//
// Requests are one line, possibly followed by a body:
//
//	apply <n> [<m>]\n<n lines of config><m lines of peers>
//	                                 test the config; only if it passes write the peers
//	                                 file (when m is given) and the config, SIGHUP the master
//	peers <m>\n<m lines of peers>    write the peers file and ask the running workers
//	                                 to read it (no reload); the text is nginx's answer
//	draining\n                       count the workers of replaced configs still running
//	                                 plus the requests in flight to removed members
//	verify\n                         say what nginx runs (the text is VerifyPath's
//	                                 line, see ParseVerify)
//
// and each gets exactly one reply line:
//
//	scaler-reply <code> <text>
//
// with code 0 (done; for draining the text is the count), RejectedCode
// (the config failed nginx -t and was not applied; the text is nginx's
// message; the one-exec reload script exits with the same code) or any other code for a failure of the agent itself, which the
// controller answers by falling back to one exec per reload. The agent
// prints AgentReady once it runs.
//
// An apply starts one process, nginx -t: the body is read and written with
// the shell's own read, printf and redirections, and the master is
// signalled with its kill. Every process started in a container whose root
// file system is fuse-overlayfs pays for its file lookups in the FUSE
// daemon, which a loaded machine schedules late (an apply with head and mv
// around nginx -t took 75 to 330 ms under the reaction benchmark's load).
// The shell reads its input byte by byte, so one request's body never
// swallows the next. The config is written in place rather than renamed
// (mv is a process too): nginx reads it only when signalled, and the
// write is one system call.
//
// After signalling the master, the agent hastens the old workers' exit.
// nginx's master starts the new workers, then sleeps 100 ms ("allow new
// processes to start") before it tells the old ones to shut down, and until
// then the old workers keep serving their keep-alive clients with the old
// upstream: a new replica got its first request 100 ms late, a removed one
// kept getting requests (which nginx retried elsewhere). A background
// subshell of the agent (a fork, no new program) watches /proc for the
// first worker of the new config and sends the old workers QUIT, the
// signal the master sends them 100 ms later anyway: the same graceful
// shutdown, in-flight requests finish. Measured on one container of the
// image, a keep-alive client saw a new config 120-124 ms after the apply
// request without this, 21-29 ms with it. The watch writes what it did to
// HastenLog, emptied before the reply so that a reader never sees the
// previous reload's line (the job's own redirection happens after the
// fork, some time later). When no new worker
// appears (the master failed to load the config after all), the watch
// gives up after hastenScans scans of /proc and, in bash, hastenSeconds,
// and nothing is signalled. The order matters: a new worker exists only once
// the master is inside its reload, where it holds its signals until it has
// marked the old workers as exiting, so an old worker that exits early is
// reaped as one that was told to, not respawned (TestReloadAgentInNginx
// sees the respawn when the watch signals too soon).
//
// It runs in bash when the image has it, and then reaches nginx's control
// listener (127.0.0.1:ControlPort) with bash's /dev/tcp, without starting a
// process. In a POSIX shell alone (dash, busybox ash) apply still works,
// while peers and draining fail with an agent error, since they need that
// listener. grep and wc count the draining workers.
const (
	AgentReady   = "scaler-agent ready"
	replyPrefix  = "scaler-reply "
	ReplyOK      = 0
	RejectedCode = 3

	// hastenScans bounds the agent's watch for the new workers: each scan
	// of /proc took about 0.85 ms in the nginx container under dash, 3 ms
	// under bash at load average 26. In bash the watch goes on for at least
	// hastenSeconds (bash's SECONDS, whole seconds, so 2 to 3 s): with the
	// lua module the master took 1.2 to 1.5 s to start the new workers at
	// that load.
	hastenScans   = 600
	hastenSeconds = 3
)

// HastenLog holds what the agent's last watch for new workers did: "quit"
// and the old workers' PIDs, "no new workers", or kill's error.
const HastenLog = ConfigDir + "/hasten.out"

// AgentCommand starts the reload agent, in bash where there is one.
func AgentCommand() []string {
	return []string{"/bin/sh", "-c", `if command -v bash >/dev/null 2>&1; then exec bash -c "$1"; fi; exec /bin/sh -c "$1"`, "sh", agentScript()}
}

// pokeFunc defines poke PATH, which sends GET PATH to nginx's control
// listener and prints the first line of the body; it fails, printing why,
// unless nginx answered 200. It needs bash (/dev/tcp, read -t).
var pokeFunc = fmt.Sprintf(`poke() {
  # A POSIX shell exits on exec's failed redirection, and has no /dev/tcp.
  [ -n "$BASH_VERSION" ] || { echo "the agent runs without bash, which it needs to reach nginx"; return 1; }
  { exec 3<>/dev/tcp/127.0.0.1/%[1]d; } 2>/dev/null || { echo "cannot reach nginx on 127.0.0.1:%[1]d"; return 1; }
  printf 'GET %%s HTTP/1.0\r\nHost: scaler\r\n\r\n' "$1" >&3
  st=; body=; l=
  IFS= read -r -t 5 st <&3
  while IFS= read -r -t 5 l <&3; do [ "$l" = $'\r' ] && break; done
  IFS= read -r -t 5 body <&3
  exec 3<&-
  case $st in "HTTP/1.1 200"*) echo "$body"; return 0;; esac
  echo "nginx answered ${st%%$'\r'}: $body"; return 1
}
`, ControlPort)

func agentScript() string {
	return fmt.Sprintf(`C=%s; N=%s; P=%s; E=%s; H=%[9]s; F=%[10]s
%[11]s
# hasten MASTER OLD: once a worker of the new config runs (a child of the
# master not in OLD), ask the old workers to finish gracefully (QUIT),
# which the master itself does only 100 ms after starting the new ones.
hasten() {
  t=0; end=$((${SECONDS:-0} + %[14]d))
  while [ "$t" -lt %[8]d ] || { [ -n "$BASH_VERSION" ] && [ "$SECONDS" -lt "$end" ]; }; do
    for d in /proc/[0-9]*; do
      case "$2" in *" ${d#/proc/} "*) continue;; esac
      read -r _ _ _ pp _ 2>/dev/null < "$d/stat" || continue
      if [ "$pp" = "$1" ]; then [ -z "${2# }" ] || kill -QUIT $2 && echo "quit$2"; return; fi
    done
    t=$((t+1))
  done
  echo 'no new workers'
}
echo '%[5]s'
# readlines COUNT: the next COUNT lines of stdin into $body; fails if
# fewer came.
readlines() {
  body=; i=0
  while [ "$i" -lt "$1" ] && IFS= read -r line; do body="$body$line
"; i=$((i+1)); done
  [ "$i" -eq "$1" ]
}
while IFS=' ' read -r req n m; do
  case $req in
  apply)
    if ! readlines "$n"; then echo "scaler-reply 2 the config ended after $i of $n lines"; continue; fi
    cfg=$body; peers=
    if [ -n "$m" ]; then
      if ! readlines "$m"; then echo "scaler-reply 2 the peers ended after $i of $m lines"; continue; fi
      peers=$body
    fi
    if ! printf '%%s' "$cfg" > "$N"; then echo "scaler-reply 2 could not write $N"; continue; fi
    if nginx -t -q -c "$N" > "$E" 2>&1; then
      # The master reads the peers file when it loads the config.
      if [ -n "$m" ] && ! printf '%%s' "$peers" > "$F"; then echo "scaler-reply 1 could not write $F"; continue; fi
      if printf '%%s' "$cfg" > "$C" && read -r pid < "$P"; then
        old=' '; for d in /proc/[0-9]*; do read -r _ _ _ pp _ 2>/dev/null < "$d/stat" && [ "$pp" = "$pid" ] && old="$old${d#/proc/} "; done
        if kill -HUP "$pid"; then
          : > "$H"; hasten "$pid" "$old" < /dev/null > "$H" 2>&1 &
          echo 'scaler-reply 0 reloaded'
        else echo "scaler-reply 1 could not signal the nginx master (pid $pid)"; fi
      else echo "scaler-reply 1 could not signal the nginx master (pid file $P)"; fi
    else
      msg=; while IFS= read -r l; do msg="$msg $l"; done < "$E"
      printf 'scaler-reply %[6]d%%s\n' "$msg"
    fi;;
  peers)
    if ! readlines "$n"; then echo "scaler-reply 2 the peers ended after $i of $n lines"; continue; fi
    if ! printf '%%s' "$body" > "$F"; then echo "scaler-reply 1 could not write $F"; continue; fi
    if out=$(poke %[12]s); then echo "scaler-reply 0 $out"; else echo "scaler-reply 1 $out"; fi;;
  draining)
    w=$(%[7]s)
    if out=$(poke %[13]s); then echo "scaler-reply 0 $((w + out))"; else echo "scaler-reply 1 $out"; fi;;
  verify)
    if out=$(poke %[15]s); then echo "scaler-reply 0 $out"; else echo "scaler-reply 1 $out"; fi;;
  *) echo "scaler-reply 2 unknown request $req";;
  esac
done
`, ConfigPath, CandidatePath, PIDPath, ConfigDir+"/nginx-t.out", AgentReady, RejectedCode, countShuttingDown, hastenScans, HastenLog,
		PeersPath, pokeFunc, PeersReloadPath, InflightPath, hastenSeconds, VerifyPath)
}

// ApplyRequest is the agent request that applies cfg and, unless peers is
// nil, writes peers as the peers file that the reloaded master reads.
// Text that does not end in a newline gets one, so that its last line
// counts.
func ApplyRequest(cfg, peers []byte) []byte {
	cfg = withNewline(cfg)
	head := "apply " + strconv.Itoa(bytes.Count(cfg, []byte{'\n'}))
	if peers == nil {
		return append([]byte(head+"\n"), cfg...)
	}
	peers = withNewline(peers)
	head += " " + strconv.Itoa(bytes.Count(peers, []byte{'\n'})) + "\n"
	return append(append([]byte(head), cfg...), peers...)
}

// PeersRequest is the agent request that makes the running nginx use
// peers (RenderPeers) without a reload.
func PeersRequest(peers []byte) []byte {
	peers = withNewline(peers)
	head := "peers " + strconv.Itoa(bytes.Count(peers, []byte{'\n'})) + "\n"
	return append([]byte(head), peers...)
}

func withNewline(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return append(b[:len(b):len(b)], '\n')
	}
	return b
}

// PeersCommand is the one exec that does what PeersRequest does, for when
// the agent is down: it writes peers as the peers file and asks the
// running workers to read it. It needs bash.
func PeersCommand(peers []byte) []string {
	return []string{"bash", "-c", pokeFunc + "printf '%s' \"$1\" > " + PeersPath + " && poke " + PeersReloadPath, "bash", string(peers)}
}

// DrainingCommand prints what the agent's draining request answers: the
// workers of replaced configs still running plus the requests in flight
// to removed members. It needs bash.
func DrainingCommand() []string {
	return []string{"bash", "-c", pokeFunc + "w=$(" + countShuttingDown + ") && out=$(poke " + InflightPath + ") && echo $((w + out)) || { echo \"$out\"; exit 1; }"}
}

// VerifyRequest asks what nginx runs (ParseVerify reads the reply's text).
func VerifyRequest() []byte { return []byte("verify\n") }

// VerifyCommand prints what the agent's verify request answers, for when
// the agent is down. It needs bash.
func VerifyCommand() []string {
	return []string{"bash", "-c", pokeFunc + "poke " + VerifyPath}
}

// DrainingRequest asks how many workers of replaced configs still run.
func DrainingRequest() []byte { return []byte("draining\n") }

// ParseReply reads one reply line of the agent.
func ParseReply(line string) (code int, text string, err error) {
	line = strings.TrimRight(line, "\r\n")
	rest, ok := strings.CutPrefix(line, replyPrefix)
	if !ok {
		return 0, "", fmt.Errorf("reload agent: unexpected output %q", line)
	}
	num, text, _ := strings.Cut(rest, " ")
	code, err = strconv.Atoi(num)
	if err != nil {
		return 0, "", fmt.Errorf("reload agent: bad reply code in %q", line)
	}
	return code, strings.TrimSpace(text), nil
}
