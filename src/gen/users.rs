//! `users`: people with pt_BR names, unique e-mails and CPFs, and a real bcrypt password hash.

use super::{Out, TableSpec};
use crate::model::World;
use crate::rng::{chunk_rng, Draw};
use crate::table::{col, ColType::*, Encoder};
use crate::vocab;

pub static USERS: TableSpec = TableSpec {
    name: "users",
    columns: &[
        col("id", BigInt),
        col("full_name", Text),
        col("email", Text),
        col("cpf", Char(14)),
        col("phone", Text),
        col("city", Text),
        col("state", Char(2)),
        col("timezone", Text),
        col("plan_tier", Text),
        col("monthly_income", Numeric(12, 2)),
        col("password_hash", Text),
        col("locale", Text),
        col("created_at", Timestamptz),
    ],
};

/// Lower-case ASCII for e-mail local parts: strips accents, spaces and apostrophes.
pub fn fold_ascii(s: &str, out: &mut String) {
    for c in s.chars() {
        let m = match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' | 'Á' | 'À' | 'Â' | 'Ã' => 'a',
            'é' | 'ê' | 'è' | 'É' | 'Ê' => 'e',
            'í' | 'î' | 'Í' => 'i',
            'ó' | 'ô' | 'õ' | 'ö' | 'Ó' | 'Ô' | 'Õ' => 'o',
            'ú' | 'ü' | 'Ú' => 'u',
            'ç' | 'Ç' => 'c',
            c if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
            _ => continue,
        };
        out.push(m);
    }
}

/// The Receita Federal fiscal region of a state: the ninth digit of a CPF issued there.
pub fn fiscal_region(state: &str) -> u32 {
    match state {
        "DF" | "GO" | "MS" | "MT" | "TO" => 1,
        "AC" | "AM" | "AP" | "PA" | "RO" | "RR" => 2,
        "CE" | "MA" | "PI" => 3,
        "AL" | "PB" | "PE" | "RN" => 4,
        "BA" | "SE" => 5,
        "MG" => 6,
        "ES" | "RJ" => 7,
        "SP" => 8,
        "PR" | "SC" => 9,
        _ => 0, // RS
    }
}

/// A CPF (`000.000.000-00`) with valid check digits, unique per user id: the first eight
/// digits are a bijection of the id that skips the all-same-digit numbers validators reject,
/// and the ninth is the fiscal region of the user's state (`fiscal_region`).
pub fn cpf(user_id: u64, state: &str, out: &mut String) {
    const N: u64 = 99_999_990; // eight-digit numbers less the ten repdigits
    const MUL: u64 = 38_742_049; // coprime with N
    let mut v = ((((user_id - 1) % N) as u128 * MUL as u128 + 12_345_678) % N as u128) as u64;
    for k in 0..10u64 {
        if v >= k * 11_111_111 {
            v += 1;
        }
    }
    let v = v * 10 + fiscal_region(state) as u64;
    let mut d = [0u32; 11];
    let mut x = v;
    for i in (0..9).rev() {
        d[i] = (x % 10) as u32;
        x /= 10;
    }
    let check = |d: &[u32], n: usize| {
        let s: u32 = (0..n).map(|i| d[i] * (n as u32 + 1 - i as u32)).sum();
        let r = s % 11;
        if r < 2 {
            0
        } else {
            11 - r
        }
    };
    d[9] = check(&d, 9);
    d[10] = check(&d, 10);
    for (i, digit) in d.iter().enumerate() {
        if i == 3 || i == 6 {
            out.push('.');
        }
        if i == 9 {
            out.push('-');
        }
        out.push(char::from(b'0' + *digit as u8));
    }
}

/// Full name of a user, shared with the tables that show it.
pub fn full_name(w: &World, user_id: u64, out: &mut String) {
    let u = w.user_core(user_id);
    out.push_str(vocab::first_names()[u.first]);
    out.push(' ');
    out.push_str(vocab::last_names()[u.last]);
    if let Some(l2) = u.last2 {
        out.push(' ');
        out.push_str(vocab::last_names()[l2]);
    }
}

/// E-mail of a user: unique because the id is part of it.
pub fn email(w: &World, user_id: u64, out: &mut String) {
    let u = w.user_core(user_id);
    let mut r = w
        .keyed
        .stream(crate::rng::Domain::User, user_id ^ (1 << 62));
    fold_ascii(vocab::first_names()[u.first], out);
    out.push(['.', '_', '.'][r.below(3) as usize]);
    let last = vocab::last_names()[u.last2.unwrap_or(u.last)];
    fold_ascii(last.rsplit(' ').next().unwrap_or(last), out);
    out.push_str(itoa::Buffer::new().format(user_id));
    out.push('@');
    out.push_str(vocab::EMAIL_DOMAINS[r.pick_cdf(&w.email_cdf)].0);
}

pub fn fill<E: Encoder>(w: &World, chunk: u64, outs: &mut [Out<E>]) {
    let mut r = chunk_rng(w.profile.seed, super::Group::Users.salt(), chunk);
    let hash = w.password_hash().to_string();
    let mut s = String::with_capacity(64);
    let mut digits = itoa::Buffer::new();
    for id in super::Group::Users.chunk_ids(w, chunk) {
        let u = w.user_core(id);
        let city = &vocab::CITIES[w.cities.draw(&mut r)];
        let plan = match r.below(100) {
            0..=67 => "free",
            68..=87 => "premium",
            88..=96 => "family",
            _ => "business",
        };
        let phone_tail = r.below(100_000_000);
        let Some(e) = outs[0].row() else { continue };
        e.begin();
        e.int(id as i64);
        s.clear();
        full_name(w, id, &mut s);
        e.text(&s);
        s.clear();
        email(w, id, &mut s);
        e.text(&s);
        s.clear();
        cpf(id, city.1, &mut s);
        e.text(&s);
        s.clear();
        s.push('(');
        s.push_str(digits.format(city.2));
        s.push_str(") 9");
        let t = digits.format(phone_tail + 100_000_000);
        s.push_str(&t[1..5]);
        s.push('-');
        s.push_str(&t[5..9]);
        e.text(&s);
        e.text(city.0);
        e.text(city.1);
        e.text(city.3);
        e.text(plan);
        e.money(u.monthly_income_cents);
        e.text(&hash);
        e.text("pt-BR");
        e.timestamp(u.created_at);
        e.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(c: &str) -> bool {
        let d: Vec<u32> = c.chars().filter_map(|c| c.to_digit(10)).collect();
        let ck = |n: usize| {
            let s: u32 = (0..n).map(|i| d[i] * (n as u32 + 1 - i as u32)).sum();
            let r = s % 11;
            if r < 2 {
                0
            } else {
                11 - r
            }
        };
        d.len() == 11 && ck(9) == d[9] && ck(10) == d[10] && d.iter().any(|&x| x != d[0])
    }

    #[test]
    fn cpfs_are_valid_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for id in 1..50_000u64 {
            let mut s = String::new();
            let state = ["SP", "RS", "DF", "BA", "AM"][id as usize % 5];
            cpf(id, state, &mut s);
            assert_eq!(s.len(), 14);
            assert_eq!(
                s.as_bytes()[10] - b'0',
                fiscal_region(state) as u8,
                "{s} {state}"
            );
            assert!(valid(&s), "{s}");
            assert!(seen.insert(s));
        }
    }
}
