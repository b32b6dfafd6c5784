//! Command bodies: validate flags into configs, run, print human summaries.

use crate::cli::{parse_shard, threads, ProfileArgs};
use crate::error::Result;
use crate::gen::parse_tables;
use crate::generate::{generate as run_generate, GenerateConfig};
use crate::profile::{Profile, BUILTIN};
use crate::sink::file::Format;
use std::path::PathBuf;
use std::time::Instant;

pub fn generate(
    profile: ProfileArgs,
    out: PathBuf,
    format: &str,
    threads_arg: Option<usize>,
    shard: Option<String>,
    tables: Option<String>,
    quiet: bool,
) -> Result<()> {
    let cfg = GenerateConfig {
        profile: profile.resolve()?,
        out,
        format: Format::parse(format)?,
        threads: threads(threads_arg)?,
        shard: shard.as_deref().map(parse_shard).transpose()?,
        tables: tables.as_deref().map(parse_tables).transpose()?,
        quiet,
    };
    let t = Instant::now();
    let m = run_generate(&cfg)?;
    let secs = t.elapsed().as_secs_f64();
    if !quiet {
        let rows: u64 = m.tables.iter().map(|t| t.file.rows).sum();
        let bytes: u64 = m.tables.iter().map(|t| t.file.bytes).sum();
        for t in &m.tables {
            eprintln!(
                "{:>20} {:>12} rows {:>10.1} MB  {}",
                t.table,
                t.file.rows,
                t.file.bytes as f64 / 1e6,
                t.file.file
            );
        }
        eprintln!(
            "generated {rows} rows, {:.1} MB in {secs:.2}s ({:.0} rows/s, {:.1} MB/s) into {}",
            bytes as f64 / 1e6,
            rows as f64 / secs,
            bytes as f64 / 1e6 / secs,
            cfg.out.display()
        );
    }
    Ok(())
}

pub fn profiles() -> Result<()> {
    println!(
        "{:<18} {:>10} {:>10} {:>10} {:>13} {:>11} {:>7}  description",
        "profile", "users", "contexts", "categories", "transactions", "ai_insights", "months"
    );
    for (name, _) in BUILTIN {
        let p = Profile::load(name)?;
        let v = p.volume;
        println!(
            "{:<18} {:>10} {:>10} {:>10} {:>13} {:>11} {:>7}  {}",
            name,
            v.users,
            v.contexts,
            v.categories,
            v.transactions,
            v.ai_insights,
            p.months,
            p.description
        );
    }
    Ok(())
}

pub fn schema() {
    println!("{}", crate::schema::TABLES);
    println!("{}", crate::schema::POST_LOAD);
}
