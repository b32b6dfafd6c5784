//! `finseed verify`: recount every table, compare per-column digests computed in SQL with the
//! generator's, and check every foreign key, so a seeded database can be trusted.

use crate::db::Target;
use crate::encode::digest::{self, DigestEncoder, TableDigest};
use crate::error::{Error, Result};
use crate::gen::Group;
use crate::model::World;
use crate::pipeline::{ordered, produce, Buffers};
use crate::profile::Profile;
use crate::seed::stall::{watch, LoadError, Probe};
use serde::Serialize;
use tokio_postgres::types::Type;

#[derive(Serialize, Debug)]
pub struct TableCheck {
    pub table: String,
    pub expected_rows: i64,
    pub found_rows: Option<i64>,
    /// Columns whose digest differs.
    pub differing_columns: Vec<String>,
    pub ok: bool,
}

#[derive(Serialize, Debug)]
pub struct KeyCheck {
    pub constraint: String,
    /// `validated constraint`, or the number of orphan rows found by query.
    pub how: String,
    pub orphans: i64,
}

/// A derived table (the rollups step) recomputed from the rows it derives from.
#[derive(Serialize, Debug)]
pub struct RollupCheck {
    pub table: String,
    /// False when the rollups step has not built it (nothing to check).
    pub built: bool,
    pub rows: i64,
    /// Keys missing on either side, or with another amount or count.
    pub mismatched: i64,
    pub ok: bool,
}

#[derive(Serialize, Debug)]
pub struct VerifyReport {
    pub tables: Vec<TableCheck>,
    pub foreign_keys: Vec<KeyCheck>,
    pub rollups: Vec<RollupCheck>,
    pub ok: bool,
}

/// `aggregated_analytics` against the transactions, by the definition in
/// `schemas/rollups.sql`: every key's amount and count recomputed, keys missing on either side
/// counted. Keys join on a non-NULL stand-in for the uncategorised (-1 is no category id), so
/// the join can hash.
const ROLLUP_CHECK: &str = "SELECT (SELECT count(*) FROM aggregated_analytics),
       count(*) FILTER (WHERE a.context_id IS NULL OR t.context_id IS NULL
                          OR a.amount <> t.amount OR a.tx_count <> t.tx_count)
FROM (SELECT context_id, coalesce(category_id, -1) AS category, transaction_date AS day, type,
             sum(amount) AS amount, count(*) AS tx_count
      FROM transactions WHERE status <> 'cancelled'
      GROUP BY 1, 2, 3, 4) t
FULL JOIN (SELECT context_id, coalesce(category_id, -1) AS category, day, type, amount, tx_count
           FROM aggregated_analytics) a
  ON a.context_id = t.context_id AND a.category = t.category AND a.day = t.day AND a.type = t.type";

async fn rollups(
    c: &tokio_postgres::Client,
    target: &Target,
    pid: &Probe,
) -> Result<Vec<RollupCheck>> {
    let mut out = Vec::new();
    for name in crate::schema::DERIVED_TABLES {
        let built = target.has_table(c, name).await?;
        if !built {
            out.push(RollupCheck {
                table: name.into(),
                built,
                rows: 0,
                mismatched: 0,
                ok: true,
            });
            continue;
        }
        let row = long(
            target,
            pid,
            &format!("recomputing {name}"),
            c.query_typed_one(ROLLUP_CHECK, &[]),
        )
        .await
        .map_err(|e| e.into_error(target, &format!("cannot check {name}")))?;
        let (rows, mismatched): (i64, i64) = (row.get(0), row.get(1));
        out.push(RollupCheck {
            table: name.into(),
            built,
            rows,
            mismatched,
            ok: mismatched == 0,
        });
    }
    Ok(out)
}

fn thread_pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::Failed(format!("cannot start threads: {e}")))
}

/// The digests of every table as the generator produces them.
pub fn expected(world: &World, threads: usize) -> Result<Vec<(&'static str, TableDigest)>> {
    let pool = thread_pool(threads)?;
    let mut out = Vec::new();
    for group in Group::ALL {
        let tables = group.tables_in(world.profile.layout);
        let mut sums: Vec<TableDigest> = tables
            .iter()
            .map(|t| TableDigest::new(t.columns.len()))
            .collect();
        let wanted = vec![true; tables.len()];
        ordered(
            &pool,
            0..group.chunks(world),
            threads + 2,
            |c| produce::<DigestEncoder>(world, group, c, &wanted, &Buffers::default()),
            |p| {
                for ((sum, t), (bytes, _)) in sums.iter_mut().zip(tables).zip(&p.tables) {
                    sum.add(&TableDigest::from_bytes(bytes, t.columns.len()));
                }
                Ok(())
            },
        )?;
        for (t, d) in tables.iter().zip(sums) {
            out.push((t.name, d));
        }
    }
    Ok(out)
}

/// `(constraint, table, columns, referenced table, referenced columns)` of each foreign key.
/// A table's digest computed in SQL (`got`) against the generator's (`want`); `names` are the
/// digested columns in order.
fn compare(
    table: String,
    names: impl Iterator<Item = String>,
    want: &TableDigest,
    got: &TableDigest,
) -> TableCheck {
    let differing: Vec<String> = names
        .zip(want.columns.iter().zip(&got.columns))
        .filter(|(_, (a, b))| a != b)
        .map(|(c, _)| c)
        .collect();
    TableCheck {
        table,
        expected_rows: want.rows,
        found_rows: Some(got.rows),
        ok: differing.is_empty() && got.rows == want.rows,
        differing_columns: differing,
    }
}

/// finseed's foreign keys with their column lists joined for SQL: (constraint, table, columns,
/// referenced table, referenced columns).
fn foreign_keys(p: &Profile) -> Vec<(String, String, String, String, String)> {
    let months: Vec<String> = crate::seed::partition::months(p)
        .into_iter()
        .map(|m| m.suffix)
        .collect();
    crate::map::finseed_fks_in(p.layout, &months)
        .into_iter()
        .map(|(con, t, cols, rt, rcols)| (con, t, cols.join(", "), rt, rcols.join(", ")))
        .collect()
}

/// A statement that may legitimately run for long (a digest or an orphan count of a large
/// table): not bounded as a whole, but watched like seed's post-load statements, from a second
/// connection every half the limit; two checks that find the server not working on it end it
/// as a stall.
async fn long<T>(
    target: &Target,
    probe: &Probe,
    what: &str,
    fut: impl std::future::Future<Output = std::result::Result<T, tokio_postgres::Error>>,
) -> std::result::Result<T, LoadError> {
    watch(
        target,
        target.stall(),
        probe,
        || format!("waiting for the server while {what}"),
        async { fut.await.map_err(LoadError::Pg) },
    )
    .await
}

/// Orphans of a foreign key that is not validated (-1 when the query fails); a stall fails
/// verify.
async fn orphans(
    c: &tokio_postgres::Client,
    target: &Target,
    pid: &Probe,
    con: &str,
    q: &str,
) -> Result<i64> {
    match long(
        target,
        pid,
        &format!("counting orphans of {con}"),
        c.query_typed_one(q, &[]),
    )
    .await
    {
        Ok(r) => Ok(r.get(0)),
        Err(LoadError::Pg(_)) => Ok(-1),
        Err(e) => Err(e.into_error(target, &format!("cannot check {con}"))),
    }
}

pub fn verify(mut profile: Profile, target: &Target, threads: usize) -> Result<VerifyReport> {
    let rt = crate::db::runtime()?;
    // The layout is the database's: it decides the columns (and keys) that are checked.
    let layout = rt.block_on(async {
        let c = target.connect().await?;
        crate::seed::partition::layout_of(&c, target).await
    })?;
    profile.layout = layout;
    let world = World::new(profile);
    let want = expected(&world, threads)?;
    rt.block_on(async {
        let c = target.connect().await?;
        let pid = Probe::for_connection(&c, target, "cannot start verify").await?;
        let mut tables = Vec::new();
        for (name, d) in &want {
            let spec = Group::ALL
                .iter()
                .flat_map(|g| g.tables_in(layout).iter())
                .find(|t| t.name == *name)
                .expect("known table");
            let exists = target.has_table(&c, name).await?;
            if !exists {
                tables.push(TableCheck {
                    table: name.to_string(),
                    expected_rows: d.rows,
                    found_rows: None,
                    differing_columns: vec!["(table missing)".into()],
                    ok: false,
                });
                continue;
            }
            let sql = digest::sql(spec);
            let row = long(target, &pid, &format!("digesting {name}"), c.query_typed_one(&sql, &[]))
                .await
                .map_err(|e| e.into_error(target, &format!("cannot digest {name}")))?;
            let values: Vec<String> = (0..row.len()).map(|i| row.get::<_, String>(i)).collect();
            let got = digest::parse(&values, spec.columns.len())
                .ok_or_else(|| Error::Failed(format!("unreadable digest of {name}")))?;
            tables.push(compare(
                name.to_string(),
                spec.columns.iter().map(|c| c.name.to_string()),
                d,
                &got,
            ));
        }
        let mut keys = Vec::new();
        for (con, table, cols, rt, rcols) in foreign_keys(&world.profile) {
            let validated: bool = target
                .ask(
                    "cannot inspect constraints",
                    c.query_typed_one(
                        "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = $1 AND convalidated)",
                        &[(&con, Type::TEXT)],
                    ),
                )
                .await?
                .get(0);
            if validated {
                keys.push(KeyCheck { constraint: con, how: "validated constraint".into(), orphans: 0 });
                continue;
            }
            let cs: Vec<&str> = cols.split(',').map(str::trim).collect();
            let rs: Vec<&str> = rcols.split(',').map(str::trim).collect();
            let not_null = cs.iter().map(|c| format!("t.{c} IS NOT NULL")).collect::<Vec<_>>().join(" AND ");
            let join = cs.iter().zip(&rs).map(|(a, b)| format!("r.{b} = t.{a}")).collect::<Vec<_>>().join(" AND ");
            let q = format!("SELECT count(*) FROM {table} t WHERE {not_null} AND NOT EXISTS (SELECT 1 FROM {rt} r WHERE {join})");
            let orphans = orphans(&c, target, &pid, &con, &q).await?;
            keys.push(KeyCheck { constraint: con, how: "orphan query".into(), orphans });
        }
        let rollups = rollups(&c, target, &pid).await?;
        let ok = tables.iter().all(|t| t.ok)
            && keys.iter().all(|k| k.orphans == 0)
            && rollups.iter().all(|r| r.ok);
        Ok(VerifyReport { tables, foreign_keys: keys, rollups, ok })
    })
}

/// `verify --map`: the same checks on the team's tables. Each mapped column's digest is
/// computed in SQL from the loaded rows and from the generator's values after the map's
/// conversion; the foreign keys checked are the target's own (validated, or counted orphans
/// when not valid).
pub fn verify_mapped(
    mut profile: Profile,
    target: &Target,
    threads: usize,
    map: &crate::map::MapFile,
) -> Result<VerifyReport> {
    use crate::encode::mapped::Mapped;
    let rt = crate::db::runtime()?;
    let c = rt.block_on(target.connect())?;
    let pid = rt.block_on(Probe::for_connection(&c, target, "cannot start verify"))?;
    let plans = rt.block_on(crate::map::compile(map, &c, target))?;
    profile.layout = crate::table::Layout::Plain;
    let world = World::new(profile);
    let pool = thread_pool(threads)?;
    let mut want = Vec::new();
    for group in Group::ALL {
        let tables = group.tables();
        let wanted: Vec<bool> = tables
            .iter()
            .map(|t| plans.plan(t.name).is_some())
            .collect();
        if !wanted.iter().any(|&w| w) {
            continue;
        }
        let width = |name: &str| plans.plan(name).map_or(0, |p| p.columns.len());
        let mut sums: Vec<TableDigest> = tables
            .iter()
            .map(|t| TableDigest::new(width(t.name)))
            .collect();
        ordered(
            &pool,
            0..group.chunks(&world),
            threads + 2,
            |ch| {
                crate::pipeline::produce_with(
                    &world,
                    group,
                    ch,
                    &wanted,
                    &Buffers::default(),
                    |t, _| Mapped::digest(plans.plan(t.name).expect("wanted").clone()),
                )
            },
            |p| {
                for ((sum, t), (bytes, _)) in sums.iter_mut().zip(tables).zip(&p.tables) {
                    sum.add(&TableDigest::from_bytes(bytes, width(t.name)));
                }
                Ok(())
            },
        )?;
        for (t, d) in tables.iter().zip(sums) {
            if let Some(p) = plans.plan(t.name) {
                want.push((p.clone(), d));
            }
        }
    }
    rt.block_on(async {
        let mut tables = Vec::new();
        let mut oids = Vec::new();
        for (p, d) in &want {
            let sql = crate::map::digest_query(p);
            let row = long(target, &pid, &format!("digesting {}", p.target), c.query_typed_one(&sql, &[]))
                .await
                .map_err(|e| e.into_error(target, &format!("cannot digest {}", p.target)))?;
            let values: Vec<String> = (0..row.len()).map(|i| row.get::<_, String>(i)).collect();
            let got = digest::parse(&values, p.columns.len())
                .ok_or_else(|| Error::Failed(format!("unreadable digest of {}", p.target)))?;
            tables.push(compare(
                p.target.clone(),
                p.columns.iter().map(|c| c.name.clone()),
                d,
                &got,
            ));
            oids.push(crate::map::ident(&p.target));
        }
        let fks = target.ask("cannot inspect constraints", c
            .query_typed(
                "SELECT conname::text, conrelid::regclass::text, convalidated,
                        array_to_string(array(SELECT quote_ident(attname) FROM pg_attribute a JOIN unnest(conkey) WITH ORDINALITY k(n, i) ON a.attnum = k.n AND a.attrelid = conrelid ORDER BY k.i), ','),
                        confrelid::regclass::text,
                        array_to_string(array(SELECT quote_ident(attname) FROM pg_attribute a JOIN unnest(confkey) WITH ORDINALITY k(n, i) ON a.attnum = k.n AND a.attrelid = confrelid ORDER BY k.i), ',')
                 FROM pg_constraint WHERE contype = 'f'
                   AND conrelid::regclass::text = ANY($1) ORDER BY 2, 1",
                &[(&oids, Type::TEXT_ARRAY)],
            ))
            .await?;
        let mut keys = Vec::new();
        for r in fks {
            let (con, table, valid, cols, rt, rcols): (String, String, bool, String, String, String) =
                (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5));
            if valid {
                keys.push(KeyCheck { constraint: format!("{table}.{con}"), how: "validated constraint".into(), orphans: 0 });
                continue;
            }
            let cs: Vec<&str> = cols.split(',').collect();
            let rs: Vec<&str> = rcols.split(',').collect();
            let not_null = cs.iter().map(|c| format!("t.{c} IS NOT NULL")).collect::<Vec<_>>().join(" AND ");
            let join = cs.iter().zip(&rs).map(|(a, b)| format!("r.{b} = t.{a}")).collect::<Vec<_>>().join(" AND ");
            let q = format!("SELECT count(*) FROM {table} t WHERE {not_null} AND NOT EXISTS (SELECT 1 FROM {rt} r WHERE {join})");
            let orphans = orphans(&c, target, &pid, &con, &q).await?;
            keys.push(KeyCheck { constraint: format!("{table}.{con}"), how: "orphan query".into(), orphans });
        }
        // With a map finseed builds no rollups: the team's schema is theirs.
        let ok = tables.iter().all(|t| t.ok) && keys.iter().all(|k| k.orphans == 0);
        let rollups = Vec::new();
        Ok(VerifyReport { tables, foreign_keys: keys, rollups, ok })
    })
}
