#!/usr/bin/env bash
# Cross-check of finseed's query timings against pgbench: one benchmark query, the exact same
# SQL text with the same literal parameter values, on the same database, one connection,
# extended protocol with a statement prepared once per connection, the same warm-up and the
# same number of measured executions. Runs alternate (pgbench, finseed, pgbench, finseed, ...)
# so drift in the machine favours neither side; the medians of the combined samples must
# agree within TOLERANCE percent.
#
#   bash bench/pgbench_agree.sh                                # category_breakdown, small profile
#   QUERY=large_list_keyset_busy bash bench/pgbench_agree.sh
#   SCENARIO=dashboard_analytics_load RATE=20 bash bench/pgbench_agree.sh   # a weighted mix, open loop
#   DATABASE_URL=postgres://... bash bench/pgbench_agree.sh     # an existing seeded database
#
# Settings (environment):
#   QUERY      a query of schemas/queries (name or path to a .sql file)   [category_breakdown]
#   PROFILE    seed profile for the embedded cluster                       [small]
#   ITER       measured executions per run and tool                        [200]
#   WARMUP     unmeasured executions first, on the same connection         [20]
#   ROUNDS     alternating rounds (each: one pgbench run, one finseed run) [2]
#   TOLERANCE  allowed difference of the medians, in percent               [10]
#   SCENARIO   mix mode: a scenario of volume queries (name or .toml path), e.g.
#              dashboard_analytics_load: its weighted mix at RATE/s, see mix() below
#   RATE, CLIENTS, DURATION  mix mode: requests per second [20], connections [4], seconds per
#              run [60]
#   DATABASE_URL  use this seeded database: nothing is seeded, started or stopped
#   FINSEED    finseed binary to use (default: cargo build --release, target/release/finseed)
#   PGBENCH, PSQL  client binaries (default: PATH, then /usr/lib/postgresql/*/bin)
#   KEEP=1     keep the temporary directory (SQL, pgbench logs, finseed JSON) for inspection
#
# Exit status: 0 the medians agree, 1 they do not, 2 the comparison could not be run.
#
# How each side measures one execution:
#   pgbench -M prepared: PQprepare once per connection, then per transaction Bind/Execute/Sync
#     and all rows read into a PGresult (text format); latency per transaction from --log.
#     The warm-up runs on the measured connection too (-t WARMUP+ITER, the first WARMUP
#     transactions are dropped), exactly as finseed warms its prepared statement.
#   finseed bench: prepare_typed once per connection, then per execution Bind/Execute/Sync
#     streaming every row (binary format); latency per execution in .queries[0].samples_ms.
#   Both read the whole result before the clock stops. Text versus binary result format was
#   checked and makes no measurable difference here; pgbench's heap trimming did (see
#   GLIBC_TUNABLES below). pgbench reads its clock lazily, so a query answered within the
#   same event-loop turn (well under 0.1 ms) is logged as 0 us: use queries that take longer.
# Percentiles interpolate linearly between closest ranks, as finseed's stats::percentile does.
# On a busy machine (builds running, 2 cores) one tool's runs can differ by more than the
# tolerance among themselves: the script says so; rerun idle or with more ROUNDS.
set -Eeuo pipefail
trap 'rc=$?; [ "$BASHPID" = "$$" ] && echo "pgbench_agree: failed at line $LINENO (exit $rc)" >&2; exit 2' ERR

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
QUERY=${QUERY:-category_breakdown}
PROFILE=${PROFILE:-small}
ITER=${ITER:-200}
WARMUP=${WARMUP:-20}
ROUNDS=${ROUNDS:-2}
TOLERANCE=${TOLERANCE:-10}
RATE=${RATE:-20}
CLIENTS=${CLIENTS:-4}
DURATION=${DURATION:-60}

die() { echo "pgbench_agree: $*" >&2; exit 2; }
say() { echo "$*" >&2; }

for v in ITER WARMUP ROUNDS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
((ITER >= 1 && ROUNDS >= 1)) || die "ITER and ROUNDS must be at least 1"
[[ $TOLERANCE =~ ^[0-9]+([.][0-9]+)?$ ]] || die "TOLERANCE must be a number of percent, not '$TOLERANCE'"
command -v python3 >/dev/null || die "python3 is required"

# A client binary: $VAR, else PATH, else the newest /usr/lib/postgresql/*/bin.
find_pg_bin() {
    local name=$1 given=$2 c
    if [ -n "$given" ]; then
        [ -x "$given" ] || die "$name: $given is not executable"
        echo "$given"
        return
    fi
    if c=$(command -v "$name"); then
        echo "$c"
        return
    fi
    for c in $(ls -d /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V -r || true); do
        [ -x "$c" ] && { echo "$c"; return; }
    done
    die "$name not found on PATH nor in /usr/lib/postgresql/*/bin (set ${name^^}=/path/to/$name)"
}
PGBENCH=$(find_pg_bin pgbench "${PGBENCH:-}") || exit 2
PSQL=$(find_pg_bin psql "${PSQL:-}") || exit 2

if [ -n "${FINSEED:-}" ]; then
    [ -x "$FINSEED" ] || die "FINSEED=$FINSEED is not executable"
elif command -v cargo >/dev/null; then
    say "building finseed (cargo build --release)..."
    (cd "$REPO" && cargo build --release --quiet)
    FINSEED=$REPO/target/release/finseed
else
    FINSEED=$REPO/target/release/finseed
    [ -x "$FINSEED" ] || die "no cargo and no $FINSEED: build finseed or set FINSEED"
fi

if [ -f "$QUERY" ]; then
    QFILE=$QUERY
else
    QFILE=$REPO/schemas/queries/${QUERY%.sql}.sql
    [ -f "$QFILE" ] || die "no query $QUERY: try one of: $(cd "$REPO/schemas/queries" && ls -- *.sql | sed 's/\.sql$//' | tr '\n' ' ')"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/finseed-agree.XXXXXX")
chmod 755 "$WORK"
# A fresh embedded cluster of its own, not the user's (finseed keeps one per FINSEED_HOME).
export FINSEED_HOME="$WORK/.finseed"
STARTED=
cleanup() {
    if [ -n "$STARTED" ]; then
        (cd "$WORK" && "$FINSEED" pg stop >/dev/null 2>&1) || true
    fi
    if [ -n "${KEEP:-}" ]; then
        echo "kept $WORK (pgbench logs, finseed JSON, the SQL)" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

if [ -n "${DATABASE_URL:-}" ]; then
    URL=$DATABASE_URL
    say "using the existing database in DATABASE_URL (not seeding)"
else
    STARTED=1
    URL=$(cd "$WORK" && "$FINSEED" pg start)
    say "embedded cluster: $URL; seeding profile $PROFILE..."
    "$FINSEED" seed --profile "$PROFILE" --database-url "$URL" --quiet >"$WORK/seed.log" 2>&1 \
        || { cat "$WORK/seed.log" >&2; die "seeding failed"; }
fi

sql() { "$PSQL" -X -A -t -q -v ON_ERROR_STOP=1 -d "$URL" -c "$1"; }

if [ -n "$STARTED" ]; then
    # Let the freshly loaded cluster settle: no checkpoint flushing the seed's dirty buffers
    # while the first round runs.
    sql "CHECKPOINT" >/dev/null
fi

# literal QFILE FIN_OUT PGB_OUT: the query file's SQL with its parameters replaced by literal
# values, written as a finseed query file (FIN_OUT, with HEADER as its header lines) and as a
# pgbench script (PGB_OUT). Sets VALUES to the values used.
literal() {
local qfile=$1 fin=$2 pgb=$3
# The parameter kinds in the query's header, in order.
PARAMS=$(python3 - "$qfile" <<'PY'
import sys
kinds = []
for line in open(sys.argv[1], encoding="utf-8"):
    rest = line.strip()
    if rest.startswith("--") and ":" in rest:
        key, value = rest[2:].split(":", 1)
        if key.strip() == "params":
            kinds += [p.strip() for p in value.split(",") if p.strip()]
        if key.strip() == "mode" and value.strip() == "copy":
            sys.exit("mode: copy queries run as COPY TO STDOUT, which pgbench cannot time the same way")
print(" ".join(kinds))
PY
)

# Literal values for $1, $2, ... drawn from the data the way finseed draws the first value of
# each pool (its iteration 0): see resolve_params in src/bench/mod.rs.
VALUES=()
busy_ctx() {
    sql "SELECT context_id FROM transactions GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
}
for kind in $PARAMS; do
    case $kind in
    busy_context)
        VALUES+=("int:$(busy_ctx)")
        ;;
    typical_context)
        VALUES+=("int:$(sql "WITH a AS (SELECT context_id, row_number() OVER (ORDER BY count(*) DESC, context_id) - 1 AS i, count(*) OVER () AS n FROM transactions GROUP BY 1) SELECT context_id FROM a WHERE i = greatest(n / 2 - 2, 0)")")
        ;;
    user)
        VALUES+=("int:$(sql "SELECT user_id FROM context_members GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")")
        ;;
    as_of)
        VALUES+=("text:$(sql "SELECT max(transaction_date)::text FROM transactions")")
        ;;
    busy_cursor)
        ctx=$(busy_ctx)
        n=$(sql "SELECT count(*) FROM transactions WHERE context_id = $ctx")
        off=$((n > 4000 ? 3999 : n / 2))
        IFS='|' read -r cdate cid < <(sql "SELECT transaction_date::text, id FROM transactions WHERE context_id = $ctx ORDER BY transaction_date DESC, id DESC OFFSET $off LIMIT 1")
        VALUES+=("int:$ctx" "text:$cdate" "int:$cid")
        ;;
    *)
        die "parameter kind '$kind' is not supported here (use busy_context, typical_context, user, as_of or busy_cursor)"
        ;;
    esac
done
for v in "${VALUES[@]}"; do
    [ -n "${v#*:}" ] || die "a parameter came back empty: is the database seeded?"
done

# The query body exactly as finseed parses it (header and comment lines dropped, trimmed, no
# trailing ';'), with $n replaced by literals, highest first so $1 does not eat $10.
python3 - "$qfile" "$fin" "$pgb" "${VALUES[@]}" <<'PY'
import os, re, sys
src, fin, pgb, values = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
body = [l for l in open(src, encoding="utf-8").read().splitlines() if not l.strip().startswith("--")]
sql = "\n".join(body).strip().rstrip(";").strip()
for i in range(len(values), 0, -1):
    kind, v = values[i - 1].split(":", 1)
    lit = v if kind == "int" else "'" + v.replace("'", "''") + "'"
    sql = sql.replace("$%d" % i, lit)
if re.search(r"\$[0-9]", sql):
    sys.exit("placeholders left after substitution: the header's -- params: does not cover them")
if re.search(r"(?<!:):[A-Za-z_]", sql):
    sys.exit("the SQL holds ':name', which pgbench would take for a variable")
if ";" in sql:
    sys.exit("the SQL holds ';': keep one statement without semicolons inside")
open(fin, "w", encoding="utf-8").write(os.environ.get("HEADER", "-- name: agree") + "\n" + sql + ";\n")
open(pgb, "w", encoding="utf-8").write(sql + ";\n")
PY
}

# Mix mode (SCENARIO=NAME or a path to a scenario .toml): the scenario's weighted mix of volume
# queries, open loop at RATE requests per second from CLIENTS connections for DURATION seconds,
# run by pgbench (`--rate`: its own Poisson schedule; with a rate, the latency it logs runs from
# each transaction's scheduled start) and by `finseed bench --scenario` (the same SQL texts with
# the same literal values, as read actions, Poisson arrivals, latency from the scheduled start).
# Both use unnamed statements (pgbench -M extended, finseed's query_typed). ROUNDS alternating
# rounds after a warm-up; achieved throughput and median latency must agree within TOLERANCE.
mix() {
    local dir=$WORK/mix scen r rc
    mkdir -p "$dir/actions"
    if [ -f "$SCENARIO" ]; then scen=$SCENARIO; else scen=$REPO/schemas/scenarios/${SCENARIO%.toml}.toml; fi
    [ -f "$scen" ] || die "no scenario $SCENARIO: try one of: $(cd "$REPO/schemas/scenarios" && ls -- *.toml | sed 's/\.toml$//' | tr '\n' ' ')"
    for v in RATE CLIENTS DURATION; do
        [[ ${!v} =~ ^[0-9]+$ ]] && ((${!v} >= 1)) || die "$v must be a whole number of at least 1, not '${!v}'"
    done
    local -a pgb_args=()
    {
        echo "name = \"agree\""
        echo "rate = $RATE"
        echo "arrivals = \"poisson\""
        echo "clients = $CLIENTS"
        echo "ramp_up = \"0s\""
        echo "duration = \"${DURATION}s\""
        echo "seed = 1"
    } >"$dir/agree.toml"
    local name query weight qfile
    while read -r name query weight; do
        qfile=$REPO/schemas/queries/$query.sql
        [ -f "$qfile" ] || die "action $name runs $query, which is not a volume query of schemas/queries: the mix mode compares read-only volume queries"
        HEADER=$'-- name: '"$name"$'\n-- mode: read' literal "$qfile" "$dir/actions/$name.sql" "$dir/$name.pgb"
        pgb_args+=(-f "$dir/$name.pgb@$weight")
        printf '\n[[action]]\nname = "%s"\nquery = "%s"\nweight = %s\n' "$name" "$name" "$weight" >>"$dir/agree.toml"
        say "action $name ($query, weight $weight) with ${VALUES[*]:-no parameters}"
    done < <(python3 - "$scen" <<'PY'
import sys, tomllib
s = tomllib.load(open(sys.argv[1], "rb"))
for a in s["action"]:
    print(a["name"], a["query"], a["weight"])
PY
)
    local threads=$((CLIENTS < 2 ? CLIENTS : 2))
    export GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.trim_threshold=268435456
    say "mix of $(basename "$scen" .toml): $RATE/s from $CLIENTS connections for ${DURATION}s; $ROUNDS rounds after a 5 s warm-up"
    "$PGBENCH" -n -M extended -c "$CLIENTS" -j "$threads" --rate "$RATE" -T 5 "${pgb_args[@]}" "$URL" >"$dir/warm.out" 2>&1 \
        || { cat "$dir/warm.out" >&2; die "pgbench warm-up failed"; }
    for r in $(seq 1 "$ROUNDS"); do
        say "round $r/$ROUNDS: pgbench --rate $RATE..."
        mkdir -p "$dir/pgb$r"
        "$PGBENCH" -n -M extended -c "$CLIENTS" -j "$threads" --rate "$RATE" -T "$DURATION" "${pgb_args[@]}" \
            --log --log-prefix="$dir/pgb$r/log" "$URL" >"$dir/pgb$r/out" 2>&1 \
            || { cat "$dir/pgb$r/out" >&2; die "pgbench failed"; }
        say "round $r/$ROUNDS: finseed bench --scenario..."
        rc=0
        "$FINSEED" bench --database-url "$URL" --scenario "$dir/agree.toml" --json "$dir/fin$r.json" -q \
            >"$dir/fin$r.out" 2>&1 || rc=$?
        [ -s "$dir/fin$r.json" ] || { cat "$dir/fin$r.out" >&2; die "finseed bench --scenario failed (exit $rc)"; }
    done
    python3 - "$dir" "$ROUNDS" "$TOLERANCE" "$RATE" <<'PY'
import glob, json, math, re, sys
work, rounds, tol, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])

def percentile(s, p):  # finseed's stats::percentile (numpy's default, linear)
    rank = p / 100 * (len(s) - 1)
    lo, hi = math.floor(rank), math.ceil(rank)
    return s[lo] + (s[hi] - s[lo]) * (rank - lo)

def fail(msg):
    print("pgbench_agree: " + msg, file=sys.stderr)
    sys.exit(2)

rows = []
for r in range(1, rounds + 1):
    out = open(f"{work}/pgb{r}/out").read()
    m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
    if not m:
        fail(f"round {r}: no tps in pgbench's output:\n{out}")
    pg_tps = float(m.group(1))
    lat = []
    # client_id transaction_no time_us script_no time_epoch time_us_part schedule_lag_us;
    # with --rate, time_us runs from the scheduled start (the lag is inside it).
    for f in glob.glob(f"{work}/pgb{r}/log.*"):
        for line in open(f):
            x = line.split()
            if not x[2].isdigit():
                fail(f"round {r}: pgbench transaction failed or was skipped: {line.strip()}")
            lat.append(int(x[2]) / 1000.0)
    if not lat:
        fail(f"round {r}: pgbench logged no transactions")
    lat.sort()
    s = json.load(open(f"{work}/fin{r}.json"))["scenario"]
    if s["errors"]:
        fail(f"round {r}: finseed had {s['errors']} errors: {s.get('error_messages')}")
    rows.append((r, pg_tps, s["achieved_tps"], percentile(lat, 50), s["latency_ms"]["p50"], len(lat), s["requests"]))

print(f"{'round':<7}{'pgbench TPS':>13}{'finseed TPS':>13}{'ratio':>8}{'pgbench p50 ms':>16}{'finseed p50 ms':>16}{'ratio':>8}{'requests':>18}")
for r, a, b, c, d, n1, n2 in rows:
    print(f"{r:<7}{a:>13.2f}{b:>13.2f}{b / a:>8.3f}{c:>16.3f}{d:>16.3f}{d / c:>8.3f}{n1:>9}/{n2:<8}")
med = lambda v: sorted(v)[len(v) // 2] if len(v) % 2 else sum(sorted(v)[len(v) // 2 - 1:len(v) // 2 + 1]) / 2
tps = med([b / a for _, a, b, *_ in rows])
p50 = med([d / c for _, _, _, c, d, *_ in rows])
ok_t, ok_l = abs(tps - 1) <= tol / 100, abs(p50 - 1) <= tol / 100
print(f"target rate {rate:g}/s; median over rounds: TPS ratio finseed/pgbench = {tps:.3f} (within {tol:g}%: {'yes' if ok_t else 'no'}), "
      f"median latency ratio = {p50:.3f} (within {tol:g}%: {'yes' if ok_l else 'no'})")
sys.exit(0 if ok_t and ok_l else 1)
PY
}

if [ -n "${SCENARIO:-}" ]; then
    mix
    exit $?
fi

mkdir -p "$WORK/queries"
literal "$QFILE" "$WORK/queries/q.sql" "$WORK/pgbench.sql"
ROWS=$(sql "SELECT count(*) FROM ($(sed '$ s/;$//' "$WORK/pgbench.sql")) AS q")

say "query $(basename "$QFILE" .sql) with ${VALUES[*]:-no parameters}: $ROWS rows per execution"
say "each run: $WARMUP warm-up + $ITER measured executions, 1 connection; $ROUNDS rounds"

# Both clients run with glibc told not to give freed heap back to the kernel. By default
# pgbench (libpq) frees each result's PGresult (~200 KB for 1,000 rows) after every
# transaction, glibc trims the heap (brk) and the next result faults the pages in again:
# ~50 page faults and ~0.3 ms of client CPU per execution, counted inside pgbench's latency
# though it is no part of running the query (perf stat: 53.7 faults/tx by default, 1.8 with
# this). finseed does not churn its heap this way; the setting is passed to it as well so the
# two clients run alike.
export GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.trim_threshold=268435456

for r in $(seq 1 "$ROUNDS"); do
    say "round $r/$ROUNDS: pgbench..."
    mkdir -p "$WORK/pgb$r"
    "$PGBENCH" -n -M prepared -c 1 -j 1 -t $((WARMUP + ITER)) -f "$WORK/pgbench.sql" \
        --log --log-prefix="$WORK/pgb$r/log" "$URL" >"$WORK/pgb$r/out" 2>&1 \
        || { cat "$WORK/pgb$r/out" >&2; die "pgbench failed"; }
    say "round $r/$ROUNDS: finseed bench..."
    rc=0
    "$FINSEED" bench --database-url "$URL" --queries "$WORK/queries" --iterations "$ITER" \
        --warmup "$WARMUP" --concurrency 1 --json "$WORK/fin$r.json" -q >"$WORK/fin$r.out" 2>&1 || rc=$?
    [ -s "$WORK/fin$r.json" ] || { cat "$WORK/fin$r.out" >&2; die "finseed bench failed (exit $rc)"; }
done

rc=0
python3 - "$WORK" "$ROUNDS" "$WARMUP" "$ITER" "$TOLERANCE" "$ROWS" <<'PY' || rc=$?
import glob, json, math, sys
work, rounds, warmup, n, tol, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])

def percentile(s, p):  # finseed's stats::percentile (numpy's default, linear)
    rank = p / 100 * (len(s) - 1)
    lo, hi = math.floor(rank), math.ceil(rank)
    return s[lo] + (s[hi] - s[lo]) * (rank - lo)

def summary(x):
    s = sorted(x)
    return percentile(s, 50), percentile(s, 95), sum(s) / len(s)

def fail(msg):
    print("pgbench_agree: " + msg, file=sys.stderr)
    sys.exit(2)

def pct(a, b):
    return (a / b - 1) * 100

pg, fin, per_round, zeros = [], [], [], 0
for r in range(1, rounds + 1):
    logs = glob.glob(f"{work}/pgb{r}/log.*")
    if len(logs) != 1:
        fail(f"round {r}: expected one pgbench log, found {logs}")
    x = []
    # client_id transaction_no time_us script_no time_epoch time_us_part [...], one line per
    # transaction in order (one client): the first `warmup` lines are the warm-up.
    for line in open(logs[0]).readlines()[warmup:]:
        f = line.split()
        if not f[2].isdigit():
            fail(f"round {r}: pgbench transaction failed: {line.strip()}")
        zeros += f[2] == "0"
        x.append(int(f[2]) / 1000.0)
    if len(x) != n:
        fail(f"round {r}: pgbench logged {len(x)} measured transactions, expected {n}")
    rep = json.load(open(f"{work}/fin{r}.json"))
    q = rep["queries"][0]
    if q["errors"] or q["count"] != n or len(q["samples_ms"]) != n:
        fail(f"round {r}: finseed ran {q['count']} of {n} with {q['errors']} errors: {q['first_error']}")
    if q["rows"] != rows * n:
        fail(f"round {r}: finseed fetched {q['rows']} rows, expected {rows} x {n}")
    y = q["samples_ms"]
    per_round.append((r, summary(x)[0], summary(y)[0]))
    pg += x
    fin += y

print(f"{'round':<8}{'pgbench median ms':>20}{'finseed median ms':>20}{'ratio':>8}")
for r, a, b in per_round:
    print(f"{r:<8}{a:>20.3f}{b:>20.3f}{b / a:>8.3f}")
print()
print(f"{'tool':<10}{'runs':>6}{'median ms':>12}{'p95 ms':>12}{'mean ms':>12}")
for name, x in (("pgbench", pg), ("finseed", fin)):
    m, p95, mean = summary(x)
    print(f"{name:<10}{len(x):>6}{m:>12.3f}{p95:>12.3f}{mean:>12.3f}")
ratio = summary(fin)[0] / summary(pg)[0]
ok = abs(ratio - 1) <= tol / 100
print(f"median ratio finseed/pgbench = {ratio:.3f} (agree within {tol:g}%: {'yes' if ok else 'no'})")

# How far each tool's own rounds are apart: when that is near the tolerance, the machine is
# too noisy (other load, CPU frequency) for the verdict to mean much either way.
if rounds > 1:
    spread = max(pct(max(v), min(v)) for v in ([a for _, a, _ in per_round], [b for _, _, b in per_round]))
    if spread > tol:
        print(f"note: one tool's round medians differ by {spread:.0f}% among themselves, more than the "
              f"tolerance: the machine is noisy; rerun when it is idle (or with more ROUNDS) before "
              f"trusting either verdict", file=sys.stderr)
if zeros:
    print(f"note: pgbench logged {zeros} transactions as 0 us: its lazily read clock cannot time a query this fast", file=sys.stderr)
sys.exit(0 if ok else 1)
PY
exit "$rc"
