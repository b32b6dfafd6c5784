//! `finseed seed`: load the dataset into PostgreSQL as named, timed steps (like
//! `pgbench -i -I dtgvp`): create, load, primary_keys, foreign_keys, indexes, analyze.
//!
//! The load is resumable: every chunk of a group is one transaction holding the COPY of each of
//! the group's tables and a ledger row per table, so the database is consistent at every
//! instant and a rerun loads only the chunks the ledger lacks.

use crate::db::Target;
use crate::encode::binary::Binary;
use crate::error::{Error, Result};
use crate::gen::{all_tables, Group, TableSpec};
use crate::model::World;
use crate::pipeline::{produce, shard_chunks, Buffers, Produced};
use crate::profile::Profile;
use crate::progress::Progress;
use crate::schema;
use bytes::Buf;
use futures_util::SinkExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio_postgres::Client;

pub const STEPS: [&str; 6] = [
    "create",
    "load",
    "primary_keys",
    "foreign_keys",
    "indexes",
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

/// Identity of the data a profile produces: the same fingerprint means the same rows.
pub fn fingerprint(p: &Profile) -> String {
    let text = format!(
        "gen=1;seed={};volume={:?};months={};end={};shape={:?};scale={};password={};cost={}",
        p.seed, p.volume, p.months, p.end_day, p.shape, p.scale, p.password, p.bcrypt_cost
    );
    crate::sink::file::hex(&Sha256::digest(text.as_bytes()))[..32].to_string()
}

const LEDGER_DDL: &str = "
CREATE TABLE IF NOT EXISTS finseed_run (
    id              int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    profile         text        NOT NULL,
    seed            bigint      NOT NULL,
    scale           float8      NOT NULL,
    fingerprint     text        NOT NULL,
    finseed_version text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS finseed_ledger (
    table_name  text        NOT NULL,
    chunk       bigint      NOT NULL,
    rows        bigint      NOT NULL,
    checksum    text        NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, chunk)
);";

fn wanted(cfg: &SeedConfig, t: &TableSpec) -> bool {
    wanted_name(cfg, t.name)
}

/// Whether a name from the SQL refers to a table being loaded; names that are not finseed
/// tables (an index name in `CREATE INDEX x ON t`) never exclude a statement.
fn wanted_name(cfg: &SeedConfig, name: &str) -> bool {
    cfg.tables
        .as_ref()
        .is_none_or(|l| l.contains(&name) || all_tables().all(|t| t.name != name))
}

/// Check that writing is safe, and set up finseed's own bookkeeping.
async fn preflight(cfg: &SeedConfig, c: &Client) -> Result<()> {
    let t = &cfg.target;
    let q = |e| t.error("cannot inspect the database", &e);
    let has_run: bool = c
        .query_one("SELECT to_regclass('finseed_run') IS NOT NULL", &[])
        .await
        .map_err(q)?
        .get(0);
    let fp = fingerprint(&cfg.profile);
    if has_run {
        let row = c
            .query_opt(
                "SELECT profile, seed, fingerprint FROM finseed_run WHERE id = 1",
                &[],
            )
            .await
            .map_err(q)?;
        if let Some(row) = row {
            let (profile, seed, their): (String, i64, String) =
                (row.get(0), row.get(1), row.get(2));
            if their != fp && !cfg.fresh {
                return Err(Error::Usage(format!(
                    "{} was seeded by finseed with profile `{profile}` (seed {seed}), which differs from `{}` (seed {}); refusing to mix their rows\n  fix: pass --fresh to drop finseed's tables and start over, or use the same profile and seed",
                    t.shown, cfg.profile.name, cfg.profile.seed
                )));
            }
        }
    } else {
        for table in all_tables() {
            let exists: bool = c
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table.name])
                .await
                .map_err(q)?
                .get(0);
            if !exists {
                continue;
            }
            let has_rows: bool = c
                .query_one(
                    &format!("SELECT EXISTS (SELECT 1 FROM {})", table.name),
                    &[],
                )
                .await
                .map_err(q)?
                .get(0);
            if has_rows && !cfg.force {
                return Err(Error::Usage(format!(
                    "{}: table `{}` holds rows that finseed did not write (no finseed ledger); refusing to write into it\n  fix: point finseed at an empty database, or pass --force if you really mean to load into this one",
                    t.shown, table.name
                )));
            }
        }
    }
    if cfg.fresh {
        // Safe: either finseed wrote these tables (ledger present), or they are empty, or the
        // user said --force (all checked above).
        let mut drop = String::from("DROP TABLE IF EXISTS finseed_ledger, finseed_run");
        for table in all_tables() {
            drop.push_str(", ");
            drop.push_str(table.name);
        }
        drop.push_str(" CASCADE");
        c.batch_execute(&drop)
            .await
            .map_err(|e| t.error("cannot drop finseed's tables", &e))?;
    }
    Ok(())
}

async fn step_create(cfg: &SeedConfig, c: &Client) -> Result<String> {
    let t = &cfg.target;
    let ddl = if cfg.unlogged {
        schema::TABLES.replace("CREATE TABLE", "CREATE UNLOGGED TABLE")
    } else {
        schema::TABLES.to_string()
    };
    c.batch_execute(&ddl)
        .await
        .map_err(|e| t.error("cannot create the tables", &e))?;
    c.batch_execute(LEDGER_DDL)
        .await
        .map_err(|e| t.error("cannot create finseed's ledger", &e))?;
    let p = &cfg.profile;
    c.execute(
        "INSERT INTO finseed_run (id, profile, seed, scale, fingerprint, finseed_version)
         VALUES (1, $1, $2, $3, $4, $5)
         ON CONFLICT (id) DO NOTHING",
        &[
            &p.name,
            &(p.seed as i64),
            &p.scale,
            &fingerprint(p),
            &env!("CARGO_PKG_VERSION"),
        ],
    )
    .await
    .map_err(|e| t.error("cannot record the run", &e))?;
    Ok(format!(
        "{} tables{}",
        all_tables().count(),
        if cfg.unlogged { ", UNLOGGED" } else { "" }
    ))
}

/// Chunks already in the ledger, per group (a chunk counts when all its tables are there).
/// Opens its own connection (with retries), so a dropped control connection cannot fail a load.
async fn done_chunks(target: &Target, group: Group, wanted: &[bool]) -> Result<HashSet<u64>> {
    let c = target.connect().await?;
    let mut done: Option<HashSet<u64>> = None;
    for (t, _) in group.tables().iter().zip(wanted).filter(|(_, &w)| w) {
        let rows = c
            .query(
                "SELECT chunk FROM finseed_ledger WHERE table_name = $1",
                &[&t.name],
            )
            .await
            .map_err(|e| target.error("cannot read the ledger", &e))?;
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
pub async fn send_copy(
    sink: tokio_postgres::CopyInSink<Piece>,
    bytes: &Arc<Vec<u8>>,
) -> std::result::Result<u64, tokio_postgres::Error> {
    futures_util::pin_mut!(sink);
    let mut at = 0;
    while at < bytes.len() {
        let end = (at + COPY_MESSAGE).min(bytes.len());
        sink.feed(Piece {
            buf: bytes.clone(),
            at,
            end,
        })
        .await?;
        at = end;
    }
    sink.finish().await
}

/// COPY one produced chunk and its ledger rows in one transaction.
async fn load_chunk(
    c: &mut Client,
    group: Group,
    p: &Ready,
    wanted: &[bool],
) -> std::result::Result<u64, tokio_postgres::Error> {
    let tx = c.transaction().await?;
    // Tables of this chunk already in the ledger: loaded by an earlier run (perhaps with other
    // --tables), or by this one when a COMMIT reached the server but its answer did not.
    let names: Vec<&str> = group.tables().iter().map(|t| t.name).collect();
    let present: HashSet<String> = tx
        .query(
            "SELECT table_name FROM finseed_ledger WHERE chunk = $1 AND table_name = ANY($2)",
            &[&(p.chunk as i64), &names],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut rows = 0;
    for ((table, part), &want) in group.tables().iter().zip(&p.tables).zip(wanted) {
        if !want || present.contains(table.name) {
            continue;
        }
        if part.rows > 0 {
            let cols: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
            let stmt = format!(
                "COPY {} ({}) FROM STDIN (FORMAT binary)",
                table.name,
                cols.join(", ")
            );
            let copied = send_copy(tx.copy_in(&stmt).await?, &part.bytes).await?;
            debug_assert_eq!(copied, part.rows);
            rows += copied;
        }
        tx.execute(
            "INSERT INTO finseed_ledger (table_name, chunk, rows, checksum) VALUES ($1, $2, $3, $4)",
            &[&table.name, &(p.chunk as i64), &(part.rows as i64), &part.checksum],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(rows)
}

async fn step_load(
    cfg: &SeedConfig,
    world: Arc<World>,
    progress: &Progress,
) -> Result<(u64, String)> {
    let target = &cfg.target;
    let mut loaded = 0u64;
    let mut skipped = 0u64;
    for group in Group::ALL {
        let wanted: Vec<bool> = group.tables().iter().map(|t| wanted(cfg, t)).collect();
        if !wanted.iter().any(|&w| w) {
            continue;
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
        let mut tasks = Vec::new();
        for _ in 0..cfg.jobs.min(todo.len()) {
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
                let mut client = target.connect().await?;
                let take = || todo.get(next.fetch_add(1, Ordering::SeqCst)).copied();
                let gen = |chunk: u64| {
                    let (world, wanted) = (world.clone(), wanted.clone());
                    let bufs = bufs.clone();
                    tokio::task::spawn_blocking(move || {
                        let p: Produced = produce::<Binary>(&world, group, chunk, &wanted, &bufs);
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
                        match load_chunk(&mut client, group, &produced, &wanted).await {
                            Ok(n) => {
                                rows += n;
                                break;
                            }
                            Err(e) if attempt < 5 && crate::db::transient(&e) => {
                                attempt += 1;
                                tokio::time::sleep(std::time::Duration::from_millis(
                                    500 << attempt,
                                ))
                                .await;
                                client = target.connect().await?;
                            }
                            Err(e) => {
                                return Err(target.error(
                                    &format!("loading chunk {} of {:?}", produced.chunk, group),
                                    &e,
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
        let mut first_err = None;
        for t in tasks {
            match t.await {
                Ok(Ok(n)) => loaded += n,
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(e) => {
                    first_err.get_or_insert(Error::Failed(format!("load task failed: {e}")));
                }
            }
        }
        bar.finish_and_clear();
        if let Some(e) = first_err {
            return Err(e);
        }
    }
    // Nothing half-loaded is passed off as complete: every chunk of the shard must be there.
    let mut missing = Vec::new();
    for group in Group::ALL {
        let want: Vec<bool> = group.tables().iter().map(|t| wanted(cfg, t)).collect();
        if !want.iter().any(|&w| w) {
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
    Ok((
        loaded,
        format!("{skipped} chunks already loaded were skipped"),
    ))
}

/// Run a step's statements over `jobs` connections, skipping what already exists.
async fn step_post_load(cfg: &SeedConfig, name: &str) -> Result<String> {
    let target = &cfg.target;
    let c = target.connect().await?;
    let mut todo = Vec::new();
    let mut skipped = 0;
    for stmt in schema::post_load_step(name) {
        let table = stmt.split_whitespace().nth(2).unwrap_or("");
        if !wanted_name(cfg, table) {
            continue;
        }
        if let Some(ix) = stmt.strip_prefix("CREATE INDEX ") {
            let ix_name = ix.split_whitespace().next().unwrap_or("");
            let on = stmt
                .split(" ON ")
                .nth(1)
                .and_then(|s| s.split_whitespace().next())
                .unwrap_or("");
            if !wanted_name(cfg, on) {
                continue;
            }
            let exists: bool = c
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&ix_name])
                .await
                .map_err(|e| target.error("cannot inspect indexes", &e))?
                .get(0);
            if exists {
                skipped += 1;
                continue;
            }
        } else if let Some(pos) = stmt.find("ADD CONSTRAINT ") {
            let con = stmt[pos + 15..].split_whitespace().next().unwrap_or("");
            if name == "foreign_keys" {
                // Both ends of a foreign key must be loaded.
                let refd = stmt
                    .split("REFERENCES ")
                    .nth(1)
                    .and_then(|s| s.split_whitespace().next())
                    .unwrap_or("");
                if !wanted_name(cfg, refd) {
                    continue;
                }
            }
            let exists: bool = c
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1)",
                    &[&con],
                )
                .await
                .map_err(|e| target.error("cannot inspect constraints", &e))?
                .get(0);
            if exists {
                skipped += 1;
                continue;
            }
        }
        todo.push(stmt);
    }
    let n = todo.len();
    let todo = Arc::new(todo);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..cfg.jobs.min(n) {
        let (todo, next, target) = (todo.clone(), next.clone(), target.clone());
        tasks.push(tokio::spawn(async move {
            let client = target.connect().await?;
            client
                .batch_execute("SET maintenance_work_mem = '1GB'")
                .await
                .map_err(|e| target.error("cannot set maintenance_work_mem", &e))?;
            while let Some(stmt) = todo.get(next.fetch_add(1, Ordering::SeqCst)) {
                client
                    .batch_execute(stmt)
                    .await
                    .map_err(|e| target.error(&format!("failed: {stmt}"), &e))?;
            }
            Ok::<(), Error>(())
        }));
    }
    for t in tasks {
        t.await
            .map_err(|e| Error::Failed(format!("task failed: {e}")))??;
    }
    Ok(format!("{n} statements, {skipped} already present"))
}

async fn step_analyze(cfg: &SeedConfig) -> Result<String> {
    let target = &cfg.target;
    let c = target.connect().await?;
    let mut n = 0;
    for t in all_tables().filter(|t| wanted(cfg, t)) {
        if cfg.unlogged {
            c.batch_execute(&format!("ALTER TABLE {} SET LOGGED", t.name))
                .await
                .map_err(|e| target.error("cannot set the table LOGGED", &e))?;
        }
        c.batch_execute(&format!("VACUUM (ANALYZE) {}", t.name))
            .await
            .map_err(|e| target.error("cannot analyze", &e))?;
        n += 1;
    }
    Ok(format!(
        "{n} tables vacuumed and analyzed{}",
        if cfg.unlogged { ", set LOGGED" } else { "" }
    ))
}

async fn table_reports(cfg: &SeedConfig) -> Result<Vec<TableReport>> {
    let target = &cfg.target;
    let c = target.connect().await?;
    let mut out = Vec::new();
    for t in all_tables() {
        let exists: bool = c
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&t.name])
            .await
            .map_err(|e| target.error("cannot inspect tables", &e))?
            .get(0);
        if !exists {
            continue;
        }
        let row = c
            .query_one(
                "SELECT coalesce((SELECT sum(rows) FROM finseed_ledger WHERE table_name = $1), 0)::bigint,
                        pg_total_relation_size($1::regclass)",
                &[&t.name],
            )
            .await
            .map_err(|e| target.error("cannot read table sizes", &e))?;
        let rows: i64 = row.get(0);
        out.push(TableReport {
            table: t.name.to_string(),
            rows_loaded: rows as u64,
            bytes: row.get(1),
        });
    }
    Ok(out)
}

/// Run the configured steps in order, printing each as it finishes.
pub fn seed(cfg: &SeedConfig, mut on_step: impl FnMut(&StepReport)) -> Result<SeedReport> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.jobs.clamp(1, 4))
        .max_blocking_threads(cfg.jobs.max(1) + 1)
        .enable_all()
        .build()
        .map_err(|e| Error::Failed(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async {
        let total = Instant::now();
        let control = cfg.target.connect().await?;
        preflight(cfg, &control).await?;
        let world = Arc::new(World::new(cfg.profile.clone()));
        let progress = Progress::new(cfg.quiet);
        let mut steps = Vec::new();
        for &step in STEPS.iter().filter(|s| cfg.steps.contains(s)) {
            let t = Instant::now();
            let (rows, detail) = match step {
                "create" => (None, step_create(cfg, &control).await?),
                "load" => {
                    let (rows, d) = step_load(cfg, world.clone(), &progress).await?;
                    (Some(rows), d)
                }
                "analyze" => (None, step_analyze(cfg).await?),
                other => (None, step_post_load(cfg, other).await?),
            };
            let seconds = t.elapsed().as_secs_f64();
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
        Ok(SeedReport {
            finseed_version: env!("CARGO_PKG_VERSION").to_string(),
            profile: cfg.profile.name.clone(),
            seed: cfg.profile.seed,
            database: cfg.target.shown.clone(),
            jobs: cfg.jobs,
            steps,
            tables: table_reports(cfg).await?,
            total_seconds: total.elapsed().as_secs_f64(),
        })
    })
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
