//! Safety on a database that holds other things: finseed never drops, truncates or alters a
//! table it did not create, two seeders never work on the same thing, signals stop cleanly and
//! every step survives a half-done earlier attempt. Real PostgreSQL (tests/common).

mod common;

use common::{assert_keys_built_once, finseed, fresh_database, ok, psql, text};

/// Relations in the public schema, sorted.
fn relations(url: &str) -> String {
    psql(
        url,
        "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'p', 'm')",
    )
    .trim()
    .to_string()
}

fn users_rows(url: &str) -> String {
    psql(url, "SELECT string_agg(name, ',' ORDER BY name) FROM users")
        .trim()
        .to_string()
}

/// The reported sequence: `seed --force` into a database with the user's own `users` table
/// failed but left finseed's state and empty tables behind, after which `seed` no longer
/// refused and `seed --fresh` dropped the user's table with its rows.
#[test]
fn a_users_own_table_is_never_touched_by_any_flag() {
    let url = fresh_database("own_users");
    psql(
        &url,
        "CREATE TABLE users (name text PRIMARY KEY, note text); \
         INSERT INTO users VALUES ('alice', 'x'), ('bob', 'y')",
    );
    for flags in [
        &["--force"][..],
        &[][..],
        &["--fresh"][..],
        &["--fresh", "--force"][..],
        &["--steps", "create"][..],
    ] {
        let mut args = vec!["seed", "-q", "-p", "ci", "--database-url", &url];
        args.extend_from_slice(flags);
        let out = finseed(&args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {t}");
        assert_eq!(users_rows(&url), "alice,bob", "{flags:?}: {t}");
        assert_eq!(relations(&url), "users", "{flags:?} wrote something: {t}");
        if !flags.contains(&"--force") || flags.contains(&"--fresh") {
            assert!(
                t.contains("DROP TABLE public.users;") && t.contains("fix:"),
                "{flags:?}: {t}"
            );
        }
    }
    // The way out the message offers: another schema, the user's table untouched.
    psql(&url, "CREATE SCHEMA fs");
    let in_fs = format!("{url}?options=-csearch_path%3Dfs");
    ok(&finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--database-url",
        &in_fs,
    ]));
    ok(&finseed(&["verify", "-p", "ci", "--database-url", &in_fs]));
    ok(&finseed(&[
        "seed",
        "-q",
        "-p",
        "ci",
        "--fresh",
        "--database-url",
        &in_fs,
        "--steps",
        "create,load",
    ]));
    assert_eq!(users_rows(&url), "alice,bob");
    assert_eq!(relations(&url), "users");
}

/// `--fresh` drops only finseed's own tables, never with CASCADE, never a table someone made
/// again under its name, and not rows someone added to them unless `--force`.
#[test]
fn fresh_drops_only_what_finseed_created() {
    let url = fresh_database("fresh_own");
    let base = ["seed", "-q", "-p", "ci", "--database-url", &url];
    let with = |extra: &[&'static str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        finseed(&a)
    };
    ok(&with(&["--steps", "create,load"]));
    // A view of the user's on finseed's table: --fresh stops and drops nothing.
    psql(&url, "CREATE VIEW my_view AS SELECT id FROM users");
    let out = with(&["--fresh", "--steps", "create,load"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("my_view"), "{}", text(&out));
    assert_eq!(psql(&url, "SELECT count(*) FROM my_view").trim(), "300");
    psql(&url, "DROP VIEW my_view");
    // Rows added to finseed's table after the load: refused unless --force.
    psql(&url, "INSERT INTO users SELECT * FROM users LIMIT 1");
    let out = with(&["--fresh", "--steps", "create,load"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("did not write"), "{}", text(&out));
    assert_eq!(psql(&url, "SELECT count(*) FROM users").trim(), "301");
    ok(&with(&["--fresh", "--force", "--steps", "create,load"]));
    assert_eq!(psql(&url, "SELECT count(*) FROM users").trim(), "300");
    // A table the user made again under finseed's name is theirs: nothing is dropped.
    psql(
        &url,
        "DROP TABLE ai_insights; CREATE TABLE ai_insights (x int); INSERT INTO ai_insights VALUES (7)",
    );
    for extra in [&["--fresh"][..], &[][..]] {
        let out = with(extra);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains("DROP TABLE public.ai_insights;"),
            "{}",
            text(&out)
        );
        assert_eq!(psql(&url, "SELECT x FROM ai_insights").trim(), "7");
        assert_eq!(psql(&url, "SELECT count(*) FROM users").trim(), "300");
    }
}

fn ledger_chunks(url: &str) -> u64 {
    if psql(url, "SELECT to_regclass('finseed_ledger') IS NULL").trim() == "t" {
        return 0;
    }
    psql(
        url,
        "SELECT count(*) FROM finseed_ledger WHERE table_name = 'transactions'",
    )
    .trim()
    .parse()
    .unwrap_or(0)
}

fn spawn(args: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_finseed"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("CI", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn signal(child: &std::process::Child, sig: &str) {
    let st = std::process::Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Waits (bounded) until `cond`, failing if `child` ended first.
fn wait_for(child: &mut std::process::Child, what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(180),
            "timed out waiting for {what}"
        );
        if let Some(st) = child.try_wait().unwrap() {
            panic!("finseed ended ({st}) before {what}");
        }
        std::thread::sleep(std::time::Duration::from_millis(30));
    }
}

fn finseed_backends(url: &str) -> u64 {
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    psql(
        url,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' \
             AND application_name = 'finseed' AND pid <> pg_backend_pid()"
        ),
    )
    .trim()
    .parse()
    .unwrap()
}

/// A second seed of the same database stops at once naming the first; SIGTERM and SIGINT stop
/// a load cleanly with the command that resumes, password hidden; that command completes it.
#[test]
fn a_second_seeder_is_refused_and_signals_stop_cleanly() {
    let url = fresh_database("two_seeders");
    let secret_url = url.replacen("postgres@", "postgres:s3cretpw@", 1);
    let args = [
        "seed",
        "-q",
        "-p",
        "small",
        "--scale",
        "2",
        "--jobs",
        "1",
        "--steps",
        "create,load",
        "--database-url",
        &secret_url,
    ];
    let mut first = spawn(&args);
    wait_for(&mut first, "the first chunk", || ledger_chunks(&url) >= 1);
    let t = std::time::Instant::now();
    let second = finseed(&args);
    let took = t.elapsed();
    let msg = text(&second);
    assert_eq!(second.status.code(), Some(1), "{msg}");
    assert!(
        msg.contains(&format!("another finseed (pid {}, host ", first.id()))
            && msg.contains("started at")
            && msg.contains("is seeding this database"),
        "{msg}"
    );
    assert!(
        !msg.contains("duplicate key") && !msg.contains("s3cretpw"),
        "{msg}"
    );
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    // SIGTERM: exit 143, committed chunks kept, nothing half-loaded.
    signal(&first, "-TERM");
    let out = first.wait_with_output().unwrap();
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(143), "{msg}");
    let ledger_rows = psql(
        &url,
        "SELECT sum(rows) FROM finseed_ledger WHERE table_name = 'transactions'",
    );
    assert_eq!(
        psql(&url, "SELECT count(*) FROM transactions").trim(),
        ledger_rows.trim()
    );
    // SIGINT in the resumed load: exit 130 and the command to resume, password hidden.
    let before = ledger_chunks(&url);
    let mut again = spawn(&args);
    wait_for(&mut again, "another chunk", || ledger_chunks(&url) > before);
    signal(&again, "-INT");
    let out = again.wait_with_output().unwrap();
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(130), "{msg}");
    assert!(!msg.contains("s3cretpw"), "{msg}");
    let resume = msg
        .lines()
        .find_map(|l| l.trim().strip_prefix("resume with: "))
        .unwrap_or_else(|| panic!("no resume command: {msg}"))
        .to_string();
    assert!(resume.contains("postgres:***@"), "{resume}");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        finseed_backends(&url),
        0,
        "finseed's connections outlived it"
    );
    assert_eq!(
        psql(&url, "SELECT count(*) FROM transactions").trim(),
        psql(
            &url,
            "SELECT sum(rows) FROM finseed_ledger WHERE table_name = 'transactions'"
        )
        .trim()
    );
    let resume = resume.replace("***", "s3cretpw").replace('\'', "");
    let words: Vec<&str> = resume.split_whitespace().skip(1).collect();
    ok(&finseed(&words));
    assert_eq!(ledger_chunks(&url), 20);
    ok(&finseed(&[
        "verify",
        "-p",
        "small",
        "--scale",
        "2",
        "--database-url",
        &url,
    ]));
}

/// Two shards started at once into an empty database: both load, one builds the keys, and
/// neither trips over the other in the catalog.
#[test]
fn shards_started_together_load_at_once_and_build_keys_once() {
    let url = fresh_database("shards_together");
    let run = |k: &str| {
        spawn(&[
            "seed",
            "-q",
            "-p",
            "small",
            "--scale",
            "0.3",
            "--jobs",
            "1",
            "--shard",
            k,
            "--database-url",
            &url,
        ])
    };
    let (a, b) = (run("1/2"), run("2/2"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    ok(&a);
    ok(&b);
    let both = format!("{}{}", text(&a), text(&b));
    assert!(!both.contains("duplicate key"), "{both}");
    ok(&finseed(&[
        "verify",
        "-p",
        "small",
        "--scale",
        "0.3",
        "--database-url",
        &url,
    ]));
    // Keys and indexes built once each, all valid.
    assert_keys_built_once(&url);
}

/// Interrupt each post-load step (SIGINT or kill -9 while its statements run), then rerun:
/// the first rerun passes and the data verifies. NOT VALID constraints and INVALID indexes of
/// finseed's are repaired.
#[test]
fn every_post_load_step_survives_an_interruption() {
    let url = fresh_database("interrupt_steps");
    let base = [
        "seed",
        "-q",
        "-p",
        "small",
        "--jobs",
        "2",
        "--database-url",
        &url,
    ];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let load = with(&["--steps", "create,load"]);
    ok(&finseed(&refs(&load)));
    let db = url.rsplit('/').next().unwrap().to_string();
    for (step, sig, statement) in [
        ("primary_keys", "-KILL", "ALTER TABLE"),
        ("foreign_keys", "-KILL", "ALTER TABLE"),
        ("foreign_keys", "-INT", "ALTER TABLE"),
        ("indexes", "-KILL", "CREATE INDEX"),
        ("indexes", "-INT", "CREATE INDEX"),
        ("rollups", "-KILL", "CREATE TABLE"),
        ("analyze", "-INT", "VACUUM"),
    ] {
        if step == "rollups" {
            // finseed's own table, as if never built (its stale record in finseed_owned stays).
            psql(&url, "DROP TABLE IF EXISTS aggregated_analytics");
        }
        // Start from before the step: drop what an earlier round built.
        if step != "analyze" && step != "rollups" {
            for (name, table) in psql(
                &url,
                "SELECT c.conname, t.relname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
                 WHERE c.contype IN ('p','f','u') AND t.relnamespace = 'public'::regnamespace AND t.relname NOT LIKE 'finseed%' ORDER BY c.contype",
            )
            .lines()
            .filter_map(|l| l.split_once('|'))
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            {
                if (step == "primary_keys") || (step == "foreign_keys" && name.ends_with("_fk")) {
                    psql(&url, &format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name} CASCADE"));
                }
            }
            if step == "indexes" {
                psql(&url, "DO $$ DECLARE r record; BEGIN FOR r IN SELECT indexrelid::regclass AS ix FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname LIKE '%\\_idx' AND c.relnamespace = 'public'::regnamespace LOOP EXECUTE 'DROP INDEX ' || r.ix; END LOOP; END $$");
            }
            if step == "foreign_keys" || step == "indexes" {
                ok(&finseed(&refs(&with(&["--steps", "primary_keys"]))));
            }
        }
        let args = with(&["--steps", step]);
        let mut child = spawn(&refs(&args));
        let mut seen = false;
        let start = std::time::Instant::now();
        while child.try_wait().unwrap().is_none() && start.elapsed().as_secs() < 120 {
            let running: u64 = psql(
                &url,
                &format!(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' \
                     AND application_name = 'finseed' AND state = 'active' AND query LIKE '{statement}%'"
                ),
            )
            .trim()
            .parse()
            .unwrap();
            if running > 0 {
                seen = true;
                signal(&child, sig);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let out = child.wait_with_output().unwrap();
        eprintln!(
            "{step} {sig}: caught mid-step {seen}, exit {:?}",
            out.status.code()
        );
        if sig == "-INT" && seen && out.status.code() != Some(0) {
            assert_eq!(out.status.code(), Some(130), "{}", text(&out));
            assert!(text(&out).contains("resume with:"), "{}", text(&out));
        }
        // The first rerun passes, whatever was half done.
        ok(&finseed(&refs(&with(&[]))));
    }
    // A NOT VALID foreign key and an INVALID index of finseed's, as an interrupted run or a
    // hand repair might leave them, are validated and rebuilt.
    psql(&url, "ALTER TABLE transactions DROP CONSTRAINT transactions_category_fk; \
        ALTER TABLE transactions ADD CONSTRAINT transactions_category_fk FOREIGN KEY (category_id) REFERENCES categories (id) NOT VALID; \
        UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'transactions_user_idx'::regclass");
    let verbose: Vec<String> = with(&["--steps", "foreign_keys,indexes"])
        .into_iter()
        .filter(|a| a != "-q")
        .collect();
    let out = ok(&finseed(&refs(&verbose)));
    assert!(
        out.contains("1 NOT VALID validated") && out.contains("1 invalid indexes rebuilt"),
        "{out}"
    );
    assert_eq!(
        psql(&url, "SELECT (SELECT bool_and(convalidated) FROM pg_constraint WHERE connamespace = 'public'::regnamespace) AND (SELECT bool_and(indisvalid) FROM pg_index)").trim(),
        "t"
    );
    ok(&finseed(&["verify", "-p", "small", "--database-url", &url]));
}
