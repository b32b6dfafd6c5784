//! Schema maps: seeding a schema finseed did not write.
//!
//! A map file (TOML) says, per finseed table, which table of the target receives its rows and
//! where each target column's value comes from. The map is a layer between the generators'
//! columns and the target's: generators write their columns as always, and the
//! [`crate::encode::mapped`] encoder turns each row into the target's column list with the
//! conversions [`compile`] chose from the two sides' types. Nothing here is a conditional
//! inside a generator.
//!
//! [`parse`] reads a file without a database; [`compile`] checks it against the target's
//! catalog (tables, columns, types, NOT NULL and DEFAULTs, enum labels, varchar lengths) and
//! refuses, before any row is written, what cannot load.

use crate::error::{Error, Result};
use crate::gen::all_tables;
use crate::table::{ColType, TableSpec};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

// ---------------------------------------------------------------------------------------------
// The file

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawTable {
    target: Option<Spanned<String>>,
    skip: Option<bool>,
    columns: Option<BTreeMap<Spanned<String>, Spanned<RawCol>>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawCol {
    from: Option<Spanned<FromSpec>>,
    uuid_of: Option<Spanned<String>>,
    value: Option<Spanned<toml::Value>>,
    default: Option<bool>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
enum FromSpec {
    One(String),
    Many(Vec<String>),
}

/// Where one target column's value comes from, as the file says.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A finseed column of the table (by name).
    Column(String),
    /// Several finseed columns into one jsonb object.
    Json(Vec<String>),
    /// A constant (its TOML value).
    Const(toml::Value),
    /// The column's DEFAULT: not sent.
    Default,
}

#[derive(Debug, Clone)]
pub struct MapColumn {
    pub name: String,
    pub source: Source,
    /// For a UUID made of an id: the finseed table the id belongs to.
    pub uuid_of: Option<String>,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct MapTable {
    /// The finseed table.
    pub table: &'static str,
    /// The target table (unquoted name).
    pub target: String,
    pub columns: Vec<MapColumn>,
    pub line: usize,
}

/// A parsed map file: mapped and skipped finseed tables.
#[derive(Debug, Clone)]
pub struct MapFile {
    pub path: PathBuf,
    pub tables: Vec<MapTable>,
    pub skipped: Vec<&'static str>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl MapFile {
    /// What the map decides, without its path, comments or layout: two maps with the same
    /// canonical text write the same values into the same target columns.
    pub fn canonical(&self) -> String {
        let mut s = String::new();
        for t in &self.tables {
            s.push_str(&format!("{}->{}:", t.table, t.target));
            for c in &t.columns {
                s.push_str(&format!("{}={:?}/{:?};", c.name, c.source, c.uuid_of));
            }
            s.push('|');
        }
        s.push_str(&format!("skip={:?}", self.skipped));
        s
    }

    /// Whether finseed loads `table` through this map.
    pub fn maps(&self, table: &str) -> bool {
        self.tables.iter().any(|t| t.table == table)
    }
    pub fn table(&self, table: &str) -> Option<&MapTable> {
        self.tables.iter().find(|t| t.table == table)
    }
    fn err(&self, line: usize, field: &str, message: String, fix: String) -> Error {
        Error::Profile {
            file: self.path.display().to_string(),
            line,
            field: field.to_string(),
            message,
            fix,
        }
    }
}

/// Read and check a map file's shape (no database needed).
pub fn load(path: &Path) -> Result<MapFile> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::input("--map", Error::io(path, e)))?;
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<MapFile> {
    let file = path.display().to_string();
    let err = |span: Range<usize>, field: &str, message: String, fix: &str| Error::Profile {
        file: file.clone(),
        line: line_of(text, span.start),
        field: field.to_string(),
        message,
        fix: fix.to_string(),
    };
    let raw: BTreeMap<Spanned<String>, Spanned<RawTable>> = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        err(
            span,
            "(map)",
            e.message().to_string(),
            "each section is a finseed table: target = \"their_table\", then [TABLE.columns] with col = { from = \"finseed_col\" } / { value = ... } / { default = true }; see README \"Seeding your own schema\"",
        )
    })?;
    let mut out = MapFile {
        path: path.to_path_buf(),
        tables: Vec::new(),
        skipped: Vec::new(),
    };
    let names: Vec<&str> = all_tables().map(|t| t.name).collect();
    for (key, t) in &raw {
        let Some(spec) = all_tables().find(|s| s.name == key.get_ref()) else {
            return Err(err(
                key.span(),
                key.get_ref(),
                format!("`{}` is not a finseed table", key.get_ref()),
                &format!("name a finseed table: {}", names.join(", ")),
            ));
        };
        let t = t.get_ref();
        if t.skip == Some(true) {
            if t.target.is_some() || t.columns.is_some() {
                return Err(err(
                    key.span(),
                    spec.name,
                    "skip = true with a target or columns".into(),
                    "either skip the table or map it, not both",
                ));
            }
            out.skipped.push(spec.name);
            continue;
        }
        let Some(target) = &t.target else {
            return Err(err(
                key.span(),
                &format!("{}.target", spec.name),
                "missing: the target table".into(),
                &format!("add `target = \"their_table\"` under [{}], or `skip = true` if the schema has no such table", spec.name),
            ));
        };
        let mut columns = Vec::new();
        for (cname, c) in t.columns.iter().flatten() {
            let line = line_of(text, cname.span().start);
            let field = format!("{}.columns.{}", spec.name, cname.get_ref());
            let raw = c.get_ref();
            let given = [
                raw.from.is_some(),
                raw.value.is_some(),
                raw.default.is_some(),
            ]
            .iter()
            .filter(|&&b| b)
            .count();
            if given > 1 {
                return Err(err(
                    c.span(),
                    &field,
                    "more than one of from, value and default".into(),
                    "give one source: from = \"col\", value = ..., or default = true",
                ));
            }
            let source = if let Some(f) = &raw.from {
                match f.get_ref() {
                    FromSpec::One(s) => Source::Column(s.clone()),
                    FromSpec::Many(v) if v.is_empty() => {
                        return Err(err(
                            f.span(),
                            &field,
                            "an empty field list".into(),
                            "list the finseed columns to put into the jsonb object",
                        ))
                    }
                    FromSpec::Many(v) => Source::Json(v.clone()),
                }
            } else if let Some(v) = &raw.value {
                Source::Const(v.get_ref().clone())
            } else if raw.default == Some(false) {
                return Err(err(
                    c.span(),
                    &field,
                    "default = false".into(),
                    "write default = true, or give from/value",
                ));
            } else if raw.default == Some(true) {
                Source::Default
            } else {
                Source::Column(cname.get_ref().clone())
            };
            let cols: Vec<&str> = match &source {
                Source::Column(s) => vec![s.as_str()],
                Source::Json(v) => v.iter().map(String::as_str).collect(),
                _ => vec![],
            };
            for s in cols {
                if !spec.columns.iter().any(|k| k.name == s) {
                    return Err(err(
                        c.span(),
                        &field,
                        format!("finseed's {} has no column `{s}`", spec.name),
                        &format!(
                            "use one of {} (or value = ..., default = true)",
                            spec.columns
                                .iter()
                                .map(|k| k.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
            if let Some(u) = &raw.uuid_of {
                if !names.contains(&u.get_ref().as_str()) {
                    return Err(err(
                        u.span(),
                        &field,
                        format!("uuid_of: `{}` is not a finseed table", u.get_ref()),
                        &format!("name one of {}", names.join(", ")),
                    ));
                }
            }
            columns.push(MapColumn {
                name: cname.get_ref().clone(),
                source,
                uuid_of: raw.uuid_of.as_ref().map(|u| u.get_ref().clone()),
                line,
            });
        }
        out.tables.push(MapTable {
            table: spec.name,
            target: target.get_ref().clone(),
            columns,
            line: line_of(text, key.span().start),
        });
    }
    // Every finseed table is either mapped or skipped, so nothing is left out silently.
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !out.maps(n) && !out.skipped.contains(n))
        .collect();
    if !missing.is_empty() {
        return Err(err(
            0..0,
            &missing.join(", "),
            "these finseed tables are neither mapped nor skipped".into(),
            &format!(
                "add a section per table: [{}] target = \"...\", or skip = true",
                missing[0]
            ),
        ));
    }
    // A mapped table whose foreign keys point at a skipped table would load orphans.
    for t in &out.tables {
        for (_, table, _, rt, _) in finseed_fks() {
            if table == t.table && out.skipped.iter().any(|s| *s == rt) {
                return Err(out.err(
                    t.line,
                    t.table,
                    format!(
                        "{} is mapped but {rt}, which it references, is skipped",
                        t.table
                    ),
                    format!(
                        "map {rt} too, or skip its dependants ({})",
                        dependants(&rt).join(", ")
                    ),
                ));
            }
        }
    }
    // Tables in foreign-key order, as the generator groups them.
    out.tables
        .sort_by_key(|t| all_tables().position(|s| s.name == t.table));
    Ok(out)
}

/// `(constraint, table, columns, referenced table, referenced columns)` of one foreign key.
pub type ForeignKey = (String, String, Vec<String>, String, Vec<String>);

/// finseed's own foreign keys (schemas/post_load.sql).
pub fn finseed_fks() -> Vec<ForeignKey> {
    finseed_fks_in(crate::table::Layout::Plain, &[])
}

/// finseed's foreign keys in a layout (the partitioned one's reference `transactions` by
/// `(id, transaction_date)`).
pub fn finseed_fks_in(layout: crate::table::Layout, months: &[String]) -> Vec<ForeignKey> {
    crate::schema::post_load_step_in("foreign_keys", layout, months)
        .iter()
        .filter_map(|s| {
            let w: Vec<&str> = s.split_whitespace().collect();
            let table = w.get(2)?.to_string();
            let con = w.get(5)?.to_string();
            let list = |x: &str| {
                x.split(',')
                    .map(|c| c.trim().to_string())
                    .collect::<Vec<_>>()
            };
            let cols = list(s.split("FOREIGN KEY (").nth(1)?.split(')').next()?);
            let rest = s.split("REFERENCES ").nth(1)?;
            let rt = rest.split_whitespace().next()?.to_string();
            let rcols = list(rest.split('(').nth(1)?.split(')').next()?);
            Some((con, table, cols, rt, rcols))
        })
        .collect()
}

/// finseed tables whose foreign keys point at `table`.
pub fn dependants(table: &str) -> Vec<String> {
    let mut v: Vec<String> = finseed_fks()
        .into_iter()
        .filter(|f| f.3 == table && f.1 != table)
        .map(|f| f.1)
        .collect();
    v.dedup();
    v
}

/// The finseed table an id column holds ids of: the table's own `id`, or the table its
/// single-column foreign key references.
pub fn id_table(table: &str, column: &str) -> Option<String> {
    if column == "id" {
        return Some(table.to_string());
    }
    let fks = finseed_fks();
    if let Some(f) = fks
        .iter()
        .find(|f| f.1 == table && f.2.len() == 1 && f.2[0] == column)
    {
        return Some(f.3.clone());
    }
    // A column of a composite key names what the referenced column names: transactions.user_id
    // reaches users through (context_id, user_id) → context_members (which is why transactions
    // needs no key of its own to users or contexts).
    fks.iter()
        .filter(|f| f.1 == table && f.2.len() > 1 && f.3 != table)
        .find_map(|f| {
            let k = f.2.iter().position(|c| c == column)?;
            id_table(&f.3, &f.4[k])
        })
}

// ---------------------------------------------------------------------------------------------
// What the generators can produce

/// Longest value (in characters) each text column can take. Closed vocabularies are exact;
/// names, e-mails, descriptions and the like are upper bounds from the vocabularies in
/// src/vocab.rs and the generators (a unit test checks a generated profile stays within them).
pub fn max_chars(table: &str, column: &str) -> Option<usize> {
    let n = match (table, column) {
        ("users", "full_name") => 80,
        ("users", "email") => 100,
        ("users", "cpf") => 14,
        ("users", "phone") => 20,
        ("users", "city") => 40,
        ("users", "state") => 2,
        ("users", "timezone") => 40,
        ("users", "plan_tier") => 8,
        ("users", "password_hash") => 60,
        ("users", "locale") => 5,
        ("contexts", "type") => 8,
        ("contexts", "subtype") => 9,
        ("contexts", "name") => 60,
        ("contexts" | "transactions", "currency") => 3,
        ("context_members", "role") => 6,
        ("categories", "name") => 40,
        ("categories", "kind") => 8,
        ("categories", "icon") => 20,
        ("categories", "color") => 7,
        ("transactions", "description") => 100,
        ("transactions", "merchant_name") => 60,
        ("transactions", "type") => 8,
        ("transactions", "status") => 9,
        ("transactions", "input_method") => 12,
        ("transactions", "categorization_source") => 4,
        ("transaction_splits", "status") => 8,
        ("ai_insights", "type") => 19,
        ("ai_insights", "title") => 120,
        ("ai_insights", "body") => 400,
        ("ai_insights", "model_version") => 20,
        _ => return None,
    };
    Some(n)
}

/// Every value a text column with a closed vocabulary takes (what an enum must have).
pub fn labels(table: &str, column: &str) -> Option<&'static [&'static str]> {
    Some(match (table, column) {
        ("users", "plan_tier") => &["free", "premium", "family", "business"],
        ("users", "locale") => &["pt-BR"],
        ("contexts", "type") => &["personal", "family", "shared", "business"],
        ("contexts", "subtype") => &["household", "trip", "group"],
        ("contexts" | "transactions", "currency") => &["BRL", "USD", "EUR"],
        ("context_members", "role") => &["owner", "admin", "member", "viewer"],
        ("categories" | "transactions", "kind" | "type") => &["expense", "income", "transfer"],
        ("transactions", "status") => &["posted", "pending", "cancelled"],
        ("transactions", "input_method") => {
            &["manual", "receipt_ocr", "open_finance", "csv_import", "api"]
        }
        ("transactions", "categorization_source") => &["ai", "rule", "user", "none"],
        ("transaction_splits", "status") => &["pending", "approved", "rejected"],
        ("ai_insights", "type") => &[
            "budget_warning",
            "monthly_summary",
            "recurring_detected",
            "savings_opportunity",
            "spending_spike",
            "unusual_transaction",
        ],
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// The target's catalog

/// A target column's type, as far as binary COPY and the conversions need it.
#[derive(Debug, Clone, PartialEq)]
pub enum PgType {
    Int2,
    Int4,
    Int8,
    /// numeric, with its scale when the type has a typmod.
    Numeric(Option<u32>),
    Uuid,
    Text,
    /// varchar or char, with the length limit when there is one.
    Chars(Option<usize>),
    Enum(Vec<String>),
    Bool,
    Date,
    Timestamp,
    Timestamptz,
    Jsonb,
    Other,
}

#[derive(Debug, Clone)]
pub struct TargetColumn {
    pub name: String,
    /// As `format_type` shows it.
    pub shown: String,
    pub ty: PgType,
    pub not_null: bool,
    /// Has a DEFAULT, is an identity or a generated column: need not be sent.
    pub has_default: bool,
    pub generated: bool,
    pub primary_key: bool,
}

#[derive(Debug, Clone)]
pub struct TargetTable {
    pub name: String,
    pub oid: u32,
    pub columns: Vec<TargetColumn>,
}

/// Quote an identifier when SQL needs it.
pub fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Read one table's columns (in the search_path), or None when there is no such table.
pub async fn introspect<C: tokio_postgres::GenericClient>(
    c: &C,
    table: &str,
) -> std::result::Result<Option<TargetTable>, tokio_postgres::Error> {
    use tokio_postgres::types::Type;
    let oid: Option<u32> = c
        .query_typed_opt(
            "SELECT c.oid FROM pg_class c WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')",
            &[(&ident(table), Type::TEXT)],
        )
        .await?
        .map(|r| r.get(0));
    let Some(oid) = oid else {
        return Ok(None);
    };
    let rows = c
        .query_typed(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typname::text,
                    t.typtype::text, a.attnotnull, a.atthasdef OR a.attidentity <> '',
                    a.attgenerated <> '', a.atttypmod,
                    coalesce(array(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid
                                   ORDER BY e.enumsortorder), '{}'),
                    EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary
                            AND a.attnum = ANY(i.indkey))
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum",
            &[(&oid, Type::OID)],
        )
        .await?;
    let columns = rows
        .iter()
        .map(|r| {
            let typname: String = r.get(2);
            let typtype: String = r.get(3);
            let typmod: i32 = r.get(7);
            let len = (typmod >= 4).then(|| (typmod - 4) as usize);
            let ty = match (typname.as_str(), typtype.as_str()) {
                (_, "e") => PgType::Enum(r.get(8)),
                ("int2", _) => PgType::Int2,
                ("int4", _) => PgType::Int4,
                ("int8", _) => PgType::Int8,
                ("numeric", _) => PgType::Numeric(len.map(|l| (l & 0xffff) as u32)),
                ("uuid", _) => PgType::Uuid,
                ("text", _) => PgType::Text,
                ("varchar" | "bpchar", _) => PgType::Chars(len),
                ("bool", _) => PgType::Bool,
                ("date", _) => PgType::Date,
                ("timestamp", _) => PgType::Timestamp,
                ("timestamptz", _) => PgType::Timestamptz,
                ("jsonb", _) => PgType::Jsonb,
                _ => PgType::Other,
            };
            TargetColumn {
                name: r.get(0),
                shown: r.get(1),
                ty,
                not_null: r.get(4),
                has_default: r.get::<_, bool>(5) || r.get::<_, bool>(6),
                generated: r.get(6),
                primary_key: r.get(9),
            }
        })
        .collect();
    Ok(Some(TargetTable {
        name: table.to_string(),
        oid,
        columns,
    }))
}

// ---------------------------------------------------------------------------------------------
// Compiled: what the encoder does per target column

/// How one target column's value is made from the row's finseed values.
#[derive(Debug, Clone, PartialEq)]
pub enum Conv {
    /// An integer as int2/int4/int8 (`width` bytes).
    Int {
        src: usize,
        width: u8,
    },
    /// A decimal (or integer, scale 0) as numeric at `scale`.
    Numeric {
        src: usize,
        scale: u32,
    },
    /// A decimal as integer units of its own scale (money as cents), `width` bytes.
    Units {
        src: usize,
        width: u8,
    },
    /// An id as the deterministic UUID of (`table`, id).
    Uuid {
        src: usize,
        table: &'static str,
    },
    /// Text as text, varchar, char or an enum label.
    Text {
        src: usize,
    },
    Bool {
        src: usize,
    },
    Date {
        src: usize,
    },
    /// A date as timestamp/timestamptz at midnight UTC.
    DateTime {
        src: usize,
    },
    /// A timestamptz as timestamptz, or as timestamp (its UTC wall clock).
    Timestamp {
        src: usize,
    },
    /// Several fields into one jsonb object: (key, source) sorted as jsonb sorts keys.
    Json {
        fields: Vec<(String, usize)>,
    },
    /// A constant: its binary COPY field (length included) and its digest value.
    Const {
        field: Vec<u8>,
        digest: i128,
    },
}

/// One column the COPY sends.
#[derive(Debug, Clone)]
pub struct SentColumn {
    pub name: String,
    pub conv: Conv,
    /// SQL giving the column's digest value as numeric (see encode::digest).
    pub digest_sql: String,
}

/// A finseed table's load plan into its target.
#[derive(Clone)]
pub struct TablePlan {
    pub table: &'static TableSpec,
    pub target: String,
    pub columns: Vec<SentColumn>,
}

impl TablePlan {
    pub fn copy_sql(&self) -> String {
        let cols: Vec<String> = self.columns.iter().map(|c| ident(&c.name)).collect();
        format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            ident(&self.target),
            cols.join(", ")
        )
    }

    /// finseed's own table, column for column (what `seed` without a map loads).
    pub fn identity(table: &'static TableSpec) -> TablePlan {
        let columns = table
            .columns
            .iter()
            .enumerate()
            .map(|(src, c)| {
                let conv = match c.ty {
                    ColType::BigInt => Conv::Int { src, width: 8 },
                    ColType::Int => Conv::Int { src, width: 4 },
                    ColType::Numeric(_, s) => Conv::Numeric {
                        src,
                        scale: s as u32,
                    },
                    ColType::Text | ColType::Char(_) => Conv::Text { src },
                    ColType::Bool => Conv::Bool { src },
                    ColType::Date => Conv::Date { src },
                    ColType::Timestamptz => Conv::Timestamp { src },
                };
                SentColumn {
                    name: c.name.to_string(),
                    conv,
                    digest_sql: String::new(),
                }
            })
            .collect();
        TablePlan {
            table,
            target: table.name.to_string(),
            columns,
        }
    }
}

/// A map checked against the target: the plans of the mapped tables, in load order.
#[derive(Clone)]
pub struct Compiled {
    pub plans: Vec<std::sync::Arc<TablePlan>>,
}

impl Compiled {
    pub fn plan(&self, table: &str) -> Option<&std::sync::Arc<TablePlan>> {
        self.plans.iter().find(|p| p.table.name == table)
    }
}

fn digest_sql(ty: &PgType, col: &str) -> String {
    let c = ident(col);
    match ty {
        PgType::Int2 | PgType::Int4 | PgType::Int8 => format!("{c}::numeric"),
        PgType::Numeric(s) => {
            format!(
                "({c} * 1{})::bigint::numeric",
                "0".repeat(s.unwrap_or(0) as usize)
            )
        }
        PgType::Uuid => {
            format!("('x' || substr(replace({c}::text, '-', ''), 1, 16))::bit(64)::bigint::numeric")
        }
        PgType::Date => format!("({c} - date '1970-01-01')::numeric"),
        PgType::Timestamp | PgType::Timestamptz => {
            format!("extract(epoch from {c})::bigint::numeric")
        }
        PgType::Bool => format!("{c}::int::numeric"),
        _ => format!("('x' || substr(md5({c}::text), 1, 16))::bit(64)::bigint::numeric"),
    }
}

/// The SQL computing a mapped table's digest (same layout as encode::digest::sql).
pub fn digest_query(p: &TablePlan) -> String {
    let mut parts = vec!["count(*)::text".to_string()];
    for c in &p.columns {
        parts.push(format!("count({})::text", ident(&c.name)));
        parts.push(format!("coalesce(sum({}), 0)::text", c.digest_sql));
    }
    format!("SELECT {} FROM {}", parts.join(", "), ident(&p.target))
}

fn const_field(v: &toml::Value, ty: &PgType) -> std::result::Result<(Vec<u8>, i128), String> {
    let mut out = Vec::new();
    let with_len = |b: &[u8], out: &mut Vec<u8>| {
        out.extend_from_slice(&(b.len() as i32).to_be_bytes());
        out.extend_from_slice(b);
    };
    let digest = match (v, ty) {
        (toml::Value::String(s), PgType::Text | PgType::Chars(_) | PgType::Enum(_)) => {
            if let PgType::Chars(Some(n)) = ty {
                if s.chars().count() > *n {
                    return Err(format!("`{s}` is longer than the column's {n} characters"));
                }
            }
            if let PgType::Enum(l) = ty {
                if !l.contains(s) {
                    return Err(format!(
                        "`{s}` is not a label of the enum ({})",
                        l.join(", ")
                    ));
                }
            }
            with_len(s.as_bytes(), &mut out);
            crate::encode::digest::text_value(s) as i128
        }
        (toml::Value::Integer(i), PgType::Int2 | PgType::Int4 | PgType::Int8) => {
            match ty {
                PgType::Int2 => with_len(
                    &(i16::try_from(*i).map_err(|_| "out of smallint range")?).to_be_bytes(),
                    &mut out,
                ),
                PgType::Int4 => with_len(
                    &(i32::try_from(*i).map_err(|_| "out of integer range")?).to_be_bytes(),
                    &mut out,
                ),
                _ => with_len(&i.to_be_bytes(), &mut out),
            }
            *i as i128
        }
        (toml::Value::Integer(i), PgType::Numeric(s)) => {
            let s = s.unwrap_or(0).min(4);
            let units = i.checked_mul(10i64.pow(s)).ok_or("too large")?;
            crate::encode::binary::write_numeric(&mut out, units, s);
            units as i128
        }
        (toml::Value::Boolean(b), PgType::Bool) => {
            with_len(&[*b as u8], &mut out);
            *b as i128
        }
        (toml::Value::String(s), PgType::Uuid) => {
            let hex: String = s.chars().filter(|c| *c != '-').collect();
            if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!("`{s}` is not a UUID"));
            }
            let b: Vec<u8> = (0..16)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
                .collect();
            with_len(&b, &mut out);
            i64::from_be_bytes(b[..8].try_into().expect("8 bytes")) as i128
        }
        _ => {
            return Err(format!(
                "a {} constant cannot go into this column",
                v.type_str()
            ))
        }
    };
    Ok((out, digest))
}

/// Check the map against the target's catalog and decide each column's conversion. Refuses,
/// naming file:line or table.column with a fix, whatever would fail or load wrong values.
pub async fn compile<C: tokio_postgres::GenericClient>(
    map: &MapFile,
    c: &C,
    db: &crate::db::Target,
) -> Result<Compiled> {
    let mut plans = Vec::new();
    for t in &map.tables {
        // Bounded like every control round trip: a silent server fails within the limit.
        let target = db
            .ask("cannot read the catalog", introspect(c, &t.target))
            .await?;
        if t.target.starts_with("finseed_") {
            return Err(map.err(
                t.line,
                &format!("{}.target", t.table),
                format!("`{}` is a name finseed keeps for its own state", t.target),
                "map to the team's table".into(),
            ));
        }
        let Some(target) = target else {
            return Err(map.err(
                t.line,
                &format!("{}.target", t.table),
                format!("{} has no table `{}` in its search_path", db.shown, t.target),
                format!("create it first (your migrations), correct the name, or write skip = true under [{}] (then also skip {})", t.table, {
                    let d = dependants(t.table);
                    if d.is_empty() { "nothing else".to_string() } else { d.join(", ") }
                }),
            ));
        };
        plans.push(std::sync::Arc::new(compile_table(map, t, &target)?));
    }
    Ok(Compiled { plans })
}

pub fn compile_table(map: &MapFile, t: &MapTable, target: &TargetTable) -> Result<TablePlan> {
    let spec = all_tables()
        .find(|s| s.name == t.table)
        .expect("parsed table");
    let src_of = |name: &str| {
        spec.columns
            .iter()
            .position(|k| k.name == name)
            .expect("checked at parse")
    };
    let mut columns = Vec::new();
    for mc in &t.columns {
        let field = format!("{}.{}", t.target, mc.name);
        let bad = |message: String, fix: String| map.err(mc.line, &field, message, fix);
        let Some(tc) = target.columns.iter().find(|k| k.name == mc.name) else {
            return Err(bad(
                format!("{} has no column `{}`", t.target, mc.name),
                format!(
                    "remove the line, or use one of {}",
                    target
                        .columns
                        .iter()
                        .map(|k| k.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if tc.generated && mc.source != Source::Default {
            return Err(bad(
                "a generated column cannot be written".into(),
                "write default = true (or remove the line)".into(),
            ));
        }
        let conv = match &mc.source {
            Source::Default => {
                if !tc.has_default && tc.not_null {
                    return Err(bad(
                        format!("`{}` ({}) is NOT NULL and has no DEFAULT", mc.name, tc.shown),
                        format!("give it a value: {} = {{ value = ... }} or {{ from = \"finseed_column\" }}", mc.name),
                    ));
                }
                continue;
            }
            Source::Const(v) => {
                let (field, digest) = const_field(v, &tc.ty).map_err(|m| {
                    bad(
                        format!("value: {m}"),
                        format!("give a constant of the column's type {}", tc.shown),
                    )
                })?;
                Conv::Const { field, digest }
            }
            Source::Json(fields) => {
                if tc.ty != PgType::Jsonb {
                    return Err(bad(
                        format!(
                            "a list of fields makes a jsonb object, but the column is {}",
                            tc.shown
                        ),
                        "name one finseed column in from = \"...\"".into(),
                    ));
                }
                let mut f: Vec<(String, usize)> =
                    fields.iter().map(|n| (n.clone(), src_of(n))).collect();
                // jsonb keeps its keys sorted by length, then bytes, and without duplicates.
                f.sort_by(|a, b| (a.0.len(), a.0.as_bytes()).cmp(&(b.0.len(), b.0.as_bytes())));
                f.dedup_by(|a, b| a.0 == b.0);
                Conv::Json { fields: f }
            }
            Source::Column(name) => {
                let src = src_of(name);
                let sc = &spec.columns[src];
                if sc.nullable && tc.not_null {
                    return Err(bad(
                        format!(
                            "finseed's {}.{name} can be NULL but `{}` is NOT NULL",
                            spec.name, mc.name
                        ),
                        format!(
                            "map a NOT NULL finseed column, a value = ..., or make {} nullable",
                            field
                        ),
                    ));
                }
                let cannot = || {
                    bad(
                        format!("finseed's {}.{name} ({:?}) cannot be converted to {}", spec.name, sc.ty, tc.shown),
                        "map a column of a compatible type (see README \"Seeding your own schema\" for the conversions), or use value = ... / default = true".into(),
                    )
                };
                match (&sc.ty, &tc.ty) {
                    (ColType::BigInt | ColType::Int, PgType::Int8) => Conv::Int { src, width: 8 },
                    (ColType::BigInt | ColType::Int, PgType::Int4) => Conv::Int { src, width: 4 },
                    (ColType::Int, PgType::Int2) => Conv::Int { src, width: 2 },
                    (ColType::BigInt | ColType::Int, PgType::Numeric(s)) => {
                        if s.unwrap_or(0) != 0 {
                            return Err(cannot());
                        }
                        Conv::Numeric { src, scale: 0 }
                    }
                    (ColType::BigInt, PgType::Uuid) => {
                        let table = mc
                            .uuid_of
                            .clone()
                            .or_else(|| id_table(spec.name, name))
                            .ok_or_else(|| {
                                bad(
                                    format!(
                                        "finseed cannot tell which table's ids {}.{name} holds",
                                        spec.name
                                    ),
                                    format!("add uuid_of = \"table\" to the {} line", mc.name),
                                )
                            })?;
                        let table = all_tables()
                            .find(|s| s.name == table)
                            .expect("checked")
                            .name;
                        Conv::Uuid { src, table }
                    }
                    (ColType::Numeric(_, s), PgType::Numeric(ts)) => {
                        let ts = ts.unwrap_or(*s as u32);
                        if ts < *s as u32 || ts > 4 {
                            return Err(bad(format!("{} has scale {ts}, finseed's {}.{name} has {s}: values would be rounded", tc.shown, spec.name), format!("use numeric(p,{s}) or more (up to 4)")));
                        }
                        Conv::Numeric { src, scale: ts }
                    }
                    (ColType::Numeric(..), PgType::Int8) => Conv::Units { src, width: 8 },
                    (ColType::Numeric(p, _), PgType::Int4) if *p <= 9 => {
                        Conv::Units { src, width: 4 }
                    }
                    (ColType::Text | ColType::Char(_), PgType::Text) => Conv::Text { src },
                    (ColType::Text | ColType::Char(_), PgType::Chars(n)) => {
                        if let Some(n) = n {
                            let max = match sc.ty {
                                ColType::Char(k) => Some(k as usize),
                                _ => max_chars(spec.name, name),
                            };
                            match max {
                                Some(m) if m <= *n => {}
                                Some(m) => return Err(bad(format!("{} is too short: finseed's {}.{name} has values of up to {m} characters", tc.shown, spec.name), format!("ALTER TABLE {} ALTER COLUMN {} TYPE varchar({m}) (or text), or map another column", ident(&t.target), ident(&mc.name)))),
                                None => return Err(bad(format!("finseed's {}.{name} has no known maximum length", spec.name), "use text, or map another column".into())),
                            }
                        }
                        Conv::Text { src }
                    }
                    (ColType::Text | ColType::Char(_), PgType::Enum(have)) => {
                        let Some(need) = labels(spec.name, name) else {
                            return Err(bad(format!("finseed's {}.{name} is free text, not a closed set of labels, so it cannot go into an enum", spec.name), "map it to a text or varchar column".into()));
                        };
                        let missing: Vec<&str> = need
                            .iter()
                            .copied()
                            .filter(|l| !have.iter().any(|h| h == l))
                            .collect();
                        if !missing.is_empty() {
                            let ty = tc.shown.clone();
                            return Err(bad(
                                format!("enum {ty} lacks the label(s) {} that finseed's {}.{name} produces", missing.join(", "), spec.name),
                                missing.iter().map(|l| format!("ALTER TYPE {ty} ADD VALUE '{l}';")).collect::<Vec<_>>().join(" "),
                            ));
                        }
                        Conv::Text { src }
                    }
                    (ColType::Bool, PgType::Bool) => Conv::Bool { src },
                    (ColType::Date, PgType::Date) => Conv::Date { src },
                    (ColType::Date, PgType::Timestamp | PgType::Timestamptz) => {
                        Conv::DateTime { src }
                    }
                    (ColType::Timestamptz, PgType::Timestamp | PgType::Timestamptz) => {
                        Conv::Timestamp { src }
                    }
                    (_, PgType::Jsonb) => Conv::Json {
                        fields: vec![(name.clone(), src)],
                    },
                    _ => return Err(cannot()),
                }
            }
        };
        columns.push(SentColumn {
            name: mc.name.clone(),
            digest_sql: digest_sql(&tc.ty, &mc.name),
            conv,
        });
    }
    // Target columns the map leaves out must be fillable without finseed.
    for tc in &target.columns {
        if t.columns.iter().any(|m| m.name == tc.name) {
            continue;
        }
        if tc.not_null && !tc.has_default {
            let guess = spec
                .columns
                .iter()
                .find(|k| k.name == tc.name)
                .map_or("value = ...".to_string(), |k| {
                    format!("from = \"{}\"", k.name)
                });
            return Err(map.err(
                t.line,
                &format!("{}.{}", t.target, tc.name),
                format!(
                    "{}.{} ({}) is NOT NULL without a DEFAULT, and the map gives it no value",
                    t.target, tc.name, tc.shown
                ),
                format!(
                    "add under [{}.columns]: {} = {{ {guess} }}",
                    t.table, tc.name
                ),
            ));
        }
    }
    if columns.is_empty() {
        return Err(map.err(
            t.line,
            t.table,
            "the map sends no column".into(),
            "map at least one column, or skip = true".into(),
        ));
    }
    Ok(TablePlan {
        table: spec,
        target: t.target.clone(),
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_map_parses() {
        let p = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/examples/financy_app.map.toml"
        ));
        let m = load(p).unwrap();
        assert_eq!(m.skipped, vec!["ai_insights"]);
        assert_eq!(m.tables.len(), 7);
        assert_eq!(m.tables[0].target, "app_users");
    }

    #[test]
    fn id_tables_follow_finseed_foreign_keys() {
        assert_eq!(
            id_table("transactions", "user_id").as_deref(),
            Some("users")
        );
        assert_eq!(
            id_table("transactions", "context_id").as_deref(),
            Some("contexts")
        );
        assert_eq!(
            id_table("categories", "parent_id").as_deref(),
            Some("categories")
        );
        assert_eq!(
            id_table("transaction_splits", "approved_by").as_deref(),
            Some("users")
        );
        assert_eq!(id_table("users", "id").as_deref(), Some("users"));
    }

    #[test]
    fn max_lengths_and_labels_hold_for_a_generated_profile() {
        use crate::encode::Encoder;
        use crate::gen::Group;
        use crate::pipeline::{produce_with, Buffers};
        // A text-collecting encoder: checks every value against the tables above.
        struct Check {
            t: &'static TableSpec,
            f: usize,
        }
        impl Encoder for Check {
            fn new(t: &'static TableSpec, _b: Vec<u8>) -> Self {
                Check { t, f: 0 }
            }
            fn begin(&mut self) {
                self.f = 0;
            }
            fn int(&mut self, _: i64) {
                self.f += 1;
            }
            fn text(&mut self, s: &str) {
                let c = self.t.columns[self.f].name;
                if let Some(m) = max_chars(self.t.name, c) {
                    assert!(s.chars().count() <= m, "{}.{c}: {s}", self.t.name);
                }
                if let Some(l) = labels(self.t.name, c) {
                    assert!(l.contains(&s), "{}.{c}: {s}", self.t.name);
                }
                self.f += 1;
            }
            fn null(&mut self) {
                self.f += 1;
            }
            fn decimal(&mut self, _: i64, _: u32) {
                self.f += 1;
            }
            fn date(&mut self, _: i32) {
                self.f += 1;
            }
            fn timestamp(&mut self, _: i64) {
                self.f += 1;
            }
            fn boolean(&mut self, _: bool) {
                self.f += 1;
            }
            fn end(&mut self) {}
            fn take(&mut self) -> Vec<u8> {
                Vec::new()
            }
        }
        let w = crate::model::World::new(crate::profile::Profile::load("ci").unwrap());
        for g in Group::ALL {
            let wanted = vec![true; g.tables().len()];
            for c in 0..g.chunks(&w) {
                produce_with(&w, g, c, &wanted, &Buffers::default(), Check::new);
            }
        }
    }
}
