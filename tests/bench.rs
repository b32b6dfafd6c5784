//! `finseed bench` on a small seeded database: the report's fields, a forced threshold breach,
//! and a baseline comparison that flags a real slowdown but not a rerun.

mod common;

use common::{finseed, fresh_database, psql};
use std::path::Path;
use std::sync::Mutex;

/// The tests time queries: run them one at a time so they do not disturb each other.
static SERIAL: Mutex<()> = Mutex::new(());

fn seeded(name: &str) -> String {
    let url = fresh_database(name);
    let out = finseed(&["seed", "-q", "-p", "ci", "--database-url", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    url
}

fn report(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn report_has_every_field_in_every_format() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let url = seeded("bench_fields");
    let dir = tempfile::tempdir().unwrap();
    let (json, md, html) = (
        dir.path().join("r.json"),
        dir.path().join("r.md"),
        dir.path().join("r.html"),
    );
    let out = finseed(&[
        "bench",
        "-q",
        "--database-url",
        &url,
        "--iterations",
        "12",
        "--warmup",
        "2",
        "--concurrency",
        "2",
        "--json",
        json.to_str().unwrap(),
        "--markdown",
        md.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report(&json);
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["settings"]["concurrency"], 2);
    let queries = r["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 14);
    for q in queries {
        let name = q["name"].as_str().unwrap();
        assert_eq!(q["count"], 12, "{name}");
        assert_eq!(q["errors"], 0, "{name}: {}", q["first_error"]);
        assert_eq!(q["samples_ms"].as_array().unwrap().len(), 12);
        let l = &q["latency_ms"];
        let get = |k: &str| l[k].as_f64().unwrap();
        assert!(get("min") > 0.0 && get("min") <= get("p50") && get("p50") <= get("p95"));
        assert!(
            get("p95") <= get("p99") && get("p99") <= get("max"),
            "{name}: {l}"
        );
        assert!(q["threshold_ms"].as_f64().unwrap() > 0.0);
        assert!(q["throughput_qps"].as_f64().unwrap() > 0.0);
        assert!(
            q["explain"].as_str().unwrap().contains("actual time"),
            "{name}"
        );
        assert!(stdout.contains(name));
    }
    // The ci profile's busiest contexts hold fewer than 5,000 rows, so page 5 by OFFSET is
    // empty there; the keyset cursor sits at half the context instead.
    let list = queries
        .iter()
        .find(|q| q["name"] == "large_list_keyset_busy")
        .unwrap();
    assert!(list["rows"].as_u64().unwrap() > 0 && list["bytes"].as_u64().unwrap() > 0);
    let export = queries.iter().find(|q| q["name"] == "export_12m").unwrap();
    assert_eq!(export["copy"], true);
    assert!(export["bytes_per_second"].as_f64().unwrap() > 0.0);
    assert!(r["cache"]["hit_ratio"].as_f64().unwrap() > 0.5);
    assert_eq!(r["settings"]["plan_cache_mode"], "force_custom_plan");
    // The test cluster preloads pg_stat_statements when the server has it.
    if let Some(st) = r["statements"].as_array().filter(|s| !s.is_empty()) {
        let calls = |n: &str| {
            st.iter()
                .find(|s| s["query"] == n)
                .map(|s| s["calls"].as_i64().unwrap())
        };
        assert_eq!(calls("export_12m"), Some(14));
        assert_eq!(calls("dashboard_summary"), Some(14));
    }
    assert!(r["params"]["busy_contexts"].as_array().unwrap().len() == 5);
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains("| large_list_offset_busy |") && md.contains("EXPLAIN")
            || md.contains("<details>")
    );
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("<svg") && html.contains("large_list_keyset_busy"));
}

#[test]
fn a_breached_threshold_exits_1_and_says_which() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let url = seeded("bench_breach");
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.toml");
    std::fs::write(&t, "[thresholds]\nlarge_list_typical = 0.001\n").unwrap();
    let json = dir.path().join("r.json");
    let out = finseed(&[
        "bench",
        "-q",
        "--database-url",
        &url,
        "--iterations",
        "5",
        "--only",
        "large_list_typical,dashboard_summary",
        "--thresholds",
        t.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("THRESHOLD BREACHED: large_list_typical p95_ms"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("THRESHOLD BREACHED: dashboard_summary"),
        "{stdout}"
    );
    let r = report(&json);
    assert_eq!(r["breaches"].as_array().unwrap().len(), 1);
    assert_eq!(r["breaches"][0]["query"], "large_list_typical");
}

#[test]
fn baseline_flags_a_dropped_index_but_not_a_rerun() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 100K transactions: a busy context's list without its index is a scan worth noticing.
    let url = fresh_database("bench_baseline");
    let out = finseed(&[
        "seed",
        "-q",
        "-p",
        "small",
        "--scale",
        "0.1",
        "--database-url",
        &url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Let the load's dirty pages reach the disk before timing anything.
    psql(&url, "CHECKPOINT");
    let dir = tempfile::tempdir().unwrap();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let run = |json: &str, baseline: Option<&str>| {
        let mut args = vec![
            "bench".to_string(),
            "-q".into(),
            "--database-url".into(),
            url.clone(),
            "--iterations".into(),
            "40".into(),
            "--warmup".into(),
            "10".into(),
            "--only".into(),
            "large_list_typical,large_list_offset_busy".into(),
            "--json".into(),
            json.to_string(),
        ];
        if let Some(b) = baseline {
            args.extend(["--baseline".to_string(), b.to_string()]);
        }
        finseed(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    // A rerun must not be flagged. The baseline and the rerun are measured back to back; when
    // a rerun is flagged anyway, a new pair is measured, so a machine that slowed down for a
    // while (other jobs on a shared CI machine) is compared with itself. Three pairs in a row
    // flagged fail the test: noise does not do that, a real change does. The dropped index
    // below is compared with the last baseline, measured in the same minutes.
    let mut base = String::new();
    for attempt in 1..=3 {
        base = path(&format!("base{attempt}.json"));
        assert!(run(&base, None).status.success());
        let again = run(&path("again.json"), Some(&base));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&again.stdout),
            String::from_utf8_lossy(&again.stderr)
        );
        if again.status.success() {
            break;
        }
        assert!(
            attempt < 3,
            "a rerun was flagged against a baseline measured just before it, three pairs in a row: {text}"
        );
    }
    assert!(report(Path::new(&path("again.json")))["regressions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["significant"] == false));

    psql(&url, "DROP INDEX transactions_context_date_idx");
    let slow = run(&path("slow.json"), Some(&base));
    let text = String::from_utf8_lossy(&slow.stdout);
    assert_eq!(slow.status.code(), Some(1), "{text}");
    assert!(
        text.contains("REGRESSION: large_list_typical p95"),
        "{text}"
    );
    let r = report(Path::new(&path("slow.json")));
    let reg = r["regressions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["query"] == "large_list_typical" && g["kpi"] == "p95")
        .unwrap();
    assert_eq!(reg["significant"], true);
    assert!(reg["test"]["p_greater"].as_f64().unwrap() < 0.001);
    assert!(reg["test"]["prob_superiority"].as_f64().unwrap() >= 0.71);
    assert!(["low", "medium", "high", "critical"].contains(&reg["severity"].as_str().unwrap()));
}

#[test]
fn a_failing_query_is_reported_as_failed_with_the_servers_message_not_as_a_breach() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let url = seeded("bench_failing");
    let dir = tempfile::tempdir().unwrap();
    let queries = dir.path().join("q");
    std::fs::create_dir(&queries).unwrap();
    std::fs::write(
        queries.join("broken.sql"),
        "-- name: broken\n-- scenario: test\n-- params: busy_context\nSELECT no_such_column FROM transactions WHERE context_id = $1\n",
    )
    .unwrap();
    std::fs::write(
        queries.join("fine.sql"),
        "-- name: fine\n-- scenario: test\n-- params: busy_context\nSELECT count(*) FROM transactions WHERE context_id = $1\n",
    )
    .unwrap();
    let p = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    let (json, md, html) = (p("r.json"), p("r.md"), p("r.html"));
    let out = finseed(&[
        "bench",
        "-q",
        "--database-url",
        &url,
        "--queries",
        queries.to_str().unwrap(),
        "--iterations",
        "3",
        "--warmup",
        "1",
        "--json",
        &json,
        "--markdown",
        &md,
        "--html",
        &html,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let server_says = "column \"no_such_column\" does not exist";
    assert!(stdout.contains("QUERY FAILED: broken"), "{stdout}");
    assert!(stdout.contains(server_says), "{stdout}");
    assert!(!stdout.contains("BREACH"), "{stdout}");
    assert!(stderr.contains("1 query(ies) failed"), "{stderr}");
    assert!(!stderr.contains("breach"), "{stderr}");
    let r = report(Path::new(&json));
    assert_eq!(r["breaches"].as_array().unwrap().len(), 0, "{r}");
    assert_eq!(r["failures"][0]["query"], "broken");
    assert!(r["failures"][0]["message"]
        .as_str()
        .unwrap()
        .contains(server_says));
    let fine = r["queries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "fine")
        .unwrap();
    assert_eq!(
        (fine["errors"].as_u64(), fine["breached"].as_bool()),
        (Some(0), Some(false))
    );
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains("## Failed queries") && md.contains(server_says),
        "{md}"
    );
    assert!(
        md.contains("| broken |") && md.contains("| FAILED |"),
        "{md}"
    );
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("Failed queries"), "{html}");
    assert!(
        html.contains("column &quot;no_such_column&quot; does not exist"),
        "{html}"
    );
}

#[test]
fn bench_alone_uses_the_seed_recorded_in_the_database() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let url = fresh_database("bench_seed");
    let out = finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--seed",
        "7",
        "--database-url",
        &url,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let users = |extra: &[&str], name: &str| {
        let json = dir.path().join(name);
        let mut args = vec![
            "bench",
            "-q",
            "--database-url",
            &url,
            "--iterations",
            "1",
            "--warmup",
            "0",
            "--only",
            "dashboard_summary",
            "--json",
            json.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = finseed(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let r = report(&json);
        (
            r["params"]["users"].clone(),
            r["settings"]["bench_seed"].clone(),
        )
    };
    let (default_users, default_seed) = users(&[], "default.json");
    let (seven, _) = users(&["--bench-seed", "7"], "seven.json");
    let (zero, _) = users(&["--bench-seed", "0"], "zero.json");
    assert_eq!(default_seed, 7);
    assert_eq!(
        default_users, seven,
        "bench alone must pick what `run` picks"
    );
    assert_ne!(default_users, zero, "seed 0 should choose other users");
    // A scenario run draws its users with the same default.
    let json = dir.path().join("scenario.json");
    let out = finseed(&[
        "bench",
        "-q",
        "--database-url",
        &url,
        "--scenario",
        "dashboard_analytics_load",
        "--rate",
        "5",
        "--duration",
        "1s",
        "--ramp-up",
        "0s",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(json.exists(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = report(&json);
    assert_eq!(r["settings"]["bench_seed"], 7, "{r}");
    assert_eq!(r["params"]["users"], seven);
}

/// Drops the scale databases a test made, also when it fails.
struct DropDatabases(String, Vec<String>);

impl Drop for DropDatabases {
    fn drop(&mut self) {
        for name in &self.1 {
            let _ = std::process::Command::new(common::psql_program())
                .args([
                    "-X",
                    "-q",
                    &self.0,
                    "-c",
                    &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                ])
                .output();
        }
    }
}

#[test]
fn scales_fits_every_query_in_databases_of_its_own() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let base = common::database_url();
    // A seed of this process's own, so the scale databases' names are this test's.
    let seed = std::process::id().to_string();
    let names: Vec<String> = ["0_5", "1", "2"]
        .iter()
        .map(|s| format!("finseed_scales_ci_s{seed}_{s}"))
        .collect();
    let _cleanup = DropDatabases(base.clone(), names.clone());
    let dir = tempfile::tempdir().unwrap();
    let (json, html, md) = (
        dir.path().join("s.json"),
        dir.path().join("s.html"),
        dir.path().join("s.md"),
    );
    let args = |scales: &'static str, extra: &[&str]| {
        let mut a: Vec<String> = [
            "scales",
            "-q",
            "-p",
            "ci",
            "--seed",
            &seed,
            "--scales",
            scales,
            "--iterations",
            "5",
            "--warmup",
            "1",
            "--database-url",
            &base,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |a: &[String]| finseed(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let out = run(&args(
        "1,0.5",
        &[
            "--json",
            json.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
            "--markdown",
            md.to_str().unwrap(),
        ],
    ));
    // Exit 1 only for a predicted breach (two noisy points may predict one).
    assert!(
        out.status.success()
            || (out.status.code() == Some(1) && common::text(&out).contains("predicted to break")),
        "{}",
        common::text(&out)
    );
    let r = report(&json);
    let scales = r["scales"].as_array().unwrap();
    assert_eq!(scales.len(), 2);
    assert_eq!(scales[0]["transactions"], 3000);
    assert_eq!(scales[1]["transactions"], 6000);
    // Each scale's database is finseed's own, marked, and holds that scale's rows.
    for (name, rows) in [(&names[0], "3000"), (&names[1], "6000")] {
        let url = common::with_database(&base, name);
        assert_eq!(psql(&url, "SELECT count(*) FROM transactions").trim(), rows);
        assert!(psql(&base, &format!("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{name}'"))
            .starts_with("finseed scales"));
    }
    let growth = r["growth"].as_array().unwrap();
    let builtin = 14;
    assert_eq!(growth.len(), builtin, "{growth:?}");
    for g in growth {
        assert_eq!(g["predicted_at"], 60000, "{g}");
        assert_eq!(g["p95_ms"].as_array().unwrap().len(), 2, "{g}");
        assert!(g["fit"]["exponent"].as_f64().unwrap().is_finite(), "{g}");
        assert!(g["predicted_p95_ms"].as_f64().unwrap() > 0.0, "{g}");
        // Two noisy points of a tiny profile can predict anything: only the verdict's logic is
        // checked here.
        let breaks = g["predicted_p95_ms"].as_f64().unwrap() > g["threshold_ms"].as_f64().unwrap();
        assert_eq!(g["breaks"], breaks, "{g}");
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(page.matches("<svg").count(), builtin);
    assert!(std::fs::read_to_string(&md)
        .unwrap()
        .contains("| category_breakdown |"));
    // A rerun reuses the databases (the seeds find everything loaded); a threshold the
    // prediction breaks exits 1 naming the query.
    let limits = dir.path().join("limits.toml");
    std::fs::write(&limits, "[thresholds]\ncategory_breakdown = 0.001\n").unwrap();
    let out = run(&args("0.5,1", &["--thresholds", limits.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    let text = common::text(&out);
    assert!(
        text.contains("predicted to break the threshold at 60000 transactions: category_breakdown"),
        "{text}"
    );
    assert!(text.contains("WOULD BREAK"), "{text}");
    // A database of that name that finseed did not create is refused and left alone.
    psql(&base, &format!("CREATE DATABASE \"{}\"", names[2]));
    psql(
        &common::with_database(&base, &names[2]),
        "CREATE TABLE theirs (x int)",
    );
    let out = run(&args("1,2", &[]));
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert!(
        common::text(&out).contains("was not created by `finseed scales`"),
        "{}",
        common::text(&out)
    );
    assert_eq!(
        psql(
            &common::with_database(&base, &names[2]),
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        )
        .trim(),
        "1"
    );
    // Bad input: one factor only.
    let out = run(&args("1", &[]));
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert!(
        common::text(&out).contains("--scales"),
        "{}",
        common::text(&out)
    );
}
