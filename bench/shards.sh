#!/usr/bin/env bash
# Shards against one server: the Kubernetes Indexed Job of README "Running on many machines",
# simulated on this machine. For N in SHARDS (default "1 2 4"), into a fresh database of a fresh
# local cluster: the finishing step (`seed --await-shards N`) starts first and waits, N shard
# processes (`seed --shard auto/N --steps create,load --jobs JOBS`, JOB_COMPLETION_INDEX=0..N-1)
# load at once, then the finisher builds keys, indexes and statistics.
#
#   bash bench/shards.sh                         # transaction-flow, 1 COPY connection per shard
#   JOBS=2 SHARDS="1 2" PROFILE=small bash bench/shards.sh
#
# Prints per N: the load's wall time (start to the last shard's exit) and rows/s, the finish
# (last shard's exit to the finisher's), the total, the shards' CPU seconds and peak memory
# (finseed's own work), how busy the machine's cores were during the load, and what the
# server's COPY backends were waiting on (pg_stat_activity sampled every 0.5 s; CPU = running).
# One run per N: on a shared machine, compare the load average printed before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-transaction-flow}
SHARDS=${SHARDS:-"1 2 4"}
JOBS=${JOBS:-1}
cargo build --release --quiet --bin finseed
FINSEED=$PWD/target/release/finseed
PSQL=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -1)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/finseed-shards.XXXXXX")
chmod 755 "$WORK"
# A fresh embedded cluster of its own, not the user's (finseed keeps one per FINSEED_HOME).
export FINSEED_HOME="$WORK/.finseed"
cleanup() {
    jobs -p | xargs -r kill 2>/dev/null || true
    (cd "$WORK" && "$FINSEED" pg stop >/dev/null 2>&1 || true)
    rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"

URL=$("$FINSEED" pg start)
BASE=${URL%/*}
echo "profile $PROFILE, $(nproc) cores, cluster $URL"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

now() { date +%s.%N; }
# Busy and total jiffies of all cores.
cpu() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }

printf '\n%-7s %-5s %9s %12s %9s %9s %10s %9s %6s  %s\n' \
    shards conns load_s rows_per_s finish_s total_s shard_cpu peak_MB busy% "COPY backends' waits (share of samples)"
for n in $SHARDS; do
    db="shards_$n"
    PGOPTIONS="-c client_min_messages=warning" "$PSQL" -qX "$URL" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" -c "CHECKPOINT"
    url="$BASE/$db"
    common=(seed --quiet --profile "$PROFILE" --database-url "$url")
    t0=$(now)
    "$FINSEED" "${common[@]}" --await-shards "$n" --jobs 2 > "$WORK/finish-$n.out" 2>&1 &
    finisher=$!
    read -r busy0 all0 < <(cpu)
    pids=()
    for i in $(seq 0 $((n - 1))); do
        JOB_COMPLETION_INDEX=$i /usr/bin/time -f '%U %S %M' -o "$WORK/time-$n-$i" \
            "$FINSEED" "${common[@]}" --shard "auto/$n" --steps create,load --jobs "$JOBS" \
            > "$WORK/shard-$n-$i.out" 2>&1 &
        pids+=($!)
    done
    # Sample the COPY backends' wait events while the shards load.
    (
        while :; do
            "$PSQL" -qXAt "$url" -c "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU')
                FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'COPY%'" 2>/dev/null || true
            sleep 0.5
        done
    ) > "$WORK/waits-$n" &
    sampler=$!
    for p in "${pids[@]}"; do
        wait "$p" || { echo "a shard failed:"; cat "$WORK"/shard-"$n"-*.out; exit 1; }
    done
    t1=$(now)
    read -r busy1 all1 < <(cpu)
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    wait "$finisher" || { echo "the finisher failed:"; cat "$WORK/finish-$n.out"; exit 1; }
    t2=$(now)
    rows=$("$PSQL" -qXAt "$url" -c "SELECT sum(rows) FROM finseed_ledger")
    cpu_s=$(cat "$WORK"/time-"$n"-* | awk '{s += $1 + $2} END {printf "%.1f", s}')
    peak=$(cat "$WORK"/time-"$n"-* | awk '$3 > m {m = $3} END {printf "%.0f", m / 1024}')
    waits=$(sort "$WORK/waits-$n" | uniq -c | sort -rn | awk -v t="$(wc -l < "$WORK/waits-$n")" \
        'NR <= 4 && t > 0 {printf "%s%s %.0f%%", (NR > 1 ? ", " : ""), $2, 100 * $1 / t}')
    awk -v n="$n" -v c="$((n * JOBS))" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v rows="$rows" \
        -v cpu="$cpu_s" -v peak="$peak" -v b="$((busy1 - busy0))" -v a="$((all1 - all0))" -v w="$waits" \
        'BEGIN {printf "%-7s %-5s %9.1f %12.0f %9.1f %9.1f %10s %9s %6.0f  %s\n",
                n, c, t1 - t0, rows / (t1 - t0), t2 - t1, t2 - t0, cpu, peak, 100 * b / a, w}'
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(busy% = all cores, this machine, during the load; shard_cpu = the shard processes' user+system s)"
