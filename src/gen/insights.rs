//! `ai_insights`: what the assistant told each user about a context, in pt_BR, pointing at the
//! transaction or category it is about. Every claim is computed from the context's own
//! transactions (regenerated here from their keyed cores, or, in `generate`'s transactions
//! pass, taken from the cores that pass generates: [`Companion`]) by the rules in the README
//! ("AI insights"), and an insight is only written when its evidence exists. A context's
//! share of the profile's insight target is proportional to its transactions; it is a
//! target, not a quota, so a context with less evidence gets fewer insights.

use super::{Out, TableSpec};
use crate::civil;
use crate::model::{vocab_sub, Ctx, Status, TxCore, World, SECS_PER_DAY};
use crate::rng::{cdf, Domain, Draw};
use crate::table::{append, col, null_col, ColType::*, Column, Encoder};
use crate::vocab::{self, Kind, TREE};
use std::fmt::Write as _;

const INSIGHT_COLUMNS: [Column; 14] = [
    col("id", BigInt),
    col("user_id", BigInt),
    col("context_id", BigInt),
    col("type", Text),
    col("title", Text),
    col("body", Text),
    col("confidence", Numeric(4, 3)),
    col("model_version", Text),
    null_col("related_category_id", BigInt),
    null_col("related_transaction_id", BigInt),
    col("created_at", Timestamptz),
    col("is_read", Bool),
    null_col("read_at", Timestamptz),
    col("is_dismissed", Bool),
];

pub static AI_INSIGHTS: TableSpec = TableSpec {
    name: "ai_insights",
    columns: &INSIGHT_COLUMNS,
};

/// `ai_insights` in the partitioned layout: also the linked transaction's date, for the
/// composite key to the partitioned `transactions (id, transaction_date)`.
pub static AI_INSIGHTS_DATED: TableSpec = TableSpec {
    name: "ai_insights",
    columns: &INSIGHT_DATED_COLUMNS,
};
static INSIGHT_DATED_COLUMNS: [Column; 15] =
    append(INSIGHT_COLUMNS, null_col("related_transaction_date", Date));

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

/// `R$ 1.234,56`
pub fn brl(cents: i64, out: &mut String) {
    money("BRL", cents, out)
}

/// Money the Brazilian way in the context's currency: `R$ 1.234,56`, `US$ 12,00`, `€ 3,50`.
pub fn money(currency: &str, cents: i64, out: &mut String) {
    let a = cents.unsigned_abs();
    if cents < 0 {
        out.push('-');
    }
    out.push_str(match currency {
        "USD" => "US$ ",
        "EUR" => "€ ",
        _ => "R$ ",
    });
    let reais = itoa::Buffer::new().format(a / 100).to_string();
    for (i, ch) in reais.chars().enumerate() {
        if i > 0 && (reais.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(ch);
    }
    let _ = write!(out, ",{:02}", a % 100);
}

/// `outubro de 2025`
fn month_name(month: i32, out: &mut String) {
    let (y, m, _) = civil::civil_from_days(civil::month_start(month));
    let _ = write!(out, "{} de {y}", MONTHS[m as usize - 1]);
}

/// Sorts by `group`, then date, then id.
fn sort_key(group: u64, day: i32, id: u64) -> u128 {
    (group as u128) << 96 | ((day as i64 + (1 << 31)) as u128) << 64 | id as u128
}

/// Indices into `txs` of the transactions that pass `keep`, ordered by (group, date, id). `txs`
/// is in id order, so the index stands in for the id: when group (at most `group_max`), day
/// (within `days`) and index fit in 64 bits together, the sort runs on packed `u64` keys,
/// else on the 128-bit `wide` key; both give the same order. Written to `out`; `keys` is a
/// buffer for the sort.
fn sorted_by(
    txs: &[T],
    keep: impl Fn(&T) -> bool,
    group: impl Fn(&T) -> u64,
    group_max: u64,
    days: (i32, i32),
    wide: impl Fn(&T) -> u128,
    (keys, out): (&mut Vec<u64>, &mut Vec<u32>),
) {
    out.clear();
    let bits = |max: u64| u64::BITS - max.leading_zeros();
    let (gb, db, ib) = (
        bits(group_max),
        bits((days.1 - days.0) as u64),
        bits(txs.len() as u64),
    );
    if gb + db + ib <= 64 {
        keys.clear();
        keys.extend(
            txs.iter()
                .enumerate()
                .filter(|(_, t)| keep(t))
                .map(|(i, t)| group(t) << (db + ib) | ((t.day - days.0) as u64) << ib | i as u64),
        );
        keys.sort_unstable();
        let mask = if ib == 0 { 0 } else { u64::MAX >> (64 - ib) };
        out.extend(keys.iter().map(|k| (k & mask) as u32));
    } else {
        let mut keys: Vec<(u128, u32)> = txs
            .iter()
            .enumerate()
            .filter(|(_, t)| keep(t))
            .map(|(i, t)| (wide(t), i as u32))
            .collect();
        keys.sort_unstable();
        out.extend(keys.iter().map(|p| p.1));
    }
}

/// Buffers `candidates` reuses from one context to the next.
#[derive(Default)]
struct Scratch {
    txs: Vec<T>,
    keys: Vec<u64>,
    by_cat: Vec<u32>,
    by_merchant: Vec<u32>,
    groups: Vec<Group>,
    segs: Vec<(i32, usize, usize)>,
    ranks: Ranks,
}

/// Round half up of a non-negative a / b.
fn rhu(a: i64, b: i64) -> i64 {
    (2 * a + b) / (2 * b)
}

/// A transaction as the insights see it (cancelled ones are left out).
#[derive(Clone, Copy)]
struct T {
    id: u64,
    member: usize,
    day: i32,
    month: i32,
    cat: Option<u64>,
    /// Subcategory and merchant index: the same key means the same merchant name.
    mkey: u32,
    /// Absolute value, cents.
    amount: i64,
    created: i64,
    kind: Kind,
}

/// The merchant name of a transaction, from its key.
fn merchant_of(w: &World, t: &T) -> &'static str {
    w.merchant_name((t.mkey >> 16) as usize, (t.mkey & 0xffff) as usize)
}

/// Expense transactions of one category in one month: `by_cat[lo..hi]`.
struct Group {
    cat: u64,
    month: i32,
    lo: usize,
    hi: usize,
    spend: i64,
    max_created: i64,
}

enum Claim {
    Spike {
        cat: u64,
        month: i32,
        spend: i64,
        mean: i64,
        pct: i64,
    },
    Budget {
        cat: u64,
        month: i32,
        used: i64,
        limit: i64,
        pct: i64,
    },
    Recurring {
        merchant: &'static str,
        amount: i64,
        month: i32,
    },
    Savings {
        cat: u64,
        month: i32,
        avg: i64,
        cut: i64,
        saving: i64,
    },
    Unusual {
        merchant: &'static str,
        cat: u64,
        amount: i64,
        p95: i64,
    },
    Summary {
        month: i32,
        count: u64,
        spent: i64,
        income: i64,
        cat: u64,
        cat_spend: i64,
    },
}

struct Cand {
    created: i64,
    member: usize,
    cat: Option<u64>,
    tx: Option<u64>,
    claim: Claim,
}

const SPIKE: usize = 0;
const BUDGET: usize = 1;
const RECURRING: usize = 2;
const SAVINGS: usize = 3;
const UNUSUAL: usize = 4;
const SUMMARY: usize = 5;

/// Name of a category a transaction can carry (a subcategory or a custom category).
pub fn category_name(w: &World, id: u64, out: &mut String) {
    if id > w.system_categories {
        super::categories::custom_name(w, id, out);
    } else if let Ok(k) = w.subs.binary_search_by_key(&id, |s| s.id) {
        // `subs` is in id order.
        out.push_str(vocab_sub(&w.subs[k]).name);
    } else if let Some(t) = w.top_ids.iter().position(|&t| t == id) {
        out.push_str(TREE[t].name);
    }
}

/// A multiset of amounts drawn from a known set of values: a Fenwick tree of counts over the
/// distinct values, sorted, so inserting and asking for the k-th smallest are O(log n).
#[derive(Default)]
struct Ranks {
    values: Vec<i64>,
    tree: Vec<u32>,
    len: usize,
    /// `rank[j]`: index in `values` of the j-th value given to `reset`.
    rank: Vec<u32>,
    keys: Vec<u64>,
}

impl Ranks {
    /// Empty, over the values `all` (in any order, duplicates allowed); `rank` tells where
    /// each of them sits among the distinct values.
    fn reset(&mut self, all: impl ExactSizeIterator<Item = i64> + Clone) {
        let n = all.len();
        self.values.clear();
        self.rank.clear();
        self.rank.resize(n, 0);
        let max = all.clone().max().unwrap_or(0);
        let pos_bits = (u64::BITS - (n as u64).leading_zeros()).max(1);
        if max >= 0 && (max as u64) < 1 << (64 - pos_bits) {
            // One sort of (value, position) keys orders the values and places each position.
            self.keys.clear();
            self.keys.extend(
                all.enumerate()
                    .map(|(j, v)| (v as u64) << pos_bits | j as u64),
            );
            self.keys.sort_unstable();
            let mask = (1u64 << pos_bits) - 1;
            for &k in &self.keys {
                let v = (k >> pos_bits) as i64;
                if self.values.last() != Some(&v) {
                    self.values.push(v);
                }
                self.rank[(k & mask) as usize] = (self.values.len() - 1) as u32;
            }
        } else {
            self.values.extend(all.clone());
            self.values.sort_unstable();
            self.values.dedup();
            for (j, v) in all.enumerate() {
                self.rank[j] = self.values.partition_point(|&x| x < v) as u32;
            }
        }
        self.tree.clear();
        self.tree.resize(self.values.len() + 1, 0);
        self.len = 0;
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Count one more of the values given to `reset`: the `j`-th.
    fn insert(&mut self, j: usize) {
        let mut i = self.rank[j] as usize + 1;
        while i < self.tree.len() {
            self.tree[i] += 1;
            i += i & i.wrapping_neg();
        }
        self.len += 1;
    }

    /// The k-th smallest value counted (0-based, k < len): a descent through the tree.
    fn nth(&self, k: usize) -> i64 {
        let n = self.tree.len() - 1;
        let mut pos = 0;
        let mut rem = k as u32 + 1;
        let mut step = if n == 0 {
            0
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        while step > 0 {
            if pos + step <= n && self.tree[pos + step] < rem {
                pos += step;
                rem -= self.tree[pos];
            }
            step >>= 1;
        }
        self.values[pos]
    }
}

/// A transaction as the insights see it, from its core: `None` for a cancelled one.
#[inline]
fn seen(w: &World, core: &TxCore) -> Option<T> {
    if core.status == Status::Cancelled {
        return None;
    }
    Some(T {
        id: core.id,
        member: core.member,
        day: core.day,
        month: w.month_of(core.day),
        cat: core.category_id,
        mkey: (core.sub as u32) << 16 | core.merchant as u32,
        amount: core.amount_cents.abs(),
        created: core.created_at,
        kind: w.subs[core.sub].kind,
    })
}

/// Append what the insights see of context `c`'s transactions `ids`, generated again from
/// their keyed cores.
fn collect(w: &World, c: &Ctx, ids: std::ops::Range<u64>, txs: &mut Vec<T>) {
    txs.reserve(ids.end.saturating_sub(ids.start) as usize);
    txs.extend(ids.filter_map(|id| seen(w, &w.tx_core(c, id))));
}

/// Every true claim about context `c`, by type (indices of `vocab::INSIGHT_TYPES`).
/// `scratch.txs` holds the context's transactions as the insights see them ([`seen`]), in id
/// order.
fn candidates(w: &World, c: &Ctx, scratch: &mut Scratch, out: &mut [Vec<Cand>; 6]) {
    for list in out.iter_mut() {
        list.clear();
    }
    let Scratch {
        txs,
        keys,
        by_cat,
        by_merchant,
        groups,
        segs,
        ranks,
    } = scratch;
    let end = (w.end_day as i64 + 1) * SECS_PER_DAY - 1;
    let end_month = civil::month_index(w.end_day);
    let last_day_of_end_month =
        civil::month_start(end_month) + civil::days_in_month(end_month) as i32 - 1;
    let last_complete = if w.end_day == last_day_of_end_month {
        end_month
    } else {
        end_month - 1
    };
    // Jitter in 0..span seconds, keyed by what the insight is about.
    let jitter = |salt: u64, span: u64| -> i64 {
        (w.keyed.hash(Domain::Insight, c.id | 1 << 63, salt) % span) as i64
    };
    // When a monthly insight about month M is written: the next month's first morning, and
    // after the last evidence reached the app.
    let monthly_created = |month: i32, evidence: i64, salt: u64| -> Option<i64> {
        let t = (civil::month_start(month + 1) as i64 * SECS_PER_DAY + 7 * 3600).max(evidence + 60)
            + jitter(salt, 6 * 3600);
        (t <= end).then_some(t)
    };

    // Categorised expenses by (category, date, id): runs of one (category, month) are the
    // groups every category rule reads.
    // A category as a small ordinal: system ids as they are, then the context's own custom
    // categories (whose ids all come after the system ones), in id order.
    let cat_ord = |cat: u64| -> u64 {
        if cat <= w.system_categories {
            cat
        } else {
            w.system_categories + 1 + (cat - c.custom_first)
        }
    };
    let day_lo = txs.iter().map(|t| t.day).min().unwrap_or(0);
    let day_hi = txs.iter().map(|t| t.day).max().unwrap_or(0);
    let txs: &[T] = txs;
    let cat_max = w.system_categories + c.custom_count;
    sorted_by(
        txs,
        |t| t.kind == Kind::Expense && t.cat.is_some(),
        |t| cat_ord(t.cat.unwrap_or(0)),
        cat_max,
        (day_lo, day_hi),
        |t| sort_key(t.cat.unwrap_or(0), t.day, t.id),
        (keys, by_cat),
    );
    let by_cat: &[u32] = by_cat;
    groups.clear();
    for (k, &i) in by_cat.iter().enumerate() {
        let t = &txs[i as usize];
        let cat = t.cat.expect("categorised");
        match groups.last_mut() {
            Some(g) if g.cat == cat && g.month == t.month => {
                g.hi = k + 1;
                g.spend += t.amount;
                g.max_created = g.max_created.max(t.created);
            }
            _ => groups.push(Group {
                cat,
                month: t.month,
                lo: k,
                hi: k + 1,
                spend: t.amount,
                max_created: t.created,
            }),
        }
    }
    let find = |cat: u64, month: i32| -> Option<&Group> {
        groups
            .binary_search_by_key(&(cat, month), |g| (g.cat, g.month))
            .ok()
            .map(|k| &groups[k])
    };
    let groups: &[Group] = groups;

    for (gi, g) in groups.iter().enumerate() {
        let (cat, month) = (g.cat, g.month);
        if month > last_complete {
            continue;
        }
        let salt = cat << 20 | month as u64;
        // The group of `back` months before: groups of one category are consecutive, one per
        // month in month order, so it is among the `back` groups just before this one.
        let before = |back: usize| -> Option<&Group> {
            groups[gi.saturating_sub(back)..gi]
                .iter()
                .find(|p| p.cat == cat && p.month == month - back as i32)
        };
        let p1 = before(1);
        let p2 = before(2);
        let p3 = before(3);
        // Spending spike: at least 1.5 times the mean of the three months before, each of
        // them with spending, and at least R$ 100.
        if let (Some(p1), Some(p2), Some(p3)) = (p1, p2, p3) {
            let sum3 = p1.spend + p2.spend + p3.spend;
            if 2 * g.spend >= sum3 && g.spend >= 10_000 {
                let evidence = p1
                    .max_created
                    .max(p2.max_created)
                    .max(p3.max_created)
                    .max(g.max_created);
                // The largest expense of the month, the first by date and id among equals.
                let top = by_cat[g.lo..g.hi]
                    .iter()
                    .map(|&i| i as usize)
                    .max_by_key(|&i| (txs[i].amount, std::cmp::Reverse((txs[i].day, txs[i].id))))
                    .expect("a month with spending has transactions");
                if let Some(created) = monthly_created(month, evidence, salt) {
                    out[SPIKE].push(Cand {
                        created,
                        member: txs[top].member,
                        cat: Some(cat),
                        tx: Some(txs[top].id),
                        claim: Claim::Spike {
                            cat,
                            month,
                            spend: g.spend,
                            mean: rhu(sum3, 3),
                            pct: rhu(100 * (3 * g.spend - sum3), sum3),
                        },
                    });
                }
            }
        }
        // Savings opportunity: spending in each of the three months up to M averaging at
        // least R$ 200; cutting 10, 15 or 20% of the average.
        if let (Some(p1), Some(p2)) = (p1, p2) {
            let sum3 = g.spend + p1.spend + p2.spend;
            if sum3 >= 60_000 {
                let cut = [10, 15, 20][jitter(salt ^ 0x5a5, 3) as usize];
                let evidence = g.max_created.max(p1.max_created).max(p2.max_created);
                if let Some(created) = monthly_created(month, evidence, salt ^ 0x5a) {
                    out[SAVINGS].push(Cand {
                        created,
                        member: 0,
                        cat: Some(cat),
                        tx: None,
                        claim: Claim::Savings {
                            cat,
                            month,
                            avg: rhu(sum3, 3),
                            cut,
                            saving: rhu(sum3 * cut, 300),
                        },
                    });
                }
            }
        }
    }

    // Budget warning: the first moment the month's spending known to the app reaches the
    // budget's alert percentage.
    if let Some(b) = super::budgets::context_budgets(w, c) {
        for &(s, limit) in &b.items {
            let cat = w.subs[s].id;
            for month in b.first_month..=end_month {
                let Some(g) = find(cat, month) else {
                    continue;
                };
                let mut known: Vec<usize> =
                    by_cat[g.lo..g.hi].iter().map(|&i| i as usize).collect();
                known.sort_unstable_by_key(|&i| (txs[i].created, txs[i].id));
                let mut cum = 0i64;
                let Some(k) = known.iter().position(|&i| {
                    cum += txs[i].amount;
                    cum * 100 >= b.alert_percent * limit
                }) else {
                    continue;
                };
                let t = &txs[known[k]];
                let created = (t.created + 60)
                    .max(super::budgets::CtxBudgets::created_at(c, month) + 60)
                    + jitter(cat << 20 | month as u64 ^ 0xb0d, 1800);
                if created > end {
                    continue;
                }
                let used: i64 = known
                    .iter()
                    .filter(|&&i| txs[i].created <= created)
                    .map(|&i| txs[i].amount)
                    .sum();
                out[BUDGET].push(Cand {
                    created,
                    member: t.member,
                    cat: Some(cat),
                    tx: Some(t.id),
                    claim: Claim::Budget {
                        cat,
                        month,
                        used,
                        limit,
                        pct: used * 100 / limit,
                    },
                });
            }
        }
    }

    // Recurring: the first expense with the same merchant in each of the two months before
    // at an amount within 10% of its own.
    sorted_by(
        txs,
        |t| t.kind == Kind::Expense,
        |t| t.mkey as u64,
        (w.subs.len() as u64) << 16,
        (day_lo, day_hi),
        |t| sort_key(t.mkey as u64, t.day, t.id),
        (keys, by_merchant),
    );
    let by_merchant: &[u32] = by_merchant;
    // A merchant's run in (date, id) order is in month order: `segs` holds each month's
    // (month, start, end) within the run.
    let mut k = 0;
    while k < by_merchant.len() {
        let key = txs[by_merchant[k] as usize].mkey;
        let mut e = k;
        while e < by_merchant.len() && txs[by_merchant[e] as usize].mkey == key {
            e += 1;
        }
        let run = &by_merchant[k..e];
        segs.clear();
        for (j, &i) in run.iter().enumerate() {
            let m = txs[i as usize].month;
            match segs.last_mut() {
                Some(s) if s.0 == m => s.2 = j + 1,
                _ => segs.push((m, j, j + 1)),
            }
        }
        // The latest created_at of an expense of the month `seg` within 10% of `amount`.
        let near = |seg: &(i32, usize, usize), amount: i64| -> Option<i64> {
            run[seg.1..seg.2]
                .iter()
                .map(|&i| &txs[i as usize])
                .filter(|x| (x.amount - amount).abs() * 10 <= amount)
                .map(|x| x.created)
                .max()
        };
        'run: for (si, &(month, lo, hi)) in segs.iter().enumerate() {
            // The months before are among the segments just before this one.
            let before = |back: usize| {
                segs[si.saturating_sub(back)..si]
                    .iter()
                    .find(|s| s.0 == month - back as i32)
            };
            let (Some(s2), Some(s1)) = (before(2), before(1)) else {
                continue;
            };
            for &i in &run[lo..hi] {
                let t = &txs[i as usize];
                if let Some(c2) = near(s2, t.amount) {
                    if let Some(c1) = near(s1, t.amount) {
                        let created =
                            t.created.max(c1).max(c2) + 60 + jitter(t.id ^ 0x4ec, 6 * 3600);
                        if created <= end {
                            out[RECURRING].push(Cand {
                                created,
                                member: t.member,
                                cat: t.cat,
                                tx: Some(t.id),
                                claim: Claim::Recurring {
                                    merchant: merchant_of(w, t),
                                    amount: t.amount,
                                    month: t.month,
                                },
                            });
                        }
                        break 'run;
                    }
                }
            }
        }
        k = e;
    }

    // Unusual: above the 95th percentile (nearest rank) of at least 20 earlier-dated expenses
    // of the same category. The earlier amounts are counted in a Fenwick tree over the
    // category's distinct amounts, so the percentile is an O(log n) rank query rather than an
    // insertion into a sorted vector (quadratic on the busiest contexts).
    let mut k = 0;
    while k < by_cat.len() {
        let cat = txs[by_cat[k] as usize].cat;
        let run_end = k + by_cat[k..].partition_point(|&i| txs[i as usize].cat == cat);
        ranks.reset(by_cat[k..run_end].iter().map(|&i| txs[i as usize].amount));
        let run_start = k;
        let mut prior_created = 0i64;
        while k < run_end {
            let day = txs[by_cat[k] as usize].day;
            let mut e = k;
            while e < by_cat.len()
                && txs[by_cat[e] as usize].cat == cat
                && txs[by_cat[e] as usize].day == day
            {
                e += 1;
            }
            let n = ranks.len();
            if n >= 20 {
                let p95 = ranks.nth((95 * n).div_ceil(100) - 1);
                for &i in &by_cat[k..e] {
                    let t = &txs[i as usize];
                    if t.amount > p95 {
                        let created = t.created.max(prior_created) + 60 + jitter(t.id ^ 0x95, 3600);
                        if created <= end {
                            out[UNUSUAL].push(Cand {
                                created,
                                member: t.member,
                                cat: t.cat,
                                tx: Some(t.id),
                                claim: Claim::Unusual {
                                    merchant: merchant_of(w, t),
                                    cat: t.cat.expect("categorised"),
                                    amount: t.amount,
                                    p95,
                                },
                            });
                        }
                    }
                }
            }
            for (j, &i) in by_cat[k..e].iter().enumerate() {
                ranks.insert(k - run_start + j);
                prior_created = prior_created.max(txs[i as usize].created);
            }
            k = e;
        }
    }

    // Monthly summary of a complete month with categorised spending.
    let Some(first) = txs.iter().map(|t| t.month).min() else {
        return;
    };
    let last = txs.iter().map(|t| t.month).max().unwrap_or(first);
    // count, spent, income, latest created_at, (top category spend, category)
    let span = (last - first + 1) as usize;
    let mut months = vec![(0u64, 0i64, 0i64, 0i64, (0i64, std::cmp::Reverse(0u64))); span];
    for t in txs {
        let m = &mut months[(t.month - first) as usize];
        m.0 += 1;
        match t.kind {
            Kind::Expense => m.1 += t.amount,
            Kind::Income => m.2 += t.amount,
            Kind::Transfer => {}
        }
        m.3 = m.3.max(t.created);
    }
    for g in groups {
        let m = &mut months[(g.month - first) as usize];
        m.4 = m.4.max((g.spend, std::cmp::Reverse(g.cat)));
    }
    for (k, &(count, spent, income, max_created, (cat_spend, std::cmp::Reverse(cat)))) in
        months.iter().enumerate()
    {
        let month = first + k as i32;
        if month > last_complete || cat_spend == 0 {
            continue;
        }
        if let Some(created) = monthly_created(month, max_created, month as u64 ^ 0x5u64 << 40) {
            out[SUMMARY].push(Cand {
                created,
                member: 0,
                cat: Some(cat),
                tx: None,
                claim: Claim::Summary {
                    month,
                    count,
                    spent,
                    income,
                    cat,
                    cat_spend,
                },
            });
        }
    }
}

fn render(w: &World, c: &Ctx, claim: &Claim, title: &mut String, body: &mut String) {
    let cur = c.currency;
    let mut name = String::new();
    match *claim {
        Claim::Spike {
            cat,
            month,
            spend,
            mean,
            pct,
        } => {
            category_name(w, cat, &mut name);
            let _ = write!(title, "Gastos com {name} acima do normal");
            body.push_str("Em ");
            month_name(month, body);
            body.push_str(" você gastou ");
            money(cur, spend, body);
            let _ = write!(
                body,
                " com {name}, {pct}% acima da média dos 3 meses anteriores ("
            );
            money(cur, mean, body);
            body.push_str(").");
        }
        Claim::Budget {
            cat,
            month,
            used,
            limit,
            pct,
        } => {
            category_name(w, cat, &mut name);
            if pct >= 100 {
                let _ = write!(title, "Orçamento de {name} estourado");
            } else {
                let _ = write!(title, "Orçamento de {name} quase no limite");
            }
            let _ = write!(body, "Você já usou {pct}% do orçamento de {name} para ");
            month_name(month, body);
            body.push_str(": ");
            money(cur, used, body);
            body.push_str(" de ");
            money(cur, limit, body);
            body.push('.');
        }
        Claim::Recurring {
            merchant,
            amount,
            month,
        } => {
            let _ = write!(title, "Cobrança recorrente detectada: {merchant}");
            body.push_str("Identificamos um pagamento mensal de ");
            money(cur, amount, body);
            let _ = write!(
                body,
                " para {merchant}, com valores parecidos em 3 meses seguidos até "
            );
            month_name(month, body);
            body.push_str(". Quer acompanhar como assinatura?");
        }
        Claim::Savings {
            cat,
            month,
            avg,
            cut,
            saving,
        } => {
            category_name(w, cat, &mut name);
            let _ = write!(title, "Oportunidade de economia em {name}");
            body.push_str("Nos 3 meses até ");
            month_name(month, body);
            body.push_str(" você gastou em média ");
            money(cur, avg, body);
            let _ = write!(
                body,
                " por mês com {name}. Reduzindo {cut}%, economizaria cerca de "
            );
            money(cur, saving, body);
            body.push_str(" por mês.");
        }
        Claim::Unusual {
            merchant,
            cat,
            amount,
            p95,
        } => {
            category_name(w, cat, &mut name);
            let _ = write!(title, "Transação incomum em {merchant}");
            body.push_str("Uma movimentação de ");
            money(cur, amount, body);
            let _ = write!(
                body,
                " em {merchant} está acima de 95% dos seus gastos com {name} até então ("
            );
            money(cur, p95, body);
            body.push_str(").");
        }
        Claim::Summary {
            month,
            count,
            spent,
            income,
            cat,
            cat_spend,
        } => {
            category_name(w, cat, &mut name);
            title.push_str("Resumo de ");
            month_name(month, title);
            body.push_str("Em ");
            month_name(month, body);
            let _ = write!(body, " você registrou {count} transações: ");
            money(cur, spent, body);
            body.push_str(" em gastos e ");
            money(cur, income, body);
            let _ = write!(
                body,
                " em receitas. A categoria com mais gastos foi {name} ("
            );
            money(cur, cat_spend, body);
            body.push_str(").");
        }
    }
}

/// Tells contexts' insights: a context's true claims, the ones chosen, their rows. Buffers are
/// reused from one context to the next.
struct Teller {
    type_cdf: Vec<u32>,
    version_starts: [i32; 2],
    end: i64,
    title: String,
    body: String,
    scratch: Scratch,
    lists: [Vec<Cand>; 6],
    chosen: Vec<(i64, usize, usize)>,
}

impl Teller {
    fn new(w: &World) -> Self {
        Teller {
            type_cdf: cdf(&vocab::INSIGHT_TYPES.iter().map(|t| t.1).collect::<Vec<_>>()),
            version_starts: [
                civil::days_from_civil(2024, 11, 1),
                civil::days_from_civil(2025, 6, 1),
            ],
            end: (w.end_day as i64 + 1) * SECS_PER_DAY - 1,
            title: String::new(),
            body: String::new(),
            scratch: Scratch::default(),
            lists: Default::default(),
            chosen: Vec::new(),
        }
    }

    /// Write context `c`'s insights, told from its transactions in `self.scratch.txs`.
    fn tell<E: Encoder>(&mut self, w: &World, c: &Ctx, out: &mut Out<E>) {
        let (first_id, target) = w.insight_range(c.id);
        if target == 0 {
            return;
        }
        let lists = &mut self.lists;
        candidates(w, c, &mut self.scratch, lists);
        // Which true claims to tell: types drawn by weight, a claim of the type drawn uniformly;
        // a type without claims left yields to the next one.
        let mut r = w.keyed.stream(Domain::Insight, c.id | 1 << 61);
        let mut next = [0usize; 6];
        let chosen = &mut self.chosen;
        chosen.clear();
        for _ in 0..target {
            let t0 = r.pick_cdf(&self.type_cdf);
            let Some(ty) = (0..6)
                .map(|k| (t0 + k) % 6)
                .find(|&t| next[t] < lists[t].len())
            else {
                break;
            };
            // A claim of that type not told yet, uniformly (a partial Fisher-Yates shuffle).
            let list = &mut lists[ty];
            let j = next[ty] + r.below((list.len() - next[ty]) as u64) as usize;
            list.swap(next[ty], j);
            chosen.push((list[next[ty]].created, ty, next[ty]));
            next[ty] += 1;
        }
        chosen.sort_unstable();
        let (title, body) = (&mut self.title, &mut self.body);
        for (k, &(created, ty, idx)) in chosen.iter().enumerate() {
            let cand = &lists[ty][idx];
            let id = first_id + k as u64;
            let mut r = w.keyed.stream(Domain::Insight, id);
            let day = created.div_euclid(SECS_PER_DAY) as i32;
            let version = self.version_starts.iter().filter(|&&s| day >= s).count();
            let read = r.chance(600);
            let read_at = read
                .then(|| (created + 60 + r.below(5 * SECS_PER_DAY as u64) as i64).min(self.end));
            let dismissed = r.chance(150);
            let confidence = 600 + r.below(391) as i64;
            let dated = out.dated;
            let Some(e) = out.row() else { continue };
            title.clear();
            body.clear();
            render(w, c, &cand.claim, title, body);
            e.begin();
            e.int(id as i64);
            e.int(c.members[cand.member].user_id as i64);
            e.int(c.id as i64);
            e.text(vocab::INSIGHT_TYPES[ty].0);
            e.text(title);
            e.text(body);
            e.decimal(confidence, 3);
            e.text(vocab::MODEL_VERSIONS[version]);
            e.opt_int(cand.cat.map(|v| v as i64));
            e.opt_int(cand.tx.map(|v| v as i64));
            e.timestamp(created);
            e.boolean(read);
            e.opt_timestamp(read_at);
            e.boolean(dismissed);
            if dated {
                match cand.tx {
                    Some(tx) => e.date(w.tx_core(c, tx).day),
                    None => e.null(),
                }
            }
            e.end();
        }
    }
}

/// The insights group's chunk: contexts' insights, each told from its transactions generated
/// again.
pub fn fill<E: Encoder>(w: &World, chunk: u64, outs: &mut [Out<E>]) {
    let mut teller = Teller::new(w);
    for ctx_id in super::Group::Insights.chunk_ids(w, chunk) {
        if w.insight_range(ctx_id).1 == 0 {
            continue;
        }
        let c = w.context(ctx_id);
        let txs = &mut teller.scratch.txs;
        txs.clear();
        collect(w, &c, c.tx_first..c.tx_first + c.tx_count, txs);
        teller.tell(w, &c, &mut outs[0]);
    }
}

/// The insights of the contexts whose transactions start in a transactions chunk, told from
/// the transactions that chunk generates rather than generating them again (see
/// [`super::fill_with_insights`]). A context that runs past the chunk's end has the rest of
/// its transactions generated again here. Rows and order are those of the insights group:
/// contexts in id order, and a context without transactions has no insights in either.
pub struct Companion<'a, E> {
    teller: Teller,
    out: &'a mut Out<E>,
    /// The context whose transactions are being collected.
    collecting: Option<u64>,
}

impl<'a, E: Encoder> Companion<'a, E> {
    pub fn new(w: &World, out: &'a mut Out<E>) -> Self {
        Companion {
            teller: Teller::new(w),
            out,
            collecting: None,
        }
    }
}

impl<E: Encoder> super::transactions::Watch for Companion<'_, E> {
    #[inline]
    fn tx(&mut self, w: &World, c: &Ctx, core: &TxCore) {
        if core.id == c.tx_first {
            self.collecting = (w.insight_range(c.id).1 > 0).then_some(c.id);
            self.teller.scratch.txs.clear();
        }
        if self.collecting == Some(c.id) {
            if let Some(t) = seen(w, core) {
                self.teller.scratch.txs.push(t);
            }
        }
    }

    fn done(&mut self, w: &World, c: &Ctx, next: u64) {
        if self.collecting.take() != Some(c.id) {
            return;
        }
        collect(
            w,
            c,
            next..c.tx_first + c.tx_count,
            &mut self.teller.scratch.txs,
        );
        self.teller.tell(w, c, self.out);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn brl_format() {
        let f = |c| {
            let mut s = String::new();
            super::brl(c, &mut s);
            s
        };
        assert_eq!(f(123_456), "R$ 1.234,56");
        assert_eq!(f(5), "R$ 0,05");
        assert_eq!(f(100_000_000), "R$ 1.000.000,00");
    }
}
