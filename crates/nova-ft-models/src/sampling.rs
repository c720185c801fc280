//! Choosing the next token from logits as Bedrock's inference parameters say: `temperature`
//! (0 is greedy), `topK`, `topP`; seeded, so a request with a seed is repeatable.

use crate::vector_exp::{exp_nonpositive, max};

/// A small seeded generator (SplitMix64): one per request.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How to pick tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub temperature: f32,
    pub top_p: f32,
    /// 0: no limit.
    pub top_k: usize,
}

impl Sampling {
    pub const GREEDY: Sampling = Sampling {
        temperature: 0.0,
        top_p: 1.0,
        top_k: 0,
    };

    /// The index of the next token. Only the candidates are sorted, never the whole
    /// vocabulary: the tokens above a probability low enough to leave at least `top_k` of
    /// them, or without `top_k` to hold `top_p` of the mass (the answer is among their best);
    /// with neither limit, the token is drawn from the whole distribution as it stands. Ties
    /// rank the lower index first.
    pub fn pick(&self, logits: &[f32], random: &mut SplitMix) -> u32 {
        if self.temperature <= 0.0 || self.top_k == 1 || logits.is_empty() {
            return argmax(logits);
        }
        let weights = weights(logits, self.temperature);
        let total = sum(&weights);
        let limited_k = self.top_k > 0 && self.top_k < weights.len();
        if !limited_k && self.top_p >= 1.0 {
            let weighted = weights.iter().copied().enumerate();
            return draw(random, total, weighted).map_or_else(|| argmax(logits), |i| i as u32);
        }
        let k = if limited_k { self.top_k } else { 0 };
        let mut order = candidates(&weights, total, k, self.top_p);
        // Stable: equal weights keep their index order.
        order.sort_by(|a, b| weights[*b as usize].total_cmp(&weights[*a as usize]));
        if limited_k {
            order.truncate(self.top_k);
        }
        // The nucleus, within the candidates' mass (all of it when top_k chose them).
        let total = if limited_k {
            sum_of(&weights, &order)
        } else {
            total
        };
        let mut mass = 0.0;
        let mut keep = order.len();
        for (i, id) in order.iter().enumerate() {
            mass += f64::from(weights[*id as usize]) / total;
            if mass >= f64::from(self.top_p) {
                keep = i + 1;
                break;
            }
        }
        let nucleus = &order[..keep];
        let kept = sum_of(&weights, nucleus);
        let weighted = nucleus
            .iter()
            .map(|id| (*id as usize, weights[*id as usize]));
        draw(random, kept, weighted).map_or_else(|| argmax(logits), |i| i as u32)
    }
}

/// Each token's weight `e^((logit - best) / temperature)`, in f32 (its largest is 1).
fn weights(logits: &[f32], temperature: f32) -> Vec<f32> {
    let best = max(logits);
    let scale = 1.0 / temperature;
    logits
        .iter()
        .map(|l| exp_nonpositive((l - best) * scale))
        .collect()
}

/// The sum in f64, in lanes of 8 so that the compiler vectorizes it.
fn sum(values: &[f32]) -> f64 {
    let mut lanes = [0f64; 8];
    let chunks = values.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += f64::from(*v);
        }
    }
    lanes.iter().sum::<f64>() + rest.iter().map(|v| f64::from(*v)).sum::<f64>()
}

fn sum_of(weights: &[f32], ids: &[u32]) -> f64 {
    ids.iter().map(|i| f64::from(weights[*i as usize])).sum()
}

/// The tokens whose weight is above a fraction of `total`, the fraction lowered tenfold
/// until they are at least `top_k` (when not 0), else until they hold `top_p` of the mass:
/// every token not among them weighs less than each that is, so the best `top_k`, and the
/// nucleus, are among them.
fn candidates(weights: &[f32], total: f64, top_k: usize, top_p: f32) -> Vec<u32> {
    // Each block's largest weight: most blocks hold no candidate and are passed over whole.
    let blocks: Vec<f32> = weights.chunks(BLOCK).map(max).collect();
    let mut floor = 1e-3;
    loop {
        let threshold = (floor * total) as f32;
        let mut above = Vec::new();
        for (b, _) in blocks.iter().enumerate().filter(|(_, m)| **m > threshold) {
            let start = b * BLOCK;
            let block = &weights[start..weights.len().min(start + BLOCK)];
            above.extend(
                (start as u32..)
                    .zip(block)
                    .filter(|(_, w)| **w > threshold)
                    .map(|(i, _)| i),
            );
        }
        let enough = match top_k {
            0 => sum_of(weights, &above) >= f64::from(top_p) * total,
            k => above.len() >= k,
        };
        if enough || floor < 1e-12 {
            return above;
        }
        floor /= 10.0;
    }
}

/// Tokens per block in [`candidates`]' pass.
const BLOCK: usize = 64;

/// A token drawn in proportion to its weight, `total` being the weights' sum; `None` when
/// rounding left the draw past the last one.
fn draw(
    random: &mut SplitMix,
    total: f64,
    mut weighted: impl Iterator<Item = (usize, f32)>,
) -> Option<usize> {
    let mut r = random.next_f64() * total;
    weighted.find_map(|(i, w)| {
        r -= f64::from(w);
        (r <= 0.0).then_some(i)
    })
}

/// The index of the largest logit, the first of equals (NaN passed over; 0 for none): a
/// vectorized pass for the largest, then a search for its first place: 1.7 µs against 26.6
/// for one comparing pass with its index (`sampling_speed` example at temperature 0, where
/// the largest is near the start).
pub fn argmax(logits: &[f32]) -> u32 {
    let best = max(logits);
    logits.iter().position(|v| *v == best).unwrap_or(0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_top_k_one_and_top_p_small_all_pick_the_best() {
        let logits = [0.1, 2.0, -1.0, 1.9];
        let mut r = SplitMix::new(1);
        assert_eq!(Sampling::GREEDY.pick(&logits, &mut r), 1);
        let s = Sampling {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 1,
        };
        assert_eq!(s.pick(&logits, &mut r), 1);
        let s = Sampling {
            temperature: 1.0,
            top_p: 0.01,
            top_k: 0,
        };
        for _ in 0..20 {
            assert_eq!(s.pick(&logits, &mut r), 1);
        }
    }

    #[test]
    fn sampling_follows_the_distribution_within_top_k() {
        let logits = [0.0, 0.0, -50.0, 0.0];
        let s = Sampling {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 2,
        };
        let mut r = SplitMix::new(7);
        let mut counts = [0; 4];
        for _ in 0..2000 {
            counts[s.pick(&logits, &mut r) as usize] += 1;
        }
        // Ties keep the lower indexes first: 0 and 1, about half each; never 2 or 3.
        assert_eq!(counts[2] + counts[3], 0);
        assert!(counts[0] > 800 && counts[1] > 800, "{counts:?}");
    }

    #[test]
    fn top_p_draws_only_from_the_nucleus_and_without_it_from_everything() {
        // 1000 tokens: three likely ones (half the mass together) and a long flat tail.
        let mut logits = vec![0.0f32; 1000];
        for (i, l) in [(10, 7.0f32), (500, 6.5), (999, 6.0)] {
            logits[i] = l;
        }
        let nucleus = Sampling {
            temperature: 1.0,
            top_p: 0.3,
            top_k: 0,
        };
        let mut r = SplitMix::new(3);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            seen.insert(nucleus.pick(&logits, &mut r));
        }
        assert!(seen.iter().all(|i| [10, 500].contains(i)), "{seen:?}");
        let everything = Sampling {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
        };
        let tail = (0..2000)
            .filter(|_| ![10, 500, 999].contains(&everything.pick(&logits, &mut r)))
            .count();
        // The tail holds 997 / (997 + e^7 + e^6.5 + e^6) = 0.32 of the mass.
        assert!((500..800).contains(&tail), "{tail}");
    }

    /// Each token's probability under temperature, top-k then top-p, computed the plain way:
    /// the whole vocabulary sorted, in f64.
    fn reference(logits: &[f32], s: Sampling) -> Vec<f64> {
        let best = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let w: Vec<f64> = logits
            .iter()
            .map(|l| (f64::from(l - best) / f64::from(s.temperature)).exp())
            .collect();
        let mut order: Vec<usize> = (0..w.len()).collect();
        order.sort_by(|a, b| w[*b].total_cmp(&w[*a]));
        if s.top_k > 0 {
            order.truncate(s.top_k);
        }
        let total: f64 = order.iter().map(|i| w[*i]).sum();
        let (mut mass, mut keep) = (0.0, order.len());
        for (n, i) in order.iter().enumerate() {
            mass += w[*i] / total;
            if mass >= f64::from(s.top_p) {
                keep = n + 1;
                break;
            }
        }
        let kept: f64 = order[..keep].iter().map(|i| w[*i]).sum();
        let mut p = vec![0.0; w.len()];
        for i in &order[..keep] {
            p[*i] = w[*i] / kept;
        }
        p
    }

    #[test]
    fn draws_follow_the_plain_computation_of_the_distribution() {
        // A vocabulary of 5,000 with a spread of logits, and a few tokens well above it.
        let mut r = SplitMix::new(5);
        let mut logits: Vec<f32> = (0..5_000).map(|_| (r.next_f64() * 6.0) as f32).collect();
        for (i, lift) in [(3, 9.0f32), (1_000, 8.5), (4_999, 8.0), (2_500, 7.0)] {
            logits[i] += lift;
        }
        for s in [
            Sampling {
                temperature: 0.7,
                top_p: 0.9,
                top_k: 0,
            },
            Sampling {
                temperature: 1.0,
                top_p: 0.5,
                top_k: 0,
            },
            Sampling {
                temperature: 1.3,
                top_p: 1.0,
                top_k: 3,
            },
            Sampling {
                temperature: 1.0,
                top_p: 0.6,
                top_k: 40,
            },
        ] {
            let expected = reference(&logits, s);
            let draws = 20_000;
            let mut counts = vec![0usize; logits.len()];
            for _ in 0..draws {
                counts[s.pick(&logits, &mut r) as usize] += 1;
            }
            for (i, (c, p)) in counts.iter().zip(&expected).enumerate() {
                if *p == 0.0 {
                    assert_eq!(*c, 0, "{s:?}: token {i} is outside the nucleus");
                } else {
                    // Five standard deviations of a binomial count.
                    let mean = p * draws as f64;
                    let sd = (mean * (1.0 - p)).sqrt();
                    assert!(
                        (*c as f64 - mean).abs() <= 5.0 * sd + 1.0,
                        "{s:?}: token {i} {c} vs {mean:.1}"
                    );
                }
            }
        }
    }
}
