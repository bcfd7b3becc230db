#!/usr/bin/env bash
# `make fuzz`: every Go fuzz target of the module, one after another, each
# for FUZZTIME (default 60s, as CI runs them). A failure leaves its input
# under the package's testdata/fuzz/, where `go test` replays it from then
# on, and fails this script.
#
# usage: hack/fuzz.sh              every target for 60 s
#        FUZZTIME=10s hack/fuzz.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

fuzztime=${FUZZTIME:-60s}
status=0
found=0
while IFS= read -r pkg; do
	while IFS= read -r target; do
		[[ $target == Fuzz* ]] || continue
		found=$((found + 1))
		echo "fuzz: $pkg $target for $fuzztime"
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"; then
			echo "fuzz: $pkg $target FAILED" >&2
			status=1
		fi
	done < <(go test -list '^Fuzz' "$pkg" 2>/dev/null)
done < <(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u | sed "s|^\.|$(go list -m)|")
echo "fuzz: $found target(s), each for $fuzztime"
((found > 0)) || { echo "fuzz: no target found" >&2; exit 1; }
exit "$status"
