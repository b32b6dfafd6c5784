#!/usr/bin/env bash
# Generation benchmark: finseed writing transactions vs tpchgen-cli writing TPC-H lineitem, same
# machine, same thread counts, same run, as CSV and as Parquet with the same compression
# (zstd level 3 by default: ZSTD_LEVEL); and finseed's zstd CSV beside its plain CSV. Prints
# rows/s, MB/s (of the files written) and peak memory (median of REPS runs) side by side.
#
#   bash bench/generate.sh                 # transaction-flow profile (10M transactions), 3 runs
#   PROFILE=small REPS=5 bash bench/generate.sh
#
# tpchgen-cli is the reference (`cargo install tpchgen-cli`); without it only finseed is shown.
# With BASE_REV=REV (or BASE_BIN=PATH) it also runs bench/gen_regress.sh: all tables of the
# profile against that baseline, side by side (issue 10's "slows by at most 15%").
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-transaction-flow}
REPS=${REPS:-3}
TPCH_SF=${TPCH_SF:-2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/finseed-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

cargo build --release --quiet
FINSEED=target/release/finseed

ZSTD_LEVEL=${ZSTD_LEVEL:-3}
# Rows of a tpchgen-cli lineitem output: CSV lines, or the Parquet footer through pyarrow.
PY=${FINSEED_PYTHON:-.ci/venv/bin/python}
count_rows() {
    local out=$1 ext=$2
    if [ -f "$out/manifest.json" ]; then
        sed -n 's/.*"rows": \([0-9]*\).*/\1/p' "$out/manifest.json" | awk '{s+=$1} END {print s}'
    elif [ "$ext" = csv ]; then
        echo $(( $(find "$out" -name "*.csv" -exec cat {} + | wc -l) - $(find "$out" -name "*.csv" | wc -l) ))
    else
        find "$out" -name "*.$ext" -print0 | xargs -0 "$PY" -c \
            'import sys, pyarrow.parquet as pq; print(sum(pq.ParquetFile(f).metadata.num_rows for f in sys.argv[1:]))'
    fi
}

# run LABEL THREADS OUT EXT -- command...; records "seconds bytes rows peak_kb" per rep in $WORK/LABEL-THREADS
run() {
    local label=$1 threads=$2 out=$3 ext=$4; shift 4
    for _ in $(seq "$REPS"); do
        rm -rf "$out"
        /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null 2>&1
        local bytes rows
        bytes=$(find "$out" -name "*.$ext" -printf '%s\n' | awk '{s+=$1} END {print s}')
        rows=$(count_rows "$out" "$ext")
        read -r secs kb < "$WORK/time"
        echo "$secs $bytes $rows $kb" >> "$WORK/$label-$threads"
    done
}

median_line() { sort -n "$1" | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }

GEN=("$FINSEED" generate --profile "$PROFILE" --tables transactions --quiet)
for t in 1 2; do
    run finseed-csv "$t" "$WORK/f" csv "${GEN[@]}" --out "$WORK/f" --threads "$t"
    run finseed-csvzst "$t" "$WORK/z" csv.zst "${GEN[@]}" --out "$WORK/z" --threads "$t" --compression "zstd:$ZSTD_LEVEL"
    run finseed-parquet "$t" "$WORK/p" parquet "${GEN[@]}" --out "$WORK/p" --threads "$t" \
        --format parquet --compression "zstd:$ZSTD_LEVEL"
    if command -v tpchgen-cli >/dev/null; then
        # tpchgen-cli 4.x takes the format as a subcommand; 1.x-2.x took --format.
        if tpchgen-cli --help 2>&1 | grep -q -- '--format'; then
            run tpchgen-csv "$t" "$WORK/t" csv tpchgen-cli -s "$TPCH_SF" -T lineitem --format csv \
                -o "$WORK/t" --num-threads "$t"
            run tpchgen-parquet "$t" "$WORK/tp" parquet tpchgen-cli -s "$TPCH_SF" -T lineitem \
                --format parquet --parquet-compression "ZSTD($ZSTD_LEVEL)" -o "$WORK/tp" --num-threads "$t"
        else
            run tpchgen-csv "$t" "$WORK/t" csv tpchgen-cli csv -s "$TPCH_SF" -T lineitem \
                -o "$WORK/t" --num-threads "$t"
            run tpchgen-parquet "$t" "$WORK/tp" parquet tpchgen-cli parquet -s "$TPCH_SF" -T lineitem \
                -c "ZSTD($ZSTD_LEVEL)" -o "$WORK/tp" --num-threads "$t"
        fi
    fi
done
command -v tpchgen-cli >/dev/null || echo "tpchgen-cli not on PATH (cargo install tpchgen-cli): finseed only"

name_of() {
    case $1 in
        finseed-csv) echo "finseed transactions.csv" ;;
        finseed-csvzst) echo "finseed transactions.csv.zst" ;;
        finseed-parquet) echo "finseed transactions.parquet" ;;
        tpchgen-csv) echo "tpchgen-cli lineitem.csv" ;;
        tpchgen-parquet) echo "tpchgen-cli lineitem.parquet" ;;
    esac
}
printf '\n%-30s %7s %10s %12s %10s %10s\n' "generator ($REPS runs, median)" threads rows "rows/s" "MB/s" "peak MB"
for t in 1 2; do
    for label in finseed-csv finseed-csvzst tpchgen-csv finseed-parquet tpchgen-parquet; do
        f="$WORK/$label-$t"; [ -f "$f" ] || continue
        read -r secs bytes rows kb < <(median_line "$f")
        awk -v n="$(name_of "$label")" -v t="$t" -v s="$secs" -v b="$bytes" -v r="$rows" -v k="$kb" \
            'BEGIN {printf "%-30s %7d %10d %12.0f %10.1f %10.1f\n", n, t, r, r/s, b/1e6/s, k/1024}'
        awk -v s="$secs" -v b="$bytes" -v r="$rows" -v t="$t" -v l="$label" \
            'BEGIN {print t, l, b/1e6/s, r/s}' >> "$WORK/rates"
    done
done
echo
for t in 1 2; do
    awk -v t="$t" '$1==t {mb[$2]=$3; rs[$2]=$4}
        END {
            if (mb["finseed-csv"]) printf "threads %d: zstd CSV %.1f MB/s of compressed output, %.0f rows/s; plain CSV %.1f MB/s, %.0f rows/s (zstd keeps %.0f%% of the row rate)\n", t, mb["finseed-csvzst"], rs["finseed-csvzst"], mb["finseed-csv"], rs["finseed-csv"], 100*rs["finseed-csvzst"]/rs["finseed-csv"]
            if (rs["tpchgen-csv"]) printf "threads %d: finseed / tpchgen-cli CSV MB/s = %.2f (target >= 2.00)\n", t, mb["finseed-csv"]/mb["tpchgen-csv"]
            if (rs["tpchgen-parquet"]) printf "threads %d: finseed / tpchgen-cli Parquet rows/s = %.2f (target >= 2.00)\n", t, rs["finseed-parquet"]/rs["tpchgen-parquet"]
        }' "$WORK/rates"
done
if [ -n "${BASE_REV:-}${BASE_BIN:-}" ]; then
    echo
    PROFILE=$PROFILE REPS=$REPS bash bench/gen_regress.sh
fi
