//! Parquet, compressed text, exact JSON decimals, schema.sql/load.sql and `--out -`, checked
//! with real readers: DuckDB and pyarrow from Python (`.ci/run` makes the venv; set
//! `FINSEED_PYTHON` to use another interpreter). Expected values come from our own CSV of the
//! same profile and seed, summed as integers: never through a float.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn finseed(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_finseed"))
        .args(args)
        .env("CI", "1")
        .output()
        .expect("run finseed")
}

fn generate(dir: &Path, extra: &[&str]) {
    let mut args = vec!["generate", "--quiet", "--out", dir.to_str().unwrap()];
    if !extra.contains(&"-p") {
        args.extend_from_slice(&["-p", "ci"]);
    }
    args.extend_from_slice(extra);
    let out = finseed(&args);
    assert!(
        out.status.success(),
        "finseed {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The Python with duckdb and pyarrow: `FINSEED_PYTHON`, else the venv `.ci/run` makes.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("FINSEED_PYTHON") {
        return PathBuf::from(p);
    }
    let venv: PathBuf = [env!("CARGO_MANIFEST_DIR"), ".ci", "venv", "bin", "python"]
        .iter()
        .collect();
    assert!(
        venv.exists(),
        "these tests read the files with DuckDB and pyarrow from Python, and found neither \
         FINSEED_PYTHON nor {}\n  fix: python3 -m venv .ci/venv && .ci/venv/bin/pip install \
         duckdb==2.0.0 pyarrow==26.0.1 (what `bash .ci/run` does), or set FINSEED_PYTHON",
        venv.display()
    );
    venv
}

/// Run a Python script with arguments; its last stdout line is JSON.
fn py(script: &str, args: &[&str]) -> serde_json::Value {
    let out = Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // The script prints its answer as JSON on the last line. DuckDB draws a progress bar on
    // standard output (carriage returns, no newline) when a query takes over two seconds, as on
    // a busy CI machine, so the answer starts at the line's first bracket.
    let last = text.lines().last().unwrap_or("");
    let json = last.find(['{', '[']).map_or(last, |i| &last[i..]);
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The DDL, from `finseed schema`'s source: table → [(column, type, nullable)].
fn ddl() -> BTreeMap<String, Vec<(String, String, bool)>> {
    let sql = std::fs::read_to_string(
        [env!("CARGO_MANIFEST_DIR"), "schemas", "tables.sql"]
            .iter()
            .collect::<PathBuf>(),
    )
    .unwrap();
    let mut out = BTreeMap::new();
    for block in sql.split("CREATE TABLE IF NOT EXISTS ").skip(1) {
        let name = block.split_whitespace().next().unwrap().to_string();
        let body = &block[block.find('(').unwrap() + 1..block.find(");").unwrap()];
        let cols = body
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut w = l.split_whitespace();
                let col = w.next().unwrap().to_string();
                let ty = w.next().unwrap().trim_end_matches(',').to_string();
                (col, ty, !l.contains("NOT NULL"))
            })
            .collect();
        out.insert(name, cols);
    }
    out
}

/// Exact sums of every decimal and integer column, and row counts, from our CSV: decimal text
/// parsed as integer units. table → (rows, column → sum as decimal text).
fn csv_truth(dir: &Path) -> BTreeMap<String, (u64, BTreeMap<String, String>)> {
    let mut out = BTreeMap::new();
    for (table, cols) in ddl() {
        let mut r = csv::Reader::from_path(dir.join(format!("{table}.csv"))).unwrap();
        let mut sums: BTreeMap<String, (i128, u32)> = BTreeMap::new();
        let headers = r.headers().unwrap().clone();
        let mut rows = 0;
        for rec in r.records() {
            let rec = rec.unwrap();
            rows += 1;
            for (h, v) in headers.iter().zip(rec.iter()) {
                let ty = &cols.iter().find(|c| c.0 == h).unwrap().1;
                if ty == "bigint" || ty == "integer" {
                    let e = sums.entry(h.to_string()).or_insert((0, 0));
                    if !v.is_empty() {
                        e.0 += v.parse::<i128>().unwrap();
                    }
                } else if let Some(spec) = ty.strip_prefix("numeric(") {
                    let scale: u32 = spec
                        .trim_end_matches(')')
                        .split(',')
                        .nth(1)
                        .unwrap()
                        .parse()
                        .unwrap();
                    let e = sums.entry(h.to_string()).or_insert((0, scale));
                    if !v.is_empty() {
                        let (i, f) = v.split_once('.').unwrap();
                        assert_eq!(f.len() as u32, scale, "{table}.{h}: {v}");
                        let neg = i.starts_with('-');
                        let units: i128 = i.trim_start_matches('-').parse::<i128>().unwrap()
                            * 10i128.pow(scale)
                            + f.parse::<i128>().unwrap();
                        e.0 += if neg { -units } else { units };
                    }
                }
            }
        }
        let sums = sums
            .into_iter()
            .map(|(c, (u, s))| {
                if s == 0 {
                    return (c, u.to_string()); // an integer column
                }
                let p = 10i128.pow(s);
                let sign = if u < 0 { "-" } else { "" };
                let a = u.abs();
                (c, format!("{sign}{}.{:0w$}", a / p, a % p, w = s as usize))
            })
            .collect();
        out.insert(table, (rows, sums));
    }
    out
}

/// Reads every table's Parquet with pyarrow and DuckDB: types, nullability, counts, exact sums.
const READ_PARQUET: &str = r#"
import json, sys, os, duckdb, pyarrow.parquet as pq, pyarrow.compute as pc
d = sys.argv[1]
out = {}
con = duckdb.connect()
for f in sorted(os.listdir(d)):
    if not f.endswith('.parquet'):
        continue
    t = f[:-len('.parquet')]
    pf = pq.ParquetFile(os.path.join(d, f))
    tab = pf.read()
    md = pf.metadata
    cols = []
    for field in tab.schema:
        cols.append([field.name, str(field.type), field.nullable])
    sums = {}
    duck = {}
    for field in tab.schema:
        if str(field.type).startswith('decimal') or str(field.type) in ('int64', 'int32'):
            sums[field.name] = str(pc.sum(tab.column(field.name)).as_py())
            q = f"select sum({field.name})::varchar, typeof(sum({field.name})) from read_parquet('{os.path.join(d, f)}')"
            duck[field.name] = list(con.execute(q).fetchone())
        elif str(field.type).startswith(('date', 'timestamp')):
            # Days or microseconds since the epoch, summed by each reader from its own decoding.
            unit = 'int32' if str(field.type).startswith('date') else 'int64'
            a = tab.column(field.name).cast(unit)
            sums[field.name] = str(sum(x for x in a.cast('int64').to_pylist() if x is not None))
            e = f"{field.name} - DATE '1970-01-01'" if unit == 'int32' else f"epoch_us({field.name})"
            q = f"select sum({e})::varchar, 'epoch' from read_parquet('{os.path.join(d, f)}')"
            duck[field.name] = list(con.execute(q).fetchone())
    encodings = {}
    for c in range(md.num_columns):
        e = set()
        for g in range(md.num_row_groups):
            e.update(md.row_group(g).column(c).encodings)
        encodings[md.schema.column(c).name] = sorted(e)
    stats = all(md.row_group(g).column(c).is_stats_set
                for g in range(md.num_row_groups) for c in range(md.num_columns))
    out[t] = {'rows': tab.num_rows, 'duck_rows': con.execute(f"select count(*) from read_parquet('{os.path.join(d, f)}')").fetchone()[0],
              'cols': cols, 'sums': sums, 'duck': duck, 'stats': stats,
              'created_by': md.created_by, 'row_groups': md.num_row_groups,
              'encodings': encodings}
print(json.dumps(out))
"#;

/// pyarrow's type for a DDL type.
fn arrow_type(ddl: &str) -> String {
    match ddl {
        "bigint" => "int64".into(),
        "integer" => "int32".into(),
        "text" => "string".into(),
        "date" => "date32[day]".into(),
        "timestamptz" => "timestamp[us, tz=UTC]".into(),
        "boolean" => "bool".into(),
        t if t.starts_with("char(") => "string".into(),
        t if t.starts_with("numeric(") => {
            format!("decimal128{}", &t["numeric".len()..].replace(',', ", "))
        }
        t => panic!("unknown DDL type {t}"),
    }
}

#[test]
fn parquet_has_exact_types_and_the_csvs_counts_and_sums_in_pyarrow_and_duckdb() {
    let (c, p) = (tmp(), tmp());
    generate(c.path(), &[]);
    generate(p.path(), &["--format", "parquet"]);
    let truth = csv_truth(c.path());
    let got = py(READ_PARQUET, &[p.path().to_str().unwrap()]);
    let ddl = ddl();
    assert_eq!(got.as_object().unwrap().len(), 8);
    for (table, (rows, sums)) in &truth {
        let g = &got[table];
        assert_eq!(g["rows"], *rows, "{table}");
        assert_eq!(g["duck_rows"], *rows, "{table}");
        assert_eq!(g["stats"], true, "{table}: statistics");
        assert_eq!(g["created_by"], "finseed (parquet-rs)");
        let cols: Vec<(String, String, bool)> = g["cols"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c[0].as_str().unwrap().to_string(),
                    c[1].as_str().unwrap().to_string(),
                    c[2].as_bool().unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, String, bool)> = ddl[table]
            .iter()
            .map(|(n, t, null)| (n.clone(), arrow_type(t), *null))
            .collect();
        assert_eq!(cols, want, "{table}: types and nullability");
        // Integer, date and timestamp columns are DELTA_BINARY_PACKED: two independent
        // decoders must agree on them (and, for integers, with the CSV).
        for (name, ty, _) in &ddl[table] {
            let enc = &g["encodings"][name];
            let delta = matches!(ty.as_str(), "bigint" | "integer" | "date" | "timestamptz")
                || ty.starts_with("numeric(");
            if delta {
                assert!(
                    enc.as_array()
                        .unwrap()
                        .iter()
                        .any(|e| e == "DELTA_BINARY_PACKED"),
                    "{table}.{name}: {enc}"
                );
                assert_eq!(
                    g["sums"][name], g["duck"][name][0],
                    "{table}.{name}: pyarrow vs DuckDB"
                );
            }
        }
        for (col, sum) in sums {
            assert_eq!(g["sums"][col], sum.as_str(), "{table}.{col} in pyarrow");
            assert_eq!(g["duck"][col][0], sum.as_str(), "{table}.{col} in DuckDB");
            if !sum.contains('.') {
                continue; // an integer column
            }
            assert!(
                g["duck"][col][1].as_str().unwrap().starts_with("DECIMAL"),
                "{table}.{col}: {}",
                g["duck"][col][1]
            );
        }
    }
    // The `ci` profile's exact sum, pinned (the issue quoted -298952.69 for the data before the
    // insights/activity change, -193515.72 before local merchants drew their share and
    // -228510.75 before Open Finance history; the
    // readers above must agree with it exactly).
    assert_eq!(truth["transactions"].1["amount"], "-345956.64");
}

/// Runs a folder's load.sql in DuckDB, then reports types, counts and sums per table.
const RUN_LOAD_SQL: &str = r#"
import json, sys, os, duckdb
os.chdir(sys.argv[1])
con = duckdb.connect()
con.execute(open('load.sql').read())
out = {}
for (t,) in con.execute("select table_name from information_schema.tables order by 1").fetchall():
    cols = con.execute(f"select column_name, data_type, is_nullable from information_schema.columns where table_name = '{t}' order by ordinal_position").fetchall()
    sums = {}
    for (c, ty, _) in cols:
        if ty.startswith('DECIMAL'):
            sums[c] = con.execute(f"select sum({c})::varchar, typeof(sum({c})) from {t}").fetchone()
    nulls = {c: con.execute(f"select count(*) - count({c}) from {t}").fetchone()[0] for (c, _, _) in cols}
    empty = {c: con.execute(f"select count(*) from {t} where {c} = ''").fetchone()[0] for (c, ty, _) in cols if ty == 'VARCHAR'}
    out[t] = {'rows': con.execute(f"select count(*) from {t}").fetchone()[0], 'cols': cols, 'sums': sums, 'nulls': nulls, 'empty': empty}
print(json.dumps(out))
"#;

#[test]
fn load_sql_gives_exact_decimals_in_duckdb_for_every_format_and_compression() {
    let c = tmp();
    generate(c.path(), &[]);
    let truth = csv_truth(c.path());
    let reference = py(RUN_LOAD_SQL, &[c.path().to_str().unwrap()]);
    let cases: [&[&str]; 8] = [
        &["--compression", "zstd"],
        &["--compression", "gzip:9"],
        &["--format", "jsonl"],
        &["--format", "jsonl", "--compression", "zstd:19"],
        &["--format", "jsonl", "--compression", "gzip"],
        &["--format", "json"],
        &["--format", "json", "--json-decimals", "units"],
        &["--format", "parquet", "--compression", "snappy"],
    ];
    for (table, (rows, sums)) in &truth {
        let r = &reference[table];
        assert_eq!(r["rows"], *rows, "csv {table}");
        // The decimal columns (integer columns' sums have no point).
        for (col, sum) in sums.iter().filter(|(_, s)| s.contains('.')) {
            assert_eq!(r["sums"][col][0], sum.as_str(), "csv {table}.{col}");
            assert!(r["sums"][col][1].as_str().unwrap().starts_with("DECIMAL"));
        }
    }
    for args in cases {
        let d = tmp();
        generate(d.path(), args);
        let got = py(RUN_LOAD_SQL, &[d.path().to_str().unwrap()]);
        // Same tables, column types, NULLs, empty strings, counts and exact sums as the CSV.
        assert_eq!(got, reference, "{args:?}");
    }
    // schema.sql is the CREATE TABLE of exactly what was written.
    let d = tmp();
    generate(d.path(), &["--tables", "transactions,budgets"]);
    let schema = std::fs::read_to_string(d.path().join("schema.sql")).unwrap();
    assert_eq!(schema.matches("CREATE TABLE").count(), 2, "{schema}");
    assert!(
        schema.contains("amount                 numeric(14,2) NOT NULL"),
        "{schema}"
    );
}

#[test]
fn json_decimals_are_strings_by_default_and_integer_units_by_flag() {
    let (a, b) = (tmp(), tmp());
    generate(a.path(), &["--format", "jsonl", "--tables", "transactions"]);
    generate(
        b.path(),
        &[
            "--format",
            "jsonl",
            "--tables",
            "transactions",
            "--json-decimals",
            "units",
        ],
    );
    let first = |d: &Path| -> serde_json::Value {
        let t = std::fs::read_to_string(d.join("transactions.jsonl")).unwrap();
        serde_json::from_str(t.lines().next().unwrap()).unwrap()
    };
    let (s, u) = (first(a.path()), first(b.path()));
    assert_eq!(s["amount"], "1412.00");
    assert_eq!(u["amount_cents"], 141200);
    assert!(u.get("amount").is_none());
    // No JSON number with a fraction anywhere: nothing a reader could turn into a float.
    for d in [a.path(), b.path()] {
        let t = std::fs::read_to_string(d.join("transactions.jsonl")).unwrap();
        for line in t.lines().take(500) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            for (k, x) in v.as_object().unwrap() {
                assert!(!x.is_f64(), "{k}: {x}");
            }
        }
    }
}

fn read_all(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.to_string_lossy().ends_with("manifest.json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn parquet_and_compressed_files_are_the_same_at_one_and_two_threads() {
    // 300K transactions: three chunks, so two workers really interleave.
    let base = [
        "--scale",
        "0.3",
        "-p",
        "small",
        "--tables",
        "transactions,ai_insights",
    ];
    for extra in [
        &["--format", "parquet"][..],
        &[
            "--format",
            "parquet",
            "--row-group-rows",
            "30000",
            "--compression",
            "zstd:1",
        ],
        &["--compression", "zstd"],
        &["--format", "jsonl", "--compression", "gzip:1"],
    ] {
        let (a, b) = (tmp(), tmp());
        let args = |t: &'static str| [&base[..], extra, &["--threads", t]].concat();
        generate(a.path(), &args("1"));
        generate(b.path(), &args("2"));
        let (fa, fb) = (read_all(a.path()), read_all(b.path()));
        assert_eq!(fa.len(), 4, "{:?}", fa.keys());
        assert!(fa == fb, "{extra:?}: thread count changed the bytes");
        assert_eq!(
            std::fs::read(a.path().join("manifest.json")).unwrap(),
            std::fs::read(b.path().join("manifest.json")).unwrap()
        );
    }
}

/// Row groups of a Parquet file through pyarrow: rows and plain-encoded value bytes of each
/// (the measure `--row-group-bytes` bounds), and DuckDB's count and exact amount sum.
const ROW_GROUPS: &str = r#"
import json, sys, duckdb, pyarrow as pa, pyarrow.parquet as pq
f = sys.argv[1]
pf = pq.ParquetFile(f)
groups = []
for g in range(pf.metadata.num_row_groups):
    t = pf.read_row_group(g)
    size = 0
    for col in t.columns:
        ty = col.type
        valid = len(col) - col.null_count
        if pa.types.is_string(ty):
            size += 4 * valid + sum(len(v.encode()) for v in col.to_pylist() if v is not None)
        elif pa.types.is_boolean(ty):
            size += valid
        elif pa.types.is_int32(ty) or pa.types.is_date32(ty) or (pa.types.is_decimal(ty) and ty.precision <= 9):
            size += 4 * valid
        else:
            size += 8 * valid
    groups.append([t.num_rows, size])
con = duckdb.connect()
rows, total = con.execute(f"select count(*), sum(amount)::varchar from read_parquet('{f}')").fetchone()
print(json.dumps({'groups': groups, 'rows': rows, 'sum': total}))
"#;

#[test]
fn row_group_bytes_bounds_each_group_and_keeps_files_the_same_at_any_thread_count() {
    // 300K transactions in three generator chunks; 4 MiB row groups split each chunk.
    let base = [
        "-p",
        "small",
        "--scale",
        "0.3",
        "--tables",
        "transactions",
        "--format",
        "parquet",
        "--row-group-bytes",
        "4M",
    ];
    let (a, b, c) = (tmp(), tmp(), tmp());
    generate(a.path(), &[&base[..], &["--threads", "1"]].concat());
    generate(b.path(), &[&base[..], &["--threads", "2"]].concat());
    assert!(
        read_all(a.path()) == read_all(b.path()),
        "--row-group-bytes: thread count changed the bytes"
    );
    generate(c.path(), &base[..6]);
    let truth = &csv_truth_of(c.path(), "transactions");
    let f = a.path().join("transactions.parquet");
    let got = py(ROW_GROUPS, &[f.to_str().unwrap()]);
    let groups = got["groups"].as_array().unwrap();
    let limit = 4u64 << 20;
    assert!(groups.len() > 3, "4 MiB should split each chunk: {got}");
    let mut rows = 0;
    for g in groups {
        let (n, size) = (g[0].as_u64().unwrap(), g[1].as_u64().unwrap());
        assert!(
            n > 0 && size <= limit,
            "group of {n} rows, {size} bytes: {got}"
        );
        rows += n;
    }
    // Groups never span a generator chunk (100,000 transactions); within one, each is full.
    assert_eq!(rows, 300_000);
    assert_eq!(got["rows"].as_u64(), Some(truth.0));
    assert_eq!(got["sum"].as_str(), Some(truth.1.as_str()));

    // Rows and bytes combine: whichever limit comes first.
    let d = tmp();
    generate(
        d.path(),
        &[&base[..], &["--row-group-rows", "1000", "--threads", "2"]].concat(),
    );
    let f = d.path().join("transactions.parquet");
    let got = py(ROW_GROUPS, &[f.to_str().unwrap()]);
    assert!(got["groups"]
        .as_array()
        .unwrap()
        .iter()
        .all(|g| g[0].as_u64() == Some(1000)));

    for bad in ["0", "1.5M", "4X", "", "99999999999G"] {
        let dir = tmp();
        let out = finseed(&[
            "generate",
            "-p",
            "ci",
            "--out",
            dir.path().to_str().unwrap(),
            "--format",
            "parquet",
            "--row-group-bytes",
            bad,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {err}");
        assert!(
            err.contains("--row-group-bytes") && err.contains("fix:"),
            "{bad:?}: {err}"
        );
    }
}

/// Row count and the exact sum of `amount` of one table's CSV, summed as integer cents.
fn csv_truth_of(dir: &Path, table: &str) -> (u64, String) {
    let mut r = csv::Reader::from_path(dir.join(format!("{table}.csv"))).unwrap();
    let col = r
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "amount")
        .unwrap();
    let (mut rows, mut cents) = (0u64, 0i128);
    for rec in r.records() {
        let v = rec.unwrap()[col].to_string();
        let (i, f) = v.split_once('.').unwrap();
        let units =
            i.trim_start_matches('-').parse::<i128>().unwrap() * 100 + f.parse::<i128>().unwrap();
        cents += if i.starts_with('-') { -units } else { units };
        rows += 1;
    }
    let sign = if cents < 0 { "-" } else { "" };
    (
        rows,
        format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100),
    )
}

const UNION_EQUALS_WHOLE: &str = r#"
import json, sys, duckdb
whole, shards = sys.argv[1], sys.argv[2]
con = duckdb.connect()
out = {}
for t in ['transactions', 'transaction_splits', 'users']:
    w = f"read_parquet('{whole}/{t}.parquet')"
    s = f"read_parquet('{shards}/{t}.shard-*-of-3.parquet')"
    out[t] = con.execute(f"select (select count(*) from {w}), (select count(*) from {s}), (select count(*) from (select * from {w} except all select * from {s})), (select count(*) from (select * from {s} except all select * from {w}))").fetchone()
print(json.dumps(out))
"#;

#[test]
fn shards_union_to_the_whole_in_parquet_and_compressed_csv() {
    let args = [
        "-p",
        "small",
        "--scale",
        "0.3",
        "--tables",
        "users,transactions,transaction_splits",
    ];
    for format in [&["--format", "parquet"][..], &["--compression", "zstd"][..]] {
        let (whole, shards) = (tmp(), tmp());
        generate(whole.path(), &[&args[..], format].concat());
        for k in 1..=3 {
            let shard = format!("{k}/3");
            generate(
                shards.path(),
                &[&args[..], format, &["--shard", &shard]].concat(),
            );
        }
        if format[1] == "parquet" {
            let got = py(
                UNION_EQUALS_WHOLE,
                &[
                    whole.path().to_str().unwrap(),
                    shards.path().to_str().unwrap(),
                ],
            );
            for (t, v) in got.as_object().unwrap() {
                assert_eq!(v[0], v[1], "{t}: rows");
                assert!(v[0].as_u64().unwrap() > 0);
                assert_eq!((v[2].as_u64(), v[3].as_u64()), (Some(0), Some(0)), "{t}");
            }
        } else {
            for t in ["users", "transactions", "transaction_splits"] {
                let unz = |p: PathBuf| zstd::decode_all(&std::fs::read(p).unwrap()[..]).unwrap();
                let full = unz(whole.path().join(format!("{t}.csv.zst")));
                let mut joined = Vec::new();
                for k in 1..=3 {
                    let part = unz(shards.path().join(format!("{t}.shard-{k}-of-3.csv.zst")));
                    let body = if k == 1 {
                        &part[..]
                    } else {
                        &part[part.iter().position(|&b| b == b'\n').unwrap() + 1..]
                    };
                    joined.extend_from_slice(body);
                }
                assert!(joined == full, "{t}: shards differ from the whole");
            }
        }
    }
}

/// Golden sha256 of the `ci` profile in Parquet and compressed text. After an intended change:
/// `FINSEED_BLESS=1 cargo test --release golden`.
#[test]
fn golden_ci_hashes_of_parquet_and_compressed_files() {
    let mut got = String::new();
    for args in [
        &["--format", "parquet"][..],
        &["--compression", "zstd"],
        &["--format", "jsonl", "--compression", "gzip"],
    ] {
        let d = tmp();
        generate(d.path(), args);
        let m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.path().join("manifest.json")).unwrap())
                .unwrap();
        for t in m["tables"].as_array().unwrap() {
            got.push_str(&format!(
                "{}  {}\n",
                t["sha256"].as_str().unwrap(),
                t["file"].as_str().unwrap()
            ));
            let bytes = std::fs::read(d.path().join(t["file"].as_str().unwrap())).unwrap();
            assert_eq!(bytes.len() as u64, t["bytes"].as_u64().unwrap());
        }
    }
    let golden: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "golden",
        "ci-formats.sha256",
    ]
    .iter()
    .collect();
    if std::env::var_os("FINSEED_BLESS").is_some() {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden)
        .expect("tests/golden/ci-formats.sha256 (bless with FINSEED_BLESS=1)");
    assert_eq!(
        got, want,
        "the ci profile's Parquet or compressed output changed"
    );
}

#[test]
fn one_table_to_standard_output_is_the_file() {
    for format in ["csv", "parquet"] {
        let d = tmp();
        generate(d.path(), &["--format", format, "--tables", "budgets"]);
        let out = finseed(&[
            "generate", "-q", "-p", "ci", "--format", format, "--tables", "budgets", "--out", "-",
        ]);
        assert!(out.status.success());
        let file = std::fs::read(d.path().join(format!("budgets.{format}"))).unwrap();
        assert!(out.stdout == file, "{format}: stdout differs from the file");
    }
}

#[test]
fn bad_format_flags_exit_2_with_a_fix() {
    let d = tmp();
    let dir = d.path().to_str().unwrap();
    for args in [
        vec![
            "generate",
            "-p",
            "ci",
            "--out",
            dir,
            "--format",
            "parquet",
            "--compression",
            "gzip",
        ],
        vec![
            "generate",
            "-p",
            "ci",
            "--out",
            dir,
            "--compression",
            "snappy",
        ],
        vec![
            "generate",
            "-p",
            "ci",
            "--out",
            dir,
            "--format",
            "json",
            "--compression",
            "zstd",
        ],
        vec![
            "generate",
            "-p",
            "ci",
            "--out",
            dir,
            "--compression",
            "zstd:40",
        ],
        vec![
            "generate",
            "-p",
            "ci",
            "--out",
            dir,
            "--format",
            "jsonl",
            "--json-decimals",
            "float",
        ],
        vec![
            "generate",
            "-p",
            "ci",
            "--out",
            dir,
            "--format",
            "parquet",
            "--row-group-rows",
            "0",
        ],
        vec!["generate", "-p", "ci", "--out", "-"],
        vec![
            "generate",
            "-p",
            "ci",
            "--out",
            "-",
            "--tables",
            "users,budgets",
        ],
    ] {
        let out = finseed(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("fix:"), "{args:?}: {err}");
    }
}
