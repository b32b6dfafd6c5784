//! Volume profiles: TOML files that say how much data to make and how it is shaped.
//!
//! Profiles are parsed strictly (unknown keys are refused) and validated as a whole, and every
//! error points at the file, the line and the field, because a typo in a 100M-row profile should
//! cost seconds, not an hour of loading the wrong thing.

use crate::civil;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// Profiles shipped inside the binary, so `--profile small` works from any directory.
pub const BUILTIN: &[(&str, &str)] = &[
    ("ci", include_str!("../profiles/ci.toml")),
    ("small", include_str!("../profiles/small.toml")),
    (
        "transaction-flow",
        include_str!("../profiles/transaction-flow.toml"),
    ),
    ("volume", include_str!("../profiles/volume.toml")),
];

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    seed: Spanned<i64>,
    volume: Spanned<RawVolume>,
    window: Spanned<RawWindow>,
    #[serde(default)]
    shape: Option<Spanned<RawShape>>,
    #[serde(default)]
    auth: Option<Spanned<RawAuth>>,
    /// Benchmark p95 thresholds in ms, by query name or scenario, overriding the queries' own.
    #[serde(default)]
    thresholds: std::collections::BTreeMap<String, Spanned<f64>>,
    /// `plain` (default) or `partitioned`: how `seed` lays the tables out.
    #[serde(default)]
    layout: Option<Spanned<String>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawVolume {
    users: Spanned<i64>,
    contexts: Spanned<i64>,
    categories: Spanned<i64>,
    transactions: Spanned<i64>,
    ai_insights: Spanned<i64>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    months: Spanned<i64>,
    /// A quoted string or a bare TOML date (`end_date = 2025-10-31`).
    end_date: Spanned<toml::Value>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawShape {
    personal_percent: Option<Spanned<i64>>,
    family_percent: Option<Spanned<i64>>,
    shared_percent: Option<Spanned<i64>>,
    business_percent: Option<Spanned<i64>>,
    activity_alpha: Option<Spanned<f64>>,
    merchant_skew: Option<Spanned<f64>>,
    split_percent: Option<Spanned<i64>>,
    budget_percent: Option<Spanned<i64>>,
    uncategorised_percent: Option<Spanned<i64>>,
    max_contexts_per_user: Option<Spanned<i64>>,
    december_peak_percent: Option<Spanned<i64>>,
    personal_daily: Option<Spanned<f64>>,
    family_daily: Option<Spanned<f64>>,
    shared_daily: Option<Spanned<f64>>,
    business_daily: Option<Spanned<f64>>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    password: Option<Spanned<String>>,
    bcrypt_cost: Option<Spanned<i64>>,
}

/// Row counts of the tables a profile sizes directly; the others follow from these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Volume {
    pub users: u64,
    pub contexts: u64,
    pub categories: u64,
    pub transactions: u64,
    pub ai_insights: u64,
}

/// Distribution knobs. Percentages are whole numbers; alphas are tail exponents.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// Context type mix: personal, family, shared, business (sums to 100).
    pub context_mix: [u32; 4],
    /// Pareto exponent of per-context activity: lower means busier top contexts.
    pub activity_alpha: f64,
    /// Zipf exponent of merchant popularity inside a category.
    pub merchant_skew: f64,
    /// Share of shared/family expenses split among members.
    pub split_percent: u32,
    /// Share of contexts that keep monthly budgets.
    pub budget_percent: u32,
    /// Share of transactions left without a category.
    pub uncategorised_percent: u32,
    pub max_contexts_per_user: u64,
    /// Extra December activity, in percent over an ordinary month.
    pub december_peak_percent: u32,
    /// Typical transactions per active day of a personal, family, shared and business
    /// context: the relative rates the profile's transaction total is divided by.
    pub daily_rates: [f64; 4],
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            context_mix: [55, 20, 15, 10],
            activity_alpha: 1.3,
            merchant_skew: 1.1,
            split_percent: 30,
            budget_percent: 40,
            uncategorised_percent: 5,
            max_contexts_per_user: 5,
            december_peak_percent: 35,
            daily_rates: [1.2, 2.0, 0.5, 5.0],
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    pub name: String,
    pub description: String,
    /// Where it came from, for error messages and the manifest.
    pub source: String,
    pub seed: u64,
    pub volume: Volume,
    /// History window: `months` whole months ending on `end_day` (days since the epoch).
    pub months: u32,
    pub end_day: i32,
    pub shape: Shape,
    /// The password every generated user can log in with (load tests need it).
    pub password: String,
    pub bcrypt_cost: u32,
    /// The scale factor applied, 1.0 when none.
    pub scale: f64,
    /// Benchmark threshold overrides (ms), by query name or scenario.
    pub thresholds: std::collections::BTreeMap<String, f64>,
    /// The table layout `seed` uses unless `--layout` says otherwise.
    pub layout: crate::table::Layout,
}

/// Line (1-based) of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, field: &str, message: String, fix: &str) -> Error {
        Error::Profile {
            file: self.file.to_string(),
            line: line_of(self.text, span.start),
            field: field.to_string(),
            message,
            fix: fix.to_string(),
        }
    }

    fn count(&self, v: &Spanned<i64>, field: &str) -> Result<u64> {
        if *v.get_ref() < 0 {
            return Err(self.err(
                v.span(),
                field,
                format!("is {}, but a row count cannot be negative", v.get_ref()),
                "use 0 or a positive whole number",
            ));
        }
        Ok(*v.get_ref() as u64)
    }

    fn percent(&self, v: &Option<Spanned<i64>>, field: &str, default: u32) -> Result<u32> {
        match v {
            None => Ok(default),
            Some(s) if (0..=100).contains(s.get_ref()) => Ok(*s.get_ref() as u32),
            Some(s) => Err(self.err(
                s.span(),
                field,
                format!("is {}, outside 0..=100", s.get_ref()),
                "give a whole percentage between 0 and 100",
            )),
        }
    }

    fn positive_f64(&self, v: &Option<Spanned<f64>>, field: &str, default: f64) -> Result<f64> {
        match v {
            None => Ok(default),
            Some(s) if s.get_ref().is_finite() && *s.get_ref() > 0.0 && *s.get_ref() <= 10.0 => {
                Ok(*s.get_ref())
            }
            Some(s) => Err(self.err(
                s.span(),
                field,
                format!("is {}, outside (0, 10]", s.get_ref()),
                "give a positive exponent such as 1.3",
            )),
        }
    }
}

impl Ctx<'_> {
    /// Transactions per active day: positive, at most 500.
    fn rate(&self, v: &Option<Spanned<f64>>, field: &str, default: f64) -> Result<f64> {
        match v {
            None => Ok(default),
            Some(s) if s.get_ref().is_finite() && *s.get_ref() > 0.0 && *s.get_ref() <= 500.0 => {
                Ok(*s.get_ref())
            }
            Some(s) => Err(self.err(
                s.span(),
                field,
                format!(
                    "is {} transactions per active day, outside (0, 500]",
                    s.get_ref()
                ),
                "give a positive rate such as 1.2",
            )),
        }
    }
}

impl Profile {
    /// Parse profile text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Profile> {
        let ctx = Ctx { file, text };
        let raw: RawProfile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let msg = e.message().to_string();
            let field = field_from_message(&msg, text, &span);
            ctx.err(
                span,
                &field,
                msg,
                "check the spelling against a shipped profile (`finseed profiles`) and the TOML syntax",
            )
        })?;

        let v = raw.volume.get_ref();
        let volume = Volume {
            users: ctx.count(&v.users, "volume.users")?,
            contexts: ctx.count(&v.contexts, "volume.contexts")?,
            categories: ctx.count(&v.categories, "volume.categories")?,
            transactions: ctx.count(&v.transactions, "volume.transactions")?,
            ai_insights: ctx.count(&v.ai_insights, "volume.ai_insights")?,
        };
        let seed = *raw.seed.get_ref();
        if seed < 0 {
            return Err(ctx.err(
                raw.seed.span(),
                "seed",
                format!("is {seed}, but seeds are non-negative"),
                "use a whole number from 0 to 9223372036854775807",
            ));
        }
        let w = raw.window.get_ref();
        let months = *w.months.get_ref();
        if !(1..=240).contains(&months) {
            return Err(ctx.err(
                w.months.span(),
                "window.months",
                format!("is {months}, outside 1..=240"),
                "give the history length in whole months, for example 24",
            ));
        }
        let bad_date = |shown: String| {
            ctx.err(
                w.end_date.span(),
                "window.end_date",
                format!("{shown} is not a date"),
                "write it as YYYY-MM-DD, for example \"2025-10-31\" (quoted) or 2025-10-31",
            )
        };
        let end_day = match w.end_date.get_ref() {
            toml::Value::String(s) => {
                civil::parse_date(s).ok_or_else(|| bad_date(format!("`{s}`")))?
            }
            toml::Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => {
                let text = d.to_string();
                civil::parse_date(&text).ok_or_else(|| bad_date(format!("`{text}`")))?
            }
            toml::Value::Datetime(d) => {
                return Err(ctx.err(
                    w.end_date.span(),
                    "window.end_date",
                    format!("`{d}` is a date and time, but only the day is used"),
                    "write just the day, for example 2025-10-31",
                ))
            }
            other => return Err(bad_date(format!("{} `{other}`", other.type_str()))),
        };

        let d = Shape::default();
        let shape = match &raw.shape {
            None => d,
            Some(s) => {
                let r = s.get_ref();
                let mix = [
                    ctx.percent(
                        &r.personal_percent,
                        "shape.personal_percent",
                        d.context_mix[0],
                    )?,
                    ctx.percent(&r.family_percent, "shape.family_percent", d.context_mix[1])?,
                    ctx.percent(&r.shared_percent, "shape.shared_percent", d.context_mix[2])?,
                    ctx.percent(
                        &r.business_percent,
                        "shape.business_percent",
                        d.context_mix[3],
                    )?,
                ];
                if mix.iter().sum::<u32>() != 100 {
                    let span = [
                        &r.personal_percent,
                        &r.family_percent,
                        &r.shared_percent,
                        &r.business_percent,
                    ]
                    .into_iter()
                    .flatten()
                    .map(|v| v.span())
                    .next()
                    .unwrap_or_else(|| s.span());
                    return Err(ctx.err(
                        span,
                        "shape.personal_percent",
                        format!(
                            "the context mix personal/family/shared/business is {}/{}/{}/{}, which sums to {}",
                            mix[0], mix[1], mix[2], mix[3], mix.iter().sum::<u32>()
                        ),
                        "make the four *_percent values sum to 100",
                    ));
                }
                let max_ctx = match &r.max_contexts_per_user {
                    None => d.max_contexts_per_user,
                    Some(m) if *m.get_ref() >= 1 => *m.get_ref() as u64,
                    Some(m) => {
                        return Err(ctx.err(
                            m.span(),
                            "shape.max_contexts_per_user",
                            format!("is {}, but every owner owns at least one", m.get_ref()),
                            "use 1 or more",
                        ))
                    }
                };
                Shape {
                    context_mix: mix,
                    activity_alpha: ctx.positive_f64(
                        &r.activity_alpha,
                        "shape.activity_alpha",
                        d.activity_alpha,
                    )?,
                    merchant_skew: ctx.positive_f64(
                        &r.merchant_skew,
                        "shape.merchant_skew",
                        d.merchant_skew,
                    )?,
                    split_percent: ctx.percent(
                        &r.split_percent,
                        "shape.split_percent",
                        d.split_percent,
                    )?,
                    budget_percent: ctx.percent(
                        &r.budget_percent,
                        "shape.budget_percent",
                        d.budget_percent,
                    )?,
                    uncategorised_percent: ctx.percent(
                        &r.uncategorised_percent,
                        "shape.uncategorised_percent",
                        d.uncategorised_percent,
                    )?,
                    max_contexts_per_user: max_ctx,
                    december_peak_percent: ctx.percent(
                        &r.december_peak_percent,
                        "shape.december_peak_percent",
                        d.december_peak_percent,
                    )?,
                    daily_rates: [
                        ctx.rate(&r.personal_daily, "shape.personal_daily", d.daily_rates[0])?,
                        ctx.rate(&r.family_daily, "shape.family_daily", d.daily_rates[1])?,
                        ctx.rate(&r.shared_daily, "shape.shared_daily", d.daily_rates[2])?,
                        ctx.rate(&r.business_daily, "shape.business_daily", d.daily_rates[3])?,
                    ],
                }
            }
        };

        let (password, bcrypt_cost) = match &raw.auth {
            None => (DEFAULT_PASSWORD.to_string(), DEFAULT_BCRYPT_COST),
            Some(a) => {
                let a = a.get_ref();
                let pw = match &a.password {
                    None => DEFAULT_PASSWORD.to_string(),
                    Some(p) if p.get_ref().len() >= 8 && p.get_ref().len() <= 72 => {
                        p.get_ref().clone()
                    }
                    Some(p) => {
                        return Err(ctx.err(
                            p.span(),
                            "auth.password",
                            format!("has {} bytes", p.get_ref().len()),
                            "use a password of 8 to 72 bytes (bcrypt's limit)",
                        ))
                    }
                };
                let cost = match &a.bcrypt_cost {
                    None => DEFAULT_BCRYPT_COST,
                    Some(c) if (4..=MAX_BCRYPT_COST as i64).contains(c.get_ref()) => {
                        *c.get_ref() as u32
                    }
                    Some(c) => {
                        return Err(ctx.err(
                            c.span(),
                            "auth.bcrypt_cost",
                            format!(
                                "is {}, outside 4..={MAX_BCRYPT_COST} (each step doubles the \
                                 time; {MAX_BCRYPT_COST} already takes seconds per hash)",
                                c.get_ref()
                            ),
                            &format!(
                            "use 10 (what most apps use) or anything from 4 to {MAX_BCRYPT_COST}"
                        ),
                        ))
                    }
                };
                (pw, cost)
            }
        };

        let mut thresholds = std::collections::BTreeMap::new();
        for (k, v) in &raw.thresholds {
            if !(v.get_ref().is_finite() && *v.get_ref() > 0.0) {
                return Err(ctx.err(
                    v.span(),
                    &format!("thresholds.{k}"),
                    format!("is {}, not a positive number of milliseconds", v.get_ref()),
                    "give the p95 limit in milliseconds, for example 800",
                ));
            }
            thresholds.insert(k.clone(), *v.get_ref());
        }
        let layout = match &raw.layout {
            None => crate::table::Layout::Plain,
            Some(l) => crate::table::Layout::parse(l.get_ref()).ok_or_else(|| {
                ctx.err(
                    l.span(),
                    "layout",
                    format!("is `{}`, not a layout finseed knows", l.get_ref()),
                    "use \"plain\" (one table each) or \"partitioned\" (transactions by month)",
                )
            })?,
        };
        let p = Profile {
            thresholds,
            layout,
            name: raw.name.get_ref().clone(),
            description: raw.description,
            source: file.to_string(),
            seed: seed as u64,
            volume,
            months: months as u32,
            end_day,
            shape,
            password,
            bcrypt_cost,
            scale: 1.0,
        };
        p.check_consistency(&ctx, v)?;
        Ok(p)
    }

    fn check_consistency(&self, ctx: &Ctx, v: &RawVolume) -> Result<()> {
        let vol = &self.volume;
        let sys = crate::vocab::system_category_count() as u64;
        if vol.contexts > 0 && vol.users == 0 {
            return Err(ctx.err(
                v.contexts.span(),
                "volume.contexts",
                format!("is {}, but there are no users to own them", vol.contexts),
                "set volume.users above 0, or volume.contexts to 0",
            ));
        }
        if vol.contexts > vol.users.saturating_mul(self.shape.max_contexts_per_user) {
            return Err(ctx.err(
                v.contexts.span(),
                "volume.contexts",
                format!(
                    "is {}, but {} users may own at most {} contexts each ({} in all)",
                    vol.contexts,
                    vol.users,
                    self.shape.max_contexts_per_user,
                    vol.users.saturating_mul(self.shape.max_contexts_per_user)
                ),
                "lower volume.contexts, raise volume.users, or raise shape.max_contexts_per_user",
            ));
        }
        if vol.transactions > 0 && vol.contexts == 0 {
            return Err(ctx.err(
                v.transactions.span(),
                "volume.transactions",
                format!(
                    "is {}, but there are no contexts to hold them",
                    vol.transactions
                ),
                "set volume.contexts (and volume.users) above 0",
            ));
        }
        if vol.ai_insights > 0 && vol.transactions == 0 {
            return Err(ctx.err(
                v.ai_insights.span(),
                "volume.ai_insights",
                format!(
                    "is {}, but insights need transactions to talk about",
                    vol.ai_insights
                ),
                "set volume.transactions above 0, or volume.ai_insights to 0",
            ));
        }
        if vol.transactions > 0 && vol.categories < sys {
            return Err(ctx.err(
                v.categories.span(),
                "volume.categories",
                format!(
                    "is {}, fewer than the {sys} system categories every dataset has",
                    vol.categories
                ),
                &format!("set volume.categories to at least {sys}"),
            ));
        }
        for (n, span, field) in [
            (vol.users, v.users.span(), "volume.users"),
            (vol.contexts, v.contexts.span(), "volume.contexts"),
            (vol.categories, v.categories.span(), "volume.categories"),
            (
                vol.transactions,
                v.transactions.span(),
                "volume.transactions",
            ),
            (vol.ai_insights, v.ai_insights.span(), "volume.ai_insights"),
        ] {
            if n > MAX_ROWS {
                return Err(ctx.err(
                    span,
                    field,
                    format!("is {n}, over the limit of {MAX_ROWS} rows in one table"),
                    "lower the count; for more data, load several datasets with other seeds",
                ));
            }
        }
        Ok(())
    }

    /// Resolve a profile by shipped name or by path.
    pub fn load(name_or_path: &str) -> Result<Profile> {
        if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Profile::parse(text, &format!("profiles/{name}.toml (built in)"));
        }
        let path = Path::new(name_or_path);
        if path.exists() || name_or_path.contains('/') || name_or_path.ends_with(".toml") {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::input("--profile", Error::io(path, e)))?;
            return Profile::parse(&text, name_or_path);
        }
        let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
        Err(Error::Usage(format!(
            "--profile: no profile named `{name_or_path}`\n  fix: use one of {} or a path to a .toml file",
            names.join(", ")
        )))
    }

    /// Multiply the volumes by `f` (like TPC-H's scale factor); system categories are kept.
    pub fn scaled(mut self, f: f64) -> Result<Profile> {
        if !(f.is_finite() && f > 0.0 && f <= 1000.0) {
            return Err(Error::Usage(format!(
                "--scale: {f} is not a usable factor\n  fix: give a positive number up to 1000, such as 0.1 or 10"
            )));
        }
        let s = |n: u64| -> u64 { ((n as f64) * f).round() as u64 };
        let sys = crate::vocab::system_category_count() as u64;
        let v = self.volume;
        let before = v;
        self.volume = Volume {
            users: s(v.users).max(u64::from(v.users > 0)),
            contexts: s(v.contexts).max(u64::from(v.contexts > 0)),
            categories: if v.categories <= sys {
                v.categories
            } else {
                sys + s(v.categories - sys)
            },
            transactions: s(v.transactions),
            ai_insights: s(v.ai_insights),
        };
        // Keep the owner constraint satisfiable at small scales.
        let max = self
            .volume
            .users
            .saturating_mul(self.shape.max_contexts_per_user);
        self.volume.contexts = self.volume.contexts.min(max);
        self.scale = f;
        let v = self.volume;
        let largest = [
            ("users", v.users),
            ("contexts", v.contexts),
            ("categories", v.categories),
            ("transactions", v.transactions),
            ("ai_insights", v.ai_insights),
        ]
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .unwrap_or(("transactions", 0));
        if largest.1 > MAX_ROWS {
            let before = match largest.0 {
                "users" => before.users,
                "contexts" => before.contexts,
                "categories" => before.categories,
                "ai_insights" => before.ai_insights,
                _ => before.transactions,
            }
            .max(1);
            let most = MAX_ROWS as f64 / before as f64;
            return Err(Error::Usage(format!(
                "--scale: {f} makes profile `{}` ask for {} {}, over the limit of {MAX_ROWS} rows in one table\n  fix: give --scale {most:.4} or less",
                self.name, largest.1, largest.0
            )));
        }
        Ok(self)
    }

    /// First day of the history window.
    pub fn start_day(&self) -> i32 {
        let end_month = civil::month_index(self.end_day);
        civil::month_start(end_month - self.months as i32 + 1)
    }
}

/// Most rows one table may hold (ten billion).
pub const MAX_ROWS: u64 = 10_000_000_000;
/// Highest bcrypt cost a profile may ask for: each step doubles the time of the one hash a
/// run makes (cost 15 is about 2 s here; 31 would be days).
pub const MAX_BCRYPT_COST: u32 = 15;
pub const DEFAULT_PASSWORD: &str = "Financy@Teste2025";
pub const DEFAULT_BCRYPT_COST: u32 = 10;

/// Best-effort field name for a TOML/serde error: the key at the error's line.
fn field_from_message(msg: &str, text: &str, span: &Range<usize>) -> String {
    if let Some(rest) = msg.split("unknown field `").nth(1) {
        if let Some(name) = rest.split('`').next() {
            return name.to_string();
        }
    }
    if let Some(rest) = msg.split("missing field `").nth(1) {
        if let Some(name) = rest.split('`').next() {
            return name.to_string();
        }
    }
    let start = text[..span.start.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    match line.split_once('=') {
        Some((k, _)) => k.trim().to_string(),
        None => line.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse() {
        for (name, text) in BUILTIN {
            let p = Profile::parse(text, name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&p.name, name);
        }
    }
}
