#!/usr/bin/env bash
# Load benchmark: finseed's create+load steps vs `psql \copy` of the same rows from a CSV file
# (one connection, the usual way), into a fresh local cluster, in the same run.
#
#   bash bench/load.sh                       # transaction-flow's 10M transactions
#   PROFILE=small bash bench/load.sh
#   FULL=1 bash bench/load.sh                # then also a full seed (all tables, all steps)
#
# Each method runs REPS times (default 3), alternating, so the machine's drift hits all alike.
# Prints median seconds, rows/s, finseed's peak memory, and the ratio finseed / psql
# (target <= 0.4), beside the server's own ceiling for the same rows.
#   REPS=5 bash bench/load.sh
#   MAP=1 bash bench/load.sh                 # then also mapped vs native (below)
#   MAP_ONLY=1 bash bench/load.sh            # only mapped vs native, per step
#   FINSEED_BIN=/path/to/finseed bash bench/load.sh   # measure another build
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-transaction-flow}
JOBS=${JOBS:-$(nproc)}
cargo build --release --quiet --bin finseed --example encode_cost
# FINSEED_BIN=path measures another build of finseed (an older commit, say) with this script.
FINSEED=${FINSEED_BIN:-$PWD/target/release/finseed}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/finseed-load.XXXXXX")
chmod 755 "$WORK"
# A fresh embedded cluster of its own, not the user's (finseed keeps one per FINSEED_HOME).
export FINSEED_HOME="$WORK/.finseed"
cleanup() { (cd "$WORK" && "$FINSEED" pg stop >/dev/null 2>&1 || true); rm -rf "$WORK"; }
trap cleanup EXIT
ROOT=$PWD
cd "$WORK"

URL=$("$FINSEED" pg start)
echo "fresh cluster: $URL"
now() { date +%s.%N; }

# Mapped vs native (issue 9): the same profile seeded from an empty database, all steps, into
# finseed's own schema (the tables the example map loads: all but ai_insights) and into
# schemas/examples/financy_app.sql through its map with --defer-constraints (UUID keys, enums,
# cents, jsonb; the team's keys, indexes and trigger dropped and recreated). REPS alternating
# runs; target: mapped <= 1.15 x native.
total() { python3 -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["total_seconds"], 2))' "$1"; }
map_compare() {
    local tables=users,contexts,context_members,categories,budgets,transactions,transaction_splits
    local base=${URL%/*}
    mkdir -p "$WORK/mapruns"
    for rep in $(seq 1 "${REPS:-3}"); do
        psql -q "$URL" -c "DROP DATABASE IF EXISTS native" -c "CREATE DATABASE native" \
            -c "DROP DATABASE IF EXISTS mapped" -c "CREATE DATABASE mapped" -c "CHECKPOINT"
        psql -q "$base/mapped" -f "$ROOT/schemas/examples/financy_app.sql"
        # Alternate which goes first, so a drift in the machine's load hits both alike.
        local order="native mapped"
        [ $((rep % 2)) = 0 ] && order="mapped native"
        for kind in $order; do
            psql -q "$URL" -c "CHECKPOINT"
            if [ "$kind" = native ]; then
                "$FINSEED" seed --profile "$PROFILE" --database-url "$base/native" --tables "$tables" \
                    --jobs "$JOBS" --quiet --json "$WORK/mapruns/native.$rep.json" >/dev/null
            else
                "$FINSEED" seed --profile "$PROFILE" --database-url "$base/mapped" --jobs "$JOBS" --quiet \
                    --map "$ROOT/schemas/examples/financy_app.map.toml" --defer-constraints \
                    --json "$WORK/mapruns/mapped.$rep.json" >/dev/null
            fi
        done
        echo "  run $rep: native $(total "$WORK/mapruns/native.$rep.json") s, mapped $(total "$WORK/mapruns/mapped.$rep.json") s"
    done
    python3 - "$WORK/mapruns" "$PROFILE" "$JOBS" <<'PY'
import glob, json, os, statistics, sys
d, profile, jobs = sys.argv[1:4]
runs = {"native": [], "mapped": []}
for f in sorted(glob.glob(os.path.join(d, "*.json"))):
    runs[os.path.basename(f).split(".")[0]].append(json.load(open(f)))
steps = [s["step"] for s in runs["native"][0]["steps"]]
def med(kind, step=None):
    if step is None:
        return statistics.median(r["total_seconds"] for r in runs[kind])
    return statistics.median(next(s["seconds"] for s in r["steps"] if s["step"] == step) for r in runs[kind])
print(f"\nseed of {profile} (all but ai_insights, all steps, {jobs} connections), median of {len(runs['native'])} alternating runs")
print("  native: finseed's schema, keys and indexes after the load")
print("  mapped: financy_app.sql through its map, --defer-constraints (its keys, FKs, indexes, trigger restored)")
print(f"  {'step':<14} {'native s':>9} {'mapped s':>9} {'mapped/native':>14}")
for s in steps:
    n, m = med("native", s), med("mapped", s)
    print(f"  {s:<14} {n:>9.2f} {m:>9.2f} {m / max(n, 1e-9):>14.2f}")
n, m = med("native"), med("mapped")
print(f"  {'total':<14} {n:>9.2f} {m:>9.2f} {m / n:>14.2f}")
print(f"  mapped / native = {m / n:.2f} (target <= 1.15)")
for kind in ("native", "mapped"):
    print(f"  {kind} totals: " + " ".join(f"{r['total_seconds']:.2f}" for r in runs[kind]))
PY
}
if [ "${MAP_ONLY:-0}" = 1 ]; then
    map_compare
    exit 0
fi
# Generation shares the cores with the server: what it costs alone, before any loading.
ENCODE=$("$ROOT/target/release/examples/encode_cost" "$PROFILE" 100)
echo "generating the CSV for psql..."
"$FINSEED" generate --profile "$PROFILE" --tables transactions --out "$WORK/csv" --quiet
CSV="$WORK/csv/transactions.csv"
chmod -R a+rX "$WORK/csv"
ROWS=$(( $(wc -l < "$CSV") - 1 ))
DDL=$(awk '/CREATE TABLE IF NOT EXISTS transactions \(/,/\);/' "$OLDPWD/schemas/tables.sql")

fresh_table() {
    psql -q "$URL" -c "DROP TABLE IF EXISTS transactions CASCADE" ${1:+-c "$DDL"} -c "CHECKPOINT"
}

# The server's own ceiling for these rows: binary COPY of the same rows from files, two psql
# sessions in parallel, one transaction each, so the client costs next to nothing. finseed
# cannot beat it; the distance to it is what finseed's generation and chunked commits cost.
echo "seeding once to make the binary COPY files for the server-ceiling runs..."
"$FINSEED" seed --profile "$PROFILE" --database-url "$URL" --tables transactions \
    --steps create,load --fresh --quiet >/dev/null
HALF=$(( ROWS / 2 ))
psql -q "$URL" -c "\\copy (SELECT * FROM transactions WHERE id <= $HALF ORDER BY id) TO '$WORK/a.bin' (FORMAT binary)"
psql -q "$URL" -c "\\copy (SELECT * FROM transactions WHERE id > $HALF ORDER BY id) TO '$WORK/b.bin' (FORMAT binary)"

REPS=${REPS:-3}
: > "$WORK/times"
RSS_KB=0
for rep in $(seq 1 "$REPS"); do
    fresh_table ddl
    t0=$(now)
    psql -q "$URL" -c "\\copy transactions FROM '$CSV' WITH (FORMAT csv, HEADER true)"
    echo "psql $(awk -v a="$t0" -v b="$(now)" 'BEGIN {print b - a}')" >> "$WORK/times"

    fresh_table ddl
    t0=$(now)
    psql -q "$URL" -c "\\copy transactions FROM '$WORK/a.bin' (FORMAT binary)" &
    psql -q "$URL" -c "\\copy transactions FROM '$WORK/b.bin' (FORMAT binary)"
    wait
    echo "ceiling $(awk -v a="$t0" -v b="$(now)" 'BEGIN {print b - a}')" >> "$WORK/times"

    fresh_table
    t0=$(now)
    /usr/bin/time -f "%M" -o "$WORK/rss" "$FINSEED" seed --profile "$PROFILE" --database-url "$URL" \
        --tables transactions --steps create,load --jobs "$JOBS" --fresh --quiet >/dev/null
    echo "finseed $(awk -v a="$t0" -v b="$(now)" 'BEGIN {print b - a}')" >> "$WORK/times"
    RSS_KB=$(awk -v a="$RSS_KB" '{print ($1 > a) ? $1 : a}' "$WORK/rss")
    echo "  run $rep of $REPS: $(tail -3 "$WORK/times" | tr '\n' ' ')"
done

python3 - "$WORK/times" "$ROWS" "$PROFILE" "$JOBS" "$RSS_KB" "$REPS" <<'PY'
import statistics, sys
path, rows, profile, jobs, rss_kb, reps = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
runs = {}
for line in open(path):
    k, v = line.split()
    runs.setdefault(k, []).append(float(v))
med = {k: statistics.median(v) for k, v in runs.items()}
label = {
    "psql": "psql \\copy CSV, 1 connection",
    "ceiling": "binary COPY from files, 2 psql, 1 tx each",
    "finseed": f"finseed seed create+load, {jobs} connections",
}
print(f"\nload of {rows} transactions ({profile}), median of {reps} alternating runs")
print(f"{'':<44} {'median s':>9} {'min s':>7} {'max s':>7} {'rows/s':>10} {'peak MB':>8}")
for k in ("psql", "ceiling", "finseed"):
    v = runs[k]
    peak = f"{rss_kb / 1024:.1f}" if k == "finseed" else "-"
    print(f"{label[k]:<44} {med[k]:>9.2f} {min(v):>7.2f} {max(v):>7.2f} {rows / med[k]:>10.0f} {peak:>8}")
print(f"finseed / psql time = {med['finseed'] / med['psql']:.2f} (target <= 0.40)")
print(f"server ceiling / psql time = {med['ceiling'] / med['psql']:.2f} (the best any client could reach)")
print(f"finseed / server ceiling = {med['finseed'] / med['ceiling']:.2f}")
PY
echo "$ENCODE"

if [ "${FULL:-0}" = 1 ]; then
    echo
    echo "full seed of $PROFILE (all tables, all steps):"
    /usr/bin/time -f "%M" -o "$WORK/rss" "$FINSEED" seed --profile "$PROFILE" --database-url "$URL" \
        --jobs "$JOBS" --fresh --quiet --json "$WORK/report.json" 2>&1 | sed 's/^/  /'
    python3 - "$WORK/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for s in r["steps"]:
    rate = f'{s["rows_per_second"]:>12,.0f} rows/s' if s["rows_per_second"] else ""
    print(f'  step {s["step"]:<13} {s["seconds"]:>8.2f} s {rate}')
print(f'  total {r["total_seconds"]:.2f} s')
PY
    echo "  peak memory: $(awk '{printf "%.1f", $1/1024}' "$WORK/rss") MB"
fi

if [ "${MAP:-0}" = 1 ]; then
    map_compare
fi
