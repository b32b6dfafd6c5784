//! `finseed seed`: load the dataset into PostgreSQL as named, timed steps (like
//! `pgbench -i -I dtgvp`): create, load, primary_keys, foreign_keys, indexes, rollups, analyze.
//!
//! The load is resumable: every chunk of a group is one transaction holding the COPY of each of
//! the group's tables and a ledger row per table, so the database is consistent at every
//! instant and a rerun loads only the chunks the ledger lacks.

use crate::db::Target;
use crate::encode::binary::Binary;
use crate::error::{Error, Result};
use crate::gen::{all_tables, Group};
use crate::model::World;
use crate::pipeline::{produce, shard_chunks, Buffers, Produced};
use crate::profile::Profile;
use crate::progress::Progress;
use crate::table::TableSpec;

mod defer;
pub mod finish;
mod interrupt;
pub mod lock;
mod mapped;
mod own;
pub mod partition;
mod post;
mod rollup;
pub mod stall;
use bytes::Buf;
use futures_util::SinkExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use stall::{within, LoadError};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

pub const STEPS: [&str; 7] = [
    "create",
    "load",
    "primary_keys",
    "foreign_keys",
    "indexes",
    "rollups",
    "analyze",
];

pub struct SeedConfig {
    pub profile: Profile,
    pub target: Target,
    pub jobs: usize,
    pub steps: Vec<&'static str>,
    pub shard: Option<(u64, u64)>,
    pub tables: Option<Vec<&'static str>>,
    pub unlogged: bool,
    pub fresh: bool,
    pub force: bool,
    pub quiet: bool,
    /// `--await-shards N`: wait for N shards' loads, then run the (post-load) steps once.
    pub await_shards: Option<finish::AwaitShards>,
    /// `--map`: load into the team's own tables through this map (see crate::map).
    pub map: Option<crate::map::MapFile>,
    /// `--defer-constraints` (with a map): drop the mapped tables' own indexes and
    /// constraints and disable their triggers for the load, then restore them.
    pub defer_constraints: bool,
    /// `--stall-timeout`: the longest a load or post-load statement may go without progress.
    pub stall: std::time::Duration,
}

#[derive(Serialize, Debug, Clone)]
pub struct TableReport {
    pub table: String,
    pub rows_loaded: u64,
    pub bytes: i64,
}

#[derive(Serialize, Debug, Clone)]
pub struct StepReport {
    pub step: String,
    pub seconds: f64,
    pub rows: Option<u64>,
    pub rows_per_second: Option<f64>,
    pub detail: String,
}

#[derive(Serialize, Debug)]
pub struct SeedReport {
    pub finseed_version: String,
    pub profile: String,
    pub seed: u64,
    pub database: String,
    pub jobs: usize,
    pub steps: Vec<StepReport>,
    pub tables: Vec<TableReport>,
    pub total_seconds: f64,
}

/// Identity of the data a profile produces, and of the map it goes through: the same
/// fingerprint means the same rows with the same values in the same columns. Without a map it
/// is what it always was, so databases seeded before maps existed still resume.
pub fn fingerprint(p: &Profile, map: Option<&crate::map::MapFile>) -> String {
    let mut text = format!(
        "gen=1;seed={};volume={:?};months={};end={};shape={:?};scale={};password={};cost={}",
        p.seed, p.volume, p.months, p.end_day, p.shape, p.scale, p.password, p.bcrypt_cost
    );
    // The plain layout adds nothing, so databases seeded before layouts existed still resume.
    if p.layout != crate::table::Layout::Plain {
        text.push_str(";layout=");
        text.push_str(p.layout.name());
    }
    if let Some(m) = map {
        text.push_str(";map=");
        text.push_str(&m.canonical());
    }
    crate::sink::file::hex(&Sha256::digest(text.as_bytes()))[..32].to_string()
}

fn wanted(cfg: &SeedConfig, t: &TableSpec) -> bool {
    wanted_name(cfg, t.name)
}

/// Whether a name from the SQL refers to a table being loaded; names that are not finseed
/// tables (an index name in `CREATE INDEX x ON t`) never exclude a statement.
fn wanted_name(cfg: &SeedConfig, name: &str) -> bool {
    // A partition (transactions_p2024_01) is wanted with its table.
    let name = match name.rsplit_once("_p") {
        Some((table, month)) if month.len() == 7 && partition::PARTITIONED.contains(&table) => {
            table
        }
        _ => name,
    };
    let known = all_tables().any(|t| t.name == name);
    cfg.tables
        .as_ref()
        .is_none_or(|l| l.contains(&name) || !known)
        && cfg.map.as_ref().is_none_or(|m| m.maps(name) || !known)
}

/// The run recorded in `finseed_run` when it is another profile, seed or map than `cfg`'s
/// (its fingerprint differs); None when it is the same or nothing is recorded.
pub(crate) struct RecordedRun {
    pub profile: String,
    pub seed: i64,
}

pub(crate) async fn recorded_run(cfg: &SeedConfig, c: &Client) -> Result<Option<RecordedRun>> {
    let row = cfg
        .target
        .ask(
            "cannot inspect the database",
            c.query_typed_opt(
                "SELECT profile, seed, fingerprint FROM finseed_run WHERE id = 1",
                &[],
            ),
        )
        .await?;
    Ok(row.and_then(|row| {
        let their: String = row.get(2);
        (their != fingerprint(&cfg.profile, cfg.map.as_ref())).then(|| RecordedRun {
            profile: row.get(0),
            seed: row.get(1),
        })
    }))
}

/// Read-only checks before anything is written: nothing finseed did not create holds a name it
/// needs, the data already there is the same profile's, and the flags make sense together.
async fn preflight(cfg: &SeedConfig, c: &Client) -> Result<own::Inspection> {
    let t = &cfg.target;
    if cfg.force && !cfg.fresh {
        return Err(Error::Usage(
            "--force: only changes what --fresh does (drop finseed's tables even when rows were added to them after finseed loaded them); finseed never writes into, alters or drops a table it did not create, whatever the flags\n  fix: leave out --force, or add --fresh to start over".into(),
        ));
    }
    if cfg.fresh && !cfg.steps.contains(&"create") {
        return Err(Error::Usage(
            "--fresh: drops finseed's tables, so the create step must run too\n  fix: include create in --steps, or leave out --fresh".into(),
        ));
    }
    let mut ins = own::inspect(c, t).await?;
    if cfg.map.is_some() {
        mapped::refuse_flags(cfg)?;
        ins.state_names_only();
    }
    own::refuse_blockers(&ins, t)?;
    if ins.state && !cfg.fresh {
        if let Some(RecordedRun { profile, seed }) = recorded_run(cfg, c).await? {
            if let Some(m) = &cfg.map {
                return Err(Error::Usage(format!(
                    "{} was seeded by finseed with profile `{profile}` (seed {seed}) and another map (or none), which differs from `{}` (seed {}) through {}; refusing to mix their rows\n  fix: use the same profile, seed and map as the first run (a map's comments and layout may change, its decisions may not); to start over, empty the team's tables yourself and drop finseed_run and finseed_ledger",
                    t.shown, cfg.profile.name, cfg.profile.seed, m.path.display()
                )));
            }
            return Err(Error::Usage(format!(
                "{} was seeded by finseed with profile `{profile}` (seed {seed}), which differs from `{}` (seed {}); refusing to mix their rows\n  fix: pass --fresh to drop finseed's tables and start over, or use the same profile and seed",
                t.shown, cfg.profile.name, cfg.profile.seed
            )));
        }
    }
    // A finishing step waits for the shards to create the tables (finish::wait).
    if cfg.await_shards.is_none()
        && cfg.map.is_none()
        && !cfg.steps.contains(&"create")
        && cfg.steps.iter().any(|s| *s != "create")
    {
        let missing: Vec<&str> = all_tables()
            .filter(|tb| wanted(cfg, tb) && !ins.owned.contains_key(tb.name))
            .map(|tb| tb.name)
            .collect();
        if !missing.is_empty() {
            return Err(Error::Usage(format!(
                "{}: finseed's tables {} do not exist yet\n  fix: include the create step in --steps (or leave --steps out)",
                t.shown,
                missing.join(", ")
            )));
        }
    }
    Ok(ins)
}

async fn step_create(cfg: &SeedConfig, c: &mut Client) -> Result<String> {
    let t = &cfg.target;
    let made = match cfg.map {
        Some(_) => 0,
        None => own::create_tables(c, t, cfg.unlogged, cfg.profile.layout).await?,
    };
    let p = &cfg.profile;
    t.ask(
        "cannot record the run",
        c.query_typed(
            "INSERT INTO finseed_run (id, profile, seed, scale, fingerprint, finseed_version)
             VALUES (1, $1, $2, $3, $4, $5)
             ON CONFLICT (id) DO NOTHING",
            &[
                (&p.name, Type::TEXT),
                (&(p.seed as i64), Type::INT8),
                (&p.scale, Type::FLOAT8),
                (&fingerprint(p, cfg.map.as_ref()), Type::TEXT),
                (&env!("CARGO_PKG_VERSION"), Type::TEXT),
            ],
        ),
    )
    .await?;
    if cfg.map.is_some() {
        return Ok("with --map: no tables created (the map's targets are the team's)".into());
    }
    Ok(format!(
        "{made} of {} tables created{}{}",
        all_tables().count(),
        if cfg.unlogged { ", UNLOGGED" } else { "" },
        match cfg.profile.layout {
            crate::table::Layout::Plain => "",
            crate::table::Layout::Partitioned => ", transactions and splits partitioned by month",
        }
    ))
}

/// Connect, and remember the connection so an interrupt can cancel what it runs.
async fn connect(target: &Target) -> Result<Client> {
    let c = target.connect().await?;
    interrupt::register(&c);
    Ok(c)
}

/// Chunks already in the ledger, per group (a chunk counts when all its tables are there).
/// Opens its own connection (with retries), so a dropped control connection cannot fail a load.
async fn done_chunks(target: &Target, group: Group, wanted: &[bool]) -> Result<HashSet<u64>> {
    let c = connect(target).await?;
    let mut done: Option<HashSet<u64>> = None;
    for (t, _) in group.tables().iter().zip(wanted).filter(|(_, &w)| w) {
        let rows = target
            .ask(
                "cannot read the ledger",
                c.query_typed(
                    "SELECT chunk FROM finseed_ledger WHERE table_name = $1",
                    &[(&t.name, Type::TEXT)],
                ),
            )
            .await?;
        let set: HashSet<u64> = rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect();
        done = Some(match done {
            None => set,
            Some(d) => d.intersection(&set).copied().collect(),
        });
    }
    Ok(done.unwrap_or_default())
}

/// Bytes per CopyData message. The server reads each message whole into one buffer before
/// parsing it, so one message per 19 MB chunk would make it grow that buffer every time.
const COPY_MESSAGE: usize = 64 << 10;

/// A produced chunk as shared buffers, so a retry resends without copying and the buffers go
/// back to the pool once the chunk is committed.
struct Ready {
    chunk: u64,
    tables: Vec<Loadable>,
}

/// One table's part of a chunk: its binary COPY bytes, rows and ledger checksum.
struct Loadable {
    bytes: Arc<Vec<u8>>,
    rows: u64,
    checksum: String,
}

/// One CopyData message's worth of a shared chunk buffer.
pub struct Piece {
    buf: Arc<Vec<u8>>,
    at: usize,
    end: usize,
}

impl Buf for Piece {
    fn remaining(&self) -> usize {
        self.end - self.at
    }
    fn chunk(&self) -> &[u8] {
        &self.buf[self.at..self.end]
    }
    fn advance(&mut self, n: usize) {
        assert!(
            n <= self.end - self.at,
            "advance past the end of a COPY piece"
        );
        self.at += n;
    }
}

/// Stream a complete binary COPY buffer (header, tuples, trailer) into a started COPY, in
/// messages of [`COPY_MESSAGE`] bytes that share the buffer; returns the rows the server took.
/// Each message must be accepted, and the end of the COPY answered, within `limit`.
pub async fn send_copy(
    sink: tokio_postgres::CopyInSink<Piece>,
    bytes: &Arc<Vec<u8>>,
    limit: std::time::Duration,
) -> std::result::Result<u64, LoadError> {
    futures_util::pin_mut!(sink);
    let mut at = 0;
    while at < bytes.len() {
        let end = (at + COPY_MESSAGE).min(bytes.len());
        let piece = Piece {
            buf: bytes.clone(),
            at,
            end,
        };
        within(
            limit,
            || format!("sending COPY data (byte {at} of {})", bytes.len()),
            sink.feed(piece),
        )
        .await?;
        at = end;
    }
    within(
        limit,
        || "waiting for the server to end a COPY".into(),
        sink.finish(),
    )
    .await
}

/// COPY one produced chunk and its ledger rows in one transaction.
async fn load_chunk(
    c: &mut Client,
    group: Group,
    p: &Ready,
    wanted: &[bool],
    schema: &str,
    copy: &[String],
    limit: std::time::Duration,
) -> std::result::Result<u64, LoadError> {
    let tx = within(
        limit,
        || "starting a chunk's transaction".into(),
        c.transaction(),
    )
    .await?;
    // Seeders whose shards overlap (or a whole run beside a shard) load a chunk once: the second
    // waits here for the first's commit, then finds the chunk in the ledger.
    within(
        limit,
        || "waiting for the chunk's lock".into(),
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            &[
                &lock::K_CHUNK,
                &lock::key(&format!("{schema}|{group:?}|{}", p.chunk)),
            ],
        ),
    )
    .await?;
    // Tables of this chunk already in the ledger: loaded by an earlier run (perhaps with other
    // --tables), or by this one when a COMMIT reached the server but its answer did not.
    let names: Vec<&str> = group.tables().iter().map(|t| t.name).collect();
    let present: HashSet<String> = within(
        limit,
        || "reading the ledger".into(),
        tx.query(
            "SELECT table_name FROM finseed_ledger WHERE chunk = $1 AND table_name = ANY($2)",
            &[&(p.chunk as i64), &names],
        ),
    )
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    let mut rows = 0;
    for (((table, part), &want), stmt) in group.tables().iter().zip(&p.tables).zip(wanted).zip(copy)
    {
        if !want || present.contains(table.name) {
            continue;
        }
        if part.rows > 0 {
            let sink = within(
                limit,
                || format!("starting the COPY of {}", table.name),
                tx.copy_in(stmt.as_str()),
            )
            .await?;
            let copied = send_copy(sink, &part.bytes, limit).await?;
            debug_assert_eq!(copied, part.rows);
            rows += copied;
        }
        within(
            limit,
            || "writing the ledger".into(),
            tx.execute(
                "INSERT INTO finseed_ledger (table_name, chunk, rows, checksum) VALUES ($1, $2, $3, $4)",
                &[&table.name, &(p.chunk as i64), &(part.rows as i64), &part.checksum],
            ),
        )
        .await?;
    }
    within(limit, || "committing a chunk".into(), tx.commit()).await?;
    Ok(rows)
}

/// Wait for every task (so none is left running), then the rows they wrote, or the first error
/// any of them met; `what` names the tasks ("load", "rollup") in a panic's message.
async fn join_tasks(tasks: Vec<tokio::task::JoinHandle<Result<u64>>>, what: &str) -> Result<u64> {
    let mut loaded = 0;
    let mut first_err = None;
    for t in tasks {
        match t.await {
            Ok(Ok(n)) => loaded += n,
            Ok(Err(e)) => {
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(Error::Failed(format!("{what} task failed: {e}")));
            }
        }
    }
    first_err.map_or(Ok(loaded), Err)
}

async fn step_load(
    cfg: &SeedConfig,
    world: Arc<World>,
    progress: &Progress,
    schema: &str,
    plans: Option<&Arc<crate::map::Compiled>>,
) -> Result<(u64, String)> {
    let target = &cfg.target;
    let mut loaded = 0u64;
    let mut skipped = 0u64;
    // The partitioned layout loads transactions frozen where it can (see seed::partition).
    let mut frozen = false;
    let mut notes = Vec::new();
    for group in Group::ALL {
        let wanted: Vec<bool> = group.tables().iter().map(|t| wanted(cfg, t)).collect();
        if !wanted.iter().any(|&w| w) {
            continue;
        }
        if group == Group::Transactions && world.profile.layout == crate::table::Layout::Partitioned
        {
            let c = connect(target).await?;
            let path = partition::choose(cfg, &c).await?;
            drop(c);
            match path {
                partition::Path::Frozen => {
                    let (n, note) = partition::load_frozen(cfg, world.clone(), progress).await?;
                    loaded += n;
                    notes.push(note);
                    frozen = true;
                    continue;
                }
                partition::Path::Routed(why) => {
                    let made = partition::attach_all(cfg).await?;
                    notes.push(format!(
                        "partitions loaded chunk by chunk ({made} attached now): {why}"
                    ));
                }
            }
        }
        let done = done_chunks(target, group, &wanted).await?;
        let todo: Vec<u64> = shard_chunks(group.chunks(&world), cfg.shard)
            .filter(|c| !done.contains(c))
            .collect();
        skipped += shard_chunks(group.chunks(&world), cfg.shard).count() as u64 - todo.len() as u64;
        if todo.is_empty() {
            continue;
        }
        let parents: u64 = todo
            .iter()
            .map(|&c| {
                let r = group.chunk_ids(&world, c);
                r.end - r.start
            })
            .sum();
        let bar = progress.bar(group.tables()[0].name, parents);
        let todo = Arc::new(todo);
        let next = Arc::new(AtomicUsize::new(0));
        let wanted = Arc::new(wanted);
        let bufs = Arc::new(Buffers::default());
        let copy = Arc::new(mapped::copy_statements(group, world.profile.layout, plans));
        let mut tasks = Vec::new();
        for _ in 0..cfg.jobs.min(todo.len()) {
            let schema = schema.to_string();
            let (copy, plans) = (copy.clone(), plans.cloned());
            let limit = cfg.stall;
            let (world, todo, next, wanted, target, bar, bufs) = (
                world.clone(),
                todo.clone(),
                next.clone(),
                wanted.clone(),
                target.clone(),
                bar.clone(),
                bufs.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut client = connect(&target).await?;
                let take = || todo.get(next.fetch_add(1, Ordering::SeqCst)).copied();
                let gen = |chunk: u64| {
                    let (world, wanted) = (world.clone(), wanted.clone());
                    let (bufs, plans) = (bufs.clone(), plans.clone());
                    tokio::task::spawn_blocking(move || {
                        let p: Produced = match plans {
                            Some(pl) => mapped::produce(&pl, &world, group, chunk, &wanted, &bufs),
                            None => produce::<Binary>(&world, group, chunk, &wanted, &bufs),
                        };
                        Ready {
                            chunk: p.chunk,
                            tables: p
                                .tables
                                .into_iter()
                                .map(|(b, n)| Loadable {
                                    // XXH3 of the COPY bytes identifies them at memory speed
                                    // (the lane hash it replaced took 9% of finseed's CPU
                                    // during a load); it is not meant to resist tampering.
                                    checksum: format!(
                                        "xxh3:{:016x}",
                                        xxhash_rust::xxh3::xxh3_64(&b)
                                    ),
                                    bytes: Arc::new(b),
                                    rows: n,
                                })
                                .collect(),
                        }
                    })
                };
                let mut rows = 0u64;
                let mut pending = take().map(gen);
                while let Some(handle) = pending {
                    let produced = handle
                        .await
                        .map_err(|e| Error::Failed(format!("generator task failed: {e}")))?;
                    // Generate the next chunk while this one streams into Postgres.
                    pending = take().map(gen);
                    let mut attempt = 0;
                    loop {
                        match load_chunk(
                            &mut client,
                            group,
                            &produced,
                            &wanted,
                            &schema,
                            &copy,
                            limit,
                        )
                        .await
                        {
                            Ok(n) => {
                                rows += n;
                                break;
                            }
                            Err(e) if attempt < 5 && e.transient() => {
                                attempt += 1;
                                eprintln!(
                                    "finseed: loading chunk {} of {:?} failed, attempt {attempt} of 6: {e}; waiting {:.1} s, then reconnecting to retry it",
                                    produced.chunk,
                                    group,
                                    (500u64 << attempt) as f64 / 1000.0
                                );
                                tokio::time::sleep(std::time::Duration::from_millis(
                                    500 << attempt,
                                ))
                                .await;
                                client = connect(&target).await.map_err(|c| {
                                    Error::Db(format!(
                                        "loading chunk {} of {:?} ({}): {e}; then reconnecting to retry it failed: {c}",
                                        produced.chunk, group, target.shown
                                    ))
                                })?;
                            }
                            Err(e) => {
                                return Err(e.into_error(
                                    &target,
                                    &format!("loading chunk {} of {:?}", produced.chunk, group),
                                ));
                            }
                        }
                    }
                    let ids = group.chunk_ids(&world, produced.chunk);
                    bar.inc(ids.end - ids.start);
                    for (t, part) in group.tables().iter().zip(produced.tables) {
                        if let Ok(buf) = Arc::try_unwrap(part.bytes) {
                            bufs.put(t.name, buf);
                        }
                    }
                }
                Ok::<u64, Error>(rows)
            }));
        }
        let joined = join_tasks(tasks, "load").await;
        bar.finish_and_clear();
        loaded += joined?;
    }
    // Nothing half-loaded is passed off as complete: every chunk of the shard must be there.
    let mut missing = Vec::new();
    for group in Group::ALL {
        let want: Vec<bool> = group.tables().iter().map(|t| wanted(cfg, t)).collect();
        if !want.iter().any(|&w| w) || (frozen && group == Group::Transactions) {
            continue;
        }
        let done = done_chunks(target, group, &want).await?;
        let lacking = shard_chunks(group.chunks(&world), cfg.shard)
            .filter(|c| !done.contains(c))
            .count();
        if lacking > 0 {
            missing.push(format!("{:?}: {lacking} chunks", group));
        }
    }
    if !missing.is_empty() {
        return Err(Error::Failed(format!(
            "the load is incomplete: {}\n  fix: run the same command again to load the missing chunks",
            missing.join(", ")
        )));
    }
    notes.insert(0, format!("{skipped} chunks already loaded were skipped"));
    Ok((loaded, notes.join("; ")))
}

async fn table_reports(cfg: &SeedConfig) -> Result<Vec<TableReport>> {
    let target = &cfg.target;
    let c = connect(target).await?;
    let mut out = Vec::new();
    for t in all_tables() {
        let exists = target.has_table(&c, t.name).await?;
        if !exists {
            continue;
        }
        let row = target
            .ask(
                "cannot read table sizes",
                c.query_typed_one(
                    "SELECT coalesce((SELECT sum(rows) FROM finseed_ledger WHERE table_name = $1), 0)::bigint,
                            coalesce((SELECT sum(pg_total_relation_size(relid))::bigint FROM pg_partition_tree($1::regclass)), pg_total_relation_size($1::regclass))",
                    &[(&t.name, Type::TEXT)],
                ),
            )
            .await?;
        let rows: i64 = row.get(0);
        out.push(TableReport {
            table: t.name.to_string(),
            rows_loaded: rows as u64,
            bytes: row.get(1),
        });
    }
    Ok(out)
}

/// How long the create step waits for another finseed creating the same tables.
const CREATE_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Take the DDL lock of `schema`; with `wait`, retry each second for that long, saying once
/// who is being waited for and what it is `doing`. `Ok(Err(who))` when it is still held.
pub(crate) async fn ddl_lock(
    cfg: &SeedConfig,
    control: &Client,
    me: &lock::Me,
    schema: &str,
    wait: Option<std::time::Duration>,
    doing: &str,
) -> Result<std::result::Result<lock::Held, String>> {
    let wants = [lock::Want {
        class: lock::K_DDL,
        key: lock::key(schema),
        shared: false,
    }];
    let start = Instant::now();
    let mut said = false;
    loop {
        match lock::acquire(&cfg.target, control, me, &format!("ddl {schema}"), &wants).await? {
            Ok(h) => return Ok(Ok(h)),
            Err(who) => match wait {
                Some(w) if start.elapsed() < w => {
                    if !said {
                        eprintln!(
                            "waiting up to {} for {who}, which is {doing}",
                            finish::human(w)
                        );
                        said = true;
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                _ => return Ok(Err(who)),
            },
        }
    }
}

/// Chunks of the whole dataset (every shard) not in the ledger yet, for the wanted tables.
async fn dataset_missing(cfg: &SeedConfig, world: &World) -> Result<u64> {
    let mut missing = 0;
    for group in Group::ALL {
        let want: Vec<bool> = group.tables().iter().map(|t| wanted(cfg, t)).collect();
        if !want.iter().any(|&w| w) {
            continue;
        }
        let done = done_chunks(&cfg.target, group, &want).await?;
        missing += (0..group.chunks(world))
            .filter(|c| !done.contains(c))
            .count() as u64;
    }
    Ok(missing)
}

async fn run_steps(
    cfg: &SeedConfig,
    on_step: &mut impl FnMut(&StepReport),
    resume: &str,
) -> Result<SeedReport> {
    let total = Instant::now();
    let t = &cfg.target;
    let mut control = connect(t).await?;
    // Everything is checked before finseed writes anything, its own state included.
    preflight(cfg, &control).await?;
    // A map is checked against the target's catalog before finseed writes anything.
    let plans = match &cfg.map {
        Some(m) => Some(Arc::new(crate::map::compile(m, &control, t).await?)),
        None => None,
    };
    own::ensure_state(&mut control, t).await?;
    let schema = preflight(cfg, &control).await?.schema;
    let me = lock::Me::new(resume.to_string());
    let shard = cfg
        .shard
        .map_or("all".to_string(), |(k, n)| format!("{k}/{n}"));
    let mut wants = vec![
        lock::Want {
            class: lock::K_RUN,
            key: lock::key(&format!("{schema}|{shard}")),
            shared: false,
        },
        // Every seeder of the schema shares this one; --fresh, which drops the tables the others
        // load into, needs it alone.
        lock::Want {
            class: lock::K_DATASET,
            key: lock::key(&schema),
            shared: !cfg.fresh,
        },
    ];
    if cfg.await_shards.is_some() {
        // Finishers load nothing: two at once share the dataset lock and meet at the DDL lock.
        wants.remove(0);
    }
    let held = match lock::acquire(t, &control, &me, &format!("seed {schema} {shard}"), &wants).await? {
        Ok(h) => h,
        Err(who) => {
            return Err(Error::Failed(format!(
                "{who} is seeding this database ({}, schema {schema}{})\n  fix: wait for it to finish, or stop it (Ctrl-C; a rerun resumes where it stopped), then run this command again",
                t.shown,
                if cfg.fresh { String::new() } else { format!(", shard {shard}") }
            )))
        }
    };
    let result = async {
        // Under the lock nothing of finseed's changes under us any more: check again.
        preflight(cfg, &control).await?;
        let world = Arc::new(World::new(cfg.profile.clone()));
        let progress = Progress::new(cfg.quiet);
        let mut steps = Vec::new();
        let mut ddl: Option<lock::Held> = None;
        let mut skip_post: Option<String> = None;
        if let Some(a) = &cfg.await_shards {
            let waited = finish::wait(cfg, &control, &world, a).await?;
            on_step(&waited);
            steps.push(waited);
            preflight(cfg, &control).await?;
        }
        for &step in STEPS.iter().filter(|s| cfg.steps.contains(s)) {
            if held.lost() {
                return Err(Error::Failed(format!(
                    "lost the connection that held finseed's lock on {}, and another finseed has it now; stopped before the {step} step\n  fix: let the other finseed finish, then rerun this command",
                    t.shown
                )));
            }
            let start = Instant::now();
            let (rows, detail) = match step {
                "create" => {
                    let lock = match ddl_lock(cfg, &control, &me, &schema, Some(CREATE_WAIT), "creating finseed's tables").await? {
                        Ok(h) => h,
                        Err(who) => {
                            return Err(Error::Failed(format!(
                                "{who} has been changing finseed's tables in {} for over {} s\n  fix: let it finish, then rerun this command",
                                t.shown,
                                CREATE_WAIT.as_secs()
                            )))
                        }
                    };
                    let mut detail = String::new();
                    if cfg.fresh {
                        let n = own::drop_owned(&mut control, t, cfg.force).await?;
                        detail = format!("dropped finseed's {n} tables; ");
                    }
                    let made = step_create(cfg, &mut control).await;
                    lock.release().await;
                    (None, detail + &made?)
                }
                "load" => {
                    let deferred = match (&plans, cfg.defer_constraints) {
                        (Some(p), true) => {
                            let needed = dataset_missing(cfg, &world).await? > 0;
                            defer::defer(cfg, p, needed).await?
                        }
                        _ => String::new(),
                    };
                    let (rows, d) =
                        step_load(cfg, world.clone(), &progress, &schema, plans.as_ref())
                            .await
                            .map_err(|e| interrupt::resumable(e, resume))?;
                    (Some(rows), d + &deferred)
                }
                post => {
                    // Keys and indexes are built once, by one finseed, over the whole dataset.
                    if skip_post.is_none() && ddl.is_none() {
                        let missing = if cfg.shard.is_some() {
                            dataset_missing(cfg, &world).await?
                        } else {
                            0
                        };
                        if missing > 0 {
                            skip_post = Some(format!(
                                "skipped: {missing} chunks of other shards are not loaded yet; the shard that completes the dataset builds keys and indexes"
                            ));
                        } else if let Some(a) = &cfg.await_shards {
                            let limit = a.timeout.max(CREATE_WAIT);
                            ddl = Some(finish::ddl_lock(cfg, &control, &me, &schema, limit).await?);
                        } else {
                            match ddl_lock(cfg, &control, &me, &schema, None, "").await? {
                                Ok(h) => ddl = Some(h),
                                Err(who) => {
                                    skip_post = Some(format!(
                                        "skipped: {who} is building keys and indexes"
                                    ))
                                }
                            }
                        }
                    }
                    match &skip_post {
                        Some(why) => (None, why.clone()),
                        None if post == "rollups" && cfg.map.is_some() => (
                            None,
                            "skipped with --map: finseed creates no tables in the team's schema".into(),
                        ),
                        None if post == "rollups" => (
                            None,
                            rollup::step(cfg)
                                .await
                                .map_err(|e| interrupt::resumable(e, resume))?,
                        ),
                        None if cfg.map.is_some() => (
                            None,
                            mapped::post_step(cfg, post, plans.as_deref())
                                .await
                                .map_err(|e| interrupt::resumable(e, resume))?,
                        ),
                        None if post == "analyze" => (
                            None,
                            post::step_analyze(cfg)
                                .await
                                .map_err(|e| interrupt::resumable(e, resume))?,
                        ),
                        None => (
                            None,
                            post::step_post_load(cfg, post)
                                .await
                                .map_err(|e| interrupt::resumable(e, resume))?,
                        ),
                    }
                }
            };
            let seconds = start.elapsed().as_secs_f64();
            let r = StepReport {
                step: step.to_string(),
                seconds,
                rows,
                rows_per_second: rows.map(|n| n as f64 / seconds.max(1e-9)),
                detail,
            };
            on_step(&r);
            steps.push(r);
        }
        if let Some(h) = ddl {
            h.release().await;
        }
        Ok(SeedReport {
            finseed_version: env!("CARGO_PKG_VERSION").to_string(),
            profile: cfg.profile.name.clone(),
            seed: cfg.profile.seed,
            database: cfg.target.shown.clone(),
            jobs: cfg.jobs,
            steps,
            tables: match &plans {
                Some(p) => mapped::table_reports(cfg, p).await?,
                None => table_reports(cfg).await?,
            },
            total_seconds: total.elapsed().as_secs_f64(),
        })
    }
    .await;
    held.release().await;
    result
}

/// Run the configured steps in order, printing each as it finishes. SIGINT and SIGTERM stop
/// it cleanly: statements in flight are cancelled, chunks not yet committed roll back, and the
/// error names the command that resumes (exit 130 or 143).
pub fn seed(cfg: &SeedConfig, mut on_step: impl FnMut(&StepReport)) -> Result<SeedReport> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.jobs.clamp(1, 4))
        .max_blocking_threads(cfg.jobs.max(1) + 1)
        .enable_all()
        .build()
        .map_err(|e| Error::Failed(format!("cannot start the async runtime: {e}")))?;
    interrupt::clear();
    let args: Vec<String> = std::env::args().collect();
    let resume = interrupt::resume_command(&args);
    let out = rt.block_on(async {
        let mut signals = interrupt::Signals::new()
            .map_err(|e| Error::Failed(format!("cannot listen for SIGINT and SIGTERM: {e}")))?;
        tokio::select! {
            r = run_steps(cfg, &mut on_step, &resume) => r,
            (name, code) = signals.recv() => {
                interrupt::cancel_all().await;
                let hidden = if resume.contains("***") {
                    "\n  (the password is shown as ***: put it back, or pass the URL in DATABASE_URL)"
                } else {
                    ""
                };
                Err(Error::Interrupted {
                    code,
                    message: format!(
                        "interrupted by {name}: the chunks already committed stay loaded, the ones in flight were rolled back, and a step stopped half-way is finished by the rerun\n  resume with: {resume}{hidden}"
                    ),
                })
            }
        }
    });
    // Load tasks still running end here, closing their connections: the server rolls back any
    // chunk they had not committed.
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    interrupt::restore_default();
    out
}

/// Parse `--steps a,b`.
pub fn parse_steps(list: Option<&str>) -> Result<Vec<&'static str>> {
    let Some(list) = list else {
        return Ok(STEPS.to_vec());
    };
    let mut out = Vec::new();
    for s in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let s = s.replace('-', "_");
        match STEPS.iter().find(|&&k| k == s) {
            Some(k) => out.push(*k),
            None => {
                return Err(Error::Usage(format!(
                    "--steps: unknown step `{s}`\n  fix: choose from {}",
                    STEPS.join(", ")
                )))
            }
        }
    }
    if out.is_empty() {
        return Err(Error::Usage(format!(
            "--steps: `{list}` names no step\n  fix: give one or more of {}, or leave the flag out",
            STEPS.join(", ")
        )));
    }
    Ok(out)
}
