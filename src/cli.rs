//! Command-line flags, parsed into plain values and then validated into configs.

use crate::error::{Error, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "finseed",
    version,
    about = "Deterministic synthetic data for the Financy platform: fixtures, Postgres seeding and volume query benchmarks"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ProfileArgs {
    /// Profile name (`finseed profiles` lists them) or path to a TOML file.
    #[arg(long, short = 'p', default_value = "small")]
    pub profile: String,
    /// Override the profile's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Multiply the profile's volumes (like TPC-H's scale factor).
    #[arg(long)]
    pub scale: Option<f64>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write the dataset as CSV or JSON fixture files with a manifest.
    Generate {
        #[command(flatten)]
        profile: ProfileArgs,
        /// Output directory (new, empty, or an earlier finseed output).
        #[arg(long, short = 'o')]
        out: PathBuf,
        /// csv, jsonl or json.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Worker threads (default: the number of cores). Output is identical for any value.
        #[arg(long)]
        threads: Option<usize>,
        /// Write only shard K of N (for example 2/4).
        #[arg(long)]
        shard: Option<String>,
        /// Comma-separated tables to write (default: all).
        #[arg(long)]
        tables: Option<String>,
        /// No progress bars.
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// List the shipped profiles with their row counts.
    Profiles,
    /// Print the DDL: tables, then keys and indexes to apply after loading.
    Schema,
}

/// `K/N` with 1 <= K <= N.
pub fn parse_shard(s: &str) -> Result<(u64, u64)> {
    let bad = || {
        Error::Usage(format!(
            "--shard: `{s}` is not K/N\n  fix: write the shard as K/N with 1 <= K <= N, for example 1/4"
        ))
    };
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let k: u64 = k.trim().parse().map_err(|_| bad())?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

pub fn threads(t: Option<usize>) -> Result<usize> {
    match t {
        Some(0) => Err(Error::Usage(
            "--threads: 0 threads cannot do any work\n  fix: give 1 or more, or leave it out to use every core".into(),
        )),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

impl ProfileArgs {
    pub fn resolve(&self) -> Result<crate::profile::Profile> {
        let mut p = crate::profile::Profile::load(&self.profile)?;
        if let Some(seed) = self.seed {
            p.seed = seed;
        }
        if let Some(f) = self.scale {
            p = p.scaled(f)?;
        }
        Ok(p)
    }
}
