//! `categories`: the pt_BR system tree (Alimentação > Supermercado, …) and custom categories
//! that contexts create under it.

use super::{Out, TableSpec};
use crate::model::{World, SECS_PER_DAY};
use crate::rng::{Domain, Draw};
use crate::table::{col, null_col, ColType::*, Encoder};
use crate::vocab::TREE;

pub static CATEGORIES: TableSpec = TableSpec {
    name: "categories",
    columns: &[
        col("id", BigInt),
        null_col("parent_id", BigInt),
        null_col("context_id", BigInt),
        col("name", Text),
        col("kind", Text),
        null_col("icon", Text),
        null_col("color", Text),
        col("is_system", Bool),
        col("created_at", Timestamptz),
    ],
};

/// Name of a custom category: the k-th of its context gets the k-th name of its parent's pool.
pub fn custom_name(w: &World, cat_id: u64, out: &mut String) {
    let top = w.custom_top(cat_id);
    let ctx = w.custom_owner(cat_id - w.system_categories - 1);
    let (first, _) = w.custom_range(ctx);
    let local = (cat_id - first) as usize;
    let pool = TREE[top].custom;
    let mut r = w.keyed.stream(Domain::Category, cat_id ^ (1 << 60));
    let base = r.below(pool.len() as u64) as usize;
    out.push_str(pool[(base + local) % pool.len()]);
    if local >= pool.len() {
        out.push(' ');
        out.push_str(itoa::Buffer::new().format(local / pool.len() + 1));
    }
}

pub fn fill<E: Encoder>(w: &World, chunk: u64, outs: &mut [Out<E>]) {
    let system_created = (w.start_day as i64 - 400) * SECS_PER_DAY;
    let mut name = String::new();
    for id in super::Group::Categories.chunk_ids(w, chunk) {
        let Some(e) = outs[0].row() else { continue };
        e.begin();
        e.int(id as i64);
        if id <= w.system_categories {
            if let Some(t) = w.top_ids.iter().position(|&t| t == id) {
                let top = &TREE[t];
                e.null();
                e.null();
                e.text(top.name);
                e.text(top.kind.as_str());
                e.text(top.icon);
                e.text(top.color);
            } else {
                let s = w.subs.iter().find(|s| s.id == id).expect("system id");
                let top = &TREE[s.top];
                e.int(w.top_ids[s.top] as i64);
                e.null();
                e.text(top.subs[s.sub].name);
                e.text(top.kind.as_str());
                e.null();
                e.text(top.color);
            }
            e.boolean(true);
            e.timestamp(system_created);
        } else {
            let top = w.custom_top(id);
            let ctx_id = w.custom_owner(id - w.system_categories - 1);
            let ctx_created = w.context(ctx_id).created_at;
            let mut r = w.keyed.stream(Domain::Category, id);
            let end = (w.end_day as i64 + 1) * SECS_PER_DAY - 1;
            let created = (ctx_created + r.below(2 * SECS_PER_DAY as u64) as i64).min(end);
            e.int(w.top_ids[top] as i64);
            e.int(ctx_id as i64);
            name.clear();
            custom_name(w, id, &mut name);
            e.text(&name);
            e.text(TREE[top].kind.as_str());
            e.null();
            e.text(TREE[top].color);
            e.boolean(false);
            e.timestamp(created);
        }
        e.end();
    }
}
