#!/usr/bin/env bash
# Load benchmark: finseed's create+load steps vs `psql \copy` of the same rows from a CSV file
# (one connection, the usual way), into a fresh local cluster, in the same run.
#
#   bash bench/load.sh                       # transaction-flow's 10M transactions
#   PROFILE=small bash bench/load.sh
#   FULL=1 bash bench/load.sh                # then also a full seed (all tables, all steps)
#
# Prints seconds, rows/s and finseed's peak memory, and the ratio finseed / psql (target <= 0.4).
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-transaction-flow}
JOBS=${JOBS:-$(nproc)}
cargo build --release --quiet
FINSEED=$PWD/target/release/finseed
WORK=$(mktemp -d "${TMPDIR:-/tmp}/finseed-load.XXXXXX")
chmod 755 "$WORK"
cleanup() { (cd "$WORK" && "$FINSEED" pg stop >/dev/null 2>&1 || true); rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"

URL=$("$FINSEED" pg start)
echo "fresh cluster: $URL"
echo "generating the CSV for psql..."
"$FINSEED" generate --profile "$PROFILE" --tables transactions --out "$WORK/csv" --quiet
CSV="$WORK/csv/transactions.csv"
chmod -R a+rX "$WORK/csv"
ROWS=$(( $(wc -l < "$CSV") - 1 ))
DDL=$(awk '/CREATE TABLE IF NOT EXISTS transactions \(/,/\);/' "$OLDPWD/schemas/tables.sql")

now() { date +%s.%N; }

psql -q "$URL" -c "DROP TABLE IF EXISTS transactions CASCADE" -c "$DDL"
psql -q "$URL" -c "CHECKPOINT"
t0=$(now)
psql -q "$URL" -c "\\copy transactions FROM '$CSV' WITH (FORMAT csv, HEADER true)"
t1=$(now)
PSQL_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
psql -q "$URL" -c "DROP TABLE transactions CASCADE"
psql -q "$URL" -c "CHECKPOINT"

t0=$(now)
/usr/bin/time -f "%M" -o "$WORK/rss" "$FINSEED" seed --profile "$PROFILE" --database-url "$URL" \
    --tables transactions --steps create,load --jobs "$JOBS" --fresh --quiet >/dev/null
t1=$(now)
FIN_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
RSS_MB=$(awk '{printf "%.1f", $1/1024}' "$WORK/rss")

printf '\n%-44s %12s %10s %14s %10s\n' "load of $ROWS transactions ($PROFILE)" rows seconds "rows/s" "peak MB"
printf '%-44s %12d %10.2f %14.0f %10s\n' "psql \\copy CSV, 1 connection" "$ROWS" "$PSQL_S" "$(awk -v r="$ROWS" -v s="$PSQL_S" 'BEGIN {print r / s}')" "-"
printf '%-44s %12d %10.2f %14.0f %10s\n' "finseed seed create+load, $JOBS connections" "$ROWS" "$FIN_S" "$(awk -v r="$ROWS" -v s="$FIN_S" 'BEGIN {print r / s}')" "$RSS_MB"
printf 'finseed / psql time = %.2f (target <= 0.40)\n' "$(awk -v a="$FIN_S" -v b="$PSQL_S" 'BEGIN {print a / b}')"

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
