#!/usr/bin/env bash
# Runs the property tests of tests/fuzz_inputs.rs (profile parser, connection strings, query-file
# headers, --thresholds and --baseline readers) for DURATION seconds (default 600), in rounds of
# CASES cases per property (default 20000), each round with a fresh random seed, and prints the
# cases run and the failures. Exit 0 when nothing failed.
#
#   bash bench/fuzz.sh                 # ten minutes
#   DURATION=60 CASES=5000 bash bench/fuzz.sh
set -uo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-600}
CASES=${CASES:-20000}
LOG=$(mktemp "${TMPDIR:-/tmp}/finseed-fuzz.XXXXXX")
trap 'rm -f "$LOG"' EXIT

# Build once and run the test binary itself, so rounds do not hold cargo's build lock.
BIN=$(cargo test --release --test fuzz_inputs --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*fuzz_inputs[^"]*\)".*/\1/p' | tail -1)
[ -x "$BIN" ] || { echo "could not build tests/fuzz_inputs.rs" >&2; exit 1; }
start=$(date +%s)
rounds=0 cases=0 failed_rounds=0 properties=0
while [ $(( $(date +%s) - start )) -lt "$DURATION" ]; do
    rounds=$((rounds + 1))
    PROPTEST_CASES=$CASES "$BIN" --quiet >"$LOG" 2>&1
    status=$?
    passed=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' "$LOG" | tail -1)
    failed=$(sed -n 's/^test result: .* \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' "$LOG" | tail -1)
    properties=$(( ${passed:-0} + ${failed:-0} ))
    cases=$(( cases + properties * CASES ))
    if [ "$status" -ne 0 ]; then
        failed_rounds=$((failed_rounds + 1))
        echo "round $rounds: FAILED (${failed:-?} properties); minimal failing inputs:"
        grep -E "minimal failing input|panicked|Test failed" "$LOG" | head -20
    else
        echo "round $rounds: $properties properties x $CASES cases passed ($(( $(date +%s) - start )) s)"
    fi
done
echo "fuzz: $rounds rounds, $cases cases run, $failed_rounds rounds with failures in $(( $(date +%s) - start )) s"
[ "$failed_rounds" -eq 0 ]
