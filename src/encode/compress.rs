//! Compression of text fixtures (CSV, JSON Lines), chunk by chunk on the worker threads.
//!
//! Each chunk becomes one complete zstd frame or gzip member; concatenated frames (members) are
//! one valid `.zst` (`.gz`) file that every decompressor reads as the concatenated text, so the
//! compressed file is the same whatever the thread count, and a shard's file decompresses to
//! that shard's slice of the whole. Neither format stores a time or a file name here (the gzip
//! header's mtime is 0), so runs repeat byte for byte.

use crate::error::{Error, Result};
use std::io::Write;

/// Compression of a file: `--compression none|zstd[:LEVEL]|gzip[:LEVEL]|snappy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    /// zstd at a level (1..=22).
    Zstd(i32),
    /// gzip (deflate) at a level (0..=9).
    Gzip(u32),
    /// Snappy: Parquet only.
    Snappy,
}

pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
pub const DEFAULT_GZIP_LEVEL: u32 = 6;

impl Compression {
    pub fn parse(s: &str) -> Result<Compression> {
        let bad = |why: &str| {
            Error::Usage(format!(
                "--compression: `{s}`: {why}\n  fix: use none, snappy (parquet), zstd or zstd:LEVEL (1-22), gzip or gzip:LEVEL (1-9)"
            ))
        };
        let (name, level) = match s.split_once(':') {
            Some((n, l)) => (
                n,
                Some(
                    l.parse::<i32>()
                        .map_err(|_| bad("the level is not a number"))?,
                ),
            ),
            None => (s, None),
        };
        match (name, level) {
            ("none", None) => Ok(Compression::None),
            ("snappy", None) => Ok(Compression::Snappy),
            ("zstd", None) => Ok(Compression::Zstd(DEFAULT_ZSTD_LEVEL)),
            ("zstd", Some(l)) if (1..=22).contains(&l) => Ok(Compression::Zstd(l)),
            ("gzip", None) => Ok(Compression::Gzip(DEFAULT_GZIP_LEVEL)),
            ("gzip", Some(l)) if (1..=9).contains(&l) => Ok(Compression::Gzip(l as u32)),
            ("zstd" | "gzip", Some(_)) => Err(bad("level out of range")),
            _ => Err(bad("unknown compression")),
        }
    }

    /// File name suffix after the format's extension.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::Zstd(_) => ".zst",
            Compression::Gzip(_) => ".gz",
            Compression::None | Compression::Snappy => "",
        }
    }

    /// Name for the manifest: `zstd:3`, `gzip:6`, `snappy`, `none`.
    pub fn label(self) -> String {
        match self {
            Compression::None => "none".into(),
            Compression::Snappy => "snappy".into(),
            Compression::Zstd(l) => format!("zstd:{l}"),
            Compression::Gzip(l) => format!("gzip:{l}"),
        }
    }
}

/// Compress one chunk of text into a standalone frame (member). `None` copies nothing: the
/// caller keeps the bytes.
pub fn compress(c: Compression, data: &[u8]) -> Result<Option<Vec<u8>>> {
    let fail = |e: std::io::Error| Error::Failed(format!("compressing a chunk: {e}"));
    match c {
        Compression::None | Compression::Snappy => Ok(None),
        Compression::Zstd(level) => zstd::bulk::compress(data, level).map(Some).map_err(fail),
        Compression::Gzip(level) => {
            let mut e = flate2::GzBuilder::new().mtime(0).write(
                Vec::with_capacity(data.len() / 4 + 64),
                flate2::Compression::new(level),
            );
            e.write_all(data).map_err(fail)?;
            e.finish().map(Some).map_err(fail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn frames_concatenate() {
        let a = b"id,amount\n1,2.00\n".repeat(100);
        let b = b"2,-3.10\n".repeat(50);
        for c in [Compression::Zstd(3), Compression::Gzip(6)] {
            let mut joined = compress(c, &a).unwrap().unwrap();
            joined.extend(compress(c, &b).unwrap().unwrap());
            let mut out = Vec::new();
            match c {
                Compression::Zstd(_) => {
                    zstd::stream::read::Decoder::new(&joined[..])
                        .unwrap()
                        .read_to_end(&mut out)
                        .unwrap();
                }
                _ => {
                    flate2::read::MultiGzDecoder::new(&joined[..])
                        .read_to_end(&mut out)
                        .unwrap();
                }
            }
            let mut want = a.clone();
            want.extend(&b);
            assert_eq!(out, want);
            assert_eq!(compress(c, &a).unwrap(), compress(c, &a).unwrap());
        }
    }

    #[test]
    fn parses_levels() {
        assert_eq!(Compression::parse("zstd").unwrap(), Compression::Zstd(3));
        assert_eq!(
            Compression::parse("zstd:19").unwrap(),
            Compression::Zstd(19)
        );
        assert_eq!(Compression::parse("gzip:1").unwrap(), Compression::Gzip(1));
        assert!(Compression::parse("zstd:99").is_err());
        assert!(Compression::parse("lz4").is_err());
    }
}
