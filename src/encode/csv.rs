//! CSV per RFC 4180: a header row, CRLF-free `\n` line ends, fields quoted only when they hold
//! a comma, a quote or a line break. NULL is an empty unquoted field and the empty string is
//! `""`, which is what PostgreSQL's `COPY … (FORMAT csv)` reads back as NULL and '' respectively.

use super::{write_decimal, Encoder};
use crate::civil;
use crate::table::TableSpec;

/// Bytes that force quoting.
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    t[b',' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t
};

pub struct Csv {
    out: Vec<u8>,
    first: bool,
}

impl Csv {
    /// The header line for a table.
    pub fn header(table: &TableSpec) -> Vec<u8> {
        let mut h = table
            .columns
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(",")
            .into_bytes();
        h.push(b'\n');
        h
    }

    #[inline]
    fn sep(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.out.push(b',');
        }
    }
}

impl Encoder for Csv {
    fn new(_table: &'static TableSpec, mut buf: Vec<u8>) -> Self {
        buf.clear();
        Csv {
            out: buf,
            first: true,
        }
    }
    #[inline]
    fn begin(&mut self) {
        self.first = true;
    }
    #[inline]
    fn int(&mut self, v: i64) {
        self.sep();
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }
    #[inline]
    fn text(&mut self, s: &str) {
        self.sep();
        let needs = s.is_empty() || s.bytes().any(|b| SPECIAL[b as usize]);
        if !needs {
            self.out.extend_from_slice(s.as_bytes());
            return;
        }
        self.out.push(b'"');
        for &b in s.as_bytes() {
            if b == b'"' {
                self.out.push(b'"');
            }
            self.out.push(b);
        }
        self.out.push(b'"');
    }
    #[inline]
    fn null(&mut self) {
        self.sep();
    }
    #[inline]
    fn decimal(&mut self, units: i64, scale: u32) {
        self.sep();
        write_decimal(&mut self.out, units, scale);
    }
    #[inline]
    fn date(&mut self, days: i32) {
        self.sep();
        civil::write_date(&mut self.out, days);
    }
    #[inline]
    fn timestamp(&mut self, secs: i64) {
        self.sep();
        civil::write_timestamp(&mut self.out, secs);
    }
    #[inline]
    fn boolean(&mut self, b: bool) {
        self.sep();
        self.out.push(if b { b't' } else { b'f' });
    }
    #[inline]
    fn end(&mut self) {
        self.out.push(b'\n');
    }
    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}
