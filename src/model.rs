//! The world every table agrees on: who owns which context, who is a member since when, how
//! many transactions each context holds, which categories exist. Everything here is computed
//! from the profile and stateless keyed draws, so any chunk of any table can be generated
//! alone, on any thread, in any order.

use crate::civil;
use crate::profile::Profile;
use crate::rng::{
    cdf, zipf_lut, Domain, Draw, Keyed, KeyedStream, LogNormal, Lut, NormalTable, SmallLut,
};
use crate::vocab::{self, Kind, Recur, TREE};

pub const SECS_PER_DAY: i64 = 86_400;

/// Brazilian Open Finance shares up to 12 months of an account's transactions.
pub const OPEN_FINANCE_HISTORY_DAYS: i32 = 365;

/// The busiest contexts run at most this many times their kind's typical daily rate.
pub const ACTIVITY_CAP: f64 = 60.0;

/// No context holds more than this share of all transactions (profiles with at least 300
/// contexts; smaller ones allow 3/contexts).
pub const MAX_CONTEXT_SHARE: f64 = 0.01;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtxKind {
    Personal,
    Family,
    Shared,
    Business,
}

impl CtxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CtxKind::Personal => "personal",
            CtxKind::Family => "family",
            CtxKind::Shared => "shared",
            CtxKind::Business => "business",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Member {
    pub user_id: u64,
    pub role: Role,
    /// Seconds since the epoch.
    pub joined_at: i64,
}

impl Member {
    pub fn joined_day(&self) -> i32 {
        self.joined_at.div_euclid(SECS_PER_DAY) as i32
    }
    pub fn transacts(&self) -> bool {
        self.role != Role::Viewer
    }
}

/// Facts about a user that other tables need.
#[derive(Clone, Copy, Debug)]
pub struct UserCore {
    pub created_at: i64,
    pub monthly_income_cents: i64,
    pub first: usize,
    pub last: usize,
    pub last2: Option<usize>,
}

/// A monthly series (salary, rent, subscriptions) of a context.
#[derive(Clone, Copy, Debug)]
pub struct Series {
    pub sub: usize,
    pub day: u32,
    pub amount_cents: i64,
    pub merchant: usize,
    /// Utilities vary month to month; rent and subscriptions do not.
    pub varies: bool,
}

#[derive(Clone, Debug)]
pub struct Ctx {
    pub id: u64,
    pub kind: CtxKind,
    pub subtype: Option<&'static str>,
    pub owner: u64,
    pub created_at: i64,
    pub currency: &'static str,
    pub members: Vec<Member>,
    /// Transaction ids `tx_first ..= tx_first + tx_count - 1`.
    pub tx_first: u64,
    pub tx_count: u64,
    pub series: Vec<Series>,
    /// First month index (see `civil::month_index`) the series run in.
    pub series_first_month: i32,
    pub recurring_count: u64,
    /// Custom category ids `custom_first .. custom_first + custom_count`.
    pub custom_first: u64,
    pub custom_count: u64,
    /// Days of bank history imported through Open Finance when the context was connected
    /// (0 for contexts without a connected bank account).
    pub history_days: i32,
    /// Start of the neighbourhood (see `World::draw_merchant`) of each subcategory with local
    /// businesses, by `SubInfo::local_slot`: worked out once per context, not per purchase.
    pub local_start: Vec<u32>,
}

impl Ctx {
    pub fn created_day(&self) -> i32 {
        self.created_at.div_euclid(SECS_PER_DAY) as i32
    }
}

/// Per-subcategory tables built once.
pub struct SubInfo {
    pub top: usize,
    pub sub: usize,
    pub id: u64,
    pub kind: Kind,
    /// `vocab_sub(..).median_cents`, kept here for the hot path.
    pub median_cents: f64,
    pub lognormal: LogNormal,
    /// Draws among the national brands, most popular most often.
    pub merchants: SmallLut,
    /// Brands, then local businesses: `vocab::MERCHANTS[top][sub]` has `brands + locals` names.
    pub brands: usize,
    pub locals: usize,
    /// Share of spending that goes to local businesses rather than brands.
    pub local_permille: u32,
    /// Where this subcategory's names start in `World::merchant_names`.
    pub merchant_base: usize,
    /// Index into `Ctx::local_start` when the subcategory has local businesses.
    pub local_slot: usize,
}

/// The deterministic core of a transaction: what other tables need to agree on.
#[derive(Clone, Copy, Debug)]
pub struct TxCore {
    pub id: u64,
    pub member: usize,
    pub day: i32,
    pub sub: usize,
    pub category_id: Option<u64>,
    pub merchant: usize,
    pub amount_cents: i64,
    pub recurring: bool,
    /// How it was entered: an index into `gen::transactions::METHODS`.
    pub method: u8,
    /// When the row reached the app (seconds since the epoch): after the purchase, later still
    /// when synced or imported.
    pub created_at: i64,
    pub status: Status,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Posted,
    Pending,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Posted => "posted",
            Status::Pending => "pending",
            Status::Cancelled => "cancelled",
        }
    }
}

pub struct World {
    pub profile: Profile,
    pub keyed: Keyed,
    pub start_day: i32,
    pub end_day: i32,
    pub normal: NormalTable,
    pub subs: Vec<SubInfo>,
    /// Subcategory index ranges per top-level category, into `subs`.
    pub top_subs: Vec<std::ops::Range<usize>>,
    pub top_ids: Vec<u64>,
    /// Non-recurring subcategories of each top-level category.
    pub top_free: Vec<Vec<usize>>,
    /// Non-recurring subcategory draw table (index into `subs`), cumulative and O(1).
    pub free_sub_cdf: Vec<u32>,
    pub free_sub_lut: Lut,
    pub free_subs: Vec<usize>,
    pub system_categories: u64,
    pub custom_categories: u64,
    owner_mul: u64,
    owner_add: u64,
    /// `tx_start[j]` is the 0-based index of context j's first transaction; one extra entry.
    tx_start: Vec<u64>,
    /// `ins_start[j]`: insight ids of context j are `ins_start[j] + 1 ..= ins_start[j + 1]`,
    /// its share of the profile's insight target, proportional to its transactions.
    ins_start: Vec<u64>,
    /// Per-mille acceptance weight of each day in the window, for shaped date draws.
    day_weight: Vec<u16>,
    pub cities: Lut,
    pub email_cdf: Vec<u32>,
    pub hours: Lut,
    password_hash: std::sync::OnceLock<String>,
    /// `subs` index of each of `SERIES_SUBS`, looked up once rather than per context.
    series_subs: [usize; SERIES_SUBS.len()],
    /// Every merchant name, subcategory after subcategory (`SubInfo::merchant_base`): one flat
    /// table rather than three levels of vectors behind a lazy static.
    merchant_names: Vec<&'static str>,
    /// Subcategories with local businesses, by `SubInfo::local_slot`.
    local_subs: Vec<usize>,
    /// The keyed stream key of `Domain::TxCore`, worked out once.
    tx_key: u64,
    /// `civil::month_index` of the days from `month_days` on, through `end_day`.
    month_of_day: Vec<i32>,
    month_days: i32,
}

/// The subcategories monthly series are drawn in (see `World::context`).
const SERIES_SUBS: [&str; 12] = [
    "Salário",
    "Aluguel",
    "Condomínio",
    "Energia elétrica",
    "Internet e TV",
    "Streaming",
    "Telefonia celular",
    "Academia",
    "Água e esgoto",
    "Mensalidade escolar",
    "Plano de saúde",
    "Seguros",
];

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Hourly activity (local time): quiet at night, peaks at lunch and early evening.
const HOUR_WEIGHTS: [u32; 24] = [
    4, 2, 1, 1, 1, 2, 6, 14, 24, 30, 34, 42, 60, 52, 36, 32, 34, 44, 58, 62, 50, 38, 22, 10,
];

impl World {
    pub fn new(profile: Profile) -> World {
        let keyed = Keyed::new(profile.seed);
        let start_day = profile.start_day();
        let end_day = profile.end_day;
        let normal = NormalTable::new();

        let mut subs = Vec::new();
        let mut top_subs = Vec::new();
        let mut top_ids = Vec::new();
        let mut id = 1u64;
        let mut merchant_names: Vec<&'static str> = Vec::new();
        let mut local_subs = Vec::new();
        for (ti, top) in TREE.iter().enumerate() {
            top_ids.push(id);
            id += 1;
            let first = subs.len();
            for (si, s) in top.subs.iter().enumerate() {
                let names = &vocab::MERCHANTS[ti][si];
                let locals = names.len() - s.merchants.len();
                let local_slot = if locals > 0 {
                    local_subs.push(subs.len());
                    local_subs.len() - 1
                } else {
                    usize::MAX
                };
                subs.push(SubInfo {
                    top: ti,
                    sub: si,
                    id,
                    kind: top.kind,
                    median_cents: s.median_cents as f64,
                    lognormal: LogNormal::new(&normal, s.sigma),
                    merchants: SmallLut::new(&zipf_lut(
                        s.merchants.len(),
                        (profile.shape.merchant_skew * 10.0).round() as u32,
                    )),
                    brands: s.merchants.len(),
                    locals,
                    local_permille: vocab::local_trade(s.name).map_or(0, |t| t.share_permille),
                    merchant_base: merchant_names.len(),
                    local_slot,
                });
                merchant_names.extend(names.iter().copied());
                id += 1;
            }
            top_subs.push(first..subs.len());
        }
        let system_categories = id - 1;
        let free_subs: Vec<usize> = (0..subs.len())
            .filter(|&i| vocab_sub(&subs[i]).weight > 0)
            .collect();
        let top_free = top_subs
            .iter()
            .map(|r: &std::ops::Range<usize>| {
                let v: Vec<usize> = r
                    .clone()
                    .filter(|&i| vocab_sub(&subs[i]).weight > 0)
                    .collect();
                if v.is_empty() {
                    vec![r.start]
                } else {
                    v
                }
            })
            .collect();
        let free_sub_lut = Lut::new(
            &free_subs
                .iter()
                .map(|&i| vocab_sub(&subs[i]).weight)
                .collect::<Vec<_>>(),
        );
        let free_sub_cdf = cdf(&free_subs
            .iter()
            .map(|&i| vocab_sub(&subs[i]).weight)
            .collect::<Vec<_>>());

        let users = profile.volume.users.max(1);
        let mut owner_mul = (keyed.hash(Domain::Owner, 0, 0) % users) | 1;
        while gcd(owner_mul, users) != 1 {
            owner_mul += 1;
        }
        let owner_add = keyed.hash(Domain::Owner, 1, 0) % users;

        let span = (end_day - start_day + 1) as usize;
        let dec = 1000 + profile.shape.december_peak_percent as u64 * 10;
        let raw: Vec<u64> = (0..span)
            .map(|i| {
                let d = start_day + i as i32;
                let (_, m, dom) = civil::civil_from_days(d);
                let wd: u64 = [900, 930, 960, 1000, 1150, 1250, 850][civil::weekday(d) as usize];
                let month: u64 = match m {
                    12 => dec,
                    11 => 1100,
                    1 => 950,
                    2 => 920,
                    _ => 1000,
                };
                let payday: u64 = if (5..=8).contains(&dom) || (20..=22).contains(&dom) {
                    1250
                } else {
                    1000
                };
                wd * month / 1000 * payday / 1000
            })
            .collect();
        let max = raw.iter().copied().max().unwrap_or(1).max(1);
        let day_weight = raw.iter().map(|&w| (w * 1000 / max) as u16).collect();

        let mut w = World {
            keyed,
            start_day,
            end_day,
            normal,
            subs,
            top_subs,
            top_ids,
            top_free,
            free_sub_lut,
            free_sub_cdf,
            free_subs,
            system_categories,
            custom_categories: profile.volume.categories.saturating_sub(system_categories),
            owner_mul,
            owner_add,
            tx_start: Vec::new(),
            ins_start: Vec::new(),
            day_weight,
            cities: Lut::new(&vocab::CITIES.iter().map(|c| c.4).collect::<Vec<_>>()),
            email_cdf: cdf(&vocab::EMAIL_DOMAINS.iter().map(|c| c.1).collect::<Vec<_>>()),
            hours: Lut::new(&HOUR_WEIGHTS),
            password_hash: std::sync::OnceLock::new(),
            series_subs: [0; SERIES_SUBS.len()],
            merchant_names,
            local_subs,
            tx_key: keyed.domain_key(Domain::TxCore),
            month_of_day: Vec::new(),
            month_days: start_day - 366,
            profile,
        };
        w.month_of_day = (w.month_days..=end_day).map(civil::month_index).collect();
        for (k, name) in SERIES_SUBS.iter().enumerate() {
            w.series_subs[k] = w.find_sub(name);
        }
        w.tx_start = w.allocate_transactions();
        let (ti, tt) = (
            w.profile.volume.ai_insights as u128,
            w.transactions() as u128,
        );
        w.ins_start = w
            .tx_start
            .iter()
            .map(|&s| (s as u128 * ti).checked_div(tt).unwrap_or(0) as u64)
            .collect();
        w
    }

    /// The bcrypt hash of the profile's password, computed once per run (a million hashes
    /// would take hours) with a salt derived from the seed, so output stays deterministic.
    pub fn password_hash(&self) -> &str {
        self.password_hash.get_or_init(|| {
            let mut salt = [0u8; 16];
            salt[..8].copy_from_slice(&self.keyed.hash(Domain::User, 0, 1).to_le_bytes());
            salt[8..].copy_from_slice(&self.keyed.hash(Domain::User, 0, 2).to_le_bytes());
            bcrypt::hash_with_salt(&self.profile.password, self.profile.bcrypt_cost, salt)
                .expect("bcrypt cost and password length are validated by the profile")
                .format_for_version(bcrypt::Version::TwoB)
        })
    }

    pub fn users(&self) -> u64 {
        self.profile.volume.users
    }
    pub fn contexts(&self) -> u64 {
        self.profile.volume.contexts
    }
    pub fn transactions(&self) -> u64 {
        self.profile.volume.transactions
    }

    /// Split the profile's transaction count among contexts: each context's weight is its
    /// kind's transactions per active day (`[shape]` `*_daily`) times its active days times a
    /// Pareto activity factor (`activity_alpha`, capped at `ACTIVITY_CAP` times the typical
    /// rate), and no context takes more than `MAX_CONTEXT_SHARE` of all transactions (or
    /// 3/contexts on tiny profiles). Integer arithmetic keeps the total exact.
    fn allocate_transactions(&self) -> Vec<u64> {
        let n = self.contexts() as usize;
        let total = self.transactions();
        let alpha = self.profile.shape.activity_alpha;
        let rates = self.profile.shape.daily_rates;
        let mut weights = Vec::with_capacity(n);
        for j in 0..n {
            let mut r = self.keyed.stream(Domain::Weight, j as u64);
            let u = ((r.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
            let pareto = u.powf(-1.0 / alpha).min(ACTIVITY_CAP);
            let (kind, created) = self.context_kind_and_created(j as u64 + 1);
            let rate = rates[kind as usize];
            let created_day = (created / SECS_PER_DAY) as i32;
            let history = self.history_days(j as u64 + 1, kind, created_day);
            let active = (self.end_day - created_day + 1 + history).max(1) as f64;
            weights.push(pareto * rate * active);
        }
        // Water-fill: weights above the cap's share are held at it until none is above.
        let cap_share = MAX_CONTEXT_SHARE.max(3.0 / n.max(1) as f64);
        for _ in 0..50 {
            let sum: f64 = weights.iter().sum();
            let cap = sum * cap_share;
            if !weights.iter().any(|&w| w > cap * 1.000_001) {
                break;
            }
            for w in weights.iter_mut() {
                *w = w.min(cap);
            }
        }
        let weights: Vec<u64> = weights.iter().map(|&w| (w * 1000.0) as u64 + 1).collect();
        let sum: u128 = weights.iter().map(|&w| w as u128).sum();
        let mut start = Vec::with_capacity(n + 1);
        let mut counts: Vec<u64> = weights
            .iter()
            .map(|&w| (total as u128 * w as u128 / sum.max(1)) as u64)
            .collect();
        let assigned: u64 = counts.iter().sum();
        let rem = total - assigned;
        for j in 0..rem as usize {
            counts[j % n.max(1)] += 1;
        }
        let mut acc = 0u64;
        for c in counts {
            start.push(acc);
            acc += c;
        }
        start.push(acc);
        start
    }

    /// How concentrated activity is: the busiest context's share of all transactions and the
    /// share of the busiest 1% of contexts (at least one), both as fractions.
    pub fn activity_shares(&self) -> (f64, f64) {
        let total = self.transactions().max(1) as f64;
        let mut counts: Vec<u64> = self.tx_start.windows(2).map(|p| p[1] - p[0]).collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top = counts.len().div_ceil(100);
        let busiest = counts.first().copied().unwrap_or(0) as f64 / total;
        let top1 = counts.iter().take(top).sum::<u64>() as f64 / total;
        (busiest, top1)
    }

    /// Owner of context `id` (1-based): a bijection spreads owners over users, so with fewer
    /// contexts than users every context has a different owner.
    pub fn owner_of(&self, ctx_id: u64) -> u64 {
        let users = self.users();
        ((ctx_id - 1) % users * self.owner_mul % users + self.owner_add) % users + 1
    }

    pub fn user_core(&self, user_id: u64) -> UserCore {
        let mut r = self.keyed.stream(Domain::User, user_id);
        let lo = self.start_day as i64 - 180;
        let hi = self.end_day as i64 - 45;
        // More sign-ups later in the window: the product grows.
        let u = r.unit().sqrt();
        let day = lo + ((hi - lo) as f64 * u) as i64;
        let created_at = day * SECS_PER_DAY + r.below(SECS_PER_DAY as u64) as i64;
        let z = self.normal.draw(&mut r);
        // Monthly income: lognormal around R$ 3.200 with a long right tail.
        let income = (320_000.0 * (0.75 * z).exp()).round() as i64;
        let income = (income / 100 * 100).max(141_200);
        let first = r.below(vocab::first_names().len() as u64) as usize;
        let last = r.below(vocab::last_names().len() as u64) as usize;
        let last2 = if r.chance(550) {
            Some(r.below(vocab::last_names().len() as u64) as usize)
        } else {
            None
        };
        UserCore {
            created_at,
            monthly_income_cents: income,
            first,
            last,
            last2,
        }
    }

    /// Days of history a context imported when its owner connected a bank account through
    /// Open Finance: Brazilian Open Finance shares up to 12 months of transactions, so 365 days,
    /// or fewer when the window starts later. 40% of personal and family contexts and 50% of
    /// business ones are connected; shared ones (trips, groups) are not.
    pub fn history_days(&self, ctx_id: u64, kind: CtxKind, created_day: i32) -> i32 {
        let permille = match kind {
            CtxKind::Personal | CtxKind::Family => 400,
            CtxKind::Business => 500,
            CtxKind::Shared => 0,
        };
        if self.keyed.hash(Domain::Context, ctx_id, 0x0f1a) % 1000 < permille {
            (created_day - self.start_day).clamp(0, OPEN_FINANCE_HISTORY_DAYS)
        } else {
            0
        }
    }

    fn context_kind_and_created(&self, ctx_id: u64) -> (CtxKind, i64) {
        let mut r = self.keyed.stream(Domain::Context, ctx_id);
        let mix = self.profile.shape.context_mix;
        let x = r.below(100) as u32;
        let kind = if x < mix[0] {
            CtxKind::Personal
        } else if x < mix[0] + mix[1] {
            CtxKind::Family
        } else if x < mix[0] + mix[1] + mix[2] {
            CtxKind::Shared
        } else {
            CtxKind::Business
        };
        let owner = self.user_core(self.owner_of(ctx_id));
        let lo = owner.created_at.max(self.start_day as i64 * SECS_PER_DAY);
        let hi = (self.end_day as i64 - 30) * SECS_PER_DAY;
        let created = if hi <= lo {
            lo
        } else {
            // Most contexts are created soon after their owner signs up.
            let u = r.unit();
            lo + ((hi - lo) as f64 * u * u * u) as i64
        };
        (kind, created)
    }

    /// Everything about a context, from its id (1-based).
    pub fn context(&self, ctx_id: u64) -> Ctx {
        let (kind, created_at) = self.context_kind_and_created(ctx_id);
        let mut r = self.keyed.stream(Domain::Member, ctx_id);
        let owner = self.owner_of(ctx_id);
        let subtype = match kind {
            CtxKind::Shared => Some(["trip", "household", "group"][r.below(3) as usize]),
            _ => None,
        };
        let currency = match subtype {
            Some("trip") if r.chance(250) => {
                if r.chance(600) {
                    "USD"
                } else {
                    "EUR"
                }
            }
            _ => "BRL",
        };
        let extra = match kind {
            CtxKind::Personal => 0,
            CtxKind::Family => r.range(1, 4) as u64,
            CtxKind::Shared => r.range(1, 7) as u64,
            CtxKind::Business => r.range(0, 5) as u64,
        };
        let users = self.users();
        let extra = extra.min(users - 1);
        let mut members = vec![Member {
            user_id: owner,
            role: Role::Owner,
            joined_at: created_at,
        }];
        let end = (self.end_day as i64 - 7) * SECS_PER_DAY;
        while (members.len() as u64) < extra + 1 {
            let candidate = r.below(users) + 1;
            if members.iter().any(|m| m.user_id == candidate) {
                continue;
            }
            let role = match kind {
                CtxKind::Business if r.chance(300) => Role::Admin,
                CtxKind::Family if r.chance(250) => Role::Admin,
                _ if r.chance(80) => Role::Viewer,
                _ => Role::Member,
            };
            let uc = self.user_core(candidate).created_at;
            let base = created_at.max(uc);
            let joined = (base + r.below(30 * SECS_PER_DAY as u64) as i64).min(end.max(base));
            members.push(Member {
                user_id: candidate,
                role,
                joined_at: joined,
            });
        }

        let j = (ctx_id - 1) as usize;
        let (tx_first, tx_count) = if self.tx_start.len() > j + 1 {
            (
                self.tx_start[j] + 1,
                self.tx_start[j + 1] - self.tx_start[j],
            )
        } else {
            (1, 0)
        };

        // Monthly series: the owner's salary and the bills of the household or business.
        let mut series = Vec::new();
        let mut s = self.keyed.stream(Domain::Budget, ctx_id ^ 0x5e41e5);
        // A series on a day drawn from `days` (inclusive; a fixed day draws nothing).
        let mut add =
            |name: &str, s: &mut crate::rng::KeyedStream, days: (u32, u32), amount: Option<i64>| {
                let day = if days.0 == days.1 {
                    days.0
                } else {
                    s.range(days.0 as i64, days.1 as i64) as u32
                };
                let si = self.sub_index(name);
                let info = &self.subs[si];
                let sub = vocab_sub(info);
                let amount = amount.unwrap_or_else(|| {
                    let m = info.lognormal.draw(s);
                    ((sub.median_cents as f64 * m).round() as i64).max(500)
                });
                let merchant = self.draw_merchant(si, ctx_id, s);
                series.push(Series {
                    sub: si,
                    day,
                    amount_cents: amount,
                    merchant,
                    varies: matches!(name, "Energia elétrica" | "Água e esgoto"),
                });
            };
        match kind {
            CtxKind::Personal | CtxKind::Family => {
                let income = self.user_core(owner).monthly_income_cents;
                add("Salário", &mut s, (5, 5), Some(income));
                if s.chance(550) {
                    add("Aluguel", &mut s, (10, 10), None);
                    if s.chance(600) {
                        add("Condomínio", &mut s, (10, 10), None);
                    }
                }
                add("Energia elétrica", &mut s, (12, 20), None);
                if s.chance(700) {
                    add("Internet e TV", &mut s, (8, 15), None);
                }
                if s.chance(650) {
                    add("Streaming", &mut s, (1, 28), None);
                }
                if s.chance(450) {
                    add("Telefonia celular", &mut s, (1, 28), None);
                }
                if s.chance(250) {
                    add("Academia", &mut s, (1, 10), None);
                }
                if kind == CtxKind::Family {
                    add("Água e esgoto", &mut s, (12, 20), None);
                    if s.chance(450) {
                        add("Mensalidade escolar", &mut s, (5, 5), None);
                    }
                    if s.chance(350) {
                        add("Plano de saúde", &mut s, (10, 10), None);
                    }
                }
            }
            CtxKind::Business => {
                add("Aluguel", &mut s, (5, 5), None);
                add("Internet e TV", &mut s, (10, 10), None);
                add("Telefonia celular", &mut s, (15, 15), None);
                if s.chance(500) {
                    add("Seguros", &mut s, (20, 20), None);
                }
            }
            CtxKind::Shared => {
                if subtype == Some("household") {
                    add("Aluguel", &mut s, (10, 10), None);
                    add("Energia elétrica", &mut s, (15, 15), None);
                    add("Internet e TV", &mut s, (12, 12), None);
                }
            }
        }
        let series_first_month = civil::month_index((created_at / SECS_PER_DAY) as i32) + 1;
        let months = (civil::month_index(self.end_day) - series_first_month + 1).max(0) as u64;
        let recurring_count = (series.len() as u64 * months).min(tx_count * 2 / 5);

        let (custom_first, custom_count) = self.custom_range(ctx_id);
        let history_days = self.history_days(ctx_id, kind, (created_at / SECS_PER_DAY) as i32);
        let local_start = self
            .local_subs
            .iter()
            .map(|&sub| self.local_start(sub, ctx_id) as u32)
            .collect();
        Ctx {
            id: ctx_id,
            kind,
            subtype,
            owner,
            created_at,
            currency,
            members,
            tx_first,
            tx_count,
            series,
            series_first_month,
            recurring_count,
            custom_first,
            custom_count,
            history_days,
            local_start,
        }
    }

    /// A merchant of subcategory `sub` for a purchase of context `ctx_id`: a national brand,
    /// or one of the local businesses of the context's neighbourhood. A neighbourhood is a run
    /// of `NEIGHBOURHOOD` consecutive local businesses starting at a place fixed by (context,
    /// subcategory), so a household goes back to the same few bakeries and bars while the
    /// dataset as a whole has thousands of them and none dominates.
    #[inline]
    pub fn draw_merchant<R: Draw>(&self, sub: usize, ctx_id: u64, r: &mut R) -> usize {
        self.draw_merchant_from(sub, || self.local_start(sub, ctx_id), r)
    }

    /// [`World::draw_merchant`] for a purchase of `ctx`, with the neighbourhood it worked out.
    #[inline]
    pub fn draw_ctx_merchant<R: Draw>(&self, sub: usize, ctx: &Ctx, r: &mut R) -> usize {
        self.draw_merchant_from(sub, || ctx.local_start[self.subs[sub].local_slot] as u64, r)
    }

    #[inline]
    fn draw_merchant_from<R: Draw>(
        &self,
        sub: usize,
        start: impl FnOnce() -> u64,
        r: &mut R,
    ) -> usize {
        const NEIGHBOURHOOD: u64 = 12;
        let info = &self.subs[sub];
        if info.locals > 0 && r.chance(info.local_permille) {
            let locals = info.locals as u64;
            let start = start();
            // (start + k) % locals, as start < locals and k < NEIGHBOURHOOD.
            let mut k = start + r.below(NEIGHBOURHOOD);
            while k >= locals {
                k -= locals;
            }
            info.brands + k as usize
        } else {
            info.merchants.draw(r)
        }
    }

    /// Where context `ctx_id`'s neighbourhood of local businesses of `sub` starts.
    fn local_start(&self, sub: usize, ctx_id: u64) -> u64 {
        let locals = self.subs[sub].locals as u64;
        crate::rng::mix64(ctx_id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ sub as u64) % locals
    }

    /// The name of merchant `merchant` of subcategory `sub`.
    #[inline]
    pub fn merchant_name(&self, sub: usize, merchant: usize) -> &'static str {
        self.merchant_names[self.subs[sub].merchant_base + merchant]
    }

    fn sub_index(&self, name: &str) -> usize {
        match SERIES_SUBS.iter().position(|&n| n == name) {
            Some(k) => self.series_subs[k],
            None => self.find_sub(name),
        }
    }

    fn find_sub(&self, name: &str) -> usize {
        self.subs
            .iter()
            .position(|s| vocab_sub(s).name == name)
            .unwrap_or_else(|| panic!("vocabulary has no subcategory {name}"))
    }

    /// Custom categories are spread evenly over contexts: custom k (0-based) belongs to context
    /// floor(k * contexts / customs) + 1, and the inverse is a closed formula too.
    pub fn custom_owner(&self, k: u64) -> u64 {
        let c = self.custom_categories;
        let n = self.contexts();
        (k as u128 * n as u128 / c as u128) as u64 + 1
    }

    pub fn custom_range(&self, ctx_id: u64) -> (u64, u64) {
        let c = self.custom_categories as u128;
        let n = self.contexts() as u128;
        if c == 0 || n == 0 {
            return (0, 0);
        }
        let j = (ctx_id - 1) as u128;
        let lo = (j * c).div_ceil(n);
        let hi = ((j + 1) * c).div_ceil(n);
        (self.system_categories + 1 + lo as u64, (hi - lo) as u64)
    }

    /// Top-level category a custom category (by id) sits under.
    pub fn custom_top(&self, cat_id: u64) -> usize {
        let mut r = self.keyed.stream(Domain::Category, cat_id);
        // Custom categories are mostly for spending.
        loop {
            let t = r.below(TREE.len() as u64) as usize;
            if TREE[t].kind == Kind::Expense || r.chance(150) {
                return t;
            }
        }
    }

    /// A day in `[lo, end]` drawn with the window's weekly, monthly and payday shape.
    pub fn shaped_day<R: Draw>(&self, r: &mut R, lo: i32) -> i32 {
        let lo = lo.clamp(self.start_day, self.end_day);
        let span = (self.end_day - lo + 1) as u64;
        let mut day = lo;
        for _ in 0..12 {
            day = lo + r.below(span) as i32;
            let w = self.day_weight[(day - self.start_day) as usize];
            if r.below(1000) < w as u64 {
                break;
            }
        }
        day
    }

    /// The insight ids context `ctx_id` may use: (first id, how many at most).
    pub fn insight_range(&self, ctx_id: u64) -> (u64, u64) {
        let j = (ctx_id - 1) as usize;
        if self.ins_start.len() > j + 1 {
            (
                self.ins_start[j] + 1,
                self.ins_start[j + 1] - self.ins_start[j],
            )
        } else {
            (1, 0)
        }
    }

    /// `civil::month_index(day)`, from a table for the days of the window.
    #[inline]
    pub fn month_of(&self, day: i32) -> i32 {
        match self
            .month_of_day
            .get(day.wrapping_sub(self.month_days) as u32 as usize)
        {
            Some(&m) => m,
            None => civil::month_index(day),
        }
    }

    /// Context (1-based id) of a transaction (1-based id).
    pub fn context_of_tx(&self, tx_id: u64) -> u64 {
        self.tx_start.partition_point(|&s| s < tx_id) as u64
    }

    /// The deterministic core of transaction `tx_id` of context `ctx`.
    pub fn tx_core(&self, ctx: &Ctx, tx_id: u64) -> TxCore {
        let r_local = tx_id - ctx.tx_first;
        let mut r = KeyedStream::new(self.tx_key, tx_id);
        if r_local < ctx.recurring_count {
            let k = ctx.series.len() as u64;
            let s = ctx.series[(r_local % k) as usize];
            let back = (r_local / k) as i32;
            let month = civil::month_index(self.end_day) - back;
            let day = civil::month_start(month) + s.day.min(civil::days_in_month(month)) as i32 - 1;
            let day = day.min(self.end_day);
            let mut amount = s.amount_cents;
            if s.varies {
                amount = amount * (900 + r.below(201) as i64) / 1000;
            }
            let kind = self.subs[s.sub].kind;
            let mut core = TxCore {
                id: tx_id,
                member: 0,
                day,
                sub: s.sub,
                category_id: Some(self.subs[s.sub].id),
                merchant: s.merchant,
                amount_cents: signed(kind, amount),
                recurring: true,
                method: 0,
                created_at: 0,
                status: Status::Posted,
            };
            self.entry(&mut r, &mut core);
            return core;
        }
        // Who: the owner spends most, other transacting members some.
        let member = if ctx.members.len() == 1 || r.chance(450) {
            0
        } else {
            let m = 1 + r.below(ctx.members.len() as u64 - 1) as usize;
            if ctx.members[m].transacts() {
                m
            } else {
                0
            }
        };
        // The owner's connected bank account brings its history from before the context
        // existed; other members' spending starts when they join.
        let joined = ctx.members[member].joined_day();
        let history = if member == 0 { ctx.history_days } else { 0 };
        let day = self.shaped_day(&mut r, joined - history);
        // What: a custom category sometimes, else a system subcategory by frequency.
        let mut category_id = None;
        let sub = if ctx.custom_count > 0 && r.chance(180) {
            let cat = ctx.custom_first + r.below(ctx.custom_count);
            category_id = Some(cat);
            let free = &self.top_free[self.custom_top(cat)];
            free[r.below(free.len() as u64) as usize]
        } else {
            self.free_subs[self.free_sub_lut.draw(&mut r)]
        };
        let info = &self.subs[sub];
        let merchant = self.draw_ctx_merchant(sub, ctx, &mut r);
        let scale = match ctx.kind {
            CtxKind::Business => 2.4,
            CtxKind::Family => 1.3,
            _ => 1.0,
        };
        let amount =
            ((info.median_cents * scale * info.lognormal.draw(&mut r) + 0.5) as i64).max(150);
        if category_id.is_none() && !r.chance(self.profile.shape.uncategorised_percent * 10) {
            category_id = Some(info.id);
        }
        let mut core = TxCore {
            id: tx_id,
            member,
            day,
            sub,
            category_id,
            merchant,
            amount_cents: signed(info.kind, amount),
            recurring: false,
            method: 0,
            created_at: 0,
            status: Status::Posted,
        };
        self.entry(&mut r, &mut core);
        if day < joined {
            // Imported through Open Finance when the account was connected, minutes after the
            // context was created, and long settled.
            core.method = 1;
            core.created_at = ctx.created_at + 300 + r.below(3600) as i64;
            core.status = Status::Posted;
        }
        core
    }

    /// How and when a transaction was entered, and its status: keyed by the transaction, so
    /// the insights can recompute what the app knew at any instant.
    fn entry<R: Draw>(&self, r: &mut R, core: &mut TxCore) {
        let method = if core.recurring {
            [1, 1, 1, 1, 1, 1, 1, 0, 0, 4][r.below(10) as usize]
        } else {
            // open_finance 45, manual 25, csv_import 12, receipt_ocr 8, api 10
            match r.below(100) {
                0..=44 => 1,
                45..=69 => 0,
                70..=81 => 2,
                82..=89 => 3,
                _ => 4,
            }
        };
        let hour = self.hours.draw(r) as i64;
        let mut created_at = core.day as i64 * SECS_PER_DAY + hour * 3600 + r.below(3600) as i64;
        created_at += match method {
            1 => 3600 * (2 + r.below(30) as i64), // synced from the bank hours later
            2 => SECS_PER_DAY * (1 + r.below(20) as i64), // imported in a batch later
            _ => r.below(600) as i64,
        };
        let end = (self.end_day as i64 + 1) * SECS_PER_DAY - 1;
        core.created_at = created_at.min(end);
        let recent = self.end_day - core.day < 5;
        core.status = if recent && r.chance(350) {
            Status::Pending
        } else if r.chance(15) {
            Status::Cancelled
        } else {
            Status::Posted
        };
        core.method = method as u8;
    }
}

fn signed(kind: Kind, cents: i64) -> i64 {
    match kind {
        Kind::Income => cents,
        Kind::Expense | Kind::Transfer => -cents,
    }
}

/// The vocabulary entry of a subcategory.
pub fn vocab_sub(s: &SubInfo) -> &'static vocab::Sub {
    &TREE[s.top].subs[s.sub]
}

/// The recurrence kind of a subcategory.
pub fn recur_of(s: &SubInfo) -> Recur {
    vocab_sub(s).recur
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No context holds more than about 1% of all transactions from `small` up, at every
    /// scale, and a heavy tail remains: the busiest 1% of contexts hold far more than 1%.
    #[test]
    fn activity_shares_stay_within_bounds() {
        for (name, scales) in [
            ("small", &[1.0, 0.5][..]),
            ("transaction-flow", &[1.0, 0.1][..]),
            ("volume", &[1.0][..]),
        ] {
            for &f in scales {
                let p = Profile::load(name).unwrap().scaled(f).unwrap();
                let w = World::new(p);
                let (busiest, top1) = w.activity_shares();
                assert!(
                    busiest <= MAX_CONTEXT_SHARE * 1.01,
                    "{name} x{f}: busiest context holds {busiest}"
                );
                assert!(
                    (0.05..=0.5).contains(&top1),
                    "{name} x{f}: top 1% hold {top1}"
                );
                eprintln!("{name} x{f}: busiest {busiest:.4}, top 1% {top1:.3}");
            }
        }
    }
}
