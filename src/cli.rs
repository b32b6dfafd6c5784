//! Command-line flags, parsed into plain values and then validated into configs.

use crate::error::{Error, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

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
    /// Table layout in PostgreSQL: `plain`, or `partitioned` (transactions and splits by
    /// month); default: the profile's `layout`, else plain. For seed, run, plan and scales.
    #[arg(long)]
    pub layout: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write the dataset as CSV or JSON fixture files with a manifest.
    Generate(GenerateArgs),
    /// Load the dataset into PostgreSQL over parallel binary COPY (resumable), then build keys,
    /// indexes and statistics. With no URL, uses finseed's own local cluster (`finseed pg`).
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
        /// Verify the team's own tables loaded through this schema map.
        #[arg(long)]
        map: Option<PathBuf>,
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
        /// Check this schema map's file and say which tables it loads.
        #[arg(long)]
        map: Option<PathBuf>,
        /// With --map: the target database, read (never written) for its indexes, foreign
        /// keys and triggers, to estimate a load with them in place against
        /// --defer-constraints. Ignored without --map.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Time the volume queries (schemas/queries) on a seeded database: latency percentiles,
    /// thresholds (exit 1 on a breach), EXPLAIN plans, cache statistics, baseline regressions.
    Bench {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        bench: BenchArgs,
        /// The team's schema map the database was seeded through: the parameter pools are
        /// drawn from the mapped tables; needs --queries (query files for that schema).
        #[arg(long)]
        map: Option<PathBuf>,
    },
    /// How each volume query's p95 grows with the data: seed the profile at each scale into a
    /// database of its own (finseed_scales_*), benchmark the queries there, fit p95 ~ n^k
    /// against the transactions, and predict the p95 at 10x the largest scale. Exit 1 when a
    /// query is predicted to break its threshold.
    Scales {
        #[command(flatten)]
        profile: ProfileArgs,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        load: LoadArgs,
        #[command(flatten)]
        bench: BenchArgs,
        /// Factors of the profile's volumes, comma-separated (at least two).
        #[arg(long, default_value = "0.01,0.1,1")]
        scales: String,
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
    /// Manage finseed's embedded local PostgreSQL: one per user, under $FINSEED_HOME, else
    /// $XDG_DATA_HOME/finseed, else ~/.local/share/finseed.
    Pg {
        #[command(subcommand)]
        action: PgAction,
    },
    /// List the shipped profiles with their row counts.
    Profiles,
    /// Print the DDL: tables, then keys and indexes to apply after loading.
    Schema,
    /// Read a database's catalog and print a starting schema map (for `--map`): every
    /// decision commented (matched by name, converted, left to its default, needing a value).
    Map {
        #[command(flatten)]
        db: DbArgs,
        /// Write the map to this file instead of standard output.
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug, Clone)]
pub struct DbArgs {
    /// PostgreSQL URL, e.g. postgres://user:pass@host/db?sslmode=require. Without it, finseed
    /// uses its own local cluster (`finseed pg status` says where; FINSEED_HOME moves it).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// Flags shared by `seed` and `run`.
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// COPY connections (default: the number of cores).
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Drop the tables finseed created (recorded by OID) and its ledger, then start over.
    /// Tables finseed did not create are never dropped; objects of yours that depend on
    /// finseed's tables stop it with nothing dropped.
    #[arg(long)]
    pub fresh: bool,
    /// Only with --fresh: drop finseed's tables even when rows were added to them after
    /// finseed loaded them. No flag lets finseed touch a table it did not create.
    #[arg(long)]
    pub force: bool,
    /// Load into the team's own schema through this map file (TOML; `finseed map` writes a
    /// starting one). finseed then creates and drops no tables.
    #[arg(long)]
    pub map: Option<PathBuf>,
    /// With --map: save the mapped tables' own indexes, constraints and triggers, drop them
    /// (triggers: disable) for the load and recreate them after it, like pg_restore.
    #[arg(long)]
    pub defer_constraints: bool,
    /// Seconds a load or post-load statement may go without progress before it fails as a
    /// stall (retried on a new connection, then the seed stops and prints the command that
    /// resumes). Long index builds are fine: the server is checked to be working on them.
    #[arg(long, value_name = "SECONDS")]
    pub stall_timeout: Option<u64>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct SeedArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub load: LoadArgs,
    /// Steps to run, comma-separated: create,load,primary_keys,foreign_keys,indexes,rollups,analyze.
    #[arg(long)]
    pub steps: Option<String>,
    /// Load only shard K of N (for example 2/4); shards may load into one database. `auto/N`
    /// takes K from JOB_COMPLETION_INDEX + 1 (a Kubernetes Indexed Job's pods).
    #[arg(long)]
    pub shard: Option<String>,
    /// Finish a sharded load: wait until all N shards have every chunk of their part in the
    /// ledger, then run the post-load steps (default: all of them) once.
    #[arg(long, value_name = "N")]
    pub await_shards: Option<u64>,
    /// With --await-shards: how long to wait for the shards, e.g. 90s, 30m, 2h (default 2h).
    #[arg(long, value_name = "DURATION")]
    pub await_timeout: Option<String>,
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
    /// Measured executions per query [default: 30]. Volume query runs only.
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Unmeasured executions per query first [default: 3]. Volume query runs only.
    #[arg(long)]
    pub warmup: Option<usize>,
    /// Connections running each query at once [default: 1]. Volume query runs only.
    #[arg(long)]
    pub concurrency: Option<usize>,
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

/// `K/N` with 1 <= K <= N, or `auto/N` (K from `JOB_COMPLETION_INDEX`, see [`shard_auto`]).
pub fn parse_shard(s: &str) -> Result<(u64, u64)> {
    if let Some(n) = s.trim().strip_prefix("auto/") {
        return shard_auto(n, std::env::var("JOB_COMPLETION_INDEX").ok().as_deref());
    }
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

/// `--shard auto/N`: shard K = `index` + 1 of N, where `index` is `JOB_COMPLETION_INDEX`, the
/// 0-based completion index Kubernetes gives each pod of an Indexed Job (a pod recreated after a
/// failure gets the same index, so it resumes the same shard).
pub fn shard_auto(n: &str, index: Option<&str>) -> Result<(u64, u64)> {
    let n: u64 = match n.trim().parse() {
        Ok(n) if n >= 1 => n,
        _ => {
            return Err(Error::Usage(format!(
                "--shard: `auto/{n}`: N must be a whole number of at least 1\n  fix: write auto/N with the Job's `completions` as N, for example auto/8"
            )))
        }
    };
    let Some(raw) = index else {
        return Err(Error::Usage(format!(
            "--shard auto/{n}: JOB_COMPLETION_INDEX is not set (Kubernetes sets it in each pod of a Job with completionMode: Indexed)\n  fix: run it as a pod of an Indexed Job, set JOB_COMPLETION_INDEX to 0..{} yourself, or give the shard as K/{n}",
            n - 1
        )));
    };
    match raw.trim().parse::<u64>() {
        Ok(i) if i < n => Ok((i + 1, n)),
        Ok(i) => Err(Error::Usage(format!(
            "--shard auto/{n}: JOB_COMPLETION_INDEX is {i}, but the indexes of {n} shards are 0 to {}\n  fix: make N in --shard auto/N equal to the Job's `completions`",
            n - 1
        ))),
        Err(_) => Err(Error::Usage(format!(
            "--shard auto/{n}: JOB_COMPLETION_INDEX is `{raw}`, not a whole number from 0 to {}\n  fix: leave JOB_COMPLETION_INDEX to Kubernetes (completionMode: Indexed), or give the shard as K/{n}",
            n - 1
        ))),
    }
}

/// Most worker threads a command starts (`--threads`): far beyond any useful value, low enough
/// that a typo cannot make finseed spend minutes creating threads.
pub const MAX_THREADS: usize = 1024;
/// Most PostgreSQL connections a command opens at once (`--jobs`, `--concurrency`); the server's
/// default `max_connections` is 100.
pub const MAX_CONNECTIONS: usize = 64;
/// Most measured executions per query (`--iterations`): each keeps its latency sample in memory
/// and in the JSON report.
pub const MAX_ITERATIONS: usize = 100_000;
/// Most unmeasured executions per query (`--warmup`).
pub const MAX_WARMUP: usize = 10_000;
/// Largest `--min-change-ms` (one minute).
pub const MAX_MIN_CHANGE_MS: f64 = 60_000.0;

/// A count given with `flag`: within `min..=max`, else a usage error naming the flag, the
/// limits, what the flag means and an example.
pub fn bounded(flag: &str, value: usize, min: usize, max: usize, what: &str) -> Result<usize> {
    if (min..=max).contains(&value) {
        return Ok(value);
    }
    Err(Error::Usage(format!(
        "{flag}: {value} is outside {min}..={max} ({what})\n  fix: give a whole number from {min} to {max}"
    )))
}

/// `--threads` (or another flag naming worker threads): the number of cores when not given.
pub fn threads(t: Option<usize>) -> Result<usize> {
    workers("--threads", t, "worker threads")
}

/// `--jobs`: COPY (or DDL) connections; the number of cores when not given.
pub fn jobs(t: Option<usize>) -> Result<usize> {
    match t {
        None => Ok(cores().min(MAX_CONNECTIONS)),
        Some(n) => bounded(
            "--jobs",
            n,
            1,
            MAX_CONNECTIONS,
            "PostgreSQL connections loading at once; leave it out to use one per core",
        ),
    }
}

/// A worker count for `flag`: 1..=MAX_THREADS, the number of cores when not given.
pub fn workers(flag: &str, t: Option<usize>, what: &str) -> Result<usize> {
    match t {
        None => Ok(cores()),
        Some(n) => bounded(
            flag,
            n,
            1,
            MAX_THREADS,
            &format!("{what}; leave it out to use one per core"),
        ),
    }
}

/// The number of cores, capped at MAX_THREADS.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_THREADS)
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
        if let Some(l) = &self.layout {
            p.layout = crate::table::Layout::parse(l).ok_or_else(|| {
                Error::Usage(format!(
                    "--layout: `{l}` is not a layout\n  fix: use --layout {}",
                    crate::table::Layout::NAMES.join(" or --layout ")
                ))
            })?;
        }
        Ok(p)
    }
}

impl BenchArgs {
    /// The counts and the noise floor, checked: `(iterations, warmup, concurrency)`.
    pub fn checked_counts(&self) -> Result<(usize, usize, usize)> {
        let iterations = bounded(
            "--iterations",
            self.iterations.unwrap_or(30),
            1,
            MAX_ITERATIONS,
            "measured executions per query",
        )?;
        let warmup = bounded(
            "--warmup",
            self.warmup.unwrap_or(3),
            0,
            MAX_WARMUP,
            "unmeasured executions per query",
        )?;
        let concurrency = bounded(
            "--concurrency",
            self.concurrency.unwrap_or(1),
            1,
            MAX_CONNECTIONS,
            "connections running each query at once",
        )?;
        let m = self.min_change_ms;
        if !(m.is_finite() && (0.0..=MAX_MIN_CHANGE_MS).contains(&m)) {
            return Err(Error::Usage(format!(
                "--min-change-ms: {m} is not a number of milliseconds from 0 to {MAX_MIN_CHANGE_MS}\n  fix: give the smallest p95 rise that may count as a regression, for example 1"
            )));
        }
        Ok((iterations, warmup, concurrency))
    }
}

/// An output file named by `flag`: its directory must exist and the file must be writable.
/// Checked before any work by creating the file if missing (and removing it again), so a typo
/// costs nothing; an existing file is opened for writing, not truncated.
pub fn check_output_file(flag: &str, path: &Path) -> Result<()> {
    if path.as_os_str().is_empty() {
        return Err(Error::Usage(format!(
            "{flag}: the path is empty\n  fix: give a file path, or leave the flag out"
        )));
    }
    if path.is_dir() {
        return Err(Error::Usage(format!(
            "{flag}: {} is a directory\n  fix: give a file path inside it, for example {}",
            path.display(),
            path.join("report.out").display()
        )));
    }
    let existed = path.exists();
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::input(flag, Error::io(path, e)))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// An output directory named by `flag` (`--out`): created now, before any work, so a path that
/// cannot hold files is refused at once. `-` (standard output) is left alone. An existing
/// directory is left as it is (the command checks what it holds).
pub fn prepare_out_dir(flag: &str, path: &Path) -> Result<()> {
    if path == Path::new("-") {
        return Ok(());
    }
    if path.as_os_str().is_empty() {
        return Err(Error::Usage(format!(
            "{flag}: the path is empty\n  fix: give a new or empty directory"
        )));
    }
    if path.exists() {
        if !path.is_dir() {
            return Err(Error::Usage(format!(
                "{flag}: {} is a file, not a directory\n  fix: give a new or empty directory",
                path.display()
            )));
        }
        return Ok(());
    }
    std::fs::create_dir_all(path).map_err(|e| {
        Error::Usage(format!(
            "{flag}: cannot create the directory {}: {e}\n  fix: give a new or empty directory in a place you can write to, for example ./out",
            path.display()
        ))
    })
}

/// Flags of `finseed generate`.
#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Output directory (new, empty, or an earlier finseed output); `-` writes the single table
    /// named by --tables to standard output.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// csv, jsonl, json or parquet.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// none, zstd[:LEVEL], gzip[:LEVEL] (csv, jsonl) or snappy (parquet). Default: zstd:3 for
    /// parquet, none for text.
    #[arg(long)]
    pub compression: Option<String>,
    /// Parquet: at most this many rows per row group (default: one row group per generator
    /// chunk, 100,000 transactions).
    #[arg(long)]
    pub row_group_rows: Option<usize>,
    /// Parquet: at most this many bytes per row group (the values' plain-encoded size before
    /// compression; K, M, G suffixes are powers of 1024). Combines with --row-group-rows.
    #[arg(long)]
    pub row_group_bytes: Option<String>,
    /// JSON decimals: `string` ("1412.00", default) or `units` (integer cents in `amount_cents`,
    /// thousandths in `confidence_thousandths`).
    #[arg(long, default_value = "string")]
    pub json_decimals: String,
    /// Worker threads (default: the number of cores). Output is identical for any value.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write only shard K of N (for example 2/4).
    #[arg(long)]
    pub shard: Option<String>,
    /// Comma-separated tables to write (default: all).
    #[arg(long)]
    pub tables: Option<String>,
    /// No progress bars.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_auto_takes_the_job_completion_index() {
        assert_eq!(shard_auto("4", Some("0")).unwrap(), (1, 4));
        assert_eq!(shard_auto("4", Some("3")).unwrap(), (4, 4));
        for (n, index, says) in [
            ("4", None, "JOB_COMPLETION_INDEX is not set"),
            (
                "4",
                Some("4"),
                "JOB_COMPLETION_INDEX is 4, but the indexes of 4 shards are 0 to 3",
            ),
            ("4", Some("-1"), "not a whole number from 0 to 3"),
            ("4", Some(""), "not a whole number"),
            ("0", Some("0"), "N must be a whole number of at least 1"),
            ("x", Some("0"), "N must be a whole number of at least 1"),
        ] {
            let e = shard_auto(n, index).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            let m = e.to_string();
            assert!(
                m.contains(says) && m.contains("--shard") && m.contains("\n  fix: "),
                "{m}"
            );
        }
    }
}
