//! Binary COPY two ways, over one connection, for the same transactions: finseed's encoder,
//! which writes the wire format straight into the chunk buffer, against tokio-postgres's
//! `BinaryCopyInWriter`, fed one row of typed values at a time (a `ToSql` call per value and a
//! CopyData message every 4 KB). Both run on one thread with the connection task, so the
//! process's CPU time is everything the client spent.
//!
//!   cargo run --release --example copy_writer_compare -- [DATABASE_URL] [CHUNKS]
//!
//! Without a URL: `DATABASE_URL`, else finseed's embedded cluster (`finseed pg status`; started
//! if needed). Loads the first CHUNKS chunks (default 20, 100,000 rows each) of the
//! `transaction-flow` profile's transactions into a scratch table `copy_compare`, which it
//! drops at the end. The writer is given finseed's own numeric encoding, not rust_decimal's, so
//! the difference is the writer's per-value path alone.

use bytes::{BufMut, BytesMut};
use finseed::encode::binary::{write_numeric, Binary, PG_EPOCH_DAYS};
use finseed::encode::{ColType, Encoder};
use finseed::gen::transactions::TRANSACTIONS;
use finseed::gen::{Group, Out};
use finseed::model::World;
use finseed::pipeline::{produce, Buffers};
use finseed::profile::Profile;
use finseed::table::TableSpec;
use std::sync::Arc;
use std::time::Instant;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

/// One value, as an application would hold it before handing it to the writer.
#[derive(Debug)]
enum Val {
    Null,
    Int8(i64),
    Int4(i32),
    Text(String),
    Numeric(i64, u32),
    Date(i32),
    Timestamp(i64),
    Bool(bool),
}

impl ToSql for Val {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Val::Null => return Ok(IsNull::Yes),
            Val::Int8(v) => {
                v.to_sql(ty, out)?;
            }
            Val::Int4(v) => {
                v.to_sql(ty, out)?;
            }
            Val::Text(s) => {
                s.to_sql(ty, out)?;
            }
            Val::Numeric(units, scale) => {
                let mut v = Vec::with_capacity(24);
                write_numeric(&mut v, *units, *scale);
                out.extend_from_slice(&v[4..]); // without its length word
            }
            Val::Date(days) => out.put_i32(days - PG_EPOCH_DAYS),
            Val::Timestamp(secs) => out.put_i64((secs - PG_EPOCH_DAYS as i64 * 86_400) * 1_000_000),
            Val::Bool(b) => out.put_u8(*b as u8),
        }
        Ok(IsNull::No)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

/// An encoder that keeps the typed values instead of bytes.
struct Collect {
    table: &'static TableSpec,
    field: usize,
    vals: Vec<Val>,
}

impl Collect {
    fn push(&mut self, v: Val) {
        self.field += 1;
        self.vals.push(v);
    }
}

impl Encoder for Collect {
    fn new(table: &'static TableSpec, _buf: Vec<u8>) -> Self {
        Collect {
            table,
            field: 0,
            vals: Vec::new(),
        }
    }
    fn begin(&mut self) {
        self.field = 0;
    }
    fn int(&mut self, v: i64) {
        let int4 = self.table.columns[self.field].ty == ColType::Int;
        self.push(if int4 {
            Val::Int4(v as i32)
        } else {
            Val::Int8(v)
        });
    }
    fn text(&mut self, s: &str) {
        self.push(Val::Text(s.to_string()));
    }
    fn null(&mut self) {
        self.push(Val::Null);
    }
    fn decimal(&mut self, units: i64, scale: u32) {
        self.push(Val::Numeric(units, scale));
    }
    fn date(&mut self, days: i32) {
        self.push(Val::Date(days));
    }
    fn timestamp(&mut self, secs: i64) {
        self.push(Val::Timestamp(secs));
    }
    fn boolean(&mut self, b: bool) {
        self.push(Val::Bool(b));
    }
    fn end(&mut self) {}
    fn take(&mut self) -> Vec<u8> {
        Vec::new()
    }
}

fn pg_type(t: ColType) -> Type {
    match t {
        ColType::BigInt => Type::INT8,
        ColType::Int => Type::INT4,
        ColType::Text => Type::TEXT,
        ColType::Numeric(..) => Type::NUMERIC,
        ColType::Date => Type::DATE,
        ColType::Timestamptz => Type::TIMESTAMPTZ,
        ColType::Bool => Type::BOOL,
        ColType::Char(_) => Type::BPCHAR,
    }
}

/// CPU seconds (user + system) this process has used, from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are 12 and 13 after the command name.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The typed values of one chunk's transactions.
fn collect(world: &World, chunk: u64) -> Vec<Val> {
    let group = Group::Transactions;
    let mut outs: Vec<Out<Collect>> = group
        .tables()
        .iter()
        .enumerate()
        .map(|(i, t)| Out::new(t, (i == 0).then(|| Collect::new(t, Vec::new()))))
        .collect();
    group.fill(world, chunk, &mut outs);
    outs.swap_remove(0).enc.map(|e| e.vals).unwrap_or_default()
}

struct Run {
    label: &'static str,
    rows: u64,
    wall: f64,
    cpu: f64,
}

fn report(runs: &[Run]) {
    println!(
        "{:<52} {:>10} {:>8} {:>8} {:>12} {:>10}",
        "", "rows", "wall s", "CPU s", "rows/s", "CPU ns/row"
    );
    for r in runs {
        println!(
            "{:<52} {:>10} {:>8.2} {:>8.2} {:>12.0} {:>10.0}",
            r.label,
            r.rows,
            r.wall,
            r.cpu,
            r.rows as f64 / r.wall,
            r.cpu * 1e9 / r.rows.max(1) as f64
        );
    }
}

async fn measure<F, Fut>(label: &'static str, f: F) -> Run
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = u64>,
{
    let (t, c) = (Instant::now(), cpu_seconds());
    let rows = f().await;
    Run {
        label,
        rows,
        wall: t.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - c,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .unwrap_or_else(|| {
            finseed::pgctl::default_root()
                .and_then(|root| finseed::pgctl::ensure_running(&root))
                .expect("start finseed's embedded cluster")
                .url()
        });
    let chunks: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(20);
    let target = finseed::db::Target::parse(&url).unwrap_or_else(|e| {
        eprintln!("copy_writer_compare: {e}");
        std::process::exit(2);
    });
    let world = World::new(Profile::load("transaction-flow").expect("built-in profile"));
    let group = Group::Transactions;
    let chunks = chunks.min(group.chunks(&world));
    let columns: Vec<&str> = TRANSACTIONS.columns.iter().map(|c| c.name).collect();
    let types: Vec<Type> = TRANSACTIONS.columns.iter().map(|c| pg_type(c.ty)).collect();
    let ddl = finseed::schema::TABLES;
    let start = ddl
        .find("CREATE TABLE IF NOT EXISTS transactions (")
        .expect("transactions DDL");
    let end = start + ddl[start..].find(");").expect("end of DDL") + 2;
    let create = ddl[start..end].replace("IF NOT EXISTS transactions", "copy_compare");
    let copy = format!(
        "COPY copy_compare ({}) FROM STDIN (FORMAT binary)",
        columns.join(", ")
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = target.connect().await.unwrap_or_else(|e| {
            eprintln!("copy_writer_compare: {e}");
            std::process::exit(1);
        });
        let fresh = || async {
            client
                .batch_execute(&format!(
                    "DROP TABLE IF EXISTS copy_compare; {create}; CHECKPOINT"
                ))
                .await
                .expect("create the scratch table");
        };
        let bufs = Buffers::default();
        let mut runs = Vec::new();

        runs.push(
            measure("generate + finseed encoder, no database", || async {
                let mut rows = 0;
                for c in 0..chunks {
                    let p = produce::<Binary>(&world, group, c, &[true, false], &bufs);
                    rows += p.tables[0].1;
                    bufs.put_all(group, p);
                }
                rows
            })
            .await,
        );
        runs.push(
            measure("generate + typed values, no database", || async {
                (0..chunks)
                    .map(|c| collect(&world, c).len() as u64 / 16)
                    .sum()
            })
            .await,
        );

        fresh().await;
        runs.push(
            measure("finseed encoder -> COPY, 1 connection", || async {
                let mut rows = 0;
                for c in 0..chunks {
                    let p = produce::<Binary>(&world, group, c, &[true, false], &bufs);
                    let mut tables = p.tables;
                    let (buf, _) = tables.swap_remove(0);
                    let buf = Arc::new(buf);
                    let sink = client.copy_in(&copy).await.expect("COPY");
                    rows +=
                        finseed::seed::send_copy(sink, &buf, std::time::Duration::from_secs(600))
                            .await
                            .expect("COPY data");
                    if let Ok(b) = Arc::try_unwrap(buf) {
                        bufs.put("transactions", b);
                    }
                }
                rows
            })
            .await,
        );

        fresh().await;
        runs.push(
            measure("BinaryCopyInWriter -> COPY, 1 connection", || async {
                let mut rows = 0;
                for c in 0..chunks {
                    let vals = collect(&world, c);
                    let sink = client.copy_in(&copy).await.expect("COPY");
                    let writer = BinaryCopyInWriter::new(sink, &types);
                    futures_util::pin_mut!(writer);
                    for row in vals.chunks(types.len()) {
                        writer.as_mut().write_raw(row.iter()).await.expect("row");
                    }
                    rows += writer.finish().await.expect("COPY data");
                }
                rows
            })
            .await,
        );
        client
            .batch_execute("DROP TABLE IF EXISTS copy_compare")
            .await
            .expect("drop the scratch table");

        println!(
            "binary COPY of {} transactions (transaction-flow, chunks 0..{chunks}) on {}",
            runs[0].rows, target.shown
        );
        report(&runs);
        let (a, b) = (&runs[2], &runs[3]);
        println!(
            "BinaryCopyInWriter / finseed encoder: client CPU {:.2}x, wall {:.2}x",
            b.cpu / a.cpu,
            b.wall / a.wall
        );
    });
}
