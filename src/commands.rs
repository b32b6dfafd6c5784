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
    if a.scenario.is_some() {
        return scenario_bench(db, a);
    }
    refuse_scenario_flags(&a)?;
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
            baseline_kind(p, &text, None)?;
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

/// Flags that only mean something with `--scenario`.
fn refuse_scenario_flags(a: &BenchArgs) -> Result<()> {
    let given = [
        ("--scenarios", a.scenarios.is_some()),
        ("--rate", a.rate.is_some()),
        ("--clients", a.clients.is_some()),
        ("--duration", a.duration.is_some()),
        ("--ramp-up", a.ramp_up.is_some()),
        ("--arrivals", a.arrivals.is_some()),
    ];
    if let Some((flag, _)) = given.iter().find(|g| g.1) {
        return Err(Error::Usage(format!(
            "{flag} applies to scenario runs only\n  fix: add --scenario NAME (for example --scenario dashboard_analytics_load), or drop {flag}"
        )));
    }
    Ok(())
}

/// A baseline must come from the same kind of run: the same scenario, or the volume queries.
fn baseline_kind(p: &Path, text: &str, scenario: Option<&str>) -> Result<()> {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    let theirs = v["scenario"]["name"].as_str();
    if theirs != scenario {
        let what = |s: Option<&str>| {
            s.map_or("the volume queries".to_string(), |n| {
                format!("scenario {n}")
            })
        };
        return Err(Error::Usage(format!(
            "--baseline: {} is a run of {}, not of {}\n  fix: pass a report written by the same kind of run (`finseed bench{} --json`)",
            p.display(),
            what(theirs),
            what(scenario),
            scenario.map_or(String::new(), |n| format!(" --scenario {n}"))
        )));
    }
    Ok(())
}

/// `finseed bench --scenario`: a weighted mix of actions at a target rate, run open-loop.
fn scenario_bench(db: DbArgs, a: BenchArgs) -> Result<()> {
    use crate::bench::scenario as sc;
    if a.only.is_some() {
        return Err(Error::Usage(
            "--only selects volume queries; a scenario's actions come from its file\n  fix: drop --only, or edit a copy of the scenario file and pass its path to --scenario".into(),
        ));
    }
    let name = a.scenario.as_deref().unwrap_or_default();
    let (mut s, sqls) = sc::select(name, a.scenarios.as_deref())?;
    if let Some(r) = &a.rate {
        s.rate = sc::parse_rate(r).ok_or_else(|| {
            Error::Usage(format!(
                "--rate: `{r}` is not a positive rate\n  fix: give requests per second (--rate 200) or per minute (--rate 50/min)"
            ))
        })?;
    }
    if let Some(c) = a.clients {
        if c == 0 || c > 1000 {
            return Err(Error::Usage(format!(
                "--clients: {c} connections is out of range\n  fix: give 1 to 1000 (PostgreSQL's max_connections must allow them)"
            )));
        }
        s.clients = c;
    }
    if let Some(d) = &a.duration {
        s.duration_s = sc::parse_duration(d).filter(|d| *d > 0.0).ok_or_else(|| {
            Error::Usage(format!(
                "--duration: `{d}` is not a positive duration\n  fix: write it like 60s, 10m or 1.5h"
            ))
        })?;
    }
    if let Some(d) = &a.ramp_up {
        s.ramp_up_s = sc::parse_duration(d).ok_or_else(|| {
            Error::Usage(format!(
                "--ramp-up: `{d}` is not a duration\n  fix: write it like 10s or 2m (0s for none)"
            ))
        })?;
    }
    if let Some(x) = &a.arrivals {
        s.arrivals = match x.as_str() {
            "poisson" => sc::Arrivals::Poisson,
            "constant" => sc::Arrivals::Constant,
            _ => {
                return Err(Error::Usage(format!(
                    "--arrivals: `{x}` is not an arrival process\n  fix: use poisson or constant"
                )))
            }
        };
    }
    let queries = crate::bench::query::load(a.queries.as_deref())?;
    let actions = sc::resolve(&s, &sqls, &queries)?;
    let baseline = match &a.baseline {
        None => None,
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
            baseline_kind(p, &text, Some(&s.name))?;
            let b: crate::bench::BenchReport = serde_json::from_str(&text).map_err(|e| {
                Error::Usage(format!(
                    "--baseline: {} is not a finseed bench JSON report: {e}\n  fix: pass a file written by `finseed bench --scenario {} --json`",
                    p.display(),
                    s.name
                ))
            })?;
            Some(b)
        }
    };
    let target = target(&db, a.quiet)?;
    if !a.quiet {
        eprintln!(
            "scenario {} on {}: {:.2} requests/s ({:?} arrivals), {} connections, {}s ramp-up then {}s measured",
            s.name, target.shown, s.rate, s.arrivals, s.clients, s.ramp_up_s, s.duration_s
        );
    }
    let cfg = sc::ScenarioConfig {
        target,
        scenario: s,
        actions,
        baseline,
        seed: a.bench_seed.unwrap_or(0),
        min_change_ms: a.min_change_ms,
        quiet: a.quiet,
    };
    let mut report = sc::run(&cfg)?;
    report.bench.baseline_file = a.baseline.as_ref().map(|p| p.display().to_string());
    print!("{}", crate::report::scenario_text(&report));
    write_json(&a.json, &report)?;
    if let Some(p) = &a.markdown {
        std::fs::write(p, crate::report::scenario_markdown(&report))
            .map_err(|e| Error::io(p, e))?;
    }
    if let Some(p) = &a.html {
        std::fs::write(p, crate::report::scenario_html(&report)).map_err(|e| Error::io(p, e))?;
    }
    if report.failed() {
        let mut why: Vec<String> = report
            .missed()
            .iter()
            .map(|c| {
                format!(
                    "{} {:.2} against a target of {}",
                    c.target, c.value, c.limit
                )
            })
            .collect();
        let regs = report
            .bench
            .regressions
            .iter()
            .filter(|r| r.significant)
            .count();
        if regs > 0 {
            why.push(format!(
                "{regs} significant regression(s) against the baseline"
            ));
        }
        return Err(Error::Failed(format!(
            "scenario {} failed: {}",
            report.scenario.name,
            why.join("; ")
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
