//! `finseed plan`: rows, bytes and disk per table, and the estimated load time on this
//! machine, before anyone commits to loading 100M rows.

use crate::encode::binary::Binary;
use crate::encode::ColType;
use crate::error::{Error, Result};
use crate::gen::{Group, Out};
use crate::model::World;
use crate::pipeline::{ordered, produce, Buffers};
use crate::profile::Profile;
use serde::Serialize;

/// Rows per second one core of PostgreSQL ingests over binary COPY on this class of machine
/// (shared/anchors.md: ~1.05M rows/s on 2 cores for 12-column transaction rows).
pub const INGEST_ROWS_PER_CORE: f64 = 500_000.0;

#[derive(Serialize, Debug)]
pub struct TablePlan {
    pub table: String,
    pub rows: u64,
    pub copy_bytes: u64,
    pub heap_bytes: u64,
    pub index_bytes: u64,
}

#[derive(Serialize, Debug)]
pub struct Plan {
    pub profile: String,
    pub tables: Vec<TablePlan>,
    pub total_rows: u64,
    pub disk_bytes: u64,
    pub load_seconds: f64,
    pub index_seconds: f64,
}

/// Index entries per row of each table (keys, unique constraints and indexes in post_load.sql).
fn index_width(table: &str) -> (u32, u64) {
    // (indexes, approximate bytes per entry including tuple overhead)
    match table {
        "users" => (3, 40),
        "contexts" => (2, 24),
        "context_members" => (2, 24),
        "categories" => (3, 24),
        "budgets" => (1, 32),
        "transactions" => (4, 28),
        "transaction_splits" => (2, 28),
        "ai_insights" => (3, 28),
        _ => (1, 24),
    }
}

pub fn plan(profile: Profile, threads: usize, jobs: usize) -> Result<Plan> {
    let world = World::new(profile);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Failed(format!("cannot start threads: {e}")))?;
    let mut tables = Vec::new();
    for group in Group::ALL {
        let specs = group.tables();
        let chunks = group.chunks(&world);
        // Exact row counts: generate without encoding.
        let mut rows = vec![0u64; specs.len()];
        ordered(
            &pool,
            0..chunks,
            threads + 2,
            |c| {
                let mut outs: Vec<Out<Binary>> =
                    specs.iter().map(|_| Out { enc: None, rows: 0 }).collect();
                group.fill(&world, c, &mut outs);
                outs.iter().map(|o| o.rows).collect::<Vec<_>>()
            },
            |r| {
                for (a, b) in rows.iter_mut().zip(r) {
                    *a += b;
                }
                Ok(())
            },
        )?;
        // Bytes per row from a sample of up to 8 chunks spread over the group.
        let sample: Vec<u64> = if chunks <= 8 {
            (0..chunks).collect()
        } else {
            (0..8).map(|i| i * chunks / 8).collect()
        };
        let bufs = Buffers::default();
        let mut sample_bytes = vec![0u64; specs.len()];
        let mut sample_rows = vec![0u64; specs.len()];
        for &c in &sample {
            let p = produce::<Binary>(&world, group, c, &vec![true; specs.len()], &bufs);
            for (i, (b, n)) in p.tables.iter().enumerate() {
                sample_bytes[i] += b.len() as u64;
                sample_rows[i] += n;
            }
        }
        for (i, t) in specs.iter().enumerate() {
            let per_row = if sample_rows[i] > 0 {
                sample_bytes[i] as f64 / sample_rows[i] as f64
            } else {
                0.0
            };
            // On disk: data less COPY's length words and field count, plus a 24-byte tuple
            // header, a 4-byte line pointer and alignment; pages are ~90% full after COPY.
            let fixed: usize = t
                .columns
                .iter()
                .filter(|c| !matches!(c.ty, ColType::Text | ColType::Char(_)))
                .count();
            let data = (per_row - 2.0 - 4.0 * t.columns.len() as f64 + fixed as f64).max(8.0);
            let heap = rows[i] as f64 * (data + 28.0 + 4.0) / 0.9;
            let (n_ix, w) = index_width(t.name);
            tables.push(TablePlan {
                table: t.name.to_string(),
                rows: rows[i],
                copy_bytes: (rows[i] as f64 * per_row) as u64,
                heap_bytes: heap as u64,
                index_bytes: rows[i] * n_ix as u64 * w * 10 / 9,
            });
        }
    }
    let total_rows: u64 = tables.iter().map(|t| t.rows).sum();
    let disk: u64 = tables.iter().map(|t| t.heap_bytes + t.index_bytes).sum();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let ingest = INGEST_ROWS_PER_CORE * (jobs as f64).min(cores).max(1.0);
    Ok(Plan {
        profile: world.profile.name.clone(),
        total_rows,
        disk_bytes: disk,
        load_seconds: total_rows as f64 / ingest,
        // Index builds sort about 2M entries per second per core here.
        index_seconds: tables
            .iter()
            .map(|t| t.rows as f64 * index_width(&t.table).0 as f64)
            .sum::<f64>()
            / (2_000_000.0 * cores),
        tables,
    })
}
