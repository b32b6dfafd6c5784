//! `finseed generate`: the dataset as CSV or JSON fixture files plus a manifest.

use crate::encode::csv::Csv;
use crate::encode::json::{JsonArray, JsonLines};
use crate::encode::Encoder;
use crate::error::{Error, Result};
use crate::gen::Group;
use crate::model::World;
use crate::pipeline::{ordered, produce, shard_chunks, Buffers, Produced};
use crate::profile::Profile;
use crate::progress::Progress;
use crate::sink::file::{FileSink, FileSummary, Format};
use crate::sink::Sink;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub struct GenerateConfig {
    pub profile: Profile,
    pub out: PathBuf,
    pub format: Format,
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

pub fn file_name(table: &str, format: Format, shard: Option<(u64, u64)>) -> String {
    format!("{table}{}.{}", suffix(shard), format.ext())
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

pub fn generate(cfg: &GenerateConfig) -> Result<Manifest> {
    check_out_dir(&cfg.out)?;
    let manifest_path = cfg.out.join(manifest_name(cfg.shard));
    if manifest_path.exists() {
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
    for group in Group::ALL {
        let wanted: Vec<bool> = group
            .tables()
            .iter()
            .map(|t| cfg.tables.as_ref().is_none_or(|l| l.contains(&t.name)))
            .collect();
        if !wanted.iter().any(|&w| w) {
            continue;
        }
        let got = match cfg.format {
            Format::Csv => write_group::<Csv>(cfg, &world, &pool, &progress, group, &wanted)?,
            Format::Jsonl => {
                write_group::<JsonLines>(cfg, &world, &pool, &progress, group, &wanted)?
            }
            Format::Json => {
                write_group::<JsonArray>(cfg, &world, &pool, &progress, group, &wanted)?
            }
        };
        entries.extend(got);
    }
    let manifest = Manifest {
        finseed_version: env!("CARGO_PKG_VERSION").to_string(),
        profile: cfg.profile.name.clone(),
        seed: cfg.profile.seed,
        scale: cfg.profile.scale,
        format: cfg.format.ext().to_string(),
        shard: cfg.shard.map(|(index, count)| ShardInfo { index, count }),
        tables: entries,
    };
    let mut text = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
    text.push('\n');
    let partial = manifest_path.with_extension("json.partial");
    std::fs::write(&partial, text).map_err(|e| Error::io(&partial, e))?;
    std::fs::rename(&partial, &manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
    Ok(manifest)
}

fn write_group<E: Encoder>(
    cfg: &GenerateConfig,
    world: &World,
    pool: &rayon::ThreadPool,
    progress: &Progress,
    group: Group,
    wanted: &[bool],
) -> Result<Vec<TableEntry>> {
    let tables = group.tables();
    let mut sinks: Vec<Option<FileSink>> = Vec::new();
    for (t, &want) in tables.iter().zip(wanted) {
        sinks.push(if want {
            Some(FileSink::create(
                cfg.out.join(file_name(t.name, cfg.format, cfg.shard)),
                t,
                cfg.format,
            )?)
        } else {
            None
        });
    }
    let chunks = shard_chunks(group.chunks(world), cfg.shard);
    let parents: u64 = chunks
        .clone()
        .map(|c| group.chunk_ids(world, c).end - group.chunk_ids(world, c).start)
        .sum();
    let label = tables
        .iter()
        .zip(wanted)
        .find(|(_, &w)| w)
        .map(|(t, _)| t.name)
        .unwrap_or("");
    let bar = progress.bar(label, parents);
    let window = pool.current_num_threads() + 2;
    let bufs = Buffers::default();
    ordered(
        pool,
        chunks,
        window,
        |c| produce::<E>(world, group, c, wanted, &bufs),
        |p: Produced| {
            let ids = group.chunk_ids(world, p.chunk);
            for (sink, (bytes, rows)) in sinks.iter_mut().zip(&p.tables) {
                if let Some(s) = sink {
                    s.write(bytes, *rows)?;
                }
            }
            bufs.put_all(group, p);
            bar.inc(ids.end - ids.start);
            Ok(())
        },
    )?;
    bar.finish_and_clear();
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
