//! Serving's attention for one row over a sequence's cached keys and values:
//! `softmax(q K^T / sqrt(d)) V` for every query head of a group that shares one key/value
//! head (SmolLM2: 3 query heads a key/value head).
//!
//! - The cache holds keys and values rounded to 8 bits, with an f32 scale per 16 values
//!   ([`Stored`], as ggml's Q8_0 does per 32): at 32 concurrent requests attention streams
//!   every sequence's cache from memory each step, and was a quarter of a step (perf) when the
//!   cache was bf16; 8 bits and the scales read 62% of those bytes.
//! - The group is done together so that each cached key and value is read and widened once,
//!   not once per head; each position's value is asked for (prefetched) while its score is
//!   computed, so that its cache miss is waited for then and not after the softmax.
//! - With AVX-512 (checked at run time: the wheel is built for x86-64-v3) 16 keys' scores are
//!   summed across lanes together (a transposing tree, 3 operations a key instead of 8).
//!   Neither four keys' sums added up together nor the scores in AVX-512 BF16 (`vdpbf16ps`,
//!   the query rounded to bf16) made a step of 32 rows more than 1% faster (`lm_step`
//!   example, 2026-12-06): not kept.

/// Values that share one scale in the cache.
pub const BLOCK: usize = 16;

/// Keys (or values) in the order pushed (the model keeps one per layer and key/value head:
/// `position * head_dim + i`), each block of [`BLOCK`] values rounded to 8 bits:
/// `x ~ q * scale` with `scale = max|x| / 127`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stored {
    q: Vec<i8>,
    scales: Vec<f32>,
}

impl Stored {
    /// Append `x` (whole blocks; its length a multiple of [`BLOCK`]), rounded.
    pub fn push(&mut self, x: &[f32]) {
        assert!(
            x.len().is_multiple_of(BLOCK),
            "attend: keys and values are stored in blocks of {BLOCK}"
        );
        self.q.reserve(x.len());
        for block in x.chunks_exact(BLOCK) {
            let max = block.iter().fold(0f32, |m, v| m.max(v.abs()));
            let scale = max / 127.0;
            let inverse = if scale > 0.0 { 1.0 / scale } else { 0.0 };
            // Ties to even: one instruction for 16 values (`round`'s ties away from zero is
            // not one). `as` saturates and sends NaN to 0.
            let mut q = [0i8; BLOCK];
            for (q, v) in q.iter_mut().zip(block) {
                *q = (v * inverse).round_ties_even() as i8;
            }
            self.q.extend_from_slice(&q);
            self.scales.push(scale);
        }
    }

    /// Values stored.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Value `i` as stored (rounded), widened back.
    #[inline]
    pub fn get(&self, i: usize) -> f32 {
        f32::from(self.q[i]) * self.scales[i / BLOCK]
    }
}

/// One key/value head in a layer's cache: position `p`'s keys and values are at
/// `p * stride + offset`, `head_dim` of each (`stride` and `offset` multiples of [`BLOCK`]).
pub struct Head<'a> {
    pub keys: &'a Stored,
    pub values: &'a Stored,
    pub stride: usize,
    pub offset: usize,
}

/// The query heads done in one pass over the keys (more would not fit in registers).
const MOST_HEADS: usize = 4;

/// `out += softmax(q_g K^T * scale) V` over the first `visible` positions of `head`, for
/// every query head `g` of a group: `q` and `out` hold the group's heads one after another,
/// `head_dim` values each.
pub fn attend(
    q: &[f32],
    head: &Head,
    visible: usize,
    scale: f32,
    head_dim: usize,
    out: &mut [f32],
) {
    assert!(
        head_dim.is_multiple_of(BLOCK)
            && head.stride.is_multiple_of(BLOCK)
            && head.offset.is_multiple_of(BLOCK)
            && q.len() == out.len()
            && q.len().is_multiple_of(head_dim),
        "attend: a whole number of heads of {head_dim} values (a multiple of {BLOCK}) expected"
    );
    let per_pass = MOST_HEADS * head_dim;
    for (q, out) in q.chunks(per_pass).zip(out.chunks_mut(per_pass)) {
        #[cfg(target_arch = "x86_64")]
        if has_avx512() && head_dim.is_multiple_of(BLOCK) {
            // SAFETY: the CPU has AVX-512 F (checked above); `head_dim` is a multiple of 16
            // and `q`, `out` hold `q.len() / head_dim` (1 to 4) heads.
            unsafe {
                match q.len() / head_dim {
                    1 => avx512::group::<1>(q, head, visible, scale, out),
                    2 => avx512::group::<2>(q, head, visible, scale, out),
                    3 => avx512::group::<3>(q, head, visible, scale, out),
                    _ => avx512::group::<MOST_HEADS>(q, head, visible, scale, out),
                }
            }
            continue;
        }
        for (q, out) in q.chunks(head_dim).zip(out.chunks_mut(head_dim)) {
            portable(q, head, visible, scale, out);
        }
    }
}

/// One head's attention in plain loops (eight lanes), for CPUs without AVX-512.
fn portable(q: &[f32], head: &Head, visible: usize, scale: f32, out: &mut [f32]) {
    let d = q.len();
    let (keys, values) = (head.keys, head.values);
    let mut scores: Vec<f32> = (0..visible)
        .map(|p| {
            let at = p * head.stride + head.offset;
            let dot: f32 = (0..d)
                .step_by(BLOCK)
                .map(|b| {
                    let k = &keys.q[at + b..at + b + BLOCK];
                    super::lanes::dot(&q[b..b + BLOCK], k, f32::from)
                        * keys.scales[(at + b) / BLOCK]
                })
                .sum();
            dot * scale
        })
        .collect();
    super::activations::portable::softmax(&mut scores);
    for (p, w) in scores.iter().enumerate() {
        let at = p * head.stride + head.offset;
        for (b, o) in out.chunks_exact_mut(BLOCK).enumerate() {
            let at = at + b * BLOCK;
            let w = w * values.scales[at / BLOCK];
            for (o, v) in o.iter_mut().zip(&values.q[at..at + BLOCK]) {
                *o += w * f32::from(*v);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
use super::activations::avx512 as has_avx512;

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Head, Stored, BLOCK};
    use std::arch::x86_64::*;

    /// The block of 16 stored values starting at `at` (a multiple of 16), widened and scaled.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn widen16(v: &Stored, at: usize) -> __m512 {
        let q = &v.q[at..at + BLOCK];
        // SAFETY: `q` holds 16 bytes; the load is unaligned.
        let bytes = unsafe { _mm_loadu_si128(q.as_ptr().cast()) };
        _mm512_mul_ps(
            _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(bytes)),
            _mm512_set1_ps(v.scales[at / BLOCK]),
        )
    }

    /// Asks for the cache line holding `v[at]` (when inside `v`), without waiting for it.
    #[inline]
    fn prefetch<T>(v: &[T], at: usize) {
        if at < v.len() {
            // SAFETY: a prefetch of an address inside `v`; it reads nothing.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(v.as_ptr().add(at).cast()) };
        }
    }

    /// 16 floats at `at`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn load(v: &[f32], at: usize) -> __m512 {
        let v = &v[at..at + 16];
        // SAFETY: `v` holds 16 floats; the load is unaligned.
        unsafe { _mm512_loadu_ps(v.as_ptr()) }
    }

    /// Lane `j` = the sum of `v[j]`'s 16 lanes: a tree of unpacks and 128-bit shuffles that
    /// transposes as it adds (45 operations for 16 sums, against 8 a sum one at a time).
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(super) fn sums16(v: &[__m512; 16]) -> __m512 {
        // Pairs: lanes {0, 2} of each 128 bits hold v[2i]'s partial sums, {1, 3} v[2i + 1]'s.
        // (Loops over arrays, not `array::from_fn`, which was not inlined here.)
        let mut t = [_mm512_setzero_ps(); 8];
        for (i, t) in t.iter_mut().enumerate() {
            let (a, b) = (v[2 * i], v[2 * i + 1]);
            *t = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
        }
        // Fours: lane k of each 128 bits holds v[4i + k]'s sum over those 128 bits.
        let mut u = [_mm512_setzero_ps(); 4];
        for (i, u) in u.iter_mut().enumerate() {
            let (c, e) = (_mm512_castps_pd(t[2 * i]), _mm512_castps_pd(t[2 * i + 1]));
            *u = _mm512_add_ps(
                _mm512_castpd_ps(_mm512_unpacklo_pd(c, e)),
                _mm512_castpd_ps(_mm512_unpackhi_pd(c, e)),
            );
        }
        // The four 128-bit quarters added: quarter i of the result holds u[i]'s.
        let halves = |a: __m512, b: __m512| {
            _mm512_add_ps(
                _mm512_shuffle_f32x4::<0x88>(a, b),
                _mm512_shuffle_f32x4::<0xDD>(a, b),
            )
        };
        halves(halves(u[0], u[1]), halves(u[2], u[3]))
    }

    /// [`super::attend`] for `G` query heads sharing `head`.
    #[target_feature(enable = "avx512f")]
    pub(super) fn group<const G: usize>(
        q: &[f32],
        head: &Head,
        visible: usize,
        scale: f32,
        out: &mut [f32],
    ) {
        let d = q.len() / G;
        let chunks = d / 16;
        // Head g's scores at g * visible.
        let mut scores = vec![0f32; G * visible];
        let mut partial = [[_mm512_setzero_ps(); 16]; G];
        for start in (0..visible).step_by(16) {
            let count = 16.min(visible - start);
            for j in 0..16 {
                let mut acc = [_mm512_setzero_ps(); G];
                if j < count {
                    let at = (start + j) * head.stride + head.offset;
                    // The value read after the softmax, asked for now: its miss is then
                    // waited for while the scores are computed, not after.
                    prefetch(&head.values.q, at);
                    if j == 0 {
                        prefetch(&head.values.scales, at / BLOCK);
                    }
                    for c in 0..chunks {
                        let kv = widen16(head.keys, at + c * 16);
                        for (g, a) in acc.iter_mut().enumerate() {
                            *a = _mm512_fmadd_ps(load(q, g * d + c * 16), kv, *a);
                        }
                    }
                }
                for (p, a) in partial.iter_mut().zip(acc) {
                    p[j] = a;
                }
            }
            for (g, p) in partial.iter().enumerate() {
                let s = _mm512_mul_ps(sums16(p), _mm512_set1_ps(scale));
                let at = g * visible + start;
                // SAFETY: lanes below `count` are stored, inside head g's scores.
                unsafe {
                    _mm512_mask_storeu_ps(
                        scores[at..at + count].as_mut_ptr(),
                        ((1u32 << count) - 1) as u16,
                        s,
                    )
                };
            }
        }
        for s in scores.chunks_mut(visible.max(1)) {
            crate::lm::activations::softmax_in_place(s);
        }
        // 64 outputs of every head at a time, held in registers.
        for block in (0..d).step_by(64) {
            let lanes = 4.min((d - block) / 16);
            let mut acc = [[_mm512_setzero_ps(); 4]; G];
            for p in 0..visible {
                let at = p * head.stride + head.offset + block;
                let mut vs = [_mm512_setzero_ps(); 4];
                for (j, x) in vs.iter_mut().enumerate().take(lanes) {
                    *x = widen16(head.values, at + j * 16);
                }
                for (g, a) in acc.iter_mut().enumerate() {
                    let w = _mm512_set1_ps(scores[g * visible + p]);
                    for j in 0..lanes {
                        a[j] = _mm512_fmadd_ps(w, vs[j], a[j]);
                    }
                }
            }
            for (g, a) in acc.iter().enumerate() {
                for (j, a) in a.iter().enumerate().take(lanes) {
                    let o = &mut out[g * d + block + j * 16..g * d + block + (j + 1) * 16];
                    // SAFETY: `o` is 16 floats.
                    unsafe {
                        _mm512_storeu_ps(
                            o.as_mut_ptr(),
                            _mm512_add_ps(_mm512_loadu_ps(o.as_ptr()), *a),
                        )
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Attention in f64, straight from the formula over the stored (rounded) keys and values:
    /// each head of `q` over `visible` positions.
    fn formula(q: &[f32], head: &Head, visible: usize, scale: f64, d: usize) -> Vec<f64> {
        let at = |p: usize, i: usize| p * head.stride + head.offset + i;
        q.chunks(d)
            .flat_map(|q| {
                let scores: Vec<f64> = (0..visible)
                    .map(|p| {
                        (0..d)
                            .map(|i| f64::from(q[i]) * f64::from(head.keys.get(at(p, i))))
                            .sum::<f64>()
                            * scale
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::MIN, f64::max);
                let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
                (0..d)
                    .map(|i| {
                        (0..visible)
                            .map(|p| {
                                (scores[p] - max).exp() / sum * f64::from(head.values.get(at(p, i)))
                            })
                            .sum::<f64>()
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// `n` values spread over -1.25..1.25, a few of them large (as keys' outlier channels are).
    fn spread(n: usize, shift: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let v = (((i + shift) * 37 % 101) as f32 - 50.0) / 40.0;
                if (i + shift).is_multiple_of(23) {
                    v * 8.0
                } else {
                    v
                }
            })
            .collect()
    }

    #[test]
    fn stored_values_round_to_within_half_a_step_of_their_block() {
        let x = spread(64, 0);
        let mut s = Stored::default();
        s.push(&x);
        s.push(&[0.0; BLOCK]);
        assert_eq!(s.len(), 64 + BLOCK);
        for (b, block) in x.chunks(BLOCK).enumerate() {
            let step = block.iter().fold(0f32, |m, v| m.max(v.abs())) / 127.0;
            for (i, v) in block.iter().enumerate() {
                let got = s.get(b * BLOCK + i);
                assert!((got - v).abs() <= step * 0.5 + 1e-6, "{v} stored as {got}");
            }
        }
        // A block of zeros stays zeros (no division by a zero scale).
        assert!((64..64 + BLOCK).all(|i| s.get(i) == 0.0));
    }

    #[test]
    fn equals_the_formula_for_every_group_size_head_size_and_length() {
        for (heads, d, visible) in [
            (1, 64, 5),
            (2, 64, 16),
            (3, 64, 17),
            (3, 64, 1),
            (3, 32, 40),
            (4, 128, 33),
            (5, 64, 20),
            (9, 16, 3),
        ] {
            // Three key/value heads a position; this group reads the second.
            let stride = 3 * d;
            let (mut keys, mut values) = (Stored::default(), Stored::default());
            keys.push(&spread(stride * visible, 0));
            values.push(&spread(stride * visible, 7));
            let head = Head {
                keys: &keys,
                values: &values,
                stride,
                offset: d,
            };
            let q: Vec<f32> = (0..heads * d)
                .map(|i| ((i * 13 % 61) as f32 - 30.0) / 25.0)
                .collect();
            let mut out = vec![0.5f32; heads * d];
            attend(&q, &head, visible, 0.125, d, &mut out);
            let mut plain = vec![0.5f32; heads * d];
            for (q, o) in q.chunks(d).zip(plain.chunks_mut(d)) {
                portable(q, &head, visible, 0.125, o);
            }
            let want = formula(&q, &head, visible, 0.125, d);
            for (i, w) in want.iter().enumerate() {
                for (path, got) in [("attend", out[i]), ("portable", plain[i])] {
                    assert!(
                        (f64::from(got) - 0.5 - w).abs() < 1e-5,
                        "{path}, {heads} heads of {d}, {visible} positions, value {i}: {got} vs {}",
                        w + 0.5
                    );
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sixteen_sums_land_in_their_lanes() {
        if !has_avx512() {
            return;
        }
        let v: Vec<f32> = (0..256).map(|i| ((i * 29 % 97) as f32) / 8.0).collect();
        // SAFETY: the CPU has AVX-512 F (checked above).
        let got = unsafe {
            use std::arch::x86_64::*;
            let rows: [__m512; 16] = std::array::from_fn(|j| _mm512_loadu_ps(v[16 * j..].as_ptr()));
            let mut got = [0f32; 16];
            _mm512_storeu_ps(got.as_mut_ptr(), avx512::sums16(&rows));
            got
        };
        for (j, g) in got.iter().enumerate() {
            let want: f32 = v[16 * j..16 * (j + 1)].iter().sum();
            assert!((g - want).abs() < 1e-3, "lane {j}: {g} vs {want}");
        }
    }
}
