//! What generating and encoding the transactions group costs through the example map
//! (schemas/examples/financy_app.map.toml), beside finseed's own binary COPY, on one thread,
//! with no database: the client's share of a mapped load on a machine it shares with the server.
//!
//!   cargo run --release --example map_encode_cost -- [PROFILE] [CHUNKS]
//!
//! The plans are built by hand as `map::compile` builds them from the example schema's catalog
//! (ledger_entries and ledger_splits).

use finseed::encode::binary::Binary;
use finseed::encode::mapped::Mapped;
use finseed::gen::Group;
use finseed::map::{Conv, SentColumn, TablePlan};
use finseed::model::World;
use finseed::pipeline::{produce, produce_with, Buffers, Produced};
use finseed::profile::Profile;
use std::sync::Arc;
use std::time::Instant;

fn col(name: &str, conv: Conv) -> SentColumn {
    SentColumn {
        name: name.to_string(),
        conv,
        digest_sql: String::new(),
    }
}

fn plans(group: Group) -> Vec<Arc<TablePlan>> {
    let [tx, sp] = group.tables() else {
        unreachable!("two tables")
    };
    let mut text = b"finseed".to_vec();
    let mut field = (text.len() as i32).to_be_bytes().to_vec();
    field.append(&mut text);
    let ledger = TablePlan {
        table: tx,
        target: "ledger_entries".into(),
        columns: vec![
            col(
                "entry_id",
                Conv::Uuid {
                    src: 0,
                    table: "transactions",
                },
            ),
            col(
                "wallet_id",
                Conv::Uuid {
                    src: 1,
                    table: "contexts",
                },
            ),
            col(
                "user_uuid",
                Conv::Uuid {
                    src: 2,
                    table: "users",
                },
            ),
            col(
                "category_id",
                Conv::Uuid {
                    src: 3,
                    table: "categories",
                },
            ),
            col("amount_cents", Conv::Units { src: 4, width: 8 }),
            col("currency", Conv::Text { src: 5 }),
            col("description", Conv::Text { src: 6 }),
            col("merchant", Conv::Text { src: 7 }),
            col("booked_at", Conv::DateTime { src: 8 }),
            col("entry_type", Conv::Text { src: 10 }),
            col("status", Conv::Text { src: 11 }),
            col(
                "source",
                Conv::Json {
                    fields: vec![
                        ("input_method".into(), 12),
                        ("categorization_source".into(), 13),
                    ],
                },
            ),
            col("ai_confidence", Conv::Numeric { src: 14, scale: 3 }),
            col("is_recurring", Conv::Bool { src: 15 }),
            col("imported_by", Conv::Const { field, digest: 0 }),
            col("created_at", Conv::Timestamp { src: 9 }),
        ],
    };
    let splits = TablePlan {
        table: sp,
        target: "ledger_splits".into(),
        columns: vec![
            col(
                "entry_id",
                Conv::Uuid {
                    src: 0,
                    table: "transactions",
                },
            ),
            col(
                "user_uuid",
                Conv::Uuid {
                    src: 1,
                    table: "users",
                },
            ),
            col("amount_cents", Conv::Units { src: 2, width: 8 }),
            col("status", Conv::Text { src: 3 }),
            col(
                "approved_by",
                Conv::Uuid {
                    src: 4,
                    table: "users",
                },
            ),
            col("approved_at", Conv::Timestamp { src: 5 }),
        ],
    };
    vec![Arc::new(ledger), Arc::new(splits)]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "small".to_string());
    let chunks: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(5);
    let profile = match Profile::load(&name) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("map_encode_cost: {e}");
            std::process::exit(2);
        }
    };
    let world = World::new(profile);
    let group = Group::Transactions;
    let chunks = chunks.min(group.chunks(&world));
    let wanted = [true, true];
    let plans = plans(group);
    let mapped = |c: u64, bufs: &Buffers| -> Produced {
        produce_with(&world, group, c, &wanted, bufs, |t, b| {
            let p = plans.iter().find(|p| p.table.name == t.name).unwrap();
            Mapped::copy(p.clone(), b)
        })
    };
    let native = |c: u64, bufs: &Buffers| produce::<Binary>(&world, group, c, &wanted, bufs);
    type Run<'a> = &'a dyn Fn(u64, &Buffers) -> Produced;
    let runs: [(&str, Run); 2] = [("native binary", &native), ("mapped", &mapped)];
    for round in 0..2 {
        for (label, f) in runs {
            let bufs = Buffers::default();
            bufs.put_all(group, f(0, &bufs));
            let (mut rows, mut bytes) = (0u64, 0u64);
            let t = Instant::now();
            for c in 0..chunks {
                let p = f(c, &bufs);
                rows += p.tables.iter().map(|t| t.1).sum::<u64>();
                bytes += p.tables.iter().map(|t| t.0.len() as u64).sum::<u64>();
                bufs.put_all(group, p);
            }
            let s = t.elapsed().as_secs_f64();
            if round == 1 {
                println!(
                    "{label:<14} {rows} rows of {name}'s transactions+splits, 1 thread: {s:.3} s, {:.0} ns/row, {:.1} bytes/row",
                    s * 1e9 / rows as f64,
                    bytes as f64 / rows as f64
                );
            }
        }
    }
}
