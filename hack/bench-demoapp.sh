#!/usr/bin/env bash
# Measures demoapp's throughput on GET / with Redis up, the way a client sees
# it: scaler-redis:dev and demoapp:dev in containers on their own network,
# demoapp published on 127.0.0.1 (a port Docker picks), and wrk on the host.
#
# usage: hack/bench-demoapp.sh            (BENCH_DURATION=15s BENCH_CONNECTIONS=64 BENCH_THREADS=2)
#
# The run is checked, not just timed: Redis's visits counter must have grown
# by the number of requests wrk completed, so that a figure measured against
# a degraded app (Redis unreachable, no round trip) is rejected, as are
# non-2xx answers and socket errors.
set -euo pipefail

SCALER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SCALER_ROOT
# shellcheck source=hack/lib.sh
source "$SCALER_ROOT/hack/lib.sh"

readonly DURATION=${BENCH_DURATION:-15s}
readonly CONNECTIONS=${BENCH_CONNECTIONS:-64}
readonly THREADS=${BENCH_THREADS:-2}
readonly LABEL=scaler.dev/test=bench-demoapp
SUFFIX=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
readonly SUFFIX
readonly NET=sctest-bench-$SUFFIX REDIS=sctest-bench-redis-$SUFFIX APP=sctest-bench-app-$SUFFIX

log() { printf 'bench: %s\n' "$*" >&2; }

cleanup() {
	docker rm -f -v "$APP" "$REDIS" >/dev/null 2>&1 || true
	docker network rm "$NET" >/dev/null 2>&1 || true
}

require_wrk() {
	command -v wrk >/dev/null 2>&1 && return
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		log "installing wrk from Debian's packages"
		apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	fi
	command -v wrk >/dev/null 2>&1 || {
		echo "bench: wrk is not installed: apt-get install -y wrk" >&2
		exit 1
	}
}

redis_visits() {
	docker exec "$REDIS" redis-cli get visits
}

main() {
	scaler::require_docker
	require_wrk
	"$SCALER_ROOT/hack/build-images.sh" demoapp redis
	trap cleanup EXIT

	docker network create --label "$LABEL" "$NET" >/dev/null
	docker run -d --name "$REDIS" --label "$LABEL" --network "$NET" --network-alias redis scaler-redis:dev >/dev/null
	docker run -d --name "$APP" --label "$LABEL" --network "$NET" --publish 127.0.0.1::5000 demoapp:dev >/dev/null
	local port
	port=$(docker port "$APP" 5000/tcp | head -n1)
	port=${port##*:}
	local url=http://127.0.0.1:$port/

	local _ body=
	for _ in $(seq 100); do
		body=$(curl -fsS --max-time 1 "$url" 2>/dev/null || true)
		[[ $body == *'"visits":'[0-9]* ]] && break
		sleep 0.2
	done
	if [[ $body != *'"visits":'[0-9]* ]]; then
		log "demoapp did not count a visit in Redis: ${body:-no answer}"
		docker logs "$APP" >&2
		exit 1
	fi
	log "demoapp answers on $url: $body"

	log "warm-up: 3s"
	wrk -t"$THREADS" -c"$CONNECTIONS" -d3s "$url" >/dev/null

	local before after
	before=$(redis_visits)
	local cmd=(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url")
	# The machine may be shared: say how busy it was.
	log "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
	log "running: ${cmd[*]}"
	local out
	out=$("${cmd[@]}")
	printf '%s\n' "$out"
	after=$(redis_visits)

	local requests rps
	requests=$(awk '/requests in/ { print $1 }' <<<"$out")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
		log "FAILED: errors during the run (see above)"
		exit 1
	fi
	local counted=$((after - before))
	# wrk counts only completed responses; requests cut off at the end of the
	# run may have been counted by Redis already, hence at least, not equal.
	if ((counted < requests)); then
		log "FAILED: Redis counted $counted visits for $requests responses: the app served degraded"
		exit 1
	fi
	log "Redis counted $counted visits for $requests responses"
	printf 'demoapp throughput: %s req/s (GET /, Redis up, %s connections, %s)\n' "$rps" "$CONNECTIONS" "$DURATION"
}

main "$@"
