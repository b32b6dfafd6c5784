//! `finseed scales`: how each volume query's latency grows with the data (the plan's
//! `check_storage_scalability`). The profile is seeded at each scale into a database of its own,
//! the queries are benchmarked there, and each query's p95 is fitted against the number of
//! transactions as a power law, `p95 ≈ c · n^k`. The exponent says how the query scales (0:
//! flat, as an index lookup should; 1: linear in the data, as a scan), and the fit predicts the
//! p95 at ten times the largest scale, flagged where that breaks the query's threshold.

use crate::bench::BenchReport;
use crate::error::{Error, Result};
use crate::stats::PowerFit;
use serde::Serialize;

/// Predictions are made at this multiple of the largest measured number of transactions.
pub const PREDICT_FACTOR: f64 = 10.0;

/// One scale's seed and benchmark.
#[derive(Serialize, Debug)]
pub struct ScalePoint {
    pub scale: f64,
    pub transactions: u64,
    /// Redacted URL of the scale's database.
    pub database: String,
    pub seed_seconds: f64,
    pub report: BenchReport,
}

/// One query across the scales.
#[derive(Serialize, Debug)]
pub struct QueryGrowth {
    pub query: String,
    /// p95 at each scale, in scale order (None: not measured there, skipped or failed).
    pub p95_ms: Vec<Option<f64>>,
    /// None with fewer than two measured scales.
    pub fit: Option<PowerFit>,
    /// Transactions the prediction is for.
    pub predicted_at: u64,
    pub predicted_p95_ms: Option<f64>,
    pub threshold_ms: Option<f64>,
    /// The predicted p95 exceeds the threshold.
    pub breaks: bool,
}

#[derive(Serialize, Debug)]
pub struct ScalesReport {
    pub profile: String,
    pub seed: u64,
    pub scales: Vec<ScalePoint>,
    pub growth: Vec<QueryGrowth>,
}

/// `--scales 0.01,0.1,1`: at least two distinct positive factors up to 1000, returned in
/// ascending order.
pub fn parse_scales(list: &str) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let f: f64 = part.parse().map_err(|_| {
            Error::Usage(format!(
                "--scales: `{part}` is not a number\n  fix: give factors of the profile's volumes, e.g. --scales 0.01,0.1,1"
            ))
        })?;
        if !(f.is_finite() && f > 0.0 && f <= 1000.0) {
            return Err(Error::Usage(format!(
                "--scales: {part} is not a usable factor\n  fix: give positive factors up to 1000, e.g. --scales 0.01,0.1,1"
            )));
        }
        out.push(f);
    }
    out.sort_by(f64::total_cmp);
    out.dedup();
    if out.len() < 2 {
        return Err(Error::Usage(format!(
            "--scales: `{list}` gives {} distinct factor(s); a growth curve needs at least two\n  fix: e.g. --scales 0.01,0.1,1",
            out.len()
        )));
    }
    Ok(out)
}

/// The database a scale is seeded into: finseed_scales_<profile>_s<seed>_<scale>, in the
/// identifier characters PostgreSQL takes unquoted, at most 63 bytes.
pub fn database_name(profile: &str, seed: u64, scale: f64) -> String {
    let stem: String = std::path::Path::new(profile)
        .file_stem()
        .map_or(profile.to_string(), |s| s.to_string_lossy().into_owned())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let scale = format!("{scale}").replace(['.', '-', '+'], "_");
    let tail = format!("_s{seed}_{scale}");
    let room = 63 - "finseed_scales_".len() - tail.len();
    let stem: String = stem.chars().take(room).collect();
    format!("finseed_scales_{stem}{tail}")
}

/// Each query's p95 across the scales, fitted and extrapolated.
pub fn growth(points: &[ScalePoint]) -> Vec<QueryGrowth> {
    let mut names: Vec<String> = Vec::new();
    for p in points {
        for q in &p.report.queries {
            if !names.contains(&q.name) {
                names.push(q.name.clone());
            }
        }
    }
    let largest = points.iter().map(|p| p.transactions).max().unwrap_or(0);
    let at = (largest as f64 * PREDICT_FACTOR).round() as u64;
    names
        .into_iter()
        .map(|name| {
            let mut threshold = None;
            let p95: Vec<Option<f64>> = points
                .iter()
                .map(|p| {
                    let q = p.report.queries.iter().find(|q| q.name == name)?;
                    threshold = threshold.or(q.threshold_ms);
                    (q.errors == 0 && q.latency_ms.count > 0).then_some(q.latency_ms.p95)
                })
                .collect();
            let xy: Vec<(f64, f64)> = points
                .iter()
                .zip(&p95)
                .filter_map(|(p, y)| y.map(|y| (p.transactions as f64, y)))
                .collect();
            let fit = PowerFit::of(&xy);
            let predicted = fit.as_ref().map(|f| f.predict(at as f64));
            QueryGrowth {
                breaks: matches!((predicted, threshold), (Some(p), Some(t)) if p > t),
                query: name,
                p95_ms: p95,
                fit,
                predicted_at: at,
                predicted_p95_ms: predicted,
                threshold_ms: threshold,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_checked_and_sorted() {
        assert_eq!(parse_scales("1, 0.01,0.1,1").unwrap(), vec![0.01, 0.1, 1.0]);
        assert!(parse_scales("1").is_err());
        assert!(parse_scales("0,1").is_err());
        assert!(parse_scales("a,1").is_err());
        assert!(parse_scales("1,2000").is_err());
    }

    #[test]
    fn database_names_are_plain_identifiers() {
        assert_eq!(
            database_name("small", 42, 0.01),
            "finseed_scales_small_s42_0_01"
        );
        let n = database_name("/tmp/My Profile.toml", 1, 1.0);
        assert_eq!(n, "finseed_scales_my_profile_s1_1");
        let long = database_name(&"x".repeat(200), u64::MAX, 0.125);
        assert!(long.len() <= 63 && long.ends_with("_0_125"), "{long}");
    }
}
