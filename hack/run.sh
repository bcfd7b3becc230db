#!/usr/bin/env bash
# Starts scalerd in the background on the specs of manifests/ and waits until
# the web app serves on http://127.0.0.1:8080/. `make stop` stops the daemon
# (the containers keep running: they are the desired state); `make down`
# removes the stack too.
#
# Redis requires a password, which is no secret once committed: on first run
# this generates one into .scaler/redis-password (0600), and copies each
# manifest into .scaler/specs/ (0700, files 0600) with ${REDIS_PASSWORD}
# filled in. scalerd watches that copy. A manifest is copied again when it is
# newer than its copy, so an edit of manifests/ takes effect at the next
# `make run`, and a `scalectl scale` (which edits the copy) survives it.
set -euo pipefail

SCALER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SCALER_ROOT
# shellcheck source=hack/lib.sh
source "$SCALER_ROOT/hack/lib.sh"
cd "$SCALER_ROOT"
scaler::require_docker

run_dir=.scaler
spec_dir=$run_dir/specs
password_file=$run_dir/redis-password
pidfile=$run_dir/scalerd.pid
logfile=$run_dir/scalerd.log
socket=${SCALER_SOCKET:-$run_dir/scalerd.sock}
metrics=${SCALER_METRICS_ADDR:-127.0.0.1:9090}
export SCALER_SOCKET=$socket
mkdir -p "$run_dir"
# scalerd listens only in a directory closed to other users.
chmod 700 "$run_dir"

# 24 random bytes as hex: 192 bits, and nothing that sed or YAML would read
# as syntax.
if [[ ! -s $password_file ]]; then
	(umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$password_file.tmp")
	mv "$password_file.tmp" "$password_file"
	echo "generated a Redis password into $password_file"
fi
chmod 600 "$password_file"
password=$(<"$password_file")
if [[ ! $password =~ ^[A-Za-z0-9]{16,}$ ]]; then
	echo "$password_file must hold one password of at least 16 letters and digits; remove it to get a new one" >&2
	exit 1
fi

mkdir -p "$spec_dir"
chmod 700 "$spec_dir"
for src in manifests/*.yaml; do
	dst=$spec_dir/$(basename "$src")
	if [[ -f $dst && ! $src -nt $dst && ! $password_file -nt $dst ]]; then
		continue
	fi
	# A dotfile named as scalerd's own temp files: scalerd ignores it while
	# it is written, and removes it at start if a kill left it behind.
	tmp=$spec_dir/.scaler-run-$(basename "$src").tmp
	(umask 077 && sed 's/"\${REDIS_PASSWORD}"/"'"$password"'"/g' "$src" >"$tmp")
	mv "$tmp" "$dst"
	echo "$src -> $dst"
done

if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
	echo "scalerd already runs (pid $(cat "$pidfile")); 'make stop' stops it."
	# One started by an older make run watches manifests/ itself, with no
	# password filled in.
	if ! tr '\0' '\n' <"/proc/$(cat "$pidfile")/cmdline" 2>/dev/null | grep -x "$spec_dir" >/dev/null; then
		echo "It does not watch $spec_dir/: 'make stop' then 'make run' to move it there." >&2
	fi
else
	echo "starting scalerd on $spec_dir/ (log: $logfile)"
	nohup bin/scalerd --spec-dir "$spec_dir" --state-dir "$run_dir/state" --socket "$socket" \
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
scalectl finds this daemon by itself from any directory of this checkout
($(realpath -m "$socket")). It is bin/scalectl; to type plain scalectl, as
README.md does:
  export PATH="$SCALER_ROOT/bin:\$PATH"
  scalectl describe web
Edit replicas in $spec_dir/web.yaml (scalerd's copy of manifests/web.yaml), or:
make scale-up | scale-down | scale-status. An edit of manifests/ takes effect
at the next 'make run'.
'make stop' stops scalerd and leaves the app running; 'make down' removes it all.
MSG
