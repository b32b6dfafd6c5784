//! `transactions` and `transaction_splits`: the bulk of the data.
//!
//! The facts other tables rely on (context, member, date, category, merchant, amount) come from
//! [`World::tx_core`]; the rest (how it was entered, its text, status and splits) is drawn from
//! the chunk's stream. Texts are pooled once per run so a row costs no allocation.

use super::{Out, TableSpec};
use crate::model::{Ctx, CtxKind, TxCore, World, SECS_PER_DAY};
use crate::rng::{chunk_rng, Draw};
use crate::table::{append, col, null_col, ColType::*, Column, Encoder};
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

const SPLIT_COLUMNS: [Column; 6] = [
    col("transaction_id", BigInt),
    col("user_id", BigInt),
    col("amount", Numeric(14, 2)),
    col("status", Text),
    null_col("approved_by", BigInt),
    null_col("approved_at", Timestamptz),
];

pub static SPLITS: TableSpec = TableSpec {
    name: "transaction_splits",
    columns: &SPLIT_COLUMNS,
};

/// `transaction_splits` in the partitioned layout: also the split transaction's date, which the
/// composite key to the partitioned `transactions (id, transaction_date)` needs (and which
/// routes the split to its month's partition).
pub static SPLITS_DATED: TableSpec = TableSpec {
    name: "transaction_splits",
    columns: &SPLIT_DATED_COLUMNS,
};
static SPLIT_DATED_COLUMNS: [Column; 7] = append(SPLIT_COLUMNS, col("transaction_date", Date));

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

/// The ways a merchant's name is written in texts.
trait NameForms {
    /// As the merchant calls itself.
    fn plain(&self, out: &mut String);
    /// In [`statement_case`].
    fn upper(&self, out: &mut String);
    /// In statement case without spaces.
    fn tight(&self, out: &mut String);
}

/// A name given whole.
struct Whole<'a> {
    plain: &'a str,
    upper: String,
}

impl NameForms for Whole<'_> {
    fn plain(&self, out: &mut String) {
        out.push_str(self.plain);
    }
    fn upper(&self, out: &mut String) {
        out.push_str(&self.upper);
    }
    fn tight(&self, out: &mut String) {
        out.extend(self.upper.chars().filter(|&c| c != ' '));
    }
}

/// A local business's name from its parts, `{trade} {part}{end}`, each part in its three
/// forms (`statement_case` and dropping spaces both work character by character, so the
/// forms of the whole are the forms of the parts put together).
struct Parts([&'static [String; 3]; 3]);

impl NameForms for Parts {
    #[inline]
    fn plain(&self, out: &mut String) {
        let [t, p, e] = self.0;
        out.push_str(&t[0]);
        out.push(' ');
        out.push_str(&p[0]);
        out.push_str(&e[0]);
    }
    #[inline]
    fn upper(&self, out: &mut String) {
        let [t, p, e] = self.0;
        out.push_str(&t[1]);
        out.push(' ');
        out.push_str(&p[1]);
        out.push_str(&e[1]);
    }
    #[inline]
    fn tight(&self, out: &mut String) {
        let [t, p, e] = self.0;
        out.push_str(&t[2]);
        out.push_str(&p[2]);
        out.push_str(&e[2]);
    }
}

/// Open Finance statement lines of a subcategory: a prefix, then the name in statement case
/// (or, after `PAG*`, in statement case without spaces).
fn open_finance_prefixes(kind: Kind, recur: Recur) -> &'static [&'static str] {
    match (kind, recur) {
        (_, Recur::Salary) => &["CRED SALARIO ", "TED RECEBIDA "],
        (Kind::Income, _) => &["PIX RECEBIDO ", "TED RECEBIDA ", "CRED "],
        (Kind::Transfer, _) => &["PIX ENVIADO ", "TRANSF ENTRE CONTAS "],
        (Kind::Expense, Recur::Monthly) => &["DEB AUTOMATICO ", "PAGTO BOLETO ", "PIX ENVIADO "],
        (Kind::Expense, _) => &[
            "COMPRA CARTAO DEB ",
            "COMPRA CREDITO ",
            "PIX ENVIADO ",
            "PAG*",
        ],
    }
}

/// How many texts entry method `method` (1 open_finance, 2 csv_import, 3 receipt_ocr) has.
fn text_count(kind: Kind, recur: Recur, method: usize) -> usize {
    match method {
        1 => open_finance_prefixes(kind, recur).len(),
        2 if kind == Kind::Expense => 2,
        _ => 1,
    }
}

/// Text `v` (below `text_count`) of entry method `method` for a merchant named `name`.
fn write_text(
    kind: Kind,
    recur: Recur,
    method: usize,
    v: usize,
    name: &impl NameForms,
    out: &mut String,
) {
    match method {
        1 => {
            let prefix = open_finance_prefixes(kind, recur)[v];
            out.push_str(prefix);
            if prefix == "PAG*" {
                name.tight(out);
            } else {
                name.upper(out);
            }
        }
        2 => match (kind, v) {
            (Kind::Expense, 0) => {
                out.push_str("Compra ");
                name.plain(out);
            }
            (Kind::Expense, _) => {
                name.plain(out);
                out.push_str(" - cartão de crédito");
            }
            (Kind::Income, _) => {
                out.push_str("Recebimento ");
                name.plain(out);
            }
            (Kind::Transfer, _) => {
                out.push_str("Transferência ");
                name.plain(out);
            }
        },
        _ => {
            out.push_str("Cupom fiscal ");
            name.upper(out);
        }
    }
}

/// The statement-style texts of merchant `m` (a name of `vocab::MERCHANTS[ti][si]`).
fn merchant_texts(ti: usize, si: usize, m: &str) -> MerchantTexts {
    let (kind, recur) = (TREE[ti].kind, TREE[ti].subs[si].recur);
    let name = Whole {
        plain: m,
        upper: statement_case(m),
    };
    let texts = |method: usize| -> Vec<String> {
        (0..text_count(kind, recur, method))
            .map(|v| {
                let mut s = String::new();
                write_text(kind, recur, method, v, &name, &mut s);
                s
            })
            .collect()
    };
    MerchantTexts {
        open_finance: texts(1),
        csv_import: texts(2),
        receipt_ocr: texts(3).swap_remove(0),
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

/// The texts of one brand as the hot loop reads them: fixed-size, in one flat table, the
/// strings of all brands packed in one block (a few hundred brands: they stay in cache).
struct Texts {
    open_finance: [&'static str; 4],
    open_finance_n: usize,
    csv_import: [&'static str; 2],
    csv_import_n: usize,
    receipt_ocr: &'static str,
}

/// The brands' texts, in `World::subs` order: brand m of subcategory `sub` is at
/// `base[sub] + m`.
struct BrandTexts {
    base: Vec<usize>,
    texts: Vec<Texts>,
}

static BRAND_TEXTS: LazyLock<BrandTexts> = LazyLock::new(|| {
    let mut all: Vec<MerchantTexts> = Vec::new();
    let mut base = Vec::new();
    for (ti, top) in TREE.iter().enumerate() {
        for (si, sub) in top.subs.iter().enumerate() {
            base.push(all.len());
            for m in sub.merchants {
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
    let texts = all
        .iter()
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
        .collect();
    BrandTexts { base, texts }
});

/// The three forms of each part of local business names.
struct LocalForms {
    /// By `SubInfo::local_slot`: the subcategory's trade words.
    trades: Vec<Vec<[String; 3]>>,
    parts: Vec<[String; 3]>,
    endings: Vec<[String; 3]>,
}

fn forms(s: &str) -> [String; 3] {
    let upper = statement_case(s);
    let tight = upper.replace(' ', "");
    [s.to_string(), upper, tight]
}

/// Built in `World::subs` order, as `SubInfo::local_slot` is.
static LOCAL_FORMS: LazyLock<LocalForms> = LazyLock::new(|| LocalForms {
    trades: TREE
        .iter()
        .flat_map(|top| top.subs.iter())
        .filter_map(|sub| crate::vocab::local_trade(sub.name))
        .map(|t| t.trades.iter().map(|w| forms(w)).collect())
        .collect(),
    parts: crate::vocab::LOCAL_NAME_PARTS
        .iter()
        .map(|s| forms(s))
        .collect(),
    endings: crate::vocab::LOCAL_NAME_ENDINGS
        .iter()
        .map(|s| forms(s))
        .collect(),
});

/// The name of local business `merchant` (at least `brands`) of `sub`, by parts.
#[inline]
fn local_name(w: &World, sub: usize, merchant: usize) -> Parts {
    let info = &w.subs[sub];
    let f = &*LOCAL_FORMS;
    let trades = &f.trades[info.local_slot];
    let [t, p, e] = crate::vocab::local_parts(trades.len(), merchant - info.brands);
    Parts([&trades[t], &f.parts[p], &f.endings[e]])
}

/// A text of a row: one that lives for the run (vocabulary, pooled brand texts), which an
/// encoder may remember by address ([`Encoder::text_static`]), or one built into a buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Text<'a> {
    Static(&'static str),
    Built(&'a str),
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match *self {
            Text::Static(s) => s,
            Text::Built(s) => s,
        }
    }
}

impl Text<'_> {
    #[inline]
    fn put<E: Encoder>(self, e: &mut E) {
        match self {
            Text::Static(s) => e.text_static(s),
            Text::Built(s) => e.text(s),
        }
    }
}

/// The merchant's name: a brand's from the vocabulary, a local business's put together in
/// `buf` from its parts (31,000 local names would not stay in cache; their parts do).
#[inline]
fn merchant_name<'a>(w: &World, core: &TxCore, buf: &'a mut String) -> Text<'a> {
    let info = &w.subs[core.sub];
    if core.merchant < info.brands {
        Text::Static(w.merchant_name(core.sub, core.merchant))
    } else {
        buf.clear();
        local_name(w, core.sub, core.merchant).plain(buf);
        Text::Built(buf)
    }
}

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

/// The transaction's description: typed by hand, a statement line, an imported line, a
/// receipt or the merchant's name, by entry method; local businesses' texts are put together
/// in `buf`.
#[inline]
fn description<'a>(core: &TxCore, w: &World, x: &Extra, buf: &'a mut String) -> Text<'a> {
    let info = &w.subs[core.sub];
    let v = x.variant as usize;
    let method = x.method;
    if method == 0 {
        let phrases = TREE[info.top].subs[info.sub].phrases;
        return Text::Static(phrases[v % phrases.len()]);
    }
    if method >= 4 {
        return merchant_name(w, core, buf);
    }
    if core.merchant < info.brands {
        let b = &*BRAND_TEXTS;
        let t = &b.texts[b.base[core.sub] + core.merchant];
        return Text::Static(match method {
            1 => t.open_finance[v % t.open_finance_n],
            2 => t.csv_import[v % t.csv_import_n],
            _ => t.receipt_ocr,
        });
    }
    let recur = TREE[info.top].subs[info.sub].recur;
    let n = text_count(info.kind, recur, method);
    buf.clear();
    write_text(
        info.kind,
        recur,
        method,
        v % n,
        &local_name(w, core.sub, core.merchant),
        buf,
    );
    Text::Built(buf)
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
        let dated = out.dated;
        if let Some(e) = out.row() {
            e.begin();
            e.int(core.id as i64);
            e.int(user as i64);
            e.money(share);
            e.text(status);
            e.opt_int(approver.map(|a| a as i64));
            e.opt_timestamp(at);
            if dated {
                e.date(core.day);
            }
            e.end();
        }
    }
}

/// What a transactions chunk shows of its work to a companion that needs the same
/// transactions (the insights told in the same pass: [`super::fill_with_insights`]).
pub trait Watch {
    /// Transaction `core` of context `c`, in id order.
    fn tx(&mut self, w: &World, c: &Ctx, core: &TxCore);
    /// The chunk has no more transactions of context `c`: `next` is the id after the last one
    /// it generated (the context's end, or the chunk's when the context runs past it).
    fn done(&mut self, w: &World, c: &Ctx, next: u64);
}

/// No companion.
impl Watch for () {
    #[inline]
    fn tx(&mut self, _: &World, _: &Ctx, _: &TxCore) {}
    #[inline]
    fn done(&mut self, _: &World, _: &Ctx, _: u64) {}
}

pub fn fill<E: Encoder>(w: &World, chunk: u64, outs: &mut [Out<E>]) {
    fill_watched(w, chunk, outs, &mut ());
}

/// [`fill`], showing every transaction to `watch`.
pub fn fill_watched<E: Encoder>(
    w: &World,
    chunk: u64,
    outs: &mut [Out<E>],
    watch: &mut impl Watch,
) {
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
    let (mut desc_buf, mut name_buf) = (String::new(), String::new());
    let end = ids.end;
    for id in ids {
        while id >= c.tx_first + c.tx_count {
            watch.done(w, &c, c.tx_first + c.tx_count);
            ctx_id += 1;
            c = w.context(ctx_id);
        }
        let core = w.tx_core(&c, id);
        watch.tx(w, &c, &core);
        let x = extra(&mut r, &core);
        let user = c.members[core.member].user_id;
        if let Some(e) = tx_out[0].row() {
            e.begin();
            e.int(id as i64);
            e.int(c.id as i64);
            e.int(user as i64);
            e.opt_int(core.category_id.map(|v| v as i64));
            e.money(core.amount_cents);
            e.text_static(c.currency);
            description(&core, w, &x, &mut desc_buf).put(e);
            merchant_name(w, &core, &mut name_buf).put(e);
            e.date(core.day);
            e.timestamp(x.created_at);
            e.text_static(kind_str(&core, w));
            e.text_static(x.status);
            e.text_static(METHODS[x.method]);
            e.text_static(x.source);
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
    watch.done(w, &c, end);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    /// Local businesses' texts put together from parts equal the pooled ones, for every
    /// merchant, entry method and variant.
    #[test]
    fn texts_from_parts_match_the_pool() {
        let w = World::new(Profile::load("ci").unwrap());
        let mut buf = String::new();
        let mut checked = 0;
        for (sub, info) in w.subs.iter().enumerate() {
            let pool = &POOL[info.top][info.sub];
            for (m, texts) in pool.iter().enumerate() {
                let core = TxCore {
                    id: 1,
                    member: 0,
                    day: 0,
                    sub,
                    category_id: None,
                    merchant: m,
                    amount_cents: 0,
                    recurring: false,
                    method: 0,
                    created_at: 0,
                    status: crate::model::Status::Posted,
                };
                for variant in 0..12u64 {
                    let want = |method: usize| -> &str {
                        let v = variant as usize;
                        match method {
                            1 => &texts.open_finance[v % texts.open_finance.len()],
                            2 => &texts.csv_import[v % texts.csv_import.len()],
                            3 => &texts.receipt_ocr,
                            _ => w.merchant_name(sub, m),
                        }
                    };
                    for method in 1..5 {
                        let x = Extra {
                            method,
                            created_at: 0,
                            status: "posted",
                            source: "none",
                            confidence: None,
                            variant,
                        };
                        assert_eq!(&*description(&core, &w, &x, &mut buf), want(method));
                        checked += 1;
                    }
                }
                assert_eq!(
                    &*merchant_name(&w, &core, &mut buf),
                    w.merchant_name(sub, m)
                );
            }
        }
        assert!(checked > 100_000, "{checked}");
    }
}
