//! The `rollups` step: the derived tables of `schemas/rollups.sql` (today `aggregated_analytics`,
//! the dashboard's daily rollups), built from the loaded transactions after the indexes.
//!
//! Each table is built in one transaction: drop finseed's previous build (only a table whose
//! OID finseed recorded), `CREATE TABLE … AS`, its index, its record in `finseed_owned` and a
//! comment naming how many transactions it was built from. A kill at any moment leaves either
//! the old table or the new one, never half of one; a rerun skips a table whose comment matches
//! the transactions the ledger holds now, and rebuilds it otherwise.

use super::stall::{watch, LoadError, Probe};
use super::{connect, own, wanted_name, SeedConfig};
use crate::error::Error;
use crate::error::Result;
use crate::schema::{rollup_statements, DERIVED_TABLES};
use crate::table::Layout;
use std::sync::{Arc, Mutex};
use tokio_postgres::types::Type;
use tokio_postgres::Client;

/// The comment a derived table carries: what it was built from.
fn comment(transactions: i64) -> String {
    format!(
        "{}: rollup of {transactions} transactions, built by finseed's rollups step",
        own::MARKER
    )
}

/// The comment of a partitioned derived table whose months are still being built.
fn building(transactions: i64) -> String {
    format!(
        "{}: rollup of {transactions} transactions, being built by finseed's rollups step",
        own::MARKER
    )
}

/// The ledger's transactions now: what the rollups are built from.
async fn ledger_transactions<C: tokio_postgres::GenericClient>(
    c: &C,
    target: &crate::db::Target,
    q: &str,
) -> Result<i64> {
    Ok(target
        .ask(
            q,
            c.query_typed_one(
                "SELECT coalesce(sum(rows), 0)::bigint FROM finseed_ledger WHERE table_name = 'transactions'",
                &[],
            ),
        )
        .await?
        .get(0))
}

/// The comment on finseed's derived table `name`.
async fn comment_of(
    tx: &tokio_postgres::Transaction<'_>,
    target: &crate::db::Target,
    q: &str,
    name: &str,
) -> Result<Option<String>> {
    Ok(target
        .ask(
            q,
            tx.query_typed_one(
                "SELECT obj_description($1::text::regclass, 'pg_class')",
                &[(&name, Type::TEXT)],
            ),
        )
        .await?
        .get(0))
}

/// Set the comment on `name` and record it as finseed's in `finseed_owned`.
async fn mark(
    tx: &tokio_postgres::Transaction<'_>,
    target: &crate::db::Target,
    q: &str,
    name: &str,
    comment: &str,
    record: bool,
) -> Result<()> {
    target
        .ask(
            q,
            tx.batch_execute(&format!(
                "COMMENT ON TABLE {name} IS '{}'",
                comment.replace('\'', "''")
            )),
        )
        .await?;
    if record {
        target
            .ask(
                q,
                tx.execute(
                    "INSERT INTO finseed_owned (rel_name, relid, kind) VALUES ($1::text, $1::text::regclass, 'table')
                     ON CONFLICT (rel_name) DO UPDATE SET relid = excluded.relid, kind = excluded.kind, created_at = now()",
                    &[&name],
                ),
            )
            .await?;
    }
    Ok(())
}

/// `sql` (a VACUUM or ANALYZE, outside any transaction) under the stall watchdog.
async fn maintain(
    c: &Client,
    target: &crate::db::Target,
    limit: std::time::Duration,
    sql: String,
) -> Result<()> {
    super::post::watched(c, target, limit, sql, "cannot analyze").await
}

/// The partitioned layout's build (`schemas/partitioned_rollups.sql`): the parent first (in
/// one transaction with its `finseed_owned` record and a "being built" comment), then each
/// month not yet attached, largest first, over `--jobs` connections, each in one transaction
/// that creates, fills, indexes and attaches it, followed by its `VACUUM`; last, the parent's
/// index (adopting the months'), the comment that marks the build complete, and the parent's
/// `ANALYZE` (which analyzes every month).
/// A kill leaves whole months attached; the rerun builds the others. A parent built from other
/// transactions (its comment says how many) is dropped and built again.
async fn monthly(cfg: &SeedConfig, c: &mut Client, name: &'static str) -> Result<String> {
    let target = &cfg.target;
    let q = "cannot build the rollups";
    let Some(sql) = crate::schema::partitioned_rollup(name) else {
        return Err(Error::Failed(format!(
            "no partitioned build of {name} in partitioned_rollups.sql"
        )));
    };
    let months = super::partition::months(&cfg.profile);
    let tx = target.ask(q, c.transaction()).await?;
    target
        .ask(q, tx.batch_execute("SET LOCAL lock_timeout = '60s'"))
        .await?;
    let ins = own::inspect(&tx, target).await?;
    own::refuse_blockers(&ins, target)?;
    let transactions = ledger_transactions(&tx, target, q).await?;
    let want = comment(transactions);
    let mut fresh = true;
    if ins.owned.contains_key(name) {
        let have = comment_of(&tx, target, q, name).await?;
        if have.as_deref() == Some(want.as_str()) {
            target.ask(q, tx.rollback()).await?;
            return Ok(format!(
                "{name} already built from {transactions} transactions"
            ));
        }
        if have.as_deref() == Some(building(transactions).as_str()) {
            fresh = false;
        } else {
            // finseed's own, built from other rows (a resumed or extended load), or not
            // partitioned: rebuilt.
            target
                .ask(q, tx.batch_execute(&format!("DROP TABLE {name}")))
                .await?;
        }
    }
    // Names of the months' tables held by something that is not this table's partition.
    let names: Vec<String> = months
        .iter()
        .map(|m| format!("{name}_{}", m.suffix))
        .collect();
    let found = target
        .ask(
            q,
            tx.query_typed(
                "SELECT c.relname::text, coalesce((SELECT i.inhparent = to_regclass($2) FROM pg_inherits i WHERE i.inhrelid = c.oid), false)
                 FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1)",
                &[(&names, Type::TEXT_ARRAY), (&name, Type::TEXT)],
            ),
        )
        .await?;
    let strangers: Vec<String> = found
        .iter()
        .filter(|r| !r.get::<_, bool>(1) || fresh)
        .map(|r| r.get(0))
        .collect();
    if !strangers.is_empty() {
        return Err(Error::Usage(format!(
            "{}: finseed needs the names {} for the months of its table {name}, but they hold relations that are not its partitions, so it will not touch them\n  fix: seed into another database or schema, or drop them yourself if you no longer need them: {}",
            target.shown,
            strangers.join(", "),
            strangers.iter().map(|s| format!("DROP TABLE {s};")).collect::<Vec<_>>().join(" ")
        )));
    }
    let attached: std::collections::HashSet<String> = found.iter().map(|r| r.get(0)).collect();
    if fresh {
        for s in &sql.parent {
            target.ask(q, tx.batch_execute(s)).await?;
        }
        mark(&tx, target, q, name, &building(transactions), true).await?;
    }
    // The months to build, largest first by their transactions partition (the last months of
    // the window hold the most), so the connections finish together.
    let sizes: std::collections::HashMap<String, i64> = target
        .ask(
            q,
            tx.query_typed(
                "SELECT n, coalesce(pg_relation_size(to_regclass(n)), 0) FROM unnest($1::text[]) AS n",
                &[(
                    &months.iter().map(|m| m.partition("transactions")).collect::<Vec<_>>(),
                    Type::TEXT_ARRAY,
                )],
            ),
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    target.ask(q, tx.commit()).await?;
    let mut todo: Vec<(i64, usize)> = months
        .iter()
        .enumerate()
        .filter(|(k, _)| !attached.contains(&names[*k]))
        .map(|(k, m)| {
            let size = sizes.get(&m.partition("transactions")).copied();
            (size.unwrap_or(0), k)
        })
        .collect();
    todo.sort();
    let built = todo.len();
    let todo = Arc::new(Mutex::new(todo));
    let months = Arc::new(months);
    let month_sql = Arc::new(sql.month);
    let mut tasks = Vec::new();
    let connections = cfg.jobs.clamp(1, built.max(1));
    // With months built side by side, each build's own parallel workers only crowd the cores
    // the other connections use: on transaction-flow, the 12 largest months' CREATE TABLE AS
    // over 2 connections on 2 cores took 17.87 and 15.93 s with 2 workers per build, 13.67 and
    // 9.16 s without (alternating). One connection keeps the server's workers.
    let workers = if connections > 1 {
        " SET LOCAL max_parallel_workers_per_gather = 0;"
    } else {
        ""
    };
    let settings =
        format!("SET LOCAL enable_hashagg = off;{workers} SET LOCAL lock_timeout = '60s'");
    for _ in 0..connections {
        let (todo, months, month_sql, target, settings) = (
            todo.clone(),
            months.clone(),
            month_sql.clone(),
            target.clone(),
            settings.clone(),
        );
        let limit = cfg.stall;
        tasks.push(tokio::spawn(async move {
            let mut c = connect(&target).await?;
            let mut rows = 0;
            loop {
                let next = todo.lock().unwrap_or_else(|e| e.into_inner()).pop();
                let Some((_, k)) = next else { break };
                rows += build_month(
                    &mut c, &target, limit, name, &months[k], &month_sql, &settings,
                )
                .await?;
            }
            Ok::<u64, Error>(rows)
        }));
    }
    let rows = super::join_tasks(tasks, "rollup").await?;
    let tx = target.ask(q, c.transaction()).await?;
    target
        .ask(q, tx.batch_execute("SET LOCAL lock_timeout = '60s'"))
        .await?;
    for s in &sql.index {
        let exists: bool = target
            .ask(
                q,
                tx.query_typed_one(
                    "SELECT to_regclass($1) IS NOT NULL",
                    &[(&index_name(s), Type::TEXT)],
                ),
            )
            .await?
            .get(0);
        if !exists {
            target.ask(q, tx.batch_execute(s)).await?;
        }
    }
    // Still the same transactions (a load cannot run beside this step: the seed lock).
    let now = ledger_transactions(&tx, target, q).await?;
    if now != transactions {
        return Err(Error::Failed(format!(
            "the transactions changed while {name} was built ({transactions} then {now} rows); run the rollups step again"
        )));
    }
    mark(&tx, target, q, name, &want, false).await?;
    // The rows: those built now, counted where months were built by an earlier run.
    let total: i64 = if built == names.len() {
        rows as i64
    } else {
        target
            .ask(
                q,
                tx.query_typed_one(&format!("SELECT count(*) FROM {name}"), &[]),
            )
            .await?
            .get(0)
    };
    target.ask(q, tx.commit()).await?;
    // The parent's statistics and every month's (ANALYZE of a partitioned table recurses).
    maintain(c, target, cfg.stall, format!("ANALYZE {name}")).await?;
    Ok(format!(
        "{name}: {total} rows from {transactions} transactions, by month ({built} of {} months built now)",
        names.len()
    ))
}

/// The index a `CREATE INDEX name ON …` statement makes.
fn index_name(stmt: &str) -> String {
    stmt.split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string()
}

/// One month of a partitioned derived table, in one transaction, then its `VACUUM`.
/// Returns its rows.
async fn build_month(
    c: &mut Client,
    target: &crate::db::Target,
    limit: std::time::Duration,
    name: &str,
    m: &super::partition::Month,
    sql: &[String],
    settings: &str,
) -> Result<u64> {
    let part = format!("{name}_{}", m.suffix);
    let q = format!("cannot build {part}");
    let fill = |s: &str| {
        s.replace("{month}", &m.suffix)
            .replace("{from}", &crate::civil::date_string(m.first_day))
            .replace("{to}", &crate::civil::date_string(m.next_day))
    };
    let tx = target.ask(&q, c.transaction()).await?;
    // See `step`: sorting, not hashing, for a rollup with nearly a group per row. The attach
    // waits for another month's attach to commit (both lock the parent), never longer.
    target.ask(&q, tx.batch_execute(settings)).await?;
    let probe = Probe::for_connection(&tx, target, &q).await?;
    let mut rows = 0;
    for (k, s) in sql.iter().enumerate() {
        let s = fill(s);
        let n = watch(
            target,
            limit,
            &probe,
            || format!("building {part}: {}", first_line(&s)),
            async { tx.execute(s.as_str(), &[]).await.map_err(LoadError::Pg) },
        )
        .await
        .map_err(|e| e.into_error(target, &q))?;
        if k == 0 {
            rows = n;
        }
    }
    target.ask(&q, tx.commit()).await?;
    // The visibility map for index-only reads. No ANALYZE here: the parent's ANALYZE at the
    // end analyzes every month anyway (PostgreSQL 15 recurses into the partitions), so
    // analyzing each month here too did that work twice.
    maintain(c, target, limit, format!("VACUUM {part}")).await?;
    Ok(rows)
}

pub async fn step(cfg: &SeedConfig) -> Result<String> {
    let target = &cfg.target;
    if !wanted_name(cfg, "transactions") {
        return Ok("skipped: transactions are not among --tables".into());
    }
    let mut c = connect(target).await?;
    let q = "cannot build the rollups";
    let mut done = Vec::new();
    if super::partition::layout_of(&c, target).await? == Layout::Partitioned {
        for name in DERIVED_TABLES {
            done.push(monthly(cfg, &mut c, name).await?);
        }
        return Ok(done.join("; "));
    }
    for name in DERIVED_TABLES {
        let tx = target.ask(q, c.transaction()).await?;
        target
            .ask(q, tx.batch_execute("SET LOCAL lock_timeout = '60s'"))
            .await?;
        let ins = own::inspect(&tx, target).await?;
        own::refuse_blockers(&ins, target)?;
        let transactions = ledger_transactions(&tx, target, q).await?;
        let want = comment(transactions);
        if ins.owned.contains_key(name) {
            let have = comment_of(&tx, target, q, name).await?;
            if have.as_deref() == Some(want.as_str()) {
                target.ask(q, tx.rollback()).await?;
                done.push(format!(
                    "{name} already built from {transactions} transactions"
                ));
                continue;
            }
            // finseed's own, built from other rows (a resumed or extended load): rebuilt.
            target
                .ask(q, tx.batch_execute(&format!("DROP TABLE {name}")))
                .await?;
        }
        // The rollup has nearly one group per transaction (README: 8.9M groups from 10M rows),
        // while the planner, from the per-column statistics, expects about a tenth of that.
        // It then picks a hash aggregate that spills to 64 partitions on disk and sorts its
        // output for the ORDER BY afterwards. Sorting first (in the parallel workers) and
        // aggregating the sorted runs does one sort, already in the order the table is written
        // in: on `transaction-flow` the build took 18.5 s with the hash aggregate and 11.8 s
        // without, whatever work_mem (4 MB to 512 MB; more memory only made hashing slower).
        // SET LOCAL: only this transaction, so it holds through a transaction-mode pooler.
        target
            .ask(q, tx.batch_execute("SET LOCAL enable_hashagg = off"))
            .await?;
        let probe = Probe::for_connection(&tx, target, q).await?;
        for sql in rollup_statements(name) {
            watch(
                target,
                cfg.stall,
                &probe,
                || format!("building {name}: {}", first_line(&sql)),
                async { tx.batch_execute(&sql).await.map_err(LoadError::Pg) },
            )
            .await
            .map_err(|e| e.into_error(target, &format!("cannot build {name}")))?;
        }
        mark(&tx, target, q, name, &want, true).await?;
        let rows: i64 = target
            .ask(
                q,
                tx.query_typed_one(&format!("SELECT count(*) FROM {name}"), &[]),
            )
            .await?
            .get(0);
        target.ask(q, tx.commit()).await?;
        // Statistics and the visibility map for the dashboard's index-only reads; outside the
        // build's transaction (VACUUM cannot run in one), so a kill here costs only this.
        maintain(&c, target, cfg.stall, format!("VACUUM (ANALYZE) {name}")).await?;
        done.push(format!(
            "{name}: {rows} rows from {transactions} transactions"
        ));
    }
    Ok(done.join("; "))
}

fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or(sql)
}
