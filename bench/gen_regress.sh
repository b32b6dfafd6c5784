#!/usr/bin/env bash
# Generation speed against a baseline revision, side by side in one run: all tables of a profile
# (transaction-flow by default) as CSV, baseline and current runs alternating, REPS each, on 1
# and 2 threads. Prints the median seconds and rows/s of each and the change.
#
#   bash bench/gen_regress.sh                          # baseline 7a7d982 (before issue 10)
#   BASE_REV=abc123 REPS=5 bash bench/gen_regress.sh
#   BASE_BIN=/path/to/old/finseed bash bench/gen_regress.sh   # a baseline binary already built
#
# The baseline is built in a throwaway worktree under $TMPDIR (its target/ starts as a copy of
# this one's, so only what changed is rebuilt) and removed at the end.
#
# Which figure the 15% budget of issue 10 is judged on: total seconds. The two revisions write
# different datasets of the same profile (issue 10's Open Finance history and truthful insights
# change the row counts, mostly of ai_insights), so rows/s compares different work; seconds
# answer the question the budget asks, "how much longer does generating the profile take".
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-transaction-flow}
REPS=${REPS:-3}
BASE_REV=${BASE_REV:-7a7d982}
THREADS=${THREADS:-"1 2"}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/finseed-regress.XXXXXX")
cleanup() {
    rm -rf "$WORK/out"
    if [ -d "$WORK/base" ]; then git worktree remove --force "$WORK/base" >/dev/null 2>&1 || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release --quiet --bin finseed
CUR="$WORK/finseed-current"
cp target/release/finseed "$CUR"
if [ -n "${BASE_BIN:-}" ]; then
    BASE="$BASE_BIN"
else
    git worktree add --detach "$WORK/base" "$BASE_REV" >/dev/null 2>&1
    cp -a target "$WORK/base/"
    (cd "$WORK/base" && cargo build --release --quiet --bin finseed)
    BASE="$WORK/finseed-base"
    cp "$WORK/base/target/release/finseed" "$BASE"
fi
echo "baseline: ${BASE_BIN:-$BASE_REV}; current: $(git rev-parse --short HEAD)$(git diff --quiet || echo +changes)"

# one LABEL BIN THREADS: appends "seconds rows" of a run to $WORK/LABEL-THREADS
one() {
    local label=$1 bin=$2 t=$3
    rm -rf "$WORK/out"
    local s e
    s=$(date +%s.%N)
    "$bin" generate --profile "$PROFILE" --out "$WORK/out" --threads "$t" --quiet >/dev/null
    e=$(date +%s.%N)
    local rows
    rows=$(sed -n 's/.*"rows": \([0-9]*\).*/\1/p' "$WORK/out/manifest.json" | awk '{s+=$1} END {print s}')
    awk -v s="$s" -v e="$e" -v r="$rows" 'BEGIN {printf "%.3f %d\n", e - s, r}' >> "$WORK/$label-$t"
}

for t in $THREADS; do
    for _ in $(seq "$REPS"); do
        one base "$BASE" "$t"
        one current "$CUR" "$t"
    done
done

median() { sort -n "$1" | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }
printf '\n%-10s %7s %12s %8s %12s   %s\n' "$PROFILE" threads rows "seconds" "rows/s" "all runs (s)"
for t in $THREADS; do
    for label in base current; do
        read -r secs rows < <(median "$WORK/$label-$t")
        runs=$(awk '{printf "%s%.2f", (NR>1?" ":""), $1}' "$WORK/$label-$t")
        awk -v l="$label" -v t="$t" -v s="$secs" -v r="$rows" -v a="$runs" \
            'BEGIN {printf "%-10s %7d %12d %8.2f %12.0f   %s\n", l, t, r, s, r/s, a}'
    done
done
echo
for t in $THREADS; do
    read -r bs br < <(median "$WORK/base-$t")
    read -r cs cr < <(median "$WORK/current-$t")
    awk -v t="$t" -v bs="$bs" -v br="$br" -v cs="$cs" -v cr="$cr" 'BEGIN {
        printf "threads %d: seconds %+.1f%% (budget +15%%), rows/s %+.1f%%, rows %+.1f%%\n",
            t, 100*(cs/bs-1), 100*((cr/cs)/(br/bs)-1), 100*(cr/br-1)}'
done
