//! Command bodies: validate flags into configs, run, print human summaries.

use crate::cli::{
    parse_shard, threads, BenchArgs, DbArgs, LoadArgs, PgAction, ProfileArgs, SeedArgs,
};
use crate::db::Target;
use crate::error::Error;
use crate::error::Result;
use crate::gen::parse_tables;
use crate::generate::{generate as run_generate, GenerateConfig};
use crate::profile::{Profile, BUILTIN};
use crate::sink::file::Format;
use std::path::Path;
use std::path::PathBuf;
use std::time::Instant;

pub fn generate(
    profile: ProfileArgs,
    out: PathBuf,
    format: &str,
    threads_arg: Option<usize>,
    shard: Option<String>,
    tables: Option<String>,
    quiet: bool,
) -> Result<()> {
    let cfg = GenerateConfig {
        profile: profile.resolve()?,
        out,
        format: Format::parse(format)?,
        threads: threads(threads_arg)?,
        shard: shard.as_deref().map(parse_shard).transpose()?,
        tables: tables.as_deref().map(parse_tables).transpose()?,
        quiet,
    };
    let t = Instant::now();
    let m = run_generate(&cfg)?;
    let secs = t.elapsed().as_secs_f64();
    if !quiet {
        let rows: u64 = m.tables.iter().map(|t| t.file.rows).sum();
        let bytes: u64 = m.tables.iter().map(|t| t.file.bytes).sum();
        for t in &m.tables {
            eprintln!(
                "{:>20} {:>12} rows {:>10.1} MB  {}",
                t.table,
                t.file.rows,
                t.file.bytes as f64 / 1e6,
                t.file.file
            );
        }
        eprintln!(
            "generated {rows} rows, {:.1} MB in {secs:.2}s ({:.0} rows/s, {:.1} MB/s) into {}",
            bytes as f64 / 1e6,
            rows as f64 / secs,
            bytes as f64 / 1e6 / secs,
            cfg.out.display()
        );
    }
    Ok(())
}

pub fn profiles() -> Result<()> {
    println!(
        "{:<18} {:>10} {:>10} {:>10} {:>13} {:>11} {:>7}  description",
        "profile", "users", "contexts", "categories", "transactions", "ai_insights", "months"
    );
    for (name, _) in BUILTIN {
        let p = Profile::load(name)?;
        let v = p.volume;
        println!(
            "{:<18} {:>10} {:>10} {:>10} {:>13} {:>11} {:>7}  {}",
            name,
            v.users,
            v.contexts,
            v.categories,
            v.transactions,
            v.ai_insights,
            p.months,
            p.description
        );
    }
    Ok(())
}

pub fn schema() {
    println!("{}", crate::schema::TABLES);
    println!("{}", crate::schema::POST_LOAD);
}

/// Where finseed keeps its embedded cluster: `.finseed/` in the working directory.
pub const EMBEDDED_ROOT: &str = ".finseed";

/// The database to use: the URL given, or the embedded cluster (started if needed).
pub fn target(db: &DbArgs, quiet: bool) -> Result<Target> {
    match &db.database_url {
        Some(url) if !url.is_empty() => Target::parse(url),
        _ => {
            let cluster = crate::pgctl::ensure_running(Path::new(EMBEDDED_ROOT))?;
            let url = cluster.url();
            if !quiet {
                eprintln!("using finseed's embedded PostgreSQL: {url}\n  connect with: psql {url}");
            }
            Target::parse(&url)
        }
    }
}

fn write_json<T: serde::Serialize>(path: &Option<PathBuf>, value: &T) -> Result<()> {
    if let Some(p) = path {
        let mut text = serde_json::to_string_pretty(value).expect("report serialises");
        text.push('\n');
        std::fs::write(p, text).map_err(|e| Error::io(p, e))?;
    }
    Ok(())
}

pub fn seed(a: SeedArgs) -> Result<()> {
    let profile = a.profile.resolve()?;
    let jobs = threads(a.load.jobs).map_err(|_| {
        Error::Usage("--jobs: 0 connections cannot load anything\n  fix: give 1 or more".into())
    })?;
    let steps = crate::seed::parse_steps(a.steps.as_deref())?;
    let shard = a.shard.as_deref().map(parse_shard).transpose()?;
    let tables = a.tables.as_deref().map(parse_tables).transpose()?;
    let cfg = crate::seed::SeedConfig {
        target: target(&a.db, a.quiet)?,
        profile,
        jobs,
        steps,
        shard,
        tables,
        unlogged: a.unlogged,
        fresh: a.load.fresh,
        force: a.load.force,
        quiet: a.quiet,
    };
    if !a.quiet {
        eprintln!(
            "seeding {} with profile `{}` (seed {}) over {} connections",
            cfg.target.shown, cfg.profile.name, cfg.profile.seed, cfg.jobs
        );
    }
    let report = crate::seed::seed(&cfg, |s| {
        if !a.quiet {
            let rate = s
                .rows_per_second
                .map(|r| format!("{:>10} rows {:>12.0} rows/s", s.rows.unwrap_or(0), r))
                .unwrap_or_default();
            eprintln!(
                "  step {:<13} {:>9.2} s  {rate}  {}",
                s.step, s.seconds, s.detail
            );
        }
    })?;
    println!("{:<20} {:>12} {:>12}", "table", "rows", "size");
    for t in &report.tables {
        println!(
            "{:<20} {:>12} {:>10.1} MB",
            t.table,
            t.rows_loaded,
            t.bytes as f64 / 1e6
        );
    }
    println!(
        "seeded in {:.2} s: {}",
        report.total_seconds, report.database
    );
    write_json(&a.json, &report)
}

pub fn verify(
    profile: ProfileArgs,
    db: DbArgs,
    threads_arg: Option<usize>,
    json: Option<PathBuf>,
) -> Result<()> {
    let profile = profile.resolve()?;
    let target = target(&db, false)?;
    let report = crate::verify::verify(profile, &target, threads(threads_arg)?)?;
    println!("{:<20} {:>12} {:>12}  result", "table", "expected", "found");
    for t in &report.tables {
        let found = t
            .found_rows
            .map_or("missing".to_string(), |n| n.to_string());
        let result = if t.ok {
            "ok".to_string()
        } else {
            format!("DIFFERS in {}", t.differing_columns.join(", "))
        };
        println!(
            "{:<20} {:>12} {:>12}  {result}",
            t.table, t.expected_rows, found
        );
    }
    for k in &report.foreign_keys {
        let result = match k.orphans {
            0 => "ok".to_string(),
            -1 => "could not check".to_string(),
            n => format!("{n} ORPHAN ROWS"),
        };
        println!("{:<44} {:<22} {result}", k.constraint, k.how);
    }
    write_json(&json, &report)?;
    if report.ok {
        println!("verified: {} matches the generator", target.shown);
        Ok(())
    } else {
        Err(Error::Failed(format!(
            "verification failed for {}: see the differences above",
            target.shown
        )))
    }
}

pub fn plan(profile: ProfileArgs, jobs: Option<usize>, json: Option<PathBuf>) -> Result<()> {
    let profile = profile.resolve()?;
    let jobs = threads(jobs)?;
    let (busiest, top1) = crate::model::World::new(profile.clone()).activity_shares();
    let p = crate::plan::plan(profile, threads(None)?, jobs)?;
    println!(
        "{:<20} {:>14} {:>12} {:>12} {:>12}",
        "table", "rows", "COPY MB", "heap MB", "index MB"
    );
    for t in &p.tables {
        println!(
            "{:<20} {:>14} {:>12.1} {:>12.1} {:>12.1}",
            t.table,
            t.rows,
            t.copy_bytes as f64 / 1e6,
            t.heap_bytes as f64 / 1e6,
            t.index_bytes as f64 / 1e6
        );
    }
    println!(
        "total {} rows; disk needed about {:.1} GB (plus WAL up to max_wal_size); estimated load {:.0} s + keys and indexes {:.0} s with {jobs} connections",
        p.total_rows,
        p.disk_bytes as f64 / 1e9,
        p.load_seconds,
        p.index_seconds
    );
    println!(
        "activity: the busiest context holds {:.2}% of transactions, the busiest 1% of contexts {:.1}%",
        busiest * 100.0,
        top1 * 100.0
    );
    write_json(&json, &p)
}

pub fn pg(action: PgAction) -> Result<()> {
    let root = Path::new(EMBEDDED_ROOT);
    match action {
        PgAction::Start => {
            let c = crate::pgctl::ensure_running(root)?;
            println!("{}", c.url());
        }
        PgAction::Url => match crate::pgctl::status(root)? {
            Some((c, _)) => println!("{}", c.url()),
            None => {
                return Err(Error::Usage(
                    "no embedded cluster here yet\n  fix: run `finseed pg start` or `finseed seed` in this directory".into(),
                ))
            }
        },
        PgAction::Status => match crate::pgctl::status(root)? {
            Some((c, running)) => println!(
                "{} at {} (data: {})",
                if running { "running" } else { "stopped" },
                c.url(),
                c.data_dir.display()
            ),
            None => println!("no embedded cluster in {}", std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default()),
        },
        PgAction::Stop => {
            if crate::pgctl::stop(root)? {
                println!("stopped");
            } else {
                println!("not running");
            }
        }
    }
    Ok(())
}

fn read_thresholds(path: &Path) -> Result<std::collections::BTreeMap<String, f64>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        thresholds: std::collections::BTreeMap<String, f64>,
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let f: File = toml::from_str(&text).map_err(|e| Error::Profile {
        file: path.display().to_string(),
        line: e
            .span()
            .map_or(1, |s| text[..s.start].matches('\n').count() + 1),
        field: "thresholds".into(),
        message: e.message().to_string(),
        fix: "write a [thresholds] table of query or scenario names to milliseconds".into(),
    })?;
    Ok(f.thresholds)
}

/// `finseed bench`; `profile_thresholds` come from a profile when run by `finseed run`.
pub fn bench(
    db: DbArgs,
    a: BenchArgs,
    profile_thresholds: std::collections::BTreeMap<String, f64>,
) -> Result<()> {
    let mut queries = crate::bench::query::load(a.queries.as_deref())?;
    if let Some(only) = &a.only {
        let names: Vec<&str> = only.split(',').map(str::trim).collect();
        for n in &names {
            if !queries.iter().any(|q| q.name == *n) {
                return Err(Error::Usage(format!(
                    "--only: no query named `{n}`\n  fix: choose from {}",
                    queries
                        .iter()
                        .map(|q| q.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        queries.retain(|q| names.contains(&q.name.as_str()));
    }
    let mut thresholds = profile_thresholds;
    if let Some(p) = &a.thresholds {
        thresholds.extend(read_thresholds(p)?);
    }
    let baseline = match &a.baseline {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
            let b: crate::bench::BenchReport = serde_json::from_str(&text).map_err(|e| {
                Error::Usage(format!(
                    "--baseline: {} is not a finseed bench JSON report: {e}\n  fix: pass a file written by `finseed bench --json`",
                    p.display()
                ))
            })?;
            Some(b)
        }
    };
    let target = target(&db, a.quiet)?;
    let cfg = crate::bench::BenchConfig {
        target,
        queries,
        iterations: a.iterations,
        warmup: a.warmup,
        concurrency: a.concurrency,
        thresholds,
        baseline,
        seed: a.bench_seed.unwrap_or(0),
        generic_plans: a.generic_plans,
        min_change_ms: a.min_change_ms,
    };
    if !a.quiet {
        eprintln!(
            "benchmarking {} queries on {}: {} iterations each after {} warm-up, concurrency {}",
            cfg.queries.len(),
            cfg.target.shown,
            cfg.iterations,
            cfg.warmup,
            cfg.concurrency
        );
    }
    let mut report = crate::bench::run(&cfg)?;
    report.baseline_file = a.baseline.as_ref().map(|p| p.display().to_string());
    print!("{}", crate::report::text(&report));
    write_json(&a.json, &report)?;
    if let Some(p) = &a.markdown {
        std::fs::write(p, crate::report::markdown(&report)).map_err(|e| Error::io(p, e))?;
    }
    if let Some(p) = &a.html {
        std::fs::write(p, crate::report::html(&report)).map_err(|e| Error::io(p, e))?;
    }
    if report.failed() {
        let mut why = Vec::new();
        if !report.breaches.is_empty() {
            why.push(format!("{} threshold breach(es)", report.breaches.len()));
        }
        let regs = report.regressions.iter().filter(|r| r.significant).count();
        if regs > 0 {
            why.push(format!(
                "{regs} significant regression(s) against the baseline"
            ));
        }
        return Err(Error::Failed(format!(
            "benchmark failed: {}",
            why.join(", ")
        )));
    }
    Ok(())
}

pub fn run(profile: ProfileArgs, db: DbArgs, load: LoadArgs, b: BenchArgs) -> Result<()> {
    let p = profile.resolve()?;
    let thresholds = p.thresholds.clone();
    let seed_value = p.seed;
    seed(SeedArgs {
        profile,
        db: db.clone(),
        load,
        steps: None,
        shard: None,
        tables: None,
        unlogged: false,
        json: None,
        quiet: b.quiet,
    })?;
    let mut b = b;
    b.bench_seed.get_or_insert(seed_value);
    // The seed step already said which embedded cluster it used; bench the same one quietly.
    let mut db = db;
    if db.database_url.as_deref().is_none_or(str::is_empty) {
        db.database_url = Some(crate::pgctl::ensure_running(Path::new(EMBEDDED_ROOT))?.url());
    }
    bench(db, b, thresholds)
}

pub fn loadtest_data(
    profile: ProfileArgs,
    out: PathBuf,
    users: usize,
    payloads: usize,
    bulk_files: usize,
) -> Result<()> {
    let cfg = crate::loadtest::LoadtestConfig {
        profile: profile.resolve()?,
        out,
        max_users: users,
        payloads,
        bulk_files,
    };
    let s = crate::loadtest::write(&cfg)?;
    let rows: u64 = s.files.iter().map(|f| f.rows).sum();
    let bytes: u64 = s.files.iter().map(|f| f.bytes).sum();
    for f in s.files.iter().filter(|f| !f.path.starts_with("bulk/bulk-")) {
        println!(
            "{:<28} {:>9} rows {:>10.1} KB",
            f.path,
            f.rows,
            f.bytes as f64 / 1e3
        );
    }
    let bulk = s
        .files
        .iter()
        .filter(|f| f.path.starts_with("bulk/bulk-"))
        .count();
    println!(
        "{bulk} bulk import files; {} files, {rows} rows, {:.1} MB in {}",
        s.files.len(),
        bytes as f64 / 1e6,
        cfg.out.display()
    );
    println!("password for every user: {}", cfg.profile.password);
    Ok(())
}
