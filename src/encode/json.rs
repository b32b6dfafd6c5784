//! JSON objects, one per row. JSON Lines writes them one a line; the `json` format wraps the
//! same objects in an array. Each row is written with a leading `,\n` and the file sink drops
//! the very first one, so chunks stay independent of each other.
//!
//! Decimals never become JSON numbers with a fraction, which every JSON reader parses as a float:
//! by default they are strings with exactly the column's scale (`"amount":"1412.00"`), what an
//! API serialising PostgreSQL numeric sends (node-postgres, psycopg's JSON, Rails); with
//! `UNITS` they are integers of the smallest unit in a field named for it
//! (`"amount_cents":141200`, `"confidence_thousandths":870`). Dates and timestamps are ISO 8601
//! strings.

use super::{write_decimal, ColType, Encoder};
use crate::civil;
use crate::table::TableSpec;

/// `ARRAY`: array framing (`json`) instead of one object a line (`jsonl`). `UNITS`: decimals as
/// integers of the smallest unit instead of strings.
pub struct Json<const ARRAY: bool, const UNITS: bool = false> {
    out: Vec<u8>,
    table: &'static TableSpec,
    field: usize,
}

pub type JsonLines = Json<false>;
pub type JsonArray = Json<true>;
pub type JsonLinesUnits = Json<false, true>;
pub type JsonArrayUnits = Json<true, true>;

/// The JSON field name of a decimal of `scale` places written as integer units.
pub fn units_suffix(scale: u8) -> &'static str {
    match scale {
        0 => "",
        2 => "_cents",
        3 => "_thousandths",
        _ => "_units",
    }
}

impl<const ARRAY: bool, const UNITS: bool> Json<ARRAY, UNITS> {
    #[inline]
    fn key(&mut self) {
        self.key_with("");
    }
    #[inline]
    fn key_with(&mut self, suffix: &str) {
        let name = self.table.columns[self.field].name;
        if self.field > 0 {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(suffix.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.field += 1;
    }
}

/// Appends a JSON string literal.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(b"0123456789abcdef"[(b >> 4) as usize]);
                out.push(b"0123456789abcdef"[(b & 15) as usize]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

impl<const ARRAY: bool, const UNITS: bool> Encoder for Json<ARRAY, UNITS> {
    fn new(table: &'static TableSpec, mut buf: Vec<u8>) -> Self {
        buf.clear();
        Json {
            out: buf,
            table,
            field: 0,
        }
    }
    #[inline]
    fn begin(&mut self) {
        self.field = 0;
        self.out
            .extend_from_slice(if ARRAY { b",\n{" } else { b"{" });
    }
    #[inline]
    fn int(&mut self, v: i64) {
        self.key();
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }
    #[inline]
    fn text(&mut self, s: &str) {
        self.key();
        write_str(&mut self.out, s);
    }
    #[inline]
    fn null(&mut self) {
        match self.table.columns[self.field].ty {
            ColType::Numeric(_, scale) if UNITS => self.key_with(units_suffix(scale)),
            _ => self.key(),
        }
        self.out.extend_from_slice(b"null");
    }
    #[inline]
    fn decimal(&mut self, units: i64, scale: u32) {
        if UNITS {
            self.key_with(units_suffix(scale as u8));
            self.out
                .extend_from_slice(itoa::Buffer::new().format(units).as_bytes());
        } else {
            self.key();
            self.out.push(b'"');
            write_decimal(&mut self.out, units, scale);
            self.out.push(b'"');
        }
    }
    #[inline]
    fn date(&mut self, days: i32) {
        self.key();
        self.out.push(b'"');
        civil::write_date(&mut self.out, days);
        self.out.push(b'"');
    }
    #[inline]
    fn timestamp(&mut self, secs: i64) {
        self.key();
        self.out.push(b'"');
        civil::write_timestamp(&mut self.out, secs);
        self.out.push(b'"');
    }
    #[inline]
    fn boolean(&mut self, b: bool) {
        self.key();
        self.out
            .extend_from_slice(if b { b"true" } else { b"false" });
    }
    #[inline]
    fn end(&mut self) {
        debug_assert_eq!(self.field, self.table.columns.len(), "{}", self.table.name);
        self.out
            .extend_from_slice(if ARRAY { b"}" } else { b"}\n" });
    }
    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}
