//! Serving's attention for one row and one head over a sequence's cached keys and values
//! (bf16): `softmax(q K^T / sqrt(d)) V`. With AVX-512 (checked at run time: the wheel is built
//! for x86-64-v3) a key's 64 values are 4 products of 16 lanes, not 8 of 8; at 32 concurrent
//! requests attention was 17% of a step after the VNNI products (perf). Neither four keys'
//! sums added up together nor the scores in AVX-512 BF16 (`vdpbf16ps`, the query rounded to
//! bf16) made a step of 32 rows more than 1% faster (`lm_step` example, 2026-12-06): not kept.

use half::bf16;

/// One head's keys and values in a layer's cache: position `p`'s are at `p * stride + offset`,
/// as long as the query.
pub struct Head<'a> {
    pub keys: &'a [bf16],
    pub values: &'a [bf16],
    pub stride: usize,
    pub offset: usize,
}

/// `out += softmax(q K^T * scale) V` over the first `visible` positions of `head`.
pub fn attend(q: &[f32], head: &Head, visible: usize, scale: f32, out: &mut [f32]) {
    let mut scores = Vec::with_capacity(visible);
    #[cfg(target_arch = "x86_64")]
    if avx512() && q.len().is_multiple_of(16) && out.len() == q.len() {
        // SAFETY: the CPU has AVX-512 F (checked above).
        unsafe { avx512::scores(q, head, visible, scale, &mut scores) };
        crate::text::softmax_in_place(&mut scores);
        // SAFETY: as above; `out` is as long as `q`, a multiple of 16.
        unsafe { avx512::weighted_sum(&scores, head, out) };
        return;
    }
    portable(q, head, visible, scale, out, scores);
}

/// [`attend`] in plain loops (eight lanes), for CPUs without AVX-512.
fn portable(
    q: &[f32],
    head: &Head,
    visible: usize,
    scale: f32,
    out: &mut [f32],
    mut scores: Vec<f32>,
) {
    let d = q.len();
    scores.extend((0..visible).map(|p| {
        let at = p * head.stride + head.offset;
        super::lanes::dot(q, &head.keys[at..at + d], widen) * scale
    }));
    crate::text::softmax_in_place(&mut scores);
    for (p, w) in scores.iter().enumerate() {
        let at = p * head.stride + head.offset;
        for (o, v) in out.iter_mut().zip(&head.values[at..at + d]) {
            *o += w * widen(*v);
        }
    }
}

/// A bf16 value as f32: its bits are the top half of the f32's (exact, branch-free, so that
/// loops over it vectorise; `half`'s conversion checks for NaN first).
#[inline]
pub fn widen(x: bf16) -> f32 {
    f32::from_bits(u32::from(x.to_bits()) << 16)
}

#[cfg(target_arch = "x86_64")]
fn avx512() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| std::is_x86_feature_detected!("avx512f"))
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::Head;
    use half::bf16;
    use std::arch::x86_64::*;

    /// 16 bf16 values widened to f32 (exact: a bf16 is the top half of an f32).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn widen16(v: &[bf16]) -> __m512 {
        let v = &v[..16];
        // SAFETY: `v` holds 16 bf16, 32 bytes; the load is unaligned.
        let half = unsafe { _mm256_loadu_si256(v.as_ptr().cast()) };
        _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16))
    }

    /// `q · k * scale` for every visible key, into `scores`.
    #[target_feature(enable = "avx512f")]
    pub(super) fn scores(
        q: &[f32],
        head: &Head,
        visible: usize,
        scale: f32,
        scores: &mut Vec<f32>,
    ) {
        let d = q.len();
        for p in 0..visible {
            let at = p * head.stride + head.offset;
            let k = &head.keys[at..at + d];
            let mut acc = _mm512_setzero_ps();
            for (qc, kc) in q.chunks_exact(16).zip(k.chunks_exact(16)) {
                // SAFETY: `qc` is 16 floats.
                let qv = unsafe { _mm512_loadu_ps(qc.as_ptr()) };
                acc = _mm512_fmadd_ps(qv, widen16(kc), acc);
            }
            scores.push(_mm512_reduce_add_ps(acc) * scale);
        }
    }

    /// `out += sum_p weights[p] v_p`, 64 outputs at a time held in registers.
    #[target_feature(enable = "avx512f")]
    pub(super) fn weighted_sum(weights: &[f32], head: &Head, out: &mut [f32]) {
        let d = out.len();
        for (block, chunk) in out.chunks_mut(64).enumerate() {
            let lanes = chunk.len() / 16;
            let mut acc = [_mm512_setzero_ps(); 4];
            for (p, w) in weights.iter().enumerate() {
                let at = p * head.stride + head.offset + block * 64;
                let v = &head.values[at..at + chunk.len()];
                let w = _mm512_set1_ps(*w);
                for (j, a) in acc.iter_mut().enumerate().take(lanes) {
                    *a = _mm512_fmadd_ps(w, widen16(&v[j * 16..]), *a);
                }
            }
            for (j, a) in acc.iter().enumerate().take(lanes) {
                let o = &mut chunk[j * 16..(j + 1) * 16];
                // SAFETY: `o` is 16 floats.
                unsafe {
                    _mm512_storeu_ps(
                        o.as_mut_ptr(),
                        _mm512_add_ps(_mm512_loadu_ps(o.as_ptr()), *a),
                    )
                };
            }
        }
        debug_assert!(d.is_multiple_of(16));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_the_plain_formula() {
        let (d, stride, offset, visible) = (64, 192, 64, 5);
        let value = |i: usize| bf16::from_f32(((i * 37 % 101) as f32 - 50.0) / 40.0);
        let keys: Vec<bf16> = (0..stride * visible).map(value).collect();
        let values: Vec<bf16> = (0..stride * visible).map(|i| value(i + 7)).collect();
        let q: Vec<f32> = (0..d).map(|i| (i as f32 - 30.0) / 25.0).collect();
        let head = Head {
            keys: &keys,
            values: &values,
            stride,
            offset,
        };
        let mut out = vec![0.5f32; d];
        attend(&q, &head, visible, 0.125, &mut out);
        let mut plain = vec![0.5f32; d];
        portable(&q, &head, visible, 0.125, &mut plain, Vec::new());
        // The formula in f64.
        let at = |p: usize, i: usize| p * stride + offset + i;
        let scores: Vec<f64> = (0..visible)
            .map(|p| {
                (0..d)
                    .map(|i| f64::from(q[i]) * f64::from(keys[at(p, i)].to_f32()))
                    .sum::<f64>()
                    * 0.125
            })
            .collect();
        let max = scores.iter().cloned().fold(f64::MIN, f64::max);
        let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
        for i in 0..d {
            let want = 0.5
                + (0..visible)
                    .map(|p| (scores[p] - max).exp() / sum * f64::from(values[at(p, i)].to_f32()))
                    .sum::<f64>();
            assert!(
                (f64::from(out[i]) - want).abs() < 1e-5,
                "{i}: {} vs {want}",
                out[i]
            );
            assert!(
                (f64::from(plain[i]) - want).abs() < 1e-5,
                "{i}: {} vs {want}",
                plain[i]
            );
        }
    }
}
