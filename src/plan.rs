//! `finseed plan`: rows, bytes and disk per table, and the estimated time of each seed step on
//! this machine, before anyone commits to loading 100M rows.
//!
//! Nothing of the dataset itself is generated: row counts come from the profile's volumes, and
//! the rows per parent of the derived tables (members per context, budgets per context, splits
//! per transaction) and the encoded width of every table's rows come from a small sample: the
//! same profile scaled down to at most a few hundred thousand rows (fixed work at any scale).
//! Times come from per-row and per-byte costs measured on this class of machine (2 cores,
//! PostgreSQL 15, the embedded cluster's settings); `bench/plan_accuracy.sh` prints the estimate
//! beside a real seed of `small` and `transaction-flow`.

use crate::encode::binary::Binary;
use crate::encode::ColType;
use crate::error::Result;
use crate::gen::Group;
use crate::model::World;
use crate::pipeline::{produce, Buffers};
use crate::profile::Profile;
use serde::Serialize;

// Calibration: `bench/plan_accuracy.sh` on `small` and `transaction-flow` into the embedded
// cluster on an otherwise idle 2-core machine (2026-11-28: the previous constants, set while
// other builds ran, overestimated by about 3x: actual/estimate 0.26-0.41). The rates put an idle
// machine's seed at about 0.8 of the estimate, so a machine busy with other work (up to 2.5x
// slower) still falls within 2x for the load and for keys plus indexes.

/// Binary COPY bytes per second one loading connection sustains, client generation and
/// encoding included.
pub const LOAD_BYTES_PER_SEC: f64 = 24e6;
/// Seconds per heap byte a statement spends scanning a table (index builds, key checks).
const SCAN_SECS_PER_BYTE: f64 = 0.56e-9;
/// Seconds per entry of a primary key or unique index build (sort and write).
const KEY_SECS_PER_ROW: f64 = 0.88e-6;
/// Seconds per row of a foreign key check (child and parent sides of the validating join).
const FK_SECS_PER_ROW: f64 = 0.72e-6;
/// Seconds per entry of a secondary index build (two builds share the machine's two cores).
const INDEX_SECS_PER_ROW: f64 = 1.7e-6;
/// `VACUUM (ANALYZE)` of one table: a fixed part (ANALYZE reads a 30,000-row sample) and a
/// part per heap byte (VACUUM scans the table).
const ANALYZE_SECS_PER_TABLE: f64 = 0.25;
const VACUUM_SECS_PER_BYTE: f64 = 1.5e-9;

/// The rollups step: seconds per transaction aggregated into `aggregated_analytics` (scan,
/// hash or sort by key, write), besides the scan itself.
const ROLLUP_SECS_PER_ROW: f64 = 0.6e-6;
/// Heap bytes per `aggregated_analytics` row (six columns, tuple header and line pointer).
const ROLLUP_ROW_BYTES: f64 = 76.0;

/// The sample world's size limits, in parent rows per group: building a world costs time and
/// memory in proportion to its contexts.
/// Transactions are limited too: insights are computed from each context's rows, so a
/// profile with many transactions per context would otherwise make the sample as slow as the
/// dataset (9e9 transactions took over a minute).
const SAMPLE_LIMITS: [(Group, u64); 4] = [
    (Group::Users, 50_000),
    (Group::Contexts, 50_000),
    (Group::Categories, 50_000),
    (Group::Transactions, 2_000_000),
];
/// Chunks generated per group, spread evenly over the group (a transactions chunk is 100,000
/// rows): spreading them weighs contexts by their activity, as the whole dataset does.
const SAMPLE_CHUNKS: u64 = 4;

#[derive(Serialize, Debug)]
pub struct TablePlan {
    pub table: String,
    pub rows: u64,
    pub copy_bytes: u64,
    pub heap_bytes: u64,
    pub index_bytes: u64,
}

#[derive(Serialize, Debug)]
pub struct StepPlan {
    pub step: String,
    pub seconds: f64,
}

#[derive(Serialize, Debug)]
pub struct Plan {
    pub profile: String,
    pub tables: Vec<TablePlan>,
    pub total_rows: u64,
    pub disk_bytes: u64,
    /// The load step.
    pub load_seconds: f64,
    /// primary_keys + foreign_keys + indexes.
    pub index_seconds: f64,
    /// Every step, in the order `seed` runs them.
    pub steps: Vec<StepPlan>,
    pub total_seconds: f64,
    pub jobs: usize,
    /// Rows generated for the sample the widths and ratios come from.
    pub sample_rows: u64,
    /// With `--map` and a database to read the targets from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map: Option<MapEstimate>,
    pub layout: crate::table::Layout,
    /// How the layout's large tables load, and when.
    pub load_path: String,
}

/// Parent rows of each group for a profile, from its volumes alone.
fn parents(p: &Profile, g: Group) -> u64 {
    let v = &p.volume;
    match g {
        Group::Users => v.users,
        Group::Contexts | Group::Budgets => v.contexts,
        Group::Categories => v
            .categories
            .max(crate::vocab::system_category_count() as u64),
        Group::Transactions => v.transactions,
        Group::Insights => v.ai_insights,
    }
}

/// The profile scaled down so every group fits the sample limits.
fn sample_profile(p: &Profile) -> Result<Profile> {
    let f = SAMPLE_LIMITS
        .iter()
        .map(|&(g, limit)| {
            let n = parents(p, g);
            if n > limit {
                limit as f64 / n as f64
            } else {
                1.0
            }
        })
        .fold(1.0f64, f64::min);
    let mut s = if f < 1.0 {
        p.clone().scaled(f)?
    } else {
        p.clone()
    };
    // The hash has the same length at any cost; the sample need not pay for a slow one.
    s.bcrypt_cost = 4;
    Ok(s)
}

/// `secs` as "850 ms", "12 s", "3 min 20 s", "2 h 5 min".
pub fn duration(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.0} ms", secs * 1000.0)
    } else if secs < 60.0 {
        format!("{secs:.1} s")
    } else if secs < 3600.0 {
        format!("{} min {} s", (secs / 60.0) as u64, (secs % 60.0) as u64)
    } else {
        format!(
            "{} h {} min",
            (secs / 3600.0) as u64,
            ((secs % 3600.0) / 60.0) as u64
        )
    }
}

/// Index entries per row of each table and their approximate bytes (tuple overhead included).
fn index_width(table: &str) -> (u32, u64) {
    match table {
        "users" => (3, 40),
        "contexts" => (2, 24),
        "context_members" => (2, 24),
        "categories" => (3, 24),
        "budgets" => (1, 32),
        "transactions" => (4, 28),
        "transaction_splits" => (2, 28),
        "ai_insights" => (3, 28),
        "aggregated_analytics" => (1, 28),
        _ => (1, 24),
    }
}

pub fn plan(profile: &Profile, jobs: usize) -> Result<Plan> {
    let sample = sample_profile(profile)?;
    let world = World::new(sample);
    let bufs = Buffers::default();
    let mut tables = Vec::new();
    let mut sample_total = 0u64;
    // Distinct rollup keys and transactions in the sampled transactions chunks.
    let (mut rollup_keys, mut rollup_txs) = (0u64, 0u64);
    for group in Group::ALL {
        let specs = group.tables();
        let mut bytes = vec![0u64; specs.len()];
        let mut rows = vec![0u64; specs.len()];
        let chunks = group.chunks(&world);
        let picked: Vec<u64> = if chunks <= SAMPLE_CHUNKS {
            (0..chunks).collect()
        } else {
            (0..SAMPLE_CHUNKS)
                .map(|i| i * chunks / SAMPLE_CHUNKS)
                .collect()
        };
        let sample_parents: u64 = picked
            .iter()
            .map(|&c| {
                let r = group.chunk_ids(&world, c);
                r.end - r.start
            })
            .sum();
        if group == Group::Transactions {
            for &c in &picked {
                let (k, n) = rollup_sample(&world, c);
                rollup_keys += k;
                rollup_txs += n;
            }
        }
        for &c in &picked {
            let p = produce::<Binary>(&world, group, c, &vec![true; specs.len()], &bufs);
            for (i, (b, n)) in p.tables.iter().enumerate() {
                bytes[i] += b.len() as u64;
                rows[i] += n;
            }
        }
        sample_total += rows.iter().sum::<u64>();
        let full_parents = parents(profile, group);
        for (i, t) in specs.iter().enumerate() {
            // A group's first table has one row per parent (budgets excepted: a context may
            // keep none); the others a measured number per parent.
            let n = if i == 0 && group != Group::Budgets {
                full_parents
            } else if sample_parents == 0 {
                0
            } else {
                (full_parents as f64 * rows[i] as f64 / sample_parents as f64).round() as u64
            };
            let per_row = if rows[i] > 0 {
                bytes[i] as f64 / rows[i] as f64
            } else {
                0.0
            };
            // On disk: data less COPY's length words and field count, plus a 24-byte tuple
            // header, a 4-byte line pointer and alignment; pages are ~90% full after COPY.
            let fixed = t
                .columns
                .iter()
                .filter(|c| !matches!(c.ty, ColType::Text | ColType::Char(_)))
                .count();
            let data = (per_row - 2.0 - 4.0 * t.columns.len() as f64 + fixed as f64).max(8.0);
            let heap = n as f64 * (data + 28.0 + 4.0) / 0.9;
            let (n_ix, w) = index_width(t.name);
            tables.push(TablePlan {
                table: t.name.to_string(),
                rows: n,
                copy_bytes: (n as f64 * per_row) as u64,
                heap_bytes: heap as u64,
                index_bytes: n.saturating_mul(n_ix as u64).saturating_mul(w) / 9 * 10,
            });
        }
    }
    // The rollups step's table: built in the database, not loaded (no COPY bytes).
    let txs = tables
        .iter()
        .find(|t| t.table == "transactions")
        .map_or((0, 0), |t| (t.rows, t.heap_bytes));
    let rollup_rows = if rollup_txs == 0 {
        0
    } else {
        (txs.0 as f64 * rollup_keys as f64 / rollup_txs as f64).round() as u64
    };
    let (n_ix, w) = index_width("aggregated_analytics");
    tables.push(TablePlan {
        table: "aggregated_analytics".into(),
        rows: rollup_rows,
        copy_bytes: 0,
        heap_bytes: (rollup_rows as f64 * ROLLUP_ROW_BYTES / 0.9) as u64,
        index_bytes: rollup_rows * n_ix as u64 * w / 9 * 10,
    });
    let rollup_seconds = txs.1 as f64 * SCAN_SECS_PER_BYTE
        + txs.0 as f64 * ROLLUP_SECS_PER_ROW
        + rollup_rows as f64 * INDEX_SECS_PER_ROW;
    let total_rows: u64 = tables.iter().map(|t| t.rows).sum();
    let disk: u64 = tables.iter().map(|t| t.heap_bytes + t.index_bytes).sum();
    let workers = jobs.min(crate::cli::cores()).max(1);
    let copy: u64 = tables.iter().map(|t| t.copy_bytes).sum();
    let load = copy as f64 / (LOAD_BYTES_PER_SEC * workers as f64);
    let steps = vec![
        StepPlan {
            step: "create".into(),
            seconds: 0.05,
        },
        StepPlan {
            step: "load".into(),
            seconds: load,
        },
        StepPlan {
            step: "primary_keys".into(),
            seconds: post_load_seconds(&tables, "primary_keys", workers),
        },
        StepPlan {
            step: "foreign_keys".into(),
            seconds: post_load_seconds(&tables, "foreign_keys", workers),
        },
        StepPlan {
            step: "indexes".into(),
            seconds: post_load_seconds(&tables, "indexes", workers),
        },
        StepPlan {
            step: "rollups".into(),
            seconds: rollup_seconds,
        },
        StepPlan {
            step: "analyze".into(),
            seconds: tables
                .iter()
                .map(|t| ANALYZE_SECS_PER_TABLE + t.heap_bytes as f64 * VACUUM_SECS_PER_BYTE)
                .sum(),
        },
    ];
    let index_seconds = steps[2].seconds + steps[3].seconds + steps[4].seconds;
    Ok(Plan {
        profile: profile.name.clone(),
        total_rows,
        disk_bytes: disk,
        load_seconds: load,
        index_seconds,
        total_seconds: steps.iter().map(|s| s.seconds).sum(),
        steps,
        jobs,
        sample_rows: sample_total,
        tables,
        map: None,
        layout: profile.layout,
        load_path: load_path(profile),
    })
}

/// How `seed` will load the layout's transactions and splits.
pub fn load_path(p: &Profile) -> String {
    match p.layout {
        crate::table::Layout::Plain => {
            "plain layout: chunk by chunk over binary COPY, each chunk one transaction (resumable per chunk)".into()
        }
        crate::table::Layout::Partitioned => format!(
            "partitioned layout ({} months, {} partitions): frozen (each month created, loaded with COPY FREEZE and attached in one transaction, no WAL; resumable per partition) when the server's wal_level is minimal, as on finseed's own cluster, and without --shard; otherwise chunk by chunk into attached partitions (resumable per chunk); times above are estimated as for the plain layout",
            p.months,
            2 * p.months
        ),
    }
}

/// Distinct `aggregated_analytics` keys (context, category, day, type) among the transactions
/// of one chunk, and the chunk's transactions. Cancelled transactions count too (their status
/// is drawn with the rest of the row), so the estimate is an upper bound by their share, a few
/// percent; a context cut by the chunk's edge is counted in both chunks.
fn rollup_sample(w: &World, chunk: u64) -> (u64, u64) {
    let ids = Group::Transactions.chunk_ids(w, chunk);
    if ids.is_empty() {
        return (0, 0);
    }
    let n = ids.end - ids.start;
    let mut keys = std::collections::HashSet::new();
    let mut ctx_id = w.context_of_tx(ids.start);
    let mut c = w.context(ctx_id);
    for id in ids {
        while id >= c.tx_first + c.tx_count {
            ctx_id += 1;
            c = w.context(ctx_id);
        }
        let core = w.tx_core(&c, id);
        keys.insert((
            ctx_id,
            core.category_id,
            core.day,
            w.subs[core.sub].kind.as_str(),
        ));
    }
    (keys.len() as u64, n)
}

/// Time of one post-load step: its statements' costs, scheduled as `seed` runs them (each
/// connection takes the next statement). Statements that lock the same table exclusively
/// (ALTER TABLE) wait for each other; foreign keys lock both tables, so in practice they run
/// one at a time.
fn post_load_seconds(tables: &[TablePlan], step: &str, workers: usize) -> f64 {
    let find = |name: &str| tables.iter().find(|t| t.table == name);
    let mut costs: Vec<(String, f64)> = Vec::new();
    for stmt in crate::schema::post_load_step(step) {
        let words: Vec<&str> = stmt.split_whitespace().collect();
        let (table, cost) = if let Some(i) = words.iter().position(|w| *w == "ON") {
            let Some(t) = words.get(i + 1).and_then(|n| find(n)) else {
                continue;
            };
            let cost =
                t.rows as f64 * INDEX_SECS_PER_ROW + t.heap_bytes as f64 * SCAN_SECS_PER_BYTE;
            (t.table.clone(), cost)
        } else {
            let Some(t) = words.get(2).and_then(|n| find(n)) else {
                continue;
            };
            let cost = if stmt.contains("FOREIGN KEY") {
                let parent_rows = stmt
                    .split("REFERENCES ")
                    .nth(1)
                    .and_then(|s| s.split_whitespace().next())
                    .and_then(find)
                    .map_or(0, |p| p.rows);
                (t.rows + parent_rows) as f64 * FK_SECS_PER_ROW
                    + t.heap_bytes as f64 * SCAN_SECS_PER_BYTE
            } else {
                t.rows as f64 * KEY_SECS_PER_ROW + t.heap_bytes as f64 * SCAN_SECS_PER_BYTE
            };
            let lock = if stmt.contains("FOREIGN KEY") {
                "foreign keys".to_string()
            } else {
                t.table.clone()
            };
            (lock, cost)
        };
        costs.push((table, cost));
    }
    // List scheduling: each statement goes to the first free connection, after any earlier
    // statement holding the same lock (CREATE INDEX takes a shared lock: no wait).
    let mut free = vec![0.0f64; workers];
    let mut lock_free: Vec<(String, f64)> = Vec::new();
    let exclusive = step != "indexes";
    for (lock, cost) in costs {
        let (w, at) = free
            .iter()
            .copied()
            .enumerate()
            .fold((0, f64::MAX), |a, (i, t)| if t < a.1 { (i, t) } else { a });
        let after = if exclusive {
            lock_free
                .iter()
                .find(|(l, _)| *l == lock)
                .map_or(0.0, |(_, t)| *t)
        } else {
            0.0
        };
        let end = at.max(after) + cost;
        free[w] = end;
        if exclusive {
            match lock_free.iter_mut().find(|(l, _)| *l == lock) {
                Some(e) => e.1 = end,
                None => lock_free.push((lock, end)),
            }
        }
    }
    free.into_iter().fold(0.0, f64::max)
}

/// The per-row work a target table does while rows are loaded into it with its own
/// definitions in place (read from its catalog by `plan --map --database-url`).
#[derive(Serialize, Debug, Clone)]
pub struct TargetBurden {
    /// The finseed table loaded into it.
    pub table: String,
    pub target: String,
    /// Primary key and unique indexes.
    pub unique_indexes: u64,
    pub other_indexes: u64,
    pub foreign_keys: u64,
    /// FOR EACH ROW triggers (statement triggers cost next to nothing per row).
    pub row_triggers: u64,
}

/// `plan --map`: the load through a map with the target's definitions in place, against
/// `--defer-constraints` (load, then recreate them).
#[derive(Serialize, Debug, Clone)]
pub struct MapEstimate {
    pub targets: Vec<TargetBurden>,
    pub in_place_seconds: f64,
    pub deferred_load_seconds: f64,
    pub deferred_rebuild_seconds: f64,
    /// in_place / (deferred load + rebuild).
    pub in_place_ratio: f64,
}

// In-place costs, calibrated on the example schema (schemas/examples/financy_app.sql: UUID
// keys, 3 indexes and 3 foreign keys on the entries) with `small` on 2026-11-28: the in-place
// load took 117.9 s against 16.7 s for the deferred load in the same minutes on a busy
// machine; scaled to this module's idle rates (the deferred load is this module's load
// estimate) that is about 57 s of extra work per 10M (index entry + 2 x foreign key check)
// units. One measurement cannot split index inserts from key checks: a foreign key check (a
// trigger, an index probe and a row lock in the parent) is taken as twice an index insert,
// and a row trigger as one.
/// Seconds per row for each index the target keeps up to date during an in-place load.
const IN_PLACE_INDEX_SECS_PER_ROW: f64 = 5.7e-6;
/// Seconds per row for each foreign key checked row by row during an in-place load.
const IN_PLACE_FK_SECS_PER_ROW: f64 = 11.4e-6;
/// Seconds per row for each FOR EACH ROW trigger.
const IN_PLACE_TRIGGER_SECS_PER_ROW: f64 = 5.7e-6;

/// Estimate a load through a map into targets with `burdens`, from the plan's rows and load.
pub fn map_estimate(plan: &Plan, burdens: Vec<TargetBurden>) -> MapEstimate {
    let workers = plan.jobs.min(crate::cli::cores()).max(1) as f64;
    let rows = |name: &str| {
        plan.tables
            .iter()
            .find(|t| t.table == name)
            .map_or(0.0, |t| t.rows as f64)
    };
    let mapped_copy: f64 = burdens
        .iter()
        .filter_map(|b| plan.tables.iter().find(|t| t.table == b.table))
        .map(|t| t.copy_bytes as f64)
        .sum();
    let load = mapped_copy / (LOAD_BYTES_PER_SEC * workers);
    let (mut extra, mut rebuild) = (0.0, 0.0);
    for b in &burdens {
        let n = rows(&b.table);
        let indexes = (b.unique_indexes + b.other_indexes) as f64;
        extra += n
            * (indexes * IN_PLACE_INDEX_SECS_PER_ROW
                + b.foreign_keys as f64 * IN_PLACE_FK_SECS_PER_ROW
                + b.row_triggers as f64 * IN_PLACE_TRIGGER_SECS_PER_ROW);
        rebuild += n
            * (b.unique_indexes as f64 * KEY_SECS_PER_ROW
                + b.other_indexes as f64 * INDEX_SECS_PER_ROW
                + b.foreign_keys as f64 * FK_SECS_PER_ROW);
    }
    let in_place = load + extra / workers;
    let rebuild = rebuild / workers;
    MapEstimate {
        targets: burdens,
        in_place_seconds: in_place,
        deferred_load_seconds: load,
        deferred_rebuild_seconds: rebuild,
        in_place_ratio: in_place / (load + rebuild).max(1e-9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(0.25), "250 ms");
        assert_eq!(duration(12.34), "12.3 s");
        assert_eq!(duration(200.0), "3 min 20 s");
        assert_eq!(duration(7500.0), "2 h 5 min");
    }
}
