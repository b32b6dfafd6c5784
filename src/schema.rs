//! The SQL in `schemas/`, built into the binary so `finseed schema` and `finseed seed` work
//! from any directory.

pub const TABLES: &str = include_str!("../schemas/tables.sql");
pub const POST_LOAD: &str = include_str!("../schemas/post_load.sql");
pub const ROLLUPS: &str = include_str!("../schemas/rollups.sql");
/// The partitioned layout's tables and keys, which replace the plain ones of the same name.
pub const PARTITIONED: &str = include_str!("../schemas/partitioned.sql");
pub const PARTITIONED_POST_LOAD: &str = include_str!("../schemas/partitioned_post_load.sql");
pub const PARTITIONED_ROLLUPS: &str = include_str!("../schemas/partitioned_rollups.sql");

use crate::table::Layout;

/// What a DDL statement makes: the table of a CREATE TABLE, the constraint of an ADD
/// CONSTRAINT, the index of a CREATE INDEX.
fn made_by(stmt: &str) -> Option<&str> {
    let words: Vec<&str> = stmt.split_whitespace().collect();
    match words.as_slice() {
        ["CREATE", "TABLE", "IF", "NOT", "EXISTS", name, ..] => Some(name),
        ["CREATE", "TABLE", name, ..] | ["CREATE", "INDEX", name, ..] => Some(name),
        _ => words
            .iter()
            .position(|w| *w == "CONSTRAINT")
            .and_then(|i| words.get(i + 1).copied()),
    }
}

/// `base`'s statements, each replaced by the statements of `over` that make the same object, in
/// `over`'s order: each once, or once per month for a statement with `{month}` (made for each
/// of `months`). A key can so be replaced by its months' keys followed by the parent's.
fn overlay(base: Vec<String>, over: &[String], months: &[String]) -> Vec<String> {
    base.into_iter()
        .flat_map(|b| {
            let same = |o: &&String| {
                made_by(o).map(|m| m.replace("_{month}", "")) == made_by(&b).map(str::to_string)
            };
            let found: Vec<&String> = over.iter().filter(same).collect();
            if found.is_empty() {
                return vec![b];
            }
            found
                .into_iter()
                .flat_map(|o| {
                    if o.contains("{month}") {
                        months.iter().map(|m| o.replace("{month}", m)).collect()
                    } else {
                        vec![o.clone()]
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The CREATE TABLE statements of a layout, in tables.sql's order.
pub fn table_statements(layout: Layout) -> Vec<String> {
    let plain = statements(TABLES);
    match layout {
        Layout::Plain => plain,
        Layout::Partitioned => overlay(plain, &statements(PARTITIONED), &[]),
    }
}

/// The statements of one post-load step in a layout; `months` are the partitions' suffixes
/// (`p2024_01`, see `seed::partition::months`).
pub fn post_load_step_in(name: &str, layout: Layout, months: &[String]) -> Vec<String> {
    let plain = post_load_step(name);
    match layout {
        Layout::Plain => plain,
        Layout::Partitioned => overlay(plain, &section(PARTITIONED_POST_LOAD, name), months),
    }
}

/// Tables finseed derives from the loaded ones after the load (the `rollups` step), in
/// `rollups.sql`. Like the data tables they are finseed's own (recorded in `finseed_owned`),
/// but nothing is generated for them: verify compares them with the tables they come from.
pub const DERIVED_TABLES: [&str; 1] = ["aggregated_analytics"];

/// The statements that build one derived table: its `-- table: NAME` section of `rollups.sql`.
pub fn rollup_statements(name: &str) -> Vec<String> {
    let marker = format!("-- table: {name}");
    let Some(start) = ROLLUPS.find(&marker) else {
        return Vec::new();
    };
    let body = &ROLLUPS[start + marker.len()..];
    statements(body.split("-- table:").next().unwrap_or(""))
}

/// The partitioned layout's build of one derived table (`partitioned_rollups.sql`): the
/// parent, the statements of one month (with `{month}`, `{from}` and `{to}` to fill in), and
/// the parent's indexes once every month is attached.
pub struct MonthlyRollup {
    pub parent: Vec<String>,
    pub month: Vec<String>,
    pub index: Vec<String>,
}

pub fn partitioned_rollup(name: &str) -> Option<MonthlyRollup> {
    let part = |kind: &str| -> Option<Vec<String>> {
        let marker = format!("-- {kind}: {name}\n");
        let start = PARTITIONED_ROLLUPS.find(&marker)? + marker.len();
        let body = &PARTITIONED_ROLLUPS[start..];
        let end = ["-- table:", "-- month:", "-- index:"]
            .iter()
            .filter_map(|m| body.find(m))
            .min()
            .unwrap_or(body.len());
        Some(statements(&body[..end]))
    };
    Some(MonthlyRollup {
        parent: part("table")?,
        month: part("month")?,
        index: part("index")?,
    })
}

/// The statements of one `-- step: NAME` section of `post_load.sql`.
pub fn post_load_step(name: &str) -> Vec<String> {
    section(POST_LOAD, name)
}

fn section(sql: &str, name: &str) -> Vec<String> {
    let marker = format!("-- step: {name}\n");
    let Some(start) = sql.find(&marker) else {
        return Vec::new();
    };
    let body = &sql[start + marker.len()..];
    let body = body.split("-- step:").next().unwrap_or("");
    statements(body)
}

/// Split SQL text into statements on `;` at line ends, dropping comments.
pub fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in sql.lines() {
        let l = line.trim();
        if l.is_empty() || l.starts_with("--") {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if l.ends_with(';') {
            out.push(cur.trim().trim_end_matches(';').to_string());
            cur.clear();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gen::all_tables;

    #[test]
    fn partitioned_rollup_months_aggregate_as_the_plain_rollup() {
        let r = partitioned_rollup("aggregated_analytics").expect("in partitioned_rollups.sql");
        assert_eq!((r.parent.len(), r.month.len(), r.index.len()), (1, 5, 1));
        let plain = rollup_statements("aggregated_analytics");
        // The month's aggregation is the plain one's, on the month's partitions.
        let month = r.month[0]
            .replace("aggregated_analytics_{month}", "aggregated_analytics")
            .replace("transactions_{month}", "transactions");
        assert_eq!(month, plain[0]);
        assert!(r.month[3].contains("ATTACH PARTITION aggregated_analytics_{month}"));
        assert_eq!(
            r.index[0].replace(" ", ""),
            plain[2].replace(" ", ""),
            "the parent's index is the plain table's"
        );
    }

    #[test]
    fn ddl_matches_the_generators_columns() {
        for layout in [Layout::Plain, Layout::Partitioned] {
            let ddl = table_statements(layout);
            for t in crate::gen::Group::ALL
                .iter()
                .flat_map(|g| g.tables_in(layout).iter())
            {
                let head = format!("CREATE TABLE IF NOT EXISTS {} (", t.name);
                let stmt = ddl
                    .iter()
                    .find(|s| s.starts_with(&head))
                    .unwrap_or_else(|| panic!("no DDL for {}", t.name));
                let body = &stmt[head.len()..stmt.find("\n)").unwrap()];
                let names: Vec<&str> = body
                    .lines()
                    .filter_map(|l| l.split_whitespace().next())
                    .collect();
                let want: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
                assert_eq!(names, want, "{layout:?} {}", t.name);
                for (line, c) in body.lines().filter(|l| !l.trim().is_empty()).zip(t.columns) {
                    assert_eq!(
                        line.contains("NOT NULL"),
                        !c.nullable,
                        "{layout:?} {}.{}",
                        t.name,
                        c.name
                    );
                }
            }
            assert_eq!(ddl.len(), all_tables().count(), "{layout:?}");
        }
        let parted = table_statements(Layout::Partitioned);
        assert_eq!(
            parted
                .iter()
                .filter(|s| s.contains("PARTITION BY RANGE (transaction_date)"))
                .count(),
            2
        );
    }

    #[test]
    fn the_partitioned_keys_replace_the_plain_ones() {
        let months = ["p2024_01".to_string(), "p2024_02".to_string()];
        let over = statements(PARTITIONED_POST_LOAD);
        let per_month = over.iter().filter(|s| s.contains("{month}")).count();
        // Keys declared only month by month (the splits' key); the others' parents stay.
        let months_only = over
            .iter()
            .filter_map(|s| made_by(s).filter(|m| m.ends_with("_{month}")))
            .filter(|m| {
                let parent = m.trim_end_matches("_{month}");
                !over.iter().any(|o| made_by(o) == Some(parent))
            })
            .count();
        assert_eq!((per_month, months_only), (3, 1));
        for step in ["primary_keys", "foreign_keys", "indexes"] {
            let (plain, parted) = (
                post_load_step_in(step, Layout::Plain, &months),
                post_load_step_in(step, Layout::Partitioned, &months),
            );
            let monthly = parted.iter().filter(|s| s.contains("_p2024_0")).count();
            let (want_monthly, replaced) = if step == "foreign_keys" {
                (per_month * months.len(), months_only)
            } else {
                (0, 0)
            };
            assert_eq!(monthly, want_monthly, "{step}");
            assert_eq!(parted.len() - monthly, plain.len() - replaced, "{step}");
        }
        // A parent's key after its months' keys.
        let fks = post_load_step_in("foreign_keys", Layout::Partitioned, &months);
        let at = |name: &str| fks.iter().position(|s| made_by(s) == Some(name)).unwrap();
        assert!(at("transactions_member_fk_p2024_02") < at("transactions_member_fk"));
        let all: Vec<String> = ["primary_keys", "foreign_keys"]
            .iter()
            .flat_map(|s| post_load_step_in(s, Layout::Partitioned, &months))
            .collect();
        for o in statements(PARTITIONED_POST_LOAD) {
            let o = o.replace("{month}", "p2024_02");
            assert!(all.contains(&o), "{o} replaces nothing");
        }
        assert!(!all.iter().any(|s| s.contains("transaction_splits_tx_fk ")));
    }

    #[test]
    fn every_derived_table_has_its_statements() {
        for name in DERIVED_TABLES {
            let s = rollup_statements(name);
            assert!(
                s[0].starts_with(&format!("CREATE TABLE {name} AS")),
                "{name}"
            );
            assert!(s.iter().any(|x| x.starts_with("CREATE INDEX")), "{name}");
        }
    }

    #[test]
    fn post_load_steps_exist() {
        assert_eq!(post_load_step("primary_keys").len(), 10);
        assert!(post_load_step("foreign_keys").len() >= 15);
        assert!(post_load_step("indexes").len() >= 8);
    }
}
