//! One statistics module for every report: summaries of latency samples and the significance
//! test that decides whether two runs really differ.

use serde::{Deserialize, Serialize};

/// Summary of a sample, in the sample's unit (milliseconds for latencies).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub mean: f64,
    pub stddev: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// Percentile `p` (0..=100) of sorted values, interpolating linearly between closest ranks
/// (numpy's default), so small samples do not jump from one observation to the next.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

impl Summary {
    pub fn of(samples: &[f64]) -> Summary {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        let n = v.len();
        if n == 0 {
            return Summary {
                count: 0,
                min: f64::NAN,
                mean: f64::NAN,
                stddev: f64::NAN,
                p50: f64::NAN,
                p95: f64::NAN,
                p99: f64::NAN,
                max: f64::NAN,
            };
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        let var = if n > 1 {
            v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
        } else {
            0.0
        };
        Summary {
            count: n,
            min: v[0],
            mean,
            stddev: var.sqrt(),
            p50: percentile(&v, 50.0),
            p95: percentile(&v, 95.0),
            p99: percentile(&v, 99.0),
            max: v[n - 1],
        }
    }
}

/// `y ≈ coefficient · x^exponent`, fitted by least squares on `ln y` against `ln x`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct PowerFit {
    pub exponent: f64,
    pub coefficient: f64,
    /// Share of the variance of `ln y` the line explains (1 for points on it; NaN for two
    /// points, which any line fits).
    pub r2: f64,
}

impl PowerFit {
    /// Points with positive `x` and `y` only; `None` with fewer than two distinct `x`.
    pub fn of(points: &[(f64, f64)]) -> Option<PowerFit> {
        let logs: Vec<(f64, f64)> = points
            .iter()
            .filter(|(x, y)| *x > 0.0 && *y > 0.0 && x.is_finite() && y.is_finite())
            .map(|(x, y)| (x.ln(), y.ln()))
            .collect();
        let n = logs.len() as f64;
        if logs.len() < 2 {
            return None;
        }
        let mx = logs.iter().map(|p| p.0).sum::<f64>() / n;
        let my = logs.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = logs.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = logs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let syy: f64 = logs.iter().map(|p| (p.1 - my).powi(2)).sum();
        if sxx <= 0.0 {
            return None;
        }
        let b = sxy / sxx;
        let a = my - b * mx;
        let r2 = if logs.len() < 3 {
            f64::NAN
        } else if syy == 0.0 {
            1.0
        } else {
            let sse: f64 = logs.iter().map(|p| (p.1 - a - b * p.0).powi(2)).sum();
            1.0 - sse / syy
        };
        Some(PowerFit {
            exponent: b,
            coefficient: a.exp(),
            r2,
        })
    }

    pub fn predict(&self, x: f64) -> f64 {
        self.coefficient * x.powf(self.exponent)
    }
}

/// Result of a Mann–Whitney U test of "`current` tends to be larger than `baseline`".
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct MannWhitney {
    pub u: f64,
    pub z: f64,
    /// One-sided p-value (normal approximation with tie correction and continuity correction).
    pub p_greater: f64,
    /// Probability that a random current sample exceeds a random baseline one (effect size).
    pub prob_superiority: f64,
}

/// Mann–Whitney U: does not assume normal latencies (they never are), only that samples are
/// independent. Ranks the pooled samples, with midranks for ties.
pub fn mann_whitney(current: &[f64], baseline: &[f64]) -> MannWhitney {
    let (n1, n2) = (current.len() as f64, baseline.len() as f64);
    if current.is_empty() || baseline.is_empty() {
        return MannWhitney {
            u: f64::NAN,
            z: 0.0,
            p_greater: 1.0,
            prob_superiority: 0.5,
        };
    }
    let mut pooled: Vec<(f64, bool)> = current
        .iter()
        .map(|&x| (x, true))
        .chain(baseline.iter().map(|&x| (x, false)))
        .collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = pooled.len();
    let mut rank_sum_current = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && pooled[j + 1].0 == pooled[i].0 {
            j += 1;
        }
        let midrank = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        for item in &pooled[i..=j] {
            if item.1 {
                rank_sum_current += midrank;
            }
        }
        i = j + 1;
    }
    let u = rank_sum_current - n1 * (n1 + 1.0) / 2.0;
    let mean_u = n1 * n2 / 2.0;
    let nn = n1 + n2;
    let var_u = n1 * n2 / 12.0 * ((nn + 1.0) - tie_term / (nn * (nn - 1.0)));
    let z = if var_u > 0.0 {
        (u - mean_u - 0.5) / var_u.sqrt()
    } else {
        0.0
    };
    MannWhitney {
        u,
        z,
        p_greater: 1.0 - normal_cdf(z),
        prob_superiority: u / (n1 * n2),
    }
}

/// Standard normal CDF (Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    let erf = if x >= 0.0 { y } else { -y };
    0.5 * (1.0 + erf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_fit_recovers_an_exponent() {
        let pts: Vec<(f64, f64)> = [1e3, 1e4, 1e5, 1e6]
            .iter()
            .map(|&x: &f64| (x, 0.02 * x.powf(0.92)))
            .collect();
        let f = PowerFit::of(&pts).unwrap();
        assert!((f.exponent - 0.92).abs() < 1e-9, "{f:?}");
        assert!((f.predict(1e7) - 0.02 * 1e7f64.powf(0.92)).abs() < 1e-6 * f.predict(1e7));
        assert!((f.r2 - 1.0).abs() < 1e-12);
        // Flat latencies: exponent 0.
        let flat = PowerFit::of(&[(1e3, 2.0), (1e4, 2.0), (1e5, 2.0)]).unwrap();
        assert!(flat.exponent.abs() < 1e-12);
        assert!(PowerFit::of(&[(1e3, 2.0)]).is_none());
        assert!(PowerFit::of(&[(1e3, 2.0), (1e3, 3.0)]).is_none());
    }

    #[test]
    fn summary_of_known_values() {
        let s = Summary::of(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!(s.count, 10);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 10.0);
        assert!((s.mean - 5.5).abs() < 1e-12);
        assert!((s.p50 - 5.5).abs() < 1e-12);
        assert!((s.p95 - 9.55).abs() < 1e-12);
        assert!((s.p99 - 9.91).abs() < 1e-12);
        assert!((s.stddev - 3.027_650_354).abs() < 1e-6);
    }

    #[test]
    fn mann_whitney_separates_shifted_samples_but_not_equal_ones() {
        let base: Vec<f64> = (0..50).map(|i| 10.0 + (i % 7) as f64).collect();
        let same: Vec<f64> = (0..50).map(|i| 10.0 + ((i + 3) % 7) as f64).collect();
        let slower: Vec<f64> = base.iter().map(|x| x * 1.5).collect();
        assert!(mann_whitney(&same, &base).p_greater > 0.05);
        let m = mann_whitney(&slower, &base);
        assert!(m.p_greater < 0.001, "{m:?}");
        assert!(m.prob_superiority > 0.8);
        // Textbook value: U for {1,2,3} vs {4,5,6} is 0 (current smaller).
        assert_eq!(mann_whitney(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).u, 0.0);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
    }
}
