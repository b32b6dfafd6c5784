//! Command bodies: validate flags into configs, run, print human summaries.

use crate::cli::{
    bounded, check_output_file, jobs, parse_shard, prepare_out_dir, threads, BenchArgs, DbArgs,
    GenerateArgs, LoadArgs, PgAction, ProfileArgs, SeedArgs,
};
use crate::db::Target;
use crate::encode::compress::{Compression, DEFAULT_ZSTD_LEVEL};
use crate::error::Error;
use crate::error::Result;
use crate::gen::parse_tables;
use crate::generate::{generate as run_generate, GenerateConfig};
use crate::profile::{Profile, BUILTIN};
use crate::sink::file::Format;
use std::path::Path;
use std::path::PathBuf;
use std::time::Instant;

pub fn generate(args: GenerateArgs) -> Result<()> {
    // Every flag is checked before any work; the output directory, created last, is the only
    // thing a refused command may leave behind (empty).
    let format = Format::parse(&args.format)?;
    if args.profile.layout.is_some() {
        return Err(Error::Usage(
            "--layout: a PostgreSQL table layout, for seed, run, plan and scales; fixture files are always one file per table\n  fix: leave out --layout".into(),
        ));
    }
    let compression = match args.compression.as_deref() {
        Some(c) => Compression::parse(c)?,
        None if format == Format::Parquet => Compression::Zstd(DEFAULT_ZSTD_LEVEL),
        None => Compression::None,
    };
    if args.row_group_rows == Some(0) {
        return Err(Error::Usage(
            "--row-group-rows: 0 rows per row group\n  fix: give a positive count, or leave the flag out for one row group per chunk".into(),
        ));
    }
    let json_units = match args.json_decimals.as_str() {
        "string" => false,
        "units" => true,
        other => {
            return Err(Error::Usage(format!(
                "--json-decimals: unknown value `{other}`\n  fix: use string (\"1412.00\") or units (amount_cents: 141200)"
            )))
        }
    };
    let quiet = args.quiet;
    let mut profile = args.profile.resolve()?;
    // A profile's layout is PostgreSQL's; fixture files always hold the plain tables.
    profile.layout = crate::table::Layout::Plain;
    let cfg = GenerateConfig {
        profile,
        out: args.out,
        format,
        compression,
        row_group_rows: args.row_group_rows,
        row_group_bytes: args
            .row_group_bytes
            .as_deref()
            .map(crate::encode::parquet::parse_row_group_bytes)
            .transpose()?,
        json_units,
        threads: threads(args.threads)?,
        shard: args.shard.as_deref().map(parse_shard).transpose()?,
        tables: args.tables.as_deref().map(parse_tables).transpose()?,
        quiet,
    };
    prepare_out_dir("--out", &cfg.out)?;
    let t = Instant::now();
    let m = match run_generate(&cfg) {
        // `finseed generate --out - … | head`: the reader has had enough; not an error.
        Err(Error::Io { cause, .. })
            if cfg.to_stdout() && cause.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            return Ok(())
        }
        r => r?,
    };
    let secs = t.elapsed().as_secs_f64();
    if !quiet && !cfg.to_stdout() {
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

/// Where a command's database is: a URL already parsed, or finseed's embedded cluster (not
/// started yet: that happens only once every flag has been checked).
pub enum Database {
    Url(Box<Target>),
    Embedded(PathBuf),
}

impl Database {
    /// Parse `--database-url` (or find the embedded cluster's root) without connecting.
    pub fn from_args(db: &DbArgs) -> Result<Database> {
        match &db.database_url {
            Some(url) if !url.is_empty() => Ok(Database::Url(Box::new(Target::parse(url)?))),
            _ => Ok(Database::Embedded(crate::pgctl::default_root()?)),
        }
    }

    /// The target to connect to. For the embedded cluster: `create` lets this command create it
    /// (seed, run); otherwise (verify, bench) a missing cluster is refused, since a new one would
    /// be empty. A stopped cluster is started.
    pub fn connect(&self, create: bool, quiet: bool) -> Result<Target> {
        let root = match self {
            Database::Url(t) => return Ok((**t).clone()),
            Database::Embedded(root) => root,
        };
        let existed = crate::pgctl::exists(root);
        if !existed && !create {
            return Err(Error::Usage(format!(
                "no --database-url given, and finseed's embedded PostgreSQL has not been created \
                 yet (looked in {}){}\n  fix: seed it first (`finseed seed -p PROFILE`), pass \
                 --database-url / DATABASE_URL, or set {} to the directory of an existing one",
                root.display(),
                legacy_hint(root),
                crate::pgctl::HOME_ENV
            )));
        }
        if !existed && !quiet {
            eprintln!(
                "creating finseed's embedded PostgreSQL in {} (set {} to put it elsewhere)",
                root.display(),
                crate::pgctl::HOME_ENV
            );
        }
        let cluster = crate::pgctl::ensure_running(root)?;
        let url = cluster.url();
        if !quiet {
            eprintln!("using finseed's embedded PostgreSQL: {url}\n  connect with: psql {url}");
        }
        Target::parse(&url)
    }

    /// For seed and run: say the embedded server is still running and how to stop it.
    pub fn say_still_running(&self) {
        if let Database::Embedded(root) = self {
            eprintln!(
                "finseed's embedded PostgreSQL is still running (data in {}); stop it with `finseed pg stop`",
                root.display()
            );
        }
    }
}

/// Before this version the embedded cluster lived in `.finseed/` of the working directory.
fn legacy_hint(root: &Path) -> String {
    let old = Path::new(".finseed");
    if old.join("cluster.json").is_file()
        && std::fs::canonicalize(old).ok() != std::fs::canonicalize(root).ok()
    {
        format!(
            "; an older finseed left a cluster in ./.finseed: use it with `{}=.finseed finseed ...`",
            crate::pgctl::HOME_ENV
        )
    } else {
        String::new()
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

fn check_outputs(outputs: &[(&str, &Option<PathBuf>)]) -> Result<()> {
    for (flag, path) in outputs {
        if let Some(p) = path {
            check_output_file(flag, p)?;
        }
    }
    Ok(())
}

/// `seed`'s flags, checked; the database comes last.
pub struct SeedPlan {
    pub profile: Profile,
    pub jobs: usize,
    pub steps: Vec<&'static str>,
    pub shard: Option<(u64, u64)>,
    pub tables: Option<Vec<&'static str>>,
    pub unlogged: bool,
    pub fresh: bool,
    pub force: bool,
    pub quiet: bool,
    pub json: Option<PathBuf>,
    pub await_shards: Option<crate::seed::finish::AwaitShards>,
    pub map: Option<crate::map::MapFile>,
    pub defer_constraints: bool,
    pub stall: std::time::Duration,
}

impl SeedPlan {
    /// Every step over the whole dataset (no shard, no table filter): `run` and `scales`.
    fn whole(profile: ProfileArgs, db: &DbArgs, load: LoadArgs, quiet: bool) -> Result<SeedPlan> {
        SeedPlan::from_args(&SeedArgs {
            profile,
            db: db.clone(),
            load,
            steps: None,
            shard: None,
            await_shards: None,
            await_timeout: None,
            tables: None,
            unlogged: false,
            json: None,
            quiet,
        })
    }

    pub fn from_args(a: &SeedArgs) -> Result<SeedPlan> {
        let plan = SeedPlan {
            profile: a.profile.resolve()?,
            jobs: jobs(a.load.jobs)?,
            steps: crate::seed::parse_steps(a.steps.as_deref())?,
            shard: a.shard.as_deref().map(parse_shard).transpose()?,
            tables: a.tables.as_deref().map(parse_tables).transpose()?,
            unlogged: a.unlogged,
            fresh: a.load.fresh,
            force: a.load.force,
            quiet: a.quiet,
            json: a.json.clone(),
            await_shards: None,
            map: crate::map_cmd::load_flag(a.load.map.as_deref())?,
            defer_constraints: a.load.defer_constraints,
            stall: crate::seed::stall::parse(a.load.stall_timeout)?,
        };
        let plan = crate::seed::finish::check_flags(a, plan)?;
        if plan.profile.layout == crate::table::Layout::Partitioned {
            if plan.unlogged {
                return Err(Error::Usage(
                    "--unlogged: not with the partitioned layout (PostgreSQL cannot make a partitioned table UNLOGGED; on finseed's own cluster the partitioned layout loads without WAL anyway)\n  fix: leave out --unlogged, or use --layout plain".into(),
                ));
            }
            if plan.map.is_some() {
                return Err(Error::Usage(
                    "--layout partitioned: finseed's own layout, but --map loads the team's tables as they are\n  fix: leave out --layout (and the profile's layout) with --map".into(),
                ));
            }
        }
        if plan.defer_constraints && plan.map.is_none() {
            return Err(Error::Usage(
                "--defer-constraints: only for a load through --map (finseed's own tables get their keys and indexes after the load anyway)\n  fix: add --map FILE, or leave out --defer-constraints".into(),
            ));
        }
        check_outputs(&[("--json", &plan.json)])?;
        Ok(plan)
    }

    fn run(self, target: Target) -> Result<()> {
        let quiet = self.quiet;
        let json = self.json;
        let cfg = crate::seed::SeedConfig {
            // Control round trips are bounded by the same limit as the load's.
            target: target.with_stall(self.stall, "--stall-timeout"),
            profile: self.profile,
            jobs: self.jobs,
            steps: self.steps,
            shard: self.shard,
            tables: self.tables,
            unlogged: self.unlogged,
            fresh: self.fresh,
            force: self.force,
            quiet,
            await_shards: self.await_shards,
            map: self.map,
            defer_constraints: self.defer_constraints,
            stall: self.stall,
        };
        if !quiet {
            eprintln!(
                "seeding {} with profile `{}` (seed {}) over {} connections",
                cfg.target.shown, cfg.profile.name, cfg.profile.seed, cfg.jobs
            );
        }
        let report = crate::seed::seed(&cfg, |s| {
            if !quiet {
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
        write_json(&json, &report)
    }
}

pub fn seed(a: SeedArgs) -> Result<()> {
    let plan = SeedPlan::from_args(&a)?;
    let db = Database::from_args(&a.db)?;
    let target = db.connect(true, a.quiet)?;
    let result = plan.run(target);
    db.say_still_running();
    result
}

pub fn verify(
    profile: ProfileArgs,
    db: DbArgs,
    threads_arg: Option<usize>,
    json: Option<PathBuf>,
    map: Option<PathBuf>,
) -> Result<()> {
    let profile = profile.resolve()?;
    let threads = threads(threads_arg)?;
    check_outputs(&[("--json", &json)])?;
    let map = crate::map_cmd::load_flag(map.as_deref())?;
    let target = Database::from_args(&db)?.connect(false, false)?;
    let report = match &map {
        Some(m) => crate::verify::verify_mapped(profile, &target, threads, m)?,
        None => crate::verify::verify(profile, &target, threads)?,
    };
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
    for r in &report.rollups {
        let result = match (r.built, r.mismatched) {
            (false, _) => "not built (seed's rollups step)".to_string(),
            (true, 0) => format!("ok: {} rows equal the transactions", r.rows),
            (true, n) => format!("{n} KEYS DIFFER from the transactions ({} rows)", r.rows),
        };
        println!("{:<44} {:<22} {result}", r.table, "recomputed");
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

pub fn plan(
    profile: ProfileArgs,
    jobs_arg: Option<usize>,
    json: Option<PathBuf>,
    map: Option<PathBuf>,
    db: DbArgs,
) -> Result<()> {
    let profile = profile.resolve()?;
    let jobs = jobs(jobs_arg)?;
    check_outputs(&[("--json", &json)])?;
    let map = crate::map_cmd::load_flag(map.as_deref())?;
    // Only a map's targets are read, and only when a database is named: plan never starts the
    // embedded cluster.
    let burdens = match (&map, &db.database_url) {
        (Some(m), Some(url)) if !url.is_empty() => Some(crate::map_cmd::burdens(
            &Database::from_args(&db)?.connect(false, true)?,
            m,
        )?),
        _ => None,
    };
    // The activity shares walk every context once: cheap up to the volume profile's 500K,
    // skipped beyond so `plan` stays instant at any scale.
    let shares = (profile.volume.contexts <= 5_000_000)
        .then(|| crate::model::World::new(profile.clone()).activity_shares());
    let mut p = crate::plan::plan(&profile, jobs)?;
    p.map = burdens.map(|b| crate::plan::map_estimate(&p, b));
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
        "estimated seed with {jobs} connections: {}",
        p.steps
            .iter()
            .map(|s| format!("{} {}", s.step, crate::plan::duration(s.seconds)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "total {} rows; disk needed about {:.1} GB (plus WAL up to max_wal_size); estimated load {} + keys and indexes {} (total {})",
        p.total_rows,
        p.disk_bytes as f64 / 1e9,
        crate::plan::duration(p.load_seconds),
        crate::plan::duration(p.index_seconds),
        crate::plan::duration(p.total_seconds),
    );
    println!("load: {}", p.load_path);
    match shares {
        Some((busiest, top1)) => println!(
            "activity: the busiest context holds {:.2}% of transactions, the busiest 1% of contexts {:.1}%",
            busiest * 100.0,
            top1 * 100.0
        ),
        None => println!("activity: shares not computed above 5,000,000 contexts"),
    }
    if let Some(m) = &map {
        crate::map_cmd::print_plan(m, p.map.as_ref());
    }
    write_json(&json, &p)
}

pub fn pg(action: PgAction) -> Result<()> {
    let root = crate::pgctl::default_root()?;
    let root = root.as_path();
    let none_yet = || {
        Error::Usage(format!(
            "no embedded cluster in {} yet\n  fix: run `finseed pg start` or `finseed seed`, or set {} to where one lives",
            root.display(),
            crate::pgctl::HOME_ENV
        ))
    };
    match action {
        PgAction::Start => {
            if !crate::pgctl::exists(root) {
                eprintln!(
                    "creating finseed's embedded PostgreSQL in {}",
                    root.display()
                );
            }
            let c = crate::pgctl::ensure_running(root)?;
            println!("{}", c.url());
        }
        PgAction::Url => match crate::pgctl::status(root)? {
            Some((c, _)) => println!("{}", c.url()),
            None => return Err(none_yet()),
        },
        PgAction::Status => match crate::pgctl::status(root)? {
            Some((c, running)) => println!(
                "{} at {} (data: {}; root: {})",
                if running { "running" } else { "stopped" },
                c.url(),
                c.data_dir.display(),
                root.display()
            ),
            None => println!(
                "no embedded cluster in {}{}",
                root.display(),
                legacy_hint(root)
            ),
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
        thresholds: std::collections::BTreeMap<String, toml::Spanned<f64>>,
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::input("--thresholds", Error::io(path, e)))?;
    let line = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let f: File = toml::from_str(&text).map_err(|e| Error::Profile {
        file: path.display().to_string(),
        line: e.span().map_or(1, |s| line(s.start)),
        field: "thresholds".into(),
        message: e.message().to_string(),
        fix: "write a [thresholds] table of query or scenario names to milliseconds".into(),
    })?;
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in f.thresholds {
        let ms = *v.get_ref();
        if !(ms.is_finite() && ms > 0.0) {
            return Err(Error::Profile {
                file: path.display().to_string(),
                line: line(v.span().start),
                field: format!("thresholds.{k}"),
                message: format!("is {ms}, not a positive number of milliseconds"),
                fix: "give the p95 limit in milliseconds, for example 800".into(),
            });
        }
        out.insert(k, ms);
    }
    Ok(out)
}

/// Read `--baseline`: a JSON report an earlier `finseed bench --json` wrote.
pub fn read_baseline(p: &Path) -> Result<crate::bench::BenchReport> {
    let text =
        std::fs::read_to_string(p).map_err(|e| Error::input("--baseline", Error::io(p, e)))?;
    baseline_kind(p, &text, None)?;
    serde_json::from_str(&text).map_err(|e| {
        Error::Usage(format!(
            "--baseline: {} is not a finseed bench JSON report: {e}\n  fix: pass a file written by `finseed bench --json`",
            p.display()
        ))
    })
}

/// Read a `--thresholds` file and check every name against the queries: a name that is neither
/// a query nor a scenario would silently do nothing.
pub fn read_thresholds_for(
    path: &Path,
    queries: &[crate::bench::query::QuerySpec],
) -> Result<std::collections::BTreeMap<String, f64>> {
    let t = read_thresholds(path)?;
    for name in t.keys() {
        if !queries
            .iter()
            .any(|q| &q.name == name || &q.scenario == name)
        {
            let mut known: Vec<&str> = queries.iter().map(|q| q.name.as_str()).collect();
            let mut scenarios: Vec<&str> = queries
                .iter()
                .map(|q| q.scenario.as_str())
                .filter(|s| !s.is_empty())
                .collect();
            scenarios.sort_unstable();
            scenarios.dedup();
            known.sort_unstable();
            return Err(Error::Usage(format!(
                "--thresholds: {} names `{name}`, which is neither a query nor a scenario\n  fix: use a query name ({}) or a scenario ({})",
                path.display(),
                known.join(", "),
                scenarios.join(", ")
            )));
        }
    }
    Ok(t)
}

/// `bench`'s flags and files, checked and loaded; the database comes last.
pub struct BenchPlan {
    pub queries: Vec<crate::bench::query::QuerySpec>,
    pub iterations: usize,
    pub warmup: usize,
    pub concurrency: usize,
    pub thresholds: std::collections::BTreeMap<String, f64>,
    pub baseline: Option<crate::bench::BenchReport>,
    pub baseline_file: Option<PathBuf>,
    pub seed: Option<u64>,
    pub generic_plans: bool,
    pub min_change_ms: f64,
    pub json: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub quiet: bool,
    /// The team's schema map: pools drawn from its tables, queries from `--queries`.
    pub map: Option<crate::map::MapFile>,
}

impl BenchPlan {
    /// `profile_thresholds` come from a profile when run by `finseed run`.
    pub fn from_args(
        a: &BenchArgs,
        profile_thresholds: std::collections::BTreeMap<String, f64>,
    ) -> Result<BenchPlan> {
        let (iterations, warmup, concurrency) = a.checked_counts()?;
        if let Some(d) = &a.queries {
            if !d.is_dir() {
                return Err(Error::Usage(format!(
                    "--queries: {} is not a directory\n  fix: point it at a directory of .sql files like schemas/queries",
                    d.display()
                )));
            }
        }
        let mut queries = crate::bench::query::load(a.queries.as_deref())
            .map_err(|e| Error::input("--queries", e))?;
        let mut thresholds = profile_thresholds;
        if let Some(p) = &a.thresholds {
            thresholds.extend(read_thresholds_for(p, &queries)?);
        }
        if let Some(only) = &a.only {
            let names: Vec<&str> = only
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect();
            let known = || {
                queries
                    .iter()
                    .map(|q| q.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if names.is_empty() {
                return Err(Error::Usage(format!(
                    "--only: the list is empty\n  fix: name at least one query ({}), or leave the flag out",
                    known()
                )));
            }
            for n in &names {
                if !queries.iter().any(|q| q.name == *n) {
                    return Err(Error::Usage(format!(
                        "--only: no query named `{n}`\n  fix: choose from {}",
                        known()
                    )));
                }
            }
            queries.retain(|q| names.contains(&q.name.as_str()));
        }
        let baseline = a.baseline.as_deref().map(read_baseline).transpose()?;
        check_outputs(&[
            ("--json", &a.json),
            ("--markdown", &a.markdown),
            ("--html", &a.html),
        ])?;
        Ok(BenchPlan {
            queries,
            iterations,
            warmup,
            concurrency,
            thresholds,
            baseline,
            baseline_file: a.baseline.clone(),
            seed: a.bench_seed,
            generic_plans: a.generic_plans,
            min_change_ms: a.min_change_ms,
            json: a.json.clone(),
            markdown: a.markdown.clone(),
            html: a.html.clone(),
            quiet: a.quiet,
            map: None,
        })
    }

    /// Bench through a schema map: the team's query files, pools from the mapped tables.
    pub fn with_map(mut self, a: &BenchArgs, map: Option<crate::map::MapFile>) -> Result<Self> {
        if let Some(m) = &map {
            if a.queries.is_none() {
                return Err(Error::Usage(format!(
                    "--map {}: the built-in queries are written for finseed's own tables\n  fix: pass --queries DIR with query files written for your schema (see README, Seeding your own schema: benchmarking)",
                    m.path.display()
                )));
            }
        }
        self.map = map;
        Ok(self)
    }

    /// The benchmark of this plan on `target`.
    pub fn config(&self, target: Target) -> crate::bench::BenchConfig {
        crate::bench::BenchConfig {
            target,
            queries: self.queries.clone(),
            iterations: self.iterations,
            warmup: self.warmup,
            concurrency: self.concurrency,
            thresholds: self.thresholds.clone(),
            baseline: self.baseline.clone(),
            seed: self.seed,
            generic_plans: self.generic_plans,
            min_change_ms: self.min_change_ms,
            map: self.map.clone(),
        }
    }

    fn run(self, target: Target) -> Result<()> {
        let cfg = self.config(target);
        if !self.quiet {
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
        report.baseline_file = self.baseline_file.as_ref().map(|p| p.display().to_string());
        print!("{}", crate::report::text(&report));
        write_json(&self.json, &report)?;
        if let Some(p) = &self.markdown {
            std::fs::write(p, crate::report::markdown(&report)).map_err(|e| Error::io(p, e))?;
        }
        if let Some(p) = &self.html {
            std::fs::write(p, crate::report::html(&report)).map_err(|e| Error::io(p, e))?;
        }
        if report.failed() {
            let mut why = Vec::new();
            if !report.failures.is_empty() {
                why.push(format!("{} query(ies) failed", report.failures.len()));
            }
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
}

/// `finseed bench`; `profile_thresholds` come from a profile when run by `finseed run`.
pub fn bench(
    db: DbArgs,
    a: BenchArgs,
    map: Option<PathBuf>,
    profile_thresholds: std::collections::BTreeMap<String, f64>,
) -> Result<()> {
    if let (Some(m), Some(_)) = (&map, &a.scenario) {
        return Err(Error::Usage(format!(
            "--map {}: scenarios' actions (and their writes) are written for finseed's own tables\n  fix: run the volume queries through the map (--map with --queries DIR), or run the scenario on a database seeded without a map",
            m.display()
        )));
    }
    if a.scenario.is_some() {
        return scenario_bench(db, a);
    }
    refuse_scenario_flags(&a)?;
    let map = crate::map_cmd::load_flag(map.as_deref())?;
    let plan = BenchPlan::from_args(&a, profile_thresholds)?.with_map(&a, map)?;
    let target = Database::from_args(&db)?.connect(false, a.quiet)?;
    plan.run(target)
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
    // These shape volume query runs; a scenario's load comes from its rate, clients and
    // duration, so accepting them silently would mislead.
    for (flag, given, fix) in [
        ("--iterations", a.iterations.is_some(), "--duration"),
        ("--warmup", a.warmup.is_some(), "--ramp-up"),
        ("--concurrency", a.concurrency.is_some(), "--clients"),
        (
            "--generic-plans",
            a.generic_plans,
            "a copy of the scenario's action files",
        ),
    ] {
        if given {
            return Err(Error::Usage(format!(
                "{flag} applies to volume query runs, not to --scenario\n  fix: drop {flag}; for a scenario use {fix}"
            )));
        }
    }
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
            let text = std::fs::read_to_string(p)
                .map_err(|e| Error::input("--baseline", Error::io(p, e)))?;
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
    let target = Database::from_args(&db)?.connect(false, a.quiet)?;
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
        seed: a.bench_seed,
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

/// `finseed run`: every flag and file of both halves is checked (and the query files, the
/// thresholds and the baseline are loaded) before the seed writes anything.
pub fn run(profile: ProfileArgs, db: DbArgs, load: LoadArgs, b: BenchArgs) -> Result<()> {
    let seed_plan = SeedPlan::whole(profile, &db, load, b.quiet)?;
    let mut bench_plan = BenchPlan::from_args(&b, seed_plan.profile.thresholds.clone())?
        .with_map(&b, seed_plan.map.clone())?;
    bench_plan.seed.get_or_insert(seed_plan.profile.seed);
    let database = Database::from_args(&db)?;
    let target = database.connect(true, b.quiet)?;
    let result = seed_plan
        .run(target.clone())
        .and_then(|()| bench_plan.run(target));
    database.say_still_running();
    result
}

/// Create (or find) the database a scale is seeded into. finseed only uses a database of that
/// name that it created itself (its comment says so); another is refused, never touched.
fn scale_database(base: &Target, name: &str, what: &str) -> Result<Target> {
    let rt = crate::db::runtime()?;
    rt.block_on(async {
        let c = base.connect().await?;
        let q = "cannot prepare the scale's database";
        let row = base
            .ask(
                q,
                c.query_typed_opt(
                    "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = $1",
                    &[(&name, tokio_postgres::types::Type::TEXT)],
                ),
            )
            .await?;
        const MARK: &str = "finseed scales";
        match row {
            Some(r) => {
                let comment: String = r.get(0);
                if !comment.starts_with(MARK) {
                    return Err(Error::Usage(format!(
                        "{}: database {name} exists and was not created by `finseed scales`; finseed will not seed into it\n  fix: drop or rename it yourself if you no longer need it, or pass another --seed",
                        base.shown
                    )));
                }
            }
            None => {
                let made = c
                    .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .await;
                if let Err(e) = made {
                    return Err(Error::Failed(format!(
                        "{}: cannot create database {name} for {what}: {}\n  fix: use a role with CREATEDB (or a server where you may create databases) for --database-url",
                        base.shown,
                        crate::db::redact(&crate::db::detail(&e))
                    )));
                }
                base.ask(
                    q,
                    c.batch_execute(&format!(
                        "COMMENT ON DATABASE \"{name}\" IS '{MARK}: {}'",
                        what.replace('\'', "''")
                    )),
                )
                .await?;
            }
        }
        Ok(base.with_database(name))
    })
}

/// `finseed scales`: the profile at each scale, seeded into its own database and benchmarked;
/// each query's p95 fitted against the transactions.
pub fn scales(
    profile: ProfileArgs,
    db: DbArgs,
    load: LoadArgs,
    b: BenchArgs,
    list: String,
) -> Result<()> {
    let factors = crate::scales::parse_scales(&list)?;
    if b.scenario.is_some() {
        return Err(Error::Usage(
            "--scenario: `finseed scales` times the volume queries\n  fix: run scenarios with `finseed bench --scenario NAME` on one database".into(),
        ));
    }
    refuse_scenario_flags(&b)?;
    if b.baseline.is_some() {
        return Err(Error::Usage(
            "--baseline: a scales run compares scales with each other, not with an earlier report\n  fix: leave out --baseline (compare one database's runs with `finseed bench --baseline`)".into(),
        ));
    }
    if load.map.is_some() {
        return Err(Error::Usage(
            "--map: `finseed scales` creates a database per scale with finseed's own tables\n  fix: leave out --map".into(),
        ));
    }
    check_outputs(&[
        ("--json", &b.json),
        ("--markdown", &b.markdown),
        ("--html", &b.html),
    ])?;
    let quiet = b.quiet;
    let seed_plan = SeedPlan::whole(profile, &db, load, true)?;
    let base_profile = seed_plan.profile.clone();
    let mut bench_plan = BenchPlan::from_args(&b, base_profile.thresholds.clone())?;
    bench_plan.seed.get_or_insert(base_profile.seed);
    let database = Database::from_args(&db)?;
    let base = database.connect(true, quiet)?;
    let result = (|| -> Result<()> {
        let mut points = Vec::new();
        for &f in &factors {
            let prof = base_profile.clone().scaled(f)?;
            let name = crate::scales::database_name(&base_profile.name, base_profile.seed, f);
            let what = format!(
                "profile {} seed {} at scale {f}",
                base_profile.name, base_profile.seed
            );
            let target = scale_database(&base, &name, &what)?;
            let transactions = prof.volume.transactions;
            if !quiet {
                eprintln!(
                    "scale {f}: seeding {transactions} transactions into {}",
                    target.shown
                );
            }
            let cfg = crate::seed::SeedConfig {
                target: target
                    .clone()
                    .with_stall(seed_plan.stall, "--stall-timeout"),
                profile: prof,
                jobs: seed_plan.jobs,
                steps: seed_plan.steps.clone(),
                shard: None,
                tables: None,
                unlogged: false,
                fresh: seed_plan.fresh,
                force: seed_plan.force,
                quiet: true,
                await_shards: None,
                map: None,
                defer_constraints: false,
                stall: seed_plan.stall,
            };
            let seeded = crate::seed::seed(&cfg, |_| {})?;
            if !quiet {
                eprintln!(
                    "scale {f}: seeded in {:.1} s; benchmarking {} queries, {} iterations each",
                    seeded.total_seconds,
                    bench_plan.queries.len(),
                    bench_plan.iterations
                );
            }
            let report = crate::bench::run(&bench_plan.config(target.clone()))?;
            points.push(crate::scales::ScalePoint {
                scale: f,
                transactions,
                database: target.shown.clone(),
                seed_seconds: seeded.total_seconds,
                report,
            });
        }
        let growth = crate::scales::growth(&points);
        let report = crate::scales::ScalesReport {
            profile: base_profile.name.clone(),
            seed: base_profile.seed,
            scales: points,
            growth,
        };
        print!("{}", crate::report::scales_text(&report));
        write_json(&b.json, &report)?;
        if let Some(p) = &b.markdown {
            std::fs::write(p, crate::report::scales_markdown(&report))
                .map_err(|e| Error::io(p, e))?;
        }
        if let Some(p) = &b.html {
            std::fs::write(p, crate::report::scales_html(&report)).map_err(|e| Error::io(p, e))?;
        }
        let breaking: Vec<String> = report
            .growth
            .iter()
            .filter(|g| g.breaks)
            .map(|g| {
                format!(
                    "{} (p95 {:.1} ms > limit {:.0} ms)",
                    g.query,
                    g.predicted_p95_ms.unwrap_or(f64::NAN),
                    g.threshold_ms.unwrap_or(f64::NAN)
                )
            })
            .collect();
        let failed: Vec<String> = report
            .scales
            .iter()
            .flat_map(|p| {
                p.report
                    .failures
                    .iter()
                    .map(move |f| format!("{} at scale {}: {}", f.query, p.scale, f.message))
            })
            .collect();
        if !breaking.is_empty() || !failed.is_empty() {
            let mut why = Vec::new();
            if !breaking.is_empty() {
                why.push(format!(
                    "predicted to break the threshold at {} transactions: {}",
                    report.growth[0].predicted_at,
                    breaking.join(", ")
                ));
            }
            if !failed.is_empty() {
                why.push(format!("failed: {}", failed.join("; ")));
            }
            return Err(Error::Failed(why.join("; ")));
        }
        Ok(())
    })();
    database.say_still_running();
    result
}

/// Most users, payload rows and bulk files `loadtest-data` writes.
pub const MAX_LOADTEST_USERS: usize = 1_000_000;
pub const MAX_LOADTEST_PAYLOADS: usize = 10_000_000;
pub const MAX_LOADTEST_BULK_FILES: usize = 100_000;

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
        max_users: bounded(
            "--users",
            users,
            1,
            MAX_LOADTEST_USERS,
            "users who can log in during the load test",
        )?,
        payloads: bounded(
            "--payloads",
            payloads,
            0,
            MAX_LOADTEST_PAYLOADS,
            "rows of transaction-payloads.csv",
        )?,
        bulk_files: bounded(
            "--bulk-files",
            bulk_files,
            0,
            MAX_LOADTEST_BULK_FILES,
            "bulk import CSV files",
        )?,
    };
    prepare_out_dir("--out", &cfg.out)?;
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

/// `finseed map`: print a starting schema map for the database's tables.
pub fn map(db: DbArgs, out: Option<PathBuf>) -> Result<()> {
    check_outputs(&[("--out", &out)])?;
    let target = Database::from_args(&db)?.connect(false, false)?;
    let text = crate::map_cmd::suggest(&target)?;
    match &out {
        Some(p) => std::fs::write(p, &text).map_err(|e| Error::input("--out", Error::io(p, e)))?,
        None => print!("{text}"),
    }
    Ok(())
}
