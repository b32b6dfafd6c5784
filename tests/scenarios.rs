//! `finseed bench --scenario`: open-loop runs of the plan's scenarios on a seeded database.

mod common;

use common::{finseed, fresh_database, text};
use std::path::Path;
use std::sync::Mutex;

/// The tests time requests: run them one at a time so they do not disturb each other.
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

fn scenario(url: &str, name: &str, rate: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "bench",
        "-q",
        "--database-url",
        url,
        "--scenario",
        name,
        "--rate",
        rate,
        "--duration",
        "3s",
        "--ramp-up",
        "1s",
        "--clients",
        "4",
    ];
    args.extend_from_slice(extra);
    finseed(&args)
}

#[test]
fn writes_are_rolled_back_so_verify_passes_and_the_report_is_complete() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let url = seeded("scenario_writes");
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let (json, html, md) = (p("flow.json"), p("flow.html"), p("flow.md"));
    let out = scenario(
        &url,
        "financial_transaction_flow",
        "20",
        &["--json", &json, "--html", &html, "--markdown", &md],
    );
    // 20 requests/s cannot meet the plan's 500 TPS: exit 1, naming the target.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("financial_transaction_flow failed: throughput_tps"),
        "{}",
        text(&out)
    );
    let r = report(Path::new(&json));
    let s = &r["scenario"];
    assert_eq!(s["verdict"], "fail");
    assert_eq!(s["errors"], 0, "{}", s["error_messages"]);
    assert_eq!(s["dropped"], 0);
    let actions = s["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 5);
    for a in actions {
        let l = &a["latency_ms"];
        let get = |k: &str| l[k].as_f64().unwrap();
        assert!(a["requests"].as_u64().unwrap() > 0, "{a}");
        assert!(get("p50") > 0.0 && get("p50") <= get("p95") && get("p95") <= get("p99"));
        assert!(
            get("p99") <= get("p999") && get("p999") <= get("max"),
            "{a}"
        );
        // Latency from the scheduled start is never less than the service time.
        assert!(get("p50") >= a["service_ms"]["p50"].as_f64().unwrap() * 0.99);
    }
    let modes: Vec<&str> = actions
        .iter()
        .map(|a| a["mode"].as_str().unwrap())
        .collect();
    assert_eq!(modes, ["read", "write", "write", "read", "read"]);
    let checks = s["checks"].as_array().unwrap();
    let tps = checks
        .iter()
        .find(|c| c["target"] == "throughput_tps")
        .unwrap();
    assert_eq!(
        (tps["limit"].as_f64(), tps["met"].as_bool()),
        (Some(500.0), Some(false))
    );
    assert!(checks
        .iter()
        .any(|c| c["target"] == "p95_ms" && c["limit"] == 500.0));
    // ~20/s for 3 s after a 1 s ramp-up of ~10 requests.
    let offered = s["offered_tps"].as_f64().unwrap();
    assert!((10.0..30.0).contains(&offered), "{offered}");
    let timeline = s["timeline"].as_array().unwrap();
    assert!(timeline.len() >= 4, "{timeline:?}");
    let completed: u64 = timeline
        .iter()
        .map(|t| t["completed"].as_u64().unwrap())
        .sum();
    assert_eq!(completed, s["scheduled"].as_u64().unwrap());
    assert!(timeline.iter().any(|t| t["p95_ms"].as_f64().is_some()));
    // The volume report's fields, actions as its queries plus the mix.
    let queries = r["queries"].as_array().unwrap();
    assert_eq!(queries.len(), 6);
    assert_eq!(queries[5]["name"], "mix");
    assert_eq!(r["breaches"][0]["what"], "throughput_tps");
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("Throughput and p95 per second") && html.contains("<path d=\"M"));
    assert!(!html.contains("http://") || !html.contains("src=\"http"));
    assert!(std::fs::read_to_string(&md)
        .unwrap()
        .contains("| second | offered |"));

    // The baseline comparison works on scenario runs, and refuses another kind of run.
    let again = p("again.json");
    let out = scenario(
        &url,
        "financial_transaction_flow",
        "20",
        &["--json", &again, "--baseline", &json],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let r2 = report(Path::new(&again));
    assert_eq!(r2["baseline_file"], json.as_str());
    assert!(r2["regressions"].is_array());
    let out = scenario(
        &url,
        "dashboard_analytics_load",
        "20",
        &["--baseline", &json],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("is a run of scenario financial_transaction_flow"));

    // The other writers: 1,000-row COPY imports and split approvals.
    let bulk = p("bulk.json");
    let out = scenario(&url, "bulk_data_operations", "3", &["--json", &bulk]);
    let r = report(Path::new(&bulk));
    assert_eq!(r["scenario"]["errors"], 0, "{}", text(&out));
    let import = r["scenario"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "bulk_transaction_import")
        .unwrap();
    assert!(import["requests"].as_u64().unwrap() > 0);
    let imported = r["queries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "bulk_transaction_import")
        .unwrap();
    assert_eq!(
        imported["rows"].as_u64().unwrap(),
        1000 * imported["count"].as_u64().unwrap()
    );
    let collab = p("collab.json");
    let out = scenario(
        &url,
        "collaborative_context_usage",
        "20",
        &["--json", &collab],
    );
    let r = report(Path::new(&collab));
    assert_eq!(r["scenario"]["errors"], 0, "{}", text(&out));

    let out = finseed(&["verify", "-p", "ci", "--database-url", &url]);
    assert!(out.status.success(), "verify after writes: {}", text(&out));
}

#[test]
fn latency_from_the_scheduled_start_shows_queueing_a_closed_loop_hides() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let url = seeded("scenario_queueing");
    let dir = tempfile::tempdir().unwrap();
    // One connection serving a 50 ms query: at most 20 requests/s. Offer 40/s.
    std::fs::create_dir(dir.path().join("actions")).unwrap();
    std::fs::write(
        dir.path().join("actions/slow.sql"),
        "-- name: slow\n-- mode: read\nSELECT pg_sleep(0.05)\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("slow.toml"),
        "name = \"slow\"\nrate = 40\narrivals = \"constant\"\nclients = 1\nduration = \"3s\"\n\n[targets]\np95_ms = 200\n\n[[action]]\nname = \"sleep\"\nquery = \"slow\"\nweight = 1\n",
    )
    .unwrap();
    let json = dir.path().join("open.json");
    let out = finseed(&[
        "bench",
        "-q",
        "--database-url",
        &url,
        "--scenarios",
        dir.path().to_str().unwrap(),
        "--scenario",
        "slow",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("p95_ms"), "{}", text(&out));
    let r = report(&json);
    let s = &r["scenario"];
    let service_p95 = s["service_ms"]["p95"].as_f64().unwrap();
    let latency_p95 = s["latency_ms"]["p95"].as_f64().unwrap();
    assert!(s["service_ms"]["p50"].as_f64().unwrap() >= 50.0);
    // The queue grows all run long: the wait dwarfs the service time, which is all a closed
    // loop would report.
    assert!(
        latency_p95 > 5.0 * service_p95,
        "latency p95 {latency_p95} vs service p95 {service_p95}"
    );
    assert!(s["achieved_tps"].as_f64().unwrap() < 0.75 * s["offered_tps"].as_f64().unwrap());
    // And it grows over time: the last busy second's p95 is well above the first's.
    let p95s: Vec<f64> = s["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["p95_ms"].as_f64())
        .collect();
    assert!(
        p95s.last().unwrap() > &(3.0 * p95s[0]),
        "p95 per second: {p95s:?}"
    );

    // The same statement timed closed-loop by the volume benchmark shows only service time.
    let qdir = dir.path().join("queries");
    std::fs::create_dir(&qdir).unwrap();
    std::fs::write(
        qdir.join("slow.sql"),
        "-- name: slow\n-- scenario: slow\n-- threshold_p95_ms: 100000\nSELECT pg_sleep(0.05)\n",
    )
    .unwrap();
    let closed = dir.path().join("closed.json");
    let out = finseed(&[
        "bench",
        "-q",
        "--database-url",
        &url,
        "--queries",
        qdir.to_str().unwrap(),
        "--iterations",
        "20",
        "--warmup",
        "1",
        "--json",
        closed.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let closed_p95 = report(&closed)["queries"][0]["latency_ms"]["p95"]
        .as_f64()
        .unwrap();
    assert!(
        latency_p95 > 5.0 * closed_p95,
        "open-loop p95 {latency_p95} vs closed-loop p95 {closed_p95}"
    );
}

#[test]
fn bad_scenario_input_exits_2_with_a_fix() {
    let url = "postgres://nobody@127.0.0.1:1/none";
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nrate = -3\nclients = 2\nduration = \"5s\"\n[[action]]\nname = \"a\"\nquery = \"dashboard_summary\"\nweight = 1\n").unwrap();
    let unknown = dir.path().join("unknown.toml");
    std::fs::write(&unknown, "name = \"x\"\nrate = 3\nclients = 2\nduration = \"5s\"\n[[action]]\nname = \"a\"\nquery = \"no_such_query\"\nweight = 1\n").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--scenario", "dashboard_analytics_load", "--rate", "0"],
            "--rate",
        ),
        (
            vec![
                "--scenario",
                "dashboard_analytics_load",
                "--rate",
                "5/fortnight",
            ],
            "--rate",
        ),
        (
            vec!["--scenario", "dashboard_analytics_load", "--clients", "0"],
            "--clients",
        ),
        (
            vec![
                "--scenario",
                "dashboard_analytics_load",
                "--duration",
                "soon",
            ],
            "--duration",
        ),
        (
            vec![
                "--scenario",
                "dashboard_analytics_load",
                "--arrivals",
                "bursty",
            ],
            "--arrivals",
        ),
        (
            vec!["--scenario", "no_such_scenario"],
            "dashboard_analytics_load",
        ),
        (vec!["--rate", "10"], "--rate applies to scenario runs only"),
        (
            vec!["--scenario", bad.to_str().unwrap()],
            "bad.toml:2: field `rate`",
        ),
        (
            vec!["--scenario", unknown.to_str().unwrap()],
            "no_such_query",
        ),
    ];
    for (args, says) in cases {
        let mut all = vec!["bench", "--database-url", url];
        all.extend(&args);
        let out = finseed(&all);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains(says) && t.contains("fix:"), "{args:?}: {t}");
    }
}
