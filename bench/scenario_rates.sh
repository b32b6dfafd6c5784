#!/usr/bin/env bash
# The highest arrival rate a scenario holds on this machine, found by stepping the rate: each
# scenario of SCENARIOS runs open loop at each rate of RATES (highest first; the scenarios
# alternate at every rate, so drift in the machine favours none of them), and the table gives
# achieved throughput, p50/p95/p99 from the scheduled start and the verdict against the
# scenario's latency and error targets. A rate is held when those are met and at least 95% of
# the offered requests complete in time; the last lines name the highest rate held.
#
#   bash bench/scenario_rates.sh                                   # transaction-flow, own cluster
#   DATABASE_URL=postgres://... bash bench/scenario_rates.sh       # an existing seeded database
#   SCENARIOS="dashboard_analytics_load" RATES="200 100 50" bash bench/scenario_rates.sh
#
# Settings (environment):
#   SCENARIOS  scenario names or .toml paths   [dashboard_analytics_load dashboard_analytics_load_rollups]
#   RATES      requests per second to try       [200 150 100 75 50 25]
#   RAMP, DURATION  per run: ramp-up and measured steady state   [5s, 30s]
#   PROFILE    seed profile for the embedded cluster             [transaction-flow]
#   DATABASE_URL  use this seeded database: nothing is seeded, started or stopped
#   FINSEED    finseed binary (default: cargo build --release, target/release/finseed)
#   KEEP=1     keep the JSON reports
# Exit status: 0 when the table was made (whatever the verdicts), 2 when it could not be.
set -Eeuo pipefail
trap 'rc=$?; [ "$BASHPID" = "$$" ] && echo "scenario_rates: failed at line $LINENO (exit $rc)" >&2; exit 2' ERR
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCENARIOS=${SCENARIOS:-"dashboard_analytics_load dashboard_analytics_load_rollups"}
RATES=${RATES:-"200 150 100 75 50 25"}
RAMP=${RAMP:-5s}
DURATION=${DURATION:-30s}
PROFILE=${PROFILE:-transaction-flow}
die() { echo "scenario_rates: $*" >&2; exit 2; }
for r in $RATES; do [[ $r =~ ^[0-9]+([.][0-9]+)?$ ]] || die "RATES: '$r' is not a rate per second"; done
command -v python3 >/dev/null || die "python3 is required"
if [ -z "${FINSEED:-}" ]; then
    (cd "$REPO" && cargo build --release --quiet)
    FINSEED=$REPO/target/release/finseed
fi
[ -x "$FINSEED" ] || die "FINSEED=$FINSEED is not executable"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/finseed-rates.XXXXXX")
export FINSEED_HOME="$WORK/.finseed"
STARTED=
cleanup() {
    [ -n "$STARTED" ] && { "$FINSEED" pg stop >/dev/null 2>&1 || true; }
    if [ -n "${KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
if [ -n "${DATABASE_URL:-}" ]; then
    URL=$DATABASE_URL
else
    STARTED=1
    URL=$("$FINSEED" pg start)
    echo "seeding $PROFILE into a cluster of its own..." >&2
    "$FINSEED" seed -q --profile "$PROFILE" --database-url "$URL" >"$WORK/seed.log" 2>&1 \
        || { cat "$WORK/seed.log" >&2; die "seeding failed"; }
fi
n=0
for rate in $RATES; do
    for s in $SCENARIOS; do
        n=$((n + 1))
        echo "$s at $rate/s..." >&2
        rc=0
        "$FINSEED" bench -q --database-url "$URL" --scenario "$s" --rate "$rate" --ramp-up "$RAMP" \
            --duration "$DURATION" --json "$WORK/run$n.json" >"$WORK/run$n.out" 2>&1 || rc=$?
        if [ ! -s "$WORK/run$n.json" ]; then cat "$WORK/run$n.out" >&2; die "$s at $rate/s failed (exit $rc)"; fi
    done
done
python3 - "$WORK" "$n" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
runs = [json.load(open(f"{work}/run{i}.json"))["scenario"] for i in range(1, n + 1)]
# "Held": every latency and error target of the scenario met, and the achieved throughput at
# least 95% of what was offered (the scenario's own throughput target is the plan's rate, which
# a stepped-down rate cannot meet by construction).
print(f"{'scenario':<36}{'rate/s':>8}{'achieved':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'errors %':>10}{'dropped':>9}  held  (missed)")
best = {}
for s in runs:
    l = s["latency_ms"]
    missed = [c["target"] for c in s["checks"] if not c["met"] and c["target"] != "throughput_tps"]
    if s["achieved_tps"] < 0.95 * s["offered_tps"]:
        missed.append("throughput")
    held = not missed
    print(f"{s['name']:<36}{s['rate']:>8g}{s['achieved_tps']:>10.1f}{l['p50']:>10.1f}{l['p95']:>10.1f}{l['p99']:>10.1f}"
          f"{s['error_percent']:>10.2f}{s['dropped']:>9}  {'yes' if held else 'no '}  {' '.join(missed)}")
    best.setdefault(s["name"], None)
    if held and (best[s["name"]] is None or s["rate"] > best[s["name"]]):
        best[s["name"]] = s["rate"]
for name, r in best.items():
    print(f"{name}: highest rate held {r:g}/s" if r else f"{name}: no rate tried was held")
PY
