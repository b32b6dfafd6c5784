//! `finseed generate`: the dataset as CSV or JSON fixture files plus a manifest.

use crate::encode::compress::{compress, Compression};
use crate::encode::csv::Csv;
use crate::encode::json::units_suffix;
use crate::encode::json::{JsonArray, JsonArrayUnits, JsonLines, JsonLinesUnits};
use crate::encode::parquet::{table_schema, Parquet, ParquetOptions, RowGroup, TableSchema};
use crate::encode::ColType;
use crate::encode::Encoder;
use crate::error::{Error, Result};
use crate::gen::{all_tables, Group, Out};
use crate::model::World;
use crate::pipeline::{ordered, produce_fill, shard_chunks, Buffers, Produced};
use crate::profile::Profile;
use crate::progress::Progress;
use crate::sink::file::{FileSink, FileSummary, Format, ParquetSink, Target};
use crate::sink::Sink;
use crate::table::TableSpec;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub struct GenerateConfig {
    pub profile: Profile,
    pub out: PathBuf,
    pub format: Format,
    /// Parquet: zstd (default), snappy or none; CSV/JSONL: none (default), zstd or gzip.
    pub compression: Compression,
    /// Parquet: rows per row group at most (default: one row group per generator chunk).
    pub row_group_rows: Option<usize>,
    /// Parquet: bytes per row group at most (plain-encoded values before compression).
    pub row_group_bytes: Option<u64>,
    /// JSON: decimals as integers of the smallest unit (`amount_cents`) instead of strings.
    pub json_units: bool,
    pub threads: usize,
    pub shard: Option<(u64, u64)>,
    /// Tables to write; `None` writes all.
    pub tables: Option<Vec<&'static str>>,
    pub quiet: bool,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
pub struct ShardInfo {
    pub index: u64,
    pub count: u64,
}

/// `manifest.json`: what a generate run wrote, so a reader can check it.
#[derive(Serialize, Deserialize, Debug)]
pub struct Manifest {
    pub finseed_version: String,
    pub profile: String,
    pub seed: u64,
    pub scale: f64,
    pub format: String,
    /// `none`, `zstd:LEVEL`, `gzip:LEVEL` or `snappy` (Parquet's internal codec).
    #[serde(default)]
    pub compression: String,
    /// JSON only: `string` ("1412.00") or `units` (`amount_cents`: 141200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_decimals: Option<String>,
    pub shard: Option<ShardInfo>,
    pub tables: Vec<TableEntry>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TableEntry {
    pub table: String,
    #[serde(flatten)]
    pub file: FileSummary,
}

fn suffix(shard: Option<(u64, u64)>) -> String {
    match shard {
        None => String::new(),
        Some((k, n)) => format!(".shard-{k}-of-{n}"),
    }
}

pub fn manifest_name(shard: Option<(u64, u64)>) -> String {
    format!("manifest{}.json", suffix(shard))
}

pub fn file_name(
    table: &str,
    format: Format,
    compression: Compression,
    shard: Option<(u64, u64)>,
) -> String {
    let z = if format == Format::Parquet {
        ""
    } else {
        compression.suffix()
    };
    format!("{table}{}.{}{z}", suffix(shard), format.ext())
}

/// Refuse combinations of format and compression that make no sense.
pub fn check_compression(format: Format, c: Compression) -> Result<()> {
    let bad = |fix: &str| {
        Err(Error::Usage(format!(
            "--compression: {} is not available for --format {}\n  fix: {fix}",
            c.label(),
            format.ext()
        )))
    };
    match (format, c) {
        (Format::Parquet, Compression::Gzip(_)) => {
            bad("for parquet use zstd, zstd:LEVEL, snappy or none")
        }
        (Format::Csv | Format::Jsonl, Compression::Snappy) => {
            bad("for csv and jsonl use zstd, zstd:LEVEL, gzip, gzip:LEVEL or none")
        }
        (Format::Json, Compression::Zstd(_) | Compression::Gzip(_) | Compression::Snappy) => {
            bad("use --format jsonl (one object a line) to compress JSON")
        }
        _ => Ok(()),
    }
}

/// Refuse a non-empty directory that is not an earlier finseed output.
fn check_out_dir(out: &Path) -> Result<()> {
    if !out.exists() {
        return std::fs::create_dir_all(out).map_err(|e| Error::io(out, e));
    }
    if !out.is_dir() {
        return Err(Error::Usage(format!(
            "--out: {} is a file, not a directory\n  fix: give a new or empty directory",
            out.display()
        )));
    }
    let entries: Vec<_> = std::fs::read_dir(out)
        .map_err(|e| Error::io(out, e))?
        .filter_map(|e| e.ok())
        .collect();
    if entries.is_empty() {
        return Ok(());
    }
    let ours = entries.iter().any(|e| {
        let n = e.file_name().to_string_lossy().into_owned();
        n.starts_with("manifest")
            && n.ends_with(".json")
            && std::fs::read_to_string(e.path())
                .map(|t| t.contains("\"finseed_version\""))
                .unwrap_or(false)
    });
    if ours {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "--out: {} is not empty and holds no finseed manifest; refusing to mix files\n  fix: give a new or empty directory, or one an earlier `finseed generate` wrote",
            out.display()
        )))
    }
}

impl GenerateConfig {
    /// `--out -`: the one table named by `--tables` goes to standard output.
    pub fn to_stdout(&self) -> bool {
        self.out.as_os_str() == "-"
    }
}

pub fn generate(cfg: &GenerateConfig) -> Result<Manifest> {
    check_compression(cfg.format, cfg.compression)?;
    let stdout = cfg.to_stdout();
    if stdout && cfg.tables.as_ref().is_none_or(|t| t.len() != 1) {
        return Err(Error::Usage(
            "--out -: standard output takes exactly one table\n  fix: name it with --tables, e.g. --out - --tables transactions".into(),
        ));
    }
    if !stdout {
        check_out_dir(&cfg.out)?;
    }
    let manifest_path = cfg.out.join(manifest_name(cfg.shard));
    if !stdout && manifest_path.exists() {
        // The old manifest would describe files this run is about to replace.
        std::fs::remove_file(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
    }
    let world = World::new(cfg.profile.clone());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .thread_name(|i| format!("finseed-gen-{i}"))
        .build()
        .map_err(|e| Error::Failed(format!("cannot start {} worker threads: {e}", cfg.threads)))?;
    let progress = Progress::new(cfg.quiet);
    let mut entries = Vec::new();
    let wanted_of = |group: Group| -> Vec<bool> {
        group
            .tables()
            .iter()
            .map(|t| cfg.tables.as_ref().is_none_or(|l| l.contains(&t.name)))
            .collect()
    };
    // Text formats write the insights in the transactions' pass when both are wanted: a
    // context's transactions are then generated once, not again for its insights (the bytes
    // are the same). Parquet keeps the insights group's chunks, which are its row groups.
    let fuse = cfg.format != Format::Parquet
        && wanted_of(Group::Insights).contains(&true)
        && wanted_of(Group::Transactions).contains(&true);
    let layout = world.profile.layout;
    for group in Group::ALL {
        if fuse && group == Group::Insights {
            continue;
        }
        let mut wanted = wanted_of(group);
        let mut tables = group.tables().to_vec();
        let mut stored = group.tables_in(layout).to_vec();
        let fused = fuse && group == Group::Transactions;
        if fused {
            wanted.push(true);
            tables.extend(Group::Insights.tables());
            stored.extend(Group::Insights.tables_in(layout));
        }
        if !wanted.iter().any(|&w| w) {
            continue;
        }
        let run = Run {
            cfg,
            world: &world,
            pool: &pool,
            progress: &progress,
            group,
            tables: &tables,
            stored: &stored,
            fused,
            wanted: &wanted,
        };
        let got = match cfg.format {
            Format::Csv => run.text::<Csv>()?,
            Format::Jsonl if cfg.json_units => run.text::<JsonLinesUnits>()?,
            Format::Json if cfg.json_units => run.text::<JsonArrayUnits>()?,
            Format::Jsonl => run.text::<JsonLines>()?,
            Format::Json => run.text::<JsonArray>()?,
            Format::Parquet => run.parquet()?,
        };
        entries.extend(got);
    }
    let manifest = Manifest {
        finseed_version: env!("CARGO_PKG_VERSION").to_string(),
        profile: cfg.profile.name.clone(),
        seed: cfg.profile.seed,
        scale: cfg.profile.scale,
        format: cfg.format.ext().to_string(),
        compression: cfg.compression.label(),
        json_decimals: matches!(cfg.format, Format::Json | Format::Jsonl)
            .then(|| if cfg.json_units { "units" } else { "string" }.to_string()),
        shard: cfg.shard.map(|(index, count)| ShardInfo { index, count }),
        tables: entries,
    };
    if stdout {
        return Ok(manifest);
    }
    let written: Vec<&'static TableSpec> = manifest
        .tables
        .iter()
        .filter_map(|e| all_tables().find(|t| t.name == e.table))
        .collect();
    write_text(&cfg.out.join("schema.sql"), &schema_sql(&written))?;
    write_text(&cfg.out.join("load.sql"), &load_sql(cfg, &written))?;
    let mut text = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
    text.push('\n');
    let partial = manifest_path.with_extension("json.partial");
    std::fs::write(&partial, text).map_err(|e| Error::io(&partial, e))?;
    std::fs::rename(&partial, &manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
    Ok(manifest)
}

/// One table group being written.
struct Run<'a> {
    cfg: &'a GenerateConfig,
    world: &'a World,
    pool: &'a rayon::ThreadPool,
    progress: &'a Progress,
    group: Group,
    /// The files' tables: the group's, and the insights when they are told in the
    /// transactions' pass (`fused`).
    tables: &'a [&'static TableSpec],
    /// The same tables as the layout stores them (the rows' columns).
    stored: &'a [&'static TableSpec],
    fused: bool,
    wanted: &'a [bool],
}

impl Run<'_> {
    fn target(&self, table: &str) -> Target {
        if self.cfg.to_stdout() {
            return Target::Stdout;
        }
        Target::File(self.cfg.out.join(file_name(
            table,
            self.cfg.format,
            self.cfg.compression,
            self.cfg.shard,
        )))
    }

    /// Run the ordered pipeline over the group's chunks of this shard, with a progress bar.
    fn pipeline<T: Send>(
        &self,
        produce: impl Fn(u64) -> T + Sync,
        mut consume: impl FnMut(T) -> Result<()>,
        chunk_of: impl Fn(&T) -> u64,
    ) -> Result<()> {
        let (world, group) = (self.world, self.group);
        let chunks = shard_chunks(group.chunks(world), self.cfg.shard);
        let parents: u64 = chunks
            .clone()
            .map(|c| group.chunk_ids(world, c).end - group.chunk_ids(world, c).start)
            .sum();
        let label = group
            .tables()
            .iter()
            .zip(self.wanted)
            .find(|(_, &w)| w)
            .map(|(t, _)| t.name)
            .unwrap_or("");
        let bar = self.progress.bar(label, parents);
        let window = self.pool.current_num_threads() + 2;
        ordered(self.pool, chunks, window, produce, |p: T| {
            let ids = group.chunk_ids(world, chunk_of(&p));
            consume(p)?;
            bar.inc(ids.end - ids.start);
            Ok(())
        })?;
        bar.finish_and_clear();
        Ok(())
    }

    /// CSV and JSON: text chunks, compressed on the workers when asked.
    fn text<E: Encoder>(&self) -> Result<Vec<TableEntry>> {
        let (cfg, world, group, wanted) = (self.cfg, self.world, self.group, self.wanted);
        let tables = self.tables;
        let mut sinks: Vec<Option<FileSink>> = Vec::new();
        for (t, &want) in tables.iter().zip(wanted) {
            sinks.push(if want {
                Some(FileSink::create(
                    self.target(t.name),
                    t,
                    cfg.format,
                    cfg.compression,
                )?)
            } else {
                None
            });
        }
        let bufs = Buffers::default();
        self.pipeline(
            |c| -> Result<Produced> {
                let fill = |w: &World, c: u64, outs: &mut [Out<E>]| {
                    if self.fused {
                        crate::gen::fill_with_insights(w, c, outs)
                    } else {
                        group.fill(w, c, outs)
                    }
                };
                let mut p = produce_fill(world, self.stored, c, wanted, &bufs, E::new, fill);
                for (t, (bytes, _)) in tables.iter().zip(p.tables.iter_mut()) {
                    if let Some(z) = compress(cfg.compression, bytes)? {
                        bufs.put(t.name, std::mem::replace(bytes, z));
                    }
                }
                Ok(p)
            },
            |p| {
                let p = p?;
                for (sink, (bytes, rows)) in sinks.iter_mut().zip(&p.tables) {
                    if let Some(s) = sink {
                        s.write(bytes, *rows)?;
                    }
                }
                if cfg.compression == Compression::None {
                    bufs.put_tables(tables, p);
                }
                Ok(())
            },
            |p| p.as_ref().map(|p| p.chunk).unwrap_or(0),
        )?;
        let mut out = Vec::new();
        for (t, sink) in tables.iter().zip(sinks.iter_mut()) {
            if let Some(s) = sink {
                s.finish()?;
                out.push(TableEntry {
                    table: t.name.to_string(),
                    file: s.summary(),
                });
            }
        }
        Ok(out)
    }

    /// Parquet: each worker encodes and compresses its chunk's row groups; the consumer splices
    /// them into the files in chunk order.
    fn parquet(&self) -> Result<Vec<TableEntry>> {
        let (cfg, world, group, wanted) = (self.cfg, self.world, self.group, self.wanted);
        debug_assert!(!self.fused, "Parquet keeps the insights group's row groups");
        let opts = ParquetOptions {
            compression: cfg.compression,
            row_group_rows: cfg.row_group_rows,
            row_group_bytes: cfg.row_group_bytes,
        };
        let tables = group.tables();
        let mut schemas: Vec<Option<TableSchema>> = Vec::new();
        let mut sinks: Vec<Option<ParquetSink>> = Vec::new();
        for (t, &want) in tables.iter().zip(wanted) {
            if want {
                let schema = table_schema(t, &opts)?;
                sinks.push(Some(ParquetSink::create(self.target(t.name), &schema)?));
                schemas.push(Some(schema));
            } else {
                sinks.push(None);
                schemas.push(None);
            }
        }
        type Chunk = (u64, Vec<(Vec<RowGroup>, u64)>);
        self.pipeline(
            |c| -> Result<Chunk> {
                let mut outs: Vec<Out<Parquet>> = tables
                    .iter()
                    .zip(wanted)
                    .map(|(t, &want)| {
                        Out::new(t, want.then(|| Parquet::with_options(t, opts.clone())))
                    })
                    .collect();
                group.fill(world, c, &mut outs);
                let mut got = Vec::with_capacity(outs.len());
                for (o, schema) in outs.iter_mut().zip(&schemas) {
                    let groups = match (o.enc.as_mut(), schema) {
                        (Some(e), Some(s)) => e.row_groups(s)?,
                        _ => Vec::new(),
                    };
                    got.push((groups, o.rows));
                }
                Ok((c, got))
            },
            |p| {
                let (_, got) = p?;
                for (sink, (groups, rows)) in sinks.iter_mut().zip(got) {
                    if let Some(s) = sink {
                        s.write_groups(groups, rows)?;
                    }
                }
                Ok(())
            },
            |p| p.as_ref().map(|p| p.0).unwrap_or(0),
        )?;
        let mut out = Vec::new();
        for (t, sink) in tables.iter().zip(sinks.iter_mut()) {
            if let Some(s) = sink {
                s.finish()?;
                out.push(TableEntry {
                    table: t.name.to_string(),
                    file: s.summary(),
                });
            }
        }
        Ok(out)
    }
}

/// Write a small text file whole (via a `.partial` file and a rename).
fn write_text(path: &Path, text: &str) -> Result<()> {
    let partial = path.with_extension("sql.partial");
    std::fs::write(&partial, text).map_err(|e| Error::io(&partial, e))?;
    std::fs::rename(&partial, path).map_err(|e| Error::io(path, e))
}

/// The SQL type of a column, as in `schemas/tables.sql` (PostgreSQL and DuckDB both read it).
pub fn sql_type(ty: ColType) -> String {
    match ty {
        ColType::BigInt => "bigint".into(),
        ColType::Int => "integer".into(),
        ColType::Text => "text".into(),
        ColType::Numeric(p, s) => format!("numeric({p},{s})"),
        ColType::Date => "date".into(),
        ColType::Timestamptz => "timestamptz".into(),
        ColType::Bool => "boolean".into(),
        ColType::Char(n) => format!("char({n})"),
    }
}

/// DuckDB's name for a column type in `read_csv(columns = …)`: exact, never DOUBLE.
fn duckdb_type(ty: ColType) -> String {
    match ty {
        ColType::BigInt => "BIGINT".into(),
        ColType::Int => "INTEGER".into(),
        ColType::Text | ColType::Char(_) => "VARCHAR".into(),
        ColType::Numeric(p, s) => format!("DECIMAL({p},{s})"),
        ColType::Date => "DATE".into(),
        ColType::Timestamptz => "TIMESTAMPTZ".into(),
        ColType::Bool => "BOOLEAN".into(),
    }
}

/// `schema.sql`: CREATE TABLE for exactly the tables and columns written, in file order.
pub fn schema_sql(tables: &[&TableSpec]) -> String {
    let mut out = String::from(
        "-- finseed: the tables of this folder's files, with their exact types.\n\
         -- Runs in PostgreSQL and DuckDB; keys and indexes: `finseed schema`.\n",
    );
    for t in tables {
        out.push_str(&create_table(t));
    }
    out
}

fn create_table(t: &TableSpec) -> String {
    let w = t.columns.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            format!(
                "    {:w$}  {}{}",
                c.name,
                sql_type(c.ty),
                if c.nullable { "" } else { " NOT NULL" }
            )
        })
        .collect();
    format!("\nCREATE TABLE {} (\n{}\n);\n", t.name, cols.join(",\n"))
}

/// `load.sql`: `duckdb < load.sql`, run in this folder, creates the tables with their exact
/// types and reads the files into them: decimals stay DECIMAL, never DOUBLE. With shards, every
/// shard's file of a table is read (each shard run writes the same script).
pub fn load_sql(cfg: &GenerateConfig, tables: &[&TableSpec]) -> String {
    let mut out = String::from(
        "-- finseed: load this folder's files into DuckDB with exact types.\n\
         -- Run it here: `duckdb finseed.duckdb < load.sql` (or `duckdb < load.sql` in memory).\n",
    );
    for t in tables {
        out.push_str(&create_table(t));
        let file = match cfg.shard {
            None => file_name(t.name, cfg.format, cfg.compression, None),
            Some((_, n)) => file_name(t.name, cfg.format, cfg.compression, Some((0, n)))
                .replace(".shard-0-of-", ".shard-*-of-"),
        };
        let names: Vec<&str> = t.columns.iter().map(|c| c.name).collect();
        let select = names.join(", ");
        let source = match cfg.format {
            Format::Parquet => format!("read_parquet('{file}')"),
            Format::Csv => {
                let cols: Vec<String> = t
                    .columns
                    .iter()
                    .map(|c| format!("'{}': '{}'", c.name, duckdb_type(c.ty)))
                    .collect();
                // NULL is an empty unquoted field; "" is the empty string.
                format!(
                    "read_csv('{file}', header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', nullstr = '', allow_quoted_nulls = false,\n    columns = {{{}}})",
                    cols.join(", ")
                )
            }
            Format::Json | Format::Jsonl => {
                let mut cols = Vec::new();
                for c in t.columns {
                    match c.ty {
                        ColType::Numeric(_, s) if cfg.json_units => {
                            cols.push(format!("'{}{}': 'BIGINT'", c.name, units_suffix(s)))
                        }
                        // Decimals are JSON strings: DuckDB casts the text exactly.
                        ty => cols.push(format!("'{}': '{}'", c.name, duckdb_type(ty))),
                    }
                }
                format!(
                    "read_json('{file}', format = '{}', auto_detect = false,\n    columns = {{{}}})",
                    if cfg.format == Format::Json { "array" } else { "newline_delimited" },
                    cols.join(", ")
                )
            }
        };
        let select = if cfg.json_units && matches!(cfg.format, Format::Json | Format::Jsonl) {
            // Integer units to DECIMAL by exact decimal arithmetic (0.01 is DECIMAL, not DOUBLE).
            t.columns
                .iter()
                .map(|c| match c.ty {
                    ColType::Numeric(p, s) if s > 0 => format!(
                        "CAST(CAST({}{} AS DECIMAL(38,0)) * 0.{}1 AS DECIMAL({p},{s}))",
                        c.name,
                        units_suffix(s),
                        "0".repeat(s as usize - 1)
                    ),
                    _ => c.name.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            select
        };
        out.push_str(&format!(
            "INSERT INTO {} ({})\nSELECT {select}\nFROM {source};\n",
            t.name,
            names.join(", ")
        ));
    }
    out
}
