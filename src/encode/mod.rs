//! Encoders turn generated values into bytes of one output format.
//!
//! Generators call the typed methods of [`Encoder`] field by field, in column order, and never
//! build an intermediate row: the bytes go straight into the chunk's buffer. A new format is a
//! new file implementing this trait.

pub mod binary;
pub mod compress;
pub mod csv;
pub mod digest;
pub mod json;
pub mod mapped;
pub mod monthly;
pub mod parquet;

pub use crate::table::{col, null_col, ColType, Column, Encoder};

/// Appends a decimal given as integer units and a scale (`-12345`, 2 → `-123.45`).
#[inline]
pub fn write_decimal(out: &mut Vec<u8>, units: i64, scale: u32) {
    let mut buf = itoa::Buffer::new();
    if scale == 0 {
        out.extend_from_slice(buf.format(units).as_bytes());
        return;
    }
    if units < 0 {
        out.push(b'-');
    }
    let a = units.unsigned_abs();
    let p = 10u64.pow(scale);
    out.extend_from_slice(buf.format(a / p).as_bytes());
    out.push(b'.');
    let frac = a % p;
    let s = buf.format(frac);
    for _ in s.len()..scale as usize {
        out.push(b'0');
    }
    out.extend_from_slice(s.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        let f = |u, s| {
            let mut v = Vec::new();
            write_decimal(&mut v, u, s);
            String::from_utf8(v).unwrap()
        };
        assert_eq!(f(-12345, 2), "-123.45");
        assert_eq!(f(5, 2), "0.05");
        assert_eq!(f(-5, 2), "-0.05");
        assert_eq!(f(987, 3), "0.987");
        assert_eq!(f(100, 0), "100");
    }
}
