//! The post-load steps of `finseed seed` on finseed's own tables: primary_keys, foreign_keys
//! and indexes (the statements of `schemas/post_load.sql`, each applied idempotently so a rerun
//! after a kill finishes what was left), and analyze.

use super::stall::{self, within, LoadError};
use super::{connect, wanted, wanted_name, SeedConfig};
use crate::db::Target;
use crate::error::{Error, Result};
use crate::gen::all_tables;
use crate::schema;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

/// One statement of post_load.sql, as far as the idempotence checks need it.
#[derive(Debug, Clone)]
enum Item {
    Constraint {
        table: String,
        name: String,
        referenced: Option<String>,
        primary: bool,
        /// Added `NOT VALID`, then validated in a transaction of its own (a month's key of a
        /// partitioned table, see partitioned_post_load.sql).
        not_valid: bool,
    },
    Index {
        table: String,
        name: String,
    },
}

impl Item {
    fn parse(stmt: &str) -> Option<Item> {
        let w: Vec<&str> = stmt.split_whitespace().collect();
        if stmt.starts_with("CREATE INDEX ") {
            let on = w.iter().position(|x| *x == "ON")?;
            return Some(Item::Index {
                name: w.get(2)?.to_string(),
                table: w.get(on + 1)?.to_string(),
            });
        }
        let pos = w.iter().position(|x| *x == "CONSTRAINT")?;
        let referenced = stmt
            .split("REFERENCES ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .map(str::to_string);
        Some(Item::Constraint {
            table: w.get(2)?.to_string(),
            name: w.get(pos + 1)?.to_string(),
            primary: referenced.is_none(),
            referenced,
            not_valid: stmt.trim_end().ends_with("NOT VALID"),
        })
    }

    /// The table locks the statement takes (`apply` takes them first, in this order).
    fn locks(&self) -> Vec<(&str, Mode)> {
        match self {
            Item::Constraint {
                table,
                primary: true,
                ..
            } => vec![(table, Mode::AccessExclusive)],
            // What the long part takes: VALIDATE CONSTRAINT locks its table SHARE UPDATE
            // EXCLUSIVE and the referenced one ROW SHARE. (Adding it NOT VALID takes SHARE ROW
            // EXCLUSIVE on both, for a moment: at worst a short wait, never a cycle.)
            Item::Constraint {
                table,
                referenced: Some(r),
                not_valid: true,
                ..
            } => vec![(table, Mode::ShareUpdateExclusive), (r, Mode::RowShare)],
            Item::Constraint {
                table, referenced, ..
            } => std::iter::once(table.as_str())
                .chain(referenced.as_deref())
                .map(|t| (t, Mode::ShareRowExclusive))
                .collect(),
            Item::Index { table, .. } => vec![(table, Mode::Share)],
        }
    }

    /// Whether the two statements would wait for each other's table locks. A lock on a
    /// partitioned table reaches its partitions (`transactions` and `transactions_p2024_01`).
    fn conflicts(&self, other: &Item) -> bool {
        self.locks().iter().any(|(t, m)| {
            other
                .locks()
                .iter()
                .any(|(u, n)| same_tree(t, u) && m.conflicts(*n))
        })
    }

    fn name(&self) -> &str {
        match self {
            Item::Constraint { name, .. } | Item::Index { name, .. } => name,
        }
    }

    /// Whether this statement must wait for `other` to finish: a partitioned table's key comes
    /// after its months' keys (`transactions_member_fk` after `transactions_member_fk_p2024_01`),
    /// which it adopts.
    fn after(&self, other: &Item) -> bool {
        month_parent(other.name()) == Some(self.name())
    }

    fn tables(&self) -> Vec<&str> {
        match self {
            Item::Constraint {
                table, referenced, ..
            } => std::iter::once(table.as_str())
                .chain(referenced.as_deref())
                .collect(),
            Item::Index { table, .. } => vec![table],
        }
    }
}

/// The name a month's table or key is derived from: `transactions` for
/// `transactions_p2024_01`, `transactions_member_fk` for `transactions_member_fk_p2024_01`;
/// `None` for a name without a `_pYYYY_MM` suffix.
fn month_parent(name: &str) -> Option<&str> {
    let (parent, month) = name.rsplit_once("_p")?;
    let b = month.as_bytes();
    let is_month = b.len() == 7
        && b[4] == b'_'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit());
    is_month.then_some(parent)
}

/// Whether two table names are one table or a partitioned table and one of its month
/// partitions (`<table>_pYYYY_MM`).
fn same_tree(a: &str, b: &str) -> bool {
    a == b || month_parent(a) == Some(b) || month_parent(b) == Some(a)
}

/// PostgreSQL's table lock modes, as far as the post-load statements take them: ADD PRIMARY
/// KEY / UNIQUE takes ACCESS EXCLUSIVE on its table, ADD FOREIGN KEY SHARE ROW EXCLUSIVE on
/// both tables (while it validates every row), CREATE INDEX SHARE on its table, VALIDATE
/// CONSTRAINT SHARE UPDATE EXCLUSIVE on its table and ROW SHARE on the referenced one.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    RowShare,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    AccessExclusive,
}

impl Mode {
    /// PostgreSQL's conflict table for these five (the documentation's "Conflicting Lock
    /// Modes"): SHARE admits SHARE (two index builds on one table run together), SHARE ROW
    /// EXCLUSIVE and SHARE UPDATE EXCLUSIVE conflict with themselves (two foreign keys touching
    /// one table validate one after the other), ROW SHARE only with ACCESS EXCLUSIVE here.
    fn conflicts(self, other: Mode) -> bool {
        use Mode::*;
        match (self, other) {
            (AccessExclusive, _) | (_, AccessExclusive) => true,
            (RowShare, _) | (_, RowShare) => false,
            (Share, Share) => false,
            _ => true,
        }
    }
}

/// The order a step's statements are handed to its connections, pg_restore-style: the
/// largest first (by the bytes of the tables each reads), so the connections finish together
/// instead of one starting the `transactions` build last while the others sit idle; and a
/// connection takes the first statement whose table locks do not conflict with a running
/// one's, instead of queueing behind a lock (the second foreign key of `transactions` would
/// wait for the first while the small tables' keys could be checked).
///
/// Statements of different steps are never mixed, so each step stays one named, timed unit
/// whose rerun (`--steps`) finishes what a kill left. Starting the next step's statements
/// early bought little here: the statements that take long all lock `transactions` in
/// conflicting modes (its primary key ACCESS EXCLUSIVE, its foreign keys SHARE ROW EXCLUSIVE,
/// its indexes SHARE), so only the small tables' statements could move, and the index builds
/// already keep both cores busy (two builds with parallel workers on `transaction-flow`:
/// 9-11 s, without: 12.3 s).
struct Queue {
    items: Vec<Item>,
    /// Indices into `items` not started yet, in the order to start them.
    pending: Vec<usize>,
    running: Vec<usize>,
}

enum Next {
    Run(usize),
    /// Every statement left conflicts with a running one: wait for one to finish.
    Wait,
    Done,
}

impl Queue {
    /// `weights[i]`: the bytes statement i reads; ties keep the file's order.
    fn new(items: Vec<Item>, weights: &[i64]) -> Queue {
        let mut pending: Vec<usize> = (0..items.len()).collect();
        pending.sort_by_key(|&i| std::cmp::Reverse(weights[i]));
        Queue {
            items,
            pending,
            running: Vec::new(),
        }
    }

    fn next(&mut self) -> Next {
        if self.pending.is_empty() {
            return Next::Done;
        }
        let free = self.pending.iter().position(|&i| {
            self.running
                .iter()
                .all(|&r| !self.items[i].conflicts(&self.items[r]))
                && !self
                    .pending
                    .iter()
                    .chain(&self.running)
                    .any(|&o| self.items[i].after(&self.items[o]))
        });
        match free {
            Some(k) => {
                let i = self.pending.remove(k);
                self.running.push(i);
                Next::Run(i)
            }
            None => Next::Wait,
        }
    }

    fn finish(&mut self, i: usize) {
        self.running.retain(|&r| r != i);
    }
}

/// `maintenance_work_mem` for each post-load statement, in kB. It was a fixed 1 GB per
/// connection, `--jobs` GB in all, whatever the server's memory. Now: `shared_buffers`
/// (which a server's operator sizes to its memory, commonly a quarter of it) shared among the
/// `jobs` connections, at most 1 GB each and at least 32 MB per participant of a parallel
/// build (below that PostgreSQL plans fewer workers), and never below what the server is
/// configured with. finseed's embedded cluster (2 GB shared_buffers on this 24 GiB machine,
/// 2 jobs) still gets 1 GB. Measured on `transaction-flow` (10M transactions), the memory
/// hardly matters once the parallel workers have theirs: `transactions (category_id)` built
/// in 5.5-6.6 s with 64 MB, 256 MB or 1 GB, the three-column index in 5.0-5.7 s; what does
/// matter is the workers (9.6 s without them), which this keeps.
fn maintenance_kb(server_kb: i64, shared_buffers_kb: i64, workers: i64, jobs: usize) -> i64 {
    const MB: i64 = 1024;
    let floor = 32 * MB * (1 + workers.max(0));
    let share = shared_buffers_kb / jobs.max(1) as i64;
    share.max(floor).min(1024 * MB).max(server_kb)
}

/// Settings for validating a foreign key, chosen by the sizes of the two tables (bytes).
///
/// PostgreSQL validates a new key with one anti join of the referencing table against the
/// referenced one, and before version 16 a hash anti join can only hash the referenced side.
/// When that side is the far larger one (`ai_insights` or `transaction_splits` against
/// `transactions`), the planner hashes it whole, in `work_mem`-sized batches spilled to disk:
/// `ai_insights_transaction_fk` took 43.6 s on `volume` (2.7M keys against 100M transactions).
/// Probing the referenced key's unique index row by row instead (a nested loop; the index
/// exists, a foreign key requires it) took 8.8 s. When the referencing side is the larger one
/// (`transactions` against `context_members`), the hash is right, but with the default 4 MB
/// of `work_mem` it splits into 16 batches and writes the whole referencing side to temporary
/// files: a month of `transactions` validated in 1.53 s with 4 MB, 1.00 s with 256 MB.
pub(super) fn fk_settings(referencing: i64, referenced: i64, work_kb: i64) -> String {
    if referencing.saturating_mul(8) < referenced {
        "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off".into()
    } else {
        format!("SET LOCAL work_mem = '{work_kb}kB'")
    }
}

/// `work_mem` for a foreign key's hash: `maintenance_work_mem` shared by the parallel
/// workers (each hash node may take `work_mem` times `hash_mem_multiplier`), at most 256 MB
/// (the largest referenced side hashed, `context_members` on `volume`, takes 71 MB), never
/// below the server's own setting.
pub(super) fn fk_work_kb(maintenance_kb: i64, server_work_kb: i64, workers: i64) -> i64 {
    (maintenance_kb / (1 + workers.max(0)))
        .min(256 * 1024)
        .max(server_work_kb)
}

/// What applying one statement did.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Applied {
    Created,
    Present,
    /// A NOT VALID constraint left by someone, validated.
    Validated,
    /// An INVALID index finseed had made, dropped and built again.
    Rebuilt,
}

/// Apply one statement in its own transaction, tolerating whatever an interrupted earlier
/// attempt left: the table is locked first (so a statement still running for a finseed that was
/// killed finishes, or rolls back, before the check), then the constraint or index is looked
/// up on finseed's table. The outer error is the server's (worth retrying when transient), the
/// inner one a refusal.
#[allow(clippy::too_many_arguments)]
async fn apply(
    c: &mut Client,
    target: &Target,
    stmt: &str,
    item: &Item,
    check_interval: bool,
    maintenance_kb: i64,
    settings: &str,
    backend: &std::sync::atomic::AtomicI32,
) -> std::result::Result<Result<Applied>, tokio_postgres::Error> {
    // A key added NOT VALID first, in a transaction of its own: adding it locks the referenced
    // table SHARE ROW EXCLUSIVE, which the other months' keys to that table would wait for if
    // it were held through the validation below.
    let mut added = false;
    if let Item::Constraint {
        table,
        name,
        not_valid: true,
        ..
    } = item
    {
        let tx = c.transaction().await?;
        tx.batch_execute(&format!(
            "LOCK TABLE ONLY {table} IN SHARE ROW EXCLUSIVE MODE"
        ))
        .await?;
        // Present: this month's key, or (a table keyed whole by an earlier finseed) a key of
        // this partition that belongs to the parent's key of the same name.
        let parent = month_parent(name).unwrap_or(name);
        let present = tx
            .query_opt(
                "SELECT 1 FROM pg_constraint c LEFT JOIN pg_constraint p ON p.oid = c.conparentid
                 WHERE c.conrelid = $1::text::regclass AND (c.conname = $2 OR p.conname = $3)",
                &[table, name, &parent],
            )
            .await?
            .is_some();
        if !present {
            tx.batch_execute(stmt).await?;
            added = true;
        }
        tx.commit().await?;
    }
    let tx = c.transaction().await?;
    // For the stall watchdog: the server process to look at while the statement runs.
    let pid: i32 = tx.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    backend.store(pid, Ordering::SeqCst);
    tx.batch_execute(&format!(
        "SET LOCAL maintenance_work_mem = '{maintenance_kb}kB'"
    ))
    .await?;
    if !settings.is_empty() {
        tx.batch_execute(settings).await?;
    }
    if check_interval {
        // PostgreSQL 14+: stop the statement within a second if finseed goes away.
        tx.batch_execute("SET LOCAL client_connection_check_interval = '1s'")
            .await?;
    }
    let done = match item {
        Item::Constraint {
            table,
            name,
            primary,
            not_valid,
            ..
        } => {
            let mode = if *primary {
                "ACCESS EXCLUSIVE"
            } else if *not_valid {
                // VALIDATE CONSTRAINT's own lock: other months validate beside it.
                "SHARE UPDATE EXCLUSIVE"
            } else {
                "SHARE ROW EXCLUSIVE"
            };
            tx.batch_execute(&format!("LOCK TABLE ONLY {table} IN {mode} MODE"))
                .await?;
            // A month's key also counts as present when the parent's key of its name covers
            // the partition under PostgreSQL's own name (see above).
            let parent = if *not_valid {
                month_parent(name).unwrap_or(name)
            } else {
                name.as_str()
            };
            let valid: Option<bool> = tx
                .query_opt(
                    "SELECT c.convalidated FROM pg_constraint c LEFT JOIN pg_constraint p ON p.oid = c.conparentid
                     WHERE c.conrelid = $1::text::regclass AND (c.conname = $2 OR p.conname = $3)
                     ORDER BY c.conname = $2 DESC LIMIT 1",
                    &[table, name, &parent],
                )
                .await?
                .map(|r| r.get(0));
            match valid {
                Some(true) => Applied::Present,
                Some(false) => {
                    tx.batch_execute(&format!("ALTER TABLE {table} VALIDATE CONSTRAINT {name}"))
                        .await?;
                    if added {
                        Applied::Created
                    } else {
                        Applied::Validated
                    }
                }
                None => {
                    tx.batch_execute(stmt).await?;
                    Applied::Created
                }
            }
        }
        Item::Index { table, name } => {
            tx.batch_execute(&format!("LOCK TABLE ONLY {table} IN SHARE MODE"))
                .await?;
            let found = tx
                .query_opt(
                    "SELECT c.relkind::text, coalesce(i.indisvalid, false),
                            coalesce(i.indrelid = $2::text::regclass, false),
                            EXISTS (SELECT 1 FROM finseed_owned o WHERE o.rel_name = $1 AND o.relid = c.oid),
                            quote_ident(n.nspname) || '.' || quote_ident(c.relname)
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     LEFT JOIN pg_index i ON i.indexrelid = c.oid
                     WHERE n.nspname = current_schema() AND c.relname = $1",
                    &[name, table],
                )
                .await?;
            let record = "INSERT INTO finseed_owned (rel_name, relid, kind) VALUES ($1::text, $1::text::regclass, 'index')
                 ON CONFLICT (rel_name) DO UPDATE SET relid = excluded.relid, kind = excluded.kind, created_at = now()";
            match found {
                None => {
                    tx.batch_execute(stmt).await?;
                    tx.execute(record, &[name]).await?;
                    Applied::Created
                }
                Some(r) => {
                    let (kind, valid, on_ours, ours, qualified): (
                        String,
                        bool,
                        bool,
                        bool,
                        String,
                    ) = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
                    // "I": the partitioned index of a partitioned table.
                    let index = kind == "i" || kind == "I";
                    if !index || !on_ours {
                        return Ok(Err(Error::Usage(format!(
                            "{}: finseed's index name {qualified} is taken by {} that finseed did not create\n  fix: rename or drop it yourself if you no longer need it: {}",
                            target.shown,
                            if index { "an index on another table" } else { "a relation" },
                            if index { format!("DROP INDEX {qualified};") } else { format!("DROP TABLE {qualified};") }
                        ))));
                    }
                    if valid {
                        Applied::Present
                    } else if ours {
                        // Left INVALID by an interrupted build: finseed's own, so rebuild it.
                        tx.batch_execute(&format!("DROP INDEX {qualified}")).await?;
                        tx.batch_execute(stmt).await?;
                        tx.execute(record, &[name]).await?;
                        Applied::Rebuilt
                    } else {
                        return Ok(Err(Error::Usage(format!(
                            "{}: index {qualified} on finseed's table {table} is INVALID (an interrupted CREATE INDEX CONCURRENTLY or REINDEX) and finseed did not create it, so it will not drop it\n  fix: drop it yourself, then rerun: DROP INDEX {qualified};",
                            target.shown
                        ))));
                    }
                }
            }
        }
    };
    tx.commit().await?;
    Ok(Ok(done))
}

/// `apply` under the stall watchdog, retried on a new connection (up to 4 attempts) when the
/// failure is transient.
#[allow(clippy::too_many_arguments)]
async fn apply_retrying(
    client: &mut Client,
    target: &Target,
    name: &str,
    stmt: &str,
    item: &Item,
    check_interval: bool,
    maintenance: i64,
    settings: &str,
    limit: std::time::Duration,
) -> Result<Applied> {
    let mut attempt = 0;
    loop {
        let pid = Arc::new(std::sync::atomic::AtomicI32::new(0));
        let probe = stall::Probe::Backend(pid.clone());
        let applied = stall::watch(
            target,
            limit,
            &probe,
            || format!("waiting for the server to finish: {stmt}"),
            async {
                apply(
                    client,
                    target,
                    stmt,
                    item,
                    check_interval,
                    maintenance,
                    settings,
                    &pid,
                )
                .await
                .map_err(LoadError::Pg)
            },
        )
        .await;
        match applied {
            Ok(r) => return r,
            Err(e) if attempt < 3 && e.transient() => {
                attempt += 1;
                eprintln!(
                    "finseed: {name} step: attempt {attempt} of 4 failed: {e}; waiting {:.1} s, then reconnecting to retry: {stmt}",
                    (500u64 << attempt) as f64 / 1000.0
                );
                tokio::time::sleep(std::time::Duration::from_millis(500 << attempt)).await;
                *client = connect(target).await.map_err(|c| {
                    Error::Db(format!(
                        "{name} step ({}): {e}; then reconnecting to retry it failed: {c}",
                        target.shown
                    ))
                })?;
            }
            Err(e) => return Err(e.into_error(target, &format!("failed: {stmt}"))),
        }
    }
}

/// Run a step's statements over `jobs` connections, each in its own transaction, keeping what
/// an earlier attempt finished; the order is `Queue`'s.
pub async fn step_post_load(cfg: &SeedConfig, name: &str) -> Result<String> {
    let target = &cfg.target;
    let c = connect(target).await?;
    let version: i32 = target
        .ask(
            "cannot read the server version",
            c.query_typed_one("SELECT current_setting('server_version_num')::int", &[]),
        )
        .await?
        .get(0);
    let check_interval = version >= 140000;
    let mut todo = Vec::new();
    let months: Vec<String> = super::partition::months(&cfg.profile)
        .into_iter()
        .map(|m| m.suffix)
        .collect();
    for stmt in schema::post_load_step_in(name, cfg.profile.layout, &months) {
        let Some(item) = Item::parse(&stmt) else {
            return Err(Error::Failed(format!(
                "unreadable post-load statement: {stmt}"
            )));
        };
        if !item.tables().iter().all(|t| wanted_name(cfg, t)) {
            continue;
        }
        todo.push((stmt, item));
    }
    let n = todo.len();
    // The tables' sizes now (pg_relation_size: pg_class.relpages is 0 until something
    // analyzes the table), for the longest-first order, and the settings for the memory.
    let q = "cannot read the tables' sizes";
    let sizes: std::collections::HashMap<String, i64> = target
        .ask(
            q,
            c.query(
                "SELECT c.relname::text, CASE WHEN c.relkind = 'p'
                     THEN coalesce((SELECT sum(pg_relation_size(t.relid))::bigint FROM pg_partition_tree(c.oid) t), 0)
                     ELSE pg_relation_size(c.oid) END FROM pg_class c
                 WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')",
                &[],
            ),
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let weights: Vec<i64> = todo
        .iter()
        .map(|(_, item)| {
            let mut t = item.tables();
            t.dedup();
            t.iter().map(|t| sizes.get(*t).copied().unwrap_or(0)).sum()
        })
        .collect();
    let settings = c
        .query_one(
            "SELECT pg_size_bytes(current_setting('maintenance_work_mem')) / 1024,
                    pg_size_bytes(current_setting('shared_buffers')) / 1024,
                    coalesce(current_setting('max_parallel_maintenance_workers', true), '0')::bigint,
                    pg_size_bytes(current_setting('work_mem')) / 1024,
                    coalesce(current_setting('max_parallel_workers_per_gather', true), '0')::bigint",
            &[],
        )
        .await;
    let (maintenance, work) = match settings {
        Ok(r) => {
            let m = maintenance_kb(r.get(0), r.get(1), r.get(2), cfg.jobs.min(n));
            (m, Some(fk_work_kb(m, r.get(3), r.get(4))))
        }
        // A server that does not answer this (a PostgreSQL-compatible one): as before.
        Err(_) => (1024 * 1024, None),
    };
    drop(c);
    let stmts: Vec<(String, String)> = todo
        .iter()
        .map(|(s, item)| {
            let settings = match (item, work) {
                (
                    Item::Constraint {
                        table,
                        referenced: Some(r),
                        ..
                    },
                    Some(work),
                ) => fk_settings(
                    sizes.get(table).copied().unwrap_or(0),
                    sizes.get(r).copied().unwrap_or(0),
                    work,
                ),
                _ => String::new(),
            };
            (s.clone(), settings)
        })
        .collect();
    let queue = Arc::new((
        std::sync::Mutex::new(Queue::new(
            todo.into_iter().map(|(_, i)| i).collect(),
            &weights,
        )),
        tokio::sync::Notify::new(),
    ));
    let stmts = Arc::new(stmts);
    let mut tasks = Vec::new();
    for _ in 0..cfg.jobs.min(n) {
        let (queue, stmts, target) = (queue.clone(), stmts.clone(), target.clone());
        let limit = cfg.stall;
        let name = name.to_string();
        tasks.push(tokio::spawn(async move {
            let mut client = connect(&target).await?;
            let mut outcomes = Vec::new();
            loop {
                let (i, item) = {
                    let (lock, notify) = &*queue;
                    // Registered before the queue is looked at, so a statement finishing
                    // between the look and the wait still wakes this connection.
                    let finished = notify.notified();
                    let next = {
                        let mut q = lock.lock().unwrap_or_else(|e| e.into_inner());
                        match q.next() {
                            Next::Run(i) => Some((i, q.items[i].clone())),
                            Next::Wait => None,
                            Next::Done => break,
                        }
                    };
                    match next {
                        Some(x) => x,
                        None => {
                            finished.await;
                            continue;
                        }
                    }
                };
                let (stmt, settings) = &stmts[i];
                let done = apply_retrying(
                    &mut client,
                    &target,
                    &name,
                    stmt,
                    &item,
                    check_interval,
                    maintenance,
                    settings,
                    limit,
                )
                .await;
                {
                    let (lock, notify) = &*queue;
                    lock.lock().unwrap_or_else(|e| e.into_inner()).finish(i);
                    notify.notify_waiters();
                }
                outcomes.push(done?);
            }
            Ok::<Vec<Applied>, Error>(outcomes)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(
            t.await
                .map_err(|e| Error::Failed(format!("task failed: {e}")))??,
        );
    }
    let count = |a| all.iter().filter(|&&x| x == a).count();
    let mut detail = format!(
        "{} statements, {} already present",
        count(Applied::Created),
        count(Applied::Present)
    );
    if count(Applied::Validated) > 0 {
        detail.push_str(&format!(
            ", {} NOT VALID validated",
            count(Applied::Validated)
        ));
    }
    if count(Applied::Rebuilt) > 0 {
        detail.push_str(&format!(
            ", {} invalid indexes rebuilt",
            count(Applied::Rebuilt)
        ));
    }
    Ok(detail)
}

pub async fn step_analyze(cfg: &SeedConfig) -> Result<String> {
    // Over `--jobs` connections, a table each, the largest first: `transactions` (whose ANALYZE
    // also analyzes every partition, one after the other, in one server process) takes most of
    // the step, and the other tables are analyzed beside it instead of after it.
    let mut tables: Vec<&'static str> = all_tables()
        .filter(|t| wanted(cfg, t))
        .map(|t| t.name)
        .collect();
    let n = tables.len();
    // Tables loaded UNLOGGED are set LOGGED first, one after the other in foreign-key order
    // (all_tables()'s): a logged table cannot reference an unlogged one.
    {
        let c = connect(&cfg.target).await?;
        for table in &tables {
            set_logged(&c, &cfg.target, cfg.stall, table).await?;
        }
    }
    // all_tables() is in foreign-key order; the big ones are the last: start from the end.
    if let Some(k) = tables.iter().position(|t| *t == "transactions") {
        let t = tables.remove(k);
        tables.push(t);
    }
    let todo = Arc::new(std::sync::Mutex::new(tables));
    let mut tasks = Vec::new();
    for _ in 0..cfg.jobs.clamp(1, n.max(1)) {
        let (todo, target) = (todo.clone(), cfg.target.clone());
        let limit = cfg.stall;
        tasks.push(tokio::spawn(async move {
            let c = connect(&target).await?;
            let mut vacuumed = 0;
            loop {
                let next = todo.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let Some(table) = next else { break };
                vacuumed += analyze_table(&c, &target, limit, table).await? as u64;
            }
            Ok::<u64, Error>(vacuumed)
        }));
    }
    let vacuumed = super::join_tasks(tasks, "analyze").await? as usize;
    Ok(format!(
        "{n} tables analyzed, {vacuumed} vacuumed ({} all-visible already){}",
        n - vacuumed,
        if cfg.unlogged { ", set LOGGED" } else { "" }
    ))
}

/// A statement run while a watchdog checks that the server is still working on it (also the
/// rollups' VACUUM and ANALYZE).
pub(super) async fn watched(
    c: &Client,
    target: &Target,
    limit: std::time::Duration,
    sql: String,
    what: &'static str,
) -> Result<()> {
    let probe = stall::Probe::Statement(sql.clone());
    stall::watch(
        target,
        limit,
        &probe,
        || format!("waiting for the server to finish: {sql}"),
        async { c.batch_execute(&sql).await.map_err(LoadError::Pg) },
    )
    .await
    .map_err(|e| e.into_error(target, what))
}

/// `ALTER TABLE … SET LOGGED` when the table was loaded UNLOGGED.
async fn set_logged(
    c: &Client,
    target: &Target,
    limit: std::time::Duration,
    table: &str,
) -> Result<()> {
    let unlogged: bool = within(
        limit,
        || "inspecting tables".into(),
        c.query_typed_one(
            "SELECT relpersistence = 'u' FROM pg_class WHERE oid = $1::text::regclass",
            &[(&table, Type::TEXT)],
        ),
    )
    .await
    .map_err(|e| e.into_error(target, "cannot inspect tables"))?
    .get(0);
    if unlogged {
        let sql = format!("ALTER TABLE {table} SET LOGGED");
        watched(c, target, limit, sql, "cannot set the table LOGGED").await?;
    }
    Ok(())
}

/// One table of the analyze step: ANALYZE, and a VACUUM where pages are not all-visible.
/// Returns whether it vacuumed.
async fn analyze_table(
    c: &Client,
    target: &Target,
    limit: std::time::Duration,
    table: &str,
) -> Result<bool> {
    let run = |sql: String, what: &'static str| watched(c, target, limit, sql, what);
    // Statistics first: ANALYZE also refreshes pg_class.relpages and relallvisible (the
    // pages the visibility map marks all-visible), whatever ran before it. A VACUUM then
    // only where pages are not all-visible: it sets the visibility map, which index-only
    // scans need, and the hint bits. A table loaded with COPY FREEZE into a partition
    // created in the same transaction (the frozen path) has every page all-visible and
    // frozen already, and so does one this step vacuumed before (a rerun): ANALYZE alone.
    // Without pg_visibility (an extension finseed cannot assume) this count is what the
    // server offers; an all-visible page with rows inserted later is not counted, so a
    // table extended after its vacuum is vacuumed again.
    run(format!("ANALYZE {table}"), "cannot analyze").await?;
    let (pages, visible): (i32, i32) = within(
        limit,
        || "inspecting tables".into(),
        c.query_typed_one(
            // A partitioned table's pages are its partitions'.
            "SELECT coalesce(sum(relpages), 0)::int, coalesce(sum(relallvisible), 0)::int FROM pg_class
             WHERE relkind = 'r' AND (oid = $1::text::regclass
                OR oid IN (SELECT relid FROM pg_partition_tree($1::text::regclass)))",
            &[(&table, Type::TEXT)],
        ),
    )
    .await
    .map(|r| (r.get(0), r.get(1)))
    .map_err(|e| e.into_error(target, "cannot inspect tables"))?;
    let vacuum = needs_vacuum(pages, visible);
    if vacuum {
        run(format!("VACUUM {table}"), "cannot vacuum").await?;
    }
    Ok(vacuum)
}

/// Whether a table whose pg_class (just refreshed by ANALYZE) says `pages` pages, `visible`
/// of them all-visible, needs a VACUUM to set the rest.
fn needs_vacuum(pages: i32, visible: i32) -> bool {
    visible < pages
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(stmt: &str) -> Item {
        Item::parse(stmt).expect(stmt)
    }

    /// The statement the queue starts; a test fails where it would wait or be done.
    fn run(n: Next) -> usize {
        match n {
            Next::Run(i) => i,
            Next::Wait => panic!("waits"),
            Next::Done => panic!("done"),
        }
    }

    #[test]
    fn month_parent_takes_only_a_month_suffix() {
        assert_eq!(month_parent("transactions_p2024_01"), Some("transactions"));
        assert_eq!(
            month_parent("transactions_member_fk_p2025_12"),
            Some("transactions_member_fk")
        );
        for name in [
            "transactions",
            "transactions_pkey",
            "transactions_p2024",
            "transactions_p2024_1",
            "transactions_pxxxx_01",
            "transactions_p2024_011",
        ] {
            assert_eq!(month_parent(name), None, "{name}");
        }
        assert!(same_tree("transactions", "transactions_p2024_01"));
        assert!(!same_tree("transactions", "transactions_pkey"));
        assert!(!same_tree("transactions_p2024_01", "transactions_p2024_02"));
    }

    #[test]
    fn lock_conflicts_follow_postgresql() {
        let pk =
            parse("ALTER TABLE transactions ADD CONSTRAINT transactions_pkey PRIMARY KEY (id)");
        let fk = parse("ALTER TABLE transactions ADD CONSTRAINT transactions_category_fk FOREIGN KEY (category_id) REFERENCES categories (id)");
        let fk2 = parse("ALTER TABLE ai_insights ADD CONSTRAINT ai_insights_category_fk FOREIGN KEY (related_category_id) REFERENCES categories (id)");
        let fk3 = parse("ALTER TABLE ai_insights ADD CONSTRAINT ai_insights_user_fk FOREIGN KEY (user_id) REFERENCES users (id)");
        let ix = parse("CREATE INDEX transactions_user_idx ON transactions (user_id)");
        let ix2 = parse("CREATE INDEX transactions_category_idx ON transactions (category_id)");
        let other = parse("CREATE INDEX contexts_owner_idx ON contexts (owner_id)");
        // Two index builds on one table share SHARE; anything else on that table conflicts.
        assert!(!ix.conflicts(&ix2));
        assert!(ix.conflicts(&fk) && fk.conflicts(&ix));
        assert!(ix.conflicts(&pk) && pk.conflicts(&pk));
        // Foreign keys conflict through either table, the referenced one too.
        assert!(fk.conflicts(&fk2));
        assert!(!fk.conflicts(&fk3));
        assert!(!ix.conflicts(&other) && !fk.conflicts(&other));
    }

    #[test]
    fn queue_starts_the_largest_first_and_never_two_conflicting() {
        let items: Vec<Item> = [
            "ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY (id)",
            "ALTER TABLE transactions ADD CONSTRAINT transactions_member_fk FOREIGN KEY (context_id, user_id) REFERENCES context_members (context_id, user_id)",
            "ALTER TABLE transactions ADD CONSTRAINT transactions_category_fk FOREIGN KEY (category_id) REFERENCES categories (id)",
            "ALTER TABLE transaction_splits ADD CONSTRAINT transaction_splits_tx_fk FOREIGN KEY (transaction_id) REFERENCES transactions (id)",
            "ALTER TABLE budgets ADD CONSTRAINT budgets_context_fk FOREIGN KEY (context_id) REFERENCES contexts (id)",
        ]
        .iter()
        .map(|s| parse(s))
        .collect();
        let mut q = Queue::new(items, &[1, 1000, 900, 950, 10]);
        // The member key (largest) first; the next two lock transactions too, so the second
        // connection takes the budgets key, then users.
        assert_eq!(run(q.next()), 1);
        assert_eq!(run(q.next()), 4);
        assert_eq!(run(q.next()), 0);
        assert!(matches!(q.next(), Next::Wait));
        q.finish(4);
        assert!(matches!(q.next(), Next::Wait));
        q.finish(1);
        // Ties broken by size: the splits key (950) before the category key (900).
        assert_eq!(run(q.next()), 3);
        assert!(matches!(q.next(), Next::Wait));
        q.finish(3);
        assert_eq!(run(q.next()), 2);
        q.finish(2);
        q.finish(0);
        assert!(matches!(q.next(), Next::Done));
    }

    #[test]
    fn months_keys_validate_side_by_side_and_the_parents_key_comes_last() {
        let items: Vec<Item> = [
            "ALTER TABLE transactions_p2024_01 ADD CONSTRAINT transactions_member_fk_p2024_01 FOREIGN KEY (context_id, user_id) REFERENCES context_members (context_id, user_id) NOT VALID",
            "ALTER TABLE transactions_p2024_02 ADD CONSTRAINT transactions_member_fk_p2024_02 FOREIGN KEY (context_id, user_id) REFERENCES context_members (context_id, user_id) NOT VALID",
            "ALTER TABLE transactions ADD CONSTRAINT transactions_member_fk FOREIGN KEY (context_id, user_id) REFERENCES context_members (context_id, user_id)",
            "ALTER TABLE transactions_p2024_01 ADD CONSTRAINT transactions_category_fk_p2024_01 FOREIGN KEY (category_id) REFERENCES categories (id) NOT VALID",
            "ALTER TABLE ai_insights ADD CONSTRAINT ai_insights_transaction_fk FOREIGN KEY (related_transaction_id, related_transaction_date) REFERENCES transactions (id, transaction_date)",
            "ALTER TABLE context_members ADD CONSTRAINT context_members_user_fk FOREIGN KEY (user_id) REFERENCES users (id)",
        ]
        .iter()
        .map(|s| parse(s))
        .collect();
        assert!(matches!(
            items[0],
            Item::Constraint {
                not_valid: true,
                ..
            }
        ));
        assert!(matches!(
            items[2],
            Item::Constraint {
                not_valid: false,
                ..
            }
        ));
        // Two months validate together; one month's two keys do not; the parent's key and a key
        // to the parent conflict with any month's; a key of the referenced table does not.
        assert!(!items[0].conflicts(&items[1]));
        assert!(items[0].conflicts(&items[3]));
        assert!(items[2].conflicts(&items[0]) && items[4].conflicts(&items[1]));
        assert!(!items[5].conflicts(&items[0]));
        assert!(items[2].after(&items[0]) && !items[0].after(&items[2]));
        assert!(!items[4].after(&items[0]));
        // The parent's key is the largest, yet waits for its months.
        let mut q = Queue::new(items, &[500, 400, 1000, 300, 200, 100]);
        assert_eq!(run(q.next()), 0);
        assert_eq!(run(q.next()), 1);
        assert_eq!(run(q.next()), 5);
        assert!(matches!(q.next(), Next::Wait));
        q.finish(0);
        assert_eq!(run(q.next()), 3);
        q.finish(1);
        q.finish(3);
        // Its months are done, but context_members' own key holds that table: the key to
        // transactions goes first, which the parent's key then waits for too.
        assert_eq!(run(q.next()), 4);
        assert!(matches!(q.next(), Next::Wait));
        q.finish(5);
        assert!(matches!(q.next(), Next::Wait));
        q.finish(4);
        assert_eq!(run(q.next()), 2);
        q.finish(2);
        assert!(matches!(q.next(), Next::Done));
    }

    #[test]
    fn maintenance_memory() {
        const MB: i64 = 1024;
        // The embedded cluster: 2 GB shared_buffers, 1 GB configured, 2 jobs: 1 GB.
        assert_eq!(maintenance_kb(1024 * MB, 2048 * MB, 2, 2), 1024 * MB);
        // A small server (128 MB shared_buffers, PostgreSQL's 64 MB): 32 MB per participant of
        // a build with 2 workers.
        assert_eq!(maintenance_kb(64 * MB, 128 * MB, 2, 2), 96 * MB);
        // 8 GB of shared_buffers over 4 jobs: capped at 1 GB each.
        assert_eq!(maintenance_kb(64 * MB, 8192 * MB, 2, 4), 1024 * MB);
        // 1 GB over 4 jobs: 256 MB each.
        assert_eq!(maintenance_kb(64 * MB, 1024 * MB, 2, 4), 256 * MB);
        // The operator's own larger setting is kept.
        assert_eq!(maintenance_kb(2048 * MB, 1024 * MB, 2, 4), 2048 * MB);
    }

    #[test]
    fn foreign_keys_probe_a_far_larger_referenced_table() {
        const MB: i64 = 1024;
        // ai_insights (2 GB) against transactions (26 GB): index probes, no hash.
        let s = fk_settings(2000 * MB, 26000 * MB, 256 * MB);
        assert!(s.contains("enable_hashjoin = off") && s.contains("enable_mergejoin = off"));
        // transactions against context_members: the hash, in memory.
        assert_eq!(
            fk_settings(26000 * MB, 131 * MB, 256 * MB),
            "SET LOCAL work_mem = '262144kB'"
        );
        // Work memory: 1 GB over 3 participants, capped at 256 MB; 96 MB over 3: 32 MB; never
        // below the server's.
        assert_eq!(fk_work_kb(1024 * MB, 4 * MB, 2), 256 * MB);
        assert_eq!(fk_work_kb(96 * MB, 4 * MB, 2), 32 * MB);
        assert_eq!(fk_work_kb(96 * MB, 64 * MB, 2), 64 * MB);
    }

    #[test]
    fn vacuum_only_where_pages_are_not_all_visible() {
        assert!(needs_vacuum(100, 0));
        assert!(needs_vacuum(100, 99));
        assert!(!needs_vacuum(100, 100));
        assert!(!needs_vacuum(0, 0));
    }
}
