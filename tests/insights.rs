//! Every AI insight is a claim about the data: recompute each one from the generated CSV
//! files (read with the `csv` crate, never with the generator's code), by the rules written in
//! the README's "AI insights" section, and fail on any claim that is not true.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

type Row = HashMap<String, String>;

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
    let (i, f) = s.trim_start_matches('-').split_once('.').unwrap();
    let v = i.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap();
    if neg {
        -v
    } else {
        v
    }
}

/// Month number (year * 12 + month - 1) of a `YYYY-MM-DD...` text.
fn month_of(date: &str) -> i32 {
    date[..4].parse::<i32>().unwrap() * 12 + date[5..7].parse::<i32>().unwrap() - 1
}

const MONTHS: [&str; 12] = [
    "janeiro",
    "fevereiro",
    "março",
    "abril",
    "maio",
    "junho",
    "julho",
    "agosto",
    "setembro",
    "outubro",
    "novembro",
    "dezembro",
];

fn month_text(m: i32) -> String {
    format!("{} de {}", MONTHS[(m % 12) as usize], m / 12)
}

/// First first-day-of-month timestamp text after month `m`, for created_at comparisons.
fn next_month_start(m: i32) -> String {
    let n = m + 1;
    format!("{:04}-{:02}-01T00:00:00Z", n / 12, n % 12 + 1)
}

/// The month a body names (`outubro de 2025`).
fn month_in(body: &str) -> i32 {
    for (k, name) in MONTHS.iter().enumerate() {
        let pat = format!("{name} de ");
        if let Some(p) = body.find(&pat) {
            let y: i32 = body[p + pat.len()..p + pat.len() + 4].parse().unwrap();
            return y * 12 + k as i32;
        }
    }
    panic!("no month in {body}")
}

/// `R$ 1.234,56` (`US$`, `€` for those currencies).
fn brl(currency: &str, c: i64) -> String {
    let prefix = match currency {
        "USD" => "US$",
        "EUR" => "€",
        _ => "R$",
    };
    let reais = (c / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in reais.chars().enumerate() {
        if i > 0 && (reais.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(ch);
    }
    format!("{prefix} {grouped},{:02}", c % 100)
}

struct Tx {
    id: String,
    ctx: String,
    cat: String,
    amount: i64,
    merchant: String,
    date: String,
    month: i32,
    created: String,
    kind: String,
    cancelled: bool,
}

/// `min_types`: how many insight types must be present (tiny profiles lack the 20 earlier
/// expenses of one category an unusual_transaction needs).
fn check(profile: &str, extra: &[&str], min_types: usize) {
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
    let t = |name: &str| read(&dir.path().join(format!("{name}.csv")));
    let txs: Vec<Tx> = t("transactions")
        .into_iter()
        .map(|r| Tx {
            id: r["id"].clone(),
            ctx: r["context_id"].clone(),
            cat: r["category_id"].clone(),
            amount: cents(&r["amount"]).abs(),
            merchant: r["merchant_name"].clone(),
            month: month_of(&r["transaction_date"]),
            date: r["transaction_date"].clone(),
            created: r["created_at"].clone(),
            kind: r["type"].clone(),
            cancelled: r["status"] == "cancelled",
        })
        .collect();
    let by_id: HashMap<&str, &Tx> = txs.iter().map(|x| (x.id.as_str(), x)).collect();
    let mut by_ctx: HashMap<&str, Vec<&Tx>> = HashMap::new();
    for x in &txs {
        by_ctx.entry(&x.ctx).or_default().push(x);
    }
    let currency: HashMap<String, String> = t("contexts")
        .into_iter()
        .map(|r| (r["id"].clone(), r["currency"].clone()))
        .collect();
    let cat_name: HashMap<String, String> = t("categories")
        .into_iter()
        .map(|r| (r["id"].clone(), r["name"].clone()))
        .collect();
    let budgets: HashMap<(String, String, i32), (i64, i64)> = t("budgets")
        .into_iter()
        .map(|r| {
            (
                (
                    r["context_id"].clone(),
                    r["category_id"].clone(),
                    month_of(&r["month"]),
                ),
                (
                    cents(&r["limit_amount"]),
                    r["alert_percent"].parse().unwrap(),
                ),
            )
        })
        .collect();
    let insights = t("ai_insights");

    let mut per_type: BTreeMap<String, usize> = BTreeMap::new();
    for i in &insights {
        let ctx = i["context_id"].as_str();
        let cur = currency[ctx].as_str();
        let money = |c: i64| brl(cur, c);
        let created = i["created_at"].as_str();
        let body = i["body"].as_str();
        let title = i["title"].as_str();
        let all: &[&Tx] = by_ctx.get(ctx).map(|v| v.as_slice()).unwrap_or(&[]);
        // Non-cancelled expenses of the context.
        let spent = || all.iter().filter(|x| x.kind == "expense" && !x.cancelled);
        let cat_spend = |cat: &str, m: i32| -> (i64, String) {
            spent()
                .filter(|x| x.cat == cat && x.month == m)
                .fold((0, String::new()), |(s, c), x| {
                    (s + x.amount, c.max(x.created.clone()))
                })
        };
        let ctx_msg = format!("insight {} ({}): {title} | {body}", i["id"], i["type"]);
        let linked = (!i["related_transaction_id"].is_empty())
            .then(|| by_id[i["related_transaction_id"].as_str()]);
        if let Some(x) = linked {
            assert_eq!(
                x.ctx, ctx,
                "{ctx_msg}: linked transaction of another context"
            );
            assert_eq!(
                x.cat, i["related_category_id"],
                "{ctx_msg}: category differs from the linked transaction's"
            );
            assert!(!x.cancelled, "{ctx_msg}: linked transaction is cancelled");
            assert!(
                created > x.created.as_str(),
                "{ctx_msg}: before its transaction"
            );
        }
        let cat = i["related_category_id"].as_str();
        let name = cat_name.get(cat).cloned().unwrap_or_default();
        match i["type"].as_str() {
            "spending_spike" => {
                let m = month_in(body);
                let (s, c0) = cat_spend(cat, m);
                let prev: Vec<(i64, String)> = (1..=3).map(|k| cat_spend(cat, m - k)).collect();
                assert!(
                    prev.iter().all(|p| p.0 > 0),
                    "{ctx_msg}: a month before without spending"
                );
                let sum3: i64 = prev.iter().map(|p| p.0).sum();
                assert!(
                    2 * s >= sum3 && s >= 10_000,
                    "{ctx_msg}: not a spike ({s} vs {sum3})"
                );
                let pct = (2 * 100 * (3 * s - sum3) + sum3) / (2 * sum3);
                let mean = (2 * sum3 + 3) / 6;
                assert_eq!(
                    title,
                    format!("Gastos com {name} acima do normal"),
                    "{ctx_msg}"
                );
                assert_eq!(
                    body,
                    format!(
                        "Em {} você gastou {} com {name}, {pct}% acima da média dos 3 meses anteriores ({}).",
                        month_text(m),
                        money(s),
                        money(mean)
                    ),
                    "{ctx_msg}"
                );
                let evidence = prev.iter().map(|p| p.1.clone()).max().unwrap().max(c0);
                assert!(
                    created > evidence.as_str(),
                    "{ctx_msg}: before its evidence"
                );
                assert!(
                    created >= next_month_start(m).as_str(),
                    "{ctx_msg}: before month end"
                );
                let x = linked.expect("spike links a transaction");
                assert!(x.month == m && x.kind == "expense", "{ctx_msg}");
                assert!(
                    spent()
                        .filter(|y| y.cat == cat && y.month == m)
                        .all(|y| y.amount <= x.amount),
                    "{ctx_msg}: linked is not the month's largest"
                );
            }
            "budget_warning" => {
                let m = month_in(body);
                let &(limit, alert) = budgets
                    .get(&(ctx.to_string(), cat.to_string(), m))
                    .unwrap_or_else(|| panic!("{ctx_msg}: no such budget"));
                let used: i64 = spent()
                    .filter(|x| x.cat == cat && x.month == m && x.created.as_str() <= created)
                    .map(|x| x.amount)
                    .sum();
                let pct = used * 100 / limit;
                assert!(
                    pct >= alert,
                    "{ctx_msg}: {pct}% is below the alert {alert}%"
                );
                let expected_title = if pct >= 100 {
                    format!("Orçamento de {name} estourado")
                } else {
                    format!("Orçamento de {name} quase no limite")
                };
                assert_eq!(title, expected_title, "{ctx_msg}");
                assert_eq!(
                    body,
                    format!(
                        "Você já usou {pct}% do orçamento de {name} para {}: {} de {}.",
                        month_text(m),
                        money(used),
                        money(limit)
                    ),
                    "{ctx_msg}"
                );
                let x = linked.expect("budget warning links a transaction");
                assert!(
                    x.month == m && x.cat == cat && x.kind == "expense",
                    "{ctx_msg}"
                );
            }
            "recurring_detected" => {
                let x = linked.expect("recurring links a transaction");
                assert_eq!(x.kind, "expense", "{ctx_msg}");
                let m = x.month;
                for k in 1..=2 {
                    let matches: Vec<&&Tx> = spent()
                        .filter(|y| {
                            y.merchant == x.merchant
                                && y.month == m - k
                                && (y.amount - x.amount).abs() * 10 <= x.amount
                        })
                        .collect();
                    assert!(
                        !matches.is_empty(),
                        "{ctx_msg}: nothing alike {k} months before"
                    );
                    assert!(
                        matches.iter().all(|y| created > y.created.as_str()),
                        "{ctx_msg}: before its evidence"
                    );
                }
                assert_eq!(
                    title,
                    format!("Cobrança recorrente detectada: {}", x.merchant)
                );
                assert_eq!(
                    body,
                    format!(
                        "Identificamos um pagamento mensal de {} para {}, com valores parecidos em 3 meses seguidos até {}. Quer acompanhar como assinatura?",
                        money(x.amount),
                        x.merchant,
                        month_text(m)
                    ),
                    "{ctx_msg}"
                );
            }
            "savings_opportunity" => {
                let m = month_in(body);
                let months: Vec<(i64, String)> = (0..3).map(|k| cat_spend(cat, m - k)).collect();
                assert!(
                    months.iter().all(|p| p.0 > 0),
                    "{ctx_msg}: a month without spending"
                );
                let sum3: i64 = months.iter().map(|p| p.0).sum();
                assert!(sum3 >= 60_000, "{ctx_msg}: average below R$ 200");
                let cut: i64 = body
                    .split("Reduzindo ")
                    .nth(1)
                    .and_then(|s| s.split('%').next())
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("{ctx_msg}: no cut"));
                assert!([10, 15, 20].contains(&cut), "{ctx_msg}");
                assert_eq!(
                    title,
                    format!("Oportunidade de economia em {name}"),
                    "{ctx_msg}"
                );
                assert_eq!(
                    body,
                    format!(
                        "Nos 3 meses até {} você gastou em média {} por mês com {name}. Reduzindo {cut}%, economizaria cerca de {} por mês.",
                        month_text(m),
                        money((2 * sum3 + 3) / 6),
                        money((2 * sum3 * cut + 300) / 600)
                    ),
                    "{ctx_msg}"
                );
                let evidence = months.iter().map(|p| p.1.clone()).max().unwrap();
                assert!(
                    created > evidence.as_str(),
                    "{ctx_msg}: before its evidence"
                );
                assert!(
                    created >= next_month_start(m).as_str(),
                    "{ctx_msg}: before month end"
                );
            }
            "unusual_transaction" => {
                let x = linked.expect("unusual links a transaction");
                assert_eq!(x.kind, "expense", "{ctx_msg}");
                let prior: Vec<&&Tx> = spent()
                    .filter(|y| y.cat == x.cat && y.date < x.date)
                    .collect();
                assert!(prior.len() >= 20, "{ctx_msg}: only {} earlier", prior.len());
                let mut amounts: Vec<i64> = prior.iter().map(|y| y.amount).collect();
                amounts.sort_unstable();
                let n = amounts.len();
                let p95 = amounts[(95 * n).div_ceil(100) - 1];
                assert!(
                    x.amount > p95,
                    "{ctx_msg}: {} is not above p95 {p95}",
                    x.amount
                );
                assert!(
                    prior.iter().all(|y| created > y.created.as_str()),
                    "{ctx_msg}: before its evidence"
                );
                assert_eq!(title, format!("Transação incomum em {}", x.merchant));
                assert_eq!(
                    body,
                    format!(
                        "Uma movimentação de {} em {} está acima de 95% dos seus gastos com {name} até então ({}).",
                        money(x.amount),
                        x.merchant,
                        money(p95)
                    ),
                    "{ctx_msg}"
                );
            }
            "monthly_summary" => {
                let m = month_in(body);
                let month: Vec<&&Tx> = all
                    .iter()
                    .filter(|x| x.month == m && !x.cancelled)
                    .collect();
                let sum = |k: &str| -> i64 {
                    month.iter().filter(|x| x.kind == k).map(|x| x.amount).sum()
                };
                let mut by_cat: BTreeMap<i64, i64> = BTreeMap::new();
                for x in month
                    .iter()
                    .filter(|x| x.kind == "expense" && !x.cat.is_empty())
                {
                    *by_cat.entry(x.cat.parse().unwrap()).or_default() += x.amount;
                }
                // Largest spend; among equals the lowest id.
                let (top, top_spend) =
                    by_cat.iter().fold(
                        (0i64, -1i64),
                        |(c, s), (&k, &v)| if v > s { (k, v) } else { (c, s) },
                    );
                assert_eq!(cat, top.to_string(), "{ctx_msg}: not the top category");
                assert_eq!(title, format!("Resumo de {}", month_text(m)), "{ctx_msg}");
                assert_eq!(
                    body,
                    format!(
                        "Em {} você registrou {} transações: {} em gastos e {} em receitas. A categoria com mais gastos foi {name} ({}).",
                        month_text(m),
                        month.len(),
                        money(sum("expense")),
                        money(sum("income")),
                        money(top_spend)
                    ),
                    "{ctx_msg}"
                );
                assert!(
                    month.iter().all(|x| created > x.created.as_str()),
                    "{ctx_msg}: before its evidence"
                );
                assert!(i["related_transaction_id"].is_empty(), "{ctx_msg}");
            }
            other => panic!("unknown insight type {other}"),
        }
        *per_type.entry(i["type"].clone()).or_default() += 1;
    }
    assert!(per_type.len() >= min_types, "types present: {per_type:?}");
    eprintln!(
        "{profile} {extra:?}: {} insights, all true: {per_type:?}",
        insights.len()
    );
}

#[test]
fn every_insight_is_true_on_ci() {
    check("ci", &[], 5);
}

#[test]
fn every_insight_is_true_on_a_larger_profile() {
    check("transaction-flow", &["--scale", "0.02"], 6);
}
