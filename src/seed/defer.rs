//! `--defer-constraints`: load into the team's tables as `pg_restore` does, without their
//! indexes, constraints and triggers in the way, then put every one of them back.
//!
//! Crash safety comes from one rule: a definition leaves finseed's state table
//! `finseed_deferred` only in the transaction that recreates it. Saving every definition and
//! dropping them is one transaction too. So at any instant each of the team's objects either
//! exists in the catalog or is saved (or both), and a rerun of the same command drops what is
//! saved (when rows remain to load), loads, and recreates what is saved and missing. Only the
//! mapped tables are touched; an unmapped table's foreign key into a mapped one stops finseed
//! before anything is dropped.

use super::own::MARKER;
use super::{connect, SeedConfig};
use crate::error::{Error, Result};
use crate::map::Compiled;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio_postgres::types::Type;

const DDL: &str = "CREATE TABLE finseed_deferred (
    ord         int  NOT NULL,
    table_name  text NOT NULL,
    kind        text NOT NULL,
    name        text NOT NULL,
    def         text NOT NULL,
    comment     text,
    PRIMARY KEY (kind, table_name, name)
)";

/// Order of recreation: keys and uniques, checks, foreign keys, indexes, triggers.
const ORD_KEY: i32 = 1;
const ORD_CHECK: i32 = 2;
const ORD_FK: i32 = 3;
const ORD_INDEX: i32 = 4;
const ORD_TRIGGER: i32 = 5;

/// Create finseed_deferred when missing; refuse one finseed did not create.
async fn ensure_table(cfg: &SeedConfig, c: &tokio_postgres::Client) -> Result<()> {
    let t = &cfg.target;
    let q = |e| t.error("cannot create finseed_deferred", &e);
    let found = c
        .query_typed_opt(
            "SELECT coalesce(obj_description(c.oid, 'pg_class'), ''), quote_ident(n.nspname) || '.finseed_deferred'
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relname = 'finseed_deferred'",
            &[],
        )
        .await
        .map_err(q)?;
    match found {
        Some(r) if r.get::<_, String>(0).starts_with(MARKER) => Ok(()),
        Some(r) => Err(Error::Usage(format!(
            "{}: {} exists but finseed did not create it, so it will not write into it\n  fix: seed into another schema, or drop it yourself if you no longer need it: DROP TABLE {};",
            t.shown,
            r.get::<_, String>(1),
            r.get::<_, String>(1)
        ))),
        None => {
            c.batch_execute(&format!(
                "BEGIN; {DDL}; COMMENT ON TABLE finseed_deferred IS '{MARKER}: the team''s definitions finseed dropped for a --defer-constraints load; each row leaves when its object is recreated'; COMMIT"
            ))
            .await
            .map_err(q)
        }
    }
}

/// Save the mapped tables' own definitions (unless saved already), then drop them and
/// disable the triggers, all in one transaction. With `drop` false (nothing left to load),
/// only saves nothing and drops nothing.
pub(super) async fn defer(cfg: &SeedConfig, plans: &Compiled, drop: bool) -> Result<String> {
    let t = &cfg.target;
    let mut c = connect(t).await?;
    ensure_table(cfg, &c).await?;
    if !drop {
        return Ok(String::new());
    }
    let q = |e| t.error("cannot defer the mapped tables' constraints", &e);
    let names: Vec<String> = plans
        .plans
        .iter()
        .map(|p| crate::map::ident(&p.target))
        .collect();
    let tx = c.transaction().await.map_err(q)?;
    // Dropping a definition takes the team's table exclusively: a session of theirs holding it
    // fails this within a minute (the server's "lock timeout") instead of waiting in silence.
    tx.batch_execute(
        "SET LOCAL lock_timeout = '60s'; LOCK TABLE finseed_deferred IN SHARE ROW EXCLUSIVE MODE",
    )
    .await
    .map_err(q)?;
    let oids: Vec<u32> = {
        let mut v = Vec::new();
        for n in &names {
            v.push(
                tx.query_one("SELECT $1::text::regclass::oid", &[n])
                    .await
                    .map_err(q)?
                    .get(0),
            );
        }
        v
    };
    let outside: Vec<String> = tx
        .query(
            "SELECT conrelid::regclass::text || '.' || conname FROM pg_constraint
             WHERE contype = 'f' AND confrelid = ANY($1) AND NOT conrelid = ANY($1)",
            &[&oids],
        )
        .await
        .map_err(q)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !outside.is_empty() {
        return Err(Error::Usage(format!(
            "--defer-constraints: foreign keys of tables the map does not load point into mapped tables ({}); finseed never touches unmapped tables, so it cannot drop the keys they depend on\n  fix: leave out --defer-constraints (the load keeps every constraint in place), or map those tables too",
            outside.join(", ")
        )));
    }
    let saved: i64 = tx
        .query_one("SELECT count(*) FROM finseed_deferred", &[])
        .await
        .map_err(q)?
        .get(0);
    if saved == 0 {
        tx.execute(
            "INSERT INTO finseed_deferred (ord, table_name, kind, name, def, comment)
             SELECT CASE WHEN c.contype IN ('p', 'u', 'x') THEN $2::int WHEN c.contype = 'c' THEN $3::int ELSE $4::int END,
                    c.conrelid::regclass::text, 'constraint', c.conname::text,
                    pg_get_constraintdef(c.oid), obj_description(c.oid, 'pg_constraint')
             FROM pg_constraint c
             WHERE c.conrelid = ANY($1) AND c.contype IN ('p', 'u', 'x', 'c', 'f')",
            &[&oids, &ORD_KEY, &ORD_CHECK, &ORD_FK],
        )
        .await
        .map_err(q)?;
        tx.execute(
            "INSERT INTO finseed_deferred (ord, table_name, kind, name, def, comment)
             SELECT $2::int, i.indrelid::regclass::text, 'index', i.indexrelid::regclass::text,
                    pg_get_indexdef(i.indexrelid), obj_description(i.indexrelid, 'pg_class')
             FROM pg_index i
             WHERE i.indrelid = ANY($1)
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid
                               AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x'))",
            &[&oids, &ORD_INDEX],
        )
        .await
        .map_err(q)?;
        tx.execute(
            "INSERT INTO finseed_deferred (ord, table_name, kind, name, def, comment)
             SELECT $2::int, t.tgrelid::regclass::text, 'trigger', t.tgname::text, t.tgenabled::text, NULL
             FROM pg_trigger t
             WHERE t.tgrelid = ANY($1) AND NOT t.tgisinternal AND t.tgenabled <> 'D'",
            &[&oids, &ORD_TRIGGER],
        )
        .await
        .map_err(q)?;
    }
    // Drop what is saved and still there: foreign keys first, then what they depend on.
    let rows = tx
        .query(
            "SELECT table_name, kind, name FROM finseed_deferred ORDER BY ord DESC, table_name, name",
            &[],
        )
        .await
        .map_err(q)?;
    let mut n = 0;
    for r in &rows {
        let (table, kind, name): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let sql = match kind.as_str() {
            "trigger" => format!(
                "ALTER TABLE {table} DISABLE TRIGGER {}",
                crate::map::ident(&name)
            ),
            "index" => format!("DROP INDEX IF EXISTS {name}"),
            _ => format!(
                "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {}",
                crate::map::ident(&name)
            ),
        };
        tx.batch_execute(&sql).await.map_err(q)?;
        n += 1;
    }
    tx.commit().await.map_err(q)?;
    Ok(format!(
        "; {n} of the target's indexes, constraints and triggers deferred"
    ))
}

/// `maintenance_work_mem` while recreating the team's definitions (1 GB).
const MAINTENANCE_KB: i64 = 1024 * 1024;

/// One saved definition: (table, kind, name, def, comment).
type Item = (String, String, String, String, Option<String>);

/// Where a saved object stands in the catalog now.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Missing,
    /// A constraint added NOT VALID by an earlier pass (or a killed run), still to validate.
    NotValid,
    Present,
}

/// Whether a saved definition says NOT VALID itself (the team's own constraint was not
/// validated): it is recreated as it was, and never validated.
fn born_not_valid(def: &str) -> bool {
    def.trim_end().ends_with("NOT VALID")
}

/// Where a saved object stands now.
async fn state(
    tx: &tokio_postgres::Transaction<'_>,
    item: &Item,
) -> std::result::Result<State, tokio_postgres::Error> {
    let (table, kind, name, def, _) = item;
    let present = |b: bool| if b { State::Present } else { State::Missing };
    Ok(match kind.as_str() {
        "index" => present(
            tx.query_one("SELECT to_regclass($1::text) IS NOT NULL", &[name])
                .await?
                .get(0),
        ),
        "trigger" => present(
            tx.query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = $1::text::regclass AND tgname = $2::text AND tgenabled::text = $3::text)",
                &[table, name, def],
            )
            .await?
            .get(0),
        ),
        _ => match tx
            .query_opt(
                "SELECT convalidated FROM pg_constraint WHERE conrelid = $1::text::regclass AND conname = $2::text",
                &[table, name],
            )
            .await?
            .map(|r| r.get::<_, bool>(0))
        {
            None => State::Missing,
            Some(false) if !born_not_valid(def) => State::NotValid,
            Some(_) => State::Present,
        },
    })
}

/// Create one saved object as it was (a foreign key `NOT VALID` when `not_valid`), with its
/// comment.
async fn create(
    tx: &tokio_postgres::Transaction<'_>,
    item: &Item,
    not_valid: bool,
) -> std::result::Result<(), tokio_postgres::Error> {
    let (table, kind, name, def, comment) = item;
    let qn = crate::map::ident(name);
    match kind.as_str() {
        "index" => tx.batch_execute(def).await?,
        "trigger" => {
            let how = match def.as_str() {
                "A" => "ENABLE ALWAYS",
                "R" => "ENABLE REPLICA",
                _ => "ENABLE",
            };
            tx.batch_execute(&format!("ALTER TABLE {table} {how} TRIGGER {qn}"))
                .await?
        }
        _ => {
            let suffix = if not_valid { " NOT VALID" } else { "" };
            tx.batch_execute(&format!(
                "ALTER TABLE {table} ADD CONSTRAINT {qn} {def}{suffix}"
            ))
            .await?
        }
    }
    if let (Some(text), false) = (comment, kind == "trigger") {
        let on = match kind.as_str() {
            "index" => format!("INDEX {name}"),
            _ => format!("CONSTRAINT {qn} ON {table}"),
        };
        let lit = format!("'{}'", text.replace('\'', "''"));
        tx.batch_execute(&format!("COMMENT ON {on} IS {lit}"))
            .await?;
    }
    Ok(())
}

/// Recreate one saved object if missing, or validate it if an earlier pass left it NOT VALID,
/// and forget it, in one transaction.
async fn restore_one(
    c: &mut tokio_postgres::Client,
    item: &Item,
) -> std::result::Result<(), tokio_postgres::Error> {
    let (table, kind, name, _, _) = item;
    let tx = c.transaction().await?;
    tx.batch_execute(&format!(
        "SET LOCAL maintenance_work_mem = '{MAINTENANCE_KB}kB'"
    ))
    .await?;
    match state(&tx, item).await? {
        State::Present => {}
        State::Missing => create(&tx, item, false).await?,
        State::NotValid => {
            // A foreign key's check joins the two tables: the same strategy and memory as
            // finseed's own keys get (probe the referenced index when it is the far larger
            // side, else hash in memory rather than in 4 MB batches spilled to disk).
            if let Some(r) = tx
                .query_opt(
                    "SELECT pg_relation_size(conrelid), pg_relation_size(confrelid),
                            pg_size_bytes(current_setting('work_mem')) / 1024,
                            coalesce(current_setting('max_parallel_workers_per_gather', true), '0')::bigint
                     FROM pg_constraint
                     WHERE conrelid = $1::text::regclass AND conname = $2::text AND contype = 'f'",
                    &[table, name],
                )
                .await?
            {
                let work = super::post::fk_work_kb(MAINTENANCE_KB, r.get(2), r.get(3));
                tx.batch_execute(&super::post::fk_settings(r.get(0), r.get(1), work))
                    .await?;
            }
            tx.batch_execute(&format!(
                "ALTER TABLE {table} VALIDATE CONSTRAINT {}",
                crate::map::ident(name)
            ))
            .await?
        }
    }
    tx.execute(
        "DELETE FROM finseed_deferred WHERE kind = $1 AND table_name = $2 AND name = $3",
        &[kind, table, name],
    )
    .await?;
    tx.commit().await
}

/// Add every missing foreign key of `items` NOT VALID, in one transaction, keeping them saved:
/// that takes SHARE ROW EXCLUSIVE on both tables of each key but reads no rows, so it is quick,
/// and the VALIDATE CONSTRAINT that follows needs only SHARE UPDATE EXCLUSIVE on the key's
/// table and ROW SHARE on the table it references, so keys of different tables validate at the
/// same time. A kill between the two leaves the key NOT VALID and still saved: the rerun
/// validates it.
async fn add_not_valid(
    c: &mut tokio_postgres::Client,
    items: &[Item],
) -> std::result::Result<(), tokio_postgres::Error> {
    let tx = c.transaction().await?;
    for item in items {
        if state(&tx, item).await? == State::Missing && !born_not_valid(&item.3) {
            create(&tx, item, true).await?;
        }
    }
    tx.commit().await
}

/// Run `groups` over `jobs` connections, largest first: the items of one group one after
/// another (they lock the same table), different groups at the same time.
async fn run_groups(cfg: &SeedConfig, groups: Vec<Vec<Item>>) -> Result<()> {
    let t = &cfg.target;
    let todo = Arc::new(groups);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..cfg.jobs.max(1).min(todo.len()) {
        let (todo, next, target) = (todo.clone(), next.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = connect(&target).await?;
            // A restore statement may run long (an index build, a validation): watched, like
            // finseed's own post-load steps, so a server that stops working on it is a stall
            // reported within the limit rather than a silent wait.
            let probe = super::stall::Probe::for_connection(
                &c,
                &target,
                "cannot read the connection's backend pid",
            )
            .await?;
            while let Some(group) = todo.get(next.fetch_add(1, Ordering::SeqCst)) {
                for item in group {
                    let what = format!("cannot recreate {} {} on {}", item.1, item.2, item.0);
                    super::stall::watch(
                        &target,
                        target.stall(),
                        &probe,
                        || format!("recreating {} {} on {}", item.1, item.2, item.0),
                        async {
                            restore_one(&mut c, item)
                                .await
                                .map_err(super::stall::LoadError::Pg)
                        },
                    )
                    .await
                    .map_err(|e| e.into_error(&target, &what))?;
                }
            }
            Ok::<(), Error>(())
        }));
    }
    join_all(tasks).await
}

/// Wait for every task; the first error wins (the others still finish, so no statement is left
/// running on a connection nobody waits for).
pub(super) async fn join_all(tasks: Vec<tokio::task::JoinHandle<Result<()>>>) -> Result<()> {
    let mut first = None;
    for task in tasks {
        let r = task
            .await
            .map_err(|e| Error::Failed(format!("task failed: {e}")))
            .and_then(|r| r);
        if let Err(e) = r {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

/// Group `items` by table (keeping their order within a table), the largest table first.
fn by_table(items: Vec<Item>, size: &std::collections::HashMap<String, i64>) -> Vec<Vec<Item>> {
    let mut groups: Vec<Vec<Item>> = Vec::new();
    for item in items {
        match groups.iter_mut().find(|g| g[0].0 == item.0) {
            Some(g) => g.push(item),
            None => groups.push(vec![item]),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(size.get(&g[0].0).copied().unwrap_or(0)));
    groups
}

/// Recreate the saved definitions a post-load step covers, as `pg_restore` would, in
/// parallel over `--jobs` connections where locks allow:
/// - primary_keys: keys, uniques and checks, one table per connection at a time (adding any
///   of them locks the table ACCESS EXCLUSIVE);
/// - foreign_keys: all missing keys added NOT VALID in one quick transaction, then validated,
///   one table per connection at a time (VALIDATE locks its own table SHARE UPDATE EXCLUSIVE,
///   which conflicts with itself, and the referenced table only ROW SHARE);
/// - indexes: triggers enabled, then every index on its own (CREATE INDEX takes SHARE, which
///   does not conflict with itself);
/// - analyze: anything still saved.
///
/// Returns "" when nothing was saved.
pub(super) async fn restore(cfg: &SeedConfig, step: &str) -> Result<String> {
    let t = &cfg.target;
    let mut c = connect(t).await?;
    let present: bool = c
        .query_typed_one("SELECT to_regclass('finseed_deferred') IS NOT NULL", &[])
        .await
        .map_err(|e| t.error("cannot inspect finseed_deferred", &e))?
        .get(0);
    if !present {
        return Ok(String::new());
    }
    let (lo, hi) = match step {
        "primary_keys" => (ORD_KEY, ORD_CHECK),
        "foreign_keys" => (ORD_FK, ORD_FK),
        "indexes" => (ORD_INDEX, ORD_TRIGGER),
        _ => (ORD_KEY, ORD_TRIGGER),
    };
    let rows = c
        .query_typed(
            "SELECT d.table_name, d.kind, d.name, d.def, d.comment, d.ord,
                    coalesce(pg_relation_size(to_regclass(d.table_name)), 0)
             FROM finseed_deferred d
             WHERE d.ord BETWEEN $1 AND $2 ORDER BY d.ord, d.table_name, d.name",
            &[(&lo, Type::INT4), (&hi, Type::INT4)],
        )
        .await
        .map_err(|e| t.error("cannot read finseed_deferred", &e))?;
    if rows.is_empty() {
        return Ok(String::new());
    }
    let n = rows.len();
    let mut size = std::collections::HashMap::new();
    let mut by_ord: Vec<(i32, Item)> = Vec::new();
    for r in &rows {
        size.insert(r.get::<_, String>(0), r.get::<_, i64>(6));
        by_ord.push((r.get(5), (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))));
    }
    let of = |ord: i32| -> Vec<Item> {
        by_ord
            .iter()
            .filter(|(o, _)| *o == ord)
            .map(|(_, i)| i.clone())
            .collect()
    };
    // Keys before checks before foreign keys before indexes and triggers: a foreign key needs
    // the key it references.
    let keys: Vec<Item> = of(ORD_KEY).into_iter().chain(of(ORD_CHECK)).collect();
    if !keys.is_empty() {
        run_groups(cfg, by_table(keys, &size)).await?;
    }
    let fks = of(ORD_FK);
    if !fks.is_empty() {
        add_not_valid(&mut c, &fks)
            .await
            .map_err(|e| t.error("cannot add the target's foreign keys NOT VALID", &e))?;
        run_groups(cfg, by_table(fks, &size)).await?;
    }
    // Triggers (catalog only) first, then the indexes, each on its own.
    let triggers = of(ORD_TRIGGER);
    if !triggers.is_empty() {
        run_groups(cfg, vec![triggers]).await?;
    }
    let mut indexes = of(ORD_INDEX);
    indexes.sort_by_key(|i| std::cmp::Reverse(size.get(&i.0).copied().unwrap_or(0)));
    if !indexes.is_empty() {
        run_groups(cfg, indexes.into_iter().map(|i| vec![i]).collect()).await?;
    }
    Ok(format!(
        "; {n} of the target's deferred definitions restored"
    ))
}
