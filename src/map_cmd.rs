//! `finseed map` (a starting map from a database's catalog) and the `--map` flag's helpers.

use crate::db::Target;
use crate::error::{Error, Result};
use crate::gen::all_tables;
use crate::map::{introspect, MapFile, PgType, TargetTable};
use crate::table::{ColType, TableSpec};
use std::fmt::Write as _;
use std::path::Path;

/// Read `--map FILE` (exit 2 with file:line on a bad one).
pub fn load_flag(path: Option<&Path>) -> Result<Option<MapFile>> {
    path.map(crate::map::load).transpose()
}

/// What `plan --map` adds: where each table goes and, given the target's catalog, how much
/// slower a load with its definitions in place is than `--defer-constraints`.
pub fn print_plan(m: &MapFile, estimate: Option<&crate::plan::MapEstimate>) {
    println!("map {}:", m.path.display());
    for t in &m.tables {
        let sent = t
            .columns
            .iter()
            .filter(|c| c.source != crate::map::Source::Default)
            .count();
        println!("  {:<20} -> {} ({sent} columns sent)", t.table, t.target);
    }
    for s in &m.skipped {
        println!("  {s:<20} -> skipped");
    }
    println!("  with --map finseed creates and drops no tables");
    let Some(e) = estimate else {
        println!("  the target's own keys, indexes and triggers stay in place during the load unless --defer-constraints; add --database-url (read-only) to estimate how much slower that is");
        return;
    };
    let sum = |f: fn(&crate::plan::TargetBurden) -> u64| e.targets.iter().map(f).sum::<u64>();
    println!(
        "  the targets have {} indexes ({} unique), {} foreign keys and {} row triggers",
        sum(|b| b.unique_indexes + b.other_indexes),
        sum(|b| b.unique_indexes),
        sum(|b| b.foreign_keys),
        sum(|b| b.row_triggers)
    );
    println!(
        "  with them in place: load about {} ({:.1}x the deferred route)",
        crate::plan::duration(e.in_place_seconds),
        e.in_place_ratio
    );
    println!(
        "  with --defer-constraints: load {} + recreate them {} = {}",
        crate::plan::duration(e.deferred_load_seconds),
        crate::plan::duration(e.deferred_rebuild_seconds),
        crate::plan::duration(e.deferred_load_seconds + e.deferred_rebuild_seconds)
    );
}

/// Each mapped target's indexes, foreign keys and row triggers, from its catalog (read-only).
pub fn burdens(target: &Target, m: &MapFile) -> Result<Vec<crate::plan::TargetBurden>> {
    let rt = crate::db::runtime()?;
    rt.block_on(async {
        let c = target.connect().await?;
        let mut out = Vec::new();
        for t in &m.tables {
            let row = target
                .ask(
                    "cannot read the catalog",
                    c.query_typed_opt(
                    "SELECT (SELECT count(*) FROM pg_index i WHERE i.indrelid = r.oid AND i.indisunique),
                            (SELECT count(*) FROM pg_index i WHERE i.indrelid = r.oid AND NOT i.indisunique),
                            (SELECT count(*) FROM pg_constraint k WHERE k.conrelid = r.oid AND k.contype = 'f'),
                            (SELECT count(*) FROM pg_trigger g WHERE g.tgrelid = r.oid AND NOT g.tgisinternal
                                AND g.tgenabled <> 'D' AND (g.tgtype & 1) = 1)
                     FROM pg_class r WHERE r.oid = to_regclass($1)",
                    &[(&crate::map::ident(&t.target), tokio_postgres::types::Type::TEXT)],
                    ),
                )
                .await?;
            let Some(row) = row else {
                return Err(Error::Usage(format!(
                    "--map {}: the target table `{}` (for {}) does not exist in {}\n  fix: correct the map's target, or run the team's migrations first",
                    m.path.display(),
                    t.target,
                    t.table,
                    target.shown
                )));
            };
            let n = |i: usize| row.get::<_, i64>(i) as u64;
            out.push(crate::plan::TargetBurden {
                table: t.table.to_string(),
                target: t.target.clone(),
                unique_indexes: n(0),
                other_indexes: n(1),
                foreign_keys: n(2),
                row_triggers: n(3),
            });
        }
        Ok(out)
    })
}

fn stem(name: &str) -> &str {
    for suffix in ["_uuid", "_id", "_cents"] {
        if let Some(s) = name.strip_suffix(suffix) {
            return s;
        }
    }
    name
}

/// The finseed column a target column most likely takes, and how it was matched.
fn match_column<'a>(
    spec: &'a TableSpec,
    t: &TargetTable,
    name: &str,
) -> Option<(&'a str, &'static str)> {
    if let Some(c) = spec.columns.iter().find(|c| c.name == name) {
        return Some((c.name, "matched by name"));
    }
    if let Some(c) = spec.columns.iter().find(|c| stem(c.name) == stem(name)) {
        return Some((c.name, "matched by name stem"));
    }
    let pk: Vec<_> = t.columns.iter().filter(|c| c.primary_key).collect();
    if pk.len() == 1 && pk[0].name == name && spec.columns.iter().any(|c| c.name == "id") {
        return Some(("id", "the table's primary key"));
    }
    None
}

fn conversion(table: &str, col: &str, from: ColType, to: &PgType) -> String {
    match (from, to) {
        (ColType::BigInt, PgType::Uuid) => format!(
            "id -> UUID of ({}, id)",
            crate::map::id_table(table, col).unwrap_or_else(|| "? add uuid_of".into())
        ),
        (ColType::Numeric(..), PgType::Int8 | PgType::Int4) => "money -> integer cents".into(),
        (ColType::Text | ColType::Char(_), PgType::Enum(_)) => {
            "text -> enum (labels checked)".into()
        }
        (ColType::Date, PgType::Timestamp | PgType::Timestamptz) => "date -> midnight UTC".into(),
        (ColType::Timestamptz, PgType::Timestamp) => "timestamptz -> UTC wall clock".into(),
        (_, PgType::Jsonb) => "-> jsonb object".into(),
        _ => "as is".into(),
    }
}

fn score(spec: &TableSpec, t: &TargetTable) -> usize {
    let by_col = t
        .columns
        .iter()
        .filter(|c| {
            spec.columns.iter().any(|k| {
                k.name == c.name || (stem(k.name) == stem(&c.name) && stem(k.name) != k.name)
            })
        })
        .count();
    let singular = spec.name.trim_end_matches('s').trim_end_matches("ie");
    let by_name = if t.name == spec.name {
        10
    } else if t.name.contains(singular) {
        3
    } else {
        0
    };
    by_col + by_name
}

/// A starting map for the database behind `target`, with every decision commented.
pub fn suggest(target: &Target) -> Result<String> {
    let rt = crate::db::runtime()?;
    let tables = rt.block_on(async {
        let c = target.connect().await?;
        let q = |e| target.error("cannot read the catalog", &e);
        let names: Vec<String> = c
            .query_typed(
                "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                   AND c.relname::text NOT LIKE 'finseed\\_%' ORDER BY 1",
                &[],
            )
            .await
            .map_err(q)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let mut out = Vec::new();
        for n in names {
            if let Some(t) = introspect(&c, &n).await.map_err(q)? {
                out.push(t);
            }
        }
        Ok::<_, Error>(out)
    })?;
    // Pair finseed tables with target tables, best matches first, one to one.
    let mut pairs = Vec::new();
    for s in all_tables() {
        for (i, t) in tables.iter().enumerate() {
            let sc = score(s, t);
            if sc >= 3 {
                pairs.push((sc, s.name, i));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)).then(a.2.cmp(&b.2)));
    let mut chosen: Vec<(&str, usize, usize)> = Vec::new();
    for (sc, s, i) in pairs {
        if chosen.iter().all(|c| c.0 != s && c.1 != i) {
            chosen.push((s, i, sc));
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# finseed map for {}, written by `finseed map` from its catalog.\n# Check every line, then load with `finseed seed --map FILE` (see README \"Seeding your own schema\").\n# `{{}}` takes the finseed column of the same name; from = \"col\" another; from = [\"a\", \"b\"] makes a jsonb object;\n# value = ... a constant; default = true leaves the column to its DEFAULT (not sent).",
        target.shown
    );
    let mut needs = Vec::new();
    for s in all_tables() {
        let Some(&(_, i, sc)) = chosen.iter().find(|c| c.0 == s.name) else {
            let deps = crate::map::dependants(s.name);
            let _ = writeln!(
                out,
                "\n# No table matched finseed's {}: skipped{}.\n[{}]\nskip = true",
                s.name,
                if deps.is_empty() {
                    String::new()
                } else {
                    format!(" (its dependants {} must be skipped too)", deps.join(", "))
                },
                s.name
            );
            continue;
        };
        let t = &tables[i];
        let _ = writeln!(
            out,
            "\n# finseed's {} -> {} (matched with score {sc}: shared column names{}).\n[{}]\ntarget = \"{}\"\n[{}.columns]",
            s.name,
            t.name,
            if t.name.contains(s.name.trim_end_matches('s')) { " and table name" } else { "" },
            s.name,
            t.name,
            s.name
        );
        for c in &t.columns {
            let line = match match_column(s, t, &c.name) {
                _ if c.generated => format!("# {} = generated column, never sent", c.name),
                Some((from, how)) => {
                    let fc = s.columns.iter().find(|k| k.name == from).expect("found");
                    let src = if from == c.name {
                        "{}".to_string()
                    } else {
                        format!("{{ from = \"{from}\" }}")
                    };
                    format!(
                        "{} = {src:<40} # {how}; {} {} -> {}",
                        c.name,
                        conversion(s.name, from, fc.ty, &c.ty),
                        from,
                        c.shown
                    )
                }
                None if c.has_default => format!(
                    "{} = {{ default = true }}{:<24} # left to its DEFAULT ({})",
                    c.name, "", c.shown
                ),
                None if !c.not_null => {
                    format!("# {} ({}): nullable, not sent (NULL)", c.name, c.shown)
                }
                None => {
                    needs.push(format!("{}.{}", t.name, c.name));
                    format!(
                        "# NEEDS A VALUE: {}.{} ({}) is NOT NULL without a DEFAULT; write {} = {{ from = \"...\" }} or {{ value = ... }}",
                        t.name, c.name, c.shown, c.name
                    )
                }
            };
            let _ = writeln!(out, "{line}");
        }
    }
    if !needs.is_empty() {
        eprintln!(
            "finseed map: {} columns need a value before this map can load (marked NEEDS A VALUE): {}",
            needs.len(),
            needs.join(", ")
        );
    }
    Ok(out)
}
