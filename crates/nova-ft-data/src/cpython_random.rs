//! CPython's `random.Random`, bit for bit, for the parts nova_ft draws with.
//!
//! The Bedrock tutorial generates its synthetic data with Python's `random` module, and users
//! compare our files with theirs byte by byte. So this reproduces `Modules/_randommodule.c`
//! (MT19937 seeded by `init_by_array` from the seed's 32-bit words) and `Lib/random.py`'s
//! `_randbelow_with_getrandbits`, `choice`, `sample` and `shuffle` exactly as CPython 3.10+ does.

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// A Mersenne Twister that draws the same numbers as `random.Random(seed)` in CPython.
#[derive(Clone)]
pub struct CPythonRandom {
    state: [u32; N],
    index: usize,
}

impl std::fmt::Debug for CPythonRandom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CPythonRandom")
            .field("index", &self.index)
            .finish()
    }
}

impl CPythonRandom {
    /// Equivalent to `random.seed(seed)` for an integer seed (CPython uses `abs(seed)`).
    pub fn new(seed: i64) -> Self {
        let magnitude = seed.unsigned_abs();
        // CPython splits abs(seed) into 32-bit words, least significant first; zero is one word.
        let low = magnitude as u32;
        let high = (magnitude >> 32) as u32;
        let key: Vec<u32> = if high == 0 {
            vec![low]
        } else {
            vec![low, high]
        };
        let mut rng = CPythonRandom {
            state: [0; N],
            index: N,
        };
        rng.init_by_array(&key);
        rng
    }

    fn init_genrand(&mut self, seed: u32) {
        self.state[0] = seed;
        for i in 1..N {
            let prev = self.state[i - 1];
            self.state[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        self.index = N;
    }

    fn init_by_array(&mut self, key: &[u32]) {
        self.init_genrand(19_650_218);
        let mut i = 1usize;
        let mut j = 0usize;
        let mut k = N.max(key.len());
        while k > 0 {
            let prev = self.state[i - 1];
            self.state[i] = (self.state[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                self.state[0] = self.state[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
            k -= 1;
        }
        k = N - 1;
        while k > 0 {
            let prev = self.state[i - 1];
            self.state[i] = (self.state[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941))
                .wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                self.state[0] = self.state[N - 1];
                i = 1;
            }
            k -= 1;
        }
        self.state[0] = 0x8000_0000;
    }

    fn twist(&mut self) {
        for kk in 0..N {
            let y = (self.state[kk] & UPPER_MASK) | (self.state[(kk + 1) % N] & LOWER_MASK);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            self.state[kk] = self.state[(kk + M) % N] ^ (y >> 1) ^ mag;
        }
        self.index = 0;
    }

    /// `genrand_uint32`: the next raw 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// `getrandbits(k)` for `k <= 64` (words are filled least significant first, as CPython does).
    pub fn getrandbits(&mut self, k: u32) -> u64 {
        assert!(k <= 64, "getrandbits supports at most 64 bits here");
        if k == 0 {
            return 0;
        }
        if k <= 32 {
            return u64::from(self.next_u32() >> (32 - k));
        }
        let low = u64::from(self.next_u32());
        let high = u64::from(self.next_u32() >> (64 - k));
        low | (high << 32)
    }

    /// `_randbelow(n)`: uniform in `0..n` by rejection sampling on `n.bit_length()` bits.
    pub fn randbelow(&mut self, n: usize) -> usize {
        assert!(n > 0, "randbelow needs n > 0");
        let k = usize::BITS - n.leading_zeros();
        loop {
            let r = self.getrandbits(k) as usize;
            if r < n {
                return r;
            }
        }
    }

    /// `random.choice(seq)`.
    pub fn choice<'a, T>(&mut self, seq: &'a [T]) -> &'a T {
        &seq[self.randbelow(seq.len())]
    }

    /// `random.sample(population, k)`, returning indices into the population.
    pub fn sample_indices(&mut self, n: usize, k: usize) -> Vec<usize> {
        assert!(k <= n, "sample larger than population");
        let mut setsize = 21usize;
        if k > 5 {
            let exponent = ((k * 3) as f64).ln() / 4f64.ln();
            setsize += 4usize.pow(exponent.ceil() as u32);
        }
        let mut result = Vec::with_capacity(k);
        if n <= setsize {
            let mut pool: Vec<usize> = (0..n).collect();
            for i in 0..k {
                let j = self.randbelow(n - i);
                result.push(pool[j]);
                pool[j] = pool[n - i - 1];
            }
        } else {
            let mut selected = std::collections::HashSet::with_capacity(k);
            for _ in 0..k {
                let mut j = self.randbelow(n);
                while selected.contains(&j) {
                    j = self.randbelow(n);
                }
                selected.insert(j);
                result.push(j);
            }
        }
        result
    }

    /// `random.shuffle(x)` in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.randbelow(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_outputs_match_cpython_seed_7() {
        // python3 -c "import random; random.seed(7); print([random.getrandbits(32) for _ in range(3)])"
        let mut rng = CPythonRandom::new(7);
        let got: Vec<u64> = (0..3).map(|_| rng.getrandbits(32)).collect();
        assert_eq!(got, vec![1_390_851_128, 4_071_050_724, 647_892_279]);
    }

    #[test]
    fn wide_seeds_and_wide_draws_match_cpython() {
        // random.seed(2**40 + 5); random.getrandbits(40), random.getrandbits(64)
        let mut rng = CPythonRandom::new((1 << 40) + 5);
        assert_eq!(rng.getrandbits(40), 569_101_979_940);
        assert_eq!(rng.getrandbits(64), 12_244_916_861_145_399_977);
    }

    #[test]
    fn randbelow_stays_in_range() {
        let mut rng = CPythonRandom::new(1);
        for n in 1..200 {
            assert!(rng.randbelow(n) < n);
        }
    }

    #[test]
    fn sample_and_shuffle_match_cpython_on_both_sample_paths() {
        // random.seed(3); random.sample(range(1000), 8); random.sample(range(7), 2);
        // x = list(range(10)); random.shuffle(x)
        let mut rng = CPythonRandom::new(3);
        assert_eq!(
            rng.sample_indices(1000, 8),
            vec![243, 606, 557, 133, 378, 937, 618, 485]
        );
        assert_eq!(rng.sample_indices(7, 2), vec![5, 4]);
        let mut x: Vec<u32> = (0..10).collect();
        rng.shuffle(&mut x);
        assert_eq!(x, vec![8, 3, 6, 5, 9, 4, 2, 7, 0, 1]);
    }

    #[test]
    fn sample_draws_distinct_indices_on_both_paths() {
        let mut rng = CPythonRandom::new(3);
        for (n, k) in [(7, 2), (1000, 50)] {
            let mut drawn = rng.sample_indices(n, k);
            drawn.sort_unstable();
            drawn.dedup();
            assert_eq!(drawn.len(), k);
            assert!(drawn.iter().all(|&i| i < n));
        }
    }
}
