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

    /// The index of the next token.
    pub fn pick(&self, logits: &[f32], random: &mut SplitMix) -> u32 {
        if self.temperature <= 0.0 || self.top_k == 1 {
            return argmax(logits);
        }
        let mut order: Vec<u32> = (0..logits.len() as u32).collect();
        order.sort_by(|a, b| logits[*b as usize].total_cmp(&logits[*a as usize]));
        if self.top_k > 0 {
            order.truncate(self.top_k);
        }
        let top = logits[order[0] as usize];
        let mut probs: Vec<f64> = order
            .iter()
            .map(|i| (((logits[*i as usize] - top) / self.temperature) as f64).exp())
            .collect();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
        // Nucleus: the smallest prefix whose mass reaches top_p.
        let mut mass = 0.0;
        let mut keep = probs.len();
        for (i, p) in probs.iter().enumerate() {
            mass += p;
            if mass >= self.top_p as f64 {
                keep = i + 1;
                break;
            }
        }
        let kept: f64 = probs[..keep].iter().sum();
        let mut r = random.next_f64() * kept;
        for (i, p) in probs[..keep].iter().enumerate() {
            r -= p;
            if r <= 0.0 {
                return order[i];
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
}
