#!/usr/bin/env bash
# Stops the scalerd that `make run` started and, with --all, removes the
# containers and network of its stack (instance "default").
set -euo pipefail

SCALER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$SCALER_ROOT"
pidfile=.scaler/scalerd.pid

if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
	kill -TERM "$(cat "$pidfile")"
	for _ in $(seq 50); do
		kill -0 "$(cat "$pidfile")" 2>/dev/null || break
		sleep 0.1
	done
	echo "scalerd stopped"
fi
rm -f "$pidfile"

if [[ ${1:-} == --all ]]; then
	ids=$(docker ps -aq --filter label=scaler.dev/managed-by=scalerd --filter label=scaler.dev/instance=default)
	if [[ -n $ids ]]; then
		# shellcheck disable=SC2086
		docker rm -f -v $ids >/dev/null
		echo "removed $(wc -w <<<"$ids") containers"
	fi
	docker network ls -q --filter label=scaler.dev/managed-by=scalerd --filter label=scaler.dev/instance=default |
		xargs -r docker network rm >/dev/null
fi
