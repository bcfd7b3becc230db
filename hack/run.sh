#!/usr/bin/env bash
# Starts scalerd in the background on the specs in manifests/ and waits until
# the web app serves on http://127.0.0.1:8080/. `make stop` stops the daemon
# (the containers keep running: they are the desired state); `make down`
# removes the stack too.
set -euo pipefail

SCALER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SCALER_ROOT
# shellcheck source=hack/lib.sh
source "$SCALER_ROOT/hack/lib.sh"
cd "$SCALER_ROOT"
scaler::require_docker

run_dir=.scaler
pidfile=$run_dir/scalerd.pid
logfile=$run_dir/scalerd.log
socket=${SCALER_SOCKET:-$run_dir/scalerd.sock}
metrics=${SCALER_METRICS_ADDR:-127.0.0.1:9090}
export SCALER_SOCKET=$socket
mkdir -p "$run_dir"

if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
	echo "scalerd already runs (pid $(cat "$pidfile")); 'make stop' stops it."
else
	echo "starting scalerd on manifests/ (log: $logfile)"
	nohup bin/scalerd --spec-dir manifests --state-dir "$run_dir/state" --socket "$socket" \
		--metrics-addr "$metrics" >>"$logfile" 2>&1 &
	echo $! >"$pidfile"
	for _ in $(seq 100); do
		bin/scalectl get >/dev/null 2>&1 && break
		if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
			echo "scalerd exited; the end of $logfile says why:" >&2
			tail -n 20 "$logfile" >&2
			exit 1
		fi
		sleep 0.1
	done
fi

echo "waiting for redis and web to be ready..."
bin/scalectl rollout status redis --timeout 3m
bin/scalectl rollout status web --timeout 3m
echo
bin/scalectl get -o wide
cat <<MSG

The app serves on http://127.0.0.1:8080/ (try: curl -s localhost:8080/).
scalectl talks to this daemon through SCALER_SOCKET=$socket; for example
  export SCALER_SOCKET=$socket
  bin/scalectl describe web
Edit replicas in manifests/web.yaml, or: make scale-up | scale-down | scale-status
'make stop' stops scalerd and leaves the app running; 'make down' removes it all.
MSG
