//! The SQL in `schemas/`, built into the binary so `finseed schema` and `finseed seed` work
//! from any directory.

pub const TABLES: &str = include_str!("../schemas/tables.sql");
pub const POST_LOAD: &str = include_str!("../schemas/post_load.sql");
pub const ROLLUPS: &str = include_str!("../schemas/rollups.sql");

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

/// The statements of one `-- step: NAME` section of `post_load.sql`.
pub fn post_load_step(name: &str) -> Vec<String> {
    let marker = format!("-- step: {name}");
    let Some(start) = POST_LOAD.find(&marker) else {
        return Vec::new();
    };
    let body = &POST_LOAD[start + marker.len()..];
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
    fn ddl_matches_the_generators_columns() {
        for t in all_tables() {
            let head = format!("CREATE TABLE IF NOT EXISTS {} (", t.name);
            let start = TABLES
                .find(&head)
                .unwrap_or_else(|| panic!("no DDL for {}", t.name));
            let body = &TABLES[start + head.len()..];
            let body = &body[..body.find(");").unwrap()];
            let names: Vec<&str> = body
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .collect();
            let want: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
            assert_eq!(names, want, "{}", t.name);
            for (line, c) in body.lines().filter(|l| !l.trim().is_empty()).zip(t.columns) {
                assert_eq!(
                    line.contains("NOT NULL"),
                    !c.nullable,
                    "{}.{}",
                    t.name,
                    c.name
                );
            }
        }
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
