//! Files: written as `<name>.partial` and renamed when complete, with a running sha256, so a
//! killed run never leaves a file that looks finished.

use super::Sink;
use crate::encode::csv::Csv;
use crate::error::{Error, Result};
use crate::gen::TableSpec;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Jsonl,
    Json,
}

impl Format {
    pub fn ext(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Json => "json",
        }
    }
    pub fn parse(s: &str) -> Result<Format> {
        match s {
            "csv" => Ok(Format::Csv),
            "jsonl" => Ok(Format::Jsonl),
            "json" => Ok(Format::Json),
            _ => Err(Error::Usage(format!(
                "--format: unknown format `{s}`\n  fix: use csv, jsonl or json"
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

pub struct FileSink {
    path: PathBuf,
    partial: PathBuf,
    file: Option<File>,
    hasher: Sha256,
    format: Format,
    rows: u64,
    bytes: u64,
    /// For the JSON array: whether a row has been written (the first row's separator is dropped).
    any: bool,
}

impl FileSink {
    pub fn create(path: PathBuf, table: &TableSpec, format: Format) -> Result<FileSink> {
        let partial = path.with_extension(format!("{}.partial", format.ext()));
        let file = File::create(&partial).map_err(|e| Error::io(&partial, e))?;
        let mut s = FileSink {
            path,
            partial,
            file: Some(file),
            hasher: Sha256::new(),
            format,
            rows: 0,
            bytes: 0,
            any: false,
        };
        match format {
            Format::Csv => s.raw(&Csv::header(table))?,
            Format::Json => s.raw(b"[")?,
            Format::Jsonl => {}
        }
        Ok(s)
    }

    fn raw(&mut self, b: &[u8]) -> Result<()> {
        if b.is_empty() {
            return Ok(());
        }
        self.hasher.update(b);
        self.bytes += b.len() as u64;
        self.file
            .as_mut()
            .expect("open file")
            .write_all(b)
            .map_err(|e| Error::io(&self.partial, e))
    }

    pub fn summary(&self) -> FileSummary {
        FileSummary {
            file: self
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            rows: self.rows,
            bytes: self.bytes,
            sha256: hex(&self.hasher.clone().finalize()),
        }
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
            return self.raw(&bytes[1..]);
        }
        self.raw(bytes)
    }

    fn finish(&mut self) -> Result<()> {
        if self.format == Format::Json {
            self.raw(b"\n]\n")?;
        }
        // Renaming only when complete guards against a killed run; no fsync, as with other
        // generators: fixtures are reproducible, and an fsync of gigabytes would dominate.
        drop(self.file.take().expect("finish once"));
        std::fs::rename(&self.partial, &self.path).map_err(|e| Error::io(&self.path, e))
    }
}
