//! Files: written as `<name>.partial` and renamed when complete, with a running sha256, so a
//! killed run never leaves a file that looks finished. `--out -` writes one table to standard
//! output through the same sinks instead.

use super::Sink;
use crate::encode::compress::{compress, Compression};
use crate::encode::csv::Csv;
use crate::encode::parquet::{append_row_groups, RowGroup, TableSchema};
use crate::error::{Error, Result};
use crate::table::TableSpec;
use parquet::file::writer::SerializedFileWriter;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Jsonl,
    Json,
    Parquet,
}

impl Format {
    pub fn ext(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Parquet => "parquet",
        }
    }
    pub fn parse(s: &str) -> Result<Format> {
        match s {
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::Jsonl),
            "json" => Ok(Format::Json),
            "parquet" => Ok(Format::Parquet),
            _ => Err(Error::Usage(format!(
                "--format: unknown format `{s}`\n  fix: use csv, jsonl, json or parquet"
            ))),
        }
    }
}

/// What a finished file holds.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct FileSummary {
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// Where the bytes go.
pub enum Target {
    /// A file, written as `<path>.partial` until finished.
    File(PathBuf),
    /// Standard output (`--out -`).
    Stdout,
}

/// A writer that hashes and counts what passes through it.
pub struct Hashed {
    out: Box<dyn Write + Send>,
    /// Where to report errors (the partial file, or `-`).
    name: PathBuf,
    hasher: Sha256,
    bytes: u64,
}

impl Write for Hashed {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(b)?;
        self.hasher.update(&b[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// An open output: the target and its hashing writer.
struct Output {
    target: Target,
    partial: Option<PathBuf>,
}

impl Output {
    fn open(target: Target) -> Result<(Output, Hashed)> {
        match target {
            Target::File(path) => {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                let partial = path.with_file_name(format!("{}.partial", name.unwrap_or_default()));
                let file = File::create(&partial).map_err(|e| Error::io(&partial, e))?;
                let h = Hashed {
                    out: Box::new(BufWriter::with_capacity(1 << 20, file)),
                    name: partial.clone(),
                    hasher: Sha256::new(),
                    bytes: 0,
                };
                Ok((
                    Output {
                        target: Target::File(path),
                        partial: Some(partial),
                    },
                    h,
                ))
            }
            Target::Stdout => Ok((
                Output {
                    target: Target::Stdout,
                    partial: None,
                },
                Hashed {
                    out: Box::new(BufWriter::with_capacity(1 << 20, std::io::stdout())),
                    name: PathBuf::from("-"),
                    hasher: Sha256::new(),
                    bytes: 0,
                },
            )),
        }
    }

    fn file_name(&self) -> String {
        match &self.target {
            Target::File(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Target::Stdout => "-".into(),
        }
    }

    /// Flush, close and (for a file) rename into place. No fsync, as with other generators:
    /// fixtures are reproducible, and an fsync of gigabytes would dominate.
    fn seal(&self, mut h: Hashed, rows: u64) -> Result<FileSummary> {
        h.flush().map_err(|e| Error::io(&h.name, e))?;
        let summary = FileSummary {
            file: self.file_name(),
            rows,
            bytes: h.bytes,
            sha256: hex(&h.hasher.clone().finalize()),
        };
        drop(h);
        if let (Target::File(path), Some(partial)) = (&self.target, &self.partial) {
            std::fs::rename(partial, path).map_err(|e| Error::io(path, e))?;
        }
        Ok(summary)
    }
}

/// CSV and JSON text, plain or compressed chunk by chunk (the chunks arrive compressed).
pub struct FileSink {
    output: Output,
    w: Option<Hashed>,
    format: Format,
    rows: u64,
    /// For the JSON array: whether a row has been written (the first row's separator is dropped).
    any: bool,
    summary: Option<FileSummary>,
}

impl FileSink {
    pub fn create(
        target: Target,
        table: &TableSpec,
        format: Format,
        compression: Compression,
    ) -> Result<FileSink> {
        debug_assert!(format != Format::Parquet);
        let (output, w) = Output::open(target)?;
        let mut s = FileSink {
            output,
            w: Some(w),
            format,
            rows: 0,
            any: false,
            summary: None,
        };
        let head: &[u8] = match format {
            Format::Csv => &Csv::header(table),
            Format::Json => b"[",
            Format::Jsonl | Format::Parquet => b"",
        };
        if !head.is_empty() {
            match compress(compression, head)? {
                Some(c) => s.raw(&c)?,
                None => s.raw(head)?,
            }
        }
        Ok(s)
    }

    fn raw(&mut self, b: &[u8]) -> Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        let w = self.w.as_mut().expect("open file");
        w.write_all(b).map_err(|e| Error::io(&w.name, e))
    }

    pub fn summary(&self) -> FileSummary {
        self.summary.clone().expect("summary after finish")
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Sink for FileSink {
    fn write(&mut self, bytes: &[u8], rows: u64) -> Result<()> {
        self.rows += rows;
        if self.format == Format::Json && !self.any && !bytes.is_empty() {
            self.any = true;
            // Every JSON array element starts with ",\n"; the first one starts with "\n".
            // (JSON arrays are never compressed: see `generate`.)
            return self.raw(&bytes[1..]);
        }
        self.raw(bytes)
    }

    fn finish(&mut self) -> Result<()> {
        if self.format == Format::Json {
            self.raw(b"\n]\n")?;
        }
        let w = self.w.take().expect("finish once");
        self.summary = Some(self.output.seal(w, self.rows)?);
        Ok(())
    }
}

/// A Parquet file: row groups encoded on the workers are spliced in, in chunk order.
pub struct ParquetSink {
    output: Output,
    w: Option<SerializedFileWriter<Hashed>>,
    rows: u64,
    summary: Option<FileSummary>,
}

impl ParquetSink {
    pub fn create(target: Target, schema: &TableSchema) -> Result<ParquetSink> {
        let (output, h) = Output::open(target)?;
        let name = h.name.clone();
        let w = SerializedFileWriter::new(h, schema.schema.clone(), schema.props.clone())
            .map_err(|e| Error::Failed(format!("{}: {e}", name.display())))?;
        Ok(ParquetSink {
            output,
            w: Some(w),
            rows: 0,
            summary: None,
        })
    }

    pub fn write_groups(&mut self, groups: Vec<RowGroup>, rows: u64) -> Result<()> {
        self.rows += rows;
        let w = self.w.as_mut().expect("open file");
        append_row_groups(w, groups)
            .map_err(|e| Error::Failed(format!("{}: {e}", w.inner().name.display())))
    }

    pub fn finish(&mut self) -> Result<()> {
        let w = self.w.take().expect("finish once");
        let h = w
            .into_inner()
            .map_err(|e| Error::Failed(format!("{}: {e}", self.output.file_name())))?;
        self.summary = Some(self.output.seal(h, self.rows)?);
        Ok(())
    }

    pub fn summary(&self) -> FileSummary {
        self.summary.clone().expect("summary after finish")
    }
}
