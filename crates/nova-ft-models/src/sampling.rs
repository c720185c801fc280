//! Choosing the next token from logits as Bedrock's inference parameters say: `temperature`
//! (0 is greedy), `topK`, `topP`; seeded, so a request with a seed is repeatable.

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
    /// vocabulary: the `top_k` best (found by selection), or for `top_p` the tokens above a
    /// probability that already holds `top_p` of the mass (the nucleus is a prefix of them);
    /// with neither, the token is drawn from the whole distribution as it stands.
    pub fn pick(&self, logits: &[f32], random: &mut SplitMix) -> u32 {
        if self.temperature <= 0.0 || self.top_k == 1 || logits.is_empty() {
            return argmax(logits);
        }
        let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let weights: Vec<f64> = logits
            .iter()
            .map(|l| (((l - top) / self.temperature) as f64).exp())
            .collect();
        let by_weight = |a: &u32, b: &u32| weights[*b as usize].total_cmp(&weights[*a as usize]);
        let mut order: Vec<u32> = if self.top_k > 0 && self.top_k < weights.len() {
            let mut all: Vec<u32> = (0..weights.len() as u32).collect();
            all.select_nth_unstable_by(self.top_k - 1, by_weight);
            all.truncate(self.top_k);
            all
        } else if self.top_p < 1.0 {
            let total: f64 = weights.iter().sum();
            let mut floor = 1e-3;
            loop {
                let above: Vec<u32> = (0..weights.len() as u32)
                    .filter(|i| weights[*i as usize] > floor * total)
                    .collect();
                let mass: f64 = above.iter().map(|i| weights[*i as usize]).sum();
                if mass >= self.top_p as f64 * total || floor < 1e-12 {
                    break above;
                }
                floor /= 10.0;
            }
        } else {
            let total: f64 = weights.iter().sum();
            let mut r = random.next_f64() * total;
            for (i, w) in weights.iter().enumerate() {
                r -= w;
                if r <= 0.0 {
                    return i as u32;
                }
            }
            return argmax(logits);
        };
        order.sort_by(by_weight);
        // The nucleus, within the candidates' mass (all of it when top_k chose them).
        let total: f64 = if self.top_k > 0 {
            order.iter().map(|i| weights[*i as usize]).sum()
        } else {
            weights.iter().sum()
        };
        let mut mass = 0.0;
        let mut keep = order.len();
        for (i, id) in order.iter().enumerate() {
            mass += weights[*id as usize] / total;
            if mass >= self.top_p as f64 {
                keep = i + 1;
                break;
            }
        }
        let kept: f64 = order[..keep].iter().map(|i| weights[*i as usize]).sum();
        let mut r = random.next_f64() * kept;
        for id in &order[..keep] {
            r -= weights[*id as usize];
            if r <= 0.0 {
                return *id;
            }
        }
        order[keep - 1]
    }
}

pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, v) in logits.iter().enumerate() {
        if *v > logits[best] {
            best = i;
        }
    }
    best as u32
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
}
