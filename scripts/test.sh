#!/bin/bash
# test.sh - runs every tutti test suite and ends with one summary line,
# "N passed, M failed". Each suite prints TAP lines ("ok N - ..." and
# "not ok N - ..."); a suite that exits non-zero without a failing line
# counts as one failure. Logs go to build/test-logs/.
# usage: scripts/test.sh [-u] unit-test-binary ...   (-u: unit tests only)
set -u
cd "$(dirname "$0")/.."

UNIT_ONLY=0
[ "${1:-}" = -u ] && { UNIT_ONLY=1; shift; }
LOGS=$PWD/build/test-logs
mkdir -p "$LOGS"
PASS=0 FAIL=0 FAILED_SUITES=()

# suite NAME CMD...: runs CMD, shows its output, counts its TAP lines.
suite() {
	local name=$1 log="$LOGS/$1.log" rc p f
	shift
	echo "# suite $name"
	"$@" 2>"$log.err" | tee "$log"
	rc=${PIPESTATUS[0]}
	p=$(grep -cE '^ok ' "$log")
	f=$(grep -cE '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - suite $name exited with status $rc (see $log.err)"
		tail -20 "$log.err" | sed 's/^/#   /'
		f=1
	fi
	PASS=$((PASS + p))
	FAIL=$((FAIL + f))
	[ "$f" -eq 0 ] || FAILED_SUITES+=("$name")
}

export CMOCKA_MESSAGE_OUTPUT=TAP
for t in "$@"; do
	suite "unit-$(basename "$t")" "$t"
done
if [ "$UNIT_ONLY" = 0 ]; then
	for t in tests/integration/test_*.py; do
		suite "integration-$(basename "$t" .py)" /usr/bin/python3 "$t"
	done
	for t in tests/faults/test_*.py; do
		suite "faults-$(basename "$t" .py)" /usr/bin/python3 "$t"
	done
	suite conformance /usr/bin/python3 tests/conformance/run.py
	for t in tests/e2e/*.test.mjs; do
		suite "e2e-$(basename "$t" .test.mjs)" /usr/bin/python3 tests/integration/stack.py e2e tests/e2e/run.sh "$(basename "$t")"
	done
	suite fuzz make --no-print-directory -s fuzz-smoke
fi

echo
[ ${#FAILED_SUITES[@]} -eq 0 ] || echo "failing suites: ${FAILED_SUITES[*]}"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
