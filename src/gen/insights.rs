//! `ai_insights`: what the assistant told each user about a context, in pt_BR, pointing at the
//! transaction or category it is about. Insights follow activity: busy contexts get more.

use super::{Out, TableSpec};
use crate::civil;
use crate::encode::{col, null_col, ColType::*, Encoder};
use crate::model::{vocab_sub, Ctx, World, SECS_PER_DAY};
use crate::rng::{cdf, Domain, Draw};
use crate::vocab::{self, TREE};
use std::fmt::Write as _;

pub static AI_INSIGHTS: TableSpec = TableSpec {
    name: "ai_insights",
    columns: &[
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
    ],
};

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
    let a = cents.unsigned_abs();
    if cents < 0 {
        out.push('-');
    }
    out.push_str("R$ ");
    let reais = itoa::Buffer::new().format(a / 100).to_string();
    for (i, ch) in reais.chars().enumerate() {
        if i > 0 && (reais.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(ch);
    }
    let _ = write!(out, ",{:02}", a % 100);
}

pub fn fill<E: Encoder>(w: &World, chunk: u64, outs: &mut [Out<E>]) {
    let ids = super::Group::Insights.chunk_ids(w, chunk);
    let total_i = w.profile.volume.ai_insights;
    let total_t = w.transactions();
    let type_cdf = cdf(&vocab::INSIGHT_TYPES.iter().map(|t| t.1).collect::<Vec<_>>());
    let version_starts = [
        civil::days_from_civil(2024, 11, 1),
        civil::days_from_civil(2025, 6, 1),
    ];
    let end = (w.end_day as i64 + 1) * SECS_PER_DAY - 1;
    let mut cached: Option<Ctx> = None;
    let (mut title, mut body) = (String::new(), String::new());
    for id in ids {
        let mut r = w.keyed.stream(Domain::Insight, id);
        // Spread insights over transactions in id order, so busy contexts get more of them and
        // neighbouring insights share a context (one context lookup serves many).
        let lo = (id - 1) as u128 * total_t as u128 / total_i as u128;
        let hi = (id as u128 * total_t as u128 / total_i as u128).max(lo + 1);
        let tx_id = (lo + r.below((hi - lo) as u64) as u128) as u64 + 1;
        let ctx_id = w.context_of_tx(tx_id);
        if cached.as_ref().map(|c| c.id) != Some(ctx_id) {
            cached = Some(w.context(ctx_id));
        }
        let c = cached.as_ref().expect("context cached");
        let core = w.tx_core(c, tx_id);
        let info = &w.subs[core.sub];
        let sub = vocab_sub(info);
        let merchant = sub.merchants[core.merchant];
        let kind = vocab::INSIGHT_TYPES[r.pick_cdf(&type_cdf)].0;
        let created =
            (core.day as i64 * SECS_PER_DAY + 6 * 3600 + r.below(48 * 3600) as i64).min(end);
        let (_, month, _) = civil::civil_from_days(core.day);
        let month = MONTHS[month as usize - 1];
        let pct = 15 + r.below(120);
        let amount = core.amount_cents.abs();
        title.clear();
        body.clear();
        let (rel_cat, rel_tx) = match kind {
            "spending_spike" => {
                let _ = write!(title, "Gastos com {} acima do normal", sub.name);
                body.push_str("Você gastou ");
                brl(amount * (2 + r.below(6) as i64), &mut body);
                let _ = write!(
                    body,
                    " com {} em {month}, {pct}% acima da média dos últimos 3 meses.",
                    sub.name
                );
                (Some(info.id), Some(tx_id))
            }
            "budget_warning" => {
                let used = 75 + r.below(60);
                let _ = write!(title, "Orçamento de {} quase no limite", sub.name);
                let _ = write!(
                    body,
                    "Você já usou {used}% do orçamento de {} para {month}.",
                    sub.name
                );
                if used >= 100 {
                    body.push_str(" Considere rever os próximos gastos.");
                }
                (Some(info.id), None)
            }
            "recurring_detected" => {
                let _ = write!(title, "Cobrança recorrente detectada: {merchant}");
                body.push_str("Identificamos um pagamento mensal de ");
                brl(amount, &mut body);
                let _ = write!(body, " para {merchant}. Quer acompanhar como assinatura?");
                (Some(info.id), Some(tx_id))
            }
            "savings_opportunity" => {
                let cut = 10 + r.below(21);
                let _ = write!(title, "Oportunidade de economia em {}", sub.name);
                let _ = write!(
                    body,
                    "Reduzindo {cut}% dos gastos com {}, você economizaria cerca de ",
                    sub.name
                );
                brl(amount * cut as i64 * 4 / 100, &mut body);
                body.push_str(" por mês.");
                (Some(info.id), None)
            }
            "unusual_transaction" => {
                let _ = write!(title, "Transação incomum em {merchant}");
                body.push_str("Uma movimentação de ");
                brl(amount, &mut body);
                let _ = write!(
                    body,
                    " em {merchant} está fora do seu padrão para {}.",
                    sub.name
                );
                (Some(info.id), Some(tx_id))
            }
            _ => {
                let _ = write!(title, "Resumo de {month}");
                let _ = write!(body, "Em {month} você registrou {} transações em {}. A categoria com mais gastos foi {}.",
                    5 + r.below(120), TREE[info.top].name, sub.name);
                (None, None)
            }
        };
        let version = version_starts.iter().filter(|&&s| core.day >= s).count();
        let read = r.chance(600);
        let read_at = read.then(|| (created + r.below(5 * SECS_PER_DAY as u64) as i64).min(end));
        let dismissed = r.chance(150);
        let Some(e) = outs[0].row() else { continue };
        e.begin();
        e.int(id as i64);
        e.int(c.members[core.member].user_id as i64);
        e.int(c.id as i64);
        e.text(kind);
        e.text(&title);
        e.text(&body);
        e.decimal(600 + r.below(391) as i64, 3);
        e.text(vocab::MODEL_VERSIONS[version]);
        e.opt_int(rel_cat.map(|v| v as i64));
        e.opt_int(rel_tx.map(|v| v as i64));
        e.timestamp(created);
        e.boolean(read);
        e.opt_timestamp(read_at);
        e.boolean(dismissed);
        e.end();
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
