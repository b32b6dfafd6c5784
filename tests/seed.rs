//! `finseed seed` and `finseed verify` against a real PostgreSQL that the harness starts
//! (or DATABASE_URL).

mod common;

use common::{finseed, fresh_database, ok, psql};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn count(url: &str, table: &str) -> u64 {
    psql(url, &format!("SELECT count(*) FROM {table}"))
        .trim()
        .parse()
        .unwrap()
}

/// Row counts per table from the generator's files (the manifest).
fn generated_counts(profile: &[&str]) -> Vec<(String, u64)> {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["generate", "-q", "--out", dir.path().to_str().unwrap()];
    args.extend_from_slice(profile);
    ok(&finseed(&args));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    m["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_string(),
                t["rows"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn seed_matches_the_generator_and_keys_are_valid() {
    let url = fresh_database("seed_ci");
    let report = tempfile::NamedTempFile::new().unwrap();
    let out = ok(&finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--database-url",
        &url,
        "--json",
        report.path().to_str().unwrap(),
    ]));
    assert!(
        out.contains("transactions") && out.contains("6000"),
        "{out}"
    );
    // Counts equal the generator's files.
    for (table, rows) in generated_counts(&["-p", "ci"]) {
        assert_eq!(count(&url, &table), rows, "{table}");
    }
    // Every constraint exists and is validated.
    let constraints: u64 = psql(&url, "SELECT count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public' AND c.contype IN ('p','f','u') AND c.convalidated").trim().parse().unwrap();
    assert_eq!(
        constraints,
        common::post_load_constraints() + 4 /* finseed_run, finseed_ledger, finseed_owned, finseed_lock keys */
    );
    // The report has every step with its timing.
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.path()).unwrap()).unwrap();
    let steps: Vec<&str> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "create",
            "load",
            "primary_keys",
            "foreign_keys",
            "indexes",
            "rollups",
            "analyze"
        ]
    );
    // Every generated row of ci is loaded (the insight count follows the evidence).
    let generated: u64 = generated_counts(&["-p", "ci"]).iter().map(|c| c.1).sum();
    assert_eq!(r["steps"][1]["rows"], generated);
    assert!(r["tables"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["bytes"].as_i64().unwrap() > 0));
    // Verify agrees: counts, per-column digests and keys.
    let v = ok(&finseed(&["verify", "-p", "ci", "--database-url", &url]));
    assert!(v.contains("verified"), "{v}");
    // A second run is a no-op that still succeeds.
    let again = ok(&finseed(&["seed", "-p", "ci", "--database-url", &url]));
    assert!(again.contains("already present"), "{again}");
    assert_eq!(count(&url, "transactions"), 6000);
}

#[test]
fn verify_catches_a_changed_row_and_a_missing_one() {
    let url = fresh_database("verify_diff");
    ok(&finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--database-url",
        &url,
        "--steps",
        "create,load",
    ]));
    psql(
        &url,
        "UPDATE transactions SET description = description || '!' WHERE id = 17",
    );
    // Insight counts follow the evidence (at most the profile's target): count, then delete one.
    let insights: i64 = psql(&url, "SELECT count(*) FROM ai_insights")
        .trim()
        .parse()
        .unwrap();
    psql(
        &url,
        "DELETE FROM ai_insights WHERE id = (SELECT min(id) FROM ai_insights)",
    );
    let out = finseed(&["verify", "-p", "ci", "--database-url", &url]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DIFFERS in description"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("ai_insights") && l.contains(&(insights - 1).to_string())),
        "{text}"
    );
}

/// Profile with many small chunks so a kill lands mid-load.
const KILL_PROFILE: [&str; 4] = ["-p", "small", "--scale", "2"];

fn ledger_chunks(url: &str) -> u64 {
    // The ledger appears only once the create step has run.
    if psql(url, "SELECT to_regclass('finseed_ledger') IS NULL").trim() == "t" {
        return 0;
    }
    psql(
        url,
        "SELECT count(*) FROM finseed_ledger WHERE table_name = 'transactions'",
    )
    .trim()
    .parse()
    .unwrap_or(0)
}

#[test]
fn a_load_killed_mid_copy_resumes_to_the_same_data() {
    let url = fresh_database("kill_resume");
    let mut args = vec![
        "seed",
        "-q",
        "--database-url",
        &url,
        "--steps",
        "create,load",
        "--jobs",
        "2",
    ];
    args.extend_from_slice(&KILL_PROFILE);
    let mut child = Command::new(env!("CARGO_BIN_EXE_finseed"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while ledger_chunks(&url) < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the load never started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the load finished before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = ledger_chunks(&url);
    assert!(before < 20, "killed after {before} of 20 chunks");
    // The database is consistent: loaded rows are exactly the ledger's.
    let ledger_rows: u64 = psql(
        &url,
        "SELECT sum(rows) FROM finseed_ledger WHERE table_name = 'transactions'",
    )
    .trim()
    .parse()
    .unwrap();
    assert_eq!(count(&url, "transactions"), ledger_rows);
    // Verify reports the missing rows.
    let v = finseed(&[
        "verify",
        "--database-url",
        &url,
        "-p",
        "small",
        "--scale",
        "2",
    ]);
    assert_eq!(v.status.code(), Some(1));
    // Rerun loads only what is missing, then everything verifies.
    ok(&finseed(&args));
    assert_eq!(ledger_chunks(&url), 20);
    ok(&finseed(&[
        "verify",
        "--database-url",
        &url,
        "-p",
        "small",
        "--scale",
        "2",
    ]));
    let report = ok(&finseed(&[
        "seed",
        "--database-url",
        &url,
        "--steps",
        "load",
        "-p",
        "small",
        "--scale",
        "2",
    ]));
    assert!(report.contains("skipped"), "{report}");
}

#[test]
fn dropped_connections_are_retried_within_the_run() {
    let url = fresh_database("dropped");
    let mut args = vec![
        "seed",
        "-q",
        "--database-url",
        &url,
        "--steps",
        "create,load",
    ];
    args.extend_from_slice(&KILL_PROFILE);
    let child = Command::new(env!("CARGO_BIN_EXE_finseed"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while ledger_chunks(&url) < 2 {
        assert!(start.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(20));
    }
    let db = url.rsplit('/').next().unwrap();
    psql(&url, &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' AND application_name = 'finseed'"));
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(ledger_chunks(&url), 20);
    ok(&finseed(&[
        "verify",
        "--database-url",
        &url,
        "-p",
        "small",
        "--scale",
        "2",
    ]));
}

#[test]
fn refuses_foreign_data() {
    let url = fresh_database("foreign");
    psql(
        &url,
        "CREATE TABLE users (id bigint, full_name text); INSERT INTO users VALUES (1, 'Ana')",
    );
    let out = finseed(&["seed", "-q", "-p", "ci", "--database-url", &url]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("did not create") && err.contains("DROP TABLE public.users;"),
        "{err}"
    );
    assert_eq!(count(&url, "users"), 1, "nothing was written");
    assert_eq!(
        psql(&url, "SELECT to_regclass('transactions') IS NULL").trim(),
        "t"
    );
    // Another profile over finseed's own data is refused too; --fresh starts over.
    let url2 = fresh_database("other_profile");
    ok(&finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--database-url",
        &url2,
        "--steps",
        "create,load",
    ]));
    let out = finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--seed",
        "9",
        "--database-url",
        &url2,
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ok(&finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--seed",
        "9",
        "--fresh",
        "--database-url",
        &url2,
        "--steps",
        "create,load",
    ]));
    ok(&finseed(&[
        "verify",
        "-p",
        "ci",
        "--seed",
        "9",
        "--database-url",
        &url2,
    ]));
}

#[test]
fn bad_urls_and_stopped_servers_give_clear_errors_without_the_password() {
    // Nothing listens on port 1.
    let out = finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--database-url",
        "postgres://bob:Sup3rS3cret@127.0.0.1:1/app",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect") && err.contains("bob:***@127.0.0.1:1"),
        "{err}"
    );
    assert!(!err.contains("Sup3rS3cret"), "password leaked: {err}");
    // Malformed URL.
    let out = finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--database-url",
        "postgres://bob:Sup3rS3cret@host:notaport/db",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fix:") && !err.contains("Sup3rS3cret"),
        "{err}"
    );
    // Wrong password on a real server is an error that names the user, not the password.
    let url = common::database_url();
    let host = url.split('@').nth(1).unwrap();
    let out = finseed(&[
        "verify",
        "-p",
        "ci",
        "--database-url",
        &format!("postgres://nobody:Sup3rS3cret@{host}"),
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("Sup3rS3cret"));
}

#[test]
fn shards_loaded_into_one_database_make_the_whole() {
    let url = fresh_database("shards");
    for k in ["1/2", "2/2"] {
        let out = finseed(&[
            "seed",
            "-q",
            "-p",
            "small",
            "--scale",
            "0.3",
            "--database-url",
            &url,
            "--steps",
            "create,load",
            "--shard",
            k,
        ]);
        assert!(
            out.status.success(),
            "{k}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // 300K transactions are three chunks: shard 1 loads one, shard 2 the other two.
    assert_eq!(ledger_chunks(&url), 3);
    ok(&finseed(&[
        "verify",
        "-p",
        "small",
        "--scale",
        "0.3",
        "--database-url",
        &url,
    ]));
    // The keys apply over the union.
    ok(&finseed(&[
        "seed",
        "-q",
        "-p",
        "small",
        "--scale",
        "0.3",
        "--database-url",
        &url,
        "--steps",
        "primary_keys,foreign_keys",
    ]));
}

/// The query file's SQL with `$n` replaced by literals (highest first, so `$1` does not eat `$10`).
fn with_literals(file: &str, literals: &[String]) -> String {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("schemas/queries")
            .join(file),
    )
    .unwrap();
    let mut sql: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for (i, v) in literals.iter().enumerate().rev() {
        sql = sql.replace(&format!("${}", i + 1), v);
    }
    sql
}

#[test]
fn rollups_equal_the_transactions_and_the_rollup_queries_answer_alike() {
    let url = fresh_database("rollups");
    let out = ok(&finseed(&["seed", "-p", "ci", "--database-url", &url]));
    assert!(out.contains("aggregated_analytics:"), "{out}");
    let rows = count(&url, "aggregated_analytics");
    let expected: u64 = psql(
        &url,
        "SELECT count(*) FROM (SELECT DISTINCT context_id, category_id, transaction_date, type \
         FROM transactions WHERE status <> 'cancelled') k",
    )
    .trim()
    .parse()
    .unwrap();
    assert_eq!(rows, expected);
    // plan's estimate counts cancelled transactions' keys too: an upper bound, close.
    let json = tempfile::NamedTempFile::new().unwrap();
    ok(&finseed(&[
        "plan",
        "-p",
        "ci",
        "--json",
        json.path().to_str().unwrap(),
    ]));
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json.path()).unwrap()).unwrap();
    let est = plan["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "aggregated_analytics")
        .unwrap()["rows"]
        .as_u64()
        .unwrap() as f64;
    assert!(
        (est - rows as f64).abs() <= rows as f64 * 0.15,
        "plan estimates {est} rollup rows, the seed built {rows}"
    );
    // Each rollup query gives exactly its base query's rows, for several parameters.
    let as_of = format!(
        "'{}'",
        psql(&url, "SELECT max(transaction_date) FROM transactions").trim()
    );
    let users = psql(
        &url,
        "SELECT user_id FROM context_members GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 4",
    );
    let contexts = psql(
        &url,
        "SELECT context_id FROM transactions GROUP BY context_id ORDER BY count(*) DESC, context_id LIMIT 4",
    );
    let mut compared = 0;
    for (base, rollup, ids) in [
        (
            "dashboard_summary.sql",
            "dashboard_summary_rollup.sql",
            &users,
        ),
        (
            "spending_trends_daily.sql",
            "spending_trends_daily_rollup.sql",
            &contexts,
        ),
    ] {
        for id in ids.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let lits = [id.to_string(), as_of.clone()];
            let a = psql(&url, &with_literals(base, &lits));
            let b = psql(&url, &with_literals(rollup, &lits));
            assert!(!a.trim().is_empty(), "{base} {id}");
            assert_eq!(a, b, "{rollup} differs from {base} for {id}");
            compared += 1;
        }
    }
    assert_eq!(compared, 8);
    // A rollup that no longer equals the transactions fails verify.
    psql(
        &url,
        "UPDATE aggregated_analytics SET amount = amount + 1 WHERE (context_id, day) IN (SELECT context_id, day FROM aggregated_analytics ORDER BY context_id, day LIMIT 1)",
    );
    let v = finseed(&["verify", "-p", "ci", "--database-url", &url]);
    assert_eq!(v.status.code(), Some(1), "{}", common::text(&v));
    assert!(
        common::text(&v).contains("KEYS DIFFER"),
        "{}",
        common::text(&v)
    );
    // --fresh drops finseed's rollup with its tables (no --force: it is derived, not added
    // rows), and the rerun builds it again from the reloaded rows.
    ok(&finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--fresh",
        "--database-url",
        &url,
    ]));
    assert_eq!(count(&url, "aggregated_analytics"), rows);
    ok(&finseed(&["verify", "-p", "ci", "--database-url", &url]));
    // Without the rollup, bench skips the queries that read it and says why.
    psql(&url, "DROP TABLE aggregated_analytics");
    let b = ok(&finseed(&[
        "bench",
        "-q",
        "--database-url",
        &url,
        "--iterations",
        "3",
        "--warmup",
        "1",
        "--only",
        "dashboard_summary,dashboard_summary_rollup",
    ]));
    assert!(
        b.contains("skipped: dashboard_summary_rollup: needs table aggregated_analytics"),
        "{b}"
    );
    let s = finseed(&[
        "bench",
        "--database-url",
        &url,
        "--scenario",
        "dashboard_analytics_load_rollups",
        "--duration",
        "2s",
        "--ramp-up",
        "0s",
        "--rate",
        "5",
    ]);
    assert_eq!(s.status.code(), Some(2), "{}", common::text(&s));
    assert!(
        common::text(&s).contains("seed --steps rollups"),
        "{}",
        common::text(&s)
    );
}

/// The analyze step's detail in a `--steps analyze` run's JSON report.
fn analyze_detail(url: &str) -> String {
    let json = tempfile::NamedTempFile::new().unwrap();
    ok(&finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--database-url",
        url,
        "--steps",
        "analyze",
        "--json",
        json.path().to_str().unwrap(),
    ]));
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(json.path()).unwrap()).unwrap();
    r["steps"][0]["detail"].as_str().unwrap().to_string()
}

#[test]
fn analyze_vacuums_only_tables_with_pages_not_all_visible() {
    let url = fresh_database("analyze_skip");
    ok(&finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--database-url",
        &url,
    ]));
    // The seed's own analyze step vacuumed every table; a rerun may still find pages the
    // first VACUUM could not mark (rows whose commit was not yet old enough): once more, then
    // every page of every table is all-visible and only ANALYZE runs.
    analyze_detail(&url);
    let d = analyze_detail(&url);
    assert!(
        d.contains("8 tables analyzed, 0 vacuumed (8 all-visible already)"),
        "{d}"
    );
    let not_visible = psql(
        &url,
        "SELECT count(*) FROM pg_class WHERE relname = 'transactions' AND relallvisible < relpages",
    );
    assert_eq!(not_visible.trim(), "0");
    // A changed row clears its page's all-visible bit: that table alone is vacuumed.
    psql(
        &url,
        "UPDATE transactions SET description = description WHERE id = 17",
    );
    let d = analyze_detail(&url);
    assert!(d.contains("8 tables analyzed, 1 vacuumed"), "{d}");
}

/// Loaded UNLOGGED, every table is LOGGED after the analyze step (set in foreign-key order: a
/// logged table cannot reference an unlogged one, while the analyze itself runs over two
/// connections), and the data verifies.
#[test]
fn unlogged_tables_are_logged_after_the_seed() {
    let url = fresh_database("unlogged");
    ok(&finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--unlogged",
        "--jobs",
        "2",
        "--database-url",
        &url,
    ]));
    let unlogged = psql(
        &url,
        "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relpersistence = 'u' \
         AND relnamespace = current_schema()::regnamespace",
    );
    assert_eq!(unlogged.trim(), "0");
    ok(&finseed(&["verify", "-p", "ci", "--database-url", &url]));
}
