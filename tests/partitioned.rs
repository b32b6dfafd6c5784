//! The partitioned layout on a real PostgreSQL: the frozen path where the server's wal_level is
//! minimal (the tests' own cluster, like finseed's), the chunk-by-chunk path on a cluster of
//! its own at wal_level = replica; on both, a kill -9 in the middle of the load, the rerun that
//! completes it, verify, and the built-in queries.

mod common;

use common::{finseed, fresh_database, ok, psql, text};
use std::path::PathBuf;

fn spawn(args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_finseed"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("CI", "1")
        .env("FINSEED_HOME", common::finseed_home())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Start `args` and kill -9 it as soon as one of its COPYs runs; bounded in time.
fn kill_during_copy(url: &str, args: &[&str]) {
    kill_during(url, args, "COPY transaction%")
}

/// Start `args` and kill -9 it as soon as a statement LIKE `pattern` runs; bounded in time.
fn kill_during(url: &str, args: &[&str], pattern: &str) {
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let mut child = spawn(args);
    let start = std::time::Instant::now();
    loop {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(180),
            "no {pattern} seen within 180 s"
        );
        if let Some(st) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            panic!(
                "finseed ended ({st}) before {pattern} was seen: {}",
                text(&out)
            );
        }
        let copying: u64 = psql(
            url,
            &format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' \
                 AND state = 'active' AND query LIKE '{pattern}'"
            ),
        )
        .trim()
        .parse()
        .unwrap();
        if copying > 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

fn count(url: &str, sql: &str) -> u64 {
    psql(url, sql).trim().parse().unwrap()
}

fn partitions(url: &str, table: &str) -> u64 {
    count(
        url,
        &format!("SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass('{table}')"),
    )
}

/// Every built-in query runs on the database without an error (a threshold breach, exit 1, is
/// not an error of the query).
fn bench_runs(url: &str) {
    let json = std::env::temp_dir().join(format!(
        "finseed-parted-bench-{}-{}.json",
        std::process::id(),
        url.rsplit('/').next().unwrap()
    ));
    let out = finseed(&[
        "bench",
        "--database-url",
        url,
        "--iterations",
        "1",
        "--warmup",
        "0",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "bench failed: {}",
        text(&out)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let _ = std::fs::remove_file(&json);
    let queries = report["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 14, "{}", text(&out));
    for q in queries {
        assert_eq!(q["errors"], 0, "{}: {}", q["name"], q["first_error"]);
    }
}

/// `seed` of the `small` profile in the partitioned layout over 2 connections.
fn seed_small(url: &str) -> [&str; 9] {
    [
        "seed",
        "-p",
        "small",
        "--layout",
        "partitioned",
        "--jobs",
        "2",
        "--database-url",
        url,
    ]
}

/// `seed_small` running only `steps`.
fn small_steps<'a>(url: &'a str, steps: &'a str) -> Vec<&'a str> {
    let mut args = seed_small(url).to_vec();
    args.extend(["--steps", steps]);
    args
}

/// Whether the server loads frozen (wal_level minimal); says so when a test is skipped.
fn minimal_wal(url: &str) -> bool {
    let minimal = psql(url, "SHOW wal_level").trim() == "minimal";
    if !minimal {
        eprintln!("skipped: this server's wal_level is not minimal (DATABASE_URL?)");
    }
    minimal
}

#[test]
fn frozen_load_resumes_by_partition_and_verifies() {
    let url = fresh_database("parted_frozen");
    if !minimal_wal(&url) {
        return;
    }
    let args = seed_small(&url);
    kill_during_copy(&url, &args);
    // Nothing half-loaded: every attached partition is complete and in the ledger, and no
    // partition table was left outside its parent.
    let ledgered = count(
        &url,
        "SELECT count(*) FROM finseed_ledger WHERE table_name = 'transactions' AND chunk < 0",
    );
    assert_eq!(partitions(&url, "transactions"), ledgered);
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM pg_class c WHERE c.relname ~ '^transaction(s|_splits)_p' \
             AND c.relkind = 'r' AND NOT c.relispartition"
        ),
        0
    );
    // The rerun loads what is missing, frozen.
    let out = ok(&finseed(&args[..]));
    assert!(
        out.contains("loaded with COPY FREEZE and attached"),
        "{out}"
    );
    assert_eq!(partitions(&url, "transactions"), 24);
    assert_eq!(partitions(&url, "transaction_splits"), 24);
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM finseed_ledger WHERE table_name IN ('transactions', 'transaction_splits') AND chunk < 0"
        ),
        48
    );
    // The rollups too are by month.
    assert_eq!(partitions(&url, "aggregated_analytics"), 24);
    ok(&finseed(&["verify", "-p", "small", "--database-url", &url]));
    bench_runs(&url);
}

/// The monthly rollups build resumes after a kill -9: the months attached before it are whole
/// (verify recomputes every row), the rerun builds the others, and nothing is left outside the
/// parent.
#[test]
fn monthly_rollups_resume_after_a_kill() {
    let url = fresh_database("parted_rollups");
    let args = small_steps(&url, "create,load,primary_keys,foreign_keys,indexes");
    ok(&finseed(&args));
    let args = small_steps(&url, "rollups");
    kill_during(&url, &args, "CREATE TABLE aggregated_analytics_p%");
    let attached = partitions(&url, "aggregated_analytics");
    assert!(attached < 24, "{attached} months attached before the kill");
    let out = ok(&finseed(&args));
    assert!(out.contains("by month"), "{out}");
    assert_eq!(partitions(&url, "aggregated_analytics"), 24);
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM pg_class c WHERE c.relname ~ '^aggregated_analytics_p' \
             AND c.relkind = 'r' AND NOT c.relispartition"
        ),
        0
    );
    let args = small_steps(&url, "analyze");
    ok(&finseed(&args));
    ok(&finseed(&["verify", "-p", "small", "--database-url", &url]));
}

/// The keys of `transactions` are added month by month (NOT VALID, then validated) and adopted
/// by the parent's key. What an interrupted run leaves (a month's key added NOT VALID and not
/// yet validated) is validated by the rerun, and a table keyed whole by an earlier finseed
/// (the parent's key with PostgreSQL's own keys on the partitions) gets no second key.
#[test]
fn transactions_keys_by_month_resume_and_are_adopted_by_the_parent() {
    let url = fresh_database("parted_keys");
    let args = small_steps(&url, "create,load,primary_keys");
    ok(&finseed(&args));
    let months: Vec<String> = psql(
        &url,
        "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'transactions'::regclass ORDER BY 1",
    )
    .lines()
    .map(str::to_string)
    .collect();
    assert_eq!(months.len(), 24);
    // As a kill between a month's ADD ... NOT VALID and its VALIDATE leaves it.
    let (a, b) = (&months[0], &months[5]);
    let sa = a.trim_start_matches("transactions_");
    let sb = b.trim_start_matches("transactions_");
    psql(
        &url,
        &format!(
            "ALTER TABLE {a} ADD CONSTRAINT transactions_member_fk_{sa} FOREIGN KEY (context_id, user_id) REFERENCES context_members (context_id, user_id) NOT VALID; \
             ALTER TABLE {b} ADD CONSTRAINT transactions_category_fk_{sb} FOREIGN KEY (category_id) REFERENCES categories (id) NOT VALID"
        ),
    );
    let args = small_steps(&url, "foreign_keys");
    let out = ok(&finseed(&args));
    assert!(out.contains("2 NOT VALID validated"), "{out}");
    let keys = |url: &str| {
        psql(
            url,
            "SELECT count(*) FILTER (WHERE c.conrelid = 'transactions'::regclass), \
                    count(*) FILTER (WHERE c.conrelid <> 'transactions'::regclass AND p.conrelid = 'transactions'::regclass), \
                    count(*) FILTER (WHERE NOT c.convalidated), \
                    count(*) FILTER (WHERE c.conrelid <> 'transactions'::regclass AND c.conparentid = 0) \
             FROM pg_constraint c LEFT JOIN pg_constraint p ON p.oid = c.conparentid \
             WHERE c.contype = 'f' AND c.conrelid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'transactions'::regclass UNION SELECT 'transactions'::regclass)",
        )
        .trim()
        .to_string()
    };
    // The parent's two keys; each month's two, adopted; none NOT VALID; none on its own.
    assert_eq!(keys(&url), "2|48|0|0");
    // Keyed whole the old way: the rerun adds nothing beside PostgreSQL's own month keys.
    psql(
        &url,
        "ALTER TABLE transactions DROP CONSTRAINT transactions_member_fk; \
         ALTER TABLE transactions ADD CONSTRAINT transactions_member_fk FOREIGN KEY (context_id, user_id) REFERENCES context_members (context_id, user_id)",
    );
    let out = ok(&finseed(&args));
    assert!(out.contains("0 statements,"), "{out}");
    assert_eq!(keys(&url), "2|48|0|0");
    let args = small_steps(&url, "indexes,rollups,analyze");
    ok(&finseed(&args));
    ok(&finseed(&["verify", "-p", "small", "--database-url", &url]));
}

/// Loaded frozen, the pages are all-visible without a vacuum: ANALYZE alone (which only reads
/// the visibility map) finds every page all-visible.
#[test]
fn frozen_partitions_need_no_vacuum() {
    let url = fresh_database("parted_vm");
    if !minimal_wal(&url) {
        return;
    }
    ok(&finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--layout",
        "partitioned",
        "--steps",
        "create,load",
        "--database-url",
        &url,
    ]));
    psql(&url, "ANALYZE transactions");
    assert_eq!(
        psql(
            &url,
            "SELECT bool_and(c.relallvisible = c.relpages) AND sum(c.relpages) > 0 FROM pg_inherits i \
             JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'transactions'::regclass"
        )
        .trim(),
        "t"
    );
}

/// A cluster of its own at wal_level = replica; stopped and removed when dropped.
struct ReplicaCluster {
    root: PathBuf,
}

impl Drop for ReplicaCluster {
    fn drop(&mut self) {
        let _ = finseed::pgctl::stop(&self.root);
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

#[test]
fn chunk_by_chunk_where_the_wal_is_needed() {
    let root = std::env::temp_dir().join(format!("finseed-test-replica-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let guard = ReplicaCluster { root: root.clone() };
    let cluster = finseed::pgctl::ensure_running(&root).expect("start a throwaway cluster");
    psql(&cluster.url(), "ALTER SYSTEM SET wal_level = 'replica'");
    finseed::pgctl::stop(&root).expect("stop");
    let cluster = finseed::pgctl::ensure_running(&root).expect("restart");
    let admin = cluster.url();
    assert_eq!(psql(&admin, "SHOW wal_level").trim(), "replica");
    psql(&admin, "CREATE DATABASE parted");
    let url = common::with_database(&admin, "parted");
    let args = seed_small(&url);
    kill_during_copy(&url, &args);
    let out = ok(&finseed(&args[..]));
    assert!(
        out.contains("partitions loaded chunk by chunk") && out.contains("wal_level is replica"),
        "{out}"
    );
    assert_eq!(partitions(&url, "transactions"), 24);
    assert_eq!(
        count(
            &url,
            "SELECT count(*) FROM finseed_ledger WHERE table_name = 'transactions' AND chunk < 0"
        ),
        0
    );
    ok(&finseed(&["verify", "-p", "small", "--database-url", &url]));
    bench_runs(&url);
    drop(guard);
}

/// The layout is refused where it cannot apply, with exit 2.
#[test]
fn the_layout_flag_is_checked() {
    for (args, needle) in [
        (
            vec!["seed", "-p", "ci", "--layout", "sideways"],
            "--layout: `sideways` is not a layout",
        ),
        (
            vec!["seed", "-p", "ci", "--layout", "partitioned", "--unlogged"],
            "--unlogged: not with the partitioned layout",
        ),
        (
            vec![
                "generate",
                "-p",
                "ci",
                "--layout",
                "partitioned",
                "--out",
                "-",
                "--tables",
                "users",
            ],
            "--layout: a PostgreSQL table layout",
        ),
    ] {
        let out = finseed(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(needle), "{args:?}: {}", text(&out));
    }
}
