//! Bad input of any kind is refused before any work, with exit code 2, one cause printed once,
//! the flag or path, and a fix. Every test here failed before the checks-first rework.
//!
//! Commands that would need a database get `--database-url` pointing at a closed port on
//! 127.0.0.1: a command that checked its flags only after connecting fails there with exit 1
//! (connection refused) instead of the exit 2 these tests want. `FINSEED_HOME` is a fresh
//! directory per test process, so no test can start or reach the user's embedded cluster.

mod common;

use common::{finseed, finseed_command, finseed_home};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// Nothing listens on port 1 of the loopback address: connecting is refused at once.
const CLOSED: &str = "postgres://finseed@127.0.0.1:1/nothing";

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 2, every `wants` in the message, a fix, and the OS error (if any) printed once.
fn refused(o: &Output, wants: &[&str]) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "want exit 2: {err}");
    for w in wants {
        assert!(err.contains(w), "want `{w}` in: {err}");
    }
    assert!(err.contains("\n  fix: "), "want a fix line: {err}");
    assert_eq!(err.matches("fix:").count(), 1, "one fix, once: {err}");
    assert!(
        err.matches("os error").count() <= 1,
        "cause printed twice: {err}"
    );
    assert!(!err.contains("panicked"), "a panic is not a message: {err}");
    err
}

fn run_checked(extra: &[&str], wants: &[&str]) -> String {
    let mut args = vec!["run", "-q", "-p", "ci", "--database-url", CLOSED];
    args.extend_from_slice(extra);
    refused(&finseed(&args), wants)
}

// ---- 1. run checks every flag and file before seeding -----------------------------------------

#[test]
fn run_refuses_zero_iterations_before_seeding() {
    run_checked(&["--iterations", "0"], &["--iterations", "0"]);
}

#[test]
fn run_refuses_a_corrupt_baseline_before_seeding() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("baseline.json");
    std::fs::write(&b, "{ not json").unwrap();
    run_checked(
        &["--baseline", b.to_str().unwrap()],
        &["--baseline", "baseline.json"],
    );
}

#[test]
fn run_refuses_an_empty_queries_folder_before_seeding() {
    let dir = tempfile::tempdir().unwrap();
    run_checked(&["--queries", dir.path().to_str().unwrap()], &["--queries"]);
}

#[test]
fn run_refuses_an_unknown_only_before_seeding() {
    run_checked(
        &["--only", "bogus"],
        &["--only", "bogus", "dashboard_summary"],
    );
}

#[test]
fn run_refuses_an_unwritable_report_path_before_seeding() {
    let dir = tempfile::tempdir().unwrap();
    run_checked(
        &["--json", dir.path().to_str().unwrap()],
        &["--json", "is a directory"],
    );
    run_checked(
        &["--markdown", "/proc/finseed/x.md"],
        &["--markdown", "/proc/finseed"],
    );
}

#[test]
fn run_without_a_url_checks_before_creating_the_embedded_cluster() {
    let o = finseed(&["run", "-q", "-p", "ci", "--iterations", "0"]);
    refused(&o, &["--iterations"]);
    assert!(
        !finseed_home().join("cluster.json").exists(),
        "no cluster may be created for a refused command"
    );
}

#[test]
fn a_thresholds_file_naming_an_unknown_query_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.toml");
    std::fs::write(
        &t,
        "[thresholds]\ndashboard_summary = 100\ndashbord_sumary = 50\n",
    )
    .unwrap();
    let err = run_checked(
        &["--thresholds", t.to_str().unwrap()],
        &[
            "--thresholds",
            "dashbord_sumary",
            "dashboard_summary",
            "bulk_data_export",
        ],
    );
    assert!(err.contains("t.toml"), "{err}");
    std::fs::write(&t, "[thresholds]\ndashboard_summary = nan\n").unwrap();
    run_checked(
        &["--thresholds", t.to_str().unwrap()],
        &["thresholds.dashboard_summary"],
    );
}

// ---- 2. bounds on every count --------------------------------------------------------------------

#[test]
fn iterations_are_bounded() {
    for n in ["0", "18446744073709551615", "100000000000"] {
        let o = finseed(&["bench", "--database-url", CLOSED, "--iterations", n]);
        refused(&o, &["--iterations", n]);
    }
}

#[test]
fn warmup_and_concurrency_are_bounded() {
    let o = finseed(&[
        "bench",
        "--database-url",
        CLOSED,
        "--warmup",
        "18446744073709551615",
    ]);
    refused(&o, &["--warmup"]);
    for n in ["0", "100000"] {
        let o = finseed(&["bench", "--database-url", CLOSED, "--concurrency", n]);
        refused(&o, &["--concurrency"]);
    }
}

#[test]
fn min_change_ms_must_be_a_finite_non_negative_number() {
    for v in ["NaN", "-1", "inf", "1e300"] {
        let o = finseed(&[
            "bench",
            "--database-url",
            CLOSED,
            &format!("--min-change-ms={v}"),
        ]);
        refused(&o, &["--min-change-ms"]);
    }
}

#[test]
fn threads_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for n in ["0", "100000"] {
        let o = finseed(&[
            "generate",
            "-q",
            "-p",
            "ci",
            "--threads",
            n,
            "--out",
            out.to_str().unwrap(),
        ]);
        refused(&o, &["--threads"]);
        assert!(!out.exists(), "a refused command writes nothing");
    }
    let o = finseed(&[
        "verify",
        "-p",
        "ci",
        "--database-url",
        CLOSED,
        "--threads",
        "100000",
    ]);
    refused(&o, &["--threads"]);
}

#[test]
fn jobs_are_bounded_and_named_as_jobs() {
    let o = finseed(&["plan", "-p", "ci", "--jobs", "0"]);
    let err = refused(&o, &["--jobs"]);
    assert!(!err.contains("--threads"), "{err}");
    let o = finseed(&[
        "seed",
        "-p",
        "ci",
        "--database-url",
        CLOSED,
        "--jobs",
        "100000",
    ]);
    refused(&o, &["--jobs"]);
}

#[test]
fn scale_cannot_pass_the_row_limit() {
    let o = finseed(&["plan", "-p", "volume", "--scale", "1000"]);
    refused(&o, &["--scale", "10000000000"]);
    for f in ["0", "-1", "NaN", "inf"] {
        let o = finseed(&["plan", "-p", "ci", &format!("--scale={f}")]);
        refused(&o, &["--scale"]);
    }
}

#[test]
fn steps_must_name_a_step() {
    for list in [",", " , ", ""] {
        let o = finseed(&[
            "seed",
            "-p",
            "ci",
            "--database-url",
            CLOSED,
            "--steps",
            list,
        ]);
        refused(&o, &["--steps"]);
    }
}

#[test]
fn loadtest_counts_are_bounded_and_named_as_they_are_spelled() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lt");
    let o = finseed(&[
        "loadtest-data",
        "-p",
        "ci",
        "--users",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = refused(&o, &["--users"]);
    assert!(!err.contains("--max-users"), "{err}");
    let o = finseed(&[
        "loadtest-data",
        "-p",
        "ci",
        "--bulk-files",
        "18446744073709551615",
        "--out",
        out.to_str().unwrap(),
    ]);
    refused(&o, &["--bulk-files"]);
}

/// Runs `args` with a deadline; panics if it is not done by then (a hang, not a timing).
fn within(limit: Duration, args: &[&str]) -> Output {
    let mut child = finseed_command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`finseed {}` still ran after {limit:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn plan_does_not_generate_the_dataset() {
    // Before, plan generated every row: these ran for many minutes.
    let o = within(
        Duration::from_secs(60),
        &["plan", "-p", "volume", "--scale", "100"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.toml");
    let text = finseed::profile::BUILTIN
        .iter()
        .find(|(n, _)| *n == "volume")
        .unwrap()
        .1
        .replace("transactions = 100000000", "transactions = 9000000000");
    assert!(text.contains("9000000000"));
    std::fs::write(&huge, text).unwrap();
    let json = dir.path().join("plan.json");
    let o = within(
        Duration::from_secs(60),
        &[
            "plan",
            "-p",
            huge.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let tx = plan["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "transactions")
        .unwrap();
    assert_eq!(tx["rows"], 9_000_000_000u64);
    let steps: Vec<&str> = plan["steps"]
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
    assert!(plan["sample_rows"].as_u64().unwrap() < 2_000_000);
}

#[test]
fn plan_row_counts_match_what_generate_writes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let json = dir.path().join("plan.json");
    let o = finseed(&["plan", "-p", "ci", "--json", json.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = finseed(&["generate", "-q", "-p", "ci", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    for t in manifest["tables"].as_array().unwrap() {
        let name = t["table"].as_str().unwrap();
        let actual = t["rows"].as_u64().unwrap() as f64;
        let p = plan["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["table"] == name)
            .unwrap();
        let est = p["rows"].as_u64().unwrap() as f64;
        assert!(
            (est - actual).abs() <= actual * 0.25 + 10.0,
            "{name}: plan says {est} rows, generate wrote {actual}"
        );
    }
}

// ---- 3. files that cannot be read, and messages ---------------------------------------------------

#[test]
fn a_missing_profile_is_bad_input_with_the_path() {
    let o = finseed(&["plan", "-p", "/nonexistent/finseed/p.toml"]);
    refused(
        &o,
        &["--profile", "/nonexistent/finseed/p.toml", "No such file"],
    );
}

#[test]
fn a_non_utf8_profile_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("latin1.toml");
    std::fs::write(&p, b"name = \"caf\xe9\"\n").unwrap();
    refused(
        &finseed(&["plan", "-p", p.to_str().unwrap()]),
        &["--profile", "latin1.toml", "UTF-8"],
    );
}

#[test]
fn an_unreadable_profile_is_bad_input() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("secret.toml");
    std::fs::write(&p, "name = \"x\"\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&p).is_ok() {
        // root reads anything: a directory is as unreadable as a profile gets.
        refused(
            &finseed(&["plan", "-p", dir.path().to_str().unwrap()]),
            &["--profile"],
        );
        return;
    }
    refused(
        &finseed(&["plan", "-p", p.to_str().unwrap()]),
        &["--profile", "secret.toml", "ermission"],
    );
}

#[test]
fn a_missing_baseline_is_bad_input() {
    let o = finseed(&[
        "bench",
        "--database-url",
        CLOSED,
        "--baseline",
        "/nonexistent/b.json",
    ]);
    refused(&o, &["--baseline", "/nonexistent/b.json"]);
}

#[test]
fn an_out_dir_that_cannot_be_created_is_bad_input() {
    let o = finseed(&["generate", "-q", "-p", "ci", "--out", "/proc/foo"]);
    refused(&o, &["--out", "/proc/foo"]);
    let o = finseed(&["loadtest-data", "-p", "ci", "--out", "/proc/foo"]);
    refused(&o, &["--out", "/proc/foo"]);
}

// ---- 5. the embedded cluster ----------------------------------------------------------------------

#[test]
fn verify_and_bench_never_create_an_empty_cluster() {
    let elsewhere = tempfile::tempdir().unwrap();
    for args in [&["verify", "-p", "ci"][..], &["bench", "-q"][..]] {
        let o = finseed_command(args)
            .current_dir(elsewhere.path())
            .output()
            .unwrap();
        refused(&o, &["--database-url", "finseed seed", "FINSEED_HOME"]);
    }
    assert!(!finseed_home().join("cluster.json").exists());
    assert!(!elsewhere.path().join(".finseed").exists());
}

/// Stops the embedded cluster under `FINSEED_HOME` when the test ends, passed or not.
struct StopEmbedded(std::path::PathBuf);

impl Drop for StopEmbedded {
    fn drop(&mut self) {
        let _ = finseed::pgctl::stop(&self.0);
    }
}

#[test]
fn one_embedded_cluster_per_user_found_from_any_directory() {
    let home = tempfile::tempdir().unwrap();
    let _stop = StopEmbedded(home.path().to_path_buf());
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cmd = |dir: &Path, args: &[&str]| {
        let o = finseed_command(args)
            .current_dir(dir)
            .env("FINSEED_HOME", home.path())
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr(&o),
        )
    };
    let (code, _, err) = cmd(
        a.path(),
        &[
            "run",
            "-q",
            "-p",
            "ci",
            "--iterations",
            "1",
            "--warmup",
            "0",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("still running") && err.contains("finseed pg stop"),
        "{err}"
    );
    assert!(!a.path().join(".finseed").exists());
    let (code, out, err) = cmd(b.path(), &["pg", "status"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("running"), "{out}");
    assert!(out.contains(&home.path().display().to_string()), "{out}");
    let (code, out, err) = cmd(b.path(), &["verify", "-p", "ci"]);
    assert_eq!(code, Some(0), "verify from another directory: {out}{err}");
    let (code, out, _) = cmd(b.path(), &["pg", "stop"]);
    assert_eq!((code, out.trim()), (Some(0), "stopped"));
}

#[test]
fn scenario_runs_refuse_volume_query_flags() {
    // Before, these were accepted and silently ignored by a scenario run.
    for (flag, value) in [
        ("--iterations", Some("5")),
        ("--warmup", Some("1")),
        ("--concurrency", Some("4")),
        ("--generic-plans", None),
    ] {
        let mut args = vec![
            "bench",
            "--database-url",
            CLOSED,
            "--scenario",
            "dashboard_analytics_load",
            flag,
        ];
        args.extend(value);
        refused(&finseed(&args), &[flag, "--scenario"]);
    }
}
