#!/usr/bin/env bash
# Load benchmark: finseed's create+load steps against `psql \copy` of the same rows from a CSV file
# (one connection, the usual way) and against the server's own ceilings, into a fresh local
# cluster (finseed's embedded one: wal_level = minimal), in the same run.
#
#   bash bench/load.sh                       # transaction-flow's 10M transactions
#   PROFILE=small bash bench/load.sh
#
# Each method runs REPS times (default 3), alternating, so the machine's drift hits all alike:
#   psql      \copy CSV into the plain table, one connection
#   ceiling   binary COPY of the same rows from files, 2 psql sessions, 1 transaction each
#   finseed   finseed seed --steps create,load, plain layout (chunk by chunk, resumable)
#   fceiling  the partitioned layout's server ceiling: per month, CREATE TABLE + binary
#             COPY … FREEZE from a file + ATTACH, 2 psql sessions (months alternating),
#             1 transaction each, as finseed's frozen path does
#   frozen    finseed seed --layout partitioned --steps create,load (the frozen path)
# Prints median seconds, rows/s, finseed's peak memory, and the targets of issue 13:
# finseed plain <= 1.05 x ceiling, finseed partitioned <= 0.35 x psql.
#   REPS=5 bash bench/load.sh
#   FULL=1 bash bench/load.sh                # then also a full seed (all tables, all steps)
#   PROFILE=volume FULL_ONLY=1 bash bench/load.sh   # only the full seed: volume < 7 min, < 300 MB
#   LAYOUT=plain FULL_ONLY=1 bash bench/load.sh     # the full seed's layout (partitioned by default)
#   MAP=1 bash bench/load.sh                 # then also mapped vs native (below)
#   MAP_ONLY=1 bash bench/load.sh            # only mapped vs native, per step
#   MAP_SCHEMA=app.sql MAP_FILE=app.map.toml MAP_ONLY=1 bash bench/load.sh   # another target
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
# runs; target: mapped <= 1.15 x native. The native seed leaves out the rollups step: a map
# builds no derived tables, so both do the same work (load, keys, foreign keys, indexes,
# analyze). Then the server's own share: the same transactions as binary COPY files, native
# rows and the example's ledger_entries rows, loaded from files by 2 psql sessions into bare
# tables (no keys, indexes or triggers, as --defer-constraints loads), alternating.
# MAP_SCHEMA and MAP_FILE: another target schema and its map (default: the example's).
MAP_SCHEMA=${MAP_SCHEMA:-$ROOT/schemas/examples/financy_app.sql}
MAP_FILE=${MAP_FILE:-$ROOT/schemas/examples/financy_app.map.toml}
total() { python3 -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["total_seconds"], 2))' "$1"; }
map_compare() {
    local tables=users,contexts,context_members,categories,budgets,transactions,transaction_splits
    local base=${URL%/*}
    mkdir -p "$WORK/mapruns"
    for rep in $(seq 1 "${REPS:-3}"); do
        psql -q "$URL" -c "DROP DATABASE IF EXISTS native" -c "CREATE DATABASE native" \
            -c "DROP DATABASE IF EXISTS mapped" -c "CREATE DATABASE mapped" -c "CHECKPOINT"
        psql -q "$base/mapped" -f "$MAP_SCHEMA"
        # Alternate which goes first, so a drift in the machine's load hits both alike.
        local order="native mapped"
        [ $((rep % 2)) = 0 ] && order="mapped native"
        for kind in $order; do
            psql -q "$URL" -c "CHECKPOINT"
            if [ "$kind" = native ]; then
                "$FINSEED" seed --profile "$PROFILE" --database-url "$base/native" --tables "$tables" \
                    --steps create,load,primary_keys,foreign_keys,indexes,analyze \
                    --jobs "$JOBS" --quiet --json "$WORK/mapruns/native.$rep.json" >/dev/null
            else
                "$FINSEED" seed --profile "$PROFILE" --database-url "$base/mapped" --jobs "$JOBS" --quiet \
                    --map "$MAP_FILE" --defer-constraints \
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
    map_ceiling "$base"
}
# The server's own cost of each kind of row: transactions from the native database and
# ledger_entries from the mapped one as binary COPY files (two halves each), then REPS
# alternating loads of each into a bare copy of its table (LIKE … INCLUDING DEFAULTS: no keys,
# checks, indexes or triggers), 2 psql sessions at once, as finseed's load sends them.
map_ceiling() {
    local base=$1 kind db table half
    for kind in native mapped; do
        db="$base/$kind"; table=transactions; [ "$kind" = mapped ] && table=ledger_entries
        psql -q "$db" -c "DROP TABLE IF EXISTS bare" -c "CREATE TABLE bare (LIKE $table INCLUDING DEFAULTS)"
        half=$(psql -At "$db" -c "SELECT count(*) / 2 FROM $table")
        psql -q "$db" -c "\\copy (SELECT * FROM $table ORDER BY ctid LIMIT $half) TO '$WORK/$kind.a.bin' (FORMAT binary)"
        psql -q "$db" -c "\\copy (SELECT * FROM $table ORDER BY ctid OFFSET $half) TO '$WORK/$kind.b.bin' (FORMAT binary)"
    done
    : > "$WORK/ceil"
    for rep in $(seq 1 "${REPS:-3}"); do
        for kind in native mapped; do
            db="$base/$kind"
            psql -q "$db" -c "TRUNCATE bare" -c "CHECKPOINT"
            local t0; t0=$(now)
            psql -q "$db" -c "\\copy bare FROM '$WORK/$kind.a.bin' (FORMAT binary)" &
            psql -q "$db" -c "\\copy bare FROM '$WORK/$kind.b.bin' (FORMAT binary)"
            wait
            echo "$kind $(awk -v a="$t0" -v b="$(now)" 'BEGIN {print b - a}')" >> "$WORK/ceil"
        done
    done
    for kind in native mapped; do
        psql -q "$base/$kind" -c "DROP TABLE bare"
    done
    local sizes
    sizes=$(stat -c %s "$WORK"/native.a.bin "$WORK"/native.b.bin "$WORK"/mapped.a.bin "$WORK"/mapped.b.bin | paste -sd" ")
    python3 - "$WORK/ceil" $sizes <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    runs.setdefault(k, []).append(float(v))
n, m = statistics.median(runs["native"]), statistics.median(runs["mapped"])
nb = (int(sys.argv[2]) + int(sys.argv[3])) / 1e6
mb = (int(sys.argv[4]) + int(sys.argv[5])) / 1e6
print("\nserver alone: the transactions as binary COPY files, 2 psql into a bare table, alternating")
print(f"  native transactions     {n:8.2f} s  {nb:8.1f} MB  runs " + " ".join(f"{x:.2f}" for x in runs["native"]))
print(f"  mapped ledger_entries   {m:8.2f} s  {mb:8.1f} MB  runs " + " ".join(f"{x:.2f}" for x in runs["mapped"]))
print(f"  server ceiling mapped / native = {m / n:.2f}")
PY
}
# A full seed (all tables, all steps) of $PROFILE in $LAYOUT, with each step's time and the peak
# memory; on `volume` beside issue 13's targets (under 7 minutes, under 300 MB).
full_seed() {
    local layout=${LAYOUT:-partitioned}
    echo
    echo "full seed of $PROFILE, $layout layout (all tables, all steps, $JOBS connections):"
    /usr/bin/time -f "%M" -o "$WORK/rss" "$FINSEED" seed --profile "$PROFILE" --layout "$layout" \
        --database-url "$URL" --jobs "$JOBS" --fresh --quiet --json "$WORK/report.json" 2>&1 | sed 's/^/  /'
    python3 - "$WORK/report.json" "$WORK/rss" "$PROFILE" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
rss_mb = int(open(sys.argv[2]).read().split()[-1]) / 1024
for s in r["steps"]:
    rate = f'{s["rows_per_second"]:>12,.0f} rows/s' if s["rows_per_second"] else ""
    print(f'  step {s["step"]:<13} {s["seconds"]:>8.2f} s {rate}')
    if s.get("detail"):
        print(f'       {s["detail"]}')
t = r["total_seconds"]
print(f'  total {t:.2f} s ({t / 60:.1f} min), peak memory {rss_mb:.1f} MB')
if sys.argv[3] == "volume":
    print(f'  targets: total {t:.0f} s vs 420 s ({"met" if t < 420 else "NOT met"}), '
          f'peak memory {rss_mb:.0f} MB vs 300 MB ({"met" if rss_mb < 300 else "NOT met"})')
PY
}
if [ "${MAP_ONLY:-0}" = 1 ]; then
    map_compare
    exit 0
fi
if [ "${FULL_ONLY:-0}" = 1 ]; then
    full_seed
    exit 0
fi
# Generation shares the cores with the server: what it costs alone, before any loading.
ENCODE=$("$ROOT/target/release/examples/encode_cost" "$PROFILE" 100)
echo "generating the CSV for psql..."
"$FINSEED" generate --profile "$PROFILE" --tables transactions --out "$WORK/csv" --quiet
CSV="$WORK/csv/transactions.csv"
chmod -R a+rX "$WORK/csv"
ROWS=$(( $(wc -l < "$CSV") - 1 ))
DDL=$(awk '/CREATE TABLE IF NOT EXISTS transactions \(/,/\);/' "$ROOT/schemas/tables.sql")
PDDL=$(awk '/CREATE TABLE IF NOT EXISTS transactions \(/,/\);/' "$ROOT/schemas/partitioned.sql")

fresh_table() {
    psql -q "$URL" -c "DROP TABLE IF EXISTS transactions CASCADE" ${1:+-c "$1"} -c "CHECKPOINT"
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
# The partitioned ceiling's files: one per month, and two psql scripts that each create, fill
# (COPY FREEZE) and attach every other month in one transaction.
psql -At "$URL" -c "SELECT to_char(m, 'YYYY_MM'), m::date, (m + interval '1 month')::date
    FROM (SELECT DISTINCT date_trunc('month', transaction_date) AS m FROM transactions) s ORDER BY 1" > "$WORK/months"
printf 'BEGIN;\n' > "$WORK/f0.sql"
printf 'BEGIN;\n' > "$WORK/f1.sql"
: > "$WORK/attach0.sql"
: > "$WORK/attach1.sql"
k=0
while IFS='|' read -r sfx lo hi; do
    part="transactions_p$sfx"
    psql -q "$URL" -c "\\copy (SELECT * FROM transactions WHERE transaction_date >= '$lo' AND transaction_date < '$hi' ORDER BY id) TO '$WORK/m_$sfx.bin' (FORMAT binary)"
    cat >> "$WORK/f$((k % 2)).sql" <<SQL
CREATE TABLE $part (LIKE transactions INCLUDING DEFAULTS);
ALTER TABLE $part ADD CONSTRAINT ${part}_month CHECK (transaction_date >= '$lo' AND transaction_date < '$hi');
\\copy $part FROM '$WORK/m_$sfx.bin' (FORMAT binary, FREEZE)
SQL
    cat >> "$WORK/attach$((k % 2)).sql" <<SQL
ALTER TABLE transactions ATTACH PARTITION $part FOR VALUES FROM ('$lo') TO ('$hi');
ALTER TABLE $part DROP CONSTRAINT ${part}_month;
SQL
    k=$((k + 1))
done < "$WORK/months"
for j in 0 1; do
    cat "$WORK/attach$j.sql" >> "$WORK/f$j.sql"
    printf 'COMMIT;\n' >> "$WORK/f$j.sql"
done

REPS=${REPS:-3}
: > "$WORK/times"
RSS_KB=0
FROZEN_RSS_KB=0
took() { echo "$1 $(awk -v a="$2" -v b="$(now)" 'BEGIN {print b - a}')" >> "$WORK/times"; }
for rep in $(seq 1 "$REPS"); do
    fresh_table "$DDL"
    t0=$(now)
    psql -q "$URL" -c "\\copy transactions FROM '$CSV' WITH (FORMAT csv, HEADER true)"
    took psql "$t0"

    fresh_table "$DDL"
    t0=$(now)
    psql -q "$URL" -c "\\copy transactions FROM '$WORK/a.bin' (FORMAT binary)" &
    psql -q "$URL" -c "\\copy transactions FROM '$WORK/b.bin' (FORMAT binary)"
    wait
    took ceiling "$t0"

    fresh_table
    t0=$(now)
    /usr/bin/time -f "%M" -o "$WORK/rss" "$FINSEED" seed --profile "$PROFILE" --database-url "$URL" \
        --tables transactions --steps create,load --jobs "$JOBS" --fresh --quiet >/dev/null
    took finseed "$t0"
    RSS_KB=$(awk -v a="$RSS_KB" '{print ($1 > a) ? $1 : a}' "$WORK/rss")

    fresh_table "$PDDL"
    t0=$(now)
    psql -q -v ON_ERROR_STOP=1 "$URL" -f "$WORK/f0.sql" &
    psql -q -v ON_ERROR_STOP=1 "$URL" -f "$WORK/f1.sql"
    wait
    took fceiling "$t0"

    fresh_table
    t0=$(now)
    /usr/bin/time -f "%M" -o "$WORK/rss" "$FINSEED" seed --profile "$PROFILE" --layout partitioned \
        --database-url "$URL" --tables transactions --steps create,load --jobs "$JOBS" --fresh --quiet >/dev/null
    took frozen "$t0"
    FROZEN_RSS_KB=$(awk -v a="$FROZEN_RSS_KB" '{print ($1 > a) ? $1 : a}' "$WORK/rss")
    echo "  run $rep of $REPS: $(tail -5 "$WORK/times" | tr '\n' ' ')"
done

python3 - "$WORK/times" "$ROWS" "$PROFILE" "$JOBS" "$RSS_KB" "$FROZEN_RSS_KB" "$REPS" <<'PY'
import statistics, sys
path, rows, profile, jobs, rss_kb, frozen_kb, reps = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
runs = {}
for line in open(path):
    k, v = line.split()
    runs.setdefault(k, []).append(float(v))
med = {k: statistics.median(v) for k, v in runs.items()}
label = {
    "psql": "psql \\copy CSV, 1 connection (plain)",
    "ceiling": "binary COPY from files, 2 psql (plain)",
    "finseed": f"finseed create+load, {jobs} conn. (plain)",
    "fceiling": "COPY FREEZE per month, 2 psql (partitioned)",
    "frozen": f"finseed create+load, {jobs} conn. (frozen)",
}
peak = {"finseed": rss_kb, "frozen": frozen_kb}
print(f"\nload of {rows} transactions ({profile}), median of {reps} alternating runs")
print(f"{'':<46} {'median s':>9} {'min s':>7} {'max s':>7} {'rows/s':>10} {'/ psql':>7} {'peak MB':>8}")
for k in ("psql", "ceiling", "finseed", "fceiling", "frozen"):
    v = runs[k]
    mb = f"{peak[k] / 1024:.1f}" if k in peak else "-"
    print(f"{label[k]:<46} {med[k]:>9.2f} {min(v):>7.2f} {max(v):>7.2f} {rows / med[k]:>10.0f} {med[k] / med['psql']:>7.2f} {mb:>8}")
r1 = med["finseed"] / med["ceiling"]
r2 = med["frozen"] / med["psql"]
print(f"plain: finseed / server ceiling = {r1:.2f} (target <= 1.05: {'met' if r1 <= 1.05 else 'NOT met'})")
print(f"partitioned: finseed frozen / psql = {r2:.2f} (target <= 0.35: {'met' if r2 <= 0.35 else 'NOT met'}); "
      f"its server ceiling / psql = {med['fceiling'] / med['psql']:.2f}, finseed frozen / that ceiling = {med['frozen'] / med['fceiling']:.2f}")
PY
echo "$ENCODE"

if [ "${FULL:-0}" = 1 ]; then
    full_seed
fi

if [ "${MAP:-0}" = 1 ]; then
    map_compare
fi
