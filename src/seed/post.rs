//! The post-load steps of `finseed seed` on finseed's own tables: primary_keys, foreign_keys
//! and indexes (the statements of `schemas/post_load.sql`, each applied idempotently so a rerun
//! after a kill finishes what was left), and analyze.

use super::stall::{self, within, LoadError};
use super::{connect, wanted, wanted_name, SeedConfig};
use crate::db::Target;
use crate::error::{Error, Result};
use crate::gen::all_tables;
use crate::schema;
use std::sync::atomic::{AtomicUsize, Ordering};
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
        })
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
async fn apply(
    c: &mut Client,
    target: &Target,
    stmt: &str,
    item: &Item,
    check_interval: bool,
    backend: &std::sync::atomic::AtomicI32,
) -> std::result::Result<Result<Applied>, tokio_postgres::Error> {
    let tx = c.transaction().await?;
    // For the stall watchdog: the server process to look at while the statement runs.
    let pid: i32 = tx.query_one("SELECT pg_backend_pid()", &[]).await?.get(0);
    backend.store(pid, Ordering::SeqCst);
    tx.batch_execute("SET LOCAL maintenance_work_mem = '1GB'")
        .await?;
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
            ..
        } => {
            let mode = if *primary {
                "ACCESS EXCLUSIVE"
            } else {
                "SHARE ROW EXCLUSIVE"
            };
            tx.batch_execute(&format!("LOCK TABLE ONLY {table} IN {mode} MODE"))
                .await?;
            let valid: Option<bool> = tx
                .query_opt(
                    "SELECT convalidated FROM pg_constraint WHERE conrelid = $1::text::regclass AND conname = $2",
                    &[table, name],
                )
                .await?
                .map(|r| r.get(0));
            match valid {
                Some(true) => Applied::Present,
                Some(false) => {
                    tx.batch_execute(&format!("ALTER TABLE {table} VALIDATE CONSTRAINT {name}"))
                        .await?;
                    Applied::Validated
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
                    if kind != "i" || !on_ours {
                        return Ok(Err(Error::Usage(format!(
                            "{}: finseed's index name {qualified} is taken by {} that finseed did not create\n  fix: rename or drop it yourself if you no longer need it: {}",
                            target.shown,
                            if kind == "i" { "an index on another table" } else { "a relation" },
                            if kind == "i" { format!("DROP INDEX {qualified};") } else { format!("DROP TABLE {qualified};") }
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

/// Run a step's statements over `jobs` connections, each in its own transaction, keeping what
/// an earlier attempt finished.
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
    drop(c);
    let mut todo = Vec::new();
    for stmt in schema::post_load_step(name) {
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
    let todo = Arc::new(todo);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..cfg.jobs.min(n) {
        let (todo, next, target) = (todo.clone(), next.clone(), target.clone());
        let limit = cfg.stall;
        let name = name.to_string();
        tasks.push(tokio::spawn(async move {
            let mut client = connect(&target).await?;
            let mut outcomes = Vec::new();
            while let Some((stmt, item)) = todo.get(next.fetch_add(1, Ordering::SeqCst)) {
                let mut attempt = 0;
                loop {
                    let pid = Arc::new(std::sync::atomic::AtomicI32::new(0));
                    let probe = stall::Probe::Backend(pid.clone());
                    let applied = stall::watch(
                        &target,
                        limit,
                        &probe,
                        || format!("waiting for the server to finish: {stmt}"),
                        async {
                            apply(&mut client, &target, stmt, item, check_interval, &pid)
                                .await
                                .map_err(LoadError::Pg)
                        },
                    )
                    .await;
                    match applied {
                        Ok(r) => {
                            outcomes.push(r?);
                            break;
                        }
                        Err(e) if attempt < 3 && e.transient() => {
                            attempt += 1;
                            eprintln!(
                                "finseed: {name} step: attempt {attempt} of 4 failed: {e}; waiting {:.1} s, then reconnecting to retry: {stmt}",
                                (500u64 << attempt) as f64 / 1000.0
                            );
                            tokio::time::sleep(std::time::Duration::from_millis(500 << attempt))
                                .await;
                            client = connect(&target).await.map_err(|c| {
                                Error::Db(format!(
                                    "{name} step ({}): {e}; then reconnecting to retry it failed: {c}",
                                    target.shown
                                ))
                            })?;
                        }
                        Err(e) => return Err(e.into_error(&target, &format!("failed: {stmt}"))),
                    }
                }
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
    let target = &cfg.target;
    let c = connect(target).await?;
    let mut n = 0;
    let limit = cfg.stall;
    // Each statement runs while a watchdog checks that the server is still working on it.
    let run = |sql: String, what: &'static str| {
        let c = &c;
        async move {
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
    };
    for t in all_tables().filter(|t| wanted(cfg, t)) {
        let unlogged: bool = within(
            limit,
            || "inspecting tables".into(),
            c.query_typed_one(
                "SELECT relpersistence = 'u' FROM pg_class WHERE oid = $1::text::regclass",
                &[(&t.name, Type::TEXT)],
            ),
        )
        .await
        .map_err(|e| e.into_error(target, "cannot inspect tables"))?
        .get(0);
        if unlogged {
            run(
                format!("ALTER TABLE {} SET LOGGED", t.name),
                "cannot set the table LOGGED",
            )
            .await?;
        }
        run(format!("VACUUM (ANALYZE) {}", t.name), "cannot analyze").await?;
        n += 1;
    }
    Ok(format!(
        "{n} tables vacuumed and analyzed{}",
        if cfg.unlogged { ", set LOGGED" } else { "" }
    ))
}
