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
pub mod parquet;

use crate::gen::TableSpec;

/// SQL type of a column: shapes the DDL and the binary COPY encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColType {
    BigInt,
    Int,
    Text,
    /// numeric(precision, scale)
    Numeric(u8, u8),
    Date,
    Timestamptz,
    Bool,
    /// char(n)
    Char(u8),
}

#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColType,
    pub nullable: bool,
}

pub const fn col(name: &'static str, ty: ColType) -> Column {
    Column {
        name,
        ty,
        nullable: false,
    }
}

pub const fn null_col(name: &'static str, ty: ColType) -> Column {
    Column {
        name,
        ty,
        nullable: true,
    }
}

/// One output format. Values are written in column order between `begin` and `end`.
pub trait Encoder: Send {
    /// An encoder writing into `buf` (cleared first): callers pass a recycled buffer so that a
    /// chunk reuses memory that is already allocated and faulted in.
    fn new(table: &'static TableSpec, buf: Vec<u8>) -> Self
    where
        Self: Sized;
    fn begin(&mut self);
    fn int(&mut self, v: i64);
    fn text(&mut self, s: &str);
    fn null(&mut self);
    /// A decimal with `scale` places given as an integer (cents for scale 2).
    fn decimal(&mut self, units: i64, scale: u32);
    /// Days since 1970-01-01.
    fn date(&mut self, days: i32);
    /// Seconds since 1970-01-01 UTC.
    fn timestamp(&mut self, secs: i64);
    fn boolean(&mut self, b: bool);
    fn end(&mut self);
    /// The chunk's bytes (with any trailer the format needs); the encoder is done after this.
    fn take(&mut self) -> Vec<u8>;

    #[inline]
    fn opt_int(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }
    #[inline]
    fn opt_text(&mut self, v: Option<&str>) {
        match v {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }
    #[inline]
    fn opt_decimal(&mut self, v: Option<i64>, scale: u32) {
        match v {
            Some(v) => self.decimal(v, scale),
            None => self.null(),
        }
    }
    #[inline]
    fn opt_timestamp(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.timestamp(v),
            None => self.null(),
        }
    }
    #[inline]
    fn money(&mut self, cents: i64) {
        self.decimal(cents, 2)
    }
}

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
