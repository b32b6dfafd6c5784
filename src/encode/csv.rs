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

/// Whether a field must be quoted: empty, or holding a byte of [`SPECIAL`]. Eight bytes at a
/// time (a byte equal to c is a zero byte of `v ^ c…c`, found by the exact zero-byte test),
/// the last eight overlapping the ones before; strings under eight bytes go byte by byte.
#[inline]
fn needs_quotes(s: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    #[inline]
    fn special(v: u64) -> bool {
        let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
        (zero(v ^ (LO * b',' as u64))
            | zero(v ^ (LO * b'"' as u64))
            | zero(v ^ (LO * b'\n' as u64))
            | zero(v ^ (LO * b'\r' as u64)))
            != 0
    }
    let n = s.len();
    if n < 8 {
        return n == 0 || s.iter().any(|&b| SPECIAL[b as usize]);
    }
    let word = |at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    let mut at = 0;
    while at + 8 < n {
        if special(word(at)) {
            return true;
        }
        at += 8;
    }
    special(word(n - 8))
}

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
        if !needs_quotes(s.as_bytes()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time test agrees with the byte table on every length and position.
    #[test]
    fn needs_quotes_matches_the_table() {
        let slow = |s: &[u8]| s.is_empty() || s.iter().any(|&b| SPECIAL[b as usize]);
        for n in 0..40 {
            let plain: Vec<u8> = (0..n).map(|i| b'A' + (i % 26) as u8).collect();
            assert_eq!(needs_quotes(&plain), slow(&plain));
            for at in 0..n {
                for b in [
                    b',', b'"', b'\n', b'\r', b'+', b'-', b'!', 0x80, 0xff, 0x0b, 0x2d,
                ] {
                    let mut v = plain.clone();
                    v[at] = b;
                    assert_eq!(needs_quotes(&v), slow(&v), "{v:?}");
                }
            }
        }
        for s in [
            "Mercado São Jorge & Filhos",
            "a,b",
            "\"quoted\"",
            "éèàçÇ—€",
            "",
        ] {
            assert_eq!(needs_quotes(s.as_bytes()), slow(s.as_bytes()), "{s}");
        }
    }
}
