//! What finseed owns in a database. finseed writes into, drops or alters only relations it
//! created itself: its state tables (created with a `finseed state` comment) and the data tables
//! and indexes whose OIDs it recorded in `finseed_owned` in the transaction that created them.
//! Anything else with a name finseed needs is "in the way": finseed stops before writing and
//! prints the SQL the user can run.

use crate::db::Target;
use crate::error::{Error, Result};
use crate::gen::all_tables;
use std::collections::HashMap;
use tokio_postgres::GenericClient;

/// Comment every state table carries; a table without it is not finseed's.
pub const MARKER: &str = "finseed state";

pub const STATE_TABLES: [&str; 4] = [
    "finseed_run",
    "finseed_ledger",
    "finseed_owned",
    "finseed_lock",
];

const STATE_DDL: [(&str, &str); 4] = [
    (
        "finseed_run",
        "CREATE TABLE finseed_run (
    id              int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    profile         text        NOT NULL,
    seed            bigint      NOT NULL,
    scale           float8      NOT NULL,
    fingerprint     text        NOT NULL,
    finseed_version text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
)",
    ),
    (
        "finseed_ledger",
        "CREATE TABLE finseed_ledger (
    table_name  text        NOT NULL,
    chunk       bigint      NOT NULL,
    rows        bigint      NOT NULL,
    checksum    text        NOT NULL,
    loaded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, chunk)
)",
    ),
    (
        "finseed_owned",
        "CREATE TABLE finseed_owned (
    rel_name    text        PRIMARY KEY,
    relid       oid         NOT NULL,
    kind        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
)",
    ),
    (
        "finseed_lock",
        "CREATE TABLE finseed_lock (
    token       text        PRIMARY KEY,
    lock_name   text        NOT NULL,
    backend_pid int         NOT NULL,
    pid         bigint      NOT NULL,
    host        text        NOT NULL,
    command     text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now()
)",
    ),
];

/// A relation in finseed's schema with a name finseed uses.
#[derive(Debug, Clone)]
struct Rel {
    oid: u32,
    kind: String,
    comment: String,
    /// `schema.name`, quoted where SQL needs it.
    qualified: String,
}

/// A relation finseed will not touch although it needs its name.
#[derive(Debug, Clone)]
pub struct Blocker {
    pub qualified: String,
    pub kind: String,
    pub why: String,
}

/// The state of finseed's schema, read without writing anything.
#[derive(Debug, Default)]
pub struct Inspection {
    pub schema: String,
    /// All state tables exist and are finseed's.
    pub state: bool,
    /// Data tables finseed created that still have the recorded OID, by name.
    pub owned: HashMap<String, u32>,
    pub blockers: Vec<Blocker>,
}

fn drop_sql(b: &Blocker) -> String {
    let what = match b.kind.as_str() {
        "v" => "VIEW",
        "m" => "MATERIALIZED VIEW",
        "S" => "SEQUENCE",
        "f" => "FOREIGN TABLE",
        "i" | "I" => "INDEX",
        "c" => "TYPE",
        _ => "TABLE",
    };
    format!("DROP {what} {};", b.qualified)
}

fn kind_name(k: &str) -> &'static str {
    match k {
        "v" => "view",
        "m" => "materialized view",
        "S" => "sequence",
        "f" => "foreign table",
        "i" | "I" => "index",
        "c" => "type",
        "p" => "partitioned table",
        _ => "table",
    }
}

async fn relations<C: GenericClient>(
    c: &C,
    target: &Target,
    names: &[&str],
) -> Result<(String, HashMap<String, Rel>)> {
    let q = "cannot inspect the database";
    let schema: Option<String> = target
        .ask(q, c.query_typed_one("SELECT current_schema()", &[]))
        .await?
        .get(0);
    let Some(schema) = schema else {
        return Err(Error::Usage(format!(
            "{}: no schema to create tables in (none of the search_path's schemas exists)\n  fix: CREATE SCHEMA the first schema of the search_path, or set search_path in the URL (options=-csearch_path%3Dmyschema)",
            target.shown
        )));
    };
    let rows = target
        .ask(
            q,
            c.query_typed(
                "SELECT c.relname::text, c.oid, c.relkind::text,
                    coalesce(obj_description(c.oid, 'pg_class'), ''),
                    quote_ident(n.nspname) || '.' || quote_ident(c.relname)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = current_schema() AND c.relname = ANY($1)",
                &[(&names, tokio_postgres::types::Type::TEXT_ARRAY)],
            ),
        )
        .await?;
    let rels = rows
        .iter()
        .map(|r| {
            (
                r.get::<_, String>(0),
                Rel {
                    oid: r.get(1),
                    kind: r.get(2),
                    comment: r.get(3),
                    qualified: r.get(4),
                },
            )
        })
        .collect();
    Ok((schema, rels))
}

/// Read what is there and what is finseed's. Writes nothing.
pub async fn inspect<C: GenericClient>(c: &C, target: &Target) -> Result<Inspection> {
    let mut names: Vec<&str> = STATE_TABLES.to_vec();
    names.extend(all_tables().map(|t| t.name));
    names.extend(crate::schema::DERIVED_TABLES);
    let (schema, rels) = relations(c, target, &names).await?;
    let mut ins = Inspection {
        schema,
        ..Default::default()
    };
    let mut state = true;
    for name in STATE_TABLES {
        match rels.get(name) {
            None => state = false,
            Some(r) if r.kind == "r" && r.comment.starts_with(MARKER) => {}
            Some(r) => {
                state = false;
                ins.blockers.push(Blocker {
                    qualified: r.qualified.clone(),
                    kind: r.kind.clone(),
                    why: "finseed's state table name, but not created by finseed".into(),
                });
            }
        }
    }
    ins.state = state;
    let mut records: HashMap<String, u32> = HashMap::new();
    let owned_is_ours = rels
        .get("finseed_owned")
        .is_some_and(|r| r.kind == "r" && r.comment.starts_with(MARKER));
    if owned_is_ours {
        for r in target
            .ask(
                "cannot read finseed_owned",
                c.query_typed("SELECT rel_name, relid FROM finseed_owned", &[]),
            )
            .await?
        {
            records.insert(r.get(0), r.get(1));
        }
    }
    let data = all_tables().map(|t| t.name);
    for name in data.chain(crate::schema::DERIVED_TABLES) {
        let Some(r) = rels.get(name) else { continue };
        match records.get(name) {
            // A partitioned table's partitions are its own: they go with it.
            Some(&oid) if oid == r.oid && (r.kind == "r" || r.kind == "p") => {
                ins.owned.insert(name.to_string(), oid);
            }
            Some(_) => ins.blockers.push(Blocker {
                qualified: r.qualified.clone(),
                kind: r.kind.clone(),
                why:
                    "not the table finseed created under this name (it was dropped and made again)"
                        .into(),
            }),
            None => ins.blockers.push(Blocker {
                qualified: r.qualified.clone(),
                kind: r.kind.clone(),
                why: "not created by finseed".into(),
            }),
        }
    }
    Ok(ins)
}

/// Stop, writing nothing, when something finseed did not create holds a name it needs.
pub fn refuse_blockers(ins: &Inspection, target: &Target) -> Result<()> {
    if ins.blockers.is_empty() {
        return Ok(());
    }
    let mut msg = format!(
        "{}: finseed needs these names in schema `{}` for its own tables, but did not create what holds them, so it will not write into, alter or drop them:\n",
        target.shown, ins.schema
    );
    for b in &ins.blockers {
        msg.push_str(&format!(
            "  {} ({}): {}\n",
            b.qualified,
            kind_name(&b.kind),
            b.why
        ));
    }
    msg.push_str(
        "  fix: seed into another database, or into another schema (CREATE SCHEMA finseed; then add ?options=-csearch_path%3Dfinseed to the URL); or, if you no longer need them, drop them yourself:\n",
    );
    let sql: Vec<String> = ins.blockers.iter().map(drop_sql).collect();
    msg.push_str(&format!("    {}", sql.join("\n    ")));
    Err(Error::Usage(msg))
}

/// Create the state tables finseed lacks, under an advisory lock so two finseeds starting at
/// once do not race in the catalog. Refuses if one turned up that is not finseed's.
pub async fn ensure_state(c: &mut tokio_postgres::Client, target: &Target) -> Result<()> {
    let q = "cannot create finseed's state tables";
    let tx = target.ask(q, c.transaction()).await?;
    target
        .ask(q, tx.batch_execute("SET LOCAL lock_timeout = '60s'"))
        .await?;
    let schema: Option<String> = target
        .ask(q, tx.query_one("SELECT current_schema()", &[]))
        .await?
        .get(0);
    let key = super::lock::key(&format!("state|{}", schema.unwrap_or_default()));
    target
        .ask(
            q,
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, $2)",
                &[&super::lock::K_STATE, &key],
            ),
        )
        .await?;
    let (_, rels) = relations(&tx, target, &STATE_TABLES).await?;
    for (name, ddl) in STATE_DDL {
        match rels.get(name) {
            Some(r) if r.kind == "r" && r.comment.starts_with(MARKER) => {}
            Some(r) => {
                return refuse_blockers(
                    &Inspection {
                        schema: String::new(),
                        blockers: vec![Blocker {
                            qualified: r.qualified.clone(),
                            kind: r.kind.clone(),
                            why: "finseed's state table name, but not created by finseed".into(),
                        }],
                        ..Default::default()
                    },
                    target,
                )
            }
            None => {
                target.ask(q, tx.batch_execute(ddl)).await?;
                target.ask(q, tx.batch_execute(&format!(
                    "COMMENT ON TABLE {name} IS '{MARKER}: created by finseed; dropped with finseed''s tables is safe'"
                ))).await?;
            }
        }
    }
    target.ask(q, tx.commit()).await
}

/// The tables DDL, one `(name, CREATE TABLE ...)` per table, without IF NOT EXISTS: creating a
/// table that appeared meanwhile must fail rather than adopt it.
fn table_ddl(unlogged: bool, layout: crate::table::Layout) -> Vec<(String, String)> {
    crate::schema::table_statements(layout)
        .into_iter()
        .filter_map(|s| {
            let name = s.split_whitespace().nth(5)?.to_string();
            let mut ddl = s.replacen("CREATE TABLE IF NOT EXISTS", "CREATE TABLE", 1);
            if unlogged {
                ddl = ddl.replacen("CREATE TABLE", "CREATE UNLOGGED TABLE", 1);
            }
            Some((name, ddl))
        })
        .collect()
}

/// Create the data tables finseed does not have yet, recording each OID in the same
/// transaction, so a failure leaves nothing behind and nothing unrecorded.
pub async fn create_tables(
    c: &mut tokio_postgres::Client,
    target: &Target,
    unlogged: bool,
    layout: crate::table::Layout,
) -> Result<usize> {
    let q = "cannot create the tables";
    let tx = target.ask(q, c.transaction()).await?;
    let ins = inspect(&tx, target).await?;
    refuse_blockers(&ins, target)?;
    let mut made = 0;
    for (name, ddl) in table_ddl(unlogged, layout) {
        if ins.owned.contains_key(&name) {
            continue;
        }
        target.ask(q, tx.batch_execute(&ddl)).await?;
        target.ask(q, tx.execute(
            "INSERT INTO finseed_owned (rel_name, relid, kind) VALUES ($1::text, $1::text::regclass, 'table')
             ON CONFLICT (rel_name) DO UPDATE SET relid = excluded.relid, kind = excluded.kind, created_at = now()",
            &[&name],
        )).await?;
        made += 1;
    }
    target.ask(q, tx.commit()).await?;
    Ok(made)
}

/// `--fresh`: drop the tables finseed created (by recorded OID, the name still matching) and
/// clear its state. Never CASCADE: an object finseed did not create that depends on its tables
/// (a view, a foreign key from another table) stops the drop, and nothing is dropped.
/// Unless `force`, tables holding more rows than the ledger recorded (someone else added rows)
/// are refused.
pub async fn drop_owned(
    c: &mut tokio_postgres::Client,
    target: &Target,
    force: bool,
) -> Result<usize> {
    let q = "cannot drop finseed's tables";
    let tx = target.ask(q, c.transaction()).await?;
    let ins = inspect(&tx, target).await?;
    refuse_blockers(&ins, target)?;
    let mut names: Vec<&String> = ins.owned.keys().collect();
    names.sort();
    for name in &names {
        target
            .ask(
                q,
                tx.batch_execute(&format!("LOCK TABLE ONLY {name} IN ACCESS EXCLUSIVE MODE")),
            )
            .await?;
    }
    // Under the locks, the names still point at the recorded OIDs.
    let again = inspect(&tx, target).await?;
    refuse_blockers(&again, target)?;
    if again.owned != ins.owned {
        return Err(Error::Failed(format!(
            "{}: finseed's tables changed while --fresh was checking them; nothing was dropped\n  fix: run the command again",
            target.shown
        )));
    }
    if !force {
        let mut extra = Vec::new();
        // Counting a large table may take long: watched (the server still working on it)
        // rather than bounded.
        let probe = super::stall::Probe::for_connection(&tx, target, q).await?;
        // Derived tables (the rollups) hold no rows of the ledger's: finseed computed them all.
        let counted = names
            .iter()
            .filter(|n| !crate::schema::DERIVED_TABLES.contains(&n.as_str()));
        for name in counted {
            let sql = format!(
                "SELECT (SELECT count(*) FROM {name}),
                        coalesce((SELECT sum(rows) FROM finseed_ledger WHERE table_name = $1), 0)::bigint"
            );
            let r = super::stall::watch(
                target,
                target.stall(),
                &probe,
                || format!("counting the rows of {name} for --fresh"),
                async {
                    tx.query_one(&sql, &[name])
                        .await
                        .map_err(super::stall::LoadError::Pg)
                },
            )
            .await
            .map_err(|e| e.into_error(target, q))?;
            let (found, written): (i64, i64) = (r.get(0), r.get(1));
            if found > written {
                extra.push(format!(
                    "{name} ({} rows finseed did not write)",
                    found - written
                ));
            }
        }
        if !extra.is_empty() {
            return Err(Error::Usage(format!(
                "{}: --fresh would drop rows finseed did not write, added to its tables after it loaded them: {}; nothing was dropped\n  fix: keep those rows elsewhere first, then pass --fresh --force to drop finseed's tables anyway",
                target.shown,
                extra.join(", ")
            )));
        }
    }
    if !names.is_empty() {
        let list: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        let dropped = tokio::time::timeout(
            target.stall(),
            tx.batch_execute(&format!("DROP TABLE {}", list.join(", "))),
        )
        .await
        .map_err(|_| target.silent(q))?;
        if let Err(e) = dropped {
            let detail = e
                .as_db_error()
                .map(|d| {
                    format!(
                        "{}{}",
                        d.message(),
                        d.detail().map(|x| format!(": {x}")).unwrap_or_default()
                    )
                })
                .unwrap_or_else(|| e.to_string());
            return Err(Error::Usage(format!(
                "{}: --fresh dropped nothing: {}\n  fix: these objects were not created by finseed and depend on its tables; drop them or their dependency yourself if you no longer need them, then rerun",
                target.shown,
                crate::db::redact(&detail)
            )));
        }
    }
    target
        .ask(
            q,
            tx.batch_execute(
                "DELETE FROM finseed_owned; DELETE FROM finseed_ledger; DELETE FROM finseed_run",
            ),
        )
        .await?;
    target.ask(q, tx.commit()).await?;
    Ok(names.len())
}

impl Inspection {
    /// With a schema map finseed creates no data tables, so only its state tables' names
    /// matter: the team's tables may hold any name.
    pub fn state_names_only(&mut self) {
        self.blockers.retain(|b| {
            STATE_TABLES
                .iter()
                .any(|s| b.qualified.ends_with(&format!(".{s}")))
        });
    }
}
