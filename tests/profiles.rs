//! Bad profiles are refused with the file, the line, the field and a fix, exit code 2.

use std::process::Command;

fn run_profile(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_finseed"))
        .args(["generate", "-q", "-p", path.to_str().unwrap(), "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    if code != 0 {
        assert!(
            !dir.path().join("out").exists(),
            "a refused profile must write nothing"
        );
    }
    (code, String::from_utf8_lossy(&out.stderr).into_owned())
}

const GOOD: &str = r#"name = "t"
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
"#;

fn expect(text: &str, line: usize, field: &str) {
    let (code, err) = run_profile(text);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("bad.toml:{line}:")),
        "want line {line}: {err}"
    );
    assert!(err.contains(field), "want field {field}: {err}");
    assert!(err.contains("fix:"), "{err}");
}

#[test]
fn a_good_profile_works() {
    let (code, err) = run_profile(GOOD);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn unknown_key() {
    expect(
        &GOOD.replace("ai_insights = 10", "ai_insights = 10\ntransactons = 5"),
        10,
        "transactons",
    );
}

#[test]
fn negative_count() {
    expect(
        &GOOD.replace("users = 10", "users = -10"),
        5,
        "volume.users",
    );
}

#[test]
fn transactions_without_users() {
    expect(
        &GOOD
            .replace("users = 10", "users = 0")
            .replace("contexts = 5", "contexts = 0"),
        8,
        "volume.transactions",
    );
}

#[test]
fn more_contexts_than_owners_allow() {
    expect(
        &GOOD.replace("contexts = 5", "contexts = 500"),
        6,
        "volume.contexts",
    );
}

#[test]
fn too_few_categories() {
    expect(
        &GOOD.replace("categories = 100", "categories = 3"),
        7,
        "volume.categories",
    );
}

#[test]
fn malformed_toml() {
    expect(&GOOD.replace("months = 6", "months = = 6"), 12, "months");
}

#[test]
fn bad_date() {
    expect(
        &GOOD.replace("2025-10-31", "2025-02-30"),
        13,
        "window.end_date",
    );
}

#[test]
fn wrong_type() {
    expect(&GOOD.replace("seed = 1", "seed = \"one\""), 2, "seed");
}

#[test]
fn context_mix_must_sum_to_100() {
    expect(
        &format!("{GOOD}\n[shape]\npersonal_percent = 90\n"),
        16,
        "shape.personal_percent",
    );
}

#[test]
fn an_unquoted_toml_date_is_a_date() {
    let (code, err) = run_profile(&GOOD.replace("\"2025-10-31\"", "2025-10-31"));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_date_with_a_time_is_refused_clearly() {
    expect(
        &GOOD.replace("\"2025-10-31\"", "2025-10-31T10:00:00"),
        13,
        "window.end_date",
    );
    let (_, err) = run_profile(&GOOD.replace("\"2025-10-31\"", "2025-10-31T10:00:00"));
    assert!(!err.contains("invalid type"), "{err}");
    expect(
        &GOOD.replace("\"2025-10-31\"", "20251031"),
        13,
        "window.end_date",
    );
}

#[test]
fn a_bcrypt_cost_that_would_take_days_is_refused() {
    expect(
        &format!("{GOOD}\n[auth]\nbcrypt_cost = 31\n"),
        16,
        "auth.bcrypt_cost",
    );
}

#[test]
fn every_count_is_capped() {
    expect(
        &GOOD.replace("categories = 100", "categories = 20000000000"),
        7,
        "volume.categories",
    );
}
