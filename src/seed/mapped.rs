//! `seed --map`: the parts of a seed that differ when loading into the team's own tables.
//! finseed creates, alters and drops none of them; with `--defer-constraints` it drops their
//! own indexes and constraints and disables their triggers for the load, after saving every
//! definition in its state table `finseed_deferred`, and recreates them afterwards (see
//! [`defer`] and [`restore`]).

use super::{connect, SeedConfig, TableReport};
use crate::encode::mapped::Mapped;
use crate::error::{Error, Result};
use crate::gen::Group;
use crate::map::{ident, Compiled};
use crate::model::World;
use crate::pipeline::{produce_with, Buffers, Produced};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio_postgres::types::Type;

/// Flags that change finseed's own tables, which a map does not use.
pub(super) fn refuse_flags(cfg: &SeedConfig) -> Result<()> {
    if cfg.fresh {
        return Err(Error::Usage(
            "--fresh with --map: finseed drops no table of a mapped schema (they are yours)\n  fix: leave out --fresh; to start over, empty the target tables yourself and DELETE FROM finseed_ledger".into(),
        ));
    }
    if cfg.unlogged {
        return Err(Error::Usage(
            "--unlogged with --map: finseed does not alter the mapped tables (they are yours)\n  fix: leave out --unlogged".into(),
        ));
    }
    Ok(())
}

/// The COPY statement of each table of `group`: the map's, or finseed's own.
pub(super) fn copy_statements(
    group: Group,
    layout: crate::table::Layout,
    plans: Option<&Arc<Compiled>>,
) -> Vec<String> {
    group
        .tables_in(layout)
        .iter()
        .map(|t| match plans.and_then(|p| p.plan(t.name)) {
            Some(p) => p.copy_sql(),
            None => {
                let cols: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
                format!(
                    "COPY {} ({}) FROM STDIN (FORMAT binary)",
                    t.name,
                    cols.join(", ")
                )
            }
        })
        .collect()
}

/// Generate one chunk as binary COPY into the map's target columns.
pub(super) fn produce(
    plans: &Compiled,
    world: &World,
    group: Group,
    chunk: u64,
    wanted: &[bool],
    bufs: &Buffers,
) -> Produced {
    produce_with(world, group, chunk, wanted, bufs, |t, b| {
        Mapped::copy(
            plans
                .plan(t.name)
                .expect("wanted tables are mapped")
                .clone(),
            b,
        )
    })
}

/// A post-load step with a map: the team's own keys and indexes are theirs; with saved
/// definitions (`--defer-constraints`, or a run of it that was interrupted) they are restored.
pub(super) async fn post_step(
    cfg: &SeedConfig,
    step: &str,
    plans: Option<&Compiled>,
) -> Result<String> {
    let plans = plans.expect("compiled with the map");
    let restored = super::defer::restore(cfg, step).await?;
    if step == "analyze" {
        analyze(cfg, plans).await?;
        return Ok(format!(
            "{} mapped tables analyzed{restored}",
            plans.plans.len()
        ));
    }
    Ok(match restored.is_empty() {
        true => "with --map: the target's own keys, indexes and triggers stay as they are".into(),
        false => restored.trim_start_matches("; ").to_string(),
    })
}

/// ANALYZE the mapped tables over `--jobs` connections, the largest first (ANALYZE locks its
/// table SHARE UPDATE EXCLUSIVE, so different tables go at the same time).
async fn analyze(cfg: &SeedConfig, plans: &Compiled) -> Result<()> {
    let c = connect(&cfg.target).await?;
    let mut todo = Vec::new();
    for p in &plans.plans {
        let name = ident(&p.target);
        let size: i64 = c
            .query_typed_one(
                "SELECT pg_relation_size($1::text::regclass)",
                &[(&name, Type::TEXT)],
            )
            .await
            .map_err(|e| cfg.target.error("cannot read table sizes", &e))?
            .get(0);
        todo.push((size, name));
    }
    drop(c);
    todo.sort_by(|a, b| b.cmp(a));
    let todo = Arc::new(todo);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..cfg.jobs.max(1).min(todo.len()) {
        let (todo, next, target) = (todo.clone(), next.clone(), cfg.target.clone());
        tasks.push(tokio::spawn(async move {
            let c = connect(&target).await?;
            while let Some((_, name)) = todo.get(next.fetch_add(1, Ordering::SeqCst)) {
                c.batch_execute(&format!("ANALYZE {name}"))
                    .await
                    .map_err(|e| target.error(&format!("cannot analyze {name}"), &e))?;
            }
            Ok::<(), Error>(())
        }));
    }
    super::defer::join_all(tasks).await
}

/// Rows finseed loaded (from its ledger) and the size of each mapped target table.
pub(super) async fn table_reports(cfg: &SeedConfig, plans: &Compiled) -> Result<Vec<TableReport>> {
    let c = connect(&cfg.target).await?;
    let mut out = Vec::new();
    for p in &plans.plans {
        let row = c
            .query_typed_one(
                "SELECT coalesce((SELECT sum(rows) FROM finseed_ledger WHERE table_name = $1), 0)::bigint,
                        pg_total_relation_size($2::text::regclass)",
                &[(&p.table.name, Type::TEXT), (&ident(&p.target), Type::TEXT)],
            )
            .await
            .map_err(|e| cfg.target.error("cannot read table sizes", &e))?;
        out.push(TableReport {
            table: p.target.clone(),
            rows_loaded: row.get::<_, i64>(0) as u64,
            bytes: row.get(1),
        });
    }
    Ok(out)
}
