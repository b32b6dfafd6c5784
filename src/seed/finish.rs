//! `finseed seed --await-shards N`: the coordinated finish of a load split into N shards (a
//! Kubernetes Indexed Job, or N processes started any other way).
//!
//! A shard is complete when every chunk of its part of every wanted table is in
//! `finseed_ledger`: shard K of N owns chunks `shard_chunks(chunks, K/N)` of each table group,
//! and a chunk's ledger rows commit with its COPY in one transaction. So completion is read
//! from the data itself: a shard killed mid-load and restarted (by Kubernetes, with the same
//! index) is complete once its rerun has loaded the chunks the first attempt had not, and no
//! shard has to write anything extra or survive to report. The finishing step waits (polling
//! the ledger, holding the shared dataset lock so `--fresh` cannot drop the tables under it),
//! then takes the DDL lock, waiting for another finisher or a shard already building keys, and
//! runs the post-load steps, which keep what is already built: a second finisher started at the
//! same time waits for the first, then finds every key and index present.

use super::{lock, wanted, SeedConfig, StepReport};
use crate::error::{Error, Result};
use crate::gen::Group;
use crate::model::World;
use crate::pipeline::shard_chunks;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

/// `--await-shards N [--await-timeout D]`.
#[derive(Clone, Copy, Debug)]
pub struct AwaitShards {
    pub shards: u64,
    pub timeout: Duration,
}

/// Default `--await-timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2 * 3600);
/// Most shards `--await-shards` accepts (one ledger scan covers them all).
pub const MAX_SHARDS: u64 = 100_000;
/// How often the ledger is read while waiting.
const POLL: Duration = Duration::from_secs(2);
/// A status line at least this often while waiting, and no more often than every
/// [`MIN_LINE_GAP`] when shards complete in quick succession.
const REMIND: Duration = Duration::from_secs(60);
const MIN_LINE_GAP: Duration = Duration::from_secs(10);

/// `seed`'s flags with `--await-shards`: the steps default to every post-load step, and
/// flags that load or drop are refused (exit 2).
pub fn check_flags(
    a: &crate::cli::SeedArgs,
    mut plan: crate::commands::SeedPlan,
) -> Result<crate::commands::SeedPlan> {
    let Some(n) = a.await_shards else {
        if a.await_timeout.is_some() {
            return Err(Error::Usage(
                "--await-timeout: only applies to --await-shards\n  fix: add --await-shards N (the number of shards to wait for), or leave out --await-timeout".into(),
            ));
        }
        return Ok(plan);
    };
    if !(1..=MAX_SHARDS).contains(&n) {
        return Err(Error::Usage(format!(
            "--await-shards: {n} is outside 1..={MAX_SHARDS} (the number of shards loading the dataset)\n  fix: give N of the shards' --shard K/N (the Job's `completions`)"
        )));
    }
    let timeout = match a.await_timeout.as_deref() {
        None => DEFAULT_TIMEOUT,
        Some(t) => match crate::bench::scenario::parse_duration(t) {
            Some(s) if s > 0.0 && s <= 7.0 * 86400.0 => Duration::from_secs_f64(s),
            _ => {
                return Err(Error::Usage(format!(
                    "--await-timeout: `{t}` is not a duration from 1s to 7 days\n  fix: write a number with a unit, for example 90s, 30m or 2h"
                )))
            }
        },
    };
    if plan.shard.is_some() {
        return Err(Error::Usage(
            "--await-shards: finishes the load of all shards, so it takes no --shard\n  fix: run the shards with --shard K/N (or auto/N) and the finishing step with --await-shards N alone".into(),
        ));
    }
    if plan.fresh || plan.force {
        return Err(Error::Usage(
            "--await-shards: --fresh would drop the tables the shards are loading\n  fix: leave out --fresh and --force (start over with a separate `seed --fresh --steps create` before the shards)".into(),
        ));
    }
    if a.steps.is_none() {
        plan.steps.retain(|s| !matches!(*s, "create" | "load"));
    } else if let Some(s) = plan.steps.iter().find(|s| matches!(**s, "create" | "load")) {
        return Err(Error::Usage(format!(
            "--steps: `{s}` is the shards' work; --await-shards runs only post-load steps\n  fix: choose from primary_keys, foreign_keys, indexes, rollups, analyze, or leave --steps out for all five"
        )));
    }
    plan.await_shards = Some(AwaitShards { shards: n, timeout });
    Ok(plan)
}

/// One shard's state in the ledger.
#[derive(Clone, Debug, PartialEq)]
pub struct ShardState {
    /// 1-based, as in `--shard K/N`.
    pub shard: u64,
    pub missing: u64,
    pub total: u64,
}

/// Read the ledger once: every shard's chunks not loaded yet (a chunk counts when all the
/// wanted tables of its group have their ledger row).
async fn shard_states(
    cfg: &SeedConfig,
    c: &Client,
    world: &World,
    n: u64,
) -> Result<Vec<ShardState>> {
    let rows = cfg
        .target
        .ask(
            "cannot read the ledger",
            c.query_typed("SELECT table_name, chunk FROM finseed_ledger", &[]),
        )
        .await?;
    let mut by_table: HashMap<String, HashSet<u64>> = HashMap::new();
    for r in &rows {
        by_table
            .entry(r.get::<_, String>(0))
            .or_default()
            .insert(r.get::<_, i64>(1) as u64);
    }
    let empty = HashSet::new();
    let mut out: Vec<ShardState> = (1..=n)
        .map(|shard| ShardState {
            shard,
            missing: 0,
            total: 0,
        })
        .collect();
    for group in Group::ALL {
        let tables: Vec<&HashSet<u64>> = group
            .tables()
            .iter()
            .filter(|t| wanted(cfg, t))
            .map(|t| by_table.get(t.name).unwrap_or(&empty))
            .collect();
        if tables.is_empty() {
            continue;
        }
        let chunks = group.chunks(world);
        for s in out.iter_mut() {
            for chunk in shard_chunks(chunks, Some((s.shard, n))) {
                s.total += 1;
                if !tables.iter().all(|done| done.contains(&chunk)) {
                    s.missing += 1;
                }
            }
        }
    }
    Ok(out)
}

/// The shards still loading, named: `2/4 (13 of 25 chunks left), 4/4 (25 of 25 chunks left)`,
/// or for many, their numbers as ranges (`1-3, 7, 9-12 of 1000`) and the chunks left in all.
pub fn describe_missing(states: &[ShardState], n: u64) -> String {
    let missing: Vec<&ShardState> = states.iter().filter(|s| s.missing > 0).collect();
    if missing.len() <= 8 {
        return missing
            .iter()
            .map(|s| format!("{}/{n} ({} of {} chunks left)", s.shard, s.missing, s.total))
            .collect::<Vec<_>>()
            .join(", ");
    }
    let mut ranges: Vec<String> = Vec::new();
    let mut i = 0;
    while i < missing.len() {
        let start = missing[i].shard;
        let mut end = start;
        while i + 1 < missing.len() && missing[i + 1].shard == end + 1 {
            i += 1;
            end += 1;
        }
        ranges.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    let left: u64 = missing.iter().map(|s| s.missing).sum();
    format!(
        "{} of {n} ({} shards, {left} chunks left)",
        ranges.join(", "),
        missing.len()
    )
}

/// A profile other than the ledger's would wait for chunks that never come: refuse at once.
async fn same_profile(cfg: &SeedConfig, c: &Client) -> Result<()> {
    if let Some(other) = super::recorded_run(cfg, c).await? {
        return Err(Error::Usage(format!(
            "--await-shards: {} is being seeded with profile `{}` (seed {}), not `{}` (seed {}), so its shards would never complete this profile's chunks\n  fix: give the finishing step the same --profile, --seed and --scale as the shards",
            cfg.target.shown, other.profile, other.seed, cfg.profile.name, cfg.profile.seed
        )));
    }
    Ok(())
}

/// Wait until every one of the N shards has loaded all its chunks, printing the missing ones
/// when that changes (at most every 10 s) and at least every minute; a progress bar of chunks
/// on a terminal. On timeout: exit 1 naming the shards still missing.
pub async fn wait(
    cfg: &SeedConfig,
    control: &Client,
    world: &World,
    a: &AwaitShards,
) -> Result<StepReport> {
    let start = Instant::now();
    let n = a.shards;
    let bar = crate::progress::Progress::new(cfg.quiet).counter("chunks of all shards", 0);
    let say = |line: String| {
        if bar.is_hidden() {
            eprintln!("{line}");
        } else {
            bar.println(line);
        }
    };
    let mut last_line: Option<Instant> = None;
    let mut last_missing: Option<Vec<u64>> = None;
    loop {
        same_profile(cfg, control).await?;
        let states = shard_states(cfg, control, world, n).await?;
        let total: u64 = states.iter().map(|s| s.total).sum();
        let left: u64 = states.iter().map(|s| s.missing).sum();
        bar.set_length(total);
        bar.set_position(total - left);
        let missing: Vec<u64> = states
            .iter()
            .filter(|s| s.missing > 0)
            .map(|s| s.shard)
            .collect();
        let waited = start.elapsed();
        if missing.is_empty() {
            bar.finish_and_clear();
            if last_line.is_some() {
                say(format!(
                    "all {n} shards complete after {:.0} s; running the post-load steps",
                    waited.as_secs_f64()
                ));
            }
            return Ok(StepReport {
                step: "await_shards".into(),
                seconds: waited.as_secs_f64(),
                rows: None,
                rows_per_second: None,
                detail: format!("all {n} shards complete ({total} chunks in the ledger)"),
            });
        }
        if waited >= a.timeout {
            bar.finish_and_clear();
            return Err(Error::Failed(format!(
                "--await-shards {n}: timed out after {} (--await-timeout) with {} {} not loaded; no keys, indexes or statistics were built\n  fix: find out why those shards stopped (kubectl logs, or the shard's own output); run a shard again with the same --shard to resume it, then rerun this command, or give a longer --await-timeout",
                human(a.timeout),
                if missing.len() == 1 { "shard" } else { "shards" },
                describe_missing(&states, n)
            )));
        }
        let changed = last_missing.as_ref() != Some(&missing);
        let due = match last_line {
            None => true,
            Some(t) => t.elapsed() >= REMIND || (changed && t.elapsed() >= MIN_LINE_GAP),
        };
        if due {
            say(format!(
                "waiting for shards ({} of {n} complete, {} waited of {}): missing {}",
                n - missing.len() as u64,
                human(waited),
                human(a.timeout),
                describe_missing(&states, n)
            ));
            last_line = Some(Instant::now());
            last_missing = Some(missing);
        }
        tokio::time::sleep(POLL.min(a.timeout.saturating_sub(start.elapsed()))).await;
    }
}

/// Take the schema's DDL lock for the post-load steps, waiting (up to `limit`) for whoever
/// holds it: another finisher, or a shard that completed the dataset and builds the keys.
pub async fn ddl_lock(
    cfg: &SeedConfig,
    control: &Client,
    me: &lock::Me,
    schema: &str,
    limit: Duration,
) -> Result<lock::Held> {
    let doing = "building keys and indexes; what it builds is kept";
    super::ddl_lock(cfg, control, me, schema, Some(limit), doing)
        .await?
        .map_err(|who| {
            Error::Failed(format!(
                "{who} has been building keys and indexes in {} for over {}\n  fix: let it finish, then rerun this command (it keeps what is built)",
                cfg.target.shown,
                human(limit)
            ))
        })
}

/// `2h`, `15m 30s`, `42s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(shard: u64, missing: u64) -> ShardState {
        ShardState {
            shard,
            missing,
            total: 10,
        }
    }

    #[test]
    fn missing_shards_are_named_few_in_full_many_as_ranges() {
        let few = [st(1, 0), st(2, 3), st(3, 0), st(4, 10)];
        assert_eq!(
            describe_missing(&few, 4),
            "2/4 (3 of 10 chunks left), 4/4 (10 of 10 chunks left)"
        );
        let many: Vec<ShardState> = (1..=20)
            .map(|k| st(k, if [4, 5, 6, 9].contains(&k) { 0 } else { 1 }))
            .collect();
        assert_eq!(
            describe_missing(&many, 20),
            "1-3, 7-8, 10-20 of 20 (16 shards, 16 chunks left)"
        );
    }

    #[test]
    fn durations_read_as_written() {
        assert_eq!(human(Duration::from_secs(7200)), "2h");
        assert_eq!(human(Duration::from_secs(930)), "15m 30s");
        assert_eq!(human(Duration::from_secs(42)), "42s");
        assert_eq!(human(Duration::from_secs(5400)), "1h 30m");
    }
}
