#!/usr/bin/env bash
# Fault campaign: seed PROFILE (small) into a fresh database, kill -9 finseed at MOMENTS (20)
# random moments spread over the steps (load, primary_keys, foreign_keys, indexes, analyze),
# then rerun once and verify. Then `pg_ctl stop -m immediate` mid-load and mid-index (the stop
# waits until the server is seen running that step's COPY or CREATE INDEX), start, rerun and
# verify. Prints one row per moment; figures only, no timing assertions.
#
#   bash bench/faults.sh
#   MOMENTS=10 PROFILE=small SEED_RANDOM=7 bash bench/faults.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-small}
MOMENTS=${MOMENTS:-20}
RANDOM=${SEED_RANDOM:-1}
cargo build --release --quiet --bin finseed
WORK=$(mktemp -d "${TMPDIR:-/tmp}/finseed-faults.XXXXXX")
chmod 755 "$WORK"
# A copy, so a rebuild during the campaign does not change the binary under test.
cp target/release/finseed "$WORK/finseed"
FINSEED=$WORK/finseed
export FINSEED_HOME="$WORK/.finseed"
cleanup() { (cd "$WORK" && "$FINSEED" pg stop >/dev/null 2>&1 || true); rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"
BASE=$("$FINSEED" pg start)
# `pg status` prints "... (data: DIR; root: ROOT)" (older versions "(data: DIR)").
DATA=$("$FINSEED" pg status | sed -n 's/.*(data: \([^;)]*\).*/\1/p')
PGCTL=$(dirname "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb | tail -1)")/pg_ctl
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
echo "cluster: $BASE (data $DATA)"
newdb() { psql -qX "$BASE" -c "CREATE DATABASE faults_$1" >/dev/null; echo "${BASE%/*}/faults_$1"; }
STEPS=(load primary_keys foreign_keys indexes analyze)

# Calibrate: when each step starts and how long it takes, from one uninterrupted seed.
URL=$(newdb calibration)
declare -A START DUR
t0=$(date +%s.%N)
prev=0
while IFS= read -r line; do
    now=$(echo "$(date +%s.%N) - $t0" | bc)
    step=$(sed -n 's/^ *step \([a-z_]*\) .*/\1/p' <<<"$line")
    [ -n "$step" ] || continue
    START[$step]=$prev; DUR[$step]=$(echo "$now - $prev" | bc); prev=$now
done < <("$FINSEED" seed -p "$PROFILE" --database-url "$URL" 2>&1)
echo "calibration (s from start, duration):"
for s in create "${STEPS[@]}"; do printf '  %-13s %6.2f %6.2f\n' "$s" "${START[$s]:-0}" "${DUR[$s]:-0}"; done

verify_figures() { # prints "lost duplicated ok"
    "$FINSEED" verify -p "$PROFILE" --database-url "$1" --json "$WORK/v.json" >/dev/null 2>&1
    local ok=$?
    python3 -c '
import json,sys
r=json.load(open(sys.argv[1]))
lost=sum(max(0,t["expected_rows"]-(t["found_rows"] or 0)) for t in r["tables"])
dup=sum(max(0,(t["found_rows"] or 0)-t["expected_rows"]) for t in r["tables"])
print(lost,dup)' "$WORK/v.json" | tr '\n' ' '
    [ $ok = 0 ] && echo yes || echo no
}

printf '\n%-3s %-9s %-13s %-10s %-10s %-11s %-8s\n' "#" "moment_s" "step" "rows_lost" "rows_dup" "rerun_pass" "verified"
total_fail=0
for i in $(seq 1 "$MOMENTS"); do
    step=${STEPS[$(( (i - 1) % ${#STEPS[@]} ))]}
    at=$(echo "${START[$step]} + ${DUR[$step]} * $((RANDOM % 90 + 5)) / 100" | bc -l)
    URL=$(newdb "$i")
    "$FINSEED" seed -q -p "$PROFILE" --database-url "$URL" >/dev/null 2>&1 &
    pid=$!
    sleep "$at"
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    if "$FINSEED" seed -q -p "$PROFILE" --database-url "$URL" >"$WORK/rerun.log" 2>&1; then rerun=yes; else rerun=no; total_fail=$((total_fail + 1)); sed 's/^/    /' "$WORK/rerun.log" | tail -3; fi
    read -r lost dup verified <<<"$(verify_figures "$URL")"
    printf '%-3s %-9.2f %-13s %-10s %-10s %-11s %-8s\n' "$i" "$at" "$step" "$lost" "$dup" "$rerun" "$verified"
    psql -qX "$BASE" -c "DROP DATABASE faults_$i" >/dev/null
done

# The server stopped hard (pg_ctl stop -m immediate) mid-load and mid-index, then started: the
# stop comes when the server is seen running the step's statement (polled every 0.1 s).
declare -A STMT=([load]='COPY %' [indexes]='CREATE INDEX%')
for step in load indexes; do
    URL=$(newdb "stop_$step")
    t0=$(date +%s.%N)
    "$FINSEED" seed -q -p "$PROFILE" --database-url "$URL" >/dev/null 2>&1 &
    pid=$!
    until [ -n "$(psql -qXAt "$URL" -c "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE '${STMT[$step]}' LIMIT 1" 2>/dev/null)" ] || ! kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    at=$(echo "$(date +%s.%N) - $t0" | bc)
    as_owner "$PGCTL" stop -D "$DATA" -m immediate -s
    wait "$pid"; code=$?
    "$FINSEED" pg start >/dev/null
    if "$FINSEED" seed -q -p "$PROFILE" --database-url "$URL" >"$WORK/rerun.log" 2>&1; then rerun=yes; else rerun=no; total_fail=$((total_fail + 1)); tail -3 "$WORK/rerun.log"; fi
    read -r lost dup verified <<<"$(verify_figures "$URL")"
    printf '%-3s %-9.2f %-13s %-10s %-10s %-11s %-8s  (immediate stop; finseed exit %s)\n' "pg" "$at" "$step" "$lost" "$dup" "$rerun" "$verified" "$code"
done
echo "reruns failed: $total_fail"
