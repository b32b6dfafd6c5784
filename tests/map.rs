//! Seeding a schema finseed did not write, through a map (`--map`), against the real
//! PostgreSQL the harness starts: the example app schema under schemas/examples, each
//! conversion, each refusal, deterministic UUIDs, `finseed map`, and `--defer-constraints`
//! surviving kill -9 with the team's catalog restored exactly.

mod common;

use common::{finseed, fresh_database, ok, psql, text};
use std::path::{Path, PathBuf};

const EXAMPLE_SQL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/schemas/examples/financy_app.sql"
);
const EXAMPLE_MAP: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/schemas/examples/financy_app.map.toml"
);

/// A new database holding the example app schema.
fn example_db(name: &str) -> String {
    let url = fresh_database(name);
    psql(&url, &std::fs::read_to_string(EXAMPLE_SQL).unwrap());
    url
}

/// Every constraint, index and trigger of the schema, as text (with validity and state).
fn catalog(url: &str) -> String {
    psql(
        url,
        "SELECT string_agg(x, E'\\n' ORDER BY x) FROM (
           SELECT 'c ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
                  || ' ' || convalidated || coalesce(obj_description(oid, 'pg_constraint'), '') AS x
           FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND conrelid <> 0
             AND conrelid::regclass::text NOT LIKE 'finseed%'
           UNION ALL
           SELECT 'i ' || indexrelid::regclass || ' ' || pg_get_indexdef(indexrelid) || indisvalid
           FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
           WHERE c.relnamespace = 'public'::regnamespace AND c.relname NOT LIKE 'finseed%'
           UNION ALL
           SELECT 't ' || tgrelid::regclass || ' ' || tgname || ' ' || tgenabled::text || pg_get_triggerdef(oid)
           FROM pg_trigger WHERE NOT tgisinternal) s",
    )
}

fn seed_args<'a>(url: &'a str, map: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "seed",
        "-q",
        "-p",
        "ci",
        "--jobs",
        "2",
        "--database-url",
        url,
        "--map",
        map,
    ];
    a.extend_from_slice(extra);
    a
}

fn verify(url: &str, map: &str, profile: &[&str]) -> String {
    let mut a = vec!["verify", "--database-url", url, "--map", map];
    a.extend_from_slice(profile);
    ok(&finseed(&a))
}

#[test]
fn the_example_seeds_and_verifies_through_its_map() {
    let url = example_db("map_example");
    let before = catalog(&url);
    ok(&finseed(&seed_args(&url, EXAMPLE_MAP, &[])));
    let out = verify(&url, EXAMPLE_MAP, &["-p", "ci"]);
    assert!(out.contains("matches the generator"), "{out}");
    // The team's definitions are untouched, defaults filled the unsent columns, the trigger ran.
    assert_eq!(catalog(&url), before);
    assert_eq!(
        psql(
            &url,
            "SELECT count(DISTINCT tenant_id), bool_or(is_deleted) FROM app_users"
        )
        .trim(),
        "1|f"
    );
    assert!(
        psql(&url, "SELECT count(*) FROM audit_log")
            .trim()
            .parse::<i64>()
            .unwrap()
            >= 1
    );
    // Money as cents, dates as timestamps, text into enums and jsonb, constants.
    assert_eq!(
        psql(
            &url,
            "SELECT count(*) FROM ledger_entries WHERE imported_by <> 'finseed'
                OR source->>'input_method' IS NULL OR booked_at::time <> '00:00'"
        )
        .trim(),
        "0"
    );
    // finseed made no table of its own data.
    assert_eq!(
        psql(
            &url,
            "SELECT to_regclass('transactions') IS NULL AND to_regclass('users') IS NULL"
        )
        .trim(),
        "t"
    );
    // A rerun loads nothing twice.
    let again = ok(&finseed(&seed_args(&url, EXAMPLE_MAP, &[])));
    assert!(!again.contains("error"), "{again}");
    verify(&url, EXAMPLE_MAP, &["-p", "ci"]);
    // Changing a loaded value is caught, on the mapped column.
    psql(&url, "UPDATE ledger_entries SET amount_cents = amount_cents + 1 WHERE entry_id = (SELECT entry_id FROM ledger_entries ORDER BY entry_id LIMIT 1)");
    let out = finseed(&[
        "verify",
        "-p",
        "ci",
        "--database-url",
        &url,
        "--map",
        EXAMPLE_MAP,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("DIFFERS in amount_cents"),
        "{}",
        text(&out)
    );
}

const EXAMPLE_QUERIES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/schemas/examples/financy_app_queries"
);

/// `bench --map` runs the team's query files with the parameter pools drawn from the mapped
/// tables (UUID keys, bound as text); `run --map` seeds and benches the same way.
#[test]
fn bench_runs_the_teams_queries_through_the_map() {
    let url = example_db("map_bench");
    ok(&finseed(&seed_args(&url, EXAMPLE_MAP, &[])));
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let bench = |extra: &[&str]| {
        let mut a = vec![
            "bench",
            "-q",
            "--database-url",
            &url,
            "--map",
            EXAMPLE_MAP,
            "--iterations",
            "3",
            "--warmup",
            "1",
        ];
        a.extend_from_slice(extra);
        finseed(&a)
    };
    let out = bench(&[
        "--queries",
        EXAMPLE_QUERIES,
        "--json",
        json.to_str().unwrap(),
    ]);
    ok(&out);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["failures"].as_array().unwrap().len(), 0, "{r}");
    let names: Vec<&str> = r["queries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    // The pools hold the team's keys: UUIDs that exist in its tables.
    let busy = r["params"]["busy_contexts"][0].as_str().unwrap();
    assert_eq!(busy.len(), 36, "{busy}");
    assert_eq!(
        psql(
            &url,
            &format!("SELECT count(*) > 0 FROM ledger_entries WHERE wallet_id = '{busy}'")
        )
        .trim(),
        "t"
    );
    let user = r["params"]["users"][0].as_str().unwrap();
    assert_ne!(
        psql(&url, &format!("SELECT count(*) FROM wallet_members WHERE user_uuid = '{user}' AND role <> 'viewer'")).trim(),
        "0"
    );
    let cursor = &r["params"]["busy_cursors"][0];
    assert_eq!(cursor[2].as_str().unwrap().len(), 36, "{cursor}");
    // Every query returned rows: the keyset page, the dashboard, the breakdown and the export.
    for q in r["queries"].as_array().unwrap() {
        assert!(q["rows"].as_f64().unwrap_or(0.0) > 0.0, "{q}");
    }
    // The same pools on a rerun (drawn deterministically from the data and the seed).
    let again = dir.path().join("again.json");
    ok(&bench(&[
        "--queries",
        EXAMPLE_QUERIES,
        "--json",
        again.to_str().unwrap(),
    ]));
    let r2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&again).unwrap()).unwrap();
    assert_eq!(r["params"], r2["params"]);
    // Through a map the built-in queries (finseed's tables) and scenarios are refused first.
    let out = bench(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--queries DIR"), "{}", text(&out));
    let out = bench(&["--scenario", "dashboard_analytics_load"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // `run --map` seeds and benches through the map in one command.
    let url2 = example_db("map_run");
    let out = finseed(&[
        "run",
        "-q",
        "-p",
        "ci",
        "--database-url",
        &url2,
        "--map",
        EXAMPLE_MAP,
        "--queries",
        EXAMPLE_QUERIES,
        "--iterations",
        "2",
        "--warmup",
        "0",
    ]);
    ok(&out);
    assert!(text(&out).contains("wallet_dashboard"), "{}", text(&out));
}

/// A resume through a map that decides differently would mix two kinds of rows: refused at
/// once. Comments and layout of the map may change.
#[test]
fn a_resume_through_another_map_is_refused() {
    let url = example_db("map_fingerprint");
    ok(&finseed(&seed_args(&url, EXAMPLE_MAP, &[])));
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(EXAMPLE_MAP).unwrap();
    let commented = write_map(
        dir.path(),
        "commented.toml",
        &format!("# reviewed by the team\n\n{original}"),
    );
    ok(&finseed(&seed_args(&url, commented.to_str().unwrap(), &[])));
    let other = write_map(
        dir.path(),
        "other.toml",
        &original.replace(
            r#"imported_by = { value = "finseed" }"#,
            r#"imported_by = { value = "seeder" }"#,
        ),
    );
    let out = finseed(&seed_args(&url, other.to_str().unwrap(), &[]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("another map"), "{}", text(&out));
    assert_eq!(
        psql(
            &url,
            "SELECT count(*) FROM ledger_entries WHERE imported_by <> 'finseed'"
        )
        .trim(),
        "0"
    );
}

/// `plan --map --database-url` reads the targets' definitions (writing nothing) and says how
/// much slower a load with them in place is than `--defer-constraints`.
#[test]
fn plan_estimates_the_load_with_the_teams_definitions_in_place() {
    let url = example_db("map_plan");
    let before = catalog(&url);
    let out = ok(&finseed(&[
        "plan",
        "-p",
        "small",
        "--map",
        EXAMPLE_MAP,
        "--database-url",
        &url,
    ]));
    assert!(
        out.contains("12 indexes (8 unique), 13 foreign keys and 0 row triggers"),
        "{out}"
    );
    let ratio: f64 = out
        .split("with them in place: load about ")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split('x').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(ratio > 1.5, "{out}");
    assert!(out.contains("with --defer-constraints: load"), "{out}");
    assert_eq!(catalog(&url), before);
    assert_eq!(
        psql(&url, "SELECT to_regclass('finseed_run') IS NULL").trim(),
        "t"
    );
    // Without a database, plan says what it would need.
    let out = ok(&finseed(&["plan", "-p", "ci", "--map", EXAMPLE_MAP]));
    assert!(out.contains("add --database-url"), "{out}");
}

/// A digest of every mapped key column, to compare two loads.
fn uuids(url: &str) -> String {
    psql(
        url,
        "SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
           SELECT user_uuid::text AS x FROM app_users
           UNION ALL SELECT wallet_id::text || owner_uuid::text FROM wallets
           UNION ALL SELECT entry_id::text || wallet_id::text || user_uuid::text || coalesce(category_id::text, '') FROM ledger_entries
           UNION ALL SELECT entry_id::text || coalesce(approved_by::text, '') FROM ledger_splits) s",
    )
}

#[test]
fn uuids_are_the_same_across_runs_and_shards() {
    let whole = example_db("map_uuid_whole");
    ok(&finseed(&seed_args(&whole, EXAMPLE_MAP, &[])));
    let sharded = example_db("map_uuid_shards");
    ok(&finseed(&seed_args(
        &sharded,
        EXAMPLE_MAP,
        &["--shard", "2/2"],
    )));
    ok(&finseed(&seed_args(
        &sharded,
        EXAMPLE_MAP,
        &["--shard", "1/2"],
    )));
    assert_eq!(uuids(&whole), uuids(&sharded));
    verify(&sharded, EXAMPLE_MAP, &["-p", "ci"]);
    // And fixed for good: users' id 1 always has this UUID (a UUIDv8 of (users, 1)).
    let one = psql(
        &whole,
        "SELECT count(*) FROM app_users WHERE substr(user_uuid::text, 15, 1) = '8'",
    );
    assert_eq!(one.trim(), "300");
    let u = finseed::encode::mapped::uuid_text(&finseed::encode::mapped::uuid("users", 1));
    assert_eq!(
        psql(
            &whole,
            &format!("SELECT count(*) FROM app_users WHERE user_uuid = '{u}'")
        )
        .trim(),
        "1"
    );
}

fn write_map(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A map of users only (everything else skipped) into `table`.
fn users_only(table: &str, columns: &str) -> String {
    format!(
        "[users]\ntarget = \"{table}\"\n[users.columns]\n{columns}\n\
         [contexts]\nskip = true\n[context_members]\nskip = true\n[categories]\nskip = true\n\
         [budgets]\nskip = true\n[transactions]\nskip = true\n[transaction_splits]\nskip = true\n\
         [ai_insights]\nskip = true\n"
    )
}

#[test]
fn each_conversion_loads_and_verifies() {
    let url = fresh_database("map_conversions");
    psql(
        &url,
        "CREATE TYPE tier AS ENUM ('business', 'family', 'free', 'premium', 'extra');
         CREATE TABLE people (
             uid       uuid PRIMARY KEY,
             n4        integer NOT NULL,
             n8        bigint NOT NULL,
             idnum     numeric NOT NULL,
             income    numeric(16,4) NOT NULL,
             cents     bigint NOT NULL,
             name      text NOT NULL,
             email     varchar(100) NOT NULL,
             cpf       char(14) NOT NULL,
             tier      tier NOT NULL,
             since     timestamp NOT NULL,
             since_tz  timestamptz NOT NULL,
             extra     jsonb NOT NULL,
             k_text    text NOT NULL,
             k_int     smallint NOT NULL,
             k_bool    boolean NOT NULL,
             k_uuid    uuid NOT NULL,
             k_num     numeric(8,2) NOT NULL,
             untouched text DEFAULT 'd' NOT NULL,
             maybe     text
         );
         CREATE TABLE days (d date NOT NULL, d_ts timestamp NOT NULL, d_tz timestamptz NOT NULL, pct smallint NOT NULL, ok boolean NOT NULL);",
    );
    let dir = tempfile::tempdir().unwrap();
    let columns = r#"uid = { from = "id" }
n4 = { from = "id" }
n8 = { from = "id" }
idnum = { from = "id" }
income = { from = "monthly_income" }
cents = { from = "monthly_income" }
name = { from = "full_name" }
email = {}
cpf = {}
tier = { from = "plan_tier" }
since = { from = "created_at" }
since_tz = { from = "created_at" }
extra = { from = ["timezone", "locale", "monthly_income", "id", "created_at"] }
k_text = { value = "it's" }
k_int = { value = 7 }
k_bool = { value = true }
k_uuid = { value = "00000000-0000-8000-8000-000000000001" }
k_num = { value = 12 }
untouched = { default = true }"#;
    let mut map = users_only("people", columns);
    map = map.replace(
        "[budgets]\nskip = true\n",
        "[budgets]\ntarget = \"days\"\n[budgets.columns]\nd = { from = \"month\" }\nd_ts = { from = \"month\" }\nd_tz = { from = \"month\" }\npct = { from = \"alert_percent\" }\nok = { value = true }\n",
    );
    // budgets reference categories and contexts, which this map skips: named and refused.
    let m = write_map(dir.path(), "conv.toml", &map);
    let out = finseed(&seed_args(&url, m.to_str().unwrap(), &[]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("budgets is mapped but"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("fix:"), "{}", text(&out));
    // Map the referenced tables to nothing but keep budgets: use uuid-free targets instead.
    psql(
        &url,
        "CREATE TABLE ctx (id bigint NOT NULL); CREATE TABLE cats (id bigint NOT NULL)",
    );
    let map = map
        .replace(
            "[contexts]\nskip = true\n",
            "[contexts]\ntarget = \"ctx\"\n[contexts.columns]\nid = {}\n",
        )
        .replace(
            "[categories]\nskip = true\n",
            "[categories]\ntarget = \"cats\"\n[categories.columns]\nid = {}\n",
        );
    let m = write_map(dir.path(), "conv.toml", &map);
    let m = m.to_str().unwrap();
    ok(&finseed(&seed_args(&url, m, &[])));
    verify(&url, m, &["-p", "ci"]);
    let row = psql(
        &url,
        "SELECT uid = (SELECT uid FROM people p2 WHERE p2.n8 = 1), n4, n8, idnum, income, cents, cents,
                cents = (income * 100)::bigint, tier::text <> 'extra', since = since_tz AT TIME ZONE 'UTC',
                extra->>'locale', (extra->>'id')::bigint = n8, jsonb_typeof(extra->'monthly_income'),
                k_text, k_int, k_bool, k_uuid, k_num, untouched, maybe IS NULL
         FROM people WHERE n8 = 1",
    );
    let f: Vec<&str> = row.trim().split('|').collect();
    assert_eq!(f[0], "t");
    assert_eq!(&f[1..4], &["1", "1", "1"]);
    assert!(
        f[4].ends_with("00"),
        "numeric(16,4) keeps 4 places: {}",
        f[4]
    );
    assert_eq!(f[5], f[6]);
    assert_eq!(f[7], "t");
    assert_eq!(f[8], "t");
    assert_eq!(f[9], "t", "timestamp is the UTC wall clock");
    assert_eq!(f[10], "pt-BR");
    assert_eq!(f[11], "t");
    assert_eq!(f[12], "number");
    assert_eq!(
        &f[13..],
        &[
            "it's",
            "7",
            "t",
            "00000000-0000-8000-8000-000000000001",
            "12.00",
            "d",
            "t"
        ]
    );
    assert_eq!(
        psql(&url, "SELECT count(*) FROM days WHERE d_ts <> d::timestamp OR d_tz <> (d::timestamp AT TIME ZONE 'UTC') OR NOT ok").trim(),
        "0"
    );
    assert!(
        psql(&url, "SELECT count(*) FROM days")
            .trim()
            .parse::<i64>()
            .unwrap()
            > 0
    );
}

/// Exit 2, naming `what`, with a fix, and nothing of finseed's written.
fn refused(url: &str, map: &Path, what: &[&str]) {
    let out = finseed(&seed_args(url, map.to_str().unwrap(), &[]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    for w in what {
        assert!(t.contains(w), "expected `{w}` in: {t}");
    }
    assert!(t.contains("fix:"), "{t}");
    assert_eq!(
        psql(url, "SELECT to_regclass('finseed_ledger') IS NULL").trim(),
        "t",
        "nothing may be written before a refusal"
    );
}

#[test]
fn bad_maps_are_refused_before_anything_is_written() {
    let url = fresh_database("map_refusals");
    psql(
        &url,
        "CREATE TYPE tier AS ENUM ('free', 'premium');
         CREATE TABLE u (id bigint NOT NULL, name varchar(10), tier tier, tenant int NOT NULL, note text)",
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A NOT NULL column without a DEFAULT and without a source.
    let m = write_map(d, "a.toml", &users_only("u", "id = {}"));
    refused(
        &url,
        &m,
        &["u.tenant", "NOT NULL without a DEFAULT", "tenant = {"],
    );
    // A varchar too short for the generated names.
    let m = write_map(
        d,
        "b.toml",
        &users_only(
            "u",
            "id = {}\ntenant = { value = 1 }\nname = { from = \"full_name\" }",
        ),
    );
    refused(
        &url,
        &m,
        &["b.toml:6", "u.name", "too short", "varchar(80)"],
    );
    // An enum lacking labels finseed produces.
    let m = write_map(
        d,
        "c.toml",
        &users_only(
            "u",
            "id = {}\ntenant = { value = 1 }\ntier = { from = \"plan_tier\" }",
        ),
    );
    refused(
        &url,
        &m,
        &[
            "c.toml:6",
            "lacks the label(s) family, business",
            "ALTER TYPE tier ADD VALUE 'family'",
        ],
    );
    // A column the target does not have.
    let m = write_map(
        d,
        "d.toml",
        &users_only(
            "u",
            "id = {}\ntenant = { value = 1 }\nnickname = { from = \"full_name\" }",
        ),
    );
    refused(&url, &m, &["d.toml:6", "u has no column `nickname`"]);
    // A type finseed cannot convert into.
    let m = write_map(
        d,
        "e.toml",
        &users_only("u", "id = {}\ntenant = { from = \"created_at\" }"),
    );
    refused(&url, &m, &["e.toml:5", "cannot be converted to integer"]);
    // A finseed column that does not exist, a missing target table, a table left out.
    let m = write_map(
        d,
        "f.toml",
        &users_only("u", "id = {}\ntenant = { from = \"shoe_size\" }"),
    );
    refused(&url, &m, &["f.toml:", "has no column `shoe_size`"]);
    let m = write_map(d, "g.toml", &users_only("nowhere", "id = {}"));
    refused(&url, &m, &["g.toml:1", "no table `nowhere`"]);
    let m = write_map(d, "h.toml", "[users]\nskip = true\n");
    refused(&url, &m, &["h.toml", "neither mapped nor skipped"]);
    let m = write_map(d, "i.toml", "[users\n");
    refused(&url, &m, &["i.toml:1"]);
    // --defer-constraints needs a map; --fresh is refused with one.
    let out = finseed(&[
        "seed",
        "-p",
        "ci",
        "--database-url",
        &url,
        "--defer-constraints",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let ok_map = write_map(
        d,
        "j.toml",
        &users_only("u", "id = {}\ntenant = { value = 1 }"),
    );
    let out = finseed(&seed_args(&url, ok_map.to_str().unwrap(), &["--fresh"]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    // The good one loads.
    ok(&finseed(&seed_args(&url, ok_map.to_str().unwrap(), &[])));
    assert_eq!(
        psql(&url, "SELECT count(*), count(DISTINCT tenant) FROM u").trim(),
        "300|1"
    );
}

#[test]
fn map_prints_a_commented_starting_map_for_the_example() {
    let url = example_db("map_command");
    let out = finseed(&["map", "--database-url", &url]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for want in [
        "target = \"app_users\"",
        "target = \"spending_categories\"",
        "target = \"ledger_entries\"",
        "monthly_income_cents = { from = \"monthly_income\" }",
        "tenant_id = { default = true }",
        "user_uuid = { from = \"id\" }",
        "money -> integer cents",
        "text -> enum (labels checked)",
        "NEEDS A VALUE: app_users.plan",
        "[ai_insights]\nskip = true",
    ] {
        assert!(t.contains(want), "expected `{want}` in:\n{t}");
    }
    // Written with --out, it is a map file finseed reads (the needed values still refused).
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("start.map.toml");
    ok(&finseed(&[
        "map",
        "--database-url",
        &url,
        "--out",
        p.to_str().unwrap(),
    ]));
    let out = finseed(&seed_args(&url, p.to_str().unwrap(), &[]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("app_users.plan"), "{}", text(&out));
}

fn spawn(args: &[&str]) -> std::process::Child {
    common::finseed_command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// kill -9 at each phase of a --defer-constraints load (saving and dropping, COPY, adding
/// constraints back, validating foreign keys, building indexes, analyzing), then the same command: every one of the team's
/// definitions is back exactly, nothing is left saved, and the data verifies.
#[test]
fn defer_constraints_restores_the_catalog_after_kill_9() {
    let reference = example_db("map_defer_ref");
    let before = catalog(&reference);
    assert!(before.lines().count() > 25, "{before}");
    for (round, statement) in [
        "ALTER TABLE%DROP%",
        "COPY%",
        "ALTER TABLE%ADD CONSTRAINT%",
        "ALTER TABLE%VALIDATE CONSTRAINT%",
        "CREATE INDEX%",
        "ANALYZE%",
    ]
    .iter()
    .enumerate()
    {
        let url = example_db(&format!("map_defer_{round}"));
        let db = url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_string();
        let args = seed_args(&url, EXAMPLE_MAP, &["--defer-constraints", "--scale", "8"]);
        let mut child = spawn(&args);
        let start = std::time::Instant::now();
        let mut seen = false;
        while child.try_wait().unwrap().is_none() && start.elapsed().as_secs() < 120 {
            let running: u64 = psql(
                &url,
                &format!(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' AND application_name = 'finseed' AND query LIKE '{statement}'"
                ),
            )
            .trim()
            .parse()
            .unwrap();
            if running > 0 {
                seen = true;
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &child.id().to_string()])
                    .status();
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let _ = child.wait_with_output().unwrap();
        eprintln!("round {round} ({statement}): killed mid-statement: {seen}");
        ok(&finseed(&args));
        assert_eq!(catalog(&url), before, "round {round} ({statement})");
        assert_eq!(
            psql(&url, "SELECT count(*) FROM finseed_deferred").trim(),
            "0"
        );
        verify(&url, EXAMPLE_MAP, &["-p", "ci", "--scale", "8"]);
    }
}

/// How many foreign keys of the schema are NOT VALID.
fn not_valid_fks(url: &str) -> u64 {
    psql(
        url,
        "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND NOT convalidated
           AND connamespace = 'public'::regnamespace",
    )
    .trim()
    .parse()
    .unwrap()
}

/// A kill -9 after the team's foreign keys were added back NOT VALID and before they were
/// validated (made certain: a session holds finseed_deferred so no validation can commit),
/// then the same command: every key is validated, the catalog (convalidated included) is
/// exactly as before and nothing is left saved.
#[test]
fn defer_constraints_validates_keys_a_kill_left_not_valid() {
    let before = catalog(&example_db("map_notvalid_ref"));
    let url = example_db("map_notvalid");
    let db = url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let full = seed_args(&url, EXAMPLE_MAP, &["--defer-constraints"]);
    let mut first = full.clone();
    first.extend_from_slice(&["--steps", "load,primary_keys"]);
    ok(&finseed(&first));
    assert_eq!(not_valid_fks(&url), 0);
    // Hold finseed_deferred in SHARE mode: rows can be read but none can leave it.
    let holder = std::process::Command::new(common::psql_program())
        .args([
            "-X",
            "-q",
            "-d",
            &url,
            "-c",
            "BEGIN; LOCK TABLE finseed_deferred IN SHARE MODE; SELECT pg_sleep(300); COMMIT",
        ])
        .env("PGAPPNAME", "finseed-test-holder")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |sql: &str| {
        let start = std::time::Instant::now();
        while psql(&url, sql).trim() != "t" {
            assert!(start.elapsed().as_secs() < 120, "timed out waiting: {sql}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    wait_for(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'finseed_deferred'::regclass
           AND mode = 'ShareLock' AND granted)",
    );
    let mut child = spawn(&full);
    // A validation done, waiting to forget its row: the keys were all added NOT VALID.
    wait_for(&format!(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = '{db}'
           AND application_name = 'finseed' AND query LIKE 'DELETE FROM finseed_deferred%'
           AND wait_event_type = 'Lock')"
    ));
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status();
    let _ = child.wait();
    psql(
        &url,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = '{db}' AND application_name IN ('finseed-test-holder', 'finseed')"
        ),
    );
    let mut holder = holder;
    let _ = holder.wait();
    let left = not_valid_fks(&url);
    assert!(left > 0, "the kill left no key NOT VALID");
    ok(&finseed(&full));
    assert_eq!(not_valid_fks(&url), 0);
    assert_eq!(catalog(&url), before);
    assert_eq!(
        psql(&url, "SELECT count(*) FROM finseed_deferred").trim(),
        "0"
    );
    verify(&url, EXAMPLE_MAP, &["-p", "ci"]);
}
