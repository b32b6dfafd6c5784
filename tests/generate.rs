//! The determinism contract and the command's behaviour, through the real binary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn finseed(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_finseed"))
        .args(args)
        .env("CI", "1")
        .output()
        .expect("run finseed")
}

fn generate(dir: &Path, extra: &[&str]) {
    let mut args = vec!["generate", "--quiet", "--out", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = finseed(&args);
    assert!(
        out.status.success(),
        "finseed {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// File name → bytes, for every data file in a directory (manifests and SQL scripts excluded).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.starts_with("manifest") && !name.ends_with(".sql")
        })
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

/// The shard files `{table}.shard-K-of-{n}.{ext}` of `files` joined into one: a CSV's header
/// once (each shard starts with the same header as `whole`), then every shard's rows.
fn join_shards(
    files: &BTreeMap<String, Vec<u8>>,
    table: &str,
    ext: &str,
    n: u64,
    whole: &[u8],
) -> Vec<u8> {
    let head = match ext {
        "csv" => whole.iter().position(|&b| b == b'\n').unwrap() + 1,
        _ => 0,
    };
    let mut joined = whole[..head].to_vec();
    for k in 1..=n {
        let part = &files[&format!("{table}.shard-{k}-of-{n}.{ext}")];
        assert_eq!(&part[..head], &whole[..head], "{table}: shard {k}'s header");
        joined.extend_from_slice(&part[head..]);
    }
    joined
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

const TABLES: [&str; 8] = [
    "users",
    "contexts",
    "context_members",
    "categories",
    "budgets",
    "transactions",
    "transaction_splits",
    "ai_insights",
];

#[test]
fn same_bytes_at_one_and_two_threads_in_every_format() {
    for format in ["csv", "jsonl", "json"] {
        let (a, b) = (tmp(), tmp());
        generate(
            a.path(),
            &["-p", "ci", "--format", format, "--threads", "1"],
        );
        generate(
            b.path(),
            &["-p", "ci", "--format", format, "--threads", "2"],
        );
        let (fa, fb) = (files(a.path()), files(b.path()));
        assert_eq!(fa.len(), 8, "{format}: {:?}", fa.keys());
        assert_eq!(fa, fb, "{format}: thread count changed the output");
        let ma = std::fs::read(a.path().join("manifest.json")).unwrap();
        let mb = std::fs::read(b.path().join("manifest.json")).unwrap();
        assert_eq!(ma, mb, "{format}: manifests differ");
    }
}

#[test]
fn larger_profile_is_thread_independent_across_many_chunks() {
    // 300K transactions span three chunks of 100K and many contexts per chunk.
    let (a, b) = (tmp(), tmp());
    let args = [
        "-p",
        "small",
        "--scale",
        "0.3",
        "--tables",
        "transactions,transaction_splits,ai_insights",
    ];
    generate(a.path(), &[&args[..], &["--threads", "1"]].concat());
    generate(b.path(), &[&args[..], &["--threads", "2"]].concat());
    assert_eq!(files(a.path()), files(b.path()));
}

#[test]
fn insights_told_in_the_transactions_pass_are_the_insights_groups_rows() {
    // With transactions also wanted, CSV and JSON tell each context's insights from the
    // transactions the transactions' chunk generates (contexts cross its 100K-id boundaries
    // here); alone, ai_insights regenerates them per context. Same bytes either way, and the
    // shards of the fused pass still concatenate to the whole (a JSON array file is one array
    // per shard, so JSON is compared whole only).
    for format in ["csv", "jsonl", "json"] {
        let (fused, alone, shards) = (tmp(), tmp(), tmp());
        let base = ["-p", "small", "--scale", "0.3", "--format", format];
        generate(
            fused.path(),
            &[&base[..], &["--tables", "transactions,ai_insights"]].concat(),
        );
        generate(
            alone.path(),
            &[&base[..], &["--tables", "ai_insights"]].concat(),
        );
        for k in (1..=2).filter(|_| format != "json") {
            let shard = format!("{k}/2");
            generate(
                shards.path(),
                &[
                    &base[..],
                    &["--tables", "transactions,ai_insights", "--shard", &shard],
                ]
                .concat(),
            );
        }
        let (f, a, s) = (
            files(fused.path()),
            files(alone.path()),
            files(shards.path()),
        );
        let name = format!("ai_insights.{format}");
        assert!(
            f[&name].len() > 100_000,
            "{format}: too few insights to compare"
        );
        assert_eq!(f[&name], a[&name], "{format}: fused insights differ");
        if format == "json" {
            continue;
        }
        let joined = join_shards(&s, "ai_insights", format, 2, &a[&name]);
        assert_eq!(
            joined, a[&name],
            "{format}: fused shards differ from the whole"
        );
    }
}

#[test]
fn shards_concatenate_to_the_whole() {
    let whole = tmp();
    generate(whole.path(), &["-p", "small", "--scale", "0.25"]);
    let shards = tmp();
    for k in 1..=3 {
        generate(
            shards.path(),
            &[
                "-p",
                "small",
                "--scale",
                "0.25",
                "--shard",
                &format!("{k}/3"),
            ],
        );
    }
    let w = files(whole.path());
    let s = files(shards.path());
    for table in TABLES {
        let full = &w[&format!("{table}.csv")];
        let joined = join_shards(&s, table, "csv", 3, full);
        assert_eq!(&joined, full, "{table}: shards differ from the whole");
    }
    // Each shard has its own manifest beside the others.
    for k in 1..=3 {
        assert!(shards
            .path()
            .join(format!("manifest.shard-{k}-of-3.json"))
            .exists());
    }
}

#[test]
fn manifest_describes_the_files() {
    let d = tmp();
    generate(d.path(), &["-p", "ci"]);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["profile"], "ci");
    assert_eq!(m["seed"], 20251019);
    assert_eq!(m["finseed_version"], env!("CARGO_PKG_VERSION"));
    let tables = m["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 8);
    for t in tables {
        let path = d.path().join(t["file"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        use sha2::Digest;
        let digest: String = sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(t["sha256"], digest.as_str());
        assert_eq!(t["bytes"], bytes.len() as u64);
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        // One header line plus one line per row (no generated text holds a line break).
        assert_eq!(t["rows"].as_u64().unwrap() + 1, lines, "{}", t["table"]);
    }
    let counts: BTreeMap<&str, u64> = tables
        .iter()
        .map(|t| (t["table"].as_str().unwrap(), t["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(counts["users"], 300);
    assert_eq!(counts["transactions"], 6000);
    // The insight count is a target: contexts without evidence get fewer.
    assert!(
        (300..=400).contains(&counts["ai_insights"]),
        "{}",
        counts["ai_insights"]
    );
    assert_eq!(counts["categories"], 120);
}

/// Golden hashes of the `ci` profile: any change to generated bytes must be deliberate.
/// To accept a change on purpose: `FINSEED_BLESS=1 cargo test --release golden`.
#[test]
fn golden_ci_hashes() {
    let d = tmp();
    generate(d.path(), &["-p", "ci"]);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("manifest.json")).unwrap()).unwrap();
    let mut got = String::new();
    for t in m["tables"].as_array().unwrap() {
        got.push_str(&format!(
            "{}  {}\n",
            t["sha256"].as_str().unwrap(),
            t["file"].as_str().unwrap()
        ));
    }
    let golden: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "golden", "ci.sha256"]
        .iter()
        .collect();
    if std::env::var_os("FINSEED_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden)
        .expect("tests/golden/ci.sha256 (bless with FINSEED_BLESS=1)");
    assert_eq!(
        got, want,
        "the ci profile's output changed; if intended, re-bless the golden hashes"
    );
}

#[test]
fn json_is_a_valid_array_and_jsonl_a_line_per_row() {
    let (a, b) = (tmp(), tmp());
    generate(a.path(), &["-p", "ci", "--format", "json"]);
    generate(b.path(), &["-p", "ci", "--format", "jsonl"]);
    for table in TABLES {
        let arr: Vec<serde_json::Value> =
            serde_json::from_slice(&std::fs::read(a.path().join(format!("{table}.json"))).unwrap())
                .unwrap();
        let text = std::fs::read_to_string(b.path().join(format!("{table}.jsonl"))).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(arr, lines, "{table}");
        assert!(!arr.is_empty(), "{table}");
    }
}

#[test]
fn refuses_a_foreign_non_empty_directory() {
    let d = tmp();
    std::fs::write(d.path().join("notes.txt"), "mine").unwrap();
    let out = finseed(&[
        "generate",
        "-q",
        "-p",
        "ci",
        "--out",
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not empty") && err.contains("fix:"), "{err}");
    assert_eq!(
        std::fs::read_dir(d.path()).unwrap().count(),
        1,
        "nothing may be written"
    );
    // An earlier finseed output may be overwritten.
    let e = tmp();
    generate(e.path(), &["-p", "ci"]);
    generate(e.path(), &["-p", "ci", "--format", "jsonl"]);
}

#[test]
fn tables_flag_writes_only_those_tables() {
    let d = tmp();
    generate(
        d.path(),
        &["-p", "ci", "--tables", "users,transaction_splits"],
    );
    let names: Vec<String> = files(d.path()).into_keys().collect();
    assert_eq!(names, ["transaction_splits.csv", "users.csv"]);
    // Splits alone are the same bytes as splits generated with their transactions.
    let full = tmp();
    generate(full.path(), &["-p", "ci"]);
    assert_eq!(
        files(d.path())["transaction_splits.csv"],
        files(full.path())["transaction_splits.csv"]
    );
}

#[test]
fn bad_flags_exit_2_with_a_fix() {
    let d = tmp();
    let dir = d.path().join("x");
    let dir = dir.to_str().unwrap();
    for args in [
        vec!["generate", "-p", "ci", "--out", dir, "--shard", "4/3"],
        vec!["generate", "-p", "ci", "--out", dir, "--format", "xml"],
        vec![
            "generate",
            "-p",
            "ci",
            "--out",
            dir,
            "--tables",
            "users,nope",
        ],
        vec!["generate", "-p", "ci", "--out", dir, "--threads", "0"],
        vec!["generate", "-p", "no-such-profile", "--out", dir],
        vec!["generate", "-p", "ci", "--out", dir, "--scale=-1"],
    ] {
        let out = finseed(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("fix:"), "{args:?}: {err}");
    }
}

#[test]
fn seed_and_scale_change_the_data() {
    let (a, b, c) = (tmp(), tmp(), tmp());
    generate(a.path(), &["-p", "ci"]);
    generate(b.path(), &["-p", "ci", "--seed", "7"]);
    generate(c.path(), &["-p", "ci", "--scale", "2"]);
    assert_ne!(files(a.path())["users.csv"], files(b.path())["users.csv"]);
    let lines = |d: &Path| {
        std::fs::read_to_string(d.join("transactions.csv"))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(lines(c.path()), 2 * 6000 + 1);
}

#[test]
fn plan_counts_match_the_generated_files() {
    let d = tmp();
    generate(d.path(), &["-p", "ci"]);
    let plan = d.path().join("plan.json");
    let out = finseed(&["plan", "-p", "ci", "--json", plan.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p: serde_json::Value = serde_json::from_slice(&std::fs::read(&plan).unwrap()).unwrap();
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.path().join("manifest.json")).unwrap()).unwrap();
    for t in m["tables"].as_array().unwrap() {
        let planned = p["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["table"] == t["table"])
            .unwrap();
        if t["table"] == "ai_insights" {
            // The profile's insight count is a target that the evidence reaches, not a quota:
            // the plan gives the target, the generator at most that and not far below.
            let (plan_rows, rows) = (
                planned["rows"].as_u64().unwrap(),
                t["rows"].as_u64().unwrap(),
            );
            assert!(
                rows <= plan_rows && rows * 10 >= plan_rows * 9,
                "ai_insights: planned {plan_rows}, generated {rows}"
            );
        } else {
            assert_eq!(planned["rows"], t["rows"], "{}", t["table"]);
        }
        assert!(planned["heap_bytes"].as_u64().unwrap() > 0);
    }
    assert!(p["load_seconds"].as_f64().unwrap() > 0.0);
    assert!(p["disk_bytes"].as_u64().unwrap() > 0);
}

#[test]
fn schema_and_profiles_print() {
    let s = finseed(&["schema"]);
    let text = String::from_utf8_lossy(&s.stdout);
    assert!(
        text.contains("CREATE TABLE IF NOT EXISTS transactions") && text.contains("FOREIGN KEY")
    );
    let p = finseed(&["profiles"]);
    let text = String::from_utf8_lossy(&p.stdout);
    for name in ["ci", "small", "transaction-flow", "volume"] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{text}");
    }
    assert!(text.contains("100000000"));
}
