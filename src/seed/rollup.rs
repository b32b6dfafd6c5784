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
use crate::error::Result;
use crate::schema::{rollup_statements, DERIVED_TABLES};
use tokio_postgres::types::Type;

/// The comment a derived table carries: what it was built from.
fn comment(transactions: i64) -> String {
    format!(
        "{}: rollup of {transactions} transactions, built by finseed's rollups step",
        own::MARKER
    )
}

pub async fn step(cfg: &SeedConfig) -> Result<String> {
    let target = &cfg.target;
    if !wanted_name(cfg, "transactions") {
        return Ok("skipped: transactions are not among --tables".into());
    }
    let mut c = connect(target).await?;
    let q = "cannot build the rollups";
    let mut done = Vec::new();
    for name in DERIVED_TABLES {
        let tx = target.ask(q, c.transaction()).await?;
        target
            .ask(q, tx.batch_execute("SET LOCAL lock_timeout = '60s'"))
            .await?;
        let ins = own::inspect(&tx, target).await?;
        own::refuse_blockers(&ins, target)?;
        let transactions: i64 = target
            .ask(
                q,
                tx.query_typed_one(
                    "SELECT coalesce(sum(rows), 0)::bigint FROM finseed_ledger WHERE table_name = 'transactions'",
                    &[],
                ),
            )
            .await?
            .get(0);
        let want = comment(transactions);
        if ins.owned.contains_key(name) {
            let have: Option<String> = target
                .ask(
                    q,
                    tx.query_typed_one(
                        "SELECT obj_description($1::text::regclass, 'pg_class')",
                        &[(&name, Type::TEXT)],
                    ),
                )
                .await?
                .get(0);
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
        target
            .ask(
                q,
                tx.batch_execute(&format!(
                    "COMMENT ON TABLE {name} IS '{}'",
                    want.replace('\'', "''")
                )),
            )
            .await?;
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
        let sql = format!("VACUUM (ANALYZE) {name}");
        watch(
            target,
            cfg.stall,
            &Probe::Statement(sql.clone()),
            || format!("waiting for the server to finish: {sql}"),
            async { c.batch_execute(&sql).await.map_err(LoadError::Pg) },
        )
        .await
        .map_err(|e| e.into_error(target, "cannot analyze"))?;
        done.push(format!(
            "{name}: {rows} rows from {transactions} transactions"
        ));
    }
    Ok(done.join("; "))
}

fn first_line(sql: &str) -> &str {
    sql.lines().next().unwrap_or(sql)
}
