//! The arithmetic both RFT policies share ([`crate::reward_policy`] over labels,
//! [`crate::candidate_policy`] over built answers): choosing from a distribution, one group's
//! gradient on its logits, and Adam's update of one weight.

use super::text::softmax_in_place;
use nova_ft_data::cpython_random::CPythonRandom;

/// The most likely position (the first on ties, as the base reader picks).
pub fn most_likely(p: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in p.iter().enumerate() {
        if *v > p[best] {
            best = i;
        }
    }
    best
}

/// A position drawn from the distribution `p` (the last when rounding leaves a remainder).
pub fn draw(p: &[f32], random: &mut CPythonRandom) -> usize {
    let mut u = (random.getrandbits(24) as f32) / (1u32 << 24) as f32;
    for (i, v) in p.iter().enumerate() {
        if u < *v {
            return i;
        }
        u -= v;
    }
    p.len().saturating_sub(1)
}

/// The gradient (to ascend) on a group's logits: each sampled answer's log-probability
/// gradient times its group-relative advantage (reward minus the group's mean, over its
/// spread, averaged over the group), plus `kl_weight` times the pull of KL(base || policy)
/// towards the base distribution (`prior` logits). `sampled` are positions in `p`. The flag
/// says whether the rewards carried a signal (not all equal).
pub fn logit_gradient(
    p: &[f32],
    prior: &[f32],
    sampled: &[usize],
    rewards: &[f64],
    kl_weight: f32,
) -> (Vec<f32>, bool) {
    let mut base = prior.to_vec();
    softmax_in_place(&mut base);
    let mut gradient: Vec<f32> = base
        .iter()
        .zip(p)
        .map(|(b, q)| kl_weight * (b - q))
        .collect();
    let n = rewards.len().max(1) as f64;
    let mean = rewards.iter().sum::<f64>() / n;
    let std = (rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    if std <= 1e-9 {
        return (gradient, false);
    }
    for (&chosen, reward) in sampled.iter().zip(rewards) {
        let advantage = ((reward - mean) / std / n) as f32;
        for (k, g) in gradient.iter_mut().enumerate() {
            let indicator = if k == chosen { 1.0 } else { 0.0 };
            *g += advantage * (indicator - p[k]);
        }
    }
    (gradient, true)
}

const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;

/// Adam's bias corrections and step for one optimiser step `t` (from 1).
#[derive(Debug, Clone, Copy)]
pub struct AdamStep {
    correction1: f32,
    correction2: f32,
    step: f32,
    epsilon: f32,
}

impl AdamStep {
    pub fn new(t: i32, step: f64, epsilon: f32) -> AdamStep {
        AdamStep {
            correction1: 1.0 - BETA1.powi(t),
            correction2: 1.0 - BETA2.powi(t),
            step: step as f32,
            epsilon,
        }
    }

    /// Updates one weight's moments `m`, `v` with its gradient `g`; returns the weight's change.
    pub fn delta(&self, m: &mut f32, v: &mut f32, g: f32) -> f32 {
        *m = BETA1 * *m + (1.0 - BETA1) * g;
        *v = BETA2 * *v + (1.0 - BETA2) * g * g;
        self.step * (*m / self.correction1) / ((*v / self.correction2).sqrt() + self.epsilon)
    }
}
