//! The schema-map encoder: generators write finseed's columns as always; this encoder keeps one
//! row's values in a small array and, at the row's end, writes the target's columns in the
//! map's order with their conversions (see [`crate::map`]), as binary COPY or as a digest.
//!
//! The digest of a mapped column follows encode::digest's mapping applied to the converted
//! value, so `verify --map` compares the target's columns with what was sent: integers and
//! integer cents as themselves, numerics as units of the target's scale, UUIDs as their first
//! 8 bytes, dates as days, timestamps as seconds, text, enums and jsonb as the MD5 of their text
//! (jsonb in PostgreSQL's own output form, which the encoder writes).

use super::binary::{write_numeric, PG_EPOCH_DAYS};
use super::digest::{text_value, TableDigest};
use super::{write_decimal, Encoder};
use crate::map::{Conv, TablePlan};
use crate::table::TableSpec;
use std::sync::Arc;

const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// One captured value of the current row.
#[derive(Clone, Copy, Debug)]
enum Val {
    Null,
    Int(i64),
    /// A range of `Mapped::text`.
    Text(u32, u32),
    Dec(i64, u32),
    Date(i32),
    Ts(i64),
    Bool(bool),
}

enum Sink {
    Copy(Vec<u8>),
    Digest(TableDigest),
}

pub struct Mapped {
    plan: Arc<TablePlan>,
    vals: Vec<Val>,
    text: Vec<u8>,
    json: Vec<u8>,
    /// Per sent column of a jsonb object: each field's text up to its value (`{"key": ` or
    /// `, "key": `) and its source, worked out once.
    json_keys: Vec<Vec<(Vec<u8>, usize)>>,
    /// Per sent column: the last id turned into a UUID and that UUID (ids repeat row after
    /// row in foreign keys).
    last_uuid: Vec<(i64, [u8; 16])>,
    field: usize,
    sink: Sink,
}

/// The deterministic UUID of finseed's row `id` of `table`: a UUIDv8 (RFC 9562's custom
/// version) made of the XXH3-128 of a fixed namespace, the table name and the id. The same
/// (table, id) gives the same UUID in every run, shard and machine, so foreign keys (which map
/// the referenced table's ids) stay consistent.
pub fn uuid(table: &str, id: i64) -> [u8; 16] {
    let mut buf = [0u8; 64];
    let ns = b"finseed/v1/";
    let n = ns.len() + table.len();
    buf[..ns.len()].copy_from_slice(ns);
    buf[ns.len()..n].copy_from_slice(table.as_bytes());
    buf[n..n + 8].copy_from_slice(&id.to_be_bytes());
    let mut b = xxhash_rust::xxh3::xxh3_128(&buf[..n + 8]).to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// The UUID as text (`8-4-4-4-12`).
pub fn uuid_text(b: &[u8; 16]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn json_string(out: &mut Vec<u8>, s: &[u8]) {
    // As PostgreSQL's escape_json writes it; most generated values need no escape at all.
    if !s.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s);
        out.push(b'"');
        return;
    }
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c).as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

impl Mapped {
    fn with(plan: Arc<TablePlan>, sink: Sink) -> Mapped {
        let json_keys = plan
            .columns
            .iter()
            .map(|c| match &c.conv {
                Conv::Json { fields } => fields
                    .iter()
                    .enumerate()
                    .map(|(i, (k, src))| {
                        let mut p = if i == 0 {
                            b"{".to_vec()
                        } else {
                            b", ".to_vec()
                        };
                        json_string(&mut p, k.as_bytes());
                        p.extend_from_slice(b": ");
                        (p, *src)
                    })
                    .collect(),
                _ => Vec::new(),
            })
            .collect();
        Mapped {
            vals: vec![Val::Null; plan.table.columns.len()],
            json_keys,
            last_uuid: vec![(i64::MIN, [0; 16]); plan.columns.len()],
            plan,
            text: Vec::with_capacity(256),
            json: Vec::with_capacity(128),
            field: 0,
            sink,
        }
    }

    /// Binary COPY into the plan's target columns, written into `buf`.
    pub fn copy(plan: Arc<TablePlan>, mut buf: Vec<u8>) -> Mapped {
        buf.clear();
        buf.extend_from_slice(HEADER);
        Mapped::with(plan, Sink::Copy(buf))
    }

    /// The digest of the plan's target columns.
    pub fn digest(plan: Arc<TablePlan>) -> Mapped {
        let n = plan.columns.len();
        Mapped::with(plan, Sink::Digest(TableDigest::new(n)))
    }

    #[inline]
    fn put(&mut self, v: Val) {
        self.vals[self.field] = v;
        self.field += 1;
    }

    fn str(&self, a: u32, b: u32) -> &[u8] {
        &self.text[a as usize..b as usize]
    }

    /// Append the jsonb text of sent column `col` (a jsonb object) to `j`.
    fn json_into(&self, j: &mut Vec<u8>, col: usize) {
        let keys = &self.json_keys[col];
        if keys.is_empty() {
            j.extend_from_slice(b"{}");
            return;
        }
        for (prefix, src) in keys {
            j.extend_from_slice(prefix);
            match self.vals[*src] {
                Val::Null => j.extend_from_slice(b"null"),
                Val::Int(v) => j.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
                Val::Dec(u, s) => write_decimal(j, u, s),
                Val::Text(a, b) => json_string(j, self.str(a, b)),
                Val::Date(d) => {
                    j.push(b'"');
                    crate::civil::write_date(j, d);
                    j.push(b'"');
                }
                Val::Ts(t) => {
                    j.push(b'"');
                    crate::civil::write_timestamp(j, t);
                    j.push(b'"');
                }
                Val::Bool(b) => j.extend_from_slice(if b { b"true" } else { b"false" }),
            }
        }
        j.push(b'}');
    }

    /// The UUID of `id` of `table`, for sent column `col`.
    #[inline]
    fn uuid_at(&mut self, col: usize, table: &str, id: i64) -> [u8; 16] {
        let (last, u) = &mut self.last_uuid[col];
        if *last != id {
            *u = uuid(table, id);
            *last = id;
        }
        *u
    }

    fn scaled(v: Val, scale: u32) -> Option<i64> {
        match v {
            Val::Dec(u, s) => Some(u * 10i64.pow(scale.saturating_sub(s))),
            Val::Int(u) => Some(u * 10i64.pow(scale)),
            _ => None,
        }
    }

    fn write_copy(&mut self) {
        let plan = self.plan.clone();
        let Sink::Copy(mut out) = std::mem::replace(&mut self.sink, Sink::Copy(Vec::new())) else {
            unreachable!("copy sink")
        };
        out.extend_from_slice(&(plan.columns.len() as i16).to_be_bytes());
        for (i, c) in plan.columns.iter().enumerate() {
            let v = match &c.conv {
                Conv::Int { src, .. }
                | Conv::Numeric { src, .. }
                | Conv::Units { src, .. }
                | Conv::Uuid { src, .. }
                | Conv::Text { src }
                | Conv::Bool { src }
                | Conv::Date { src }
                | Conv::DateTime { src }
                | Conv::Timestamp { src } => self.vals[*src],
                Conv::Json { .. } | Conv::Const { .. } => Val::Null,
            };
            if matches!(v, Val::Null) && !matches!(c.conv, Conv::Json { .. } | Conv::Const { .. }) {
                out.extend_from_slice(&(-1i32).to_be_bytes());
                continue;
            }
            match &c.conv {
                Conv::Int { width, .. } | Conv::Units { width, .. } => {
                    let x = match v {
                        Val::Int(x) | Val::Dec(x, _) => x,
                        _ => 0,
                    };
                    match width {
                        2 => {
                            out.extend_from_slice(&2i32.to_be_bytes());
                            out.extend_from_slice(&(x as i16).to_be_bytes());
                        }
                        4 => {
                            out.extend_from_slice(&4i32.to_be_bytes());
                            out.extend_from_slice(&(x as i32).to_be_bytes());
                        }
                        _ => {
                            out.extend_from_slice(&8i32.to_be_bytes());
                            out.extend_from_slice(&x.to_be_bytes());
                        }
                    }
                }
                Conv::Numeric { scale, .. } => {
                    write_numeric(&mut out, Self::scaled(v, *scale).unwrap_or(0), *scale)
                }
                Conv::Uuid { table, .. } => {
                    let Val::Int(id) = v else {
                        unreachable!("ids are integers")
                    };
                    out.extend_from_slice(&16i32.to_be_bytes());
                    out.extend_from_slice(&self.uuid_at(i, table, id));
                }
                Conv::Text { .. } => {
                    let Val::Text(a, b) = v else {
                        unreachable!("text")
                    };
                    out.extend_from_slice(&((b - a) as i32).to_be_bytes());
                    out.extend_from_slice(&self.text[a as usize..b as usize]);
                }
                Conv::Bool { .. } => {
                    out.extend_from_slice(&1i32.to_be_bytes());
                    out.push(matches!(v, Val::Bool(true)) as u8);
                }
                Conv::Date { .. } => {
                    let Val::Date(d) = v else {
                        unreachable!("date")
                    };
                    out.extend_from_slice(&4i32.to_be_bytes());
                    out.extend_from_slice(&(d - PG_EPOCH_DAYS).to_be_bytes());
                }
                Conv::DateTime { .. } => {
                    let Val::Date(d) = v else {
                        unreachable!("date")
                    };
                    let micros = (d - PG_EPOCH_DAYS) as i64 * 86_400_000_000;
                    out.extend_from_slice(&8i32.to_be_bytes());
                    out.extend_from_slice(&micros.to_be_bytes());
                }
                Conv::Timestamp { .. } => {
                    let Val::Ts(s) = v else {
                        unreachable!("timestamp")
                    };
                    let micros = (s - PG_EPOCH_DAYS as i64 * 86_400) * 1_000_000;
                    out.extend_from_slice(&8i32.to_be_bytes());
                    out.extend_from_slice(&micros.to_be_bytes());
                }
                Conv::Json { .. } => {
                    // Length, jsonb's version byte, then the text straight into the chunk.
                    let at = out.len();
                    out.extend_from_slice(&[0, 0, 0, 0, 1]);
                    self.json_into(&mut out, i);
                    let n = (out.len() - at - 4) as i32;
                    out[at..at + 4].copy_from_slice(&n.to_be_bytes());
                }
                Conv::Const { field, .. } => out.extend_from_slice(field),
            }
        }
        self.sink = Sink::Copy(out);
    }

    fn write_digest(&mut self) {
        let plan = self.plan.clone();
        let mut sums: Vec<Option<i128>> = Vec::with_capacity(plan.columns.len());
        for (i, c) in plan.columns.iter().enumerate() {
            let v = |src: &usize| self.vals[*src];
            let d: Option<i128> = match &c.conv {
                Conv::Int { src, .. } | Conv::Units { src, .. } => match v(src) {
                    Val::Int(x) | Val::Dec(x, _) => Some(x as i128),
                    _ => None,
                },
                Conv::Numeric { src, scale } => Self::scaled(v(src), *scale).map(|x| x as i128),
                Conv::Uuid { src, table } => match v(src) {
                    Val::Int(id) => {
                        let u = uuid(table, id);
                        Some(i64::from_be_bytes(u[..8].try_into().expect("8 bytes")) as i128)
                    }
                    _ => None,
                },
                Conv::Text { src } => match v(src) {
                    Val::Text(a, b) => Some(text_value(
                        std::str::from_utf8(self.str(a, b)).expect("text is UTF-8"),
                    ) as i128),
                    _ => None,
                },
                Conv::Bool { src } => match v(src) {
                    Val::Bool(b) => Some(b as i128),
                    _ => None,
                },
                Conv::Date { src } => match v(src) {
                    Val::Date(d) => Some(d as i128),
                    _ => None,
                },
                Conv::DateTime { src } => match v(src) {
                    Val::Date(d) => Some(d as i128 * 86_400),
                    _ => None,
                },
                Conv::Timestamp { src } => match v(src) {
                    Val::Ts(s) => Some(s as i128),
                    _ => None,
                },
                Conv::Json { .. } => {
                    let mut j = std::mem::take(&mut self.json);
                    j.clear();
                    self.json_into(&mut j, i);
                    let d = text_value(std::str::from_utf8(&j).expect("UTF-8")) as i128;
                    self.json = j;
                    Some(d)
                }
                Conv::Const { digest, .. } => Some(*digest),
            };
            sums.push(d);
        }
        let Sink::Digest(t) = &mut self.sink else {
            unreachable!("digest sink")
        };
        t.rows += 1;
        for (col, d) in t.columns.iter_mut().zip(sums) {
            if let Some(d) = d {
                col.non_null += 1;
                col.sum += d;
            }
        }
    }
}

impl Encoder for Mapped {
    /// finseed's own columns unchanged (the identity map): the same bytes as `Binary`.
    fn new(table: &'static TableSpec, buf: Vec<u8>) -> Self {
        Mapped::copy(Arc::new(TablePlan::identity(table)), buf)
    }
    #[inline]
    fn begin(&mut self) {
        self.field = 0;
        self.text.clear();
    }
    #[inline]
    fn int(&mut self, v: i64) {
        self.put(Val::Int(v))
    }
    #[inline]
    fn text(&mut self, s: &str) {
        let a = self.text.len() as u32;
        self.text.extend_from_slice(s.as_bytes());
        self.put(Val::Text(a, self.text.len() as u32))
    }
    #[inline]
    fn null(&mut self) {
        self.put(Val::Null)
    }
    #[inline]
    fn decimal(&mut self, units: i64, scale: u32) {
        self.put(Val::Dec(units, scale))
    }
    #[inline]
    fn date(&mut self, days: i32) {
        self.put(Val::Date(days))
    }
    #[inline]
    fn timestamp(&mut self, secs: i64) {
        self.put(Val::Ts(secs))
    }
    #[inline]
    fn boolean(&mut self, b: bool) {
        self.put(Val::Bool(b))
    }
    fn end(&mut self) {
        debug_assert_eq!(self.field, self.plan.table.columns.len());
        match self.sink {
            Sink::Copy(_) => self.write_copy(),
            Sink::Digest(_) => self.write_digest(),
        }
    }
    fn take(&mut self) -> Vec<u8> {
        match &mut self.sink {
            Sink::Copy(out) => {
                out.extend_from_slice(&(-1i16).to_be_bytes());
                std::mem::take(out)
            }
            Sink::Digest(d) => {
                let b = d.to_bytes();
                *d = TableDigest::new(self.plan.columns.len());
                b
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::binary::Binary;
    use crate::gen::Group;
    use crate::pipeline::{produce, Buffers};

    #[test]
    fn the_identity_map_writes_binary_copy_byte_for_byte() {
        let w = crate::model::World::new(crate::profile::Profile::load("ci").unwrap());
        for g in Group::ALL {
            let wanted = vec![true; g.tables().len()];
            let a = produce::<Binary>(&w, g, 0, &wanted, &Buffers::default());
            let b = produce::<Mapped>(&w, g, 0, &wanted, &Buffers::default());
            assert_eq!(a.tables, b.tables, "{g:?}");
        }
    }

    #[test]
    fn uuids_are_deterministic_version_8_and_per_table() {
        let a = uuid("users", 42);
        assert_eq!(a, uuid("users", 42));
        assert_ne!(a, uuid("contexts", 42));
        assert_ne!(a, uuid("users", 43));
        assert_eq!(a[6] >> 4, 8);
        assert_eq!(a[8] >> 6, 0b10);
        assert_eq!(uuid_text(&a).len(), 36);
    }

    #[test]
    fn json_strings_escape_as_postgres_does() {
        let mut v = Vec::new();
        json_string(&mut v, "a\"b\\c\nd\u{1}é".as_bytes());
        assert_eq!(String::from_utf8(v).unwrap(), "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }
}
