#!/usr/bin/env bash
# Generation benchmark: finseed writing transactions as CSV vs tpchgen-cli writing TPC-H
# lineitem as CSV, same machine, same thread counts, same run. Prints rows/s, MB/s and peak
# memory (median of REPS runs) side by side.
#
#   bash bench/generate.sh                 # transaction-flow profile (10M transactions), 3 runs
#   PROFILE=small REPS=5 bash bench/generate.sh
#
# tpchgen-cli is the reference (`cargo install tpchgen-cli`); without it only finseed is shown.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-transaction-flow}
REPS=${REPS:-3}
TPCH_SF=${TPCH_SF:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/finseed-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

cargo build --release --quiet
FINSEED=target/release/finseed

# run LABEL THREADS -- command...; records "seconds bytes rows peak_kb" per rep in $WORK/LABEL-THREADS
run() {
    local label=$1 threads=$2 out=$3; shift 3
    for _ in $(seq "$REPS"); do
        rm -rf "$out"
        /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null 2>&1
        local bytes rows
        bytes=$(find "$out" -name '*.csv' -printf '%s\n' | awk '{s+=$1} END {print s}')
        rows=$(( $(find "$out" -name "*.csv" -exec cat {} + | wc -l) - $(find "$out" -name "*.csv" | wc -l) ))
        read -r secs kb < "$WORK/time"
        echo "$secs $bytes $rows $kb" >> "$WORK/$label-$threads"
    done
}

median_line() { sort -n "$1" | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }

for t in 1 2; do
    run finseed "$t" "$WORK/f" "$FINSEED" generate --profile "$PROFILE" --tables transactions \
        --out "$WORK/f" --threads "$t" --quiet
    if command -v tpchgen-cli >/dev/null; then
        run tpchgen "$t" "$WORK/t" tpchgen-cli csv -s "$TPCH_SF" -T lineitem -o "$WORK/t" --num-threads "$t"
    fi
done

printf '\n%-28s %7s %10s %12s %10s %10s\n' "generator ($REPS runs, median)" threads rows "rows/s" "MB/s" "peak MB"
for t in 1 2; do
    for label in finseed tpchgen; do
        f="$WORK/$label-$t"; [ -f "$f" ] || continue
        read -r secs bytes rows kb < <(median_line "$f")
        name=$([ "$label" = finseed ] && echo "finseed transactions.csv" || echo "tpchgen-cli lineitem.csv")
        awk -v n="$name" -v t="$t" -v s="$secs" -v b="$bytes" -v r="$rows" -v k="$kb" \
            'BEGIN {printf "%-28s %7d %10d %12.0f %10.1f %10.1f\n", n, t, r, r/s, b/1e6/s, k/1024}'
        echo "$t $label $(awk -v s="$secs" -v b="$bytes" 'BEGIN {print b/1e6/s}')" >> "$WORK/mbs"
    done
done
if [ -f "$WORK/mbs" ] && grep -q tpchgen "$WORK/mbs"; then
    echo
    for t in 1 2; do
        awk -v t="$t" '$1==t && $2=="finseed" {f=$3} $1==t && $2=="tpchgen" {g=$3}
            END {if (g) printf "threads %d: finseed / tpchgen-cli MB/s = %.2f (target >= 2.00)\n", t, f/g}' "$WORK/mbs"
    done
fi
