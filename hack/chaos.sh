#!/usr/bin/env bash
# `make chaos`: the fault-injection suite (every TestChaos* and TestChurn* test of test/e2e,
# and the autoscaler with its Prometheus server killed)
# in its long form, against the local Docker Engine, real nginx and Redis,
# under a steady load through the load balancer. It prints RELIABILITY.md's
# table: one row per scenario with the requests sent, those that failed and
# what converged. `make test` runs the same tests in their short form.
#
# usage: hack/chaos.sh                  every scenario (about 15 minutes)
#        CHAOS_RUN=TestChaosRedisStopped hack/chaos.sh
#                                       those matching the -run pattern
#        SCALER_CHAOS_SEED=N            replays the random moments of a run
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

table=$(mktemp)
trap 'rm -f "$table"' EXIT
status=0
SCALER_CHAOS=long SCALER_CHAOS_TABLE=$table \
	go test -count=1 -v -timeout 60m -run "${CHAOS_RUN:-TestChaos|TestChurn|TestAutoscalerPrometheusSource}" ./test/e2e/ || status=$?

echo
echo "Fault injection on $(date -u +%Y-%m-%d), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg):"
echo
echo "| scenario | requests | failed | what converged |"
echo "| --- | --- | --- | --- |"
cat "$table"
exit "$status"
