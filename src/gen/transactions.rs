//! `transactions` and `transaction_splits`: the bulk of the data.
//!
//! The facts other tables rely on (context, member, date, category, merchant, amount) come from
//! [`World::tx_core`]; the rest (how it was entered, its text, status and splits) is drawn from
//! the chunk's stream. Texts are pooled once per run so a row costs no allocation.

use super::{Out, TableSpec};
use crate::model::{Ctx, CtxKind, TxCore, World, SECS_PER_DAY};
use crate::rng::{chunk_rng, Draw};
use crate::table::{col, null_col, ColType::*, Encoder};
use crate::vocab::{Kind, Recur, TREE};
use std::sync::LazyLock;

pub static TRANSACTIONS: TableSpec = TableSpec {
    name: "transactions",
    columns: &[
        col("id", BigInt),
        col("context_id", BigInt),
        col("user_id", BigInt),
        null_col("category_id", BigInt),
        col("amount", Numeric(14, 2)),
        col("currency", Char(3)),
        col("description", Text),
        null_col("merchant_name", Text),
        col("transaction_date", Date),
        col("created_at", Timestamptz),
        col("type", Text),
        col("status", Text),
        col("input_method", Text),
        col("categorization_source", Text),
        null_col("ai_confidence", Numeric(4, 3)),
        col("is_recurring", Bool),
    ],
};

pub static SPLITS: TableSpec = TableSpec {
    name: "transaction_splits",
    columns: &[
        col("transaction_id", BigInt),
        col("user_id", BigInt),
        col("amount", Numeric(14, 2)),
        col("status", Text),
        null_col("approved_by", BigInt),
        null_col("approved_at", Timestamptz),
    ],
};

/// Statement-style texts for one merchant.
pub struct MerchantTexts {
    pub open_finance: Vec<String>,
    pub csv_import: Vec<String>,
    pub receipt_ocr: String,
}

/// Upper-case ASCII, as bank statements print merchant names.
pub fn statement_case(s: &str) -> String {
    let mut folded = String::with_capacity(s.len());
    for c in s.chars() {
        let m = match c {
            'á' | 'à' | 'â' | 'ã' | 'Á' | 'À' | 'Â' | 'Ã' => 'A',
            'é' | 'ê' | 'É' | 'Ê' => 'E',
            'í' | 'Í' => 'I',
            'ó' | 'ô' | 'õ' | 'Ó' | 'Ô' | 'Õ' => 'O',
            'ú' | 'ü' | 'Ú' => 'U',
            'ç' | 'Ç' => 'C',
            '\'' => continue,
            c => c.to_ascii_uppercase(),
        };
        folded.push(m);
    }
    folded
}

/// The statement-style texts of merchant `m` (a name of `vocab::MERCHANTS[ti][si]`).
fn merchant_texts(ti: usize, si: usize, m: &str) -> MerchantTexts {
    let top = &TREE[ti];
    let sub = &top.subs[si];
    let u = statement_case(m);
    let open_finance = match (top.kind, sub.recur) {
        (_, Recur::Salary) => {
            vec![format!("CRED SALARIO {u}"), format!("TED RECEBIDA {u}")]
        }
        (Kind::Income, _) => vec![
            format!("PIX RECEBIDO {u}"),
            format!("TED RECEBIDA {u}"),
            format!("CRED {u}"),
        ],
        (Kind::Transfer, _) => vec![
            format!("PIX ENVIADO {u}"),
            format!("TRANSF ENTRE CONTAS {u}"),
        ],
        (Kind::Expense, Recur::Monthly) => vec![
            format!("DEB AUTOMATICO {u}"),
            format!("PAGTO BOLETO {u}"),
            format!("PIX ENVIADO {u}"),
        ],
        (Kind::Expense, _) => vec![
            format!("COMPRA CARTAO DEB {u}"),
            format!("COMPRA CREDITO {u}"),
            format!("PIX ENVIADO {u}"),
            format!("PAG*{}", u.replace(' ', "")),
        ],
    };
    let csv_import = match top.kind {
        Kind::Expense => {
            vec![format!("Compra {m}"), format!("{m} - cartão de crédito")]
        }
        Kind::Income => vec![format!("Recebimento {m}")],
        Kind::Transfer => vec![format!("Transferência {m}")],
    };
    MerchantTexts {
        open_finance,
        csv_import,
        receipt_ocr: format!("Cupom fiscal {u}"),
    }
}

/// `POOL[top][sub][merchant]`.
pub static POOL: LazyLock<Vec<Vec<Vec<MerchantTexts>>>> = LazyLock::new(|| {
    TREE.iter()
        .enumerate()
        .map(|(ti, top)| {
            (0..top.subs.len())
                .map(|si| {
                    crate::vocab::MERCHANTS[ti][si]
                        .iter()
                        .map(|m| merchant_texts(ti, si, m))
                        .collect()
                })
                .collect()
        })
        .collect()
});

/// The texts of one merchant as the hot loop reads them: fixed-size, in one flat table, the
/// strings of all merchants packed in one block.
struct Texts {
    open_finance: [&'static str; 4],
    open_finance_n: usize,
    csv_import: [&'static str; 2],
    csv_import_n: usize,
    receipt_ocr: &'static str,
}

/// [`POOL`] flattened in `World::merchant_name` order: the texts of merchant `m` of
/// subcategory `sub` are at `subs[sub].merchant_base + m`.
static TEXTS: LazyLock<Vec<Texts>> = LazyLock::new(|| {
    let mut all: Vec<MerchantTexts> = Vec::new();
    for (ti, top) in TREE.iter().enumerate() {
        for si in 0..top.subs.len() {
            for m in &crate::vocab::MERCHANTS[ti][si] {
                all.push(merchant_texts(ti, si, m));
            }
        }
    }
    let mut block = String::new();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for t in &all {
        for s in t.open_finance.iter().chain(&t.csv_import) {
            spans.push((block.len(), s.len()));
            block.push_str(s);
        }
        spans.push((block.len(), t.receipt_ocr.len()));
        block.push_str(&t.receipt_ocr);
    }
    let block: &'static str = Box::leak(block.into_boxed_str());
    let mut spans = spans.into_iter().map(|(at, len)| &block[at..at + len]);
    let mut next = || spans.next().expect("a span per text");
    all.iter()
        .map(|t| {
            let mut x = Texts {
                open_finance: [""; 4],
                open_finance_n: t.open_finance.len(),
                csv_import: [""; 2],
                csv_import_n: t.csv_import.len(),
                receipt_ocr: "",
            };
            for k in 0..x.open_finance_n {
                x.open_finance[k] = next();
            }
            for k in 0..x.csv_import_n {
                x.csv_import[k] = next();
            }
            x.receipt_ocr = next();
            x
        })
        .collect()
});

pub const METHODS: [&str; 5] = ["manual", "open_finance", "csv_import", "receipt_ocr", "api"];

/// Everything drawn from the chunk stream for one transaction.
struct Extra {
    method: usize,
    created_at: i64,
    status: &'static str,
    source: &'static str,
    confidence: Option<i64>,
    variant: u64,
}

fn extra<R: Draw>(r: &mut R, core: &TxCore) -> Extra {
    let method = core.method as usize;
    let (source, confidence) = if core.category_id.is_none() {
        ("none", None)
    } else {
        let x = r.below(100);
        let (user, rule) = match method {
            0 => (70, 80),
            1 => (15, 45),
            2 => (15, 40),
            3 => (20, 20),
            _ => (10, 60),
        };
        if x < user {
            ("user", None)
        } else if x < rule {
            ("rule", None)
        } else {
            // Model confidence: mostly high, with a tail of doubtful calls.
            let d = r.below(440);
            ("ai", Some(990 - (d * d / 440) as i64))
        }
    };
    Extra {
        method,
        created_at: core.created_at,
        status: core.status.as_str(),
        source,
        confidence,
        variant: r.next_u64(),
    }
}

#[inline]
fn description(core: &TxCore, w: &World, x: &Extra) -> &'static str {
    let info = &w.subs[core.sub];
    let v = x.variant as usize;
    match x.method {
        0 => {
            let phrases = TREE[info.top].subs[info.sub].phrases;
            phrases[v % phrases.len()]
        }
        1 => {
            let t = &TEXTS[info.merchant_base + core.merchant];
            t.open_finance[v % t.open_finance_n]
        }
        2 => {
            let t = &TEXTS[info.merchant_base + core.merchant];
            t.csv_import[v % t.csv_import_n]
        }
        3 => TEXTS[info.merchant_base + core.merchant].receipt_ocr,
        _ => w.merchant_name(core.sub, core.merchant),
    }
}

fn kind_str(core: &TxCore, w: &World) -> &'static str {
    w.subs[core.sub].kind.as_str()
}

/// Writes the split rows of an expense shared among members; the shares add up exactly.
fn splits<E: Encoder, R: Draw>(
    w: &World,
    r: &mut R,
    c: &Ctx,
    core: &TxCore,
    created_at: i64,
    out: &mut Out<E>,
) {
    let eligible = |i: usize| c.members[i].transacts() && c.members[i].joined_day() <= core.day;
    let others: Vec<usize> = (0..c.members.len())
        .filter(|&i| i != core.member && eligible(i))
        .collect();
    if others.is_empty() {
        return;
    }
    let n_others = 1 + r.below(others.len().min(5) as u64) as usize;
    let start = r.below(others.len() as u64) as usize;
    let mut who = Vec::with_capacity(n_others + 1);
    who.push(core.member);
    for k in 0..n_others {
        who.push(others[(start + k) % others.len()]);
    }
    let n = who.len() as i64;
    let total = core.amount_cents;
    let base = total / n;
    let rem = total - base * n; // same sign as total, |rem| < n
    let old = w.end_day - core.day > 14;
    for (k, &m) in who.iter().enumerate() {
        let share = base
            + if (k as i64) < rem.abs() {
                rem.signum()
            } else {
                0
            };
        let user = c.members[m].user_id;
        let (status, approver, at) = if k == 0 {
            ("approved", Some(user), Some(created_at))
        } else {
            let x = r.below(100);
            let when = created_at + 600 + r.below(3 * SECS_PER_DAY as u64) as i64;
            let when = when.min((w.end_day as i64 + 1) * SECS_PER_DAY - 1);
            if (old && x < 88) || (!old && x < 45) {
                ("approved", Some(user), Some(when))
            } else if (old && x < 95) || (!old && x < 52) {
                ("rejected", Some(user), Some(when))
            } else {
                ("pending", None, None)
            }
        };
        if let Some(e) = out.row() {
            e.begin();
            e.int(core.id as i64);
            e.int(user as i64);
            e.money(share);
            e.text(status);
            e.opt_int(approver.map(|a| a as i64));
            e.opt_timestamp(at);
            e.end();
        }
    }
}

pub fn fill<E: Encoder>(w: &World, chunk: u64, outs: &mut [Out<E>]) {
    let ids = super::Group::Transactions.chunk_ids(w, chunk);
    if ids.is_empty() {
        return;
    }
    let mut r = chunk_rng(w.profile.seed, super::Group::Transactions.salt(), chunk);
    let mut ctx_id = w.context_of_tx(ids.start);
    let mut c = w.context(ctx_id);
    let split_pm = w.profile.shape.split_percent * 10;
    let (tx_out, rest) = outs.split_at_mut(1);
    let split_out = &mut rest[0];
    for id in ids {
        while id >= c.tx_first + c.tx_count {
            ctx_id += 1;
            c = w.context(ctx_id);
        }
        let core = w.tx_core(&c, id);
        let x = extra(&mut r, &core);
        let user = c.members[core.member].user_id;
        if let Some(e) = tx_out[0].row() {
            e.begin();
            e.int(id as i64);
            e.int(c.id as i64);
            e.int(user as i64);
            e.opt_int(core.category_id.map(|v| v as i64));
            e.money(core.amount_cents);
            e.text(c.currency);
            e.text(description(&core, w, &x));
            e.text(w.merchant_name(core.sub, core.merchant));
            e.date(core.day);
            e.timestamp(x.created_at);
            e.text(kind_str(&core, w));
            e.text(x.status);
            e.text(METHODS[x.method]);
            e.text(x.source);
            e.opt_decimal(x.confidence, 3);
            e.boolean(core.recurring);
            e.end();
        }
        let splittable = w.subs[core.sub].kind == Kind::Expense && x.status != "cancelled";
        let p = match c.kind {
            CtxKind::Shared => split_pm,
            CtxKind::Family => split_pm / 3,
            _ => 0,
        };
        if splittable && p > 0 && c.members.len() > 1 && r.chance(p) {
            splits(w, &mut r, &c, &core, x.created_at, split_out);
        }
    }
}
