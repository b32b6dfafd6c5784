//! Apache Parquet, through the `parquet` crate's low-level column writers (no Arrow arrays).
//!
//! The encoder gathers one chunk's values column by column, then encodes and compresses each
//! column chunk on the worker thread that generated it ([`Parquet::row_groups`]). The file sink
//! only splices the finished column chunks into the file in chunk order
//! ([`append_row_groups`]), as tpchgen-cli does with Arrow's column writers: encoding runs in
//! parallel, and the file is the same whatever the thread count.
//!
//! Types follow the DDL exactly: numeric(p,s) is DECIMAL(p,s) stored as INT32 (p ≤ 9) or INT64
//! integers of the smallest unit, date is DATE, timestamptz is TIMESTAMP(MICROS, UTC-adjusted),
//! bigint INT64, integer INT32, boolean BOOLEAN, text and char(n) STRING; NOT NULL columns are
//! REQUIRED and the others OPTIONAL. Money never passes through a float.

use super::compress::{Compression, DEFAULT_ZSTD_LEVEL};
use super::{ColType, Column, Encoder};
use crate::error::{Error, Result};
use crate::table::TableSpec;
use bytes::Bytes;
use parquet::basic::{
    Compression as PqCompression, LogicalType, Repetition, TimeUnit, Type as Physical, ZstdLevel,
};
use parquet::column::writer::{get_column_writer, ColumnCloseResult, ColumnWriter};
use parquet::data_type::{AsBytes, ByteArray};
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesPtr};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedFileWriter, SerializedPageWriter, TrackedWrite};
use parquet::schema::types::{ColumnPath, SchemaDescriptor, Type, TypePtr};
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
    let mut b = WriterProperties::builder()
        .set_created_by(CREATED_BY.to_string())
        .set_compression(compression)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(false)
        .set_max_row_group_row_count(None);
    for c in table.columns {
        let text = matches!(c.ty, ColType::Text | ColType::Char(_));
        if text && !UNIQUE_TEXT.contains(&c.name) {
            b = b.set_column_dictionary_enabled(ColumnPath::from(c.name), true);
        }
    }
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
    /// Strings as one byte buffer and the end offset of each value.
    Text(Vec<u8>, Vec<u32>),
}

struct ColBuf {
    col: Column,
    values: Values,
    defs: Vec<i16>,
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
    /// Likewise the (emptied) vector of text values a column writer is handed.
    static SPARE_VALUES: RefCell<Vec<ByteArray>> = const { RefCell::new(Vec::new()) };
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
                        ColType::Text | ColType::Char(_) => Values::Text(Vec::new(), Vec::new()),
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
                Values::Text(..) => 4,
            };
            let mut v = 0usize;
            for (row, size) in sizes.iter_mut().enumerate() {
                if c.col.nullable && c.defs[row] == 0 {
                    continue;
                }
                *size += fixed;
                if let Values::Text(_, ends) = &c.values {
                    let a = if v == 0 { 0 } else { ends[v - 1] };
                    *size += (ends[v] - a) as u64;
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
        let mut groups = Vec::new();
        // The text values handed to the column writers, in memory kept from the last chunk.
        let mut vals = SPARE_VALUES.with(|v| std::mem::take(&mut *v.borrow_mut()));
        // Per column: the next value index (values skip null rows).
        let mut next_value = vec![0usize; self.cols.len()];
        let mut start = 0;
        for end in self.group_ends() {
            let mut group = Vec::with_capacity(self.cols.len());
            for (i, c) in self.cols.iter_mut().enumerate() {
                let defs = if c.col.nullable {
                    Some(&c.defs[start..end])
                } else {
                    None
                };
                let n = defs.map_or(end - start, |d| d.iter().filter(|&&x| x == 1).count());
                let v0 = next_value[i];
                next_value[i] += n;
                let mut sink = TrackedWrite::new(Vec::new());
                let close = {
                    let page_writer = Box::new(SerializedPageWriter::new(&mut sink));
                    let mut w = get_column_writer(
                        schema.descr.column(i),
                        schema.props.clone(),
                        page_writer,
                    );
                    match (&mut w, &mut c.values) {
                        (ColumnWriter::Int64ColumnWriter(w), Values::I64(v)) => {
                            w.write_batch(&v[v0..v0 + n], defs, None).map_err(err)?;
                        }
                        (ColumnWriter::Int32ColumnWriter(w), Values::I32(v)) => {
                            w.write_batch(&v[v0..v0 + n], defs, None).map_err(err)?;
                        }
                        (ColumnWriter::BoolColumnWriter(w), Values::Bool(v)) => {
                            w.write_batch(&v[v0..v0 + n], defs, None).map_err(err)?;
                        }
                        (ColumnWriter::ByteArrayColumnWriter(w), Values::Text(data, ends)) => {
                            // Each value is a slice of the column's buffer, lent to the writer
                            // without a reference count: `Bytes::from_static` clones and drops
                            // for free, where a shared `Bytes` pays two atomic operations per
                            // value (about a tenth of the encoding time).
                            //
                            // SAFETY: `data` is neither changed nor freed until this function
                            // returns, and no slice of it outlives the call: `vals` is emptied
                            // right after `write_batch`, the column writer (dictionary, page
                            // statistics) is consumed by `close` below, and the one thing the
                            // writer hands back that holds values, the chunk statistics, is
                            // copied into owned bytes by `own_statistics` before it leaves.
                            // The parquet version is pinned (`=` in Cargo.toml): re-check this
                            // when it changes.
                            let all: &'static [u8] =
                                unsafe { std::mem::transmute::<&[u8], &'static [u8]>(data) };
                            vals.clear();
                            vals.extend((v0..v0 + n).map(|k| {
                                let a = if k == 0 { 0 } else { ends[k - 1] as usize };
                                ByteArray::from(Bytes::from_static(&all[a..ends[k] as usize]))
                            }));
                            w.write_batch(&vals, defs, None).map_err(err)?;
                            vals.clear();
                        }
                        _ => unreachable!("column buffer matches its physical type"),
                    }
                    own_statistics(w.close().map_err(err)?).map_err(err)?
                };
                let bytes = sink.into_inner().map_err(err)?;
                group.push((Bytes::from(bytes), close));
            }
            groups.push(group);
            start = end;
        }
        let _ = SPARE_VALUES.try_with(|v| *v.borrow_mut() = vals);
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

/// The closing metadata of a column chunk with its byte-array statistics (min and max) copied
/// into bytes of their own, so they no longer point into the chunk's text buffer.
fn own_statistics(close: ColumnCloseResult) -> parquet::errors::Result<ColumnCloseResult> {
    let Some(stats @ Statistics::ByteArray(s)) = close.metadata.statistics() else {
        return Ok(close);
    };
    let own = |v: Option<&ByteArray>| v.map(|b| ByteArray::from(b.as_bytes().to_vec()));
    let owned = ValueStatistics::new(
        own(s.min_opt()),
        own(s.max_opt()),
        s.distinct_count(),
        s.null_count_opt(),
        stats.is_min_max_deprecated(),
    )
    .with_min_is_exact(s.min_is_exact())
    .with_max_is_exact(s.max_is_exact())
    .with_backwards_compatible_min_max(s.is_min_max_backwards_compatible())
    .with_nan_count(s.nan_count_opt());
    debug_assert!(owned.min_bytes_opt() == s.min_bytes_opt());
    debug_assert!(owned.max_bytes_opt() == s.max_bytes_opt());
    let metadata = close
        .metadata
        .into_builder()
        .set_statistics(Statistics::ByteArray(owned))
        .build()?;
    Ok(ColumnCloseResult { metadata, ..close })
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
        match &mut self.next().values {
            Values::Text(data, ends) => {
                data.extend_from_slice(s.as_bytes());
                ends.push(data.len() as u32);
            }
            _ => unreachable!("text into a non-text column"),
        }
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
