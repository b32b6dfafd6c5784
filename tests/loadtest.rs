//! `finseed::loadtest::write`: load-test data that agrees with the data `generate` (and so
//! `seed`) produces for the same profile, byte-identical across runs.

use finseed::generate::{generate, GenerateConfig};
use finseed::loadtest::{write, LoadtestConfig, LoadtestSummary};
use finseed::profile::Profile;
use finseed::sink::file::Format;
use finseed::vocab::TREE;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::Path;

fn ci() -> Profile {
    Profile::load("ci").unwrap()
}

fn config(out: &Path, max_users: usize, payloads: usize, bulk_files: usize) -> LoadtestConfig {
    LoadtestConfig {
        profile: ci(),
        out: out.to_path_buf(),
        max_users,
        payloads,
        bulk_files,
    }
}

fn records(path: &Path, header: &[&str]) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(h, header, "{}: header", path.display());
    r.records().map(|x| x.unwrap()).collect()
}

/// Header name → column index.
fn columns(path: &Path) -> HashMap<String, usize> {
    let mut r = csv::Reader::from_path(path).unwrap();
    r.headers()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, h)| (h.to_string(), i))
        .collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn sorted_unique_strings(path: &Path) -> Vec<String> {
    let v: Vec<String> = serde_json::from_value(json(path)).unwrap();
    assert!(!v.is_empty(), "{}", path.display());
    assert!(
        v.windows(2).all(|p| p[0] < p[1]),
        "{}: not sorted and unique",
        path.display()
    );
    v
}

/// Every file on disk under `dir`, relative path → bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn files_agree_with_the_generated_dataset() {
    let gen_dir = tempfile::tempdir().unwrap();
    generate(&GenerateConfig {
        profile: ci(),
        out: gen_dir.path().to_path_buf(),
        format: Format::Csv,
        compression: finseed::encode::compress::Compression::None,
        row_group_rows: None,
        row_group_bytes: None,
        json_units: false,
        threads: 2,
        shard: None,
        tables: None,
        quiet: true,
    })
    .unwrap();
    let g = gen_dir.path();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let summary = write(&config(d, 60, 800, 24)).unwrap();
    let profile = ci();

    // users: real logins with a context they may transact in.
    let gu = columns(&g.join("users.csv"));
    let mut gen_users: HashMap<String, (String, String)> = HashMap::new();
    for r in csv::Reader::from_path(g.join("users.csv"))
        .unwrap()
        .records()
    {
        let r = r.unwrap();
        gen_users.insert(
            r[gu["id"]].to_string(),
            (
                r[gu["email"]].to_string(),
                r[gu["password_hash"]].to_string(),
            ),
        );
    }
    let mut roles: HashMap<(String, String), String> = HashMap::new();
    let mut member_counts: HashMap<String, u64> = HashMap::new();
    for r in records(
        &g.join("context_members.csv"),
        &["context_id", "user_id", "role", "joined_at"],
    ) {
        roles.insert((r[0].to_string(), r[1].to_string()), r[2].to_string());
        *member_counts.entry(r[0].to_string()).or_default() += 1;
    }
    let users = records(
        &d.join("users.csv"),
        &["user_id", "email", "password", "context_id"],
    );
    assert_eq!(users.len(), 60);
    let ids: Vec<u64> = users.iter().map(|u| u[0].parse().unwrap()).collect();
    assert!(ids.windows(2).all(|p| p[0] < p[1]), "sorted, unique users");
    let n = profile.volume.users;
    assert!(
        ids[0] < n / 4 && *ids.last().unwrap() > n * 3 / 4,
        "users spread over the id range: {ids:?}"
    );
    let mut hashes_checked = HashSet::new();
    for u in &users {
        let (email, hash) = gen_users
            .get(&u[0])
            .unwrap_or_else(|| panic!("user {} not generated", &u[0]));
        assert_eq!(&u[1], email.as_str(), "user {}", &u[0]);
        assert_eq!(&u[2], profile.password.as_str());
        if hashes_checked.insert(hash.clone()) {
            assert!(
                bcrypt::verify(&u[2], hash).unwrap(),
                "password for {}",
                &u[0]
            );
        }
        let role = roles
            .get(&(u[3].to_string(), u[0].to_string()))
            .unwrap_or_else(|| panic!("user {} is not a member of context {}", &u[0], &u[3]));
        assert_ne!(role, "viewer", "user {} in context {}", &u[0], &u[3]);
    }
    let uj = json(&d.join("users.json"));
    let uj = uj.as_array().unwrap();
    assert_eq!(uj.len(), users.len());
    for (j, c) in uj.iter().zip(&users) {
        let keys: BTreeSet<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from(["id", "user_id", "email", "password", "context_id"])
        );
        assert_eq!(j["id"].as_u64().unwrap().to_string(), &c[0]);
        assert_eq!(j["user_id"], j["id"]);
        assert_eq!(j["email"].as_str().unwrap(), &c[1]);
        assert_eq!(j["password"].as_str().unwrap(), &c[2]);
        assert_eq!(j["context_id"].as_u64().unwrap().to_string(), &c[3]);
    }

    // contexts: exactly those the logins point at, as the contexts table has them.
    let gc = columns(&g.join("contexts.csv"));
    let gen_contexts: HashMap<String, csv::StringRecord> =
        csv::Reader::from_path(g.join("contexts.csv"))
            .unwrap()
            .records()
            .map(|r| {
                let r = r.unwrap();
                (r[gc["id"]].to_string(), r)
            })
            .collect();
    let contexts = records(
        &d.join("contexts.csv"),
        &[
            "context_id",
            "type",
            "subtype",
            "name",
            "currency",
            "owner_id",
            "member_count",
            "transaction_count",
        ],
    );
    let wanted: BTreeSet<u64> = users.iter().map(|u| u[3].parse().unwrap()).collect();
    let got: Vec<u64> = contexts.iter().map(|c| c[0].parse().unwrap()).collect();
    assert_eq!(got, wanted.into_iter().collect::<Vec<_>>());
    for c in &contexts {
        let gcx = &gen_contexts[&c[0]];
        assert_eq!(&c[1], &gcx[gc["type"]]);
        assert_eq!(&c[2], &gcx[gc["subtype"]]);
        assert_eq!(&c[3], &gcx[gc["name"]]);
        assert_eq!(&c[4], &gcx[gc["currency"]]);
        assert_eq!(&c[5], &gcx[gc["owner_id"]]);
        assert_eq!(c[6].parse::<u64>().unwrap(), member_counts[&c[0]]);
    }

    // vocabulary lists
    let merchants = sorted_unique_strings(&d.join("merchants.json"));
    let descriptions: HashSet<String> = sorted_unique_strings(&d.join("descriptions.json"))
        .into_iter()
        .collect();
    // Brands and local businesses alike.
    let all_merchants: BTreeSet<&str> = finseed::vocab::MERCHANTS
        .iter()
        .flatten()
        .flatten()
        .copied()
        .collect();
    assert!(all_merchants.len() > 20_000, "{}", all_merchants.len());
    assert_eq!(merchants, all_merchants.into_iter().collect::<Vec<_>>());

    // What the generated transactions hold, to check payloads and bulk rows against.
    let gt = columns(&g.join("transactions.csv"));
    let mut gen_tx: HashSet<(String, String, String)> = HashSet::new();
    let mut gen_amounts: HashSet<(String, String)> = HashSet::new();
    for r in csv::Reader::from_path(g.join("transactions.csv"))
        .unwrap()
        .records()
    {
        let r = r.unwrap();
        let (amount, merchant) = (&r[gt["amount"]], &r[gt["merchant_name"]]);
        assert!(descriptions.contains(&r[gt["description"]]), "{r:?}");
        gen_tx.insert((
            r[gt["transaction_date"]].to_string(),
            amount.to_string(),
            merchant.to_string(),
        ));
        gen_amounts.insert((
            amount.trim_start_matches('-').to_string(),
            merchant.to_string(),
        ));
    }

    let merchants_of = |hint: &str| -> &'static [&'static str] {
        TREE.iter()
            .enumerate()
            .flat_map(|(ti, t)| t.subs.iter().enumerate().map(move |(si, s)| (ti, si, s)))
            .find(|(_, _, s)| s.name == hint)
            .map(|(ti, si, _)| finseed::vocab::MERCHANTS[ti][si].as_slice())
            .unwrap_or_else(|| panic!("no subcategory {hint}"))
    };
    let two_places = |a: &str| {
        let (i, f) = a.trim_start_matches('-').split_once('.').unwrap();
        !i.is_empty() && f.len() == 2 && (i.to_string() + f).bytes().all(|b| b.is_ascii_digit())
    };

    // payloads: existing transactions as API bodies.
    let payloads = records(
        &d.join("transaction-payloads.csv"),
        &["amount", "description", "merchant_name", "category_hint"],
    );
    assert_eq!(payloads.len(), 800);
    let mut hints = HashSet::new();
    for p in &payloads {
        assert!(two_places(&p[0]) && !p[0].starts_with('-'), "{p:?}");
        assert!(p[0].parse::<f64>().unwrap() > 0.0, "{p:?}");
        assert!(descriptions.contains(&p[1]), "{p:?}");
        assert!(merchants_of(&p[3]).contains(&&p[2]), "{p:?}");
        assert!(
            gen_amounts.contains(&(p[0].to_string(), p[2].to_string())),
            "payload not from a generated transaction: {p:?}"
        );
        hints.insert(p[3].to_string());
    }
    assert!(
        hints.len() > 10,
        "payloads cover many categories: {hints:?}"
    );

    // bulk files
    let index = records(&d.join("bulk/index.csv"), &["file", "rows", "bytes"]);
    assert_eq!(index.len(), 24);
    let first = finseed::civil::date_string(profile.start_day());
    let last = finseed::civil::date_string(profile.end_day);
    let mut counts = Vec::new();
    for (k, e) in index.iter().enumerate() {
        assert_eq!(&e[0], format!("bulk-{:04}.csv", k + 1));
        let path = d.join("bulk").join(&e[0]);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            e[2].parse::<u64>().unwrap()
        );
        let rows = records(
            &path,
            &[
                "date",
                "description",
                "amount",
                "merchant_name",
                "category_hint",
            ],
        );
        assert_eq!(rows.len() as u64, e[1].parse::<u64>().unwrap());
        assert!((10..=5000).contains(&rows.len()), "{}", &e[0]);
        counts.push(rows.len());
        let mut prev = String::new();
        for r in &rows {
            assert!(r[0] >= *first.as_str() && r[0] <= *last.as_str(), "{r:?}");
            assert!(r[0] >= *prev.as_str(), "{}: rows in date order", &e[0]);
            prev = r[0].to_string();
            assert!(two_places(&r[2]), "{r:?}");
            assert!(descriptions.contains(&r[1]), "{r:?}");
            assert!(merchants_of(&r[4]).contains(&&r[3]), "{r:?}");
            assert!(
                gen_tx.contains(&(r[0].to_string(), r[2].to_string(), r[3].to_string())),
                "bulk row not from a generated transaction: {r:?}"
            );
        }
    }
    assert!(
        counts.iter().any(|&c| c != counts[0]),
        "sizes vary: {counts:?}"
    );
    assert!(std::fs::read_dir(d.join("bulk")).unwrap().count() == 25);

    // manifest: describes every file exactly, and nothing else is left behind.
    let on_disk: LoadtestSummary =
        serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(on_disk, summary);
    assert_eq!(summary.profile, "ci");
    assert_eq!(summary.seed, profile.seed);
    assert_eq!(summary.finseed_version, env!("CARGO_PKG_VERSION"));
    let files = tree(d);
    let listed: BTreeSet<&str> = summary.files.iter().map(|f| f.path.as_str()).collect();
    let present: BTreeSet<&str> = files
        .keys()
        .map(String::as_str)
        .filter(|p| *p != "manifest.json")
        .collect();
    assert_eq!(listed, present);
    for f in &summary.files {
        let bytes = &files[&f.path];
        assert_eq!(f.bytes, bytes.len() as u64, "{}", f.path);
        let sha: String = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(f.sha256, sha, "{}", f.path);
    }
    for name in [
        "users.json",
        "users.csv",
        "contexts.csv",
        "merchants.json",
        "descriptions.json",
        "transaction-payloads.csv",
        "bulk/index.csv",
    ] {
        assert!(listed.contains(name), "{name}");
    }
}

#[test]
fn two_runs_write_the_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sa = write(&config(a.path(), 40, 300, 12)).unwrap();
    let sb = write(&config(b.path(), 40, 300, 12)).unwrap();
    assert_eq!(sa, sb);
    assert_eq!(
        std::fs::read(a.path().join("manifest.json")).unwrap(),
        std::fs::read(b.path().join("manifest.json")).unwrap()
    );
    assert_eq!(tree(a.path()), tree(b.path()));
}

#[test]
fn refuses_a_foreign_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let err = write(&config(dir.path(), 10, 10, 2)).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, finseed::error::Error::Usage(_)),
        "{msg}: want a usage error"
    );
    assert!(msg.contains("fix:"), "{msg}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing written"
    );

    // A `generate` output is not ours either: it has a users.csv of its own.
    let g = tempfile::tempdir().unwrap();
    generate(&GenerateConfig {
        profile: ci(),
        out: g.path().to_path_buf(),
        format: Format::Csv,
        compression: finseed::encode::compress::Compression::None,
        row_group_rows: None,
        row_group_bytes: None,
        json_units: false,
        threads: 1,
        shard: None,
        tables: Some(vec!["users"]),
        quiet: true,
    })
    .unwrap();
    let err = write(&config(g.path(), 10, 10, 2)).unwrap_err();
    assert!(matches!(err, finseed::error::Error::Usage(_)), "{err}");

    // A file given as the directory.
    let file = dir.path().join("notes.txt");
    let err = write(&config(&file, 10, 10, 2)).unwrap_err();
    assert!(matches!(err, finseed::error::Error::Usage(_)), "{err}");
}

#[test]
fn rerun_into_own_directory_replaces_and_prunes() {
    let dir = tempfile::tempdir().unwrap();
    write(&config(dir.path(), 20, 50, 9)).unwrap();
    let s = write(&config(dir.path(), 20, 50, 3)).unwrap();
    let bulk: BTreeSet<String> = std::fs::read_dir(dir.path().join("bulk"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        bulk,
        BTreeSet::from(
            [
                "bulk-0001.csv",
                "bulk-0002.csv",
                "bulk-0003.csv",
                "index.csv"
            ]
            .map(String::from)
        )
    );
    assert_eq!(s.files.len(), 6 + 1 + 3);
    assert!(!dir.path().join("manifest.json.stale").exists());

    // Same as writing into a fresh directory.
    let fresh = tempfile::tempdir().unwrap();
    write(&config(fresh.path(), 20, 50, 3)).unwrap();
    assert_eq!(tree(dir.path()), tree(fresh.path()));
}

#[test]
fn bad_requests_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = write(&config(dir.path(), 0, 10, 2)).unwrap_err();
    assert!(matches!(err, finseed::error::Error::Usage(_)), "{err}");
    assert!(err.to_string().contains("fix:"));
}
