//! The `finseed` binary: parse flags, run, and map the outcome to an exit code
//! (0 success, 1 failure, 2 bad input).

use clap::Parser;
use finseed::cli::{Cli, Command};
use finseed::error::Error;
use std::process::ExitCode;

fn main() -> ExitCode {
    finseed::db::install_redacting_panic_hook();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            if !e.use_stderr() {
                // --help, --version: our own text, on stdout.
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // clap echoes the offending argument, which may be a connection string: redact it
            // like every other message (plain text, since styles would split the secret).
            eprint!("{}", finseed::db::redact(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A finseed error carries its whole message (cause, path, fix): print it once.
            let code = match e.downcast_ref::<Error>() {
                Some(fe) => {
                    eprintln!("finseed: error: {fe}");
                    fe.exit_code() as u8
                }
                None => {
                    eprintln!("finseed: error: {e:#}");
                    1
                }
            };
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Generate(args) => finseed::commands::generate(args)?,
        Command::Seed(args) => finseed::commands::seed(args)?,
        Command::Verify {
            profile,
            db,
            threads,
            json,
            map,
        } => finseed::commands::verify(profile, db, threads, json, map)?,
        Command::Plan {
            profile,
            jobs,
            json,
            map,
            database_url,
        } => finseed::commands::plan(
            profile,
            jobs,
            json,
            map,
            finseed::cli::DbArgs { database_url },
        )?,
        Command::Bench { db, bench, map } => {
            finseed::commands::bench(db, bench, map, Default::default())?
        }
        Command::Run {
            profile,
            db,
            load,
            bench,
        } => finseed::commands::run(profile, db, load, bench)?,
        Command::Scales {
            profile,
            db,
            load,
            bench,
            scales,
        } => finseed::commands::scales(profile, db, load, bench, scales)?,
        Command::LoadtestData {
            profile,
            out,
            users,
            payloads,
            bulk_files,
        } => finseed::commands::loadtest_data(profile, out, users, payloads, bulk_files)?,
        Command::Pg { action } => finseed::commands::pg(action)?,
        Command::Profiles => finseed::commands::profiles()?,
        Command::Schema => finseed::commands::schema(),
        Command::Map { db, out } => finseed::commands::map(db, out)?,
    }
    Ok(())
}
