#!/usr/bin/env bash
# The volume queries on both layouts: PROFILE (transaction-flow by default) seeded whole (all
# tables, all steps) once in the plain layout and once partitioned by month, into two databases
# of one fresh embedded cluster, then `finseed bench` on each, alternating ROUNDS times (so the
# machine's drift hits both alike; the same parameters each time, drawn with the same seed). The
# table gives each query's p50 and p95 over all rounds' samples per layout and the ratio
# partitioned / plain: below 1, monthly partitions help that query.
#
#   bash bench/layouts.sh
#   PROFILE=small ROUNDS=3 ITERATIONS=20 bash bench/layouts.sh
#   KEEP=1 bash bench/layouts.sh        # keep the JSON reports (and print where)
#
# Exit status: 0 when the table was made, 2 when it could not be.
set -Eeuo pipefail
trap 'rc=$?; [ "$BASHPID" = "$$" ] && echo "layouts: failed at line $LINENO (exit $rc)" >&2; exit 2' ERR
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROFILE=${PROFILE:-transaction-flow}
ROUNDS=${ROUNDS:-2}
ITERATIONS=${ITERATIONS:-15}
JOBS=${JOBS:-$(nproc)}
(cd "$REPO" && cargo build --release --quiet --bin finseed)
FINSEED=${FINSEED_BIN:-$REPO/target/release/finseed}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/finseed-layouts.XXXXXX")
export FINSEED_HOME="$WORK/.finseed"
cleanup() {
    "$FINSEED" pg stop >/dev/null 2>&1 || true
    if [ -n "${KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
URL=$("$FINSEED" pg start)
BASE=${URL%/*}
for layout in plain partitioned; do
    psql -q "$URL" -c "CREATE DATABASE $layout"
    echo "seeding $PROFILE, $layout layout..." >&2
    "$FINSEED" seed --profile "$PROFILE" --layout "$layout" --database-url "$BASE/$layout" \
        --jobs "$JOBS" --quiet --json "$WORK/seed.$layout.json" >/dev/null
done
psql -q "$URL" -c "CHECKPOINT"
for round in $(seq 1 "$ROUNDS"); do
    order="plain partitioned"
    [ $((round % 2)) = 0 ] && order="partitioned plain"
    for layout in $order; do
        echo "round $round of $ROUNDS: bench on $layout..." >&2
        # exit 1 means a threshold was breached: the report is still what we want.
        "$FINSEED" bench --database-url "$BASE/$layout" --iterations "$ITERATIONS" --quiet \
            --json "$WORK/bench.$layout.$round.json" >/dev/null || [ $? = 1 ]
    done
done
python3 - "$WORK" "$PROFILE" "$ROUNDS" "$ITERATIONS" <<'PY'
import glob, json, os, sys
work, profile, rounds, iterations = sys.argv[1:5]
def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(q * len(v) + 0.5)) - 1))]
samples, rows = {}, {}
for layout in ("plain", "partitioned"):
    for f in sorted(glob.glob(os.path.join(work, f"bench.{layout}.*.json"))):
        for q in json.load(open(f))["queries"]:
            samples.setdefault(q["name"], {}).setdefault(layout, []).extend(q["samples_ms"])
            rows.setdefault(q["name"], {})[layout] = q["rows"] // max(q["count"], 1)
seeds = {l: json.load(open(os.path.join(work, f"seed.{l}.json")))["total_seconds"] for l in ("plain", "partitioned")}
print(f"\n{profile}: finseed bench, {rounds} alternating rounds of {iterations} iterations per layout")
print(f"seed (all steps): plain {seeds['plain']:.1f} s, partitioned {seeds['partitioned']:.1f} s\n")
print("| query | plain p50 ms | partitioned p50 ms | plain p95 ms | partitioned p95 ms | p95 partitioned / plain |")
print("|---|---:|---:|---:|---:|---:|")
for name in sorted(samples):
    s = samples[name]
    if "plain" not in s or "partitioned" not in s:
        continue
    a, b = pct(s["plain"], .95), pct(s["partitioned"], .95)
    print(f"| {name} | {pct(s['plain'], .5):.1f} | {pct(s['partitioned'], .5):.1f} | {a:.1f} | {b:.1f} | {b / max(a, 1e-9):.2f} |")
PY
