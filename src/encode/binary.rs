//! PostgreSQL binary COPY, encoded by hand straight into the chunk buffer.
//!
//! Each chunk is a complete COPY stream (header, tuples, trailer), so one chunk can be sent as
//! one `COPY … FROM STDIN (FORMAT binary)` in its own transaction. Writing the wire format
//! directly avoids `BinaryCopyInWriter`'s per-value `ToSql` dispatch and boxing.

use super::{ColType, Encoder};
use crate::table::TableSpec;

pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// The end of a binary COPY stream.
pub const TRAILER: [u8; 2] = (-1i16).to_be_bytes();
/// Days from 1970-01-01 to PostgreSQL's epoch 2000-01-01.
pub const PG_EPOCH_DAYS: i32 = 10_957;

pub struct Binary {
    out: Vec<u8>,
    table: &'static TableSpec,
    field: usize,
}

impl Binary {
    /// The bytes written so far, to move finished rows elsewhere (see `encode::monthly`).
    #[inline]
    pub fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    #[inline]
    fn ty(&mut self) -> ColType {
        let t = self.table.columns[self.field].ty;
        self.field += 1;
        t
    }
}

/// Appends a numeric value (`units` / 10^`scale`) in PostgreSQL's binary NUMERIC layout.
pub fn write_numeric(out: &mut Vec<u8>, units: i64, scale: u32) {
    debug_assert!(scale <= 4);
    let a = units.unsigned_abs();
    let p = 10u64.pow(scale);
    let mut ip = a / p;
    let frac = (a % p) * 10u64.pow(4 - scale);
    // Base-10000 digits of the integer part, most significant first.
    let mut int_digits = [0u16; 5];
    let mut n_int = 0;
    while ip > 0 {
        int_digits[n_int] = (ip % 10_000) as u16;
        ip /= 10_000;
        n_int += 1;
    }
    let mut digits = [0u16; 6];
    let mut nd = 0;
    for i in (0..n_int).rev() {
        digits[nd] = int_digits[i];
        nd += 1;
    }
    let mut weight: i16 = n_int as i16 - 1;
    if scale > 0 {
        digits[nd] = frac as u16;
        nd += 1;
    }
    // Strip leading zero digits (only possible when the integer part is 0).
    let mut start = 0;
    while start < nd && digits[start] == 0 {
        start += 1;
        weight -= 1;
    }
    while nd > start && digits[nd - 1] == 0 {
        nd -= 1;
    }
    let ndigits = nd - start;
    if ndigits == 0 {
        weight = 0;
    }
    let len = 8 + 2 * ndigits;
    out.extend_from_slice(&(len as i32).to_be_bytes());
    out.extend_from_slice(&(ndigits as i16).to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    let sign: u16 = if units < 0 { 0x4000 } else { 0 };
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&(scale as i16).to_be_bytes());
    for d in &digits[start..nd] {
        out.extend_from_slice(&d.to_be_bytes());
    }
}

impl Encoder for Binary {
    fn new(table: &'static TableSpec, mut out: Vec<u8>) -> Self {
        out.clear();
        out.extend_from_slice(HEADER);
        Binary {
            out,
            table,
            field: 0,
        }
    }
    #[inline]
    fn begin(&mut self) {
        self.field = 0;
        self.out
            .extend_from_slice(&(self.table.columns.len() as i16).to_be_bytes());
    }
    #[inline]
    fn int(&mut self, v: i64) {
        match self.ty() {
            ColType::Int => {
                self.out.extend_from_slice(&4i32.to_be_bytes());
                self.out.extend_from_slice(&(v as i32).to_be_bytes());
            }
            _ => {
                self.out.extend_from_slice(&8i32.to_be_bytes());
                self.out.extend_from_slice(&v.to_be_bytes());
            }
        }
    }
    #[inline]
    fn text(&mut self, s: &str) {
        self.field += 1;
        self.out.extend_from_slice(&(s.len() as i32).to_be_bytes());
        self.out.extend_from_slice(s.as_bytes());
    }
    #[inline]
    fn null(&mut self) {
        self.field += 1;
        self.out.extend_from_slice(&(-1i32).to_be_bytes());
    }
    #[inline]
    fn decimal(&mut self, units: i64, scale: u32) {
        self.field += 1;
        write_numeric(&mut self.out, units, scale);
    }
    #[inline]
    fn date(&mut self, days: i32) {
        self.field += 1;
        self.out.extend_from_slice(&4i32.to_be_bytes());
        self.out
            .extend_from_slice(&(days - PG_EPOCH_DAYS).to_be_bytes());
    }
    #[inline]
    fn timestamp(&mut self, secs: i64) {
        self.field += 1;
        let micros = (secs - PG_EPOCH_DAYS as i64 * 86_400) * 1_000_000;
        self.out.extend_from_slice(&8i32.to_be_bytes());
        self.out.extend_from_slice(&micros.to_be_bytes());
    }
    #[inline]
    fn boolean(&mut self, b: bool) {
        self.field += 1;
        self.out.extend_from_slice(&1i32.to_be_bytes());
        self.out.push(b as u8);
    }
    #[inline]
    fn end(&mut self) {
        debug_assert_eq!(self.field, self.table.columns.len());
    }
    fn take(&mut self) -> Vec<u8> {
        self.out.extend_from_slice(&TRAILER);
        std::mem::take(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(units: i64, scale: u32) -> Vec<u8> {
        let mut v = Vec::new();
        write_numeric(&mut v, units, scale);
        v
    }

    #[test]
    fn numeric_layout() {
        // 123.45 → digits [123, 4500], weight 0, dscale 2
        assert_eq!(
            enc(12345, 2),
            [0, 0, 0, 12, 0, 2, 0, 0, 0, 0, 0, 2, 0, 123, 0x11, 0x94]
        );
        // -0.05 → digits [500], weight -1, negative
        assert_eq!(
            enc(-5, 2),
            [0, 0, 0, 10, 0, 1, 0xff, 0xff, 0x40, 0, 0, 2, 0x01, 0xf4]
        );
        // 0 → no digits
        assert_eq!(enc(0, 2), [0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 2]);
        // 10000.00 → digits [1], weight 1
        assert_eq!(
            enc(1_000_000, 2),
            [0, 0, 0, 10, 0, 1, 0, 1, 0, 0, 0, 2, 0, 1]
        );
    }
}
