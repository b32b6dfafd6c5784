//! Every invariant the data promises, and the realism properties users will check, on the
//! `ci` profile and on a larger one.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::Command;

type Row = HashMap<String, String>;

struct Data {
    tables: HashMap<String, Vec<Row>>,
    end_date: String,
}

impl Data {
    fn load(profile: &str, extra: &[&str], end_date: &str) -> Data {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_finseed"))
            .args(["generate", "-q", "-p", profile, "--out"])
            .arg(dir.path())
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut tables = HashMap::new();
        for t in [
            "users",
            "contexts",
            "context_members",
            "categories",
            "budgets",
            "transactions",
            "transaction_splits",
            "ai_insights",
        ] {
            tables.insert(t.to_string(), read(&dir.path().join(format!("{t}.csv"))));
        }
        Data {
            tables,
            end_date: end_date.to_string(),
        }
    }
    fn t(&self, name: &str) -> &Vec<Row> {
        &self.tables[name]
    }
}

fn read(path: &Path) -> Vec<Row> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn cents(s: &str) -> i64 {
    let neg = s.starts_with('-');
    let s = s.trim_start_matches('-');
    let (i, f) = s.split_once('.').unwrap();
    assert_eq!(f.len(), 2, "two decimal places: {s}");
    let v = i.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap();
    if neg {
        -v
    } else {
        v
    }
}

fn ids(rows: &[Row], col: &str) -> HashSet<String> {
    rows.iter().map(|r| r[col].clone()).collect()
}

fn check_fk(d: &Data, table: &str, col: &str, target: &str) {
    let keys = ids(d.t(target), "id");
    for r in d.t(table) {
        let v = &r[col];
        if !v.is_empty() {
            assert!(keys.contains(v), "{table}.{col} = {v} has no {target} row");
        }
    }
}

fn cpf_valid(c: &str) -> bool {
    let d: Vec<u32> = c.chars().filter_map(|c| c.to_digit(10)).collect();
    let ck = |n: usize| {
        let s: u32 = (0..n).map(|i| d[i] * (n as u32 + 1 - i as u32)).sum();
        if s % 11 < 2 {
            0
        } else {
            11 - s % 11
        }
    };
    c.len() == 14
        && d.len() == 11
        && ck(9) == d[9]
        && ck(10) == d[10]
        && d.iter().any(|&x| x != d[0])
}

fn check_invariants(d: &Data) {
    // Foreign keys.
    check_fk(d, "contexts", "owner_id", "users");
    check_fk(d, "context_members", "context_id", "contexts");
    check_fk(d, "context_members", "user_id", "users");
    check_fk(d, "categories", "parent_id", "categories");
    check_fk(d, "categories", "context_id", "contexts");
    check_fk(d, "budgets", "context_id", "contexts");
    check_fk(d, "budgets", "category_id", "categories");
    check_fk(d, "transactions", "context_id", "contexts");
    check_fk(d, "transactions", "user_id", "users");
    check_fk(d, "transactions", "category_id", "categories");
    check_fk(d, "transaction_splits", "transaction_id", "transactions");
    check_fk(d, "transaction_splits", "user_id", "users");
    check_fk(d, "transaction_splits", "approved_by", "users");
    check_fk(d, "ai_insights", "user_id", "users");
    check_fk(d, "ai_insights", "context_id", "contexts");
    check_fk(d, "ai_insights", "related_category_id", "categories");
    check_fk(d, "ai_insights", "related_transaction_id", "transactions");

    // Primary keys are unique.
    for (t, cols) in [
        ("users", vec!["id"]),
        ("contexts", vec!["id"]),
        ("categories", vec!["id"]),
        ("transactions", vec!["id"]),
        ("ai_insights", vec!["id"]),
        ("context_members", vec!["context_id", "user_id"]),
        ("transaction_splits", vec!["transaction_id", "user_id"]),
        ("budgets", vec!["context_id", "category_id", "month"]),
    ] {
        let mut seen = HashSet::new();
        for r in d.t(t) {
            let key: Vec<&String> = cols.iter().map(|c| &r[*c]).collect();
            assert!(seen.insert(key.clone()), "{t}: duplicate key {key:?}");
        }
    }

    // Unique e-mails and valid, unique CPFs.
    let users = d.t("users");
    assert_eq!(ids(users, "email").len(), users.len(), "e-mails are unique");
    assert_eq!(ids(users, "cpf").len(), users.len(), "CPFs are unique");
    for u in users {
        assert!(cpf_valid(&u["cpf"]), "CPF {}", u["cpf"]);
        // The ninth digit is the Receita Federal fiscal region of the user's state.
        let region = match u["state"].as_str() {
            "DF" | "GO" | "MS" | "MT" | "TO" => 1,
            "AC" | "AM" | "AP" | "PA" | "RO" | "RR" => 2,
            "CE" | "MA" | "PI" => 3,
            "AL" | "PB" | "PE" | "RN" => 4,
            "BA" | "SE" => 5,
            "MG" => 6,
            "ES" | "RJ" => 7,
            "SP" => 8,
            "PR" | "SC" => 9,
            "RS" => 0,
            s => panic!("unknown state {s}"),
        };
        assert_eq!(
            u["cpf"].chars().nth(10).and_then(|c| c.to_digit(10)),
            Some(region),
            "CPF {} of a user in {}",
            u["cpf"],
            u["state"]
        );
        assert!(u["email"].contains('@') && u["email"].is_ascii());
        assert!(u["password_hash"].starts_with("$2b$"));
    }

    // Members: exactly one owner per context, the context's owner; several in shared/family.
    let mut members: HashMap<&str, Vec<&Row>> = HashMap::new();
    for m in d.t("context_members") {
        members.entry(m["context_id"].as_str()).or_default().push(m);
    }
    for c in d.t("contexts") {
        let ms = &members[c["id"].as_str()];
        let owners: Vec<_> = ms.iter().filter(|m| m["role"] == "owner").collect();
        assert_eq!(owners.len(), 1, "context {} has one owner", c["id"]);
        assert_eq!(owners[0]["user_id"], c["owner_id"]);
        if c["type"] == "shared" || c["type"] == "family" {
            assert!(
                ms.len() >= 2,
                "{} context {} has several members",
                c["type"],
                c["id"]
            );
        }
        for m in ms {
            assert!(
                m["joined_at"] >= c["created_at"],
                "member joins after the context exists"
            );
        }
    }

    // Transactions: member of the context, dated between joining and the window's end.
    let joined: HashMap<(String, String), String> = d
        .t("context_members")
        .iter()
        .map(|m| {
            (
                (m["context_id"].clone(), m["user_id"].clone()),
                m["joined_at"][..10].to_string(),
            )
        })
        .collect();
    let mut amount: HashMap<&str, i64> = HashMap::new();
    for t in d.t("transactions") {
        let key = (t["context_id"].clone(), t["user_id"].clone());
        let j = joined
            .get(&key)
            .unwrap_or_else(|| panic!("tx {}: user is not a member", t["id"]));
        if t["transaction_date"] < *j {
            // Only history imported through Open Finance when the account was connected: up to
            // 12 months before joining, entered by open_finance at or after joining.
            assert_eq!(
                t["input_method"], "open_finance",
                "tx {} dated before its member joined",
                t["id"]
            );
            assert!(
                t["created_at"][..10] >= j[..],
                "tx {}: imported before connecting",
                t["id"]
            );
            assert!(
                day_number(j) - day_number(&t["transaction_date"]) <= 365,
                "tx {}: more than 12 months of history",
                t["id"]
            );
        }
        assert!(
            t["transaction_date"] <= d.end_date,
            "tx {} after the window",
            t["id"]
        );
        assert!(
            t["created_at"][..10] >= t["transaction_date"][..],
            "tx {} created before its date",
            t["id"]
        );
        let a = cents(&t["amount"]);
        match t["type"].as_str() {
            "income" => assert!(a > 0),
            "expense" | "transfer" => assert!(a < 0),
            other => panic!("type {other}"),
        }
        match t["categorization_source"].as_str() {
            "none" => assert!(t["category_id"].is_empty()),
            "ai" => {
                let c: f64 = t["ai_confidence"].parse().unwrap();
                assert!((0.5..1.0).contains(&c));
            }
            _ => assert!(t["ai_confidence"].is_empty() && !t["category_id"].is_empty()),
        }
        amount.insert(t["id"].as_str(), a);
    }

    // Splits add up exactly to their transaction's amount.
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for s in d.t("transaction_splits") {
        *sums.entry(s["transaction_id"].as_str()).or_default() += cents(&s["amount"]);
        match s["status"].as_str() {
            "pending" => assert!(s["approved_by"].is_empty() && s["approved_at"].is_empty()),
            "approved" | "rejected" => assert!(!s["approved_by"].is_empty()),
            other => panic!("split status {other}"),
        }
    }
    assert!(!sums.is_empty(), "some expenses are split");
    for (tx, sum) in &sums {
        assert_eq!(*sum, amount[tx], "splits of tx {tx} add up to its amount");
    }

    // Budgets reference expense categories.
    let kinds: HashMap<&str, &str> = d
        .t("categories")
        .iter()
        .map(|c| (c["id"].as_str(), c["kind"].as_str()))
        .collect();
    for b in d.t("budgets") {
        assert_eq!(kinds[b["category_id"].as_str()], "expense");
        assert!(b["month"].ends_with("-01"));
    }

    // Insights belong to a member of their context and come after what they talk about.
    let tx_date: HashMap<&str, &str> = d
        .t("transactions")
        .iter()
        .map(|t| (t["id"].as_str(), t["transaction_date"].as_str()))
        .collect();
    for i in d.t("ai_insights") {
        assert!(
            joined.contains_key(&(i["context_id"].clone(), i["user_id"].clone())),
            "insight {} user is a member",
            i["id"]
        );
        if !i["related_transaction_id"].is_empty() {
            assert!(i["created_at"][..10] >= *tx_date[i["related_transaction_id"].as_str()]);
        }
        assert!(!i["title"].is_empty() && !i["body"].is_empty());
    }
}

#[test]
fn invariants_hold_on_ci() {
    check_invariants(&Data::load("ci", &[], "2025-10-31"));
}

#[test]
fn invariants_hold_on_a_larger_profile() {
    // transaction-flow's shape at 2%: 200 users, 1000 contexts, 200K transactions.
    check_invariants(&Data::load(
        "transaction-flow",
        &["--scale", "0.02"],
        "2025-10-31",
    ));
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (Howard Hinnant's days_from_civil).
fn day_number(date: &str) -> i64 {
    let (y, m, d): (i64, i64, i64) = (
        date[..4].parse().unwrap(),
        date[5..7].parse().unwrap(),
        date[8..10].parse().unwrap(),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn percentile(v: &mut [i64], p: f64) -> i64 {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p) as usize]
}

#[test]
fn data_looks_real() {
    let d = Data::load("small", &["--scale", "0.2"], "2025-10-31");
    let tx = d.t("transactions");
    let cats: HashMap<&str, &Row> = d
        .t("categories")
        .iter()
        .map(|c| (c["id"].as_str(), c))
        .collect();

    // Amounts: long right tail per category (mean well above median, p99 far above it).
    let mut by_cat: HashMap<&str, Vec<i64>> = HashMap::new();
    for t in tx.iter().filter(|t| t["is_recurring"] == "f") {
        if let Some(c) = cats.get(t["category_id"].as_str()) {
            by_cat
                .entry(c["name"].as_str())
                .or_default()
                .push(cents(&t["amount"]).abs());
        }
    }
    for name in ["Supermercado", "Restaurantes", "Combustível", "Farmácia"] {
        let v = by_cat
            .get_mut(name)
            .unwrap_or_else(|| panic!("no {name} transactions"));
        let mean = v.iter().sum::<i64>() as f64 / v.len() as f64;
        let median = percentile(v, 0.5) as f64;
        let p99 = percentile(v, 0.99) as f64;
        assert!(
            mean > median * 1.1,
            "{name}: mean {mean} vs median {median}"
        );
        assert!(p99 > median * 3.0, "{name}: p99 {p99} vs median {median}");
    }

    // Merchants: a few take a large share; each agrees with its category.
    let mut merchant_counts: HashMap<&str, usize> = HashMap::new();
    for t in tx.iter().filter(|t| t["type"] == "expense") {
        *merchant_counts
            .entry(t["merchant_name"].as_str())
            .or_default() += 1;
    }
    let mut counts: Vec<usize> = merchant_counts.values().copied().collect();
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top = counts.iter().take(counts.len() / 10).sum::<usize>() as f64;
    let all = counts.iter().sum::<usize>() as f64;
    assert!(
        top / all > 0.35,
        "top 10% of merchants hold {:.0}% of expenses",
        100.0 * top / all
    );
    let mut merchant_sub: HashMap<&str, HashSet<&str>> = HashMap::new();
    for t in tx {
        if let Some(c) = cats.get(t["category_id"].as_str()) {
            if c["is_system"] == "t" {
                merchant_sub
                    .entry(t["merchant_name"].as_str())
                    .or_default()
                    .insert(c["name"].as_str());
            }
        }
    }
    // A long tail of local businesses: thousands of distinct merchants, and in the categories
    // served by local businesses no single merchant takes more than about 20% (brand-led
    // categories, such as ride apps or telecoms, may stay concentrated).
    let distinct: HashSet<&str> = tx.iter().map(|t| t["merchant_name"].as_str()).collect();
    assert!(
        distinct.len() > 2_000,
        "{} distinct merchants",
        distinct.len()
    );
    for name in [
        "Supermercado",
        "Restaurantes",
        "Padaria",
        "Feira e hortifruti",
        "Bares",
        "Veterinário",
        "Pet shop",
        "Condomínio",
        "Manutenção do veículo",
    ] {
        let mut per: HashMap<&str, usize> = HashMap::new();
        for t in tx {
            if let Some(c) = cats.get(t["category_id"].as_str()) {
                if c["is_system"] == "t" && c["name"] == name {
                    *per.entry(t["merchant_name"].as_str()).or_default() += 1;
                }
            }
        }
        let total: usize = per.values().sum();
        let (top, n) = per.iter().max_by_key(|(m, n)| (**n, **m)).unwrap();
        assert!(
            total < 200 || (*n as f64) < 0.21 * total as f64,
            "{name}: {top} takes {n} of {total}"
        );
    }
    // History: Open Finance imports up to 12 months from before a context existed, so many
    // contexts have a month to compare with the same month a year earlier.
    let created: HashMap<&str, &str> = d
        .t("contexts")
        .iter()
        .map(|c| (c["id"].as_str(), &c["created_at"][..10]))
        .collect();
    let imported = tx
        .iter()
        .filter(|t| t["transaction_date"][..] < *created[t["context_id"].as_str()])
        .count();
    assert!(
        imported * 10 > tx.len(),
        "{imported} of {} transactions imported from before their context",
        tx.len()
    );
    let months: HashSet<(&str, i64)> = tx
        .iter()
        .map(|t| {
            let m = &t["transaction_date"];
            (
                t["context_id"].as_str(),
                m[..4].parse::<i64>().unwrap() * 12 + m[5..7].parse::<i64>().unwrap(),
            )
        })
        .collect();
    let yoy: HashSet<&str> = months
        .iter()
        .filter(|(c, m)| months.contains(&(*c, m - 12)))
        .map(|(c, _)| *c)
        .collect();
    assert!(
        yoy.len() * 4 > created.len(),
        "{} of {} contexts have a year-over-year month",
        yoy.len(),
        created.len()
    );
    let supermercado = &merchant_sub["Carrefour"];
    assert!(supermercado.contains("Supermercado"), "{supermercado:?}");
    assert!(!supermercado.contains("Combustível"));
    for desc in tx
        .iter()
        .filter(|t| t["merchant_name"] == "Shell")
        .map(|t| t["description"].as_str())
    {
        assert!(
            desc.contains("SHELL")
                || desc.contains("Shell")
                || !desc
                    .chars()
                    .any(|c| c.is_uppercase() && desc.contains("COMPRA")),
            "{desc}"
        );
    }

    // Time: December peak, busier Fridays/Saturdays than Mondays, monthly salaries on payday.
    // Measured on contexts that existed all through late 2024, so growth does not hide it.
    let early: HashSet<&str> = d
        .t("contexts")
        .iter()
        .filter(|c| c["created_at"].as_str() < "2024-06-01")
        .map(|c| c["id"].as_str())
        .collect();
    let mut per_month: BTreeMap<&str, usize> = BTreeMap::new();
    let mut per_weekday = [0usize; 7];
    for t in tx
        .iter()
        .filter(|t| t["is_recurring"] == "f" && early.contains(t["context_id"].as_str()))
    {
        let date = &t["transaction_date"];
        let (y, m, day): (i32, u32, u32) = (
            date[..4].parse().unwrap(),
            date[5..7].parse().unwrap(),
            date[8..].parse().unwrap(),
        );
        *per_month.entry(&date[..7]).or_default() += 1;
        if date.as_str() >= "2024-06-01" {
            per_weekday[weekday(y, m, day)] += 1;
        }
    }
    let dec = per_month["2024-12"] as f64 / 31.0;
    let oct = per_month["2024-10"] as f64 / 31.0;
    let sep = per_month["2024-09"] as f64 / 30.0;
    assert!(
        dec > 1.15 * oct.max(sep),
        "December {dec:.0}/day vs Sep {sep:.0}, Oct {oct:.0}"
    );
    assert!(
        per_weekday[5] as f64 > 1.15 * per_weekday[0] as f64,
        "Saturday vs Monday: {per_weekday:?}"
    );
    let salaries: Vec<&Row> = tx
        .iter()
        .filter(|t| {
            t["is_recurring"] == "t"
                && cats
                    .get(t["category_id"].as_str())
                    .is_some_and(|c| c["name"] == "Salário")
        })
        .collect();
    assert!(salaries.len() > 100);
    assert!(salaries
        .iter()
        .all(|t| t["transaction_date"].ends_with("-05")));
    // A context's rent is the same every month.
    let mut rents: HashMap<&str, HashSet<&str>> = HashMap::new();
    for t in tx.iter().filter(|t| {
        t["is_recurring"] == "t"
            && cats
                .get(t["category_id"].as_str())
                .is_some_and(|c| c["name"] == "Aluguel")
    }) {
        rents
            .entry(t["context_id"].as_str())
            .or_default()
            .insert(t["amount"].as_str());
    }
    assert!(rents.len() > 10 && rents.values().all(|a| a.len() == 1));

    // Activity: a few contexts far busier than the median.
    let mut per_ctx: HashMap<&str, i64> = HashMap::new();
    for t in tx {
        *per_ctx.entry(t["context_id"].as_str()).or_default() += 1;
    }
    let mut v: Vec<i64> = per_ctx.values().copied().collect();
    let median = percentile(&mut v, 0.5);
    let max = *v.last().unwrap();
    let top1: i64 = v.iter().rev().take(v.len() / 100).sum();
    assert!(max > 10 * median, "busiest {max} vs median {median}");
    assert!(
        top1 as f64 > 0.08 * tx.len() as f64,
        "top 1% of contexts hold {top1} of {}",
        tx.len()
    );

    // Most money is BRL and most contexts personal.
    let brl = tx.iter().filter(|t| t["currency"] == "BRL").count();
    assert!(brl as f64 > 0.9 * tx.len() as f64);
}

fn weekday(y: i32, m: u32, d: u32) -> usize {
    // Sakamoto's method: 0 = Sunday … 6 = Saturday, mapped to 0 = Monday.
    let t = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if m < 3 { y - 1 } else { y };
    let w = (y + y / 4 - y / 100 + y / 400 + t[m as usize - 1] + d as i32) % 7;
    ((w + 6) % 7) as usize
}
