//! Parquet's DELTA_BINARY_PACKED encoding, for integer columns (keys, money in cents, dates,
//! timestamps).
//!
//! Why not PLAIN: a page is compressed after it is encoded, and zstd's cost grows with its
//! input. PLAIN hands it 8 bytes per INT64 whatever the value; the deltas of a sequential key
//! take no bits at all and those of a timestamp or an amount a few bytes, so the compressor
//! reads a third of the bytes and the file comes out no larger (measured on `transactions`:
//! the integer columns' zstd share fell by half).
//!
//! Layout: a header `varint(128) varint(4) varint(count) zigzag(first)`, then blocks of 128
//! deltas, each `zigzag(min delta)`, four bit widths (one byte each) and up to four miniblocks
//! of 32 `delta - min delta` bit-packed LSB first. The last block writes only the miniblocks it
//! fills (the last padded with zeros) but all four widths, unused ones zero, as the format
//! asks. Arithmetic wraps in the column's physical width, so any value round-trips.

use super::rle::varint;

const BLOCK: usize = 128;
const MINIBLOCKS: usize = 4;
const MINI: usize = BLOCK / MINIBLOCKS;

/// An integer of a physical type that DELTA_BINARY_PACKED encodes.
pub trait Delta: Copy {
    /// `self - prev`, wrapping in the type's width.
    fn delta(self, prev: Self) -> i64;
    /// `d - min` of two deltas, wrapping in the type's width, as unsigned bits.
    fn offset(d: i64, min: i64) -> u64;
    /// The value as the header's first value holds it.
    fn widen(self) -> i64;
}

impl Delta for i64 {
    #[inline]
    fn delta(self, prev: i64) -> i64 {
        self.wrapping_sub(prev)
    }
    #[inline]
    fn offset(d: i64, min: i64) -> u64 {
        d.wrapping_sub(min) as u64
    }
    #[inline]
    fn widen(self) -> i64 {
        self
    }
}

impl Delta for i32 {
    #[inline]
    fn delta(self, prev: i32) -> i64 {
        self.wrapping_sub(prev) as i64
    }
    #[inline]
    fn offset(d: i64, min: i64) -> u64 {
        // Both fit i32: the difference wraps in 32 bits, so widths stay at most 32.
        (d as i32).wrapping_sub(min as i32) as u32 as u64
    }
    #[inline]
    fn widen(self) -> i64 {
        self as i64
    }
}

fn zigzag(x: i64, out: &mut Vec<u8>) {
    varint(((x << 1) ^ (x >> 63)) as u64, out);
}

/// Append the encoding of `values` to `out`; returns their smallest and largest (the page's
/// statistics), found in the same pass.
pub fn encode<T: Delta + Ord>(values: &[T], out: &mut Vec<u8>) -> Option<(T, T)> {
    varint(BLOCK as u64, out);
    varint(MINIBLOCKS as u64, out);
    varint(values.len() as u64, out);
    zigzag(values.first().map_or(0, |v| v.widen()), out);
    let mut deltas = [0i64; BLOCK];
    let mut bits = [0u64; BLOCK];
    let mut prev = *values.first()?;
    let (mut lo, mut hi) = (prev, prev);
    for block in values[1..].chunks(BLOCK) {
        let n = block.len();
        for (d, &v) in deltas.iter_mut().zip(block) {
            *d = v.delta(prev);
            prev = v;
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let min = deltas[..n].iter().copied().min().unwrap_or(0);
        zigzag(min, out);
        for (b, &d) in bits.iter_mut().zip(&deltas[..n]) {
            *b = T::offset(d, min);
        }
        // Padding of the last miniblock: zeros, which widen nothing.
        bits[n..].fill(0);
        let used = n.div_ceil(MINI);
        let mut widths = [0u8; MINIBLOCKS];
        for (w, mini) in widths.iter_mut().zip(bits.chunks(MINI)).take(used) {
            let or = mini.iter().fold(0, |a, &b| a | b);
            *w = (u64::BITS - or.leading_zeros()) as u8;
        }
        out.extend_from_slice(&widths);
        for (&w, mini) in widths.iter().zip(bits.chunks(MINI)).take(used) {
            pack(mini, w, out);
        }
    }
    Some((lo, hi))
}

/// 32 values of `w` bits each, LSB first: exactly `4 * w` bytes.
#[inline]
fn pack(mini: &[u64], w: u8, out: &mut Vec<u8>) {
    if w == 0 {
        return;
    }
    let w = w as u32;
    let mut acc: u128 = 0;
    let mut have = 0u32;
    for &b in mini {
        acc |= (b as u128) << have;
        have += w;
        if have >= 64 {
            out.extend_from_slice(&(acc as u64).to_le_bytes());
            acc >>= 64;
            have -= 64;
        }
    }
    // 32 * w bits is a whole number of bytes.
    out.extend_from_slice(&acc.to_le_bytes()[..(have / 8) as usize]);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reference decoder straight from the format's description, for the round trip.
    fn decode(mut b: &[u8], int32: bool) -> Vec<i64> {
        fn uvar(b: &mut &[u8]) -> u64 {
            let (mut x, mut s) = (0u64, 0);
            loop {
                let c = b[0];
                *b = &b[1..];
                x |= ((c & 0x7f) as u64) << s;
                if c < 0x80 {
                    return x;
                }
                s += 7;
            }
        }
        let zz = |b: &mut &[u8]| {
            let u = uvar(b);
            ((u >> 1) as i64) ^ -((u & 1) as i64)
        };
        let (block, minis, count) = (uvar(&mut b), uvar(&mut b), uvar(&mut b) as usize);
        assert_eq!((block, minis), (128, 4));
        let mut out = vec![zz(&mut b)];
        if count == 0 {
            return vec![];
        }
        while out.len() < count {
            let min = zz(&mut b);
            let widths = b[..4].to_vec();
            b = &b[4..];
            for w in widths {
                if out.len() >= count {
                    break;
                }
                let (mut acc, mut have, mut i) = (0u128, 0u32, 0);
                for _ in 0..32 {
                    while have < w as u32 {
                        acc |= (b[i] as u128) << have;
                        i += 1;
                        have += 8;
                    }
                    let mask = if w == 64 { u64::MAX } else { (1u64 << w) - 1 };
                    let v = (acc as u64) & mask;
                    acc >>= w;
                    have -= w as u32;
                    if out.len() < count {
                        let last = *out.last().unwrap();
                        let next = if int32 {
                            (last as i32)
                                .wrapping_add(min as i32)
                                .wrapping_add(v as u32 as i32) as i64
                        } else {
                            last.wrapping_add(min).wrapping_add(v as i64)
                        };
                        out.push(next);
                    }
                }
                b = &b[i..];
            }
        }
        out
    }

    fn roundtrip64(v: &[i64]) {
        let mut out = Vec::new();
        let b = encode(v, &mut out);
        assert_eq!(decode(&out, false), v);
        let want = v.iter().copied().min().zip(v.iter().copied().max());
        assert_eq!(b, want);
    }

    fn roundtrip32(v: &[i32]) {
        let mut out = Vec::new();
        let b = encode(v, &mut out);
        let want = v.iter().copied().min().zip(v.iter().copied().max());
        assert_eq!(b, want);
        let back: Vec<i32> = decode(&out, true).into_iter().map(|x| x as i32).collect();
        assert_eq!(back, v);
    }

    #[test]
    fn sequential_keys_take_no_bits() {
        let v: Vec<i64> = (1000..1000 + 20_000).collect();
        let mut out = Vec::new();
        encode(&v, &mut out);
        // Header, then per block: min delta (1 byte) and four zero widths.
        assert!(out.len() < 10 + 157 * 5, "{}", out.len());
        roundtrip64(&v);
    }

    #[test]
    fn round_trips_edges() {
        roundtrip64(&[]);
        roundtrip64(&[7]);
        roundtrip64(&[i64::MIN, i64::MAX, 0, -1, i64::MAX, i64::MIN]);
        roundtrip32(&[i32::MIN, i32::MAX, 0, -1, i32::MAX, i32::MIN, 5]);
        for n in [2, 31, 32, 33, 128, 129, 130, 161, 257, 1000] {
            let v: Vec<i64> = (0..n as i64)
                .map(|i| (i * 7919 % 1013) * if i % 3 == 0 { -1 } else { 1 })
                .collect();
            roundtrip64(&v);
            let w: Vec<i32> = v.iter().map(|&x| (x * 1_000_003) as i32).collect();
            roundtrip32(&w);
        }
    }
}
