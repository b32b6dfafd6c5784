//! Parquet's RLE / bit-packing hybrid encoding, for definition levels and dictionary keys.
//!
//! A stream of runs: a repeated run is `varint(count << 1)` and the value in
//! `ceil(width / 8)` little-endian bytes; a literal run is `varint(groups << 1 | 1)` and
//! `groups * 8` values bit-packed LSB first, `width` bits each. Literal runs hold whole groups
//! of 8, so a repeated run that follows a literal lends it the values that fill its last group;
//! only the stream's last group is padded (with zeros), which readers ignore because the page
//! header gives the value count.
//!
//! Runs of at least 8 equal values are repeated runs: one varint whatever their length, where a
//! generic encoder would test every value against the last. Generated columns are long runs
//! (`currency`, a context's `context_id`, the definition levels of a rarely null column) or
//! short-lived values (`status`, `type`), and both cases stay a single pass over the keys.

/// The number of bits the largest of `n` keys `0..n` needs (0 for one key or none).
pub fn width_for(n: usize) -> u8 {
    if n <= 1 {
        0
    } else {
        (usize::BITS - (n - 1).leading_zeros()) as u8
    }
}

/// Append the hybrid encoding of `values`, each below `1 << width`, to `out`.
pub fn encode<T: Copy + Eq + Into<u32>>(values: &[T], width: u8, out: &mut Vec<u8>) {
    debug_assert!(width <= 32);
    debug_assert!(values
        .iter()
        .all(|&v| width == 32 || (v.into() as u64) < (1u64 << width)));
    let n = values.len();
    // Start of the values not yet written: a literal run in the making.
    let mut lit = 0;
    let mut i = 0;
    while i < n {
        let v = values[i];
        let mut j = i + 1;
        while j < n && values[j] == v {
            j += 1;
        }
        if j - i >= 8 {
            // Fill the pending literal run's last group from this run, then repeat the rest.
            let pending = i - lit;
            let lend = (8 - pending % 8) % 8;
            if pending > 0 {
                literal(&values[lit..i + lend], width, out);
            }
            repeated(v.into(), j - i - lend, width, out);
            lit = j;
        }
        i = j;
    }
    if lit < n {
        literal(&values[lit..], width, out);
    }
}

pub(super) fn varint(mut x: u64, out: &mut Vec<u8>) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

fn repeated(v: u32, count: usize, width: u8, out: &mut Vec<u8>) {
    if count == 0 {
        return;
    }
    varint((count as u64) << 1, out);
    let bytes = (width as usize).div_ceil(8);
    out.extend_from_slice(&v.to_le_bytes()[..bytes]);
}

/// A literal run of `values` (padded with zeros to whole groups of 8).
fn literal<T: Copy + Into<u32>>(values: &[T], width: u8, out: &mut Vec<u8>) {
    let groups = values.len().div_ceil(8);
    varint(((groups as u64) << 1) | 1, out);
    if width == 0 {
        return;
    }
    let start = out.len();
    out.reserve(groups * width as usize);
    let (mut acc, mut bits) = (0u64, 0u32);
    for &v in values {
        acc |= (v.into() as u64) << bits;
        bits += width as u32;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
    // The padding values are zeros: whole zero bytes up to the groups' size.
    out.resize(start + groups * width as usize, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An independent reading of the hybrid format, straight from the specification.
    fn decode(mut b: &[u8], width: u8, n: usize) -> Vec<u32> {
        let mut out = Vec::new();
        while out.len() < n {
            let (mut h, mut shift) = (0u64, 0);
            loop {
                let byte = b[0];
                b = &b[1..];
                h |= ((byte & 0x7f) as u64) << shift;
                shift += 7;
                if byte < 0x80 {
                    break;
                }
            }
            if h & 1 == 0 {
                let bytes = (width as usize).div_ceil(8);
                let mut v = [0u8; 4];
                v[..bytes].copy_from_slice(&b[..bytes]);
                b = &b[bytes..];
                out.extend(std::iter::repeat_n(
                    u32::from_le_bytes(v),
                    (h >> 1) as usize,
                ));
            } else {
                let count = (h >> 1) as usize * 8;
                let bytes = count * width as usize / 8;
                for k in 0..count {
                    let mut v = 0u64;
                    for bit in 0..width as usize {
                        let at = k * width as usize + bit;
                        v |= (((b[at / 8] >> (at % 8)) & 1) as u64) << bit;
                    }
                    out.push(v as u32);
                }
                b = &b[bytes..];
            }
        }
        assert!(b.is_empty(), "{} bytes after the last run", b.len());
        out.truncate(n);
        out
    }

    #[test]
    fn round_trips_runs_literals_and_their_borders() {
        let mut cases: Vec<(Vec<u32>, u8)> = vec![
            (vec![], 1),
            (vec![0; 100], 0),
            (vec![1; 7], 1),
            (vec![1; 8], 1),
            ((0..20).map(|i| i % 2).collect(), 1),
            ((0..1000).map(|i| (i * 7919 % 37) as u32).collect(), 6),
            (vec![u32::MAX, 0, u32::MAX], 32),
        ];
        // A literal whose last group borrows from a following run, at every offset.
        for pending in 0..17 {
            let mut v: Vec<u32> = (0..pending).map(|i| (i % 5) as u32).collect();
            v.extend(std::iter::repeat_n(3, 9));
            v.extend([1, 2, 3]);
            cases.push((v, 3));
        }
        for (v, w) in cases {
            let mut out = Vec::new();
            encode(&v, w, &mut out);
            assert_eq!(decode(&out, w, v.len()), v, "width {w}: {v:?}");
        }
    }

    #[test]
    fn widths() {
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 256, 257].map(width_for),
            [0, 0, 1, 2, 2, 3, 8, 9]
        );
    }
}
