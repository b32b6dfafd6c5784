//! Table generators. Each file generates one group of tables that share a parent: a chunk of
//! the group covers a fixed range of parent rows (users, contexts, transactions, insights), so a
//! chunk's rows depend only on (seed, table, chunk) and the chunk size comes from the data.

pub mod budgets;
pub mod categories;
pub mod contexts;
pub mod insights;
pub mod transactions;
pub mod users;

use crate::error::{Error, Result};
use crate::model::World;
use crate::table::Encoder;
use crate::table::{Layout, TableSpec};

/// One table's output for one chunk: the encoder (absent when the table is not wanted) and
/// how many rows the chunk holds.
pub struct Out<E> {
    pub enc: Option<E>,
    pub rows: u64,
    /// The encoder's table is the partitioned layout's version, which also carries the linked
    /// transaction's date as its last column (see [`Group::tables_in`]).
    pub dated: bool,
}

impl<E: Encoder> Out<E> {
    /// The output of table `t` of a group, encoded by `enc` when the table is wanted.
    pub fn new(t: &TableSpec, enc: Option<E>) -> Self {
        Out {
            enc,
            rows: 0,
            dated: std::ptr::eq(t, &transactions::SPLITS_DATED)
                || std::ptr::eq(t, &insights::AI_INSIGHTS_DATED),
        }
    }

    /// Counts a row and hands out the encoder when the table is being written.
    #[inline]
    pub fn row(&mut self) -> Option<&mut E> {
        self.rows += 1;
        self.enc.as_mut()
    }
}

/// Groups in foreign-key order: a group's tables only point at tables of earlier groups
/// (categories and contexts point at each other; keys are added after the load).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Users,
    Contexts,
    Categories,
    Budgets,
    Transactions,
    Insights,
}

static USERS_T: [&TableSpec; 1] = [&users::USERS];
static CONTEXTS_T: [&TableSpec; 2] = [&contexts::CONTEXTS, &contexts::CONTEXT_MEMBERS];
static CATEGORIES_T: [&TableSpec; 1] = [&categories::CATEGORIES];
static BUDGETS_T: [&TableSpec; 1] = [&budgets::BUDGETS];
static TRANSACTIONS_T: [&TableSpec; 2] = [&transactions::TRANSACTIONS, &transactions::SPLITS];
static INSIGHTS_T: [&TableSpec; 1] = [&insights::AI_INSIGHTS];
static TRANSACTIONS_DATED_T: [&TableSpec; 2] =
    [&transactions::TRANSACTIONS, &transactions::SPLITS_DATED];
static INSIGHTS_DATED_T: [&TableSpec; 1] = [&insights::AI_INSIGHTS_DATED];

impl Group {
    pub const ALL: [Group; 6] = [
        Group::Users,
        Group::Contexts,
        Group::Categories,
        Group::Budgets,
        Group::Transactions,
        Group::Insights,
    ];

    pub fn tables(self) -> &'static [&'static TableSpec] {
        match self {
            Group::Users => &USERS_T,
            Group::Contexts => &CONTEXTS_T,
            Group::Categories => &CATEGORIES_T,
            Group::Budgets => &BUDGETS_T,
            Group::Transactions => &TRANSACTIONS_T,
            Group::Insights => &INSIGHTS_T,
        }
    }

    /// The group's tables as a layout stores them: the partitioned layout's splits and
    /// insights also carry their transaction's date (the partition key their keys need).
    pub fn tables_in(self, layout: Layout) -> &'static [&'static TableSpec] {
        match (layout, self) {
            (Layout::Partitioned, Group::Transactions) => &TRANSACTIONS_DATED_T,
            (Layout::Partitioned, Group::Insights) => &INSIGHTS_DATED_T,
            _ => self.tables(),
        }
    }

    /// Parent rows per chunk: fixed per group, never derived from the thread count.
    pub fn chunk_rows(self) -> u64 {
        match self {
            Group::Users => 20_000,
            Group::Contexts | Group::Budgets => 10_000,
            Group::Categories => 10_000,
            Group::Transactions => 100_000,
            // Contexts: a context's insights are computed from all its transactions.
            Group::Insights => 500,
        }
    }

    /// Parent rows of the group.
    pub fn parents(self, w: &World) -> u64 {
        let v = &w.profile.volume;
        match self {
            Group::Users => v.users,
            Group::Contexts | Group::Budgets | Group::Insights => v.contexts,
            Group::Categories => w.system_categories + w.custom_categories,
            Group::Transactions => v.transactions,
        }
    }

    pub fn chunks(self, w: &World) -> u64 {
        self.parents(w).div_ceil(self.chunk_rows())
    }

    /// Parent ids (1-based, inclusive start, exclusive end) of a chunk.
    pub fn chunk_ids(self, w: &World, chunk: u64) -> std::ops::Range<u64> {
        let lo = chunk * self.chunk_rows() + 1;
        let hi = ((chunk + 1) * self.chunk_rows()).min(self.parents(w)) + 1;
        lo..hi
    }

    /// Generate one chunk into the outputs (one per table of the group, in `tables()` order).
    pub fn fill<E: Encoder>(self, w: &World, chunk: u64, outs: &mut [Out<E>]) {
        match self {
            Group::Users => users::fill(w, chunk, outs),
            Group::Contexts => contexts::fill(w, chunk, outs),
            Group::Categories => categories::fill(w, chunk, outs),
            Group::Budgets => budgets::fill(w, chunk, outs),
            Group::Transactions => transactions::fill(w, chunk, outs),
            Group::Insights => insights::fill(w, chunk, outs),
        }
    }

    /// Salt that keys this group's chunk streams.
    pub fn salt(self) -> u64 {
        self as u64 + 1
    }
}

/// The transactions group's chunk with a third output: the insights of the contexts whose
/// transactions start in the chunk, told from the transactions it generates (`outs`:
/// transactions, transaction_splits, ai_insights). Over consecutive chunks these are the
/// insights group's rows in its order, so `generate`, writing both, generates each context's
/// transactions once instead of twice.
pub fn fill_with_insights<E: Encoder>(w: &World, chunk: u64, outs: &mut [Out<E>]) {
    let (txs, ins) = outs.split_at_mut(2);
    let mut companion = insights::Companion::new(w, &mut ins[0]);
    transactions::fill_watched(w, chunk, txs, &mut companion);
}

pub fn all_tables() -> impl Iterator<Item = &'static TableSpec> {
    Group::ALL.iter().flat_map(|g| g.tables().iter().copied())
}

pub fn group_of(table: &str) -> Option<Group> {
    Group::ALL
        .into_iter()
        .find(|g| g.tables().iter().any(|t| t.name == table))
}

/// Parse `--tables a,b`: every name must be a table.
pub fn parse_tables(list: &str) -> Result<Vec<&'static str>> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match all_tables().find(|t| t.name == name) {
            Some(t) => out.push(t.name),
            None => {
                let names: Vec<&str> = all_tables().map(|t| t.name).collect();
                return Err(Error::Usage(format!(
                    "--tables: no table named `{name}`\n  fix: choose from {}",
                    names.join(", ")
                )));
            }
        }
    }
    if out.is_empty() {
        return Err(Error::Usage(
            "--tables: the list is empty\n  fix: name at least one table, or leave the flag out"
                .into(),
        ));
    }
    Ok(out)
}
