//! Apache Parquet: finseed encodes the pages ([`chunk`]), the `parquet` crate writes page
//! headers, metadata and the file (no Arrow arrays).
//!
//! The encoder gathers one chunk's values column by column (repeated text as keys into the
//! chunk's [`dict::Dict`]), then encodes and compresses each column chunk on the worker thread
//! that generated it ([`Parquet::row_groups`]). The file sink
//! only splices the finished column chunks into the file in chunk order
//! ([`append_row_groups`]), as tpchgen-cli does with Arrow's column writers: encoding runs in
//! parallel, and the file is the same whatever the thread count.
//!
//! Types follow the DDL exactly: numeric(p,s) is DECIMAL(p,s) stored as INT32 (p ≤ 9) or INT64
//! integers of the smallest unit, date is DATE, timestamptz is TIMESTAMP(MICROS, UTC-adjusted),
//! bigint INT64, integer INT32, boolean BOOLEAN, text and char(n) STRING; NOT NULL columns are
//! REQUIRED and the others OPTIONAL. Money never passes through a float.

mod chunk;
mod delta;
mod dict;
mod rle;

use super::compress::{Compression, DEFAULT_ZSTD_LEVEL};
use super::{ColType, Column, Encoder};
use crate::error::{Error, Result};
use crate::table::TableSpec;
use bytes::Bytes;
use parquet::basic::{
    Compression as PqCompression, LogicalType, Repetition, TimeUnit, Type as Physical, ZstdLevel,
};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesPtr};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{SchemaDescriptor, Type, TypePtr};
use std::cell::RefCell;
use std::io::Write;
use std::sync::Arc;

/// Pinned `created_by`: the writer's default names the crate version, and the files must not
/// change with anything but the data and these settings.
pub const CREATED_BY: &str = "finseed (parquet-rs)";

/// Writer settings shared by every chunk of a run.
#[derive(Clone, Debug)]
pub struct ParquetOptions {
    /// zstd (default, level 3), snappy or none.
    pub compression: Compression,
    /// Rows per row group at most; `None`: one row group per generator chunk.
    pub row_group_rows: Option<usize>,
    /// Bytes per row group at most, counted as the values' plain-encoded size before
    /// compression (8 per int64 and timestamp, 4 per int32, decimal(≤9) and date, 1 per
    /// boolean, 4 plus the length per string, 0 per null); a row larger than the limit is a
    /// group of its own. `None`: no byte limit.
    pub row_group_bytes: Option<u64>,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        ParquetOptions {
            compression: Compression::Zstd(DEFAULT_ZSTD_LEVEL),
            row_group_rows: None,
            row_group_bytes: None,
        }
    }
}

/// `--row-group-bytes`: a positive size in bytes, with an optional suffix `K`, `M` or `G`
/// (powers of 1024: `64M` is 67,108,864 bytes).
pub fn parse_row_group_bytes(s: &str) -> Result<u64> {
    let bad = |why: &str| {
        Error::Usage(format!(
            "--row-group-bytes: `{s}` {why}\n  fix: give a positive size in bytes, e.g. 134217728, 128M or 1G (K, M, G are powers of 1024)"
        ))
    };
    let t = s.trim();
    let (digits, mul) = match t.as_bytes().last() {
        Some(b'K' | b'k') => (&t[..t.len() - 1], 1u64 << 10),
        Some(b'M' | b'm') => (&t[..t.len() - 1], 1 << 20),
        Some(b'G' | b'g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    let n: u64 = digits.parse().map_err(|_| bad("is not a size"))?;
    let n = n.checked_mul(mul).ok_or_else(|| bad("is too large"))?;
    if n == 0 {
        return Err(bad("is 0 bytes"));
    }
    Ok(n)
}

/// String columns whose values are (nearly) unique per row: a dictionary would only be built to
/// be thrown away, so they are written plain. Every other string column is dictionary-encoded
/// (currency, status, type, merchant, description, city, …): few distinct values, many rows.
const UNIQUE_TEXT: [&str; 6] = [
    "full_name",
    "email",
    "cpf",
    "phone",
    "password_hash",
    "body",
];

/// The Parquet schema and writer properties of a table.
pub struct TableSchema {
    pub schema: TypePtr,
    pub descr: Arc<SchemaDescriptor>,
    pub props: WriterPropertiesPtr,
}

pub fn table_schema(table: &TableSpec, opts: &ParquetOptions) -> Result<TableSchema> {
    let err = |e: parquet::errors::ParquetError| {
        Error::Failed(format!("parquet schema of {}: {e}", table.name))
    };
    let mut fields = Vec::new();
    for c in table.columns {
        let (physical, logical, precision, scale) = match c.ty {
            ColType::BigInt => (Physical::INT64, None, -1, -1),
            ColType::Int => (Physical::INT32, None, -1, -1),
            ColType::Text | ColType::Char(_) => {
                (Physical::BYTE_ARRAY, Some(LogicalType::String), -1, -1)
            }
            ColType::Numeric(p, s) => (
                if p <= 9 {
                    Physical::INT32
                } else {
                    Physical::INT64
                },
                Some(LogicalType::decimal(s as i32, p as i32)),
                p as i32,
                s as i32,
            ),
            ColType::Date => (Physical::INT32, Some(LogicalType::Date), -1, -1),
            ColType::Timestamptz => (
                Physical::INT64,
                Some(LogicalType::timestamp(true, TimeUnit::MICROS)),
                -1,
                -1,
            ),
            ColType::Bool => (Physical::BOOLEAN, None, -1, -1),
        };
        let t = Type::primitive_type_builder(c.name, physical)
            .with_repetition(if c.nullable {
                Repetition::OPTIONAL
            } else {
                Repetition::REQUIRED
            })
            .with_logical_type(logical)
            .with_precision(precision)
            .with_scale(scale)
            .build()
            .map_err(err)?;
        fields.push(Arc::new(t));
    }
    let schema = Arc::new(
        Type::group_type_builder("schema")
            .with_fields(fields)
            .build()
            .map_err(err)?,
    );
    let descr = Arc::new(SchemaDescriptor::new(schema.clone()));
    let compression = match opts.compression {
        Compression::None => PqCompression::UNCOMPRESSED,
        Compression::Snappy => PqCompression::SNAPPY,
        Compression::Zstd(level) => PqCompression::ZSTD(ZstdLevel::try_new(level).map_err(|e| {
            Error::Usage(format!(
                "--compression: zstd level {level}: {e}\n  fix: use a level from 1 to 22, e.g. zstd:3"
            ))
        })?),
        Compression::Gzip(_) => {
            return Err(Error::Usage(
                "--compression: gzip is for csv and jsonl\n  fix: for parquet use zstd, zstd:LEVEL, snappy or none".into(),
            ))
        }
    };
    // Only the file's own settings: finseed writes the column chunks itself (`chunk`), with
    // dictionaries for text other than UNIQUE_TEXT, chunk statistics and page indexes.
    let b = WriterProperties::builder()
        .set_created_by(CREATED_BY.to_string())
        .set_compression(compression)
        .set_statistics_enabled(EnabledStatistics::Page);
    Ok(TableSchema {
        schema,
        descr,
        props: Arc::new(b.build()),
    })
}

/// One column's values of a chunk. Nullable columns keep a definition level per row (1 = value).
enum Values {
    I64(Vec<i64>),
    I32(Vec<i32>),
    Bool(Vec<bool>),
    /// Strings written PLAIN, as one byte buffer and the end offset of each value.
    Text(Vec<u8>, Vec<u32>),
    /// Dictionary-encoded strings: the chunk's distinct values and each row's key.
    Dict(Box<dict::Dict>, Vec<u32>),
}

struct ColBuf {
    col: Column,
    values: Values,
    defs: Vec<u8>,
}

/// A chunk's column chunks, encoded and compressed: one entry per row group, holding the bytes
/// and closing metadata of every column in schema order.
pub type RowGroup = Vec<(Bytes, ColumnCloseResult)>;

pub struct Parquet {
    table: &'static TableSpec,
    cols: Vec<ColBuf>,
    field: usize,
    rows: usize,
    opts: ParquetOptions,
}

thread_local! {
    /// The column buffers of the last chunk each table encoded on this thread, emptied, kept
    /// for the next chunk: a chunk's values then go into memory that is already allocated and
    /// touched, instead of buffers that grow by doubling (copying what they hold each time)
    /// into fresh pages. One set per table and thread, so memory stays flat.
    static SPARE: RefCell<Vec<(&'static TableSpec, Vec<ColBuf>)>> = const { RefCell::new(Vec::new()) };
    /// The page compressor (for the compression it was made for) and the column writer's
    /// buffers, kept from chunk to chunk: a zstd context is costly to set up.
    static WORK: RefCell<Option<(Compression, chunk::Codec, chunk::Scratch)>> = const { RefCell::new(None) };
}

impl Parquet {
    pub fn with_options(table: &'static TableSpec, opts: ParquetOptions) -> Parquet {
        let spare = SPARE.with(|s| {
            let mut s = s.borrow_mut();
            let i = s.iter().position(|(t, _)| std::ptr::eq(*t, table))?;
            Some(s.swap_remove(i).1)
        });
        let cols = spare.unwrap_or_else(|| {
            table
                .columns
                .iter()
                .map(|c| ColBuf {
                    col: *c,
                    values: match c.ty {
                        ColType::BigInt | ColType::Timestamptz => Values::I64(Vec::new()),
                        ColType::Numeric(p, _) if p > 9 => Values::I64(Vec::new()),
                        ColType::Int | ColType::Date | ColType::Numeric(..) => {
                            Values::I32(Vec::new())
                        }
                        ColType::Bool => Values::Bool(Vec::new()),
                        ColType::Text | ColType::Char(_) if UNIQUE_TEXT.contains(&c.name) => {
                            Values::Text(Vec::new(), Vec::new())
                        }
                        ColType::Text | ColType::Char(_) => {
                            Values::Dict(Box::default(), Vec::new())
                        }
                    },
                    defs: Vec::new(),
                })
                .collect()
        });
        Parquet {
            table,
            cols,
            field: 0,
            rows: 0,
            opts,
        }
    }

    #[inline]
    fn next(&mut self) -> &mut ColBuf {
        let c = &mut self.cols[self.field];
        self.field += 1;
        if c.col.nullable {
            c.defs.push(1);
        }
        c
    }

    /// Where the chunk's row groups end: every `row_group_rows` rows, and before a row that
    /// would take the group past `row_group_bytes`. Both depend on the rows alone, so the
    /// groups are the same at any thread count.
    fn group_ends(&self) -> Vec<usize> {
        let per_group = self.opts.row_group_rows.unwrap_or(usize::MAX).max(1);
        let Some(limit) = self.opts.row_group_bytes else {
            return (1..=self.rows.div_ceil(per_group))
                .map(|k| (k * per_group).min(self.rows))
                .collect();
        };
        let sizes = self.row_sizes();
        let mut ends = Vec::new();
        let (mut rows, mut bytes) = (0usize, 0u64);
        for (i, &b) in sizes.iter().enumerate() {
            if rows > 0 && (rows == per_group || bytes + b > limit) {
                ends.push(i);
                rows = 0;
                bytes = 0;
            }
            rows += 1;
            bytes += b;
        }
        if rows > 0 {
            ends.push(self.rows);
        }
        ends
    }

    /// The plain-encoded size of each row's values (see [`ParquetOptions::row_group_bytes`]).
    fn row_sizes(&self) -> Vec<u64> {
        let mut sizes = vec![0u64; self.rows];
        for c in &self.cols {
            let fixed = match &c.values {
                Values::I64(_) => 8,
                Values::I32(_) => 4,
                Values::Bool(_) => 1,
                Values::Text(..) | Values::Dict(..) => 4,
            };
            let mut v = 0usize;
            for (row, size) in sizes.iter_mut().enumerate() {
                if c.col.nullable && c.defs[row] == 0 {
                    continue;
                }
                *size += fixed;
                match &c.values {
                    Values::Text(_, ends) => {
                        let a = if v == 0 { 0 } else { ends[v - 1] };
                        *size += (ends[v] - a) as u64;
                    }
                    Values::Dict(d, keys) => *size += d.get(keys[v]).len() as u64,
                    _ => {}
                }
                v += 1;
            }
        }
        sizes
    }

    /// Encode and compress the chunk's columns: the work that runs on the worker threads.
    pub fn row_groups(&mut self, schema: &TableSchema) -> Result<Vec<RowGroup>> {
        let err = |e: parquet::errors::ParquetError| {
            Error::Failed(format!("parquet encoding of {}: {e}", self.table.name))
        };
        let (mut codec, mut scratch) = WORK
            .with(|w| w.borrow_mut().take())
            .filter(|(c, ..)| *c == self.opts.compression)
            .map(|(_, codec, scratch)| (codec, scratch))
            .map_or_else(
                || {
                    Ok((
                        chunk::Codec::new(self.opts.compression).map_err(err)?,
                        Default::default(),
                    ))
                },
                Ok,
            )?;
        let mut groups = Vec::new();
        // Per column: the next value index (values skip null rows).
        let mut next_value = vec![0usize; self.cols.len()];
        let mut start = 0;
        let ends = self.group_ends();
        let one_group = ends.len() == 1;
        for end in ends {
            let mut group = Vec::with_capacity(self.cols.len());
            for (i, c) in self.cols.iter().enumerate() {
                let defs = c.col.nullable.then(|| &c.defs[start..end]);
                let n = defs.map_or(end - start, |d| d.iter().filter(|&&x| x == 1).count());
                let v0 = next_value[i];
                next_value[i] += n;
                let values = match &c.values {
                    Values::I64(v) => chunk::Values::I64(&v[v0..v0 + n]),
                    Values::I32(v) => chunk::Values::I32(&v[v0..v0 + n]),
                    Values::Bool(v) => chunk::Values::Bool(&v[v0..v0 + n]),
                    Values::Text(data, ends) => chunk::Values::Text {
                        data,
                        ends,
                        first: v0,
                        n,
                    },
                    Values::Dict(dict, keys) => chunk::Values::Dict {
                        dict,
                        keys: &keys[v0..v0 + n],
                        whole: one_group,
                    },
                };
                let descr = schema.descr.column(i);
                let kind = schema.props.compression(descr.path());
                group.push(
                    chunk::write(
                        &descr,
                        end - start,
                        defs,
                        values,
                        &mut codec,
                        kind,
                        &mut scratch,
                    )
                    .map_err(err)?,
                );
            }
            groups.push(group);
            start = end;
        }
        let _ = WORK.try_with(|w| *w.borrow_mut() = Some((self.opts.compression, codec, scratch)));
        Ok(groups)
    }
}

impl Drop for Parquet {
    /// Hand the emptied column buffers to the next chunk of this table on this thread.
    fn drop(&mut self) {
        let mut cols = std::mem::take(&mut self.cols);
        for c in &mut cols {
            c.defs.clear();
            match &mut c.values {
                Values::I64(v) => v.clear(),
                Values::I32(v) => v.clear(),
                Values::Bool(v) => v.clear(),
                Values::Text(data, ends) => {
                    data.clear();
                    ends.clear();
                }
                Values::Dict(dict, keys) => {
                    dict.clear();
                    keys.clear();
                }
            }
        }
        let table = self.table;
        // Never while the thread is being torn down.
        let _ = SPARE.try_with(|s| {
            let mut s = s.borrow_mut();
            s.retain(|(t, _)| !std::ptr::eq(*t, table));
            s.push((table, cols));
        });
    }
}

/// Splice encoded row groups into a file writer, in order.
pub fn append_row_groups<W: Write + Send>(
    w: &mut SerializedFileWriter<W>,
    groups: Vec<RowGroup>,
) -> parquet::errors::Result<()> {
    for g in groups {
        let mut rg = w.next_row_group()?;
        for (bytes, close) in g {
            rg.append_column(&bytes, close)?;
        }
        rg.close()?;
    }
    Ok(())
}

impl Parquet {
    /// A text into the next column: as its dictionary key (found by `key`), or its bytes.
    #[inline]
    fn push_text(&mut self, s: &str, key: impl FnOnce(&mut dict::Dict) -> u32) {
        match &mut self.next().values {
            Values::Dict(dict, keys) => keys.push(key(dict)),
            Values::Text(data, ends) => {
                data.extend_from_slice(s.as_bytes());
                ends.push(data.len() as u32);
            }
            _ => unreachable!("text into a non-text column"),
        }
    }
}

impl Encoder for Parquet {
    fn new(table: &'static TableSpec, _buf: Vec<u8>) -> Self {
        Parquet::with_options(table, ParquetOptions::default())
    }
    #[inline]
    fn begin(&mut self) {
        self.field = 0;
    }
    #[inline]
    fn int(&mut self, v: i64) {
        match &mut self.next().values {
            Values::I64(x) => x.push(v),
            Values::I32(x) => x.push(v as i32),
            _ => unreachable!("int into a non-integer column"),
        }
    }
    #[inline]
    fn text(&mut self, s: &str) {
        self.push_text(s, |d| d.key(s.as_bytes()))
    }
    #[inline]
    fn text_static(&mut self, s: &'static str) {
        self.push_text(s, |d| d.key_static(s.as_bytes()))
    }
    #[inline]
    fn null(&mut self) {
        let c = &mut self.cols[self.field];
        debug_assert!(
            c.col.nullable,
            "{}.{} is NOT NULL",
            self.table.name, c.col.name
        );
        self.field += 1;
        c.defs.push(0);
    }
    #[inline]
    fn decimal(&mut self, units: i64, scale: u32) {
        let c = self.next();
        debug_assert!(matches!(c.col.ty, ColType::Numeric(_, s) if s as u32 == scale));
        match &mut c.values {
            Values::I64(x) => x.push(units),
            Values::I32(x) => x.push(units as i32),
            _ => unreachable!("decimal into a non-decimal column"),
        }
    }
    #[inline]
    fn date(&mut self, days: i32) {
        match &mut self.next().values {
            Values::I32(x) => x.push(days),
            _ => unreachable!("date into a non-date column"),
        }
    }
    #[inline]
    fn timestamp(&mut self, secs: i64) {
        match &mut self.next().values {
            Values::I64(x) => x.push(secs * 1_000_000),
            _ => unreachable!("timestamp into a non-timestamp column"),
        }
    }
    #[inline]
    fn boolean(&mut self, b: bool) {
        match &mut self.next().values {
            Values::Bool(x) => x.push(b),
            _ => unreachable!("boolean into a non-boolean column"),
        }
    }
    #[inline]
    fn end(&mut self) {
        debug_assert_eq!(self.field, self.cols.len(), "{}", self.table.name);
        self.rows += 1;
    }
    /// The chunk as a standalone Parquet file (the generate command splices row groups instead).
    fn take(&mut self) -> Vec<u8> {
        let mut run = || -> Result<Vec<u8>> {
            let schema = table_schema(self.table, &self.opts)?;
            let groups = self.row_groups(&schema)?;
            let mut w =
                SerializedFileWriter::new(Vec::new(), schema.schema.clone(), schema.props.clone())
                    .map_err(|e| Error::Failed(e.to_string()))?;
            append_row_groups(&mut w, groups).map_err(|e| Error::Failed(e.to_string()))?;
            w.into_inner().map_err(|e| Error::Failed(e.to_string()))
        };
        run().expect("parquet encoding of an in-memory chunk")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{col, null_col};
    use parquet::basic::Encoding;
    use parquet::data_type::Decimal;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    static COLS: [Column; 7] = [
        col("id", ColType::BigInt),
        null_col("n", ColType::BigInt),
        null_col("day", ColType::Date),
        col("at", ColType::Timestamptz),
        col("amount", ColType::Numeric(14, 2)),
        null_col("score", ColType::Numeric(4, 3)),
        col("flag", ColType::Bool),
    ];
    static TABLE: TableSpec = TableSpec {
        name: "t",
        columns: &COLS,
    };

    /// Row `i` of the test table: every integer encoding edge (sequential keys, a column null
    /// for whole pages, wrapping deltas at the type's ends, negative and huge money), as
    /// parquet-rs's own reader should give it back.
    fn row(i: i64) -> Vec<Field> {
        let wild = (i * 2_654_435_761) % 1_000_003 - 500_000;
        vec![
            Field::Long(1000 + i),
            // Null for the first 45,000 rows: two whole pages of nulls only, then a mix.
            if i < 45_000 || i % 3 == 0 {
                Field::Null
            } else if i % 7 == 0 {
                Field::Long(if i % 2 == 0 { i64::MAX } else { i64::MIN })
            } else {
                Field::Long(wild)
            },
            if i % 5 == 0 {
                Field::Null
            } else {
                Field::Date(if i % 11 == 0 {
                    i32::MIN
                } else {
                    19_000 + (i % 400) as i32
                })
            },
            Field::TimestampMicros(1_700_000_000_000_000 + wild * 1_000_003),
            Field::Decimal(Decimal::from_i64(wild * 10_000_007, 14, 2)),
            if i % 2 == 0 {
                Field::Null
            } else {
                Field::Decimal(Decimal::from_i32((i % 10_000) as i32 - 5_000, 4, 3))
            },
            Field::Bool(i % 3 == 1),
        ]
    }

    fn put(e: &mut Parquet, f: &Field) {
        match f {
            Field::Null => e.null(),
            Field::Long(v) => e.int(*v),
            Field::Date(d) => e.date(*d),
            Field::TimestampMicros(us) => e.timestamp(us / 1_000_000),
            Field::Decimal(Decimal::Int64 { value, scale, .. }) => {
                e.decimal(i64::from_be_bytes(*value), *scale as u32)
            }
            Field::Decimal(Decimal::Int32 { value, scale, .. }) => {
                e.decimal(i32::from_be_bytes(*value) as i64, *scale as u32)
            }
            Field::Bool(b) => e.boolean(*b),
            f => unreachable!("{f:?}"),
        }
    }

    #[test]
    fn parquet_rs_reads_back_every_value_of_delta_pages() {
        let n = 70_001;
        let mut e = Parquet::with_options(&TABLE, ParquetOptions::default());
        let mut want = Vec::new();
        for i in 0..n {
            let mut r = row(i);
            // Whole seconds: what the encoder takes.
            if let Field::TimestampMicros(us) = &mut r[3] {
                *us -= us.rem_euclid(1_000_000);
            }
            e.begin();
            for f in &r {
                put(&mut e, f);
            }
            e.end();
            want.push(r);
        }
        let file = SerializedFileReader::new(Bytes::from(e.take())).unwrap();
        let md = file.metadata();
        let enc: Vec<_> = md.row_group(0).column(1).encodings().collect();
        assert!(enc.contains(&Encoding::DELTA_BINARY_PACKED), "{enc:?}");
        let mut got = 0;
        for (i, r) in file.get_row_iter(None).unwrap().enumerate() {
            let r = r.unwrap();
            let fields: Vec<Field> = r.get_column_iter().map(|(_, f)| f.clone()).collect();
            assert_eq!(fields, want[i], "row {i}");
            got += 1;
        }
        assert_eq!(got, n as usize);
    }
}
