//! Shared helpers for integration tests: a PostgreSQL server to test against.
//!
//! `DATABASE_URL`, when set, names that server. Otherwise the first call in a test binary starts
//! (or reuses) a throwaway local cluster under `<temp dir>/finseed-test-pg` through
//! `finseed::pgctl::Lease`, which serialises concurrent test binaries with a lock directory and
//! records each binary using the cluster. At process exit (an `atexit` hook, so also when tests
//! failed or panicked) the binary drops its lease, and the last binary using the cluster stops
//! it. The `finseed` binary runs with `FINSEED_HOME` pointing at a per-process directory, so a
//! test can never start (or reach) the user's own embedded cluster; one started there is
//! stopped and removed at exit too.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

static LOCAL_URL: OnceLock<String> = OnceLock::new();
static LEASE: OnceLock<finseed::pgctl::Lease> = OnceLock::new();

extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
}

/// Registered once per test binary: stop what this process started.
extern "C" fn stop_clusters_at_exit() {
    if let Some(lease) = LEASE.get() {
        if let Err(e) = lease.release() {
            eprintln!("could not stop the tests' PostgreSQL: {e}");
        }
    }
    let home = finseed_home();
    if finseed::pgctl::exists(&home) {
        if let Err(e) = finseed::pgctl::stop(&home) {
            eprintln!(
                "could not stop the PostgreSQL under {}: {e}",
                home.display()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&home);
}

fn stop_at_exit() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a plain function with the C library; it runs once at exit().
        let rc = unsafe { atexit(stop_clusters_at_exit) };
        assert_eq!(rc, 0, "atexit failed");
    });
}

/// `FINSEED_HOME` for the finseed binary in tests: per process, removed at exit.
pub fn finseed_home() -> PathBuf {
    std::env::temp_dir().join(format!("finseed-test-home-{}", std::process::id()))
}
static NEXT_DATABASE: AtomicU32 = AtomicU32::new(0);

/// The URL of the database to test against: `DATABASE_URL` if set, else database `finseed` on the
/// throwaway local cluster.
pub fn database_url() -> String {
    if let Some(url) = env_url() {
        return url;
    }
    LOCAL_URL
        .get_or_init(|| {
            let root = std::env::temp_dir().join("finseed-test-pg");
            stop_at_exit();
            let (cluster, lease) = finseed::pgctl::Lease::acquire(&root).unwrap_or_else(|e| {
                panic!(
                    "cannot start a throwaway PostgreSQL under {} (set DATABASE_URL to test \
                     against an existing server instead): {e}",
                    root.display()
                )
            });
            let _ = LEASE.set(lease);
            let url = cluster.url();
            drop_abandoned_databases(&url);
            url
        })
        .clone()
}

/// Create a new, empty database named `<prefix>_<pid>_<counter>` on the test server and return
/// its URL, so tests don't see each other's tables.
pub fn fresh_database(name_prefix: &str) -> String {
    let base = database_url();
    let mut prefix: String = name_prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if !prefix.starts_with(|c: char| c.is_ascii_lowercase()) {
        prefix.insert(0, 't');
    }
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT_DATABASE.fetch_add(1, Ordering::Relaxed)
    );
    psql(&base, &format!("CREATE DATABASE \"{name}\""));
    with_database(&base, &name)
}

/// `url` with its database (path) replaced by `database`, keeping any `?query`.
pub fn with_database(url: &str, database: &str) -> String {
    let (main, query) = match url.find('?') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let authority_start = main.find("://").map_or(0, |i| i + 3);
    let head = match main[authority_start..].find('/') {
        Some(i) => &main[..authority_start + i],
        None => main,
    };
    format!("{head}/{database}{query}")
}

/// Run one SQL statement with psql against `url`; returns its unaligned, tuples-only output.
/// Panics with psql's message on failure.
pub fn psql(url: &str, sql: &str) -> String {
    try_psql(url, sql).unwrap_or_else(|e| panic!("{e}"))
}

fn try_psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new(psql_program())
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "psql `{sql}` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn env_url() -> Option<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// `psql` from PATH, else from the PostgreSQL installation's bin dir.
pub fn psql_program() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("psql").is_file()));
    if on_path {
        return PathBuf::from("psql");
    }
    finseed::pgctl::find_binaries()
        .map(|bin| bin.join("psql"))
        .unwrap_or_else(|_| PathBuf::from("psql"))
}

/// On the throwaway cluster only: drop databases made by `fresh_database` in test processes that
/// have exited, so the cluster does not grow run after run.
/// Best effort: a failure here only leaves garbage behind.
fn drop_abandoned_databases(url: &str) {
    if !Path::new("/proc/self").exists() {
        return; // no way to tell which test processes are gone
    }
    let Ok(names) = try_psql(
        url,
        "SELECT datname FROM pg_database \
         WHERE NOT datistemplate AND datname NOT IN ('postgres', 'finseed')",
    ) else {
        return;
    };
    for name in names.lines().map(str::trim).filter(|n| !n.is_empty()) {
        let mut parts = name.rsplitn(3, '_');
        let (Some(counter), Some(pid), Some(_prefix)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if numeric(counter) && numeric(pid) && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = try_psql(
                url,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            );
        }
    }
}

/// Run the finseed binary with the given arguments, never inheriting DATABASE_URL (tests pass
/// URLs explicitly) and as in CI (no progress bars).
pub fn finseed(args: &[&str]) -> std::process::Output {
    finseed_command(args).output().expect("run finseed")
}

/// The finseed binary as [`finseed`] runs it, to add a working directory or environment.
pub fn finseed_command(args: &[&str]) -> Command {
    stop_at_exit();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_finseed"));
    cmd.args(args)
        .env_remove("DATABASE_URL")
        .env("FINSEED_HOME", finseed_home())
        .env("CI", "1");
    cmd
}

/// Asserts that every primary key, unique and foreign key of schemas/post_load.sql exists once
/// and is validated in `url`'s public schema, and that no index is invalid.
#[allow(dead_code)]
pub fn assert_keys_built_once(url: &str) {
    let keys = psql(url, "SELECT count(*) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid WHERE c.contype IN ('p','f','u') AND c.convalidated AND t.relnamespace = 'public'::regnamespace AND t.relname NOT LIKE 'finseed%'");
    let invalid = psql(url, "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid AND c.relnamespace = 'public'::regnamespace");
    let want = post_load_constraints().to_string();
    assert_eq!((keys.trim(), invalid.trim()), (want.as_str(), "0"));
}

/// Primary keys, uniques and foreign keys schemas/post_load.sql adds to finseed's tables.
pub fn post_load_constraints() -> u64 {
    ["primary_keys", "foreign_keys"]
        .iter()
        .flat_map(|s| finseed::schema::post_load_step(s))
        .filter(|s| s.contains("ADD CONSTRAINT"))
        .count() as u64
}

/// A finseed run's standard output followed by its standard error.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts the run succeeded (showing its output if not) and returns its output.
pub fn ok(out: &std::process::Output) -> String {
    let t = text(out);
    assert!(out.status.success(), "finseed failed: {t}");
    t
}

/// Whether the tests run as root (mounts and pgbouncer need it).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
