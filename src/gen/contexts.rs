//! `contexts` and `context_members`: the ledgers people work in, and who belongs to each.

use super::{Out, TableSpec};
use crate::model::{CtxKind, World};
use crate::rng::{Domain, Draw};
use crate::table::{col, null_col, ColType::*, Encoder};
use crate::vocab;

pub static CONTEXTS: TableSpec = TableSpec {
    name: "contexts",
    columns: &[
        col("id", BigInt),
        col("owner_id", BigInt),
        col("type", Text),
        null_col("subtype", Text),
        col("name", Text),
        col("currency", Char(3)),
        col("created_at", Timestamptz),
    ],
};

pub static CONTEXT_MEMBERS: TableSpec = TableSpec {
    name: "context_members",
    columns: &[
        col("context_id", BigInt),
        col("user_id", BigInt),
        col("role", Text),
        col("joined_at", Timestamptz),
    ],
};

const PERSONAL_NAMES: &[&str] = &[
    "Pessoal",
    "Minhas finanças",
    "Conta pessoal",
    "Dia a dia",
    "Orçamento pessoal",
];

/// Display name of a context.
pub fn context_name(w: &World, c: &crate::model::Ctx, out: &mut String) {
    let mut r = w.keyed.stream(Domain::Context, c.id ^ (1 << 61));
    let surname = || {
        let u = w.user_core(c.owner);
        let l = vocab::last_names()[u.last2.unwrap_or(u.last)];
        l.rsplit(' ').next().unwrap_or(l)
    };
    match (c.kind, c.subtype) {
        (CtxKind::Personal, _) => out.push_str(r.pick(PERSONAL_NAMES)),
        (CtxKind::Family, _) => {
            out.push_str("Família ");
            out.push_str(surname());
        }
        (CtxKind::Business, _) => {
            out.push_str(r.pick(vocab::BUSINESS_NAMES));
            out.push(' ');
            out.push_str(surname());
        }
        (CtxKind::Shared, Some("trip")) => out.push_str(r.pick(vocab::TRIP_NAMES)),
        (CtxKind::Shared, Some("household")) => out.push_str(r.pick(vocab::HOUSEHOLD_NAMES)),
        (CtxKind::Shared, _) => out.push_str(r.pick(vocab::GROUP_NAMES)),
    }
}

pub fn fill<E: Encoder>(w: &World, chunk: u64, outs: &mut [Out<E>]) {
    let mut name = String::with_capacity(64);
    for id in super::Group::Contexts.chunk_ids(w, chunk) {
        let c = w.context(id);
        if let Some(e) = outs[0].row() {
            e.begin();
            e.int(id as i64);
            e.int(c.owner as i64);
            e.text(c.kind.as_str());
            e.opt_text(c.subtype);
            name.clear();
            context_name(w, &c, &mut name);
            e.text(&name);
            e.text(c.currency);
            e.timestamp(c.created_at);
            e.end();
        }
        for m in &c.members {
            if let Some(e) = outs[1].row() {
                e.begin();
                e.int(id as i64);
                e.int(m.user_id as i64);
                e.text(m.role.as_str());
                e.timestamp(m.joined_at);
                e.end();
            }
        }
    }
}
