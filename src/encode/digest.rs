//! A column digest: per column, how many values are non-null and the sum of a fixed mapping of
//! each value to an integer. PostgreSQL can compute the same digest in one aggregate query
//! (see [`sql`]), so `finseed verify` can compare a loaded table with what the generator would
//! write without exporting anything.
//!
//! The mapping: integers as themselves, decimals as scaled integers, dates as days and
//! timestamps as seconds since 1970, booleans as 0/1, and text as the first 8 bytes of its
//! MD5 read as a signed big-endian integer.

use super::{ColType, Encoder};
use crate::table::TableSpec;
use md5::{Digest as _, Md5};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnDigest {
    pub non_null: i64,
    pub sum: i128,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableDigest {
    pub rows: i64,
    pub columns: Vec<ColumnDigest>,
}

impl TableDigest {
    pub fn new(columns: usize) -> Self {
        TableDigest {
            rows: 0,
            columns: vec![ColumnDigest::default(); columns],
        }
    }

    pub fn add(&mut self, other: &TableDigest) {
        self.rows += other.rows;
        for (a, b) in self.columns.iter_mut().zip(&other.columns) {
            a.non_null += b.non_null;
            a.sum += b.sum;
        }
    }

    /// Serialise as bytes (for passing through the pipeline as a chunk "buffer").
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + self.columns.len() * 24);
        v.extend_from_slice(&self.rows.to_le_bytes());
        for c in &self.columns {
            v.extend_from_slice(&c.non_null.to_le_bytes());
            v.extend_from_slice(&c.sum.to_le_bytes());
        }
        v
    }

    pub fn from_bytes(b: &[u8], columns: usize) -> TableDigest {
        let mut d = TableDigest::new(columns);
        if b.is_empty() {
            return d;
        }
        d.rows = i64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
        for (i, c) in d.columns.iter_mut().enumerate() {
            let o = 8 + i * 24;
            c.non_null = i64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
            c.sum = i128::from_le_bytes(b[o + 8..o + 24].try_into().expect("16 bytes"));
        }
        d
    }
}

pub fn text_value(s: &str) -> i64 {
    let h = Md5::digest(s.as_bytes());
    i64::from_be_bytes(h[..8].try_into().expect("md5 is 16 bytes"))
}

pub struct DigestEncoder {
    table: &'static TableSpec,
    d: TableDigest,
    field: usize,
}

impl DigestEncoder {
    #[inline]
    fn put(&mut self, v: i128) {
        let c = &mut self.d.columns[self.field];
        c.non_null += 1;
        c.sum += v;
        self.field += 1;
    }
}

impl Encoder for DigestEncoder {
    fn new(table: &'static TableSpec, _buf: Vec<u8>) -> Self {
        DigestEncoder {
            table,
            d: TableDigest::new(table.columns.len()),
            field: 0,
        }
    }
    fn begin(&mut self) {
        self.field = 0;
        self.d.rows += 1;
    }
    fn int(&mut self, v: i64) {
        self.put(v as i128)
    }
    fn text(&mut self, s: &str) {
        self.put(text_value(s) as i128)
    }
    fn null(&mut self) {
        self.field += 1;
    }
    fn decimal(&mut self, units: i64, _scale: u32) {
        self.put(units as i128)
    }
    fn date(&mut self, days: i32) {
        self.put(days as i128)
    }
    fn timestamp(&mut self, secs: i64) {
        self.put(secs as i128)
    }
    fn boolean(&mut self, b: bool) {
        self.put(b as i128)
    }
    fn end(&mut self) {
        debug_assert_eq!(self.field, self.table.columns.len());
    }
    fn take(&mut self) -> Vec<u8> {
        let b = self.d.to_bytes();
        self.d = TableDigest::new(self.table.columns.len());
        b
    }
}

/// The SQL that computes a table's digest: one row of `rows, nn_0, sum_0, nn_1, sum_1, …`,
/// every value as text so no precision is lost.
pub fn sql(table: &TableSpec) -> String {
    let mut parts = vec!["count(*)::text".to_string()];
    for c in table.columns {
        let n = c.name;
        let value = match c.ty {
            ColType::BigInt | ColType::Int => format!("{n}::numeric"),
            ColType::Numeric(_, s) => {
                format!("({n} * 1{})::bigint::numeric", "0".repeat(s as usize))
            }
            ColType::Date => format!("({n} - date '1970-01-01')::numeric"),
            ColType::Timestamptz => format!("extract(epoch from {n})::bigint::numeric"),
            ColType::Bool => format!("{n}::int::numeric"),
            ColType::Text | ColType::Char(_) => {
                format!("('x' || substr(md5({n}::text), 1, 16))::bit(64)::bigint::numeric")
            }
        };
        parts.push(format!("count({n})::text"));
        parts.push(format!("coalesce(sum({value}), 0)::text"));
    }
    format!("SELECT {} FROM {}", parts.join(", "), table.name)
}

/// Parse the row `sql` returns.
pub fn parse(values: &[String], columns: usize) -> Option<TableDigest> {
    let mut d = TableDigest::new(columns);
    d.rows = values.first()?.parse().ok()?;
    for (i, c) in d.columns.iter_mut().enumerate() {
        c.non_null = values.get(1 + 2 * i)?.parse().ok()?;
        c.sum = values.get(2 + 2 * i)?.parse().ok()?;
    }
    Some(d)
}
