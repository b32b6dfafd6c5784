//! `finseed bench --scenario NAME`: the performance plan's scenarios as database workloads.
//!
//! A scenario (`schemas/scenarios/*.toml`) is a weighted mix of actions arriving at a target
//! rate. The run is *open-loop*: every request has a scheduled start drawn before the run
//! (constant or Poisson arrivals, seeded, with a linear ramp-up), and its latency is measured
//! from that scheduled start, not from when a connection got round to it. A server that falls
//! behind therefore shows its queueing in the percentiles instead of hiding it by slowing the
//! client down (coordinated omission). Percentiles come from HDR histograms.
//!
//! Actions are the read queries of `schemas/queries` or action files
//! (`schemas/scenarios/actions/*.sql`). Writes run in a transaction that is always rolled
//! back, on ids above the generated range, so a run leaves the seeded data as `verify`
//! expects it.

use super::query::{Param, QuerySpec, SqlFile};
use super::{BenchReport, Breach, CacheStats, ParamPools, QueryResult, RawLen, Settings, Value};
use crate::db::Target;
use crate::error::{Error, Result};
use crate::rng::mix64;
use crate::stats::{percentile, Summary};
use futures_util::{pin_mut, SinkExt, StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;

/// Scenarios shipped in the binary.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "dashboard_analytics_load.toml",
        include_str!("../../schemas/scenarios/dashboard_analytics_load.toml"),
    ),
    (
        "dashboard_analytics_load_rollups.toml",
        include_str!("../../schemas/scenarios/dashboard_analytics_load_rollups.toml"),
    ),
    (
        "financial_transaction_flow.toml",
        include_str!("../../schemas/scenarios/financial_transaction_flow.toml"),
    ),
    (
        "bulk_data_operations.toml",
        include_str!("../../schemas/scenarios/bulk_data_operations.toml"),
    ),
    (
        "collaborative_context_usage.toml",
        include_str!("../../schemas/scenarios/collaborative_context_usage.toml"),
    ),
];

/// Action files shipped in the binary (`schemas/scenarios/actions`).
pub const BUILTIN_ACTIONS: &[(&str, &str)] = &[
    (
        "ai_categorization.sql",
        include_str!("../../schemas/scenarios/actions/ai_categorization.sql"),
    ),
    (
        "approve_split.sql",
        include_str!("../../schemas/scenarios/actions/approve_split.sql"),
    ),
    (
        "authenticate_user.sql",
        include_str!("../../schemas/scenarios/actions/authenticate_user.sql"),
    ),
    (
        "bulk_import.sql",
        include_str!("../../schemas/scenarios/actions/bulk_import.sql"),
    ),
    (
        "create_transaction.sql",
        include_str!("../../schemas/scenarios/actions/create_transaction.sql"),
    ),
    (
        "send_notification.sql",
        include_str!("../../schemas/scenarios/actions/send_notification.sql"),
    ),
];

/// At most this many requests in one run (the schedule is held in memory).
const MAX_REQUESTS: f64 = 20_000_000.0;
/// At most this many raw samples per action kept in the JSON for the baseline's significance
/// test (evenly spaced over the run); percentiles use every request.
const MAX_SAMPLES: usize = 10_000;
/// The whole mix's row in the per-action table.
pub const MIX: &str = "mix";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    Constant,
    Poisson,
}

/// The targets a run is judged against; any may be absent.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Targets {
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    pub error_percent: Option<f64>,
    /// Successful requests per second to sustain over the steady state.
    pub throughput_tps: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ActionRef {
    pub name: String,
    /// A query (`schemas/queries`) or action file (`schemas/scenarios/actions`) name.
    pub query: String,
    pub weight: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub file: String,
    /// Requests per second at the end of the ramp-up.
    pub rate: f64,
    pub arrivals: Arrivals,
    pub clients: usize,
    pub users: Option<u64>,
    pub ramp_up_s: f64,
    pub duration_s: f64,
    pub seed: u64,
    pub targets: Targets,
    pub actions: Vec<ActionRef>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RateValue {
    Number(f64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsToml {
    p50_ms: Option<f64>,
    p95_ms: Option<f64>,
    p99_ms: Option<f64>,
    p999_ms: Option<f64>,
    error_percent: Option<f64>,
    throughput_tps: Option<RateValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionToml {
    name: String,
    query: String,
    weight: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioToml {
    name: String,
    #[serde(default)]
    description: String,
    rate: RateValue,
    #[serde(default)]
    arrivals: Option<String>,
    clients: usize,
    #[serde(default)]
    users: Option<u64>,
    #[serde(default)]
    ramp_up: Option<String>,
    duration: String,
    #[serde(default)]
    seed: u64,
    #[serde(default)]
    targets: Option<TargetsToml>,
    action: Vec<ActionToml>,
}

/// A rate: a number of requests per second, or text `N/s`, `N/min`, `N/h` (`200`, `50/min`).
pub fn parse_rate(s: &str) -> Option<f64> {
    let s = s.trim();
    let (n, per) = match s.split_once('/') {
        Some((n, unit)) => (
            n.trim(),
            match unit.trim() {
                "s" | "sec" | "second" => 1.0,
                "min" | "m" | "minute" => 60.0,
                "h" | "hour" => 3600.0,
                _ => return None,
            },
        ),
        None => (s, 1.0),
    };
    let v: f64 = n.parse().ok()?;
    (v.is_finite() && v > 0.0).then_some(v / per)
}

/// A duration: a number with a unit, `ms`, `s`, `m` or `h` (`90s`, `2m`, `1.5h`); a bare
/// number is seconds.
pub fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let v: f64 = n.parse().ok()?;
    let f = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return None,
    };
    (v.is_finite() && v >= 0.0).then_some(v * f)
}

impl Scenario {
    pub fn parse(file: &str, text: &str) -> Result<Scenario> {
        let line_of = |key: &str| {
            text.lines()
                .position(|l| l.trim_start().starts_with(key))
                .map_or(1, |i| i + 1)
        };
        let bad = |field: &str, message: String, fix: &str| Error::Profile {
            file: file.to_string(),
            line: line_of(field.rsplit('.').next().unwrap_or(field)),
            field: field.to_string(),
            message,
            fix: fix.to_string(),
        };
        let t: ScenarioToml = toml::from_str(text).map_err(|e| Error::Profile {
            file: file.to_string(),
            line: e
                .span()
                .map_or(1, |s| text[..s.start].matches('\n').count() + 1),
            field: "scenario".into(),
            message: e.message().to_string(),
            fix: "see the scenario format in README.md (## Scenarios) or schemas/scenarios/*.toml"
                .into(),
        })?;
        let rate_of = |field: &str, v: &RateValue| -> Result<f64> {
            let r = match v {
                RateValue::Number(n) => (n.is_finite() && *n > 0.0).then_some(*n),
                RateValue::Text(s) => parse_rate(s),
            };
            r.ok_or_else(|| {
                bad(
                    field,
                    "is not a positive rate".into(),
                    "give requests per second (200) or text like \"50/min\"",
                )
            })
        };
        let rate = rate_of("rate", &t.rate)?;
        let arrivals = match t.arrivals.as_deref().unwrap_or("poisson") {
            "poisson" => Arrivals::Poisson,
            "constant" => Arrivals::Constant,
            other => {
                return Err(bad(
                    "arrivals",
                    format!("`{other}` is not an arrival process"),
                    "use poisson or constant",
                ))
            }
        };
        if t.name.trim().is_empty() {
            return Err(bad("name", "is empty".into(), "name the scenario"));
        }
        if t.clients == 0 || t.clients > 1000 {
            return Err(bad(
                "clients",
                format!("{} connections is out of range", t.clients),
                "give 1 to 1000 connections",
            ));
        }
        let duration_s = parse_duration(&t.duration)
            .filter(|d| *d > 0.0)
            .ok_or_else(|| {
                bad(
                    "duration",
                    format!("`{}` is not a positive duration", t.duration),
                    "write it like 10m, 90s or 1.5h",
                )
            })?;
        let ramp_up_s = match &t.ramp_up {
            None => 0.0,
            Some(r) => parse_duration(r).ok_or_else(|| {
                bad(
                    "ramp_up",
                    format!("`{r}` is not a duration"),
                    "write it like 2m or 30s (0s for none)",
                )
            })?,
        };
        let tt = t.targets.unwrap_or(TargetsToml {
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            p999_ms: None,
            error_percent: None,
            throughput_tps: None,
        });
        for (k, v) in [
            ("targets.p50_ms", tt.p50_ms),
            ("targets.p95_ms", tt.p95_ms),
            ("targets.p99_ms", tt.p99_ms),
            ("targets.p999_ms", tt.p999_ms),
            ("targets.error_percent", tt.error_percent),
        ] {
            if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
                return Err(bad(
                    k,
                    "is negative or not a number".into(),
                    "give a non-negative number",
                ));
            }
        }
        let targets = Targets {
            p50_ms: tt.p50_ms,
            p95_ms: tt.p95_ms,
            p99_ms: tt.p99_ms,
            p999_ms: tt.p999_ms,
            error_percent: tt.error_percent,
            throughput_tps: tt
                .throughput_tps
                .as_ref()
                .map(|v| rate_of("targets.throughput_tps", v))
                .transpose()?,
        };
        if t.action.is_empty() {
            return Err(bad(
                "action",
                "the scenario has no actions".into(),
                "add [[action]] tables with name, query and weight",
            ));
        }
        let mut names = std::collections::BTreeSet::new();
        let mut actions = Vec::new();
        for a in t.action {
            if a.weight == 0 {
                return Err(bad(
                    "weight",
                    format!("action `{}` has weight 0", a.name),
                    "give every action a weight of 1 or more, or remove it",
                ));
            }
            if a.name == MIX || !names.insert(a.name.clone()) {
                return Err(bad(
                    "name",
                    format!("action name `{}` is reserved or appears twice", a.name),
                    "give each action a unique name other than `mix`",
                ));
            }
            actions.push(ActionRef {
                name: a.name,
                query: a.query,
                weight: a.weight,
            });
        }
        Ok(Scenario {
            name: t.name,
            description: t.description,
            file: file.to_string(),
            rate,
            arrivals,
            clients: t.clients,
            users: t.users,
            ramp_up_s,
            duration_s,
            seed: t.seed,
            targets,
            actions,
        })
    }
}

/// Parameter kinds of action files: the query parameters plus what writes need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionParam {
    Query(Param),
    /// A transaction id above the generated range, unique to the request.
    NewTransactionId,
    /// Two values: a context and one of its (non-viewer) members.
    Member,
    /// A system category id, of the same sampled expense as description and merchant.
    Category,
    Description,
    /// Empty text for none (use `nullif($n, '')`).
    Merchant,
    /// Text such as `-123.45` (integer cents drawn from the seed).
    Amount,
    /// One of the latest transactions of the sampled contexts.
    RecentTransaction,
    /// Two values: a pending split's transaction and user.
    PendingSplit,
    /// A user's e-mail.
    Email,
}

impl ActionParam {
    fn parse(s: &str) -> Option<ActionParam> {
        Some(match s {
            "busy_context" => ActionParam::Query(Param::BusyContext),
            "typical_context" => ActionParam::Query(Param::TypicalContext),
            "user" => ActionParam::Query(Param::User),
            "as_of" => ActionParam::Query(Param::AsOf),
            "new_transaction_id" => ActionParam::NewTransactionId,
            "member" => ActionParam::Member,
            "category" => ActionParam::Category,
            "description" => ActionParam::Description,
            "merchant" => ActionParam::Merchant,
            "amount" => ActionParam::Amount,
            "recent_transaction" => ActionParam::RecentTransaction,
            "pending_split" => ActionParam::PendingSplit,
            "email" => ActionParam::Email,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A read: runs as it is.
    Read,
    /// Runs inside BEGIN … ROLLBACK.
    Write,
    /// A `COPY … FROM STDIN (FORMAT csv)` of `rows` generated transactions, inside BEGIN …
    /// ROLLBACK.
    CopyIn,
}

/// An action file: SQL with a header like the queries' (`name`, `description`, `mode`,
/// `params`, `rows`).
#[derive(Clone, Debug)]
pub struct ActionSql {
    pub name: String,
    pub file: String,
    pub description: String,
    pub mode: Mode,
    pub params: Vec<ActionParam>,
    pub rows: usize,
    pub sql: String,
}

impl ActionSql {
    pub fn parse(file: &str, text: &str) -> Result<ActionSql> {
        let mut a = ActionSql {
            name: Path::new(file)
                .file_stem()
                .map_or(file.to_string(), |s| s.to_string_lossy().into_owned()),
            file: file.to_string(),
            description: String::new(),
            mode: Mode::Read,
            params: Vec::new(),
            rows: 0,
            sql: String::new(),
        };
        let file_text = SqlFile::read(text);
        for h in &file_text.headers {
            let bad = |field: &str, fix: &str| h.invalid(file, field, fix);
            let value = h.value;
            match h.key {
                "name" => a.name = value.to_string(),
                "description" => a.description = value.to_string(),
                "mode" => {
                    a.mode = match value {
                        "read" => Mode::Read,
                        "write" => Mode::Write,
                        "copy_in" => Mode::CopyIn,
                        _ => return Err(bad("mode", "use read, write or copy_in")),
                    }
                }
                "rows" => {
                    a.rows = value
                        .parse()
                        .ok()
                        .filter(|r| (1..=1_000_000).contains(r))
                        .ok_or_else(|| bad("rows", "give 1 to 1000000 rows"))?
                }
                "params" => {
                    for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        a.params.push(ActionParam::parse(p).ok_or_else(|| {
                            bad(
                                "params",
                                "use busy_context, typical_context, user, as_of, new_transaction_id, member, category, description, merchant, amount, recent_transaction, pending_split or email",
                            )
                        })?);
                    }
                }
                _ => {}
            }
        }
        a.sql = file_text.sql;
        if a.sql.is_empty() {
            return Err(Error::Usage(format!(
                "{file}: no SQL after the header\n  fix: add the statement"
            )));
        }
        if a.mode == Mode::CopyIn {
            let ok = a.rows > 0
                && a.sql.to_ascii_uppercase().starts_with("COPY TRANSACTIONS")
                && a.params.contains(&ActionParam::NewTransactionId)
                && a.params.contains(&ActionParam::Member)
                && a.params.contains(&ActionParam::Query(Param::AsOf));
            if !ok {
                return Err(Error::Usage(format!(
                    "{file}: a copy_in action needs `-- rows: N`, `-- params: new_transaction_id, member, as_of` and a `COPY transactions (…) FROM STDIN (FORMAT csv)` body\n  fix: start from schemas/scenarios/actions/bulk_import.sql"
                )));
            }
        }
        Ok(a)
    }
}

/// The scenarios and action files in use: the built-in ones, or a directory's.
pub struct Catalog {
    pub scenarios: Vec<Scenario>,
    pub actions: Vec<ActionSql>,
}

fn read_dir_sorted(d: &Path, ext: &str) -> Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(d)
        .map_err(|e| Error::io(d, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    Ok(files)
}

fn load_actions(dir: Option<&Path>) -> Result<Vec<ActionSql>> {
    let mut out = Vec::new();
    match dir.filter(|d| d.is_dir()) {
        None => {
            for (f, t) in BUILTIN_ACTIONS {
                out.push(ActionSql::parse(f, t)?);
            }
        }
        Some(d) => {
            for f in read_dir_sorted(d, "sql")? {
                let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
                out.push(ActionSql::parse(&f.display().to_string(), &text)?);
            }
        }
    }
    Ok(out)
}

/// Load scenarios from `dir` (every `*.toml`, action files from `dir/actions`, else the
/// built-in ones) or the built-in set.
pub fn load(dir: Option<&Path>) -> Result<Catalog> {
    let mut scenarios = Vec::new();
    match dir {
        None => {
            for (f, t) in BUILTIN {
                scenarios.push(Scenario::parse(f, t)?);
            }
        }
        Some(d) => {
            for f in read_dir_sorted(d, "toml")? {
                let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
                scenarios.push(Scenario::parse(&f.display().to_string(), &text)?);
            }
            if scenarios.is_empty() {
                return Err(Error::Usage(format!(
                    "--scenarios: {} holds no .toml files\n  fix: point it at a directory like schemas/scenarios",
                    d.display()
                )));
            }
        }
    }
    let actions = load_actions(dir.map(|d| d.join("actions")).as_deref())?;
    Ok(Catalog { scenarios, actions })
}

/// The scenario `--scenario` names: a path to a `.toml` file (its action files from an
/// `actions` directory beside it, else the built-in ones), or a name in the catalog.
pub fn select(name_or_path: &str, dir: Option<&Path>) -> Result<(Scenario, Vec<ActionSql>)> {
    let p = Path::new(name_or_path);
    if name_or_path.ends_with(".toml") || p.is_file() {
        let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
        let s = Scenario::parse(name_or_path, &text)?;
        let actions = load_actions(p.parent().map(|d| d.join("actions")).as_deref())?;
        return Ok((s, actions));
    }
    let cat = load(dir)?;
    let names: Vec<String> = cat.scenarios.iter().map(|s| s.name.clone()).collect();
    let s = cat
        .scenarios
        .into_iter()
        .find(|s| s.name == name_or_path)
        .ok_or_else(|| {
            Error::Usage(format!(
                "--scenario: no scenario named `{name_or_path}`\n  fix: choose from {}, or give a path to a .toml file",
                names.join(", ")
            ))
        })?;
    Ok((s, cat.actions))
}

#[derive(Clone, Debug)]
pub enum Work {
    Query(QuerySpec),
    Sql(ActionSql),
}

#[derive(Clone, Debug)]
pub struct Action {
    pub name: String,
    pub query: String,
    pub weight: u32,
    pub work: Work,
}

impl Action {
    fn mode(&self) -> Mode {
        match &self.work {
            Work::Query(_) => Mode::Read,
            Work::Sql(a) => a.mode,
        }
    }
}

/// Each action's query: an action file of that name first, then a query.
pub fn resolve(s: &Scenario, sqls: &[ActionSql], queries: &[QuerySpec]) -> Result<Vec<Action>> {
    let mut out = Vec::new();
    for a in &s.actions {
        let work = if let Some(x) = sqls.iter().find(|x| x.name == a.query) {
            Work::Sql(x.clone())
        } else if let Some(q) = queries.iter().find(|q| q.name == a.query) {
            if q.params
                .iter()
                .any(|p| matches!(p, Param::BusyCursor | Param::TypicalCursor))
            {
                // Cursors are drawn per context; nothing stops a scenario using them.
            }
            Work::Query(q.clone())
        } else {
            let mut names: Vec<&str> = sqls.iter().map(|x| x.name.as_str()).collect();
            names.extend(queries.iter().map(|q| q.name.as_str()));
            return Err(Error::Usage(format!(
                "{}: action `{}` names query `{}`, which is neither an action file nor a query\n  fix: choose from {}",
                s.file,
                a.name,
                a.query,
                names.join(", ")
            )));
        };
        out.push(Action {
            name: a.name.clone(),
            query: a.query.clone(),
            weight: a.weight,
            work,
        });
    }
    Ok(out)
}

/// Uniform in [0, 1) from a hash of (seed, stream, index).
fn unit(seed: u64, stream: u64, i: u64) -> f64 {
    let h = mix64(seed ^ mix64(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ mix64(i)));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Scheduled starts (seconds from the run's start) and the action of each request: the rate
/// rises linearly from 0 to `rate` over the ramp-up, then holds for `duration`. Constant
/// arrivals are evenly spaced in expected count; Poisson arrivals have exponential gaps in it
/// (a non-homogeneous Poisson process by time rescaling). Depends only on its arguments.
pub fn schedule(
    rate: f64,
    ramp_up_s: f64,
    duration_s: f64,
    arrivals: Arrivals,
    seed: u64,
    weights: &[u32],
) -> Vec<(f64, usize)> {
    let ramp_count = rate * ramp_up_s / 2.0;
    let total = ramp_count + rate * duration_s;
    // Time at which the expected count reaches `u`.
    let at = |u: f64| {
        if u < ramp_count {
            (2.0 * ramp_up_s * u / rate).sqrt()
        } else {
            ramp_up_s + (u - ramp_count) / rate
        }
    };
    let sum: u64 = weights.iter().map(|&w| w as u64).sum();
    let pick = |i: u64| {
        let mut x = (unit(seed, 2, i) * sum as f64) as u64;
        for (k, &w) in weights.iter().enumerate() {
            if x < w as u64 {
                return k;
            }
            x -= w as u64;
        }
        weights.len() - 1
    };
    let mut out = Vec::with_capacity(total.min(MAX_REQUESTS) as usize + 1);
    let mut u = 0.0;
    let mut i = 0u64;
    loop {
        u += match arrivals {
            Arrivals::Constant => 1.0,
            Arrivals::Poisson => -(1.0 - unit(seed, 1, i)).ln(),
        };
        if u > total {
            break;
        }
        out.push((at(u), pick(i)));
        i += 1;
    }
    out
}

/// What a run needs beyond the scenario: overrides from the command line.
pub struct ScenarioConfig {
    pub target: Target,
    pub scenario: Scenario,
    pub actions: Vec<Action>,
    pub baseline: Option<BenchReport>,
    /// Seeds the choice of users (like `finseed bench`). `None`: the seed recorded in the
    /// seeded database, else 0, so a scenario and `run` draw the same users.
    pub seed: Option<u64>,
    pub min_change_ms: f64,
    pub quiet: bool,
}

/// One second of the run, by completion time (offered by scheduled time).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Second {
    pub second: u64,
    /// Requests scheduled to start in this second.
    pub offered: u64,
    /// Requests that completed without error in this second.
    pub completed: u64,
    pub errors: u64,
    /// p95 latency (from scheduled start) of the requests completed in this second.
    pub p95_ms: Option<f64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ActionOutcome {
    pub name: String,
    pub query: String,
    pub mode: String,
    pub weight: u32,
    /// Requests scheduled in the steady state.
    pub requests: u64,
    pub errors: u64,
    /// Latency from each request's scheduled start (what a user waits).
    pub latency_ms: Percentiles,
    /// Time the database spent on it (from the actual start): the difference is queueing.
    pub service_ms: Percentiles,
    pub achieved_tps: f64,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ErrorCount {
    pub action: String,
    /// The server's message (SQLSTATE and text), or the client's.
    pub message: String,
    pub count: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct TargetCheck {
    /// `p50_ms`, `p95_ms`, `p99_ms`, `p999_ms`, `error_percent` or `throughput_tps`.
    pub target: String,
    pub limit: f64,
    pub value: f64,
    pub met: bool,
}

/// The scenario part of the report (JSON key `scenario`).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ScenarioOutcome {
    pub name: String,
    pub description: String,
    pub file: String,
    pub arrivals: Arrivals,
    /// Offered rate (requests per second) after the ramp-up.
    pub rate: f64,
    pub clients: usize,
    pub users: Option<u64>,
    pub ramp_up_s: f64,
    pub duration_s: f64,
    pub seed: u64,
    pub targets: Targets,
    /// Every request scheduled, ramp-up included.
    pub scheduled: u64,
    /// Requests never started: the run ended with them still queued (counted in the
    /// percentiles with the time they had waited).
    pub dropped: u64,
    /// Over the steady state: offered and achieved (successful) requests per second.
    pub offered_tps: f64,
    pub achieved_tps: f64,
    pub requests: u64,
    pub errors: u64,
    pub error_percent: f64,
    pub latency_ms: Percentiles,
    pub service_ms: Percentiles,
    pub actions: Vec<ActionOutcome>,
    pub error_messages: Vec<ErrorCount>,
    pub checks: Vec<TargetCheck>,
    /// `pass` or `fail` (a target missed).
    pub verdict: String,
    pub timeline: Vec<Second>,
}

/// A scenario run's report: the volume benchmark's report (actions as its queries, plus the
/// mix; so `--baseline` and every renderer work on it) and the scenario's own part.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ScenarioReport {
    #[serde(flatten)]
    pub bench: BenchReport,
    pub scenario: ScenarioOutcome,
}

impl ScenarioReport {
    pub fn missed(&self) -> Vec<&TargetCheck> {
        self.scenario.checks.iter().filter(|c| !c.met).collect()
    }
    pub fn failed(&self) -> bool {
        !self.missed().is_empty() || self.bench.regressions.iter().any(|r| r.significant)
    }
}

/// Values filled into an action file's parameters.
struct Pools {
    query: ParamPools,
    id_base: i64,
    id_stride: i64,
    /// (context, member, system category, description, merchant) of sampled expenses.
    templates: Vec<(i64, i64, i64, String, String)>,
    recent: Vec<i64>,
    pending: Vec<(i64, i64)>,
    emails: Vec<String>,
}

fn needs(actions: &[Action], p: ActionParam) -> bool {
    actions
        .iter()
        .any(|a| matches!(&a.work, Work::Sql(x) if x.params.contains(&p)))
}

async fn resolve_pools(
    c: &Client,
    target: &Target,
    actions: &[Action],
    seed: u64,
) -> Result<Pools> {
    // Scenarios run on finseed's own tables (no map), so every key is finseed's bigint id.
    let query = super::resolve_params(c, target, seed, None).await?;
    let e = |what: &'static str| move |err: tokio_postgres::Error| target.error(what, &err);
    let contexts: Vec<i64> = query
        .busy_contexts
        .iter()
        .chain(&query.typical_contexts)
        .filter_map(super::Key::int)
        .collect();
    let mut p = Pools {
        query,
        id_base: 0,
        id_stride: 1,
        templates: Vec::new(),
        recent: Vec::new(),
        pending: Vec::new(),
        emails: Vec::new(),
    };
    let missing = |what: &str, action_param: &str| {
        Error::Failed(format!(
            "{}: the data holds no {what}, which `{action_param}` parameters need; seed a larger profile or drop those actions",
            target.shown
        ))
    };
    if needs(actions, ActionParam::NewTransactionId) {
        p.id_base = c
            .query_one("SELECT coalesce(max(id), 0) + 1 FROM transactions", &[])
            .await
            .map_err(e("cannot read the highest transaction id"))?
            .get(0);
        p.id_stride = actions
            .iter()
            .map(|a| match &a.work {
                Work::Sql(x) => x.rows.max(1) as i64,
                _ => 1,
            })
            .max()
            .unwrap_or(1);
    }
    if [
        ActionParam::Member,
        ActionParam::Category,
        ActionParam::Description,
        ActionParam::Merchant,
    ]
    .iter()
    .any(|&k| needs(actions, k))
    {
        let members: Vec<(i64, i64)> = c
            .query(
                "SELECT context_id, user_id FROM context_members WHERE context_id = ANY($1) AND role <> 'viewer' ORDER BY context_id, user_id",
                &[&contexts],
            )
            .await
            .map_err(e("cannot read context members"))?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let rows = c
            .query(
                "SELECT t.context_id, t.category_id, t.description, coalesce(t.merchant_name, '')
                 FROM transactions t JOIN categories c ON c.id = t.category_id AND c.context_id IS NULL
                 WHERE t.context_id = ANY($1) AND t.type = 'expense'
                 ORDER BY t.context_id, t.transaction_date DESC, t.id DESC LIMIT 400",
                &[&contexts],
            )
            .await
            .map_err(e("cannot sample expenses"))?;
        for (k, r) in rows.iter().enumerate() {
            let ctx: i64 = r.get(0);
            let of: Vec<i64> = members.iter().filter(|m| m.0 == ctx).map(|m| m.1).collect();
            if of.is_empty() {
                continue;
            }
            p.templates
                .push((ctx, of[k % of.len()], r.get(1), r.get(2), r.get(3)));
        }
        if p.templates.is_empty() {
            return Err(missing("categorised expenses", "member"));
        }
    }
    if needs(actions, ActionParam::RecentTransaction) {
        for ctx in &contexts {
            let rows = c
                .query(
                    "SELECT id FROM transactions WHERE context_id = $1 ORDER BY transaction_date DESC, id DESC LIMIT 100",
                    &[ctx],
                )
                .await
                .map_err(e("cannot read recent transactions"))?;
            p.recent.extend(rows.iter().map(|r| r.get::<_, i64>(0)));
        }
        if p.recent.is_empty() {
            return Err(missing("transactions", "recent_transaction"));
        }
    }
    if needs(actions, ActionParam::PendingSplit) {
        p.pending = c
            .query(
                "SELECT transaction_id, user_id FROM transaction_splits WHERE status = 'pending' ORDER BY transaction_id, user_id LIMIT 1000",
                &[],
            )
            .await
            .map_err(e("cannot read pending splits"))?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        if p.pending.is_empty() {
            return Err(missing("pending splits", "pending_split"));
        }
    }
    if needs(actions, ActionParam::Email) {
        p.emails = c
            .query(
                "SELECT email FROM users WHERE id = ANY($1) ORDER BY id",
                &[&p.query
                    .users
                    .iter()
                    .filter_map(super::Key::int)
                    .collect::<Vec<i64>>()],
            )
            .await
            .map_err(e("cannot read e-mails"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if p.emails.is_empty() {
            return Err(missing("users", "email"));
        }
    }
    Ok(p)
}

/// Integer cents in 5.00..500.00, negative (an expense), as text for `$n::numeric`.
fn amount(seed: u64, i: u64) -> String {
    let cents = 500 + mix64(seed ^ mix64(i ^ 0xA11)) % 49_500;
    format!("-{}.{:02}", cents / 100, cents % 100)
}

fn action_values(a: &ActionSql, p: &Pools, seed: u64, i: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let t = |k: usize| &p.templates[k % p.templates.len()];
    for &kind in &a.params {
        match kind {
            ActionParam::Query(q) => {
                let spec = QuerySpec {
                    name: String::new(),
                    file: String::new(),
                    scenario: String::new(),
                    description: String::new(),
                    params: vec![q],
                    threshold_ms: None,
                    copy: false,
                    requires: Vec::new(),
                    sql: String::new(),
                };
                out.extend(super::values(&spec, &p.query, i));
            }
            ActionParam::NewTransactionId => {
                out.push(Value::Int(p.id_base + i as i64 * p.id_stride))
            }
            ActionParam::Member => {
                out.extend([Value::Int(t(i).0), Value::Int(t(i).1)]);
            }
            ActionParam::Category => out.push(Value::Int(t(i).2)),
            ActionParam::Description => out.push(Value::Text(t(i).3.clone())),
            ActionParam::Merchant => out.push(Value::Text(t(i).4.clone())),
            ActionParam::Amount => out.push(Value::Text(amount(seed, i as u64))),
            ActionParam::RecentTransaction => out.push(Value::Int(p.recent[i % p.recent.len()])),
            ActionParam::PendingSplit => {
                let (tx, u) = p.pending[i % p.pending.len()];
                out.extend([Value::Int(tx), Value::Int(u)]);
            }
            ActionParam::Email => out.push(Value::Text(p.emails[i % p.emails.len()].clone())),
        }
    }
    out
}

fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `rows` transactions of one member, ids from `$new_transaction_id`, as CSV in the column
/// order of `transactions`.
fn import_rows(a: &ActionSql, p: &Pools, seed: u64, i: usize) -> Vec<u8> {
    let base = p.id_base + i as i64 * p.id_stride;
    let as_of = &p.query.as_of;
    let (ctx, user) = {
        let t = &p.templates[i % p.templates.len()];
        (t.0, t.1)
    };
    let mut s = String::with_capacity(a.rows * 160);
    for k in 0..a.rows {
        let t = &p.templates[(i + k) % p.templates.len()];
        let merchant = if t.4.is_empty() {
            String::new()
        } else {
            csv_field(&t.4)
        };
        s.push_str(&format!(
            "{},{ctx},{user},{},{},BRL,{},{merchant},{as_of},{as_of} 12:00:00,expense,posted,csv_import,rule,,false\n",
            base + k as i64,
            t.2,
            amount(seed, (i as u64) << 20 | k as u64),
            csv_field(&t.3),
        ));
    }
    s.into_bytes()
}

/// One request: (rows, bytes).
async fn execute(
    c: &Client,
    a: &Action,
    p: &Pools,
    seed: u64,
    i: usize,
) -> std::result::Result<(u64, u64), tokio_postgres::Error> {
    let (sql, vals, mode) = match &a.work {
        Work::Query(q) => {
            let vals = super::values(q, &p.query, i);
            if q.copy {
                let sql = format!(
                    "COPY ({}) TO STDOUT (FORMAT csv, HEADER)",
                    super::inline(&q.tagged_sql(), &vals)
                );
                let stream = c.copy_out(sql.as_str()).await?;
                pin_mut!(stream);
                let (mut bytes, mut lines) = (0u64, 0u64);
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk?;
                    bytes += chunk.len() as u64;
                    lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                }
                return Ok((lines.saturating_sub(1), bytes));
            }
            (q.tagged_sql(), vals, Mode::Read)
        }
        Work::Sql(x) => (
            format!("/* finseed:{} */ {}", x.name, x.sql),
            action_values(x, p, seed, i),
            x.mode,
        ),
    };
    if mode == Mode::Read {
        return read(c, &sql, &vals).await;
    }
    // Writes: always rolled back, whatever happens in between.
    c.batch_execute("BEGIN").await?;
    let r = match (mode, &a.work) {
        (Mode::CopyIn, Work::Sql(x)) => {
            let data = import_rows(x, p, seed, i);
            let n = data.len() as u64;
            async {
                let sink = c.copy_in::<_, bytes::Bytes>(sql.as_str()).await?;
                pin_mut!(sink);
                sink.send(bytes::Bytes::from(data)).await?;
                let rows = sink.finish().await?;
                Ok((rows, n))
            }
            .await
        }
        _ => read(c, &sql, &vals).await,
    };
    let rb = c.batch_execute("ROLLBACK").await;
    let out = r?;
    rb?;
    Ok(out)
}

/// An unnamed statement (parse, bind, execute in one round trip: planned for its values,
/// and usable through a transaction-mode pooler).
async fn read(
    c: &Client,
    sql: &str,
    vals: &[Value],
) -> std::result::Result<(u64, u64), tokio_postgres::Error> {
    let params: Vec<(&(dyn ToSql + Sync), Type)> =
        vals.iter().map(|v| (v.as_sql(), v.sql_type())).collect();
    let rows = c.query_typed_raw(sql, params).await?;
    pin_mut!(rows);
    let (mut n, mut bytes) = (0u64, 0u64);
    while let Some(row) = rows.try_next().await? {
        n += 1;
        for k in 0..row.len() {
            bytes += row.get::<_, RawLen>(k).0 as u64;
        }
    }
    Ok((n, bytes))
}

/// The server's message for an error, with its SQLSTATE; the client's otherwise.
fn message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => crate::db::redact(&e.to_string()),
    }
}

/// One request as it happened, in microseconds from the run's start.
#[derive(Clone, Debug)]
struct Done {
    action: usize,
    scheduled_us: u64,
    started_us: u64,
    ended_us: u64,
    error: Option<String>,
    rows: u64,
    bytes: u64,
}

pub fn run(cfg: &ScenarioConfig) -> Result<ScenarioReport> {
    let s = &cfg.scenario;
    let expected = s.rate * (s.ramp_up_s / 2.0 + s.duration_s);
    if expected > MAX_REQUESTS {
        return Err(Error::Usage(format!(
            "--rate/--duration: {expected:.0} requests is more than one run holds ({MAX_REQUESTS:.0})\n  fix: lower the rate or shorten the duration"
        )));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(s.clients.clamp(2, 8))
        // Linux lets a thread's sleep overrun by its timer slack (50 µs by default): the
        // schedule's last stretch is slept on these threads (sleep_precisely_until).
        .on_thread_start(|| {
            // SAFETY: prctl with PR_SET_TIMERSLACK only changes this thread's timer slack.
            #[cfg(target_os = "linux")]
            unsafe {
                libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
            }
        })
        .enable_all()
        .build()
        .map_err(|e| Error::Failed(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(run_async(cfg))
}

async fn run_async(cfg: &ScenarioConfig) -> Result<ScenarioReport> {
    let s = &cfg.scenario;
    let target = &cfg.target;
    let (control, server_version, users_seed) = super::open_control(target, cfg.seed).await?;
    for a in &cfg.actions {
        if let Work::Query(q) = &a.work {
            if let Some(t) = super::missing_table(&control, target, &q.requires).await? {
                return Err(Error::Usage(format!(
                    "scenario {}: action {} runs query {}, which reads table {t}; {} lacks it\n  fix: build it with `finseed seed --steps rollups` (same profile and database), or run the scenario without that action",
                    s.name, a.name, q.name, target.shown
                )));
            }
        }
    }
    let pools = Arc::new(resolve_pools(&control, target, &cfg.actions, users_seed).await?);
    let weights: Vec<u32> = cfg.actions.iter().map(|a| a.weight).collect();
    let plan = Arc::new(schedule(
        s.rate,
        s.ramp_up_s,
        s.duration_s,
        s.arrivals,
        s.seed,
        &weights,
    ));
    let mut conns = Vec::new();
    for _ in 0..s.clients {
        conns.push(target.connect().await?);
    }
    // Every action once on the first connection before the clock starts, so a broken query
    // fails now with its message rather than as thousands of errors.
    for (k, a) in cfg.actions.iter().enumerate() {
        if let Err(e) = execute(&conns[0], a, &pools, s.seed, k).await {
            return Err(Error::Failed(format!(
                "scenario {}: action `{}` ({}) fails before the run: {}",
                s.name,
                a.name,
                a.query,
                message(&e)
            )));
        }
    }
    let before = super::cache_snapshot(&control).await;
    let end_s = s.ramp_up_s + s.duration_s;
    // Requests still queued this long after the last scheduled start are dropped.
    let grace_s = (end_s * 0.1).clamp(1.0, 30.0);
    let actions = Arc::new(cfg.actions.clone());
    let next = Arc::new(AtomicUsize::new(0));
    // One clock for the schedule and the measurements.
    let start = Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::new();
    for c in conns {
        let (plan, next, actions, pools) =
            (plan.clone(), next.clone(), actions.clone(), pools.clone());
        let seed = s.seed;
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(&(at, k)) = plan.get(i) else { break };
                let due = Duration::from_secs_f64(at);
                sleep_precisely_until(start + due).await;
                // A timer may wake a hair early: a request never starts before its time.
                let started = start.elapsed().max(due);
                if started.as_secs_f64() > end_s + grace_s {
                    // Leave the rest to the accounting of dropped requests.
                    next.store(plan.len(), Ordering::SeqCst);
                    break;
                }
                let r = execute(&c, &actions[k], &pools, seed, i).await;
                let ended = start.elapsed();
                let (rows, bytes, error) = match r {
                    Ok((r, b)) => (r, b, None),
                    Err(e) => (0, 0, Some(message(&e))),
                };
                done.push((
                    i,
                    Done {
                        action: k,
                        scheduled_us: due.as_micros() as u64,
                        started_us: started.as_micros() as u64,
                        ended_us: ended.as_micros() as u64,
                        error,
                        rows,
                        bytes,
                    },
                ));
            }
            done
        }));
    }
    let mut done: Vec<(usize, Done)> = Vec::new();
    for t in tasks {
        done.extend(t.await.unwrap_or_default());
    }
    let stopped_us = start.elapsed().as_micros() as u64;
    done.sort_by_key(|d| d.0);
    let after = super::cache_snapshot(&control).await;
    let cache = CacheStats::between(before, after);
    Ok(assemble(
        cfg,
        &plan,
        done,
        stopped_us,
        server_version,
        pools.query.clone(),
        users_seed,
        cache,
    ))
}

/// Wait until `at`, to within tens of microseconds. tokio's timer ticks in whole milliseconds,
/// so waiting on it alone starts a request up to a millisecond after its scheduled time, and
/// since latency runs from the scheduled start, every latency grew by that much (measured
/// against pgbench `--rate` on the same mix: median 2.33 ms against pgbench's 1.04 ms, with a
/// service time of 1.05 ms). The last stretch is slept on a blocking-pool thread (nanosleep).
async fn sleep_precisely_until(at: Instant) {
    let early = Duration::from_millis(2);
    let now = Instant::now();
    if at <= now {
        return;
    }
    if at - now > early + Duration::from_millis(1) {
        tokio::time::sleep_until(tokio::time::Instant::from_std(at - early)).await;
    }
    let _ = tokio::task::spawn_blocking(move || {
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
    })
    .await;
}

/// 1 µs to 1 hour at 3 significant figures (a longer latency is clamped to an hour).
fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds")
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    let ms = |us: u64| us as f64 / 1000.0;
    if h.is_empty() {
        return Percentiles {
            count: 0,
            mean: f64::NAN,
            p50: f64::NAN,
            p95: f64::NAN,
            p99: f64::NAN,
            p999: f64::NAN,
            max: f64::NAN,
        };
    }
    Percentiles {
        count: h.len(),
        mean: h.mean() / 1000.0,
        p50: ms(h.value_at_quantile(0.50)),
        p95: ms(h.value_at_quantile(0.95)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

/// The bench report's summary of an HDR histogram (microseconds in, milliseconds out).
fn summary(h: &Histogram<u64>) -> Summary {
    let p = percentiles(h);
    Summary {
        count: p.count as usize,
        min: if h.is_empty() {
            f64::NAN
        } else {
            h.min() as f64 / 1000.0
        },
        mean: p.mean,
        stddev: if h.is_empty() {
            f64::NAN
        } else {
            h.stdev() / 1000.0
        },
        p50: p.p50,
        p95: p.p95,
        p99: p.p99,
        max: p.max,
    }
}

/// Up to `MAX_SAMPLES` values, evenly spaced, in request order.
fn thin(v: Vec<f64>) -> Vec<f64> {
    if v.len() <= MAX_SAMPLES {
        return v;
    }
    let step = v.len() as f64 / MAX_SAMPLES as f64;
    (0..MAX_SAMPLES)
        .map(|k| v[(k as f64 * step) as usize])
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    cfg: &ScenarioConfig,
    plan: &[(f64, usize)],
    done: Vec<(usize, Done)>,
    stopped_us: u64,
    server_version: String,
    params: ParamPools,
    users_seed: u64,
    cache: CacheStats,
) -> ScenarioReport {
    let s = &cfg.scenario;
    let n_actions = cfg.actions.len();
    let ramp_us = (s.ramp_up_s * 1e6) as u64;
    let end_us = ((s.ramp_up_s + s.duration_s) * 1e6) as u64;
    let steady = |sched: u64| sched >= ramp_us;
    let mut lat = vec![hist(); n_actions + 1];
    let mut svc = vec![hist(); n_actions + 1];
    let mut requests = vec![0u64; n_actions + 1];
    let mut errors = vec![0u64; n_actions + 1];
    let mut ok_in_window = vec![0u64; n_actions + 1];
    let mut rows = vec![0u64; n_actions + 1];
    let mut bytes = vec![0u64; n_actions + 1];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); n_actions + 1];
    let mut first_error: Vec<Option<String>> = vec![None; n_actions + 1];
    let mut messages: BTreeMap<(usize, String), u64> = BTreeMap::new();
    let seconds = (stopped_us / 1_000_000 + 1) as usize;
    let mut per_second: Vec<(u64, u64, u64, Vec<f64>)> = vec![(0, 0, 0, Vec::new()); seconds];
    for &(at, _) in plan {
        let sec = (at as usize).min(seconds - 1);
        per_second[sec].0 += 1;
    }
    let mut seen = vec![false; plan.len()];
    for (i, d) in &done {
        seen[*i] = true;
        let latency_us = d.ended_us.saturating_sub(d.scheduled_us).max(1);
        let service_us = d.ended_us.saturating_sub(d.started_us).max(1);
        let sec = ((d.ended_us / 1_000_000) as usize).min(seconds - 1);
        match &d.error {
            None => {
                per_second[sec].1 += 1;
                per_second[sec].3.push(latency_us as f64 / 1000.0);
            }
            Some(_) => per_second[sec].2 += 1,
        }
        if !steady(d.scheduled_us) {
            continue;
        }
        for k in [d.action, n_actions] {
            requests[k] += 1;
            match &d.error {
                None => {
                    lat[k].saturating_record(latency_us);
                    svc[k].saturating_record(service_us);
                    samples[k].push(latency_us as f64 / 1000.0);
                    rows[k] += d.rows;
                    bytes[k] += d.bytes;
                    if d.ended_us >= ramp_us && d.ended_us <= end_us {
                        ok_in_window[k] += 1;
                    }
                }
                Some(m) => {
                    errors[k] += 1;
                    first_error[k].get_or_insert_with(|| m.clone());
                }
            }
        }
        if let Some(m) = &d.error {
            *messages.entry((d.action, m.clone())).or_default() += 1;
        }
    }
    // Requests never started waited at least until the run stopped.
    let mut dropped = 0u64;
    for (i, &(at, k)) in plan.iter().enumerate() {
        if seen[i] {
            continue;
        }
        dropped += 1;
        let sched = (at * 1e6) as u64;
        if !steady(sched) {
            continue;
        }
        let waited = stopped_us.saturating_sub(sched).max(1);
        for k in [k, n_actions] {
            requests[k] += 1;
            lat[k].saturating_record(waited);
            samples[k].push(waited as f64 / 1000.0);
        }
    }
    let window_s = s.duration_s.max(1e-9);
    let name_of = |k: usize| {
        if k == n_actions {
            MIX.to_string()
        } else {
            cfg.actions[k].name.clone()
        }
    };
    let mut queries = Vec::new();
    let mut outcomes = Vec::new();
    for k in 0..=n_actions {
        let (description, copy) = match cfg.actions.get(k).map(|a| &a.work) {
            Some(Work::Query(q)) => (q.description.clone(), q.copy),
            Some(Work::Sql(x)) => (x.description.clone(), false),
            None => (format!("the whole {} mix", s.name), false),
        };
        let achieved = ok_in_window[k] as f64 / window_s;
        let wall = window_s;
        let service_s: f64 = svc[k].mean() * svc[k].len() as f64 / 1e6;
        queries.push(QueryResult {
            name: name_of(k),
            scenario: s.name.clone(),
            description,
            copy,
            threshold_ms: None,
            count: lat[k].len() as usize,
            errors: errors[k] as usize,
            first_error: first_error[k].clone(),
            rows: rows[k],
            bytes: bytes[k],
            latency_ms: summary(&lat[k]),
            wall_seconds: wall,
            throughput_qps: achieved,
            bytes_per_second: bytes[k] as f64 / service_s.max(1e-9),
            samples_ms: thin(std::mem::take(&mut samples[k])),
            explain: None,
            breached: false,
        });
        if k < n_actions {
            let a = &cfg.actions[k];
            outcomes.push(ActionOutcome {
                name: a.name.clone(),
                query: a.query.clone(),
                mode: format!("{:?}", a.mode()).to_lowercase(),
                weight: a.weight,
                requests: requests[k],
                errors: errors[k],
                latency_ms: percentiles(&lat[k]),
                service_ms: percentiles(&svc[k]),
                achieved_tps: achieved,
            });
        }
    }
    let mix = n_actions;
    let latency = percentiles(&lat[mix]);
    let error_percent = if requests[mix] > 0 {
        errors[mix] as f64 * 100.0 / requests[mix] as f64
    } else {
        0.0
    };
    let achieved_tps = ok_in_window[mix] as f64 / window_s;
    let offered_tps = plan.iter().filter(|p| p.0 * 1e6 >= ramp_us as f64).count() as f64 / window_s;
    let mut checks = Vec::new();
    let t = &s.targets;
    for (name, limit, value) in [
        ("p50_ms", t.p50_ms, latency.p50),
        ("p95_ms", t.p95_ms, latency.p95),
        ("p99_ms", t.p99_ms, latency.p99),
        ("p999_ms", t.p999_ms, latency.p999),
        ("error_percent", t.error_percent, error_percent),
    ] {
        if let Some(limit) = limit {
            checks.push(TargetCheck {
                target: name.into(),
                limit,
                value,
                met: value <= limit,
            });
        }
    }
    if let Some(tps) = t.throughput_tps {
        // Poisson arrivals offer the rate only on average: 5% below it still counts as held.
        checks.push(TargetCheck {
            target: "throughput_tps".into(),
            limit: tps,
            value: achieved_tps,
            met: achieved_tps >= tps * 0.95,
        });
    }
    let mut breaches = Vec::new();
    for c in checks.iter().filter(|c| !c.met) {
        breaches.push(Breach {
            query: s.name.clone(),
            what: c.target.clone(),
            value: c.value,
            limit: c.limit,
        });
    }
    if let Some(q) = queries.last_mut() {
        q.breached = !breaches.is_empty();
    }
    let timeline = per_second
        .into_iter()
        .enumerate()
        .map(|(sec, (offered, completed, errors, mut l))| {
            l.sort_by(|a, b| a.total_cmp(b));
            Second {
                second: sec as u64,
                offered,
                completed,
                errors,
                p95_ms: (!l.is_empty()).then(|| percentile(&l, 95.0)),
            }
        })
        .collect();
    let regressions = cfg
        .baseline
        .as_ref()
        .map(|b| super::compare(&queries, b, cfg.min_change_ms))
        .unwrap_or_default();
    let verdict = if checks.iter().all(|c| c.met) {
        "pass"
    } else {
        "fail"
    };
    ScenarioReport {
        bench: BenchReport {
            schema_version: super::SCHEMA_VERSION,
            finseed_version: env!("CARGO_PKG_VERSION").to_string(),
            database: cfg.target.shown.clone(),
            server_version,
            settings: Settings {
                iterations: plan.len(),
                warmup: 0,
                concurrency: s.clients,
                plan_cache_mode: "unnamed statements (custom plans)".into(),
                bench_seed: users_seed,
            },
            params,
            queries,
            cache,
            statements: Vec::new(),
            breaches,
            failures: Vec::new(),
            skipped: Vec::new(),
            regressions,
            baseline_file: None,
        },
        scenario: ScenarioOutcome {
            name: s.name.clone(),
            description: s.description.clone(),
            file: s.file.clone(),
            arrivals: s.arrivals,
            rate: s.rate,
            clients: s.clients,
            users: s.users,
            ramp_up_s: s.ramp_up_s,
            duration_s: s.duration_s,
            seed: s.seed,
            targets: s.targets.clone(),
            scheduled: plan.len() as u64,
            dropped,
            offered_tps,
            achieved_tps,
            requests: requests[mix],
            errors: errors[mix],
            error_percent,
            latency_ms: latency,
            service_ms: percentiles(&svc[mix]),
            actions: outcomes,
            error_messages: messages
                .into_iter()
                .map(|((k, message), count)| ErrorCount {
                    action: cfg.actions[k].name.clone(),
                    message,
                    count,
                })
                .collect(),
            checks,
            verdict: verdict.into(),
            timeline,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_scenarios_parse_with_the_plans_numbers_and_resolve() {
        let cat = load(None).unwrap();
        let queries = super::super::query::load(None).unwrap();
        assert_eq!(cat.scenarios.len(), BUILTIN.len());
        for s in &cat.scenarios {
            resolve(s, &cat.actions, &queries).unwrap();
            assert_eq!((s.ramp_up_s, s.duration_s), (120.0, 600.0), "{}", s.name);
        }
        let d = cat
            .scenarios
            .iter()
            .find(|s| s.name == "dashboard_analytics_load")
            .unwrap();
        assert_eq!(d.rate, 200.0);
        assert_eq!(d.targets.p95_ms, Some(800.0));
        let w: Vec<(&str, u32)> = d
            .actions
            .iter()
            .map(|a| (a.name.as_str(), a.weight))
            .collect();
        assert_eq!(
            w,
            [
                ("load_dashboard", 40),
                ("spending_trends", 30),
                ("category_breakdown", 30)
            ]
        );
        let f = cat
            .scenarios
            .iter()
            .find(|s| s.name == "financial_transaction_flow")
            .unwrap();
        assert_eq!((f.rate, f.targets.p95_ms), (500.0, Some(500.0)));
        let b = cat
            .scenarios
            .iter()
            .find(|s| s.name == "bulk_data_operations")
            .unwrap();
        assert!((b.rate - 50.0 / 60.0).abs() < 1e-12);
        let import = cat
            .actions
            .iter()
            .find(|a| a.name == "bulk_import")
            .unwrap();
        assert_eq!((import.mode, import.rows), (Mode::CopyIn, 1000));
    }

    #[test]
    fn every_file_in_schemas_scenarios_is_built_in_unchanged() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/scenarios");
        for (list, sub, ext) in [(BUILTIN, "", "toml"), (BUILTIN_ACTIONS, "actions", "sql")] {
            let on_disk = read_dir_sorted(&dir.join(sub), ext).unwrap();
            assert_eq!(on_disk.len(), list.len(), "{sub}");
            for (file, text) in list {
                let disk = std::fs::read_to_string(dir.join(sub).join(file)).unwrap();
                assert_eq!(&disk, text, "{file}");
            }
        }
    }

    #[test]
    fn schedules_are_deterministic_follow_the_rate_and_the_weights() {
        let a = schedule(100.0, 10.0, 50.0, Arrivals::Poisson, 7, &[40, 30, 30]);
        assert_eq!(
            a,
            schedule(100.0, 10.0, 50.0, Arrivals::Poisson, 7, &[40, 30, 30])
        );
        assert_ne!(
            a,
            schedule(100.0, 10.0, 50.0, Arrivals::Poisson, 8, &[40, 30, 30])
        );
        // 500 in the ramp-up, 5,000 after; Poisson within a few standard deviations.
        let n = a.len() as f64;
        assert!((n - 5500.0).abs() < 5.0 * 5500f64.sqrt(), "{n}");
        assert!(a.windows(2).all(|w| w[0].0 <= w[1].0));
        let in_ramp = a.iter().filter(|x| x.0 < 10.0).count() as f64;
        assert!((in_ramp - 500.0).abs() < 5.0 * 500f64.sqrt(), "{in_ramp}");
        let first = a.iter().filter(|x| x.1 == 0).count() as f64 / n;
        assert!((first - 0.4).abs() < 0.03, "{first}");
        let c = schedule(10.0, 0.0, 3.0, Arrivals::Constant, 1, &[1]);
        assert_eq!(c.len(), 30);
        assert!((c[1].0 - c[0].0 - 0.1).abs() < 1e-9);
    }

    #[test]
    fn rates_durations_and_bad_files_are_checked() {
        assert_eq!(parse_rate("50/min"), Some(50.0 / 60.0));
        assert_eq!(parse_rate("200"), Some(200.0));
        assert_eq!(parse_rate("0"), None);
        assert_eq!(parse_rate("5/fortnight"), None);
        assert_eq!(parse_duration("2m"), Some(120.0));
        assert_eq!(parse_duration("1500ms"), Some(1.5));
        assert_eq!(parse_duration("10"), Some(10.0));
        assert_eq!(parse_duration("ten"), None);
        let bad = "name = \"x\"\nrate = 10\nclients = 0\nduration = \"5s\"\n[[action]]\nname = \"a\"\nquery = \"q\"\nweight = 1\n";
        let e = Scenario::parse("x.toml", bad).unwrap_err().to_string();
        assert!(
            e.starts_with("x.toml:3: field `clients`") && e.contains("fix:"),
            "{e}"
        );
        let typo = "name = \"x\"\nrate = 10\nclient = 2\n";
        let e = Scenario::parse("y.toml", typo).unwrap_err().to_string();
        assert!(e.contains("y.toml:3") && e.contains("client"), "{e}");
    }
}
