//! What generating and encoding binary COPY costs finseed, on one thread, with no database:
//! the CPU a load takes away from the PostgreSQL backends sharing the machine.
//!
//!   cargo run --release --example encode_cost -- [PROFILE] [CHUNKS]
//!
//! Encodes the first CHUNKS chunks (default 20, 100,000 rows each) of the profile's
//! transactions, as `finseed seed` does, and prints rows/s, ns per row and MB/s.

use finseed::encode::binary::Binary;
use finseed::gen::Group;
use finseed::model::World;
use finseed::pipeline::{produce, Buffers};
use finseed::profile::Profile;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let name = args
        .next()
        .unwrap_or_else(|| "transaction-flow".to_string());
    let chunks: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(20);
    let profile = match Profile::load(&name) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("encode_cost: {e}");
            std::process::exit(2);
        }
    };
    let world = World::new(profile);
    let group = Group::Transactions;
    let chunks = chunks.min(group.chunks(&world));
    let wanted = [true, false];
    let bufs = Buffers::default();
    // One chunk first, so the timed chunks reuse buffers the way a long load does.
    bufs.put_all(group, produce::<Binary>(&world, group, 0, &wanted, &bufs));
    let (mut rows, mut bytes) = (0u64, 0u64);
    let t = Instant::now();
    for c in 0..chunks {
        let p = produce::<Binary>(&world, group, c, &wanted, &bufs);
        rows += p.tables[0].1;
        bytes += p.tables[0].0.len() as u64;
        bufs.put_all(group, p);
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "binary COPY encoding of {rows} transactions ({name}), 1 thread: {s:.3} s, {:.0} rows/s, {:.0} ns/row, {:.0} MB/s",
        rows as f64 / s,
        s * 1e9 / rows as f64,
        bytes as f64 / s / 1e6
    );
}
