//! Benchmark query files: SQL with a small comment header (see schemas/queries/README.md).

use crate::error::{Error, Result};
use std::path::Path;

/// Queries shipped in the binary, so `finseed bench` works from any directory.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "large_list_offset_busy.sql",
        include_str!("../../schemas/queries/large_list_offset_busy.sql"),
    ),
    (
        "large_list_keyset_busy.sql",
        include_str!("../../schemas/queries/large_list_keyset_busy.sql"),
    ),
    (
        "large_list_typical.sql",
        include_str!("../../schemas/queries/large_list_typical.sql"),
    ),
    (
        "large_list_keyset_typical.sql",
        include_str!("../../schemas/queries/large_list_keyset_typical.sql"),
    ),
    (
        "spending_trends_daily.sql",
        include_str!("../../schemas/queries/spending_trends_daily.sql"),
    ),
    (
        "spending_trends_daily_rollup.sql",
        include_str!("../../schemas/queries/spending_trends_daily_rollup.sql"),
    ),
    (
        "category_breakdown.sql",
        include_str!("../../schemas/queries/category_breakdown.sql"),
    ),
    (
        "budget_tracking.sql",
        include_str!("../../schemas/queries/budget_tracking.sql"),
    ),
    (
        "complex_analytics_12m.sql",
        include_str!("../../schemas/queries/complex_analytics_12m.sql"),
    ),
    (
        "export_12m.sql",
        include_str!("../../schemas/queries/export_12m.sql"),
    ),
    (
        "month_over_month.sql",
        include_str!("../../schemas/queries/month_over_month.sql"),
    ),
    (
        "year_over_year.sql",
        include_str!("../../schemas/queries/year_over_year.sql"),
    ),
    (
        "dashboard_summary.sql",
        include_str!("../../schemas/queries/dashboard_summary.sql"),
    ),
    (
        "dashboard_summary_rollup.sql",
        include_str!("../../schemas/queries/dashboard_summary_rollup.sql"),
    ),
];

/// Kinds of parameters, resolved from the seeded data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    BusyContext,
    TypicalContext,
    User,
    AsOf,
    /// Three values: a busy context and the (date, id) keyset cursor after its row 4,000.
    BusyCursor,
    /// Three values: a typical context and the keyset cursor after its row 1,000 (or half way
    /// through it when it holds fewer).
    TypicalCursor,
}

impl Param {
    fn parse(s: &str) -> Option<Param> {
        Some(match s {
            "busy_context" => Param::BusyContext,
            "typical_context" => Param::TypicalContext,
            "user" => Param::User,
            "as_of" => Param::AsOf,
            "busy_cursor" => Param::BusyCursor,
            "typical_cursor" => Param::TypicalCursor,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct QuerySpec {
    pub name: String,
    pub file: String,
    pub scenario: String,
    pub description: String,
    pub params: Vec<Param>,
    pub threshold_ms: Option<f64>,
    /// `COPY (…) TO STDOUT (FORMAT csv, HEADER)`: measures an export's bytes per second.
    pub copy: bool,
    /// `-- requires: t1, t2`: tables that only some databases have (the rollups); without
    /// them the query is skipped, with the reason in the report.
    pub requires: Vec<String>,
    pub sql: String,
}

impl QuerySpec {
    pub fn parse(file: &str, text: &str) -> Result<QuerySpec> {
        let mut q = QuerySpec {
            name: file.trim_end_matches(".sql").to_string(),
            file: file.to_string(),
            scenario: String::new(),
            description: String::new(),
            params: Vec::new(),
            threshold_ms: None,
            copy: false,
            requires: Vec::new(),
            sql: String::new(),
        };
        let file_text = SqlFile::read(text);
        for h in &file_text.headers {
            let bad = |field: &str, fix: &str| h.invalid(file, field, fix);
            let value = h.value;
            match h.key {
                "name" => q.name = value.to_string(),
                "scenario" => q.scenario = value.to_string(),
                "description" => q.description = value.to_string(),
                "params" => {
                    for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        q.params.push(Param::parse(p).ok_or_else(|| {
                            bad(
                                "params",
                                "use busy_context, typical_context, user, as_of, busy_cursor or typical_cursor",
                            )
                        })?);
                    }
                }
                "threshold_p95_ms" => {
                    q.threshold_ms = Some(
                        value
                            .parse()
                            .map_err(|_| bad("threshold_p95_ms", "give milliseconds, e.g. 800"))?,
                    )
                }
                "requires" => {
                    q.requires = value
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                        .collect()
                }
                "mode" => match value {
                    "copy" => q.copy = true,
                    "query" => q.copy = false,
                    _ => return Err(bad("mode", "use query or copy")),
                },
                _ => {}
            }
        }
        q.sql = file_text.sql;
        if q.sql.is_empty() {
            return Err(Error::Usage(format!(
                "{file}: no SQL after the header\n  fix: add the query"
            )));
        }
        Ok(q)
    }

    /// A comment naming the query, kept by pg_stat_statements (which replaces constants, so
    /// the text alone could not be matched back to a file).
    pub fn tag(&self) -> String {
        format!("/* finseed:{} */", self.name)
    }

    pub fn tagged_sql(&self) -> String {
        format!("{} {}", self.tag(), self.sql)
    }

    /// Number of `$n` placeholders the parameters fill.
    pub fn arity(&self) -> usize {
        self.params
            .iter()
            .map(|p| match p {
                Param::BusyCursor | Param::TypicalCursor => 3,
                _ => 1,
            })
            .sum()
    }
}

/// One `-- key: value` header line of a query or action file.
pub struct Header<'a> {
    /// 1-based line number, for error messages.
    pub line: usize,
    pub key: &'a str,
    pub value: &'a str,
}

impl Header<'_> {
    /// The error for a header whose value is not valid.
    pub fn invalid(&self, file: &str, field: &str, fix: &str) -> Error {
        Error::Profile {
            file: file.to_string(),
            line: self.line,
            field: field.to_string(),
            message: format!("`{}` is not valid", self.value),
            fix: fix.to_string(),
        }
    }
}

/// A query or action file split into its `-- key: value` headers and its SQL: one reader for
/// both, so the two file kinds cannot drift apart in how they are read. Comment lines that are
/// not headers are dropped; the SQL is trimmed of surrounding space and a final `;`.
pub struct SqlFile<'a> {
    pub headers: Vec<Header<'a>>,
    pub sql: String,
}

impl<'a> SqlFile<'a> {
    pub fn read(text: &'a str) -> SqlFile<'a> {
        let mut headers = Vec::new();
        let mut body = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let Some(rest) = line.trim().strip_prefix("--") else {
                body.push(line);
                continue;
            };
            if let Some((key, value)) = rest.split_once(':') {
                headers.push(Header {
                    line: n + 1,
                    key: key.trim(),
                    value: value.trim(),
                });
            }
        }
        let sql = body
            .join("\n")
            .trim()
            .trim_end_matches(';')
            .trim()
            .to_string();
        SqlFile { headers, sql }
    }
}

/// Load `*.sql` from a directory, sorted by file name, or the built-in set.
pub fn load(dir: Option<&Path>) -> Result<Vec<QuerySpec>> {
    let mut out = Vec::new();
    match dir {
        None => {
            for (file, text) in BUILTIN {
                out.push(QuerySpec::parse(file, text)?);
            }
        }
        Some(d) => {
            let mut files: Vec<_> = std::fs::read_dir(d)
                .map_err(|e| Error::io(d, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "sql"))
                .collect();
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
                out.push(QuerySpec::parse(&f.display().to_string(), &text)?);
            }
            if out.is_empty() {
                return Err(Error::Usage(format!(
                    "--queries: {} holds no .sql files\n  fix: point it at a directory like schemas/queries",
                    d.display()
                )));
            }
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for q in &out {
        if !names.insert(q.name.clone()) {
            return Err(Error::Usage(format!(
                "query name `{}` appears twice\n  fix: give each file a unique -- name:",
                q.name
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_queries_parse_with_thresholds() {
        let qs = load(None).unwrap();
        assert_eq!(qs.len(), BUILTIN.len());
        for q in &qs {
            assert!(q.threshold_ms.is_some(), "{}", q.name);
            assert!(!q.scenario.is_empty(), "{}", q.name);
            for i in 1..=q.arity() {
                assert!(q.sql.contains(&format!("${i}")), "{} lacks ${i}", q.name);
            }
            assert!(
                !q.sql.contains(&format!("${}", q.arity() + 1)),
                "{}",
                q.name
            );
        }
        assert!(qs.iter().any(|q| q.copy));
    }

    #[test]
    fn every_file_in_schemas_queries_is_built_in_unchanged() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/queries");
        let on_disk = load(Some(&dir)).unwrap();
        assert_eq!(on_disk.len(), BUILTIN.len());
        for (file, text) in BUILTIN {
            let disk = std::fs::read_to_string(dir.join(file)).unwrap();
            assert_eq!(&disk, text, "{file}");
        }
    }
}
