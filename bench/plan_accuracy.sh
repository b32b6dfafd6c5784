#!/usr/bin/env bash
# How close `finseed plan` comes to a real seed: for each profile (default: small and
# transaction-flow), the plan's estimate and the seed's actual time per step, seeded into a fresh
# database of a fresh embedded cluster (under a temporary FINSEED_HOME, stopped at exit).
#
#   bash bench/plan_accuracy.sh
#   PROFILES="ci small" JOBS=2 bash bench/plan_accuracy.sh
#
# Prints, per profile: step, estimated s, actual s, actual/estimate. The plan's calibration
# (src/plan.rs) aims at a ratio within 0.5..2 for load and for the key/index steps.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILES=${PROFILES:-"small transaction-flow"}
JOBS=${JOBS:-$(nproc)}
cargo build --release --quiet --bin finseed
FINSEED=$PWD/target/release/finseed
WORK=$(mktemp -d "${TMPDIR:-/tmp}/finseed-plan.XXXXXX")
chmod 755 "$WORK"
export FINSEED_HOME="$WORK/home"
cleanup() { "$FINSEED" pg stop >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT

URL=$("$FINSEED" pg start 2>/dev/null)
BASE=${URL%/*}
echo "fresh cluster: $URL; $JOBS connections; $(nproc) cores"
for p in $PROFILES; do
    db="plan_${p//-/_}"
    psql -X -q "$BASE/postgres" -c "CREATE DATABASE $db"
    "$FINSEED" plan -p "$p" --jobs "$JOBS" --json "$WORK/$db.plan.json" >/dev/null
    "$FINSEED" seed -p "$p" --jobs "$JOBS" --database-url "$BASE/$db" -q \
        --json "$WORK/$db.seed.json" >/dev/null 2>"$WORK/$db.seed.log" \
        || { cat "$WORK/$db.seed.log"; exit 1; }
    python3 - "$p" "$WORK/$db.plan.json" "$WORK/$db.seed.json" <<'PY'
import json, sys
name, plan, seed = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
est = {s["step"]: s["seconds"] for s in plan["steps"]}
act = {s["step"]: s["seconds"] for s in seed["steps"]}
print(f"\n{name}: {plan['total_rows']} rows planned")
print(f"{'step':<14} {'estimate s':>11} {'actual s':>10} {'actual/est':>11}")
def line(step, e, a):
    ratio = a / e if e > 0 else float("nan")
    flag = "" if 0.5 <= ratio <= 2 else "  (outside 2x)"
    print(f"{step:<14} {e:>11.1f} {a:>10.1f} {ratio:>11.2f}{flag}")
for step in ["create", "load", "primary_keys", "foreign_keys", "indexes", "rollups", "analyze"]:
    if step in act:
        line(step, est.get(step, 0.0), act[step])
keys = ["primary_keys", "foreign_keys", "indexes"]
line("keys+indexes", sum(est[k] for k in keys), sum(act.get(k, 0.0) for k in keys))
line("total", sum(est.values()), sum(act.values()))
PY
    psql -X -q "$BASE/postgres" -c "DROP DATABASE $db"
done
