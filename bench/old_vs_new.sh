#!/usr/bin/env bash
# Issue 8, "each defect above has a test that failed before the fix": runs the CLI scenario of
# the test that covers each defect against an old binary (before the fixes: commit 29b28f1) and
# a new one, and prints one row per defect: the defect, the test, what each binary did, and
# PASS when the old one fails the test's checks and the new one passes them.
#
#   OLD_BIN=/path/to/old/finseed NEW_BIN=target/release/finseed bash bench/old_vs_new.sh
#   ONLY="own pw hang" ...   run only the groups named (own pw hang seeders signals checks
#                            bounds messages bench cluster pooler seed plan)
#
# Building the old binary:
#   git worktree add "$TMPDIR/base" 29b28f1 && (cd "$TMPDIR/base" && cargo build --release)
#
# It starts its own PostgreSQL (an embedded cluster under a temporary FINSEED_HOME, through the
# new binary) and stops it at exit, with every helper it started (fake servers, pgbouncer, an
# old binary's cluster). Network: 127.0.0.1 only. Every command runs under `timeout`.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${OLD_BIN:?set OLD_BIN to the finseed binary built at 29b28f1}"
: "${NEW_BIN:?set NEW_BIN to the finseed binary under test}"
ONLY=${ONLY:-"own pw hang seeders signals checks bounds messages bench cluster pooler seed plan"}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/finseed-oldnew.XXXXXX")
chmod 755 "$WORK"
cp "$OLD_BIN" "$WORK/old" && cp "$NEW_BIN" "$WORK/new" || exit 1
cp bench/old_vs_new_servers.py "$WORK/servers.py"
export CI=1
unset DATABASE_URL PGPASSWORD PGPASSFILE
export FINSEED_HOME="$WORK/home"
# Scenarios run in subshells: what they start is recorded in files, read at exit.
# pids: fake servers and background finseeds; homes: FINSEED_HOME dirs of embedded clusters a
# scenario (or an old binary, in its working directory) may have started; bouncers: pid files.
touch "$WORK/pids" "$WORK/homes" "$WORK/bouncers"
echo "$WORK/.finseed" >>"$WORK/homes"
started() { echo "$1" >>"$WORK/pids"; }
cleanup() {
    while read -r p; do kill -KILL "$p" 2>/dev/null; done <"$WORK/pids"
    while read -r f; do [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done <"$WORK/bouncers"
    while read -r d; do
        [ -e "$d" ] && FINSEED_HOME="$d" timeout 60 "$WORK/new" pg stop >/dev/null 2>&1
    done <"$WORK/homes"
    timeout 60 "$WORK/new" pg stop >/dev/null 2>&1
    sleep 1
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BASE=$(timeout 120 "$WORK/new" pg start) || { echo "cannot start PostgreSQL"; exit 1; }
BASE=${BASE%/*}
PGPORT_=$(sed -n 's#.*127\.0\.0\.1:\([0-9]*\).*#\1#p' <<<"$BASE")
CLOSED="postgres://finseed@127.0.0.1:1/nothing"
echo "cluster: $BASE; old: $OLD_BIN; new: $NEW_BIN"
# An old binary given no URL makes its cluster in the working directory: make that $WORK.
cd "$WORK" || exit 1
# A new database per call (calls run in subshells: the name comes from the clock).
newdb() { local d="ov_$1_$(date +%s%N)"; psql -qX "$BASE/postgres" -c "CREATE DATABASE $d" >/dev/null; echo "$BASE/$d"; }
q() { psql -qXAt -d "$1" -c "$2" 2>/dev/null; }
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# fs BIN LIMIT ARGS...: run a binary with a deadline; sets RC (124: killed at the deadline),
# SECS, and OUT (stdout then stderr); ERR is stderr alone.
fs() {
    local bin=$1 limit=$2
    shift 2
    local t0
    t0=$(date +%s.%N)
    timeout -k 5 "$limit" "$WORK/$bin" "$@" >"$WORK/o" 2>"$WORK/e" </dev/null
    RC=$?
    SECS=$(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")
    ERR=$(cat "$WORK/e")
    OUT="$(cat "$WORK/o")$ERR"
}
# First line of the output, shortened, for the table.
said() { tr '\n' ' ' <<<"$1" | sed 's/  */ /g' | cut -c1-"${2:-90}"; }
has() { grep -qF -- "$2" <<<"$1"; }
# The error line of an output (else its last line), shortened.
errline() { { grep -m1 'error' <<<"$1" || tail -1 <<<"$1"; } | cut -c1-"${2:-90}"; }

# A helper server (bench/old_vs_new_servers.py): MODE [ARGS]; sets PORT.
server_() {
    local mode=$1
    shift
    local pf="$WORK/port.$RANDOM"
    python3 "$WORK/servers.py" "$mode" "$pf" "$@" >/dev/null 2>&1 &
    started $!
    for _ in $(seq 1 300); do [ -s "$pf" ] && break; sleep 0.1; done
    PORT=$(cat "$pf")
}

ROWS=()
row() { # DEFECT TEST FUNCTION [ARGS]: the function prints "pass: ..." or "fail: ..."
    local defect=$1 test=$2 fn=$3
    shift 3
    local o n v
    o=$("$fn" old "$@")
    n=$("$fn" new "$@")
    if [[ $o == fail* && $n == pass* ]]; then v=PASS; else v=FAIL; fi
    ROWS+=("| $defect | $test | $o | $n | $v |")
    printf '%s\n' "${ROWS[-1]}"
}
want() { [[ " $ONLY " == *" $1 "* ]]; }

# ---- scenarios: each mirrors its test's CLI steps and checks ----------------------------------

own_table() { # safety.rs::a_users_own_table_is_never_touched_by_any_flag
    local b=$1 url trail="" bad=0
    url=$(newdb own)
    q "$url" "CREATE TABLE users (name text PRIMARY KEY, note text); INSERT INTO users VALUES ('alice', 'x'), ('bob', 'y')" >/dev/null
    for flags in "--force" "" "--fresh" "--fresh --force" "--steps create"; do
        # shellcheck disable=SC2086
        fs "$b" 300 seed -q -p ci --database-url "$url" $flags
        local rows rels
        rows=$(q "$url" "SELECT string_agg(name, ',' ORDER BY name) FROM users")
        rels=$(q "$url" "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r','v','p','m')")
        trail+="${flags:-(none)}: exit $RC, users ${rows:-GONE}$([ "$rels" != users ] && echo ", +$(($(tr ',' '\n' <<<"$rels" | wc -l) - 1)) tables"); "
        if [ "$RC" != 2 ] || [ "$rows" != "alice,bob" ] || [ "$rels" != users ]; then bad=1; fi
    done
    if [ "$bad" = 1 ]; then echo "fail: $trail"; else echo "pass: exit 2 for all 5 flag sets, alice,bob kept, nothing created"; fi
}

pw_form() { # secrets.rs::no_form_of_password_shows_in_any_output, one form
    local b=$1 url=$2 env=$3 secrets=$4 cmd shown=""
    for cmd in "seed -p ci" "verify -p ci" "bench --iterations 1"; do
        # shellcheck disable=SC2086
        if [ -n "$env" ]; then
            timeout 30 env "$env" "$WORK/$b" $cmd --database-url "$url" >"$WORK/o" 2>&1 </dev/null
        else
            timeout 30 "$WORK/$b" $cmd --database-url "$url" >"$WORK/o" 2>&1 </dev/null
        fi
        local out
        out=$(cat "$WORK/o")
        IFS='|' read -ra parts <<<"$secrets"
        for s in "${parts[@]}"; do
            if has "$out" "$s"; then
                shown=$(grep -oF -- "$s" <<<"$out" | head -1)
                echo "fail: ${cmd%% *} printed '$(grep -o ".\{0,25\}$(printf '%s' "$shown" | sed 's/[.[\*^$/]/\\&/g').\{0,8\}" <<<"$out" | head -1)'"
                return
            fi
        done
    done
    echo "pass: seed, verify, bench: no part of the password shown"
}

hang_silent() { # timeouts.rs::a_server_that_never_answers_fails_within_the_connect_timeout
    local b=$1
    server_ silent
    fs "$b" 40 seed --database-url "postgres://u:pw@127.0.0.1:$PORT/db" -p ci
    if [ "$RC" = 1 ] && (($(echo "$SECS < 15" | bc))) && has "$ERR" timeout && has "$ERR" connect_timeout; then
        echo "pass: exit 1 after $SECS s: $(errline "$ERR" 110)"
    else
        echo "fail: exit $RC after $SECS s$([ "$RC" = 124 ] && echo ' (killed)'): '$(errline "$ERR" 70)'"
    fi
}

hang_drop() { # timeouts.rs::an_address_that_drops_packets_fails_within_the_connect_timeout
    local b=$1 cmd
    server_ drop
    for cmd in "seed -p ci" "verify -p ci"; do
        # shellcheck disable=SC2086
        fs "$b" 40 $cmd --database-url "postgres://u:pw@127.0.0.1:$PORT/db"
        if ! { [ "$RC" = 1 ] && (($(echo "$SECS < 15" | bc))) && has "$ERR" timeout && has "$ERR" connect_timeout; }; then
            echo "fail: ${cmd%% *}: exit $RC after $SECS s$([ "$RC" = 124 ] && echo ' (killed)'): '$(errline "$ERR" 70)'"
            return
        fi
    done
    echo "pass: seed, verify exit 1 after $SECS s: $(errline "$ERR" 110)"
}

hang_login() { # timeouts.rs::a_server_that_logs_in_then_goes_silent_fails_with_a_timeout
    local b=$1 cmd
    server_ login-silent
    for cmd in "seed -p ci" "bench --iterations 1"; do
        # shellcheck disable=SC2086
        fs "$b" 40 $cmd --database-url "postgres://u:pw@127.0.0.1:$PORT/db?connect_timeout=1"
        if ! { [ "$RC" = 1 ] && (($(echo "$SECS < 12" | bc))) && has "$ERR" "answered no query within 6 s"; }; then
            echo "fail: ${cmd%% *}: exit $RC after $SECS s$([ "$RC" = 124 ] && echo ' (killed)'): '$(errline "$ERR" 70)'"
            return
        fi
    done
    echo "pass: seed, bench exit 1 after $SECS s: $(errline "$ERR" 110)"
}

hang_control() { # stall.rs::a_server_silent_during_a_preflight_check_fails_within_the_stall_timeout
    # (the proxy stalls at the first query naming finseed_ledger: new finseed's preflight)
    local b=$1 url db
    url=$(newdb stallctl)
    db=${url##*/}
    server_ proxy "$PGPORT_" "finseed_ledger"
    local via="postgres://postgres:Stall-Secret-93@127.0.0.1:$PORT/$db?connect_timeout=2"
    if [ "$b" = new ]; then
        fs "$b" 60 seed -q -p ci -j 1 --stall-timeout 3 --database-url "$via"
    else # no --stall-timeout before the fixes
        fs "$b" 60 seed -q -p ci -j 1 --database-url "$via"
    fi
    if [ "$RC" = 1 ] && (($(echo "$SECS < 30" | bc))) && has "$OUT" "no answer from the server within 3 s (--stall-timeout)" && ! has "$OUT" Stall-Secret; then
        echo "pass: exit 1 after $SECS s: $(errline "$ERR" 110)"
    else
        echo "fail: exit $RC after $SECS s$([ "$RC" = 124 ] && echo ' (killed)'): '$(errline "$ERR" 70)'"
    fi
}

ledger_chunks() { q "$1" "SELECT CASE WHEN to_regclass('finseed_ledger') IS NULL THEN 0 ELSE (SELECT count(*) FROM finseed_ledger WHERE table_name = 'transactions') END"; }

two_seeders() { # safety.rs::a_second_seeder_is_refused_and_signals_stop_cleanly (first part)
    local b=$1 url first
    url=$(newdb seeders)
    local args=(seed -q -p small --scale 2 --jobs 1 --steps create,load --database-url "$url")
    "$WORK/$b" "${args[@]}" >"$WORK/first.out" 2>&1 </dev/null &
    first=$!
    started "$first"
    for _ in $(seq 1 1800); do
        [ "$(ledger_chunks "$url")" -ge 1 ] 2>/dev/null && break
        kill -0 "$first" 2>/dev/null || break
        sleep 0.1
    done
    fs "$b" 60 "${args[@]}"
    kill -TERM "$first" 2>/dev/null
    sleep 2
    kill -KILL "$first" 2>/dev/null
    wait "$first" 2>/dev/null
    if [ "$RC" = 1 ] && has "$OUT" "another finseed (pid $first, host " && has "$OUT" "is seeding this database" && ! has "$OUT" "duplicate key" && (($(echo "$SECS < 30" | bc))); then
        echo "pass: second exit 1 after $SECS s: $(errline "$ERR" 110)"
    else
        echo "fail: second exit $RC after $SECS s: '$(said "$OUT" 70)'"
    fi
}

two_at_once() { # safety.rs::shards_started_together_load_at_once_and_build_keys_once (no shard)
    local b=$1 url a c oa oc
    url=$(newdb together)
    "$WORK/$b" seed -q -p ci --database-url "$url" >"$WORK/a.out" 2>&1 </dev/null &
    a=$!
    "$WORK/$b" seed -q -p ci --database-url "$url" >"$WORK/c.out" 2>&1 </dev/null &
    c=$!
    started "$a"; started "$c"
    ( sleep 240; kill -KILL "$a" "$c" 2>/dev/null ) &
    local watchdog=$!
    wait "$a"; oa=$?
    wait "$c"; oc=$?
    kill "$watchdog" 2>/dev/null
    local all
    all=$(cat "$WORK/a.out" "$WORK/c.out")
    if has "$all" "duplicate key" || has "$all" "pg_type_typname_nsp_index" || { [ "$oa" != 0 ] && [ "$oc" != 0 ]; }; then
        echo "fail: exits $oa/$oc: '$(grep -m1 -iE 'error|duplicate' <<<"$all" | cut -c1-80)'"
    elif [ "$oa" = 0 ] && [ "$oc" = 0 ] || has "$all" "is seeding this database"; then
        fs "$b" 120 verify -p ci --database-url "$url"
        [ "$RC" = 0 ] && echo "pass: exits $oa/$oc, no catalog error, verify ok: $(said "$all" 60)" || echo "fail: verify exit $RC"
    else
        echo "fail: exits $oa/$oc: '$(said "$all" 70)'"
    fi
}

ctrl_c_fk() { # safety.rs::every_post_load_step_survives_an_interruption (foreign_keys, -INT)
    local b=$1 url db child seen=no
    url=$(newdb ctrlc)
    db=${url##*/}
    fs "$b" 400 seed -q -p small --jobs 2 --steps create,load,primary_keys --database-url "$url"
    [ "$RC" = 0 ] || { echo "fail: setup seed exit $RC: $(said "$OUT" 60)"; return; }
    "$WORK/$b" seed -q -p small --jobs 2 --steps foreign_keys --database-url "$url" >"$WORK/int.out" 2>&1 </dev/null &
    child=$!
    started "$child"
    for _ in $(seq 1 3000); do
        kill -0 "$child" 2>/dev/null || break
        if [ "$(q "$url" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND state = 'active' AND query LIKE 'ALTER TABLE%'")" -gt 0 ] 2>/dev/null; then
            seen=yes
            kill -INT "$child"
            break
        fi
        sleep 0.05
    done
    wait "$child"
    local code=$? said_int
    said_int=$(cat "$WORK/int.out")
    fs "$b" 400 seed -q -p small --jobs 2 --database-url "$url"
    local rerun=$RC rerun_out=$OUT
    if [ "$seen" = yes ] && [ "$code" = 130 ] && has "$said_int" "resume with:" && [ "$rerun" = 0 ]; then
        echo "pass: SIGINT mid-FK: exit 130 + 'resume with:', first rerun exit 0"
    else
        echo "fail: caught mid-FK $seen, exit $code, printed '$(said "$said_int" 30)'; first rerun exit $rerun: '$(said "$rerun_out" 60)'"
    fi
}

# refused ARGS...: exit 2, each of WANTS (global array) in stderr, one fix line, the OS error at
# most once, no panic (inputs.rs::refused).
refused_check() {
    local w
    [ "$RC" = 2 ] || { echo "fail: exit $RC$([ "$RC" = 124 ] && echo " (killed after $SECS s)"): '$(said "$ERR" 70)'"; return; }
    for w in "${WANTS[@]}"; do has "$ERR" "$w" || { echo "fail: exit 2 but no '$w': '$(said "$ERR" 60)'"; return; }; done
    has "$ERR" $'\n  fix: ' || { echo "fail: no fix line: '$(said "$ERR" 60)'"; return; }
    [ "$(grep -o 'fix:' <<<"$ERR" | wc -l)" = 1 ] || { echo "fail: fix printed twice"; return; }
    [ "$(grep -o 'os error' <<<"$ERR" | wc -l)" -le 1 ] || { echo "fail: OS error printed twice: '$(said "$ERR" 60)'"; return; }
    has "$ERR" panicked && { echo "fail: panicked"; return; }
    echo "pass: exit 2: $(said "$ERR" 70)"
}
# refuse BIN LIMIT WANTS(;-separated) ARGS...
refuse() {
    local b=$1 limit=$2
    IFS=';' read -ra WANTS <<<"$3"
    shift 3
    fs "$b" "$limit" "$@"
    refused_check
}

run_refuse() { local b=$1 wants=$2; shift 2; refuse "$b" 60 "$wants" run -q -p ci --database-url "$CLOSED" "$@"; }

thresholds_unknown() { # inputs.rs::a_thresholds_file_naming_an_unknown_query_is_refused
    local b=$1
    printf '[thresholds]\ndashboard_summary = 100\ndashbord_sumary = 50\n' >"$WORK/t.toml"
    run_refuse "$b" "--thresholds;dashbord_sumary;dashboard_summary;t.toml" --thresholds "$WORK/t.toml"
}

iterations_bound() { # inputs.rs::iterations_are_bounded
    local b=$1 n r
    for n in 0 18446744073709551615 100000000000; do
        r=$(refuse "$b" 60 "--iterations;$n" bench --database-url "$CLOSED" --iterations "$n")
        [[ $r == pass* ]] || { echo "fail: --iterations $n: ${r#fail: }"; return; }
    done
    echo "$r"
}

threads_bound() { # inputs.rs::threads_are_bounded
    local b=$1 r
    rm -rf "$WORK/gen"
    r=$(refuse "$b" 60 "--threads" generate -q -p ci --threads 100000 --out "$WORK/gen")
    [ -e "$WORK/gen" ] && [[ $r == pass* ]] && r="fail: refused but wrote $WORK/gen"
    echo "$r"
}

plan_scale() { # inputs.rs::scale_cannot_pass_the_row_limit (and plan_does_not_generate_the_dataset)
    refuse "$1" 60 "--scale;10000000000" plan -p volume --scale 1000
}

plan_fast() { # inputs.rs::plan_does_not_generate_the_dataset
    local b=$1
    fs "$b" 60 plan -p volume --scale 100
    if [ "$RC" = 0 ]; then echo "pass: exit 0 after $SECS s"; else echo "fail: exit $RC after $SECS s$([ "$RC" = 124 ] && echo ' (killed)')"; fi
}

unreadable_profile() { # inputs.rs::an_unreadable_profile_is_bad_input (as root: a directory)
    local b=$1
    mkdir -p "$WORK/prof" && echo 'name = "x"' >"$WORK/prof/secret.toml" && chmod 000 "$WORK/prof/secret.toml"
    if cat "$WORK/prof/secret.toml" >/dev/null 2>&1; then
        refuse "$b" 60 "--profile" plan -p "$WORK/prof"
    else
        refuse "$b" 60 "--profile;secret.toml;ermission" plan -p "$WORK/prof/secret.toml"
    fi
}

non_utf8_profile() { # inputs.rs::a_non_utf8_profile_is_bad_input
    printf 'name = "caf\xe9"\n' >"$WORK/latin1.toml"
    refuse "$1" 60 "--profile;latin1.toml;UTF-8" plan -p "$WORK/latin1.toml"
}

loadtest_users() { # inputs.rs::loadtest_counts_are_bounded_and_named_as_they_are_spelled
    local r
    r=$(refuse "$1" 60 "--users" loadtest-data -p ci --users 0 --out "$WORK/lt")
    fs "$1" 60 loadtest-data -p ci --users 0 --out "$WORK/lt"
    [[ $r == pass* ]] && has "$ERR" "--max-users" && r="fail: names --max-users"
    echo "$r"
}

plan_jobs() { # inputs.rs::jobs_are_bounded_and_named_as_jobs
    local r
    r=$(refuse "$1" 60 "--jobs" plan -p ci --jobs 0)
    fs "$1" 60 plan -p ci --jobs 0
    [[ $r == pass* ]] && has "$ERR" "--threads" && r="fail: names --threads"
    echo "$r"
}

steps_comma() { # inputs.rs::steps_must_name_a_step
    local b=$1 l r
    for l in "," " , " ""; do
        r=$(refuse "$b" 60 "--steps" seed -p ci --database-url "$CLOSED" --steps "$l")
        [[ $r == pass* ]] || { echo "fail: --steps '$l': ${r#fail: }"; return; }
    done
    echo "$r"
}

min_change() { # inputs.rs::min_change_ms_must_be_a_finite_non_negative_number
    local b=$1 v r
    for v in NaN -1 inf 1e300; do
        r=$(refuse "$b" 60 "--min-change-ms" bench --database-url "$CLOSED" "--min-change-ms=$v")
        [[ $r == pass* ]] || { echo "fail: --min-change-ms=$v: ${r#fail: }"; return; }
    done
    echo "$r"
}

toml_date() { # profiles.rs::an_unquoted_toml_date_is_a_date
    local b=$1
    printf 'name = "t"\nseed = 1\n\n[volume]\nusers = 10\ncontexts = 5\ncategories = 100\ntransactions = 100\nai_insights = 10\n\n[window]\nmonths = 6\nend_date = 2025-10-31\n' >"$WORK/bad.toml"
    rm -rf "$WORK/tout"
    fs "$b" 60 generate -q -p "$WORK/bad.toml" --out "$WORK/tout"
    if [ "$RC" = 0 ]; then echo "pass: exit 0, the date read"; else echo "fail: exit $RC: '$(said "$ERR" 70)'"; fi
}

bench_failing() { # bench.rs::a_failing_query_is_reported_as_failed_with_the_servers_message_not_as_a_breach
    local b=$1 url d="$WORK/bf"
    url=$(newdb benchfail)
    fs "$b" 300 seed -q -p ci --database-url "$url"
    [ "$RC" = 0 ] || { echo "fail: seed exit $RC"; return; }
    rm -rf "$d" && mkdir -p "$d/q"
    printf -- '-- name: broken\n-- scenario: test\n-- params: busy_context\nSELECT no_such_column FROM transactions WHERE context_id = $1\n' >"$d/q/broken.sql"
    printf -- '-- name: fine\n-- scenario: test\n-- params: busy_context\nSELECT count(*) FROM transactions WHERE context_id = $1\n' >"$d/q/fine.sql"
    fs "$b" 120 bench -q --database-url "$url" --queries "$d/q" --iterations 3 --warmup 1 --json "$d/r.json" --markdown "$d/r.md"
    local so
    so=$(cat "$WORK/o")
    if [ "$RC" = 1 ] && has "$so" "QUERY FAILED: broken" && has "$so" 'column "no_such_column" does not exist' && ! has "$so" BREACH && has "$ERR" "1 query(ies) failed" && ! has "$ERR" breach; then
        echo "pass: exit 1, 'QUERY FAILED: broken' with the server's message, no breach"
    else
        echo "fail: exit $RC: '$(grep -m2 -iE 'error|breach|fail' <<<"$OUT" | tr '\n' ' ' | cut -c1-80)'"
    fi
}

cluster_elsewhere() { # inputs.rs::verify_and_bench_never_create_an_empty_cluster
    local b=$1 dir="$WORK/elsewhere-$1" home="$WORK/fh-$1"
    mkdir -p "$dir" "$home"
    printf '%s\n' "$dir/.finseed" "$home" >>"$WORK/homes"
    (cd "$dir" && FINSEED_HOME="$home" HOME="$dir" timeout -k 5 300 "$WORK/$b" verify -p ci >"$WORK/o" 2>"$WORK/e" </dev/null)
    RC=$?
    ERR=$(cat "$WORK/e")
    (cd "$dir" && FINSEED_HOME="$dir/.finseed" timeout 60 "$WORK/$b" pg stop >/dev/null 2>&1)
    if [ -e "$dir/.finseed" ]; then
        echo "fail: exit $RC, created $(basename "$dir")/.finseed and started a cluster: '$(said "$(cat "$WORK/o")$ERR" 50)'"
        return
    fi
    WANTS=("--database-url" "finseed seed" "FINSEED_HOME")
    refused_check
}

run_says_running() { # inputs.rs::one_embedded_cluster_per_user_found_from_any_directory (run part)
    local b=$1 dir="$WORK/runhere-$1" home="$WORK/rh-$1"
    mkdir -p "$dir" "$home"
    printf '%s\n' "$dir/.finseed" "$home" >>"$WORK/homes"
    (cd "$dir" && FINSEED_HOME="$home" HOME="$dir" timeout -k 5 400 "$WORK/$b" run -q -p ci --iterations 1 --warmup 0 >"$WORK/o" 2>"$WORK/e" </dev/null)
    RC=$?
    ERR=$(cat "$WORK/e")
    (cd "$dir" && FINSEED_HOME="$home" timeout 60 "$WORK/$b" pg stop >/dev/null 2>&1)
    (cd "$dir" && FINSEED_HOME="$dir/.finseed" timeout 60 "$WORK/$b" pg stop >/dev/null 2>&1)
    if [ "$RC" = 0 ] && has "$ERR" "still running" && has "$ERR" "finseed pg stop" && [ ! -e "$dir/.finseed" ]; then
        echo "pass: exit 0, '$(grep -m1 'still running' <<<"$ERR" | cut -c1-70)'"
    else
        echo "fail: exit $RC, says still running: $(has "$ERR" 'still running' && echo yes || echo no), cluster in cwd: $([ -e "$dir/.finseed" ] && echo yes || echo no)"
    fi
}

pooler() { # pooler.rs::seed_verify_and_bench_work_through_pgbouncer_in_transaction_mode
    local b=$1 url db dir="$WORK/bouncer-$1" port
    [ -x /usr/sbin/pgbouncer ] || { echo "fail: no /usr/sbin/pgbouncer (skipped)"; return; }
    url=$(newdb pooler)
    db=${url##*/}
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$dir"
    printf '"postgres" ""\n' >"$dir/userlist.txt"
    cat >"$dir/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=$PGPORT_
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 100
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
    [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
    echo "$dir/pgbouncer.pid" >>"$WORK/bouncers"
    as_owner /usr/sbin/pgbouncer -d "$dir/pgbouncer.ini" >/dev/null 2>&1 || { echo "fail: pgbouncer did not start"; return; }
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    local via="postgres://postgres@127.0.0.1:$port/$db" res=""
    fs "$b" 120 seed -q -p ci -j 2 --database-url "$via"; res+="seed $RC"
    [ "$RC" = 0 ] && { fs "$b" 120 verify -p ci --database-url "$via"; res+=", verify $RC"; }
    [ "$RC" = 0 ] && { fs "$b" 120 bench -q --iterations 5 --warmup 1 --concurrency 2 --database-url "$via"; res+=", bench $RC$([ "$RC" = 124 ] && echo " (hung, killed after $SECS s)")"; }
    local linked=no
    grep -q "when not linked" "$dir/pgbouncer.log" 2>/dev/null && linked=yes
    kill -TERM "$(cat "$dir/pgbouncer.pid")" 2>/dev/null
    if [ "$res" = "seed 0, verify 0, bench 0" ] && [ "$linked" = no ]; then
        echo "pass: $res through pgbouncer (transaction mode)"
    else
        echo "fail: $res; pgbouncer logged 'when not linked': $linked"
    fi
}

bench_seed() { # bench.rs::bench_alone_uses_the_seed_recorded_in_the_database
    local b=$1 url
    url=$(newdb benchseed)
    fs "$b" 300 seed -q -p ci --seed 7 --database-url "$url"
    [ "$RC" = 0 ] || { echo "fail: seed exit $RC: $(said "$ERR" 60)"; return; }
    local common=(-q --iterations 1 --warmup 0 --only dashboard_summary --database-url "$url")
    fs "$b" 120 bench "${common[@]}" --json "$WORK/alone.json"
    [ "$RC" = 0 ] || { echo "fail: bench exit $RC: $(said "$ERR" 60)"; return; }
    fs "$b" 300 run -p ci --seed 7 "${common[@]}" --json "$WORK/run.json"
    [ "$RC" = 0 ] || { echo "fail: run exit $RC: $(said "$ERR" 60)"; return; }
    python3 - "$WORK/alone.json" "$WORK/run.json" <<'PY'
import json, sys
a, r = (json.load(open(p)) for p in sys.argv[1:3])
ua, ur = a.get("params", {}).get("users"), r.get("params", {}).get("users")
if ua is not None and ua == ur:
    print(f"pass: bench alone and run pick the same users ({len(ua)}), bench_seed {a.get('settings', {}).get('bench_seed')}")
else:
    print(f"fail: bench alone users {str(ua)[:30]} vs run {str(ur)[:30]}")
PY
}

plan_accuracy() { # no test (timed comparisons stay out of tests): bench/plan_accuracy.sh's check
    local b=$1 url
    url=$(newdb plan)
    fs "$b" 60 plan -p small --jobs 2 --json "$WORK/plan.json"
    [ "$RC" = 0 ] || { echo "fail: plan exit $RC"; return; }
    fs "$b" 900 seed -q -p small --jobs 2 --database-url "$url" --json "$WORK/seed.json"
    [ "$RC" = 0 ] || { echo "fail: seed exit $RC: $(said "$ERR" 60)"; return; }
    python3 - "$WORK/plan.json" "$WORK/seed.json" <<'PY'
import json, sys
plan, seed = (json.load(open(p)) for p in sys.argv[1:3])
est = {s["step"]: s.get("seconds", 0.0) for s in plan.get("steps", [])}
if not est:  # the old plan's JSON: load_seconds and index_seconds (keys and indexes)
    est = {"load": plan.get("load_seconds", 0.0), "indexes": plan.get("index_seconds", 0.0)}
act = {s["step"]: s.get("seconds", 0.0) for s in seed.get("steps", [])}
keys = ["primary_keys", "foreign_keys", "indexes"]
el, al = est.get("load", 0.0), act.get("load", 0.0)
ek, ak = sum(est.get(k, 0.0) for k in keys), sum(act.get(k, 0.0) for k in keys)
ok = all(e > 0 and 0.5 <= a / e <= 2 for e, a in ((el, al), (ek, ak)))
print(f"{'pass' if ok else 'fail'}: load est {el:.1f} s / actual {al:.1f} s; keys+indexes est {ek:.1f} s / actual {ak:.1f} s")
PY
}

# ---- the table -------------------------------------------------------------------------------
echo
echo "| defect | test | old (29b28f1) | new | old fails, new passes |"
echo "|---|---|---|---|---|"
if want own; then
    row "ownership: a user's users table dropped" "safety.rs::a_users_own_table_is_never_touched_by_any_flag" own_table
fi
if want pw; then
    server_ echo
    E=$PORT
    printf '127.0.0.1:%s:*:*:Pass:File9\n' "$E" >"$WORK/pgpass" && chmod 600 "$WORK/pgpass"
    T="secrets.rs::no_form_of_password_shows_in_any_output"
    row "password: URL with raw @" "$T" pw_form "postgres://bob:p@2Secret@127.0.0.1:$E/fs" "" "p@2Secret|2Secret|p%402Secret"
    row "password: URL percent-encoded" "$T" pw_form "postgres://bob:En%40c0ded%3Apw@127.0.0.1:$E/fs" "" "En%40c0ded|En@c0ded|c0ded:pw|c0ded%3Apw"
    row "password: key=value, quoted with spaces" "$T" pw_form "host=127.0.0.1 port=$E user=carol password='two words pw' dbname=fs" "" "two words|words pw|two%20words"
    row "password: key=value, quoted with \\'" "$T" pw_form "host=127.0.0.1 port=$E user=carol password='it\\'s quoted' dbname=fs" "" "it's quoted|it\\'s|s quoted"
    row "password: ?password= query parameter" "$T" pw_form "postgres://bob@127.0.0.1:$E/fs?password=QueryPw42&sslmode=disable" "" "QueryPw42"
    row "password: ?sslpassword= (form not in the issue)" "$T" pw_form "postgres://bob@127.0.0.1:$E/fs?sslpassword=SslKeyPw7" "" "SslKeyPw7"
    row "password: PGPASSWORD (not in the issue)" "$T" pw_form "postgres://bob@127.0.0.1:$E/fs" "PGPASSWORD=EnvPass 77" "EnvPass|Pass 77"
    row "password: passfile (not in the issue)" "$T" pw_form "postgres://bob@127.0.0.1:$E/fs" "PGPASSFILE=$WORK/pgpass" "Pass:File9|File9"
fi
if want hang; then
    row "hang: server accepts, never answers" "timeouts.rs::a_server_that_never_answers_fails_within_the_connect_timeout" hang_silent
    row "hang: address drops packets (full accept queue)" "timeouts.rs::an_address_that_drops_packets_fails_within_the_connect_timeout" hang_drop
    row "hang: logs in, then silent" "timeouts.rs::a_server_that_logs_in_then_goes_silent_fails_with_a_timeout" hang_login
    row "hang: silent mid control query (old: no --stall-timeout)" "stall.rs::a_server_silent_during_a_preflight_check_fails_within_the_stall_timeout" hang_control
fi
if want seeders; then
    row "two seeds at once: second while first loads" "safety.rs::a_second_seeder_is_refused_and_signals_stop_cleanly" two_seeders
    row "two seeds at once: started together" "safety.rs::shards_started_together_load_at_once_and_build_keys_once" two_at_once
fi
if want signals; then
    row "Ctrl-C during foreign keys, then rerun" "safety.rs::every_post_load_step_survives_an_interruption" ctrl_c_fk
fi
if want checks; then
    row "work before checks: run --iterations 0" "inputs.rs::run_refuses_zero_iterations_before_seeding" run_refuse "--iterations;0" --iterations 0
    printf '{ not json' >"$WORK/baseline.json"
    row "work before checks: corrupt --baseline" "inputs.rs::run_refuses_a_corrupt_baseline_before_seeding" run_refuse "--baseline;baseline.json" --baseline "$WORK/baseline.json"
    mkdir -p "$WORK/emptyq"
    row "work before checks: empty --queries" "inputs.rs::run_refuses_an_empty_queries_folder_before_seeding" run_refuse "--queries" --queries "$WORK/emptyq"
    row "work before checks: --only bogus" "inputs.rs::run_refuses_an_unknown_only_before_seeding" run_refuse "--only;bogus;dashboard_summary" --only bogus
fi
if want bounds; then
    row "panic: bench --iterations 2^64-1 / 1e11" "inputs.rs::iterations_are_bounded" iterations_bound
    row "unbounded: generate --threads 100000" "inputs.rs::threads_are_bounded" threads_bound
    row "unbounded: plan -p volume --scale 1000" "inputs.rs::scale_cannot_pass_the_row_limit" plan_scale
    row "unbounded: plan generates every row" "inputs.rs::plan_does_not_generate_the_dataset" plan_fast
fi
if want messages; then
    row "message: missing profile" "inputs.rs::a_missing_profile_is_bad_input_with_the_path" refuse 60 "--profile;/nonexistent/finseed/p.toml;No such file" plan -p /nonexistent/finseed/p.toml
    row "message: unreadable profile" "inputs.rs::an_unreadable_profile_is_bad_input" unreadable_profile
    row "message: non-UTF-8 profile" "inputs.rs::a_non_utf8_profile_is_bad_input" non_utf8_profile
    row "message: missing --baseline" "inputs.rs::a_missing_baseline_is_bad_input" refuse 60 "--baseline;/nonexistent/b.json" bench --database-url "$CLOSED" --baseline /nonexistent/b.json
    row "message: --out /proc/foo" "inputs.rs::an_out_dir_that_cannot_be_created_is_bad_input" refuse 60 "--out;/proc/foo" generate -q -p ci --out /proc/foo
    row "message: loadtest-data --users 0" "inputs.rs::loadtest_counts_are_bounded_and_named_as_they_are_spelled" loadtest_users
    row "message: plan --jobs 0" "inputs.rs::jobs_are_bounded_and_named_as_jobs" plan_jobs
    row "message: --steps \",\"" "inputs.rs::steps_must_name_a_step" steps_comma
    row "message: --thresholds unknown query" "inputs.rs::a_thresholds_file_naming_an_unknown_query_is_refused" thresholds_unknown
    row "message: --min-change-ms NaN" "inputs.rs::min_change_ms_must_be_a_finite_non_negative_number" min_change
    row "message: unquoted TOML date" "profiles.rs::an_unquoted_toml_date_is_a_date" toml_date
fi
if want bench; then
    row "failing query shown as a breach" "bench.rs::a_failing_query_is_reported_as_failed_with_the_servers_message_not_as_a_breach" bench_failing
fi
if want cluster; then
    row "cluster: verify elsewhere makes an empty one" "inputs.rs::verify_and_bench_never_create_an_empty_cluster" cluster_elsewhere
    row "cluster: run does not say it keeps running" "inputs.rs::one_embedded_cluster_per_user_found_from_any_directory" run_says_running
fi
if want pooler; then
    row "pooler: bench hangs behind pgbouncer" "pooler.rs::seed_verify_and_bench_work_through_pgbouncer_in_transaction_mode" pooler
fi
if want seed; then
    row "bench alone vs run: different parameters" "bench.rs::bench_alone_uses_the_seed_recorded_in_the_database" bench_seed
fi
if want plan; then
    row "plan far off (small, within 2x)" "none: timed, bench/plan_accuracy.sh" plan_accuracy
fi

echo
echo "Summary (copy):"
echo "| defect | test | old (29b28f1) | new | old fails, new passes |"
echo "|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
fails=$(printf '%s\n' "${ROWS[@]}" | grep -c '| FAIL |$')
echo "rows: ${#ROWS[@]}, not old-fails-new-passes: $fails"
