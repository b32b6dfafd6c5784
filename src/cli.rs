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
    /// Load the dataset into PostgreSQL over parallel binary COPY (resumable), then build keys,
    /// indexes and statistics. With no URL, uses finseed's own local cluster under .finseed/.
    Seed(SeedArgs),
    /// Check a seeded database: row counts, per-column checksums against the generator, and
    /// foreign keys. Exits 1 with the differences when anything is off.
    Verify {
        #[command(flatten)]
        profile: ProfileArgs,
        #[command(flatten)]
        db: DbArgs,
        /// Generator threads (default: the number of cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Also write the report as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Rows, bytes and disk per table and the estimated load time, before loading.
    Plan {
        #[command(flatten)]
        profile: ProfileArgs,
        /// COPY connections the load would use (default: the number of cores).
        #[arg(long, short = 'j')]
        jobs: Option<usize>,
        /// Also write the plan as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Time the volume queries (schemas/queries) on a seeded database: latency percentiles,
    /// thresholds (exit 1 on a breach), EXPLAIN plans, cache statistics, baseline regressions.
    Bench {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        bench: BenchArgs,
    },
    /// Seed a profile and benchmark it in one go (the README's main command).
    Run {
        #[command(flatten)]
        profile: ProfileArgs,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        load: LoadArgs,
        #[command(flatten)]
        bench: BenchArgs,
    },
    /// Write the files the plan's k6 and Artillery scripts read (users.json/csv with
    /// passwords, contexts.csv, merchants.json, descriptions.json, transaction-payloads.csv,
    /// bulk import files), consistent with a database seeded from the same profile.
    LoadtestData {
        #[command(flatten)]
        profile: ProfileArgs,
        /// Output directory (new, empty, or an earlier loadtest-data output).
        #[arg(long, short = 'o')]
        out: PathBuf,
        /// Users to write (each with a context they can post to).
        #[arg(long, default_value_t = crate::loadtest::DEFAULT_MAX_USERS)]
        users: usize,
        /// Rows of transaction-payloads.csv.
        #[arg(long, default_value_t = crate::loadtest::DEFAULT_PAYLOADS)]
        payloads: usize,
        /// Bulk import CSV files of varied sizes.
        #[arg(long, default_value_t = crate::loadtest::DEFAULT_BULK_FILES)]
        bulk_files: usize,
    },
    /// Manage finseed's embedded local PostgreSQL (under .finseed/ in this directory).
    Pg {
        #[command(subcommand)]
        action: PgAction,
    },
    /// List the shipped profiles with their row counts.
    Profiles,
    /// Print the DDL: tables, then keys and indexes to apply after loading.
    Schema,
}

#[derive(clap::Args, Debug, Clone)]
pub struct DbArgs {
    /// PostgreSQL URL, e.g. postgres://user:pass@host/db?sslmode=require. Without it, finseed
    /// starts (or reuses) its own local cluster under .finseed/.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// Flags shared by `seed` and `run`.
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// COPY connections (default: the number of cores).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Drop finseed's tables first and start over.
    #[arg(long)]
    pub fresh: bool,
    /// Write even into tables holding rows finseed did not write.
    #[arg(long)]
    pub force: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct SeedArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Steps to run, comma-separated: create,load,primary_keys,foreign_keys,indexes,analyze.
    #[arg(long)]
    pub steps: Option<String>,
    /// Load only shard K of N (for example 2/4); shards may load into one database.
    #[arg(long)]
    pub shard: Option<String>,
    /// Comma-separated tables to load (default: all).
    #[arg(long)]
    pub tables: Option<String>,
    /// Load into UNLOGGED tables and set them LOGGED in the analyze step.
    #[arg(long)]
    pub unlogged: bool,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// No progress bars.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// Directory of .sql query files (default: the built-in schemas/queries).
    #[arg(long)]
    pub queries: Option<PathBuf>,
    /// Run only these queries (comma-separated names).
    #[arg(long)]
    pub only: Option<String>,
    /// Measured executions per query.
    #[arg(long, default_value_t = 30)]
    pub iterations: usize,
    /// Unmeasured executions per query first.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Connections running each query at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// TOML file with a [thresholds] table (ms by query name or scenario).
    #[arg(long)]
    pub thresholds: Option<PathBuf>,
    /// An earlier JSON report to compare with: significant regressions exit 1.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Write the report as JSON (stable schema, see README).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the report as Markdown.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Write the report as an HTML page with latency distributions.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Smallest p95 rise in milliseconds that can count as a regression (machine noise floor).
    #[arg(long, default_value_t = 1.0)]
    pub min_change_ms: f64,
    /// Let PostgreSQL switch prepared statements to generic plans (its `auto` mode) instead of
    /// planning each execution for its parameters.
    #[arg(long)]
    pub generic_plans: bool,
    /// Seed for choosing random users (default: the database's finseed seed, else 0).
    #[arg(long)]
    pub bench_seed: Option<u64>,
    /// Run a scenario open-loop instead: a name (`dashboard_analytics_load`, …) or a path to a
    /// scenario .toml file. Exit 1 when a target is missed.
    #[arg(long)]
    pub scenario: Option<String>,
    /// Directory of scenario .toml files (and actions/*.sql) replacing the built-in ones.
    #[arg(long)]
    pub scenarios: Option<PathBuf>,
    /// Scenario runs: the arrival rate, requests per second or N/min (default: the scenario's).
    #[arg(long)]
    pub rate: Option<String>,
    /// Scenario runs: database connections serving the requests (default: the scenario's).
    #[arg(long)]
    pub clients: Option<usize>,
    /// Scenario runs: the steady state measured after the ramp-up, e.g. 60s or 10m.
    #[arg(long)]
    pub duration: Option<String>,
    /// Scenario runs: the ramp-up from 0 to the rate, e.g. 10s (0s for none).
    #[arg(long)]
    pub ramp_up: Option<String>,
    /// Scenario runs: poisson or constant arrivals (default: the scenario's).
    #[arg(long)]
    pub arrivals: Option<String>,
    /// No progress output.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub enum PgAction {
    /// Start the embedded cluster if needed and print its URL.
    Start,
    /// Say whether the embedded cluster exists and runs.
    Status,
    /// Print the URL to connect with (psql "$(finseed pg url)").
    Url,
    /// Stop the embedded cluster.
    Stop,
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
