//! `finseed bench`: time the volume queries of the performance plan on a seeded database and
//! report latency percentiles against thresholds and, given one, a baseline.
//!
//! Measuring is kept apart from printing: this module produces a [`BenchReport`] (whose JSON
//! form is the stable, documented schema) and `report` renders it.

pub mod query;
pub mod scenario;

use crate::db::Target;
use crate::error::{Error, Result};
use crate::stats::{mann_whitney, MannWhitney, Summary};
use futures_util::{pin_mut, StreamExt, TryStreamExt};
use query::{Param, QuerySpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_postgres::types::{FromSql, ToSql, Type};
use tokio_postgres::Client;

/// Version of the JSON report layout; bumped on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

pub struct BenchConfig {
    pub target: Target,
    pub queries: Vec<QuerySpec>,
    pub iterations: usize,
    pub warmup: usize,
    pub concurrency: usize,
    /// Threshold overrides in ms, by query name or scenario.
    pub thresholds: BTreeMap<String, f64>,
    pub baseline: Option<BenchReport>,
    /// Seeds the choice of random users, so reruns use the same ones. `None`: the seed recorded
    /// in the seeded database (`finseed_run.seed`), else 0, so `bench` alone and `run` agree.
    pub seed: Option<u64>,
    /// Let PostgreSQL use generic plans for the prepared statements (its default `auto`).
    pub generic_plans: bool,
    /// Smallest p95 change (ms) that can count as a significant regression.
    pub min_change_ms: f64,
    /// The team's schema map: the parameter pools are drawn from the mapped tables.
    pub map: Option<crate::map::MapFile>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Settings {
    pub iterations: usize,
    pub warmup: usize,
    pub concurrency: usize,
    /// `force_custom_plan` (the default) or `auto` (with --generic-plans).
    #[serde(default)]
    pub plan_cache_mode: String,
    /// The seed that chose the random users (`--bench-seed`, else the database's).
    #[serde(default)]
    pub bench_seed: u64,
}

/// A key drawn for a parameter: finseed's own bigint ids, or, through a schema map, the
/// target's key as text (a UUID, a bigint, whatever the team's column holds), which the query
/// casts (`$1::uuid`). Untagged, so reports written before maps existed still read.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[serde(untagged)]
pub enum Key {
    Int(i64),
    Text(String),
}

impl Key {
    /// finseed's own id (always, without a map).
    pub fn int(&self) -> Option<i64> {
        match self {
            Key::Int(v) => Some(*v),
            Key::Text(_) => None,
        }
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Int(v) => write!(f, "{v}"),
            Key::Text(s) => write!(f, "{s}"),
        }
    }
}

impl From<&Key> for Value {
    fn from(k: &Key) -> Value {
        match k {
            Key::Int(v) => Value::Int(*v),
            Key::Text(s) => Value::Text(s.clone()),
        }
    }
}

/// The parameter values the run drew from the data.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct ParamPools {
    pub as_of: String,
    pub busy_contexts: Vec<Key>,
    pub busy_context_transactions: Vec<i64>,
    pub typical_contexts: Vec<Key>,
    pub typical_context_transactions: Vec<i64>,
    pub busy_cursors: Vec<(Key, String, Key)>,
    #[serde(default)]
    pub typical_cursors: Vec<(Key, String, Key)>,
    pub users: Vec<Key>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct QueryResult {
    pub name: String,
    pub scenario: String,
    pub description: String,
    pub copy: bool,
    pub threshold_ms: Option<f64>,
    pub count: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    /// Rows returned (or exported lines for COPY) over all measured iterations.
    pub rows: u64,
    /// Bytes of result data over all measured iterations.
    pub bytes: u64,
    pub latency_ms: Summary,
    pub wall_seconds: f64,
    pub throughput_qps: f64,
    pub bytes_per_second: f64,
    /// Every measured latency, in iteration order, for later significance tests.
    pub samples_ms: Vec<f64>,
    pub explain: Option<String>,
    pub breached: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct CacheStats {
    pub blks_hit: i64,
    pub blks_read: i64,
    pub hit_ratio: Option<f64>,
    pub tup_returned: i64,
    pub tup_fetched: i64,
    pub temp_files: i64,
    pub temp_bytes: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct StatementStats {
    pub query: String,
    pub calls: i64,
    pub mean_exec_ms: f64,
    pub total_exec_ms: f64,
    pub rows: i64,
    pub shared_blks_hit: i64,
    pub shared_blks_read: i64,
    pub temp_blks_written: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Breach {
    pub query: String,
    pub what: String,
    pub value: f64,
    pub limit: f64,
}

/// A query that failed: it is not timed, and it fails the run apart from threshold breaches.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Skipped {
    pub query: String,
    pub reason: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Failure {
    pub query: String,
    /// Failed executions (all of them when the query could not be prepared).
    pub errors: usize,
    /// The server's (or driver's) message for the first failure.
    pub message: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Regression {
    pub query: String,
    /// `p95` or `throughput`.
    pub kpi: String,
    pub baseline: f64,
    pub current: f64,
    pub change_percent: f64,
    pub severity: String,
    pub significant: bool,
    pub test: MannWhitney,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct BenchReport {
    pub schema_version: u32,
    pub finseed_version: String,
    pub database: String,
    pub server_version: String,
    pub settings: Settings,
    pub params: ParamPools,
    pub queries: Vec<QueryResult>,
    pub cache: CacheStats,
    /// From pg_stat_statements when the extension is available.
    pub statements: Vec<StatementStats>,
    pub breaches: Vec<Breach>,
    /// Queries that failed, with the server's message (never counted as breaches).
    #[serde(default)]
    pub failures: Vec<Failure>,
    /// Queries not run, and why (a table they need is not in this database).
    #[serde(default)]
    pub skipped: Vec<Skipped>,
    /// Compared with `baseline_file`; only significant ones fail the run.
    pub regressions: Vec<Regression>,
    pub baseline_file: Option<String>,
}

impl BenchReport {
    pub fn failed(&self) -> bool {
        !self.breaches.is_empty()
            || !self.failures.is_empty()
            || self.regressions.iter().any(|r| r.significant)
    }
}

/// The byte length of any value, so result sizes can be measured without decoding them.
struct RawLen(usize);

impl<'a> FromSql<'a> for RawLen {
    fn from_sql(
        _: &Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawLen(raw.len()))
    }
    fn from_sql_null(
        _: &Type,
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(RawLen(0))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

#[derive(Clone, Debug)]
enum Value {
    Int(i64),
    Text(String),
}

impl Value {
    fn sql_type(&self) -> Type {
        match self {
            Value::Int(_) => Type::INT8,
            Value::Text(_) => Type::TEXT,
        }
    }
    fn literal(&self) -> String {
        match self {
            Value::Int(v) => v.to_string(),
            Value::Text(s) => format!("'{}'", s.replace('\'', "''")),
        }
    }
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Value::Int(v) => v,
            Value::Text(s) => s,
        }
    }
}

/// Values for iteration `i`: each parameter kind cycles through its pool.
fn values(q: &QuerySpec, pools: &ParamPools, i: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for p in &q.params {
        match p {
            Param::BusyContext => {
                out.push((&pools.busy_contexts[i % pools.busy_contexts.len()]).into())
            }
            Param::TypicalContext => {
                out.push((&pools.typical_contexts[i % pools.typical_contexts.len()]).into())
            }
            Param::User => out.push((&pools.users[i % pools.users.len()]).into()),
            Param::AsOf => out.push(Value::Text(pools.as_of.clone())),
            Param::BusyCursor | Param::TypicalCursor => {
                let pool = if *p == Param::BusyCursor {
                    &pools.busy_cursors
                } else {
                    &pools.typical_cursors
                };
                let (c, d, id) = &pool[i % pool.len()];
                out.extend([c.into(), Value::Text(d.clone()), id.into()]);
            }
        }
    }
    out
}

/// Replace `$n` with literals (COPY takes no bind parameters), highest first so `$1` does
/// not eat `$10`.
fn inline(sql: &str, vals: &[Value]) -> String {
    let mut s = sql.to_string();
    for (i, v) in vals.iter().enumerate().rev() {
        s = s.replace(&format!("${}", i + 1), &v.literal());
    }
    s
}

/// Longest wait for an optional control query (EXPLAIN, statistics), which is left out of the
/// report when it does not answer; required ones go through `Target::ask`.
const CONTROL_LIMIT: Duration = Duration::from_secs(60);

/// Longest wait for one measured execution: ten times its threshold, at least a minute.
fn execution_limit(threshold_ms: Option<f64>) -> Duration {
    let ten_times = threshold_ms.map_or(0.0, |t| t * 10.0 / 1000.0);
    Duration::from_secs_f64(ten_times.clamp(60.0, 3600.0))
}

async fn limited<F: std::future::Future>(
    f: F,
) -> std::result::Result<F::Output, tokio::time::error::Elapsed> {
    tokio::time::timeout(CONTROL_LIMIT, f).await
}

/// The error's message, with what `--generic-plans` needs when the statement vanished (a
/// transaction-mode pooler moved the session to another server connection).
fn with_hint(e: &tokio_postgres::Error, generic_plans: bool) -> String {
    let msg = crate::db::detail(e);
    let lost = e.code() == Some(&tokio_postgres::error::SqlState::INVALID_SQL_STATEMENT_NAME);
    if generic_plans && lost {
        format!("{msg} (--generic-plans keeps prepared statements in the server session: connect directly or through a session-mode pool, or drop --generic-plans)")
    } else {
        msg
    }
}

/// The seed finseed recorded in the seeded database, if any.
async fn recorded_seed(c: &Client, target: &Target) -> Result<Option<u64>> {
    let row = target
        .ask(
            "cannot look for finseed_run",
            c.query_typed_one(
                "SELECT CASE WHEN to_regclass('finseed_run') IS NULL THEN NULL ELSE 1 END::int",
                &[],
            ),
        )
        .await?;
    if row.get::<_, Option<i32>>(0).is_none() {
        return Ok(None);
    }
    let row = target
        .ask(
            "cannot read finseed_run",
            c.query_typed_opt("SELECT seed FROM finseed_run WHERE id = 1", &[]),
        )
        .await?;
    Ok(row.map(|r| r.get::<_, i64>(0) as u64))
}

/// Where the parameter pools come from: finseed's own tables, or the team's through a map.
struct PoolSource {
    transactions: String,
    context: String,
    date: String,
    id: String,
    members: String,
    member_user: String,
    /// `None` when the map sends no role: every member counts.
    role: Option<String>,
    /// Through a map keys are read as text: the team's columns may hold UUIDs.
    text_keys: bool,
}

impl PoolSource {
    fn native() -> PoolSource {
        PoolSource {
            transactions: "transactions".into(),
            context: "context_id".into(),
            date: "transaction_date".into(),
            id: "id".into(),
            members: "context_members".into(),
            member_user: "user_id".into(),
            role: Some("role".into()),
            text_keys: false,
        }
    }

    /// The target tables and columns that hold finseed's `transactions` and `context_members`
    /// columns; a map that does not send one of them cannot give the pools (exit 2).
    fn mapped(m: &crate::map::MapFile) -> Result<PoolSource> {
        let column = |table: &str, col: &str| -> Result<(String, Option<String>)> {
            let missing = |what: String| {
                Error::Usage(format!(
                    "--map {}: bench draws its parameters (busy and typical contexts, cursors, users) from {what}\n  fix: map {table} and its {col} column in the map, or run bench without --map on finseed's own tables",
                    m.path.display()
                ))
            };
            let t = m.table(table).ok_or_else(|| {
                missing(format!(
                    "finseed's {table} table, which the map does not load"
                ))
            })?;
            let c = t
                .columns
                .iter()
                .find(|c| matches!(&c.source, crate::map::Source::Column(s) if s == col));
            Ok((
                crate::map::ident(&t.target),
                c.map(|c| crate::map::ident(&c.name)),
            ))
        };
        let need = |(t, c): (String, Option<String>), table: &str, col: &str| {
            c.map(|c| (t, c)).ok_or_else(|| {
                Error::Usage(format!(
                    "--map {}: bench draws its parameters from {table}.{col}, which the map sends to no column\n  fix: add a column with from = \"{col}\" to [{table}.columns]",
                    m.path.display()
                ))
            })
        };
        let (transactions, context) = need(
            column("transactions", "context_id")?,
            "transactions",
            "context_id",
        )?;
        let (_, date) = need(
            column("transactions", "transaction_date")?,
            "transactions",
            "transaction_date",
        )?;
        let (_, id) = need(column("transactions", "id")?, "transactions", "id")?;
        let (members, member_user) = need(
            column("context_members", "user_id")?,
            "context_members",
            "user_id",
        )?;
        let (_, role) = column("context_members", "role")?;
        Ok(PoolSource {
            transactions,
            context,
            date,
            id,
            members,
            member_user,
            role,
            text_keys: true,
        })
    }

    /// A key column as the pools read it.
    fn key(&self, col: &str) -> String {
        if self.text_keys {
            format!("{col}::text")
        } else {
            col.to_string()
        }
    }

    fn read_key(&self, r: &tokio_postgres::Row, i: usize) -> Key {
        if self.text_keys {
            Key::Text(r.get(i))
        } else {
            Key::Int(r.get(i))
        }
    }
}

/// Draw the parameter pools from the seeded data, deterministically: from finseed's tables, or
/// through `map` from the team's.
async fn resolve_params(
    c: &Client,
    target: &Target,
    seed: u64,
    map: Option<&crate::map::MapFile>,
) -> Result<ParamPools> {
    let src = match map {
        Some(m) => PoolSource::mapped(m)?,
        None => PoolSource::native(),
    };
    let (tx, ctx, date, id) = (&src.transactions, &src.context, &src.date, &src.id);
    let as_of: Option<String> = target
        .ask(
            "cannot read transactions (is the database seeded?)",
            c.query_typed_one(&format!("SELECT max({date})::date::text FROM {tx}"), &[]),
        )
        .await?
        .get(0);
    let as_of = as_of
        .ok_or_else(|| Error::Failed(format!("{}: {tx} is empty; seed it first", target.shown)))?;
    let activity: Vec<(Key, i64)> = target
        .ask(
            "cannot rank contexts by activity",
            c.query_typed(
                &format!(
                    "SELECT {}, count(*) FROM {tx} GROUP BY 1 ORDER BY 2 DESC, 1",
                    src.key(ctx)
                ),
                &[],
            ),
        )
        .await?
        .iter()
        .map(|r| (src.read_key(r, 0), r.get(1)))
        .collect();
    let busy: Vec<(Key, i64)> = activity.iter().take(5).cloned().collect();
    let mid = activity.len() / 2;
    let typical: Vec<(Key, i64)> =
        activity[mid.saturating_sub(2)..(mid + 3).min(activity.len())].to_vec();
    // Keyset cursors: after row 4,000 of a busy context (page 5 of 1,000), after row 1,000 of
    // a typical one (page 2), or half way through a context too small for that.
    let cursor_sql = format!(
        "SELECT {date}::text, {} FROM {tx} WHERE {} = $1 ORDER BY {date} DESC, {id} DESC OFFSET $2 LIMIT 1",
        src.key(id),
        src.key(ctx)
    );
    let mut cursors = Vec::new();
    for (pool, after) in [(&busy, 4000i64), (&typical, 1000)] {
        let mut v = Vec::new();
        for (ctx, n) in pool.iter() {
            let offset = if *n > after { after - 1 } else { n / 2 };
            let value = Value::from(ctx);
            let row = target
                .ask(
                    "cannot find a keyset cursor",
                    c.query_typed_one(
                        &cursor_sql,
                        &[(value.as_sql(), value.sql_type()), (&offset, Type::INT8)],
                    ),
                )
                .await?;
            v.push((ctx.clone(), row.get::<_, String>(0), src.read_key(&row, 1)));
        }
        cursors.push(v);
    }
    let typical_cursors = cursors.pop().expect("two pools");
    let cursors = cursors.pop().expect("two pools");
    let user = &src.member_user;
    let not_viewer = src
        .role
        .as_ref()
        .map_or(String::new(), |r| format!("WHERE {r}::text <> 'viewer' "));
    let users: Vec<Key> = target.ask("cannot pick users", c.query_typed(
            &format!(
                "SELECT {} FROM {} {not_viewer}GROUP BY {user} ORDER BY md5({user}::text || $1), {user} LIMIT 20",
                src.key(user),
                src.members
            ),
            &[(&seed.to_string(), Type::TEXT)],
        )).await?
    .iter()
    .map(|r| src.read_key(r, 0))
    .collect();
    if busy.is_empty() || users.is_empty() {
        return Err(Error::Failed(format!(
            "{}: not enough data to benchmark; seed it first",
            target.shown
        )));
    }
    Ok(ParamPools {
        as_of,
        busy_contexts: busy.iter().map(|b| b.0.clone()).collect(),
        busy_context_transactions: busy.iter().map(|b| b.1).collect(),
        typical_contexts: typical.iter().map(|b| b.0.clone()).collect(),
        typical_context_transactions: typical.iter().map(|b| b.1).collect(),
        busy_cursors: cursors,
        typical_cursors,
        users,
    })
}

/// One execution: (rows, bytes).
///
/// Only what a transaction-mode pooler (PgBouncer) supports: a query is one unnamed statement
/// (parse, bind, execute and sync in one round trip, planned for its own parameters, no Close
/// to send afterwards); COPY's statement lives and dies inside one transaction. A prepared
/// (named) statement is used only with `--generic-plans`, which needs one server session.
async fn execute(
    c: &Client,
    q: &QuerySpec,
    stmt: Option<&tokio_postgres::Statement>,
    vals: &[Value],
) -> std::result::Result<(u64, u64), tokio_postgres::Error> {
    if q.copy {
        let sql = format!(
            "COPY ({}) TO STDOUT (FORMAT csv, HEADER)",
            inline(&q.tagged_sql(), vals)
        );
        c.batch_execute("BEGIN").await?;
        let copied = async {
            let st = c.prepare(&sql).await?;
            let stream = c.copy_out(&st).await?;
            pin_mut!(stream);
            let (mut bytes, mut lines) = (0u64, 0u64);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                bytes += chunk.len() as u64;
                lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            }
            Ok::<_, tokio_postgres::Error>((lines.saturating_sub(1), bytes))
        }
        .await;
        // The statement was closed inside the transaction; end it either way.
        let end = c
            .batch_execute(if copied.is_ok() { "COMMIT" } else { "ROLLBACK" })
            .await;
        let copied = copied?;
        end?;
        return Ok(copied);
    }
    let rows = match stmt {
        Some(stmt) => {
            let params: Vec<&(dyn ToSql + Sync)> = vals.iter().map(|v| v.as_sql()).collect();
            c.query_raw(stmt, params).await?
        }
        None => {
            let params: Vec<(&(dyn ToSql + Sync), Type)> =
                vals.iter().map(|v| (v.as_sql(), v.sql_type())).collect();
            c.query_typed_raw(&q.tagged_sql(), params).await?
        }
    };
    pin_mut!(rows);
    let (mut n, mut bytes) = (0u64, 0u64);
    while let Some(row) = rows.try_next().await? {
        n += 1;
        for i in 0..row.len() {
            bytes += row.get::<_, RawLen>(i).0 as u64;
        }
    }
    Ok((n, bytes))
}

/// A named prepared statement, only for `--generic-plans` (PostgreSQL switches a statement to a
/// generic plan after five runs); otherwise queries run as unnamed statements.
async fn prepare(
    c: &Client,
    q: &QuerySpec,
    pools: &ParamPools,
    generic_plans: bool,
) -> std::result::Result<Option<tokio_postgres::Statement>, tokio_postgres::Error> {
    if q.copy || !generic_plans {
        return Ok(None);
    }
    let types: Vec<Type> = values(q, pools, 0).iter().map(Value::sql_type).collect();
    Ok(Some(c.prepare_typed(&q.tagged_sql(), &types).await?))
}

async fn explain(c: &Client, q: &QuerySpec, pools: &ParamPools) -> Option<String> {
    let vals = values(q, pools, 0);
    let sql = format!("EXPLAIN (ANALYZE, BUFFERS) {}", inline(&q.sql, &vals));
    let rows = limited(c.query_typed(sql.as_str(), &[])).await.ok()?.ok()?;
    Some(
        rows.iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

impl CacheStats {
    /// The change between two `cache_snapshot`s; empty when either could not be read.
    fn between(before: Option<[i64; 6]>, after: Option<[i64; 6]>) -> CacheStats {
        let (Some(b), Some(a)) = (before, after) else {
            return CacheStats::default();
        };
        let hit = a[0] - b[0];
        let read = a[1] - b[1];
        CacheStats {
            blks_hit: hit,
            blks_read: read,
            hit_ratio: (hit + read > 0).then(|| hit as f64 / (hit + read) as f64),
            tup_returned: a[2] - b[2],
            tup_fetched: a[3] - b[3],
            temp_files: a[4] - b[4],
            temp_bytes: a[5] - b[5],
        }
    }
}

async fn cache_snapshot(c: &Client) -> Option<[i64; 6]> {
    let r = limited(c.query_typed_one(
        "SELECT blks_hit, blks_read, tup_returned, tup_fetched, temp_files, temp_bytes FROM pg_stat_database WHERE datname = current_database()",
        &[],
    ))
    .await
    .ok()?
    .ok()?;
    Some([r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)])
}

/// pg_stat_statements, when the server preloads it: reset before the run.
async fn statements_available(c: &Client) -> bool {
    matches!(
        limited(c.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")).await,
        Ok(Ok(()))
    ) && matches!(
        limited(c.batch_execute("SELECT pg_stat_statements_reset()")).await,
        Ok(Ok(()))
    )
}

async fn statements(c: &Client, queries: &[QuerySpec]) -> Vec<StatementStats> {
    let Ok(Ok(rows)) = limited(c.query_typed(
        "SELECT query, calls, mean_exec_time, total_exec_time, rows, shared_blks_hit, shared_blks_read, temp_blks_written
             FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
             ORDER BY total_exec_time DESC LIMIT 50",
        &[],
    ))
    .await
    else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(|r| {
            let text: String = r.get(0);
            if text.trim_start().starts_with("EXPLAIN") {
                return None;
            }
            let name = queries.iter().find(|q| text.contains(&q.tag()))?;
            Some(StatementStats {
                query: name.name.clone(),
                calls: r.get(1),
                mean_exec_ms: r.get(2),
                total_exec_ms: r.get(3),
                rows: r.get(4),
                shared_blks_hit: r.get(5),
                shared_blks_read: r.get(6),
                temp_blks_written: r.get(7),
            })
        })
        // COPY inlines its parameters, so one query has an entry per value: add them up.
        .fold(Vec::<StatementStats>::new(), |mut acc, st| {
            match acc.iter_mut().find(|a| a.query == st.query) {
                Some(a) => {
                    a.calls += st.calls;
                    a.total_exec_ms += st.total_exec_ms;
                    a.mean_exec_ms = a.total_exec_ms / a.calls.max(1) as f64;
                    a.rows += st.rows;
                    a.shared_blks_hit += st.shared_blks_hit;
                    a.shared_blks_read += st.shared_blks_read;
                    a.temp_blks_written += st.temp_blks_written;
                }
                None => acc.push(st),
            }
            acc
        })
}

fn threshold(cfg: &BenchConfig, q: &QuerySpec) -> Option<f64> {
    cfg.thresholds
        .get(&q.name)
        .or_else(|| cfg.thresholds.get(&q.scenario))
        .copied()
        .or(q.threshold_ms)
}

/// Severity by how far a change goes past the regression threshold (the plan's rule).
pub fn severity(change_percent: f64, threshold_percent: f64) -> &'static str {
    let a = change_percent.abs();
    if a > threshold_percent * 3.0 {
        "critical"
    } else if a > threshold_percent * 2.0 {
        "high"
    } else if a > threshold_percent * 1.5 {
        "medium"
    } else {
        "low"
    }
}

/// Regressions against a baseline: p95 up more than 10% or throughput down more than 10% (the
/// plan's rules). One counts as significant only when the raw samples say the change is real:
/// a one-sided Mann–Whitney U test gives p < 0.001 *and* the effect is large (a current sample
/// is slower than a baseline one with probability at least 0.71, Vargha–Delaney's "large").
/// Without the effect size, a few milliseconds of machine noise over a hundred samples would
/// pass the test alone. And the p95 must move by at least `min_change_ms`: below about a
/// millisecond, scheduler and writeback noise on a shared machine shifts whole runs, and no
/// such change is worth failing a build over.
pub fn compare(
    current: &[QueryResult],
    baseline: &BenchReport,
    min_change_ms: f64,
) -> Vec<Regression> {
    const P95_PERCENT: f64 = 10.0;
    const THROUGHPUT_PERCENT: f64 = 10.0;
    const ALPHA: f64 = 0.001;
    const LARGE_EFFECT: f64 = 0.71;
    let mut out = Vec::new();
    for q in current {
        let Some(b) = baseline.queries.iter().find(|b| b.name == q.name) else {
            continue;
        };
        if b.latency_ms.count == 0 || q.latency_ms.count == 0 {
            continue;
        }
        let test = mann_whitney(&q.samples_ms, &b.samples_ms);
        let significant = test.p_greater < ALPHA
            && test.prob_superiority >= LARGE_EFFECT
            && q.latency_ms.p95 - b.latency_ms.p95 >= min_change_ms;
        let p95_change = (q.latency_ms.p95 - b.latency_ms.p95) / b.latency_ms.p95 * 100.0;
        if p95_change > P95_PERCENT {
            out.push(Regression {
                query: q.name.clone(),
                kpi: "p95".into(),
                baseline: b.latency_ms.p95,
                current: q.latency_ms.p95,
                change_percent: p95_change,
                severity: severity(p95_change, P95_PERCENT).into(),
                significant,
                test: test.clone(),
            });
        }
        let tp_change = (q.throughput_qps - b.throughput_qps) / b.throughput_qps * 100.0;
        if tp_change < -THROUGHPUT_PERCENT {
            out.push(Regression {
                query: q.name.clone(),
                kpi: "throughput".into(),
                baseline: b.throughput_qps,
                current: q.throughput_qps,
                change_percent: tp_change,
                severity: severity(tp_change, THROUGHPUT_PERCENT).into(),
                significant,
                test,
            });
        }
    }
    out
}

pub fn run(cfg: &BenchConfig) -> Result<BenchReport> {
    if cfg.iterations == 0 || cfg.concurrency == 0 {
        return Err(Error::Usage("--iterations and --concurrency must be at least 1\n  fix: for example --iterations 30 --concurrency 1".into()));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.concurrency.clamp(1, 8))
        .enable_all()
        .build()
        .map_err(|e| Error::Failed(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(run_async(cfg))
}

/// The first of `tables` the database lacks (in the search path).
pub(crate) async fn missing_table(
    c: &Client,
    target: &Target,
    tables: &[String],
) -> Result<Option<String>> {
    for t in tables {
        if !target.has_table(c, t).await? {
            return Ok(Some(t.clone()));
        }
    }
    Ok(None)
}

/// The control connection of a benchmark run, the server's version, and the seed that picks
/// parameters: `seed`, else the one recorded in the database, else 0.
pub(crate) async fn open_control(
    target: &Target,
    seed: Option<u64>,
) -> Result<(Client, String, u64)> {
    let control = target.connect().await?;
    let server_version: String = target
        .ask(
            "cannot read the server version",
            control.query_typed_one("SHOW server_version", &[]),
        )
        .await?
        .get(0);
    let seed = match seed {
        Some(s) => s,
        None => recorded_seed(&control, target).await?.unwrap_or(0),
    };
    Ok((control, server_version, seed))
}

async fn run_async(cfg: &BenchConfig) -> Result<BenchReport> {
    let target = &cfg.target;
    let (control, server_version, bench_seed) = open_control(target, cfg.seed).await?;
    let pools = resolve_params(&control, target, bench_seed, cfg.map.as_ref()).await?;
    // No session state: every execution is planned for its own parameters because queries run
    // as unnamed statements (what the EXPLAIN in the report shows, and what works through a
    // transaction-mode pooler). With --generic-plans, named prepared statements let PostgreSQL
    // switch to a generic plan after five runs, which for skewed data (a busy context vs a
    // typical one) can be a hundred times slower.
    let mut conns = Vec::new();
    for _ in 0..cfg.concurrency {
        conns.push(Arc::new(target.connect().await?));
    }
    let has_statements = statements_available(&control).await;
    let before = cache_snapshot(&control).await;
    let mut results = Vec::new();
    let mut skipped = Vec::new();
    for q in &cfg.queries {
        if let Some(t) = missing_table(&control, target, &q.requires).await? {
            skipped.push(Skipped {
                query: q.name.clone(),
                reason: format!(
                    "needs table {t}, which this database lacks{}",
                    if crate::schema::DERIVED_TABLES.contains(&t.as_str()) {
                        " (built by seed's rollups step)"
                    } else {
                        ""
                    }
                ),
            });
            continue;
        }
        if (q.params.contains(&Param::BusyCursor) && pools.busy_cursors.is_empty())
            || (q.params.contains(&Param::TypicalCursor) && pools.typical_cursors.is_empty())
        {
            continue;
        }
        let mut stmts = Vec::new();
        let mut first_error = None;
        for c in &conns {
            match prepare(c, q, &pools, cfg.generic_plans).await {
                Ok(s) => stmts.push(s),
                Err(e) => {
                    first_error = Some(crate::db::redact(&with_hint(&e, cfg.generic_plans)));
                    break;
                }
            }
        }
        let samples = Arc::new(Mutex::new(Vec::with_capacity(cfg.iterations)));
        let totals = Arc::new(Mutex::new((0u64, 0u64, 0usize, None::<String>)));
        let mut wall = Instant::now();
        if first_error.is_none() {
            // Warm every connection (plans, caches), then start the clock.
            for i in 0..cfg.warmup {
                let k = i % conns.len();
                let vals = values(q, &pools, i);
                let run = execute(&conns[k], q, stmts[k].as_ref(), &vals);
                let _ = tokio::time::timeout(execution_limit(threshold(cfg, q)), run).await;
            }
            wall = Instant::now();
            let next = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::new();
            for (c, s) in conns.iter().zip(stmts) {
                let (c, q, pools, next, samples, totals) = (
                    c.clone(),
                    q.clone(),
                    pools.clone(),
                    next.clone(),
                    samples.clone(),
                    totals.clone(),
                );
                let n = cfg.iterations;
                let warm = cfg.warmup;
                let limit = execution_limit(threshold(cfg, &q));
                let generic = cfg.generic_plans;
                tasks.push(tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= n {
                            break;
                        }
                        let vals = values(&q, &pools, warm + i);
                        let t = Instant::now();
                        let r =
                            tokio::time::timeout(limit, execute(&c, &q, s.as_ref(), &vals)).await;
                        let ms = t.elapsed().as_secs_f64() * 1000.0;
                        let mut tot = totals.lock().expect("totals");
                        match r {
                            Ok(Ok((rows, bytes))) => {
                                samples.lock().expect("samples").push((i, ms));
                                tot.0 += rows;
                                tot.1 += bytes;
                            }
                            Ok(Err(e)) => {
                                tot.2 += 1;
                                tot.3.get_or_insert_with(|| {
                                    crate::db::redact(&with_hint(&e, generic))
                                });
                            }
                            Err(_) => {
                                // The connection still owes an answer: stop using it.
                                tot.2 += 1 + n.saturating_sub(next.load(Ordering::SeqCst));
                                tot.3.get_or_insert_with(|| {
                                    format!(
                                        "timeout: no answer from the server within {} s",
                                        limit.as_secs()
                                    )
                                });
                                break;
                            }
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        }
        let wall_seconds = wall.elapsed().as_secs_f64();
        let mut s = std::mem::take(&mut *samples.lock().expect("samples"));
        s.sort_by_key(|x| x.0);
        let samples_ms: Vec<f64> = s.into_iter().map(|x| x.1).collect();
        let (rows, bytes, errors, err) = std::mem::take(&mut *totals.lock().expect("totals"));
        let latency = Summary::of(&samples_ms);
        let measured_wall = if samples_ms.is_empty() {
            wall_seconds
        } else {
            wall_seconds.max(1e-9)
        };
        let errors = if first_error.is_some() {
            cfg.iterations
        } else {
            errors
        };
        let threshold_ms = threshold(cfg, q);
        results.push(QueryResult {
            name: q.name.clone(),
            scenario: q.scenario.clone(),
            description: q.description.clone(),
            copy: q.copy,
            threshold_ms,
            count: samples_ms.len(),
            errors,
            first_error: first_error.or(err),
            rows,
            bytes,
            throughput_qps: samples_ms.len() as f64 / measured_wall,
            bytes_per_second: bytes as f64 / (samples_ms.iter().sum::<f64>() / 1000.0).max(1e-9),
            latency_ms: latency,
            wall_seconds,
            samples_ms,
            explain: explain(&control, q, &pools).await,
            breached: false,
        });
    }
    drop(conns);
    // Closed backends flush their statistics; give the server a moment to publish them.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let _ = control
        .batch_execute("SELECT pg_stat_clear_snapshot()")
        .await;
    let after = cache_snapshot(&control).await;
    let cache = CacheStats::between(before, after);
    let statements = if has_statements {
        statements(&control, &cfg.queries).await
    } else {
        Vec::new()
    };
    let mut breaches = Vec::new();
    let mut failures = Vec::new();
    for r in &mut results {
        if r.errors > 0 {
            failures.push(Failure {
                query: r.name.clone(),
                errors: r.errors,
                message: r
                    .first_error
                    .clone()
                    .unwrap_or_else(|| "unknown error".into()),
            });
        }
        if let Some(t) = r.threshold_ms {
            if r.latency_ms.count > 0 && r.latency_ms.p95 > t {
                breaches.push(Breach {
                    query: r.name.clone(),
                    what: "p95_ms".into(),
                    value: r.latency_ms.p95,
                    limit: t,
                });
                r.breached = true;
            }
        }
    }
    let regressions = cfg
        .baseline
        .as_ref()
        .map(|b| compare(&results, b, cfg.min_change_ms))
        .unwrap_or_default();
    Ok(BenchReport {
        schema_version: SCHEMA_VERSION,
        finseed_version: env!("CARGO_PKG_VERSION").to_string(),
        database: target.shown.clone(),
        server_version,
        settings: Settings {
            iterations: cfg.iterations,
            warmup: cfg.warmup,
            concurrency: cfg.concurrency,
            plan_cache_mode: if cfg.generic_plans {
                "auto"
            } else {
                "force_custom_plan"
            }
            .into(),
            bench_seed,
        },
        params: pools,
        queries: results,
        cache,
        statements,
        breaches,
        failures,
        skipped,
        regressions,
        baseline_file: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, samples: Vec<f64>) -> QueryResult {
        let latency_ms = Summary::of(&samples);
        QueryResult {
            name: name.into(),
            scenario: String::new(),
            description: String::new(),
            copy: false,
            threshold_ms: None,
            count: samples.len(),
            errors: 0,
            first_error: None,
            rows: 0,
            bytes: 0,
            throughput_qps: 1000.0 / latency_ms.mean,
            latency_ms,
            wall_seconds: 1.0,
            bytes_per_second: 0.0,
            samples_ms: samples,
            explain: None,
            breached: false,
        }
    }

    fn report(q: Vec<QueryResult>) -> BenchReport {
        BenchReport {
            schema_version: SCHEMA_VERSION,
            finseed_version: String::new(),
            database: String::new(),
            server_version: String::new(),
            settings: Settings {
                iterations: 0,
                warmup: 0,
                concurrency: 1,
                plan_cache_mode: String::new(),
                bench_seed: 0,
            },
            params: ParamPools::default(),
            queries: q,
            cache: CacheStats::default(),
            statements: Vec::new(),
            breaches: Vec::new(),
            failures: Vec::new(),
            skipped: Vec::new(),
            regressions: Vec::new(),
            baseline_file: None,
        }
    }

    /// Deterministic "noisy" latencies around `centre`.
    fn noisy(centre: f64, n: usize, salt: u64) -> Vec<f64> {
        (0..n as u64)
            .map(|i| centre * (0.8 + 0.4 * (crate::rng::mix64(i ^ salt) % 1000) as f64 / 1000.0))
            .collect()
    }

    #[test]
    fn real_slowdowns_are_flagged_with_severity_and_noise_is_not() {
        let base = report(vec![result("q", noisy(10.0, 60, 1))]);
        let rerun = compare(&[result("q", noisy(10.0, 60, 2))], &base, 1.0);
        assert!(rerun.iter().all(|r| !r.significant), "{rerun:?}");
        let slow = compare(&[result("q", noisy(14.0, 60, 3))], &base, 1.0);
        // The same relative slowdown on a 0.1 ms query is below the noise floor.
        let tiny = report(vec![result("q", noisy(0.1, 60, 1))]);
        let small = compare(&[result("q", noisy(0.14, 60, 3))], &tiny, 1.0);
        assert!(small.iter().all(|r| !r.significant));
        let p95 = slow
            .iter()
            .find(|r| r.kpi == "p95")
            .expect("p95 regression");
        assert!(p95.significant && p95.change_percent > 30.0);
        assert_eq!(p95.severity, "critical");
        assert!(slow.iter().any(|r| r.kpi == "throughput" && r.significant));
        assert_eq!(severity(12.0, 10.0), "low");
        assert_eq!(severity(16.0, 10.0), "medium");
        assert_eq!(severity(25.0, 10.0), "high");
        assert_eq!(severity(-35.0, 10.0), "critical");
    }
}
