use finseed::encode::binary::Binary;
use finseed::gen::Group;
use finseed::model::World;
use finseed::pipeline::{produce, Buffers};
use finseed::profile::Profile;
use std::time::Instant;
fn main() {
    let p = Profile::load("transaction-flow").unwrap();
    let w = World::new(p);
    let n = std::env::var("N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20u64);
    let bufs = Buffers::default();
    let t = Instant::now();
    let mut bytes = 0;
    let mut rows = 0;
    for c in 0..n {
        let pr = produce::<Binary>(&w, Group::Transactions, c, &[true, false], &bufs);
        bytes += pr.tables[0].0.len();
        rows += pr.tables[0].1;
        bufs.put_all(Group::Transactions, pr);
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{rows} rows {bytes} bytes {s:.3} s {:.0} ns/row",
        s * 1e9 / rows as f64
    );
}
