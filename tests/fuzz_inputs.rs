//! Property tests: arbitrary input to every reader of user input never panics, and what it
//! refuses is bad input (exit code 2), never an internal failure.
//!
//! Readers: profiles (`Profile::parse`, then `--scale`), connection strings (`Target::parse`),
//! query-file headers (`QuerySpec::parse`), `--thresholds` and `--baseline` files.
//! `PROPTEST_CASES` sets the cases per property (default 256, about a second in all);
//! `bash bench/fuzz.sh` runs them with many more cases for ten minutes.

use finseed::bench::query::QuerySpec;
use finseed::db::Target;
use finseed::profile::Profile;
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    Config {
        cases,
        // Shrinking a failure is worth a little time; a failure is printed with its input.
        max_shrink_iters: 2048,
        ..Config::default()
    }
}

/// A TOML value of any type, including extremes and forms readers trip on.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (0i64..100_000_000_000).prop_map(|n| n.to_string()),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(1),
            Just(i64::MAX),
            Just(i64::MIN)
        ]
        .prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        prop_oneof![
            Just("nan"),
            Just("inf"),
            Just("-inf"),
            Just("1e400"),
            Just("-0.0")
        ]
        .prop_map(str::to_string),
        "[a-z0-9 @:/._-]{0,20}".prop_map(|s| format!("\"{s}\"")),
        (1900u32..2200, 0u32..14, 0u32..33).prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        (1900u32..2200, 1u32..13, 1u32..29)
            .prop_map(|(y, m, d)| format!("\"{y:04}-{m:02}-{d:02}\"")),
        Just("2025-10-31T10:00:00Z".to_string()),
        Just("10:00:00".to_string()),
        Just("true".to_string()),
        Just("[1, 2]".to_string()),
        Just("{ a = 1 }".to_string()),
        ".{0,12}".prop_map(|s: String| s),
    ]
}

const PROFILE: &str = r#"name = "t"
seed = 1

[volume]
users = 10
contexts = 5
categories = 100
transactions = 100
ai_insights = 10

[window]
months = 6
end_date = "2025-10-31"

[shape]
personal_percent = 55
family_percent = 20
shared_percent = 15
business_percent = 10
activity_alpha = 1.3
merchant_skew = 1.1
split_percent = 30
budget_percent = 40
uncategorised_percent = 5
max_contexts_per_user = 5
december_peak_percent = 35

[auth]
password = "Financy@Teste2025"
bcrypt_cost = 4

[thresholds]
dashboard_summary = 500
"#;

/// The shipped-like profile with some of its values replaced by arbitrary ones, some lines
/// dropped, and maybe an extra line: close enough to valid that the checks after parsing run.
fn mutated_profile() -> impl Strategy<Value = String> {
    let lines: Vec<&'static str> = PROFILE.lines().collect();
    let n = lines.len();
    (
        proptest::collection::vec((0..n, toml_value()), 0..4),
        proptest::collection::vec(0..n, 0..2),
        proptest::option::of(("[a-z_.]{1,20}", toml_value())),
    )
        .prop_map(move |(replace, drop, extra)| {
            let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            for (i, v) in replace {
                if let Some((k, _)) = out[i].split_once(" = ") {
                    out[i] = format!("{k} = {v}");
                }
            }
            for i in drop {
                out[i] = String::new();
            }
            if let Some((k, v)) = extra {
                out.push(format!("{k} = {v}"));
            }
            out.join("\n")
        })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn profile_parser_never_panics_on_any_text(text in ".{0,400}") {
        if let Err(e) = Profile::parse(&text, "fuzz.toml") {
            prop_assert_eq!(e.exit_code(), 2, "{}", e);
        }
    }

    #[test]
    fn profile_parser_never_panics_on_near_valid_profiles(
        text in mutated_profile(),
        scale in prop_oneof![any::<f64>(), 0.0f64..2000.0],
    ) {
        match Profile::parse(&text, "fuzz.toml") {
            Ok(p) => {
                if let Err(e) = p.scaled(scale) {
                    prop_assert_eq!(e.exit_code(), 2, "{}", e);
                }
            }
            Err(e) => prop_assert_eq!(e.exit_code(), 2, "{}", e),
        }
    }

    #[test]
    fn connection_strings_never_panic(url in prop_oneof![
        ".{0,120}",
        (
            prop_oneof![Just("postgres://"), Just("postgresql://"), Just("")],
            "[a-z@:%/ ?=&.'\\\\0-9-]{0,60}",
        ).prop_map(|(a, b)| format!("{a}{b}")),
        (
            "[a-z]{0,6}",
            "[ -~]{0,12}",
            "[a-z0-9.:\\[\\]]{0,16}",
            prop_oneof![Just(""), Just("5432"), Just("99999"), Just("x")],
            "[a-z=&_-]{0,30}",
        ).prop_map(|(u, pw, h, port, q)| format!("postgres://{u}:{pw}@{h}:{port}/db?{q}")),
        (
            "[a-z]{0,6}",
            "[ -~]{0,12}",
            prop_oneof![Just("require"), Just("verify-full"), Just("disable"), Just("x")],
        ).prop_map(|(u, pw, m)| format!("host=127.0.0.1 user={u} password='{pw}' sslmode={m}")),
    ]) {
        if let Err(e) = Target::parse(&url) {
            prop_assert_eq!(e.exit_code(), 2, "{}", e);
        }
    }

    #[test]
    fn query_headers_never_panic(
        header in proptest::collection::vec(
            (
                prop_oneof![
                    Just("name"), Just("scenario"), Just("description"), Just("params"),
                    Just("threshold_p95_ms"), Just("mode"), Just("other"),
                ],
                prop_oneof![
                    ".{0,30}",
                    "[a-z_, ]{0,40}",
                    Just("busy_context, user, as_of, busy_cursor".to_string()),
                    Just("nan".to_string()),
                    Just("-1".to_string()),
                    Just("1e400".to_string()),
                    Just("copy".to_string()),
                ],
            ),
            0..6,
        ),
        body in prop_oneof![".{0,80}", Just("SELECT 1".to_string()), Just(String::new())],
        file in "[a-z_.]{0,12}",
    ) {
        let mut text: String = header
            .iter()
            .map(|(k, v)| format!("-- {k}: {v}\n"))
            .collect();
        text.push_str(&body);
        if let Err(e) = QuerySpec::parse(&file, &text) {
            prop_assert_eq!(e.exit_code(), 2, "{}", e);
        }
    }

    #[test]
    fn query_files_of_any_text_never_panic(text in ".{0,300}") {
        if let Err(e) = QuerySpec::parse("fuzz.sql", &text) {
            prop_assert_eq!(e.exit_code(), 2, "{}", e);
        }
    }

    #[test]
    fn thresholds_files_never_panic(
        entries in proptest::collection::vec(("[a-z_]{0,24}", toml_value()), 0..5),
        table in prop_oneof![Just("thresholds"), Just("threshold"), Just("")],
        raw in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        let bytes = match raw {
            Some(b) => b,
            None => {
                let mut text = format!("[{table}]\n");
                for (k, v) in &entries {
                    text.push_str(&format!("{k} = {v}\n"));
                }
                text.into_bytes()
            }
        };
        std::fs::write(&path, bytes).unwrap();
        let queries = finseed::bench::query::load(None).unwrap();
        if let Err(e) = finseed::commands::read_thresholds_for(&path, &queries) {
            prop_assert_eq!(e.exit_code(), 2, "{}", e);
        }
    }

    #[test]
    fn baseline_files_never_panic(
        text in prop_oneof![
            ".{0,200}",
            Just(String::new()),
            Just("{}".to_string()),
            Just("{\"schema_version\": 1, \"queries\": [{}]}".to_string()),
            any::<f64>().prop_map(|f| format!("{{\"schema_version\": {f:?}}}")),
        ],
        raw in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.json");
        std::fs::write(&path, raw.unwrap_or_else(|| text.into_bytes())).unwrap();
        if let Err(e) = finseed::commands::read_baseline(&path) {
            prop_assert_eq!(e.exit_code(), 2, "{}", e);
        }
    }
}
