#!/usr/bin/env bash
# `make bench`: every benchmark of BENCHMARKS.md, on the local Docker Engine.
#
#   1. demoapp's own throughput (hack/bench-demoapp.sh, wrk);
#   2. issue 6's zero-downtime benchmark (TestBenchmarks in test/e2e): the
#      scenarios against scaler and against the tutorial's docker-compose +
#      nginx setup in the same run, reaction latency, throughput through
#      nginx, scalerd's footprint and a 0 -> 50 scale-up against compose's,
#      and 1 -> 20 under load side by side (docs/capacity.png). 20 specs of
#      10 replicas brought up together (part many) runs only when named.
#
# The second writes bench/results.json and regenerates the marked section of
# BENCHMARKS.md; the rest of that file is hand-written and left alone.
#
# usage: hack/bench.sh                 everything (15 to 20 minutes)
#        BENCH_ONLY=reaction,throughput hack/bench.sh
#                                      only those parts of the second, without
#                                      hack/bench-demoapp.sh; the results go to
#                                      bench/results.partial.json and the log,
#                                      BENCHMARKS.md is left alone. Parts:
#                                      zero-downtime reaction throughput
#                                      footprint capacity many compose
#
# Figures from a machine that is busy with other work are noisy: the run
# prints the load average it started under, and so does the report.
set -euo pipefail

SCALER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export SCALER_ROOT
# shellcheck source=hack/lib.sh
source "$SCALER_ROOT/hack/lib.sh"
cd "$SCALER_ROOT"

log() { printf 'bench: %s\n' "$*" >&2; }

main() {
	scaler::require_docker
	command -v docker-compose >/dev/null 2>&1 || {
		echo "bench: docker-compose (1.x) is not installed; the baseline needs it: apt-get install -y docker-compose" >&2
		exit 1
	}
	hack/build-images.sh

	if [[ -z ${BENCH_ONLY:-} ]]; then
		hack/bench-demoapp.sh
	fi

	mkdir -p bench
	# A partial run must not replace the full report with part of one.
	local json=bench/results.json markdown=BENCHMARKS.md
	if [[ -n ${BENCH_ONLY:-} ]]; then
		json=bench/results.partial.json markdown=
	fi
	log "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
	log "running the zero-downtime benchmark (test/e2e TestBenchmarks); the full run takes about 10 minutes"
	SCALER_BENCH=1 \
		SCALER_BENCH_ONLY=${BENCH_ONLY:-} \
		SCALER_BENCH_JSON="$SCALER_ROOT/$json" \
		SCALER_BENCH_MARKDOWN="${markdown:+$SCALER_ROOT/$markdown}" \
		go test -count=1 -run '^TestBenchmarks$' -timeout 40m -v ./test/e2e/
	log "wrote $json${markdown:+ and the generated section of $markdown}"
}

main "$@"
