//! One column chunk of a row group: pages, page index and closing metadata, written by finseed.
//!
//! parquet-rs's generic column writer looks at every value several times (min/max, a byte
//! budget, a dictionary probe that hashes and compares the text), which made it the largest cost
//! of writing Parquet. Here the work per value is what the encoding itself needs: text columns
//! arrive already as dictionary keys ([`super::dict::Dict`]), so their statistics come from the
//! dictionary entries rather than from the rows; numbers are delta-encoded
//! ([`super::delta`]) with their min/max in one tight loop. parquet-rs still writes the page
//! headers, the column chunk metadata and the file around them, so the layout is the format's
//! and readers see a file like any other: data pages v1 with RLE definition levels, a PLAIN
//! dictionary page and RLE_DICTIONARY data pages for dictionary text, PLAIN text and booleans
//! otherwise, DELTA_BINARY_PACKED numbers; chunk statistics; column and offset indexes.

use super::delta::{self, Delta};
use super::dict::Dict;
use super::rle;
use crate::encode::compress::Compression;
use bytes::Bytes;
use parquet::basic::{
    BoundaryOrder, Compression as PqCompression, Encoding, EncodingMask, PageType,
};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::data_type::ByteArray;
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{
    ColumnChunkMetaData, ColumnIndexBuilder, OffsetIndexBuilder, PageEncodingStats,
};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

/// Rows per data page at most: parquet-rs's default, which readers' page skipping expects.
const PAGE_ROWS: usize = 20_000;
/// Value bytes per data page at most (parquet-rs's default page size).
const PAGE_BYTES: usize = 1 << 20;
/// A dictionary larger than this is not worth its page: the chunk is written PLAIN instead, as
/// parquet-rs falls back past its default dictionary page size.
const DICT_BYTES: usize = 1 << 20;

/// The page compressor of one thread.
pub enum Codec {
    None,
    Snappy(Box<snap::raw::Encoder>),
    Zstd(zstd::bulk::Compressor<'static>),
}

impl Codec {
    pub fn new(c: Compression) -> Result<Codec> {
        Ok(match c {
            Compression::None => Codec::None,
            Compression::Snappy => Codec::Snappy(Box::new(snap::raw::Encoder::new())),
            Compression::Zstd(level) => Codec::Zstd(
                zstd::bulk::Compressor::new(level)
                    .map_err(|e| ParquetError::General(format!("zstd level {level}: {e}")))?,
            ),
            Compression::Gzip(_) => {
                return Err(ParquetError::General(
                    "gzip is not a parquet codec here".into(),
                ))
            }
        })
    }

    /// A page's bytes as they go into the file: `input` compressed (through `out`, a buffer
    /// kept between pages), or as it is without a codec.
    fn page(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Bytes> {
        out.clear();
        match self {
            Codec::None => return Ok(Bytes::copy_from_slice(input)),
            Codec::Snappy(e) => {
                out.resize(snap::raw::max_compress_len(input.len()), 0);
                let n = e
                    .compress(input, out)
                    .map_err(|e| ParquetError::External(Box::new(e)))?;
                out.truncate(n);
            }
            Codec::Zstd(z) => {
                out.reserve(zstd::zstd_safe::compress_bound(input.len()));
                z.compress_to_buffer(input, out)
                    .map_err(|e| ParquetError::External(Box::new(e)))?;
            }
        }
        Ok(Bytes::copy_from_slice(out))
    }
}

/// The non-null values of one column in one row group.
pub enum Values<'a> {
    I64(&'a [i64]),
    I32(&'a [i32]),
    Bool(&'a [bool]),
    /// Text written PLAIN: values `first..first + n` of a buffer, value `k` ending at `ends[k]`.
    Text {
        data: &'a [u8],
        ends: &'a [u32],
        first: usize,
        n: usize,
    },
    /// Text as keys into the chunk's dictionary; `whole` when the keys are all of the chunk's
    /// (the row group is the chunk), which are then numbered by first appearance and use
    /// every entry.
    Dict {
        dict: &'a Dict,
        keys: &'a [u32],
        whole: bool,
    },
}

/// Buffers reused from chunk to chunk on a thread.
#[derive(Default)]
pub struct Scratch {
    page: Vec<u8>,
    packed: Vec<u8>,
    compressed: Vec<u8>,
    /// The row group's own keys and, for each, the chunk key it stands for.
    keys: Vec<u32>,
    order: Vec<u32>,
    /// Chunk key → row group key (`u32::MAX`: not seen in this group).
    remap: Vec<u32>,
    /// Per group key: the last page that used it (page number + 1).
    seen: Vec<u32>,
}

/// What a column's pages leave for its metadata.
struct Written {
    stats: Statistics,
    order: BoundaryOrder,
}

/// Write one column chunk: `rows` rows whose definition levels are `defs` (1 = a value; `None`
/// for a required column), and whose values are `values`. Returns the chunk's bytes (pages
/// from offset 0) and its closing metadata, ready for `append_column`.
pub fn write(
    descr: &ColumnDescPtr,
    rows: usize,
    defs: Option<&[u8]>,
    values: Values<'_>,
    codec: &mut Codec,
    kind: PqCompression,
    s: &mut Scratch,
) -> Result<(Bytes, ColumnCloseResult)> {
    let mut sink = TrackedWrite::new(Vec::new());
    let close = {
        let mut w = Chunk {
            descr,
            pages: SerializedPageWriter::new(&mut sink),
            codec,
            defs,
            offsets: OffsetIndexBuilder::new(),
            index: ColumnIndexBuilder::new(descr.physical_type()),
            nulls: 0,
            compressed: 0,
            uncompressed: 0,
            written: 0,
            dict_offset: None,
            data_offset: None,
            data_pages: 0,
            data_encoding: None,
        };
        let written = match values {
            Values::I64(v) => w.fixed(rows, v, s, Statistics::Int64)?,
            Values::I32(v) => w.fixed(rows, v, s, Statistics::Int32)?,
            Values::Bool(v) => w.booleans(rows, v, s)?,
            Values::Text {
                data,
                ends,
                first,
                n,
            } => {
                let value = |k: usize| {
                    let k = first + k;
                    let a = if k == 0 { 0 } else { ends[k - 1] as usize };
                    &data[a..ends[k] as usize]
                };
                w.plain_text(rows, n, value, s)?
            }
            Values::Dict { dict, keys, whole } => {
                // The group's own dictionary: the chunk's, unless the chunk has several groups.
                debug_assert!(!whole || is_whole(dict, keys));
                let mut own = std::mem::take(&mut s.keys);
                let mut order = std::mem::take(&mut s.order);
                if !whole {
                    regroup(dict, keys, &mut s.remap, &mut own, &mut order);
                }
                let r = if whole {
                    w.dictionary(rows, keys, dict.len(), |k| dict.get(k), s)
                } else {
                    w.dictionary(rows, &own, order.len(), |k| dict.get(order[k as usize]), s)
                };
                s.keys = own;
                s.order = order;
                r?
            }
        };
        w.finish(rows, kind, written)?
    };
    Ok((Bytes::from(sink.into_inner()?), close))
}

/// Whether `keys` are already numbered by first appearance and use every key of `dict`: then
/// they are the group's keys as they stand (what [`Values::Dict`]'s `whole` promises).
fn is_whole(dict: &Dict, keys: &[u32]) -> bool {
    let mut next = 0u32;
    for &k in keys {
        if k > next {
            return false;
        }
        if k == next {
            next += 1;
        }
    }
    next as usize == dict.len()
}

/// Renumber a row group's chunk keys by their first appearance in the group.
fn regroup(
    dict: &Dict,
    keys: &[u32],
    remap: &mut Vec<u32>,
    own: &mut Vec<u32>,
    order: &mut Vec<u32>,
) {
    remap.clear();
    remap.resize(dict.len(), u32::MAX);
    order.clear();
    own.clear();
    for &k in keys {
        let r = &mut remap[k as usize];
        if *r == u32::MAX {
            *r = order.len() as u32;
            order.push(k);
        }
        own.push(*r);
    }
}

/// The page boundaries of a column: `(rows, values)` ends of each page, at most [`PAGE_ROWS`]
/// rows, and for PLAIN text at most [`PAGE_BYTES`] of values (or one value if larger).
fn page_ends(
    rows: usize,
    defs: Option<&[u8]>,
    mut size: Option<&mut dyn FnMut(usize) -> usize>,
) -> Vec<(usize, usize)> {
    let mut ends = Vec::new();
    let (mut r, mut v) = (0, 0);
    while r < rows {
        let stop = (r + PAGE_ROWS).min(rows);
        match (&mut size, defs) {
            (None, None) => {
                v += stop - r;
                r = stop;
            }
            (None, Some(d)) => {
                v += d[r..stop].iter().filter(|&&x| x == 1).count();
                r = stop;
            }
            (Some(size), _) => {
                let (start, mut bytes) = (r, 0);
                while r < stop {
                    if defs.is_none_or(|d| d[r] == 1) {
                        let b = 4 + size(v);
                        if r > start && bytes + b > PAGE_BYTES {
                            break;
                        }
                        bytes += b;
                        v += 1;
                    }
                    r += 1;
                }
            }
        }
        ends.push((r, v));
    }
    ends
}

/// Whether the pages' bounds rise (or fall) from page to page, skipping pages of nulls only.
fn boundary_order<T: Ord>(bounds: &[Option<(T, T)>]) -> BoundaryOrder {
    let (mut up, mut down) = (true, true);
    let mut last: Option<&(T, T)> = None;
    for b in bounds.iter().flatten() {
        if let Some((lo, hi)) = last {
            up &= *lo <= b.0 && *hi <= b.1;
            down &= *lo >= b.0 && *hi >= b.1;
        }
        last = Some(b);
    }
    match (up, down) {
        (true, _) => BoundaryOrder::ASCENDING,
        (false, true) => BoundaryOrder::DESCENDING,
        _ => BoundaryOrder::UNORDERED,
    }
}

/// The smallest and largest of a page's bounds.
fn fold<T: Ord + Copy>(bounds: &[Option<(T, T)>]) -> Option<(T, T)> {
    bounds
        .iter()
        .flatten()
        .copied()
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
}

/// A number whose page bounds the column index holds as its PLAIN bytes (little-endian).
trait Plain: Copy + Ord {
    fn le_bytes(self) -> Vec<u8>;
}
impl Plain for i64 {
    fn le_bytes(self) -> Vec<u8> {
        self.to_le_bytes().to_vec()
    }
}
impl Plain for i32 {
    fn le_bytes(self) -> Vec<u8> {
        self.to_le_bytes().to_vec()
    }
}

struct Chunk<'a, 'w> {
    descr: &'a ColumnDescPtr,
    pages: SerializedPageWriter<'w, Vec<u8>>,
    codec: &'a mut Codec,
    defs: Option<&'a [u8]>,
    offsets: OffsetIndexBuilder,
    index: ColumnIndexBuilder,
    nulls: u64,
    compressed: i64,
    uncompressed: i64,
    written: u64,
    dict_offset: Option<i64>,
    data_offset: Option<i64>,
    data_pages: i32,
    /// The encoding of the data pages written (all of a chunk's pages share one).
    data_encoding: Option<Encoding>,
}

impl Chunk<'_, '_> {
    /// Start a data page of rows `r0..r1`: the definition levels, with their length first, as
    /// data pages v1 hold them. Returns the page's null count.
    fn levels(&self, r0: usize, r1: usize, s: &mut Scratch) -> u64 {
        s.page.clear();
        let Some(d) = self.defs else { return 0 };
        let d = &d[r0..r1];
        s.packed.clear();
        rle::encode(d, 1, &mut s.packed);
        s.page
            .extend_from_slice(&(s.packed.len() as u32).to_le_bytes());
        s.page.extend_from_slice(&s.packed);
        d.iter().filter(|&&x| x == 0).count() as u64
    }

    /// Compress and write the data page in `s.page`, of `rows` rows of which `nulls` are null,
    /// with the column index's `bounds` of its values (`None`: nulls only).
    fn data_page(
        &mut self,
        rows: usize,
        nulls: u64,
        encoding: Encoding,
        bounds: Option<(Vec<u8>, Vec<u8>)>,
        s: &mut Scratch,
    ) -> Result<()> {
        let page = &s.page;
        let buf = self.codec.page(page, &mut s.compressed)?;
        let spec = self.pages.write_page(CompressedPage::new(
            Page::DataPage {
                buf,
                num_values: rows as u32,
                encoding,
                def_level_encoding: Encoding::RLE,
                rep_level_encoding: Encoding::RLE,
                statistics: None,
            },
            page.len(),
        ))?;
        self.offsets
            .append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
        self.offsets.append_row_count(rows as i64);
        match bounds {
            Some((lo, hi)) => self.index.append(false, lo, hi, nulls as i64, None),
            None => self.index.append(true, vec![], vec![], nulls as i64, None),
        }
        self.data_offset.get_or_insert(spec.offset as i64);
        self.data_pages += 1;
        debug_assert!(self.data_encoding.is_none_or(|e| e == encoding));
        self.data_encoding = Some(encoding);
        self.nulls += nulls;
        self.count(&spec);
        Ok(())
    }

    fn count(&mut self, spec: &parquet::column::page::PageWriteSpec) {
        self.compressed += spec.compressed_size as i64;
        self.uncompressed += spec.uncompressed_size as i64;
        self.written += spec.bytes_written;
    }

    /// INT64 or INT32 values, DELTA_BINARY_PACKED (see [`delta`] for why).
    fn fixed<T: Plain + Delta>(
        &mut self,
        rows: usize,
        v: &[T],
        s: &mut Scratch,
        stats: fn(ValueStatistics<T>) -> Statistics,
    ) -> Result<Written> {
        self.numbers(
            rows,
            v,
            s,
            Encoding::DELTA_BINARY_PACKED,
            delta::encode,
            T::le_bytes,
            stats,
        )
    }

    /// BOOLEAN values, PLAIN: bit-packed, least significant bit first.
    fn booleans(&mut self, rows: usize, v: &[bool], s: &mut Scratch) -> Result<Written> {
        let pack = |vals: &[bool], page: &mut Vec<u8>| {
            for eight in vals.chunks(8) {
                let mut byte = 0u8;
                for (i, &b) in eight.iter().enumerate() {
                    byte |= (b as u8) << i;
                }
                page.push(byte);
            }
            vals.iter().copied().min().zip(vals.iter().copied().max())
        };
        let bytes = |x: bool| vec![x as u8];
        self.numbers(
            rows,
            v,
            s,
            Encoding::PLAIN,
            pack,
            bytes,
            Statistics::Boolean,
        )
    }

    /// Fixed-width values in pages: `encode` appends a page's values to the page and returns
    /// their bounds, `bytes` gives a bound as the column index holds it.
    #[allow(clippy::too_many_arguments)]
    fn numbers<T: Copy + Ord>(
        &mut self,
        rows: usize,
        v: &[T],
        s: &mut Scratch,
        encoding: Encoding,
        mut encode: impl FnMut(&[T], &mut Vec<u8>) -> Option<(T, T)>,
        bytes: impl Fn(T) -> Vec<u8>,
        stats: fn(ValueStatistics<T>) -> Statistics,
    ) -> Result<Written> {
        let mut bounds = Vec::new();
        let (mut r0, mut v0) = (0, 0);
        for (r1, v1) in page_ends(rows, self.defs, None) {
            let nulls = self.levels(r0, r1, s);
            let b = encode(&v[v0..v1], &mut s.page);
            let page_bounds = b.map(|(lo, hi)| (bytes(lo), bytes(hi)));
            self.data_page(r1 - r0, nulls, encoding, page_bounds, s)?;
            bounds.push(b);
            (r0, v0) = (r1, v1);
        }
        let b = fold(&bounds);
        let st = ValueStatistics::new(
            b.map(|b| b.0),
            b.map(|b| b.1),
            None,
            Some(self.nulls),
            false,
        )
        .with_backwards_compatible_min_max(self.descr.sort_order().is_signed());
        Ok(Written {
            stats: stats(st),
            order: boundary_order(&bounds),
        })
    }

    fn text_statistics(&self, b: Option<(&[u8], &[u8])>) -> Statistics {
        let own = |x: &[u8]| ByteArray::from(x.to_vec());
        Statistics::ByteArray(
            ValueStatistics::new(
                b.map(|b| own(b.0)),
                b.map(|b| own(b.1)),
                None,
                Some(self.nulls),
                false,
            )
            .with_backwards_compatible_min_max(self.descr.sort_order().is_signed()),
        )
    }

    /// Text values `value(0..n)`, PLAIN: each as its length (4 bytes) and its bytes.
    fn plain_text<'v>(
        &mut self,
        rows: usize,
        n: usize,
        value: impl Fn(usize) -> &'v [u8],
        s: &mut Scratch,
    ) -> Result<Written> {
        debug_assert_eq!(
            n,
            self.defs
                .map_or(rows, |d| d.iter().filter(|&&x| x == 1).count())
        );
        let mut bounds: Vec<Option<(&[u8], &[u8])>> = Vec::new();
        let (mut r0, mut v0) = (0, 0);
        for (r1, v1) in page_ends(rows, self.defs, Some(&mut |k| value(k).len())) {
            let nulls = self.levels(r0, r1, s);
            let mut b: Option<(&[u8], &[u8])> = None;
            for k in v0..v1 {
                let x = value(k);
                s.page.extend_from_slice(&(x.len() as u32).to_le_bytes());
                s.page.extend_from_slice(x);
                b = Some(match b {
                    None => (x, x),
                    Some((lo, hi)) => (lo.min(x), hi.max(x)),
                });
            }
            self.data_page(
                r1 - r0,
                nulls,
                Encoding::PLAIN,
                b.map(|(lo, hi)| (lo.to_vec(), hi.to_vec())),
                s,
            )?;
            bounds.push(b);
            (r0, v0) = (r1, v1);
        }
        Ok(Written {
            stats: self.text_statistics(fold(&bounds)),
            order: boundary_order(&bounds),
        })
    }

    /// Text as `keys` into `entries` dictionary values `entry(k)`: a PLAIN dictionary page,
    /// then RLE_DICTIONARY data pages (the key width in a byte, then the keys' hybrid
    /// encoding). A dictionary past [`DICT_BYTES`] is not written: the values go PLAIN.
    fn dictionary<'v>(
        &mut self,
        rows: usize,
        keys: &[u32],
        entries: usize,
        entry: impl Fn(u32) -> &'v [u8],
        s: &mut Scratch,
    ) -> Result<Written> {
        let dict_bytes: usize = (0..entries as u32).map(|k| 4 + entry(k).len()).sum();
        if dict_bytes > DICT_BYTES {
            return self.plain_text(rows, keys.len(), |i| entry(keys[i]), s);
        }
        s.page.clear();
        for k in 0..entries as u32 {
            let x = entry(k);
            s.page.extend_from_slice(&(x.len() as u32).to_le_bytes());
            s.page.extend_from_slice(x);
        }
        let buf = self.codec.page(&s.page, &mut s.compressed)?;
        let spec = self.pages.write_page(CompressedPage::new(
            Page::DictionaryPage {
                buf,
                num_values: entries as u32,
                encoding: Encoding::PLAIN,
                is_sorted: false,
            },
            s.page.len(),
        ))?;
        self.dict_offset = Some(spec.offset as i64);
        self.count(&spec);

        let width = rle::width_for(entries);
        let mut seen = std::mem::take(&mut s.seen);
        seen.clear();
        seen.resize(entries, 0);
        let mut bounds: Vec<Option<(&[u8], &[u8])>> = Vec::new();
        let (mut r0, mut v0) = (0, 0);
        for (page, (r1, v1)) in page_ends(rows, self.defs, None).into_iter().enumerate() {
            let nulls = self.levels(r0, r1, s);
            let page_keys = &keys[v0..v1];
            s.page.push(width);
            rle::encode(page_keys, width, &mut s.page);
            // The page's bounds: compare each entry once, the first time the page uses it.
            let stamp = page as u32 + 1;
            let mut b: Option<(&[u8], &[u8])> = None;
            for &k in page_keys {
                if seen[k as usize] != stamp {
                    seen[k as usize] = stamp;
                    let x = entry(k);
                    b = Some(match b {
                        None => (x, x),
                        Some((lo, hi)) => (lo.min(x), hi.max(x)),
                    });
                }
            }
            let r = self.data_page(
                r1 - r0,
                nulls,
                Encoding::RLE_DICTIONARY,
                b.map(|(lo, hi)| (lo.to_vec(), hi.to_vec())),
                s,
            );
            if let Err(e) = r {
                s.seen = seen;
                return Err(e);
            }
            bounds.push(b);
            (r0, v0) = (r1, v1);
        }
        s.seen = seen;
        Ok(Written {
            stats: self.text_statistics(fold(&bounds)),
            order: boundary_order(&bounds),
        })
    }

    fn finish(mut self, rows: usize, kind: PqCompression, w: Written) -> Result<ColumnCloseResult> {
        // What the metadata says of the encodings is what the pages were written with: a
        // dictionary page if one was written, the data pages' encoding, RLE levels.
        let mut encodings = vec![Encoding::RLE];
        let mut stats = Vec::new();
        if self.dict_offset.is_some() {
            encodings.push(Encoding::PLAIN);
            stats.push(PageEncodingStats {
                page_type: PageType::DICTIONARY_PAGE,
                encoding: Encoding::PLAIN,
                count: 1,
            });
        }
        if let Some(data) = self.data_encoding {
            encodings.push(data);
            stats.push(PageEncodingStats {
                page_type: PageType::DATA_PAGE,
                encoding: data,
                count: self.data_pages,
            });
        }
        let metadata = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(kind)
            .set_encodings_mask(EncodingMask::new_from_encodings(encodings.iter()))
            .set_page_encoding_stats(stats)
            .set_total_compressed_size(self.compressed)
            .set_total_uncompressed_size(self.uncompressed)
            .set_num_values(rows as i64)
            .set_data_page_offset(self.data_offset.unwrap_or(0))
            .set_dictionary_page_offset(self.dict_offset)
            .set_statistics(w.stats)
            .build()?;
        self.pages.close()?;
        self.index.set_boundary_order(w.order);
        let index = std::mem::replace(
            &mut self.index,
            ColumnIndexBuilder::new(self.descr.physical_type()),
        );
        Ok(ColumnCloseResult {
            bytes_written: self.written,
            rows_written: rows as u64,
            metadata,
            bloom_filter: None,
            column_index: Some(index.build()?),
            offset_index: Some(std::mem::take(&mut self.offsets).build()),
        })
    }
}
