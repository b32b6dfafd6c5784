//! `budgets`: monthly spending limits per context and category, sized from the context's own
//! activity so that some months come in under budget and some blow through it.

use super::{Out, TableSpec};
use crate::civil;
use crate::model::{vocab_sub, Ctx, World, SECS_PER_DAY};
use crate::rng::{Domain, Draw};
use crate::table::{col, ColType::*, Encoder};
use crate::vocab::Kind;

pub static BUDGETS: TableSpec = TableSpec {
    name: "budgets",
    columns: &[
        col("context_id", BigInt),
        col("category_id", BigInt),
        col("month", Date),
        col("limit_amount", Numeric(12, 2)),
        col("alert_percent", Int),
        col("created_at", Timestamptz),
    ],
};

/// Months of budget history kept per context.
const BUDGET_MONTHS: i32 = 12;

/// A context's budgets: the same limit for each chosen subcategory in every month from
/// `first_month` to the window's last month.
pub struct CtxBudgets {
    pub first_month: i32,
    pub alert_percent: i64,
    /// (index into `World::subs`, limit in cents), by category id.
    pub items: Vec<(usize, i64)>,
}

impl CtxBudgets {
    /// `created_at` of the budget row of `month`.
    pub fn created_at(c: &Ctx, month: i32) -> i64 {
        ((civil::month_start(month) as i64 - 3) * SECS_PER_DAY + 9 * 3600).max(c.created_at)
    }
}

/// The budgets of context `c`, if it keeps any.
pub fn context_budgets(w: &World, c: &Ctx) -> Option<CtxBudgets> {
    let weight_total: u64 = w
        .free_subs
        .iter()
        .map(|&i| vocab_sub(&w.subs[i]).weight as u64)
        .sum();
    let end_month = civil::month_index(w.end_day);
    let mut r = w.keyed.stream(Domain::Budget, c.id);
    if !r.chance(w.profile.shape.budget_percent * 10) {
        return None;
    }
    let first_month = (civil::month_index(c.created_day()) + 1).max(end_month - BUDGET_MONTHS + 1);
    if first_month > end_month {
        return None;
    }
    let active_months = (end_month - civil::month_index(c.created_day()) + 1).max(1) as u64;
    let per_month = (c.tx_count - c.recurring_count) as f64 / active_months as f64;
    // 3 to 6 distinct expense subcategories, drawn by frequency.
    let want = r.range(3, 6) as usize;
    let mut chosen: Vec<usize> = Vec::with_capacity(want);
    for _ in 0..want * 4 {
        if chosen.len() == want {
            break;
        }
        let s = w.free_subs[r.pick_cdf(&w.free_sub_cdf)];
        if w.subs[s].kind == Kind::Expense && !chosen.contains(&s) {
            chosen.push(s);
        }
    }
    chosen.sort_unstable_by_key(|&s| w.subs[s].id);
    let alert = [70, 80, 80, 90][r.below(4) as usize];
    let items = chosen
        .iter()
        .map(|&s| {
            let sub = vocab_sub(&w.subs[s]);
            let expected = per_month * sub.weight as f64 / weight_total as f64;
            // A limit near the expected spend, rounded to R$ 50, at least R$ 100.
            let factor = 0.8 + r.unit() * 0.6;
            let raw = sub.median_cents as f64 * expected.max(1.0) * 1.25 * factor;
            (s, ((raw / 5000.0).round() as i64 * 5000).max(10_000))
        })
        .collect();
    Some(CtxBudgets {
        first_month,
        alert_percent: alert,
        items,
    })
}

pub fn fill<E: Encoder>(w: &World, chunk: u64, outs: &mut [Out<E>]) {
    let end_month = civil::month_index(w.end_day);
    for id in super::Group::Budgets.chunk_ids(w, chunk) {
        let c = w.context(id);
        let Some(b) = context_budgets(w, &c) else {
            continue;
        };
        for &(s, limit) in &b.items {
            for month in b.first_month..=end_month {
                let Some(e) = outs[0].row() else { continue };
                e.begin();
                e.int(id as i64);
                e.int(w.subs[s].id as i64);
                e.date(civil::month_start(month));
                e.money(limit);
                e.int(b.alert_percent);
                e.timestamp(CtxBudgets::created_at(&c, month));
                e.end();
            }
        }
    }
}
