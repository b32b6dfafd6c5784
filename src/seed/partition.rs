//! The partitioned layout: its month partitions, and the two ways `transactions` and
//! `transaction_splits` are loaded into them.
//!
//! - **Frozen** (the server's `wal_level` is `minimal`, as on finseed's own cluster, and this run
//!   loads the whole dataset): over `--jobs` connections, each connection owns some months. In
//!   one transaction it creates its months' partitions as plain tables (with a CHECK of the
//!   month, so that attaching them needs no scan), fills them with `COPY … (FREEZE)`, attaches
//!   them, and writes a ledger row per partition. A table created in the same transaction is
//!   not WAL-logged at `wal_level = minimal` (it is synced at commit), the partitions do not
//!   share a relation-extension lock, and the rows arrive frozen and all-visible, so nothing
//!   rewrites their hint bits or vacuums them later. The unit of resume is the partition: a
//!   kill -9 rolls back every partition in flight, which is all those not committed yet (all
//!   of them until the end of the load, since every chunk holds rows of every month), and the
//!   rerun loads exactly the months the ledger lacks.
//! - **Routed** (any other server, or `--shard`): every partition is attached up front and the
//!   chunks load as in the plain layout; the server routes each row to its month. The unit of
//!   resume is the chunk, as in the plain layout.

use super::stall::{within, LoadError};
use super::{connect, send_copy, wanted, SeedConfig};
use crate::db::Target;
use crate::encode::binary::{HEADER, TRAILER};
use crate::encode::monthly::{Monthly, Window};
use crate::error::{Error, Result};
use crate::gen::{Group, Out};
use crate::model::World;
use crate::progress::Progress;
use crate::table::Layout;
use std::collections::HashSet;
use std::sync::Arc;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

/// finseed's partitioned tables, in load order.
pub const PARTITIONED: [&str; 2] = ["transactions", "transaction_splits"];

/// Bytes of rows gathered for all partitions together before the largest partition's are sent
/// as one COPY. Each COPY statement costs the server about 1.1 ms beyond its rows (measured:
/// 2,000 COPY statements of 1,300 rows took 5.3 s, one COPY of the same 2.6M rows 3.1 s), so
/// the statements must be large: gathering each month's rows up to a fixed 256 KB made about
/// 7,600 statements on `transaction-flow` and the load 1.6x the server's own frozen ceiling.
/// Sending the largest gathered run whenever the total passes this budget gives the largest
/// statements a fixed amount of memory allows. On `transaction-flow` (load of transactions
/// alone): 16 MB 11.0 s, 32 MB 10.0-10.5 s and 251 MB resident, 64 MB 10.3 s and 350 MB.
const BUDGET: usize = 32 << 20;

/// One month of the window.
#[derive(Clone, Debug)]
pub struct Month {
    pub first_day: i32,
    pub next_day: i32,
    /// `pYYYY_MM`: the partition is `<table>_pYYYY_MM`.
    pub suffix: String,
}

impl Month {
    pub fn partition(&self, table: &str) -> String {
        format!("{table}_{}", self.suffix)
    }

    /// The partition bound, as ATTACH PARTITION and PARTITION OF take it.
    pub fn bound(&self) -> String {
        format!(
            "FOR VALUES FROM ('{}') TO ('{}')",
            crate::civil::date_string(self.first_day),
            crate::civil::date_string(self.next_day)
        )
    }

    /// The ledger's chunk number of a frozen partition: negative, so it never meets a chunk.
    pub fn ledger_chunk(slot: usize) -> i64 {
        -1 - slot as i64
    }
}

/// The months of a profile's window, oldest first.
pub fn months(p: &crate::profile::Profile) -> Vec<Month> {
    let first = crate::civil::month_index(p.start_day());
    (0..p.months as i32)
        .map(|k| {
            let mi = first + k;
            Month {
                first_day: crate::civil::month_start(mi),
                next_day: crate::civil::month_start(mi + 1),
                suffix: format!("p{:04}_{:02}", mi.div_euclid(12), mi.rem_euclid(12) + 1),
            }
        })
        .collect()
}

/// The layout of the database's finseed tables: partitioned when `transactions` is.
pub async fn layout_of(c: &Client, target: &Target) -> Result<Layout> {
    let parted: bool = target
        .ask(
            "cannot inspect transactions",
            c.query_typed_one(
                "SELECT coalesce((SELECT relkind = 'p' FROM pg_class WHERE oid = to_regclass('transactions')), false)",
                &[],
            ),
        )
        .await?
        .get(0);
    Ok(if parted {
        Layout::Partitioned
    } else {
        Layout::Plain
    })
}

/// How this run loads the partitioned tables, and why.
pub enum Path {
    Frozen,
    Routed(String),
}

/// Existing relations with partition names: name → the table it is a partition of (None when
/// it is not a partition).
async fn existing<C: tokio_postgres::GenericClient>(
    c: &C,
    target: &Target,
    names: &[String],
) -> Result<Vec<(String, Option<String>)>> {
    let rows = target
        .ask(
            "cannot inspect the partitions",
            c.query_typed(
                "SELECT c.relname::text, (SELECT i.inhparent::regclass::text FROM pg_inherits i WHERE i.inhrelid = c.oid)
                 FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1)",
                &[(&names, Type::TEXT_ARRAY)],
            ),
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

fn all_partition_names(months: &[Month]) -> Vec<String> {
    PARTITIONED
        .iter()
        .flat_map(|t| months.iter().map(move |m| m.partition(t)))
        .collect()
}

/// Refuse a relation that holds a partition's name but is not finseed's partition.
fn refuse_strangers(target: &Target, found: &[(String, Option<String>)]) -> Result<()> {
    let strangers: Vec<&String> = found
        .iter()
        .filter(|(n, parent)| {
            !PARTITIONED
                .iter()
                .any(|t| parent.as_deref() == Some(*t) && n.starts_with(&format!("{t}_p")))
        })
        .map(|(n, _)| n)
        .collect();
    if strangers.is_empty() {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "{}: finseed needs the names {} for partitions of its tables, but they hold relations that are not its partitions, so it will not touch them\n  fix: seed into another database or schema, or drop them yourself if you no longer need them: {}",
        target.shown,
        strangers.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
        strangers.iter().map(|s| format!("DROP TABLE {s};")).collect::<Vec<_>>().join(" ")
    )))
}

/// Decide the path: frozen where the server and the run allow it.
pub async fn choose(cfg: &SeedConfig, c: &Client) -> Result<Path> {
    let target = &cfg.target;
    if cfg.shard.is_some() {
        return Ok(Path::Routed(
            "--shard: a month's partition holds rows of every chunk, so one shard cannot load it whole; loading chunk by chunk into attached partitions".into(),
        ));
    }
    let wal: String = target
        .ask(
            "cannot read wal_level",
            c.query_typed_one("SELECT current_setting('wal_level')", &[]),
        )
        .await?
        .get(0);
    if wal != "minimal" {
        return Ok(Path::Routed(format!(
            "the server's wal_level is {wal}: a new partition skips WAL only at wal_level = minimal (finseed's own cluster; a replica or a managed database needs the WAL), so loading chunk by chunk into attached partitions"
        )));
    }
    let chunked: i64 = target
        .ask(
            "cannot read the ledger",
            c.query_typed_one(
                "SELECT count(*) FROM finseed_ledger WHERE table_name = ANY($1) AND chunk >= 0",
                &[(&PARTITIONED.to_vec(), Type::TEXT_ARRAY)],
            ),
        )
        .await?
        .get(0);
    let months = months(&cfg.profile);
    let found = existing(c, target, &all_partition_names(&months)).await?;
    refuse_strangers(target, &found)?;
    let frozen = done(c, target).await?;
    let unledgered = found
        .iter()
        .filter(|(n, _)| {
            !frozen
                .iter()
                .any(|(t, slot)| months[*slot].partition(t) == *n)
        })
        .count();
    if chunked > 0 || unledgered > 0 {
        return Ok(Path::Routed(
            "an earlier run began loading chunk by chunk: finishing the same way".into(),
        ));
    }
    Ok(Path::Frozen)
}

/// Partitions loaded frozen, from the ledger: (table, month slot).
async fn done(c: &Client, target: &Target) -> Result<Vec<(String, usize)>> {
    let rows = target
        .ask(
            "cannot read the ledger",
            c.query_typed(
                "SELECT table_name, chunk FROM finseed_ledger WHERE table_name = ANY($1) AND chunk < 0",
                &[(&PARTITIONED.to_vec(), Type::TEXT_ARRAY)],
            ),
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), (-1 - r.get::<_, i64>(1)) as usize))
        .collect())
}

/// The routed path: attach every partition of the window that is missing, in one transaction.
pub async fn attach_all(cfg: &SeedConfig) -> Result<usize> {
    let target = &cfg.target;
    let mut c = connect(target).await?;
    let q = "cannot create the partitions";
    let tx = target.ask(q, c.transaction()).await?;
    let months = months(&cfg.profile);
    let found = existing(&tx, target, &all_partition_names(&months)).await?;
    refuse_strangers(target, &found)?;
    let mut made = 0;
    for t in PARTITIONED {
        for m in &months {
            let name = m.partition(t);
            if found.iter().any(|(n, _)| *n == name) {
                continue;
            }
            target
                .ask(
                    q,
                    tx.batch_execute(&format!(
                        "CREATE TABLE {name} PARTITION OF {t} {}",
                        m.bound()
                    )),
                )
                .await?;
            made += 1;
        }
    }
    target.ask(q, tx.commit()).await?;
    Ok(made)
}

/// What the dispatcher sends a connection: a COPY stream of one partition's rows, or the end.
enum Msg {
    Rows {
        slot: usize,
        table: usize,
        bytes: Arc<Vec<u8>>,
    },
    Done,
}

/// One connection's months: create their partitions, COPY FREEZE every run sent, then attach
/// and record them and commit, all in one transaction. Without `Done` (the dispatcher failed)
/// nothing commits.
async fn load_months(
    target: Target,
    limit: std::time::Duration,
    mine: Vec<(usize, Vec<usize>)>,
    months: Arc<Vec<Month>>,
    tables: &'static [&'static crate::table::TableSpec],
    mut rx: tokio::sync::mpsc::Receiver<Msg>,
) -> Result<u64> {
    let mut client = connect(&target).await?;
    let fail = |e: LoadError, what: &str| e.into_error(&target, what);
    let tx = within(
        limit,
        || "starting a transaction".into(),
        client.transaction(),
    )
    .await
    .map_err(|e| fail(e, "cannot start the partitions' transaction"))?;
    let mut hashers = std::collections::HashMap::new();
    for (slot, ts) in &mine {
        let m = &months[*slot];
        for &t in ts {
            let (table, part) = (tables[t].name, m.partition(tables[t].name));
            let sql = format!(
                "CREATE TABLE {part} (LIKE {table} INCLUDING DEFAULTS);
                 ALTER TABLE {part} ADD CONSTRAINT {part}_month CHECK (transaction_date >= '{}' AND transaction_date < '{}')",
                crate::civil::date_string(m.first_day),
                crate::civil::date_string(m.next_day)
            );
            within(limit, || format!("creating {part}"), tx.batch_execute(&sql))
                .await
                .map_err(|e| fail(e, &format!("cannot create {part}")))?;
            hashers.insert((*slot, t), (xxhash_rust::xxh3::Xxh3::new(), 0u64));
        }
    }
    let mut rows = 0;
    loop {
        match rx.recv().await {
            Some(Msg::Rows { slot, table, bytes }) => {
                let part = months[slot].partition(tables[table].name);
                let cols: Vec<&str> = tables[table].columns.iter().map(|c| c.name).collect();
                let sql = format!(
                    "COPY {part} ({}) FROM STDIN (FORMAT binary, FREEZE)",
                    cols.join(", ")
                );
                let sink = within(
                    limit,
                    || format!("starting the COPY of {part}"),
                    tx.copy_in(sql.as_str()),
                )
                .await
                .map_err(|e| fail(e, &format!("loading {part}")))?;
                let n = send_copy(sink, &bytes, limit)
                    .await
                    .map_err(|e| fail(e, &format!("loading {part}")))?;
                let (h, count) = hashers
                    .get_mut(&(slot, table))
                    .expect("a partition of mine");
                h.update(&bytes[HEADER.len()..bytes.len() - TRAILER.len()]);
                *count += n;
                rows += n;
            }
            Some(Msg::Done) => break,
            None => return Err(Error::Failed(
                "the load of the partitions stopped before its end; nothing of it was committed"
                    .into(),
            )),
        }
    }
    for (slot, ts) in &mine {
        let m = &months[*slot];
        for &t in ts {
            let table = tables[t].name;
            let part = m.partition(table);
            let (h, n) = &hashers[&(*slot, t)];
            let sql = format!(
                "ALTER TABLE {table} ATTACH PARTITION {part} {};
                 ALTER TABLE {part} DROP CONSTRAINT {part}_month",
                m.bound()
            );
            within(
                limit,
                || format!("attaching {part}"),
                tx.batch_execute(&sql),
            )
            .await
            .map_err(|e| fail(e, &format!("cannot attach {part}")))?;
            within(
                limit,
                || "writing the ledger".into(),
                tx.execute(
                    "INSERT INTO finseed_ledger (table_name, chunk, rows, checksum) VALUES ($1, $2, $3, $4)",
                    &[
                        &table,
                        &Month::ledger_chunk(*slot),
                        &(*n as i64),
                        &format!("xxh3:{:016x}", h.digest()),
                    ],
                ),
            )
            .await
            .map_err(|e| fail(e, "cannot write the ledger"))?;
        }
    }
    within(limit, || "committing the partitions".into(), tx.commit())
        .await
        .map_err(|e| fail(e, "cannot commit the partitions"))?;
    Ok(rows)
}

/// The frozen path: generate every chunk once, sort its rows by month, and stream each month's
/// rows to the connection that owns the month.
pub async fn load_frozen(
    cfg: &SeedConfig,
    world: Arc<World>,
    progress: &Progress,
) -> Result<(u64, String)> {
    let target = &cfg.target;
    let group = Group::Transactions;
    let tables = group.tables_in(Layout::Partitioned);
    let want: Vec<bool> = tables.iter().map(|t| wanted(cfg, t)).collect();
    let months = Arc::new(months(&world.profile));
    let c = connect(target).await?;
    let already: HashSet<(String, usize)> = done(&c, target).await?.into_iter().collect();
    drop(c);
    // Per month slot, the tables still to load.
    let todo: Vec<(usize, Vec<usize>)> = (0..months.len())
        .map(|slot| {
            let ts = (0..tables.len())
                .filter(|&t| want[t] && !already.contains(&(tables[t].name.to_string(), slot)))
                .collect::<Vec<_>>();
            (slot, ts)
        })
        .filter(|(_, ts)| !ts.is_empty())
        .collect();
    let partitions: usize = todo.iter().map(|(_, ts)| ts.len()).sum();
    let skipped = want.iter().filter(|&&w| w).count() * months.len() - partitions;
    if todo.is_empty() {
        return Ok((
            0,
            format!("frozen: all {skipped} partitions already loaded"),
        ));
    }
    let conns = cfg.jobs.clamp(1, todo.len());
    // Months go to connections round robin, so each holds old and new months alike.
    let owner: Vec<Option<usize>> = {
        let mut o = vec![None; months.len()];
        for (k, (slot, _)) in todo.iter().enumerate() {
            o[*slot] = Some(k % conns);
        }
        o
    };
    let mut senders = Vec::new();
    let mut tasks = Vec::new();
    for j in 0..conns {
        // Two runs waiting per connection: runs are large (megabytes), so a deeper queue would
        // only hold memory (measured: 1 or 2 made no difference beyond noise).
        let (s, r) = tokio::sync::mpsc::channel(2);
        senders.push(s);
        let mine: Vec<(usize, Vec<usize>)> = todo
            .iter()
            .filter(|(slot, _)| owner[*slot] == Some(j))
            .cloned()
            .collect();
        tasks.push(tokio::spawn(load_months(
            target.clone(),
            cfg.stall,
            mine,
            months.clone(),
            tables,
            r,
        )));
    }
    let bar = progress.bar(tables[0].name, group.parents(&world));
    let jobs = cfg.jobs;
    let (w2, want2, bar2) = (world.clone(), want.clone(), bar.clone());
    let slots_wanted: Vec<Vec<bool>> = {
        let mut v = vec![vec![false; tables.len()]; months.len()];
        for (slot, ts) in &todo {
            for &t in ts {
                v[*slot][t] = true;
            }
        }
        v
    };
    let window = Arc::new(Window::new(months[0].first_day, months.len()));
    // Bytes to reserve per month and chunk: a chunk's rows spread over the months, at about
    // 200 bytes a transaction and 60 a split (splits are rarer), with room to spare, but at
    // most 256 KB: the months are far from even (the last of `volume`'s window holds 150 times
    // the first's rows), and reserving a full share for every month of every chunk in flight
    // cost 40 MB of resident memory for nothing (the growth of the large runs costs no time
    // that could be measured).
    let per_chunk = group.chunk_rows() as usize;
    let per_month = [
        (per_chunk * 240 / months.len()).min(256 << 10),
        (per_chunk * 20 / months.len()).min(64 << 10),
    ];
    let dispatch = tokio::task::spawn_blocking(move || -> Result<()> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(jobs)
            .build()
            .map_err(|e| Error::Failed(format!("cannot start threads: {e}")))?;
        let world = w2;
        // Gathered rows per (slot, table): a COPY stream without its trailer.
        let mut acc: Vec<Vec<Vec<u8>>> = vec![vec![Vec::new(); tables.len()]; months.len()];
        // Bytes in `acc`, all partitions together.
        let mut gathered = 0usize;
        let send = |slot: usize, table: usize, buf: &mut Vec<u8>| -> Result<()> {
            if buf.is_empty() {
                return Ok(());
            }
            let mut bytes = std::mem::take(buf);
            bytes.extend_from_slice(&TRAILER);
            let to = owner[slot].expect("a month being loaded has an owner");
            senders[to]
                .blocking_send(Msg::Rows {
                    slot,
                    table,
                    bytes: Arc::new(bytes),
                })
                .map_err(|_| Error::Failed("a partition connection ended early".into()))
        };
        crate::pipeline::ordered(
            &pool,
            0..group.chunks(&world),
            jobs + 2,
            |chunk| {
                let mut outs: Vec<Out<Monthly>> = tables
                    .iter()
                    .zip(&want2)
                    .enumerate()
                    .map(|(k, (t, &w))| {
                        Out::new(
                            t,
                            w.then(|| Monthly::with_window(t, window.clone(), per_month[k])),
                        )
                    })
                    .collect();
                group.fill(&world, chunk, &mut outs);
                (chunk, outs)
            },
            |(chunk, outs)| {
                for (t, o) in outs.into_iter().enumerate() {
                    let Some(e) = o.enc else { continue };
                    if e.outside > 0 {
                        return Err(Error::Failed(format!(
                            "chunk {chunk} of {} has {} rows dated outside the profile's window",
                            tables[t].name, e.outside
                        )));
                    }
                    for (slot, (run, n)) in e.runs.into_iter().enumerate() {
                        if n == 0 || !slots_wanted[slot][t] {
                            continue;
                        }
                        let buf = &mut acc[slot][t];
                        if buf.is_empty() {
                            gathered += run.len();
                            *buf = run;
                        } else {
                            gathered += run.len() - HEADER.len();
                            buf.extend_from_slice(&run[HEADER.len()..]);
                        }
                    }
                }
                // Over the budget: send the largest runs, the longest COPY statements there are.
                while gathered > BUDGET {
                    // The largest run of a connection with room in its queue, so that
                    // waiting on a busy connection never starves the other; if every queue is
                    // full, the largest run waits for its connection.
                    let runs =
                        || (0..acc.len()).flat_map(|s| (0..tables.len()).map(move |t| (s, t)));
                    let (slot, t) = runs()
                        .filter(|&(s, _)| owner[s].is_some_and(|o| senders[o].capacity() > 0))
                        .max_by_key(|&(s, t)| acc[s][t].len())
                        .filter(|&(s, t)| !acc[s][t].is_empty())
                        .or_else(|| runs().max_by_key(|&(s, t)| acc[s][t].len()))
                        .expect("a partition");
                    gathered -= acc[slot][t].len();
                    send(slot, t, &mut acc[slot][t])?;
                }
                let ids = group.chunk_ids(&world, chunk);
                bar2.inc(ids.end - ids.start);
                Ok(())
            },
        )?;
        for (slot, per) in acc.iter_mut().enumerate() {
            for (t, buf) in per.iter_mut().enumerate() {
                send(slot, t, buf)?;
            }
        }
        for s in &senders {
            s.blocking_send(Msg::Done)
                .map_err(|_| Error::Failed("a partition connection ended early".into()))?;
        }
        Ok(())
    });
    let dispatched = dispatch
        .await
        .map_err(|e| Error::Failed(format!("generator task failed: {e}")))?;
    let joined = super::join_tasks(tasks, "load").await;
    bar.finish_and_clear();
    // A connection's own error explains a dispatcher's "ended early".
    let loaded = joined?;
    dispatched?;
    Ok((
        loaded,
        format!(
            "frozen: {partitions} partitions created, loaded with COPY FREEZE and attached over {conns} connections{}",
            if skipped > 0 {
                format!(", {skipped} already loaded")
            } else {
                String::new()
            }
        ),
    ))
}
