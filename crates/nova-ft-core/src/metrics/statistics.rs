//! Statistics: percentiles, bootstrap confidence intervals, McNemar's exact test.

pub(super) fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Percentile bootstrap of the mean of `values` (0/1 or differences).
pub(super) fn bootstrap_ci(values: &[f64], resamples: usize, seed: u64) -> [f64; 2] {
    let n = values.len();
    if n == 0 || resamples == 0 {
        return [f64::NAN, f64::NAN];
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| values[rng.usize(..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    [percentile(&means, 0.025), percentile(&means, 0.975)]
}

/// Exact two-sided binomial test of b vs c discordant pairs (McNemar), in log space.
pub fn mcnemar_exact(b: usize, c: usize) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    let mut log_term = -(n as f64) * std::f64::consts::LN_2; // C(n,0) / 2^n
    let mut logs = vec![log_term];
    for i in 0..k {
        log_term += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
        logs.push(log_term);
    }
    let top = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let tail = top.exp() * logs.iter().map(|l| (l - top).exp()).sum::<f64>();
    (2.0 * tail).min(1.0)
}
