//! The parallel stage: rayon workers generate chunks, and one consumer takes them in chunk
//! order. Workers may run at most `window` chunks ahead of the consumer, so memory stays flat
//! whatever the row count, and the output order never depends on the thread count.

use crate::encode::Encoder;
use crate::error::Result;
use crate::gen::{Group, Out};
use crate::model::World;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};

/// One chunk's output: per table of the group, the bytes (empty when not wanted) and rows.
pub struct Produced {
    pub chunk: u64,
    pub tables: Vec<(Vec<u8>, u64)>,
}

/// Spare chunk buffers per table. A chunk of transactions is about 19 MB of binary COPY; growing
/// a fresh buffer to that size for every chunk cost a third of the encoding time (page faults,
/// zeroing and the copies of each doubling), so consumers hand finished buffers back here.
#[derive(Default)]
pub struct Buffers {
    spare: Mutex<Vec<Spare>>,
}

/// A table's name and its spare buffers.
type Spare = (&'static str, Vec<Vec<u8>>);

/// At most this many spare buffers are kept per table: enough for every chunk in flight.
const SPARE_PER_TABLE: usize = 8;

impl Buffers {
    /// A spare buffer of `table`, or an empty one.
    pub fn get(&self, table: &'static str) -> Vec<u8> {
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        spare
            .iter_mut()
            .find(|(t, _)| *t == table)
            .and_then(|(_, v)| v.pop())
            .unwrap_or_default()
    }

    /// Hand back a buffer of `table` for a later chunk.
    pub fn put(&self, table: &'static str, buf: Vec<u8>) {
        if buf.capacity() == 0 {
            return;
        }
        let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        let i = match spare.iter().position(|(t, _)| *t == table) {
            Some(i) => i,
            None => {
                spare.push((table, Vec::new()));
                spare.len() - 1
            }
        };
        if spare[i].1.len() < SPARE_PER_TABLE {
            spare[i].1.push(buf);
        }
    }

    /// Hand back every buffer of a produced chunk.
    pub fn put_all(&self, group: Group, p: Produced) {
        for (t, (buf, _)) in group.tables().iter().zip(p.tables) {
            self.put(t.name, buf);
        }
    }
}

/// Generate one chunk of a group; `wanted[i]` says whether table i of the group is encoded.
/// Buffers come from `bufs`; hand them back with [`Buffers::put_all`] once written.
pub fn produce<E: Encoder>(
    w: &World,
    group: Group,
    chunk: u64,
    wanted: &[bool],
    bufs: &Buffers,
) -> Produced {
    produce_with(w, group, chunk, wanted, bufs, E::new)
}

/// [`produce`] with encoders made by `make` (for encoders that need more than the table, such
/// as a schema map's).
pub fn produce_with<E: Encoder>(
    w: &World,
    group: Group,
    chunk: u64,
    wanted: &[bool],
    bufs: &Buffers,
    make: impl Fn(&'static crate::table::TableSpec, Vec<u8>) -> E,
) -> Produced {
    // The layout decides the tables' columns (the partitioned one's splits and insights carry
    // their transaction's date).
    let mut outs: Vec<Out<E>> = group
        .tables_in(w.profile.layout)
        .iter()
        .zip(wanted)
        .map(|(t, &want)| Out::new(t, want.then(|| make(t, bufs.get(t.name)))))
        .collect();
    group.fill(w, chunk, &mut outs);
    Produced {
        chunk,
        tables: outs
            .into_iter()
            .map(|mut o| (o.enc.as_mut().map(|e| e.take()).unwrap_or_default(), o.rows))
            .collect(),
    }
}

/// Run `produce(i)` for i in `items` on the pool and hand results to `consume` in order.
pub fn ordered<T, P, C>(
    pool: &rayon::ThreadPool,
    items: std::ops::Range<u64>,
    window: usize,
    produce: P,
    mut consume: C,
) -> Result<()>
where
    T: Send,
    P: Fn(u64) -> T + Sync,
    C: FnMut(T) -> Result<()>,
{
    let window = window.max(1) as u64;
    let next = AtomicU64::new(items.start);
    let stop = AtomicBool::new(false);
    let consumed = Mutex::new(items.start);
    let moved = Condvar::new();
    let (tx, rx) = crossbeam_channel::bounded::<(u64, T)>(window as usize);
    let workers = pool.current_num_threads();
    std::thread::scope(|ts| {
        let (next, stop, consumed, moved, produce) = (&next, &stop, &consumed, &moved, &produce);
        ts.spawn(move || {
            pool.scope(|s| {
                for _ in 0..workers {
                    let tx = tx.clone();
                    s.spawn(move |_| loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= items.end || stop.load(Ordering::SeqCst) {
                            break;
                        }
                        {
                            let mut c = consumed.lock().expect("gate");
                            while i >= *c + window && !stop.load(Ordering::SeqCst) {
                                c = moved.wait(c).expect("gate");
                            }
                        }
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        if tx.send((i, produce(i))).is_err() {
                            break;
                        }
                    });
                }
                drop(tx);
            });
        });
        let mut pending = BTreeMap::new();
        let mut want = items.start;
        let mut result = Ok(());
        for (i, v) in rx.iter() {
            pending.insert(i, v);
            while let Some(v) = pending.remove(&want) {
                if let Err(e) = consume(v) {
                    result = Err(e);
                    break;
                }
                want += 1;
                *consumed.lock().expect("gate") = want;
                moved.notify_all();
            }
            if result.is_err() {
                break;
            }
        }
        if result.is_err() {
            stop.store(true, Ordering::SeqCst);
            moved.notify_all();
            drop(rx);
        }
        result
    })
}

/// Chunks of a group that shard `k` of `n` (1-based) owns: contiguous, so the shards'
/// outputs concatenated in order are the whole output.
pub fn shard_chunks(total: u64, shard: Option<(u64, u64)>) -> std::ops::Range<u64> {
    match shard {
        None => 0..total,
        Some((k, n)) => (total * (k - 1) / n)..(total * k / n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_delivers_in_order_at_any_thread_count() {
        for threads in [1, 2, 4] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut seen = Vec::new();
            ordered(
                &pool,
                3..200,
                3,
                |i| i * 2,
                |v| {
                    seen.push(v);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(seen, (3..200).map(|i| i * 2).collect::<Vec<_>>());
        }
    }

    #[test]
    fn consumer_error_stops_the_workers() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let r = ordered(
            &pool,
            0..10_000,
            2,
            |i| i,
            |v| {
                if v == 5 {
                    Err(crate::error::Error::Failed("stop".into()))
                } else {
                    Ok(())
                }
            },
        );
        assert!(r.is_err());
    }

    #[test]
    fn shards_cover_everything_once() {
        for total in [0u64, 1, 7, 100] {
            for n in 1..6 {
                let mut next = 0;
                for k in 1..=n {
                    let r = shard_chunks(total, Some((k, n)));
                    assert_eq!(r.start, next);
                    next = r.end;
                }
                assert_eq!(next, total);
            }
        }
    }

    #[test]
    fn spare_buffers_stay_with_their_table_and_are_bounded() {
        let b = Buffers::default();
        assert_eq!(b.get("a").capacity(), 0);
        b.put("a", Vec::with_capacity(100));
        b.put("b", Vec::with_capacity(7));
        b.put("a", Vec::new()); // nothing to keep
        assert_eq!(b.get("b").capacity(), 7);
        assert_eq!(b.get("b").capacity(), 0);
        let a = b.get("a");
        assert!(a.capacity() >= 100 && a.is_empty());
        for _ in 0..SPARE_PER_TABLE + 5 {
            b.put("c", vec![1, 2, 3]);
        }
        let kept = (0..SPARE_PER_TABLE + 5)
            .filter(|_| b.get("c").capacity() > 0)
            .count();
        assert_eq!(kept, SPARE_PER_TABLE);
    }

    #[test]
    fn a_recycled_buffer_gives_the_same_chunk_bytes() {
        use crate::encode::csv::Csv;
        let w = World::new(crate::profile::Profile::load("ci").expect("ci profile"));
        let g = Group::Transactions;
        let wanted = vec![true; g.tables().len()];
        let fresh = produce::<Csv>(&w, g, 0, &wanted, &Buffers::default());
        let bufs = Buffers::default();
        // Fill the pool with buffers holding other bytes, then produce the same chunk again.
        bufs.put("transactions", vec![b'x'; 1 << 20]);
        bufs.put("transaction_splits", vec![b'y'; 1 << 20]);
        let again = produce::<Csv>(&w, g, 0, &wanted, &bufs);
        assert_eq!(fresh.tables, again.tables);
    }
}
