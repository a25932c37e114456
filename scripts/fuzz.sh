#!/bin/bash
# fuzz.sh - runs tutti's libFuzzer targets (built by `make fuzz-build` into
# build/fuzz/) one after the other, each for a set time, and prints one TAP
# line per target. Called by `make fuzz` and `make fuzz-smoke` (a suite of
# `make test`). The seeds in tests/fuzz/corpus/<target>/ are only read; new
# inputs go to build/fuzz/corpus-<target>/, crashes to build/fuzz/crash-<target>/,
# the fuzzer's output to build/fuzz/<target>.log.
# usage: scripts/fuzz.sh [-t seconds] target...
#   (targets: ws handshake route json tus mp3 wsclient; see docs/fuzzing.md)
#
# Replaying a crash:   build/fuzz/fuzz_ws build/fuzz/crash-ws/crash-<sha1>
# Keeping what a run found (deliberately; only inputs with new coverage
# are added; keep each target's corpus under about 30 files):
#   build/fuzz/fuzz_ws -merge=1 tests/fuzz/corpus/ws build/fuzz/corpus-ws
set -u
cd "$(dirname "$0")/.." || exit 1

SECONDS_EACH=60
if [ "${1:-}" = -t ]; then
	SECONDS_EACH=$2
	shift 2
fi
[ $# -gt 0 ] || { echo "usage: scripts/fuzz.sh [-t seconds] target..." >&2; exit 2; }
FB=$PWD/build/fuzz

# The longest input worth trying per target: past the limit each parser
# enforces (4096-byte messages, 8192-byte request heads and upgrade answers,
# 4096-byte Upload-Metadata), not much further; MP3s as long as the seeds
# and some (a scan's cost grows with the file).
max_len() {
	case $1 in
	ws) echo 16384 ;;
	handshake|wsclient) echo 10240 ;;
	route) echo 2048 ;;
	tus) echo 6144 ;;
	mp3) echo 16384 ;;
	*) echo 4096 ;;
	esac
}

echo "1..$#"
i=0 failed=0
for t in "$@"; do
	i=$((i + 1))
	bin=$FB/fuzz_$t log=$FB/$t.log work=$FB/corpus-$t crash=$FB/crash-$t/
	if [ ! -x "$bin" ]; then
		echo "not ok $i - fuzz_$t: $bin is not built (make fuzz-build)"
		failed=1
		continue
	fi
	mkdir -p "$work" "$crash"
	# The first directory receives new inputs; the seeds are read only.
	# ASan's leak check runs at the end of every input (libFuzzer's default).
	seeds=()
	[ -d "tests/fuzz/corpus/$t" ] && seeds=("tests/fuzz/corpus/$t")
	"$bin" -max_total_time="$SECONDS_EACH" -max_len="$(max_len "$t")" \
	    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$crash" "$work" "${seeds[@]}" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
	if [ "$rc" -eq 0 ]; then
		echo "ok $i - fuzz_$t: ${SECONDS_EACH}s, ${runs:-?} runs, ${speed:-?} exec/s, ${cov:-cov: ?}, no crash or leak"
	else
		echo "not ok $i - fuzz_$t: exit $rc after ${runs:-?} runs; see $log"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' "$log" |
		    head -5 | sed 's/^/#   /'
		failed=1
	fi
done
exit "$failed"
