#!/usr/bin/env bash
# mutate.sh: apply each deliberate bug of hack/mutations.txt, one at a time,
# to a copy of the tree, run the unit tests the entry names, and print
# whether the tests caught it. A mutation that survives is a gap in the
# tests: every one gets a test (issue 21). Unit tests only, no Docker; a
# few minutes in all. Not part of CI: `make mutate`.
#
# usage: hack/mutate.sh [LIST] [NAME-FILTER]
#   LIST         the mutation list (default hack/mutations.txt)
#   NAME-FILTER  run only entries whose name contains this text
#
# The copy holds the files git tracks plus untracked ones it does not
# ignore, as they are now (uncommitted edits included); the working tree
# is never changed. Exit status: 0 when every mutation was caught, 1 when
# any survived, was stale or did not build.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
list=${1:-$root/hack/mutations.txt}
filter=${2:-}
per_test_timeout=${MUTATE_TIMEOUT:-5m}

[[ -r $list ]] || { echo "mutate: cannot read the list $list" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/scaler-mutate.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$work"
cd "$work"

# Builds and test caches are shared with the usual ones (GOCACHE), so the
# unchanged packages compile once.
results=()
caught=0 survived=0 broken=0 stale=0

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; s=${s%"${s##*[![:space:]]}"}; printf '%s' "$s"; }

# run_one NAME FILE FROM TO TESTS RUN
run_one() {
	local name=$1 file=$2 from=$3 to=$4 tests=$5 run=$6 outcome
	if [[ -n $filter && $name != *"$filter"* ]]; then
		return
	fi
	if [[ -z $file || -z $from || -z $tests ]]; then
		echo "mutate: entry [$name] lacks file, from or tests" >&2
		exit 2
	fi
	if [[ ! -f $file ]]; then
		outcome="STALE (no file $file)"
		stale=$((stale + 1))
	else
		local count
		count=$(grep -cF -- "$from" "$file" || true)
		if [[ $count != 1 ]]; then
			outcome="STALE (the line is in $file $count times, not once)"
			stale=$((stale + 1))
		else
			cp "$file" "$file.orig"
			FROM=$from TO=$to awk '{
				i = index($0, ENVIRON["FROM"])
				if (i) $0 = substr($0, 1, i - 1) ENVIRON["TO"] substr($0, i + length(ENVIRON["FROM"]))
				print
			}' "$file.orig" >"$file"
			local args=(-count=1 -timeout "$per_test_timeout")
			[[ -n $run ]] && args+=(-run "$run")
			# shellcheck disable=SC2086 # tests may name several packages
			if go test "${args[@]}" $tests >"$work/test.log" 2>&1; then
				outcome="SURVIVED"
				survived=$((survived + 1))
			elif grep -q -e '\[build failed\]' -e '\[setup failed\]' "$work/test.log"; then
				outcome="DOES NOT BUILD (fix the entry)"
				broken=$((broken + 1))
			else
				local failed
				failed=$(grep -o -E '^\s*--- FAIL: [A-Za-z0-9_]+' "$work/test.log" | awk '{print $3}' | sort -u | head -3 | paste -sd, -)
				outcome="caught${failed:+ by $failed}"
				caught=$((caught + 1))
			fi
			mv "$file.orig" "$file"
		fi
	fi
	printf '%-70s %s\n' "$name" "$outcome"
	results+=("| $name | \`$file\` | $outcome |")
}

name='' file='' from='' to='' tests='' run=''
flush() {
	if [[ -n $name ]]; then
		run_one "$name" "$file" "$from" "$to" "$tests" "$run"
	fi
	name='' file='' from='' to='' tests='' run=''
}
echo "mutate: $(grep -c '^\[' "$list") mutations from ${list#"$root"/}, tests in a copy of the tree at $work"
while IFS= read -r line || [[ -n $line ]]; do
	case $line in
	'#'* | '') continue ;;
	'['*']')
		flush
		name=${line#[}
		name=${name%]}
		;;
	*=*)
		key=$(trim "${line%%=*}")
		value=$(trim "${line#*=}")
		case $key in
		file) file=$value ;;
		from) from=$value ;;
		to) to=$value ;;
		tests) tests=$value ;;
		run) run=$value ;;
		*) echo "mutate: unknown key '$key' in [$name]" >&2; exit 2 ;;
		esac
		;;
	*) echo "mutate: cannot read line '$line'" >&2; exit 2 ;;
	esac
done <"$list"
flush

echo
echo "| mutation | file | outcome |"
echo "| --- | --- | --- |"
printf '%s\n' "${results[@]}"
echo
echo "mutate: $caught caught, $survived survived, $stale stale, $broken did not build"
[[ $survived == 0 && $stale == 0 && $broken == 0 ]]
