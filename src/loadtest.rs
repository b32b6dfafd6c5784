//! `finseed loadtest-data`: the test-data files the performance plan's k6 and Artillery scripts
//! read, taken from the same model that seeds the database.
//!
//! The scripts log in as real users, post transactions and upload statement files against a
//! database seeded from a profile. If their data were made up separately, logins would fail and
//! payloads would not look like the data already there. So every file here is read off [`World`]:
//! e-mails are the users table's, context ids are contexts the user really transacts in, and
//! payloads are existing transactions re-encoded as API requests.
//!
//! Only O(1) model lookups are used (a context, a transaction core, a user's e-mail), never a scan,
//! so the `volume` profile (1M users, 100M transactions) costs what the requested rows cost.
//! Nothing depends on the clock, on hash-map order or on threads: the same profile and seed give
//! byte-identical files.

use crate::encode::write_decimal;
use crate::error::{Error, Result};
use crate::gen::contexts::context_name;
use crate::gen::transactions::POOL;
use crate::gen::users::email;
use crate::model::{Ctx, TxCore, World};
use crate::rng::{Domain, Draw, KeyedStream};
use crate::vocab::{Sub, TREE};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

pub const DEFAULT_MAX_USERS: usize = 10_000;
pub const DEFAULT_PAYLOADS: usize = 10_000;
/// The plan's `bulk_transaction_files`.
pub const DEFAULT_BULK_FILES: usize = 1_000;
/// Row counts of bulk files are log-uniform in this range: mostly small uploads, some large.
pub const BULK_MIN_ROWS: u64 = 10;
pub const BULK_MAX_ROWS: u64 = 5_000;

pub const MANIFEST: &str = "manifest.json";
/// The previous run's manifest while a run is in progress: it still proves the directory is
/// ours if the run is killed, but no reader mistakes it for a description of the files.
const STALE_MANIFEST: &str = "manifest.json.stale";

/// Keyed draws made here use ids with this bit set, so they never coincide with the model's
/// own draws (whose ids are entity ids, far below it, or use bits 60..62).
const SALT: u64 = 1 << 58;
const SALT_USERS: u64 = SALT | 1;
const SALT_PAYLOAD_PICK: u64 = SALT | 2;
const SALT_PAYLOAD_TEXT: u64 = SALT | 3;
const SALT_BULK_PICK: u64 = SALT | 4;
const SALT_BULK_ROWS: u64 = SALT | 5;
const SALT_BULK_TEXT: u64 = SALT | 6;

pub struct LoadtestConfig {
    pub profile: crate::profile::Profile,
    pub out: PathBuf,
    pub max_users: usize,
    pub payloads: usize,
    pub bulk_files: usize,
}

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LoadtestFile {
    /// Relative to the output directory, with `/` separators.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct LoadtestSummary {
    pub profile: String,
    pub seed: u64,
    pub finseed_version: String,
    pub files: Vec<LoadtestFile>,
}

pub fn write(cfg: &LoadtestConfig) -> Result<LoadtestSummary> {
    check_config(cfg)?;
    let previous = check_out_dir(&cfg.out)?;
    let manifest = cfg.out.join(MANIFEST);
    let stale = cfg.out.join(STALE_MANIFEST);
    if manifest.exists() {
        // The old manifest would describe files this run is about to replace.
        std::fs::rename(&manifest, &stale).map_err(|e| Error::io(&manifest, e))?;
    }
    let bulk_dir = cfg.out.join("bulk");
    std::fs::create_dir_all(&bulk_dir).map_err(|e| Error::io(&bulk_dir, e))?;

    let w = World::new(cfg.profile.clone());
    let mut files = Vec::new();

    let (users, contexts) = pick_users(&w, cfg.max_users);
    files.push(write_users_json(&cfg.out, &w, &users)?);
    files.push(write_users_csv(&cfg.out, &w, &users)?);
    files.push(write_contexts_csv(&cfg.out, &w, &contexts)?);
    files.push(write_json_strings(&cfg.out, "merchants.json", merchants())?);
    files.push(write_json_strings(
        &cfg.out,
        "descriptions.json",
        descriptions(),
    )?);
    files.push(write_payloads(&cfg.out, &w, cfg.payloads)?);
    let bulk = write_bulk(&cfg.out, &w, cfg.bulk_files)?;
    files.push(write_bulk_index(&cfg.out, &bulk)?);
    files.extend(bulk);

    let summary = LoadtestSummary {
        profile: cfg.profile.name.clone(),
        seed: cfg.profile.seed,
        finseed_version: env!("CARGO_PKG_VERSION").to_string(),
        files,
    };
    let mut text = serde_json::to_vec_pretty(&summary).expect("manifest serialises");
    text.push(b'\n');
    put(&cfg.out, MANIFEST, &text)?;

    // A smaller run into an earlier run's directory (fewer bulk files) must not leave files
    // behind that a script globbing `bulk/*.csv` would pick up.
    let written: BTreeSet<&str> = summary.files.iter().map(|f| f.path.as_str()).collect();
    for old in previous.iter().filter(|p| !written.contains(p.as_str())) {
        if let Some(p) = inside(&cfg.out, old) {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&p, e)),
            }
        }
    }
    if stale.exists() {
        std::fs::remove_file(&stale).map_err(|e| Error::io(&stale, e))?;
    }
    Ok(summary)
}

fn check_config(cfg: &LoadtestConfig) -> Result<()> {
    let p = &cfg.profile;
    if cfg.max_users == 0 {
        return Err(Error::Usage(
            "--users: 0 users leaves the load test nobody to log in as\n  fix: give 1 or more"
                .to_string(),
        ));
    }
    if p.volume.users == 0 || p.volume.contexts == 0 {
        return Err(Error::Usage(format!(
            "profile `{}` has no users or no contexts, so no user can log in and act\n  fix: use a profile with users and contexts",
            p.name
        )));
    }
    if p.volume.transactions == 0 && (cfg.payloads > 0 || cfg.bulk_files > 0) {
        return Err(Error::Usage(format!(
            "profile `{}` has no transactions to draw payloads and bulk files from\n  fix: use a profile with transactions, or ask for 0 payloads and 0 bulk files",
            p.name
        )));
    }
    Ok(())
}

/// Refuse a non-empty directory that no earlier `loadtest-data` run wrote; returns the paths
/// the earlier run's manifest lists, so files this run does not rewrite can be removed.
fn check_out_dir(out: &Path) -> Result<Vec<String>> {
    if !out.exists() {
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        return Ok(Vec::new());
    }
    if !out.is_dir() {
        return Err(Error::Usage(format!(
            "--out: {} is a file, not a directory\n  fix: give a new or empty directory",
            out.display()
        )));
    }
    let mut entries = std::fs::read_dir(out).map_err(|e| Error::io(out, e))?;
    if entries.next().is_none() {
        return Ok(Vec::new());
    }
    // A `generate` manifest does not count: its users.csv is a different file with the same name.
    let mut ours = false;
    let mut previous = Vec::new();
    for name in [MANIFEST, STALE_MANIFEST] {
        if let Some(paths) = manifest_paths(&out.join(name)) {
            ours = true;
            previous.extend(paths);
        }
    }
    if !ours {
        return Err(Error::Usage(format!(
            "--out: {} is not empty and holds no finseed loadtest-data manifest; refusing to mix files\n  fix: give a new or empty directory, or one an earlier `finseed loadtest-data` wrote",
            out.display()
        )));
    }
    previous.sort();
    previous.dedup();
    Ok(previous)
}

/// The file paths a loadtest manifest lists, or `None` if `path` is not one.
fn manifest_paths(path: &Path) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("finseed_version")?;
    let files = v.get("files")?.as_array()?;
    Some(
        files
            .iter()
            .filter_map(|f| f.get("path")?.as_str().map(str::to_string))
            .collect(),
    )
}

/// `rel` under `out`, if it is a plain relative path: a hand-edited manifest must not make us
/// delete anything outside the directory.
fn inside(out: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    p.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| out.join(p))
}

/// Writes `bytes` to `rel` (under `out`) through a `.partial` file, so a killed run never
/// leaves a file that looks finished.
fn put(out: &Path, rel: &str, bytes: &[u8]) -> Result<()> {
    let path = out.join(rel);
    let mut partial = path.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, bytes).map_err(|e| Error::io(&partial, e))?;
    std::fs::rename(&partial, &path).map_err(|e| Error::io(&path, e))
}

fn put_file(out: &Path, rel: &str, bytes: &[u8], rows: u64) -> Result<LoadtestFile> {
    put(out, rel, bytes)?;
    Ok(LoadtestFile {
        path: rel.to_string(),
        rows,
        bytes: bytes.len() as u64,
        sha256: crate::sink::file::hex(&Sha256::digest(bytes)),
    })
}

/// A CSV file being built in memory: RFC 4180 quoting, `\n` line ends, as `generate` writes.
struct CsvBuf {
    buf: Vec<u8>,
    rows: u64,
    first: bool,
}

impl CsvBuf {
    fn new(header: &str) -> CsvBuf {
        let mut buf = Vec::with_capacity(1 << 16);
        buf.extend_from_slice(header.as_bytes());
        buf.push(b'\n');
        CsvBuf {
            buf,
            rows: 0,
            first: true,
        }
    }

    fn sep(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.buf.push(b',');
        }
    }

    fn text(&mut self, s: &str) -> &mut Self {
        self.sep();
        if !s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            self.buf.extend_from_slice(s.as_bytes());
            return self;
        }
        self.buf.push(b'"');
        for &b in s.as_bytes() {
            if b == b'"' {
                self.buf.push(b'"');
            }
            self.buf.push(b);
        }
        self.buf.push(b'"');
        self
    }

    fn int(&mut self, v: u64) -> &mut Self {
        self.sep();
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        self
    }

    fn money(&mut self, cents: i64) -> &mut Self {
        self.sep();
        write_decimal(&mut self.buf, cents, 2);
        self
    }

    fn date(&mut self, day: i32) -> &mut Self {
        self.sep();
        crate::civil::write_date(&mut self.buf, day);
        self
    }

    fn end(&mut self) {
        self.buf.push(b'\n');
        self.rows += 1;
        self.first = true;
    }
}

/// A login: a user and a context they may post transactions in.
#[derive(Clone, Copy, Debug)]
struct Login {
    user_id: u64,
    context_id: u64,
}

/// A step coprime with `n` close to `n / φ`: walking `start + k·step (mod n)` visits every id
/// once, and any prefix of the walk is spread evenly over the range (three-distance theorem),
/// so the first few thousand contexts sample old and new, small and large ids alike.
fn golden_step(n: u64) -> u64 {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let mut s = ((n as u128 * 2_654_435_769) >> 32).max(1) as u64;
    while gcd(s, n) != 1 {
        s += 1;
    }
    s
}

/// Walks contexts in golden-step order and takes their transacting members until `max` users,
/// each with the first context they were met in. Returns the logins sorted by user and the
/// contexts some login points at, sorted by id. Costs O(contexts visited), not O(users).
fn pick_users(w: &World, max: usize) -> (Vec<Login>, Vec<Ctx>) {
    let n = w.contexts();
    let step = golden_step(n);
    let start = w.keyed.hash(Domain::Context, SALT_USERS, 0) % n;
    let mut chosen: BTreeMap<u64, u64> = BTreeMap::new();
    let mut contexts = Vec::new();
    for k in 0..n {
        if chosen.len() >= max {
            break;
        }
        let id = ((start as u128 + k as u128 * step as u128) % n as u128) as u64 + 1;
        let c = w.context(id);
        let mut used = false;
        for m in c.members.iter().filter(|m| m.transacts()) {
            if chosen.len() >= max {
                break;
            }
            if let std::collections::btree_map::Entry::Vacant(e) = chosen.entry(m.user_id) {
                e.insert(id);
                used = true;
            }
        }
        if used {
            contexts.push(c);
        }
    }
    contexts.sort_by_key(|c| c.id);
    let logins = chosen
        .into_iter()
        .map(|(user_id, context_id)| Login {
            user_id,
            context_id,
        })
        .collect();
    (logins, contexts)
}

/// The k6 script reads `user.id`; Artillery's CSV payloads read `user_id`. Both are given.
#[derive(serde::Serialize)]
struct UserJson<'a> {
    id: u64,
    user_id: u64,
    email: &'a str,
    password: &'a str,
    context_id: u64,
}

fn write_users_json(out: &Path, w: &World, users: &[Login]) -> Result<LoadtestFile> {
    let emails: Vec<String> = users.iter().map(|u| email_of(w, u.user_id)).collect();
    let rows: Vec<UserJson> = users
        .iter()
        .zip(&emails)
        .map(|(u, e)| UserJson {
            id: u.user_id,
            user_id: u.user_id,
            email: e,
            password: &w.profile.password,
            context_id: u.context_id,
        })
        .collect();
    let mut bytes = serde_json::to_vec_pretty(&rows).expect("users serialise");
    bytes.push(b'\n');
    put_file(out, "users.json", &bytes, rows.len() as u64)
}

fn write_users_csv(out: &Path, w: &World, users: &[Login]) -> Result<LoadtestFile> {
    let mut csv = CsvBuf::new("user_id,email,password,context_id");
    for u in users {
        csv.int(u.user_id)
            .text(&email_of(w, u.user_id))
            .text(&w.profile.password)
            .int(u.context_id)
            .end();
    }
    put_file(out, "users.csv", &csv.buf, csv.rows)
}

fn email_of(w: &World, user_id: u64) -> String {
    let mut s = String::with_capacity(48);
    email(w, user_id, &mut s);
    s
}

fn write_contexts_csv(out: &Path, w: &World, contexts: &[Ctx]) -> Result<LoadtestFile> {
    let mut csv = CsvBuf::new(
        "context_id,type,subtype,name,currency,owner_id,member_count,transaction_count",
    );
    let mut name = String::with_capacity(64);
    for c in contexts {
        name.clear();
        context_name(w, c, &mut name);
        csv.int(c.id)
            .text(c.kind.as_str())
            .text(c.subtype.unwrap_or(""))
            .text(&name)
            .text(c.currency)
            .int(c.owner)
            .int(c.members.len() as u64)
            .int(c.tx_count)
            .end();
    }
    put_file(out, "contexts.csv", &csv.buf, csv.rows)
}

fn merchants() -> BTreeSet<&'static str> {
    crate::vocab::MERCHANTS
        .iter()
        .flatten()
        .flatten()
        .copied()
        .collect()
}

/// Everything a transaction's description can be in the seeded data: typed phrases, the
/// statement texts of every entry method, and bare merchant names (API entries).
fn descriptions() -> BTreeSet<&'static str> {
    let mut set: BTreeSet<&'static str> = BTreeSet::new();
    for (ti, top) in TREE.iter().enumerate() {
        for (si, sub) in top.subs.iter().enumerate() {
            set.extend(sub.phrases.iter().copied());
            set.extend(crate::vocab::MERCHANTS[ti][si].iter().copied());
            for texts in &POOL[ti][si] {
                set.extend(texts.open_finance.iter().map(String::as_str));
                set.extend(texts.csv_import.iter().map(String::as_str));
                set.insert(texts.receipt_ocr.as_str());
            }
        }
    }
    set
}

fn write_json_strings(out: &Path, rel: &str, items: BTreeSet<&str>) -> Result<LoadtestFile> {
    let items: Vec<&str> = items.into_iter().collect();
    let mut bytes = serde_json::to_vec_pretty(&items).expect("strings serialise");
    bytes.push(b'\n');
    put_file(out, rel, &bytes, items.len() as u64)
}

/// The `i`-th of `n` transaction ids spread over the whole id range: one id drawn from each of
/// `n` equal strata, so busy and quiet contexts, old and new, all appear. Needs transactions.
fn spread_tx(w: &World, salt: u64, i: u64, n: u64) -> u64 {
    let t = w.transactions() as u128;
    let lo = (i as u128 * t / n as u128) as u64;
    let hi = ((i as u128 + 1) * t / n as u128) as u64;
    let off = if hi > lo {
        w.keyed.hash(Domain::TxCore, salt, i) % (hi - lo)
    } else {
        0
    };
    lo + off + 1
}

/// The context holding a transaction, kept while consecutive lookups stay inside it.
struct CtxCursor(Option<Ctx>);

impl CtxCursor {
    fn tx(&mut self, w: &World, tx_id: u64) -> (TxCore, &Ctx) {
        let hit = self
            .0
            .as_ref()
            .is_some_and(|c| tx_id >= c.tx_first && tx_id < c.tx_first + c.tx_count);
        if !hit {
            self.0 = Some(w.context(w.context_of_tx(tx_id)));
        }
        let c = self.0.as_ref().expect("context just set");
        (w.tx_core(c, tx_id), c)
    }
}

fn sub_of(w: &World, core: &TxCore) -> (&'static Sub, usize, usize) {
    let info = &w.subs[core.sub];
    (&TREE[info.top].subs[info.sub], info.top, info.sub)
}

/// A description as the transaction could have been entered, in the generator's mix of entry
/// methods (open finance 45%, typed 25%, CSV import 12%, receipt OCR 8%, API 10%), keyed by
/// the transaction so repeated runs pick the same text.
fn any_description(w: &World, core: &TxCore, r: &mut KeyedStream) -> &'static str {
    let (sub, top, si) = sub_of(w, core);
    let texts = &POOL[top][si][core.merchant];
    match r.below(100) {
        0..=44 => pick_str(r, &texts.open_finance),
        45..=69 => sub.phrases[r.below(sub.phrases.len() as u64) as usize],
        70..=81 => pick_str(r, &texts.csv_import),
        82..=89 => &texts.receipt_ocr,
        _ => w.merchant_name(core.sub, core.merchant),
    }
}

/// What a bank's statement export prints: open-finance style texts, some import-style ones.
fn statement_description(w: &World, core: &TxCore, r: &mut KeyedStream) -> &'static str {
    let (_, top, si) = sub_of(w, core);
    let texts = &POOL[top][si][core.merchant];
    if r.chance(700) {
        pick_str(r, &texts.open_finance)
    } else {
        pick_str(r, &texts.csv_import)
    }
}

fn pick_str(r: &mut KeyedStream, v: &'static [String]) -> &'static str {
    &v[r.below(v.len() as u64) as usize]
}

/// Request bodies for `POST /transactions`. The API takes positive amounts and infers the
/// direction from the category, so `amount` is the model's amount without its sign (the
/// database stores expenses and transfers as negative, income as positive).
fn write_payloads(out: &Path, w: &World, n: usize) -> Result<LoadtestFile> {
    let mut csv = CsvBuf::new("amount,description,merchant_name,category_hint");
    let mut cursor = CtxCursor(None);
    for i in 0..n as u64 {
        let tx_id = spread_tx(w, SALT_PAYLOAD_PICK, i, n as u64);
        let (core, _) = cursor.tx(w, tx_id);
        let (sub, _, _) = sub_of(w, &core);
        let mut r = w
            .keyed
            .stream(Domain::TxCore, SALT_PAYLOAD_TEXT ^ (tx_id << 3));
        csv.money(core.amount_cents.abs())
            .text(any_description(w, &core, &mut r))
            .text(w.merchant_name(core.sub, core.merchant))
            .text(sub.name)
            .end();
    }
    put_file(out, "transaction-payloads.csv", &csv.buf, csv.rows)
}

/// Rows of bulk file `i`: log-uniform in `BULK_MIN_ROWS..=BULK_MAX_ROWS`. The power is built
/// from square roots and products only, which IEEE 754 rounds exactly on every platform, so
/// no libm difference can change a row count.
fn bulk_rows(w: &World, i: u64) -> u64 {
    const BITS: u32 = 20;
    let u = w.keyed.hash(Domain::TxCore, SALT_BULK_ROWS, i) >> (64 - BITS);
    let mut root = (BULK_MAX_ROWS / BULK_MIN_ROWS) as f64;
    let mut f = 1.0f64;
    for j in (0..BITS).rev() {
        root = root.sqrt();
        if (u >> j) & 1 == 1 {
            f *= root;
        }
    }
    ((BULK_MIN_ROWS as f64 * f).round() as u64).clamp(BULK_MIN_ROWS, BULK_MAX_ROWS)
}

fn bulk_name(i: u64, n: u64) -> String {
    let width = n.to_string().len().max(4);
    format!("bulk/bulk-{i:0width$}.csv")
}

/// Bulk import files: each a run of consecutive transactions (so mostly one context's, as a
/// statement export would be) from a point spread over the id range, in date order. Files are
/// built in parallel, but each depends only on its index, and the list keeps index order.
fn write_bulk(out: &Path, w: &World, n: usize) -> Result<Vec<LoadtestFile>> {
    let n = n as u64;
    (1..=n)
        .into_par_iter()
        .map(|i| {
            let rows = bulk_rows(w, i);
            let start = spread_tx(w, SALT_BULK_PICK, i - 1, n);
            let t = w.transactions();
            let mut cursor = CtxCursor(None);
            let mut lines: Vec<(i32, u64, &'static str, i64, &'static str, &'static str)> =
                Vec::with_capacity(rows as usize);
            for k in 0..rows {
                let tx_id = (start - 1 + k) % t + 1;
                let (core, _) = cursor.tx(w, tx_id);
                let (sub, _, _) = sub_of(w, &core);
                let mut r = w
                    .keyed
                    .stream(Domain::TxCore, SALT_BULK_TEXT ^ (tx_id << 3));
                lines.push((
                    core.day,
                    tx_id,
                    statement_description(w, &core, &mut r),
                    core.amount_cents,
                    w.merchant_name(core.sub, core.merchant),
                    sub.name,
                ));
            }
            lines.sort_by_key(|l| (l.0, l.1));
            let mut csv = CsvBuf::new("date,description,amount,merchant_name,category_hint");
            for (day, _, desc, cents, merchant, hint) in lines {
                csv.date(day)
                    .text(desc)
                    .money(cents)
                    .text(merchant)
                    .text(hint)
                    .end();
            }
            put_file(out, &bulk_name(i, n), &csv.buf, csv.rows)
        })
        .collect()
}

fn write_bulk_index(out: &Path, bulk: &[LoadtestFile]) -> Result<LoadtestFile> {
    let mut csv = CsvBuf::new("file,rows,bytes");
    for f in bulk {
        csv.text(f.path.strip_prefix("bulk/").unwrap_or(&f.path))
            .int(f.rows)
            .int(f.bytes)
            .end();
    }
    put_file(out, "bulk/index.csv", &csv.buf, csv.rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_step_is_coprime() {
        for n in 1..500u64 {
            let s = golden_step(n);
            let mut seen = vec![false; n as usize];
            for k in 0..n {
                seen[((k * s) % n) as usize] = true;
            }
            assert!(seen.iter().all(|&b| b), "n={n} step={s}");
        }
    }

    #[test]
    fn inside_refuses_escapes() {
        let out = Path::new("/x");
        assert!(inside(out, "bulk/bulk-0001.csv").is_some());
        assert!(inside(out, "../etc/passwd").is_none());
        assert!(inside(out, "/etc/passwd").is_none());
        assert!(inside(out, "bulk/../../y").is_none());
    }
}
