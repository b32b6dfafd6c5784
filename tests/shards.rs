//! A Kubernetes Indexed Job simulated on one machine, against the real PostgreSQL of
//! tests/common: N shard processes with `--shard auto/N` and `JOB_COMPLETION_INDEX`, one killed
//! with -9 mid-load and started again with the same index (what Kubernetes does with a failed
//! pod), and the finishing step (`--await-shards N`) started before the shards, twice at once.

mod common;

use common::{assert_keys_built_once, finseed, finseed_command, fresh_database, psql, text};
use finseed::gen::Group;
use finseed::model::World;
use finseed::pipeline::shard_chunks;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

/// Children killed when the test ends early (a failed assertion), so none outlives it.
struct Procs(Vec<Option<Child>>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in self.0.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Procs {
    fn spawn(&mut self, args: &[&str], index: Option<u64>) -> usize {
        let mut cmd = finseed_command(args);
        if let Some(i) = index {
            cmd.env("JOB_COMPLETION_INDEX", i.to_string());
        }
        let child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start finseed");
        self.0.push(Some(child));
        self.0.len() - 1
    }

    fn running(&mut self, i: usize) -> bool {
        let c = self.0[i].as_mut().expect("a child not yet collected");
        c.try_wait().unwrap().is_none()
    }

    fn kill(&mut self, i: usize) {
        self.0[i].as_mut().unwrap().kill().unwrap(); // SIGKILL
    }

    /// Wait (bounded) for child `i` to end and return its output. The output is small (quiet
    /// runs), so the pipes cannot fill while it runs.
    fn finish(&mut self, i: usize, limit: Duration) -> Output {
        let start = Instant::now();
        while self.running(i) {
            assert!(
                start.elapsed() < limit,
                "child {i} still running after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.0[i].take().unwrap().wait_with_output().unwrap()
    }
}

const PROFILE: [&str; 4] = ["-p", "small", "--scale", "0.6"];

fn world() -> World {
    let p = finseed::profile::Profile::load("small")
        .unwrap()
        .scaled(0.6)
        .unwrap();
    World::new(p)
}

/// (table, chunk) pairs shard K of N owns.
fn owned(world: &World, k: u64, n: u64) -> Vec<(&'static str, u64)> {
    let mut out = Vec::new();
    for g in Group::ALL {
        for c in shard_chunks(g.chunks(world), Some((k, n))) {
            for t in g.tables() {
                out.push((t.name, c));
            }
        }
    }
    out
}

fn ledger_has(url: &str, pairs: &[(&str, u64)]) -> usize {
    if pairs.is_empty() {
        return 0;
    }
    let list: Vec<String> = pairs.iter().map(|(t, c)| format!("('{t}',{c})")).collect();
    let sql = format!(
        "SELECT count(*) FROM finseed_ledger WHERE (table_name, chunk) IN ({})",
        list.join(",")
    );
    if psql(url, "SELECT to_regclass('finseed_ledger') IS NOT NULL").trim() != "t" {
        return 0; // the ledger does not exist yet
    }
    psql(url, &sql).trim().parse().unwrap()
}

/// N = 4 shards at once, shard 2 killed with -9 after its first chunk commits and started
/// again with the same index; two finishing steps started before any shard, which must wait
/// for all four and build keys and indexes once between them. Then `verify` passes and the
/// ledger holds every chunk exactly once.
#[test]
fn an_indexed_job_with_a_killed_shard_and_two_early_finishers() {
    let url = fresh_database("indexed_job");
    let n = 4u64;
    let world = world();
    let mut procs = Procs(Vec::new());
    let with = |extra: &[&'static str]| {
        let mut a = vec!["seed", "-q"];
        a.extend_from_slice(&PROFILE);
        a.extend_from_slice(&["--database-url", &url]);
        a.extend_from_slice(extra);
        a
    };
    let finish_args = with(&[
        "--await-shards",
        "4",
        "--await-timeout",
        "5m",
        "--jobs",
        "2",
    ]);
    let finishers = [
        procs.spawn(&finish_args, None),
        procs.spawn(&finish_args, None),
    ];
    std::thread::sleep(Duration::from_millis(500));
    let shard_args = with(&["--shard", "auto/4", "--steps", "create,load", "--jobs", "1"]);
    let mut shards: Vec<usize> = (0..n).map(|i| procs.spawn(&shard_args, Some(i))).collect();

    // Kill shard 2 (index 1) with -9 once one of its chunks is committed, before all are.
    let mine = owned(&world, 2, n);
    let start = Instant::now();
    while ledger_has(&url, &mine) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "shard 2 loaded nothing in 180 s"
        );
        assert!(
            procs.running(shards[1]),
            "shard 2 ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    procs.kill(shards[1]);
    let killed = procs.finish(shards[1], Duration::from_secs(10));
    assert_eq!(
        killed.status.code(),
        None,
        "shard 2 was not killed: {}",
        text(&killed)
    );
    let had = ledger_has(&url, &mine);
    assert!(
        had < mine.len(),
        "shard 2 had finished its {} ledger rows before the kill",
        mine.len()
    );
    // The finishers still wait: shard 2's part is incomplete.
    for &f in &finishers {
        assert!(procs.running(f), "a finisher ended before the shards");
    }
    // Kubernetes recreates the pod with the same index.
    shards[1] = procs.spawn(&shard_args, Some(1));
    for (i, &s) in shards.iter().enumerate() {
        let out = procs.finish(s, Duration::from_secs(300));
        assert!(out.status.success(), "shard index {i}: {}", text(&out));
    }
    let outs: Vec<String> = finishers
        .iter()
        .map(|&f| {
            let out = procs.finish(f, Duration::from_secs(300));
            let t = text(&out);
            assert!(out.status.success(), "finisher: {t}");
            t
        })
        .collect();
    let both = outs.join("\n");
    assert!(both.contains("waiting for shards"), "{both}");
    assert!(both.contains("all 4 shards complete"), "{both}");

    // Each chunk exactly once, and every chunk of the dataset there.
    let expected: usize = (1..=n).map(|k| owned(&world, k, n).len()).sum();
    let counts = psql(
        &url,
        "SELECT count(*), count(DISTINCT (table_name, chunk)) FROM finseed_ledger",
    );
    assert_eq!(counts.trim(), format!("{expected}|{expected}"));
    let ok = finseed(&[
        "verify",
        "-p",
        "small",
        "--scale",
        "0.6",
        "--database-url",
        &url,
    ]);
    assert!(ok.status.success(), "verify: {}", text(&ok));
    // Keys and indexes built once each, all valid.
    assert_keys_built_once(&url);
}

/// A finishing step with shard 3 of 4 never run waits, then times out: exit 1, naming shard 3
/// and only it, with nothing built.
#[test]
fn a_finisher_with_a_shard_missing_times_out_naming_it() {
    let url = fresh_database("await_timeout");
    let base = [
        "seed",
        "-q",
        "-p",
        "small",
        "--scale",
        "0.3",
        "--database-url",
        &url,
    ];
    for index in [0u64, 1, 3] {
        let mut args = base.to_vec();
        args.extend_from_slice(&["--shard", "auto/4", "--steps", "create,load", "--jobs", "1"]);
        let out = finseed_command(&args)
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "index {index}: {}", text(&out));
    }
    let mut args = base.to_vec();
    args.extend_from_slice(&["--await-shards", "4", "--await-timeout", "5s"]);
    let start = Instant::now();
    let out = finseed(&args);
    let took = start.elapsed();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        took >= Duration::from_millis(4500) && took < Duration::from_secs(60),
        "{took:?}: {t}"
    );
    assert!(t.contains("waiting for shards (3 of 4 complete"), "{t}");
    assert!(t.contains("timed out after 5s"), "{t}");
    assert!(
        t.contains("with shard 3/4 (2 of 2 chunks left) not loaded"),
        "{t}"
    );
    for other in ["1/4 (", "2/4 (", "4/4 ("] {
        assert!(!t.contains(other), "{other} named: {t}");
    }
    assert!(t.contains("\n  fix: "), "{t}");
    let keys = psql(
        &url,
        "SELECT count(*) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid WHERE c.contype IN ('p','f') AND t.relnamespace = 'public'::regnamespace AND t.relname NOT LIKE 'finseed%'",
    );
    assert_eq!(keys.trim(), "0", "keys were built without shard 3");
}

/// Bad `--shard auto/N` and `--await-*` input: exit 2 naming the flag, the cause and a fix,
/// before connecting to anything.
#[test]
fn shard_auto_and_await_flags_are_checked_first() {
    let url = "postgres://nobody@127.0.0.1:1/none?connect_timeout=1";
    let run = |extra: &[&str], index: Option<&str>| {
        let mut args = vec!["seed", "-q", "-p", "ci", "--database-url", url];
        args.extend_from_slice(extra);
        let mut cmd = finseed_command(&args);
        cmd.env_remove("JOB_COMPLETION_INDEX");
        if let Some(i) = index {
            cmd.env("JOB_COMPLETION_INDEX", i);
        }
        cmd.output().unwrap()
    };
    for (extra, index, says) in [
        (
            &["--shard", "auto/4"][..],
            None,
            "JOB_COMPLETION_INDEX is not set",
        ),
        (
            &["--shard", "auto/4"][..],
            Some("4"),
            "JOB_COMPLETION_INDEX is 4",
        ),
        (
            &["--shard", "auto/4"][..],
            Some("two"),
            "JOB_COMPLETION_INDEX is `two`",
        ),
        (
            &["--await-shards", "0"][..],
            None,
            "--await-shards: 0 is outside",
        ),
        (
            &["--await-shards", "4", "--steps", "load"][..],
            None,
            "--steps: `load`",
        ),
        (
            &["--await-shards", "4", "--shard", "1/4"][..],
            None,
            "takes no --shard",
        ),
        (
            &["--await-shards", "4", "--fresh"][..],
            None,
            "--fresh would drop",
        ),
        (
            &["--await-shards", "4", "--await-timeout", "soon"][..],
            None,
            "--await-timeout: `soon`",
        ),
        (
            &["--await-timeout", "5m"][..],
            None,
            "--await-timeout: only applies",
        ),
    ] {
        let out = run(extra, index);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {t}");
        assert!(t.contains(says) && t.contains("fix:"), "{extra:?}: {t}");
        assert!(
            !t.contains("connect"),
            "{extra:?} reached the database: {t}"
        );
    }
}
