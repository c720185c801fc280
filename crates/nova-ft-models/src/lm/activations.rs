//! Serving's softmax (attention's weights) and SwiGLU's `silu(gate) * up`, with `exp` taken
//! 16 floats at a time in AVX-512 where the CPU has it (checked at run time; the wheel is
//! built for x86-64-v3), else 8 at a time as the compiler vectorizes plain arithmetic
//! (`portable`; libm's `expf`, one at a time, before 2026-12-06). At 32 concurrent requests
//! the calls to libm's `expf` and the loops around them were about 8% of a decoding step
//! (perf, 2026-12-06). The vector `exp` is Cephes' `expf` (a degree-6 polynomial after taking
//! out powers of two), within 2 units in the last place of libm's; no dependency does this
//! in AVX-512 on stable Rust.

/// `scores` turned into probabilities: `exp(s - max) / sum`.
pub fn softmax_in_place(scores: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        // SAFETY: the CPU has AVX-512 F (checked above).
        unsafe { avx512::softmax(scores) };
        return;
    }
    portable::softmax(scores);
}

/// `gate = silu(gate) * up = gate / (1 + exp(-gate)) * up`, element by element.
pub fn silu_mul(gate: &mut [f32], up: &[f32]) {
    assert_eq!(
        gate.len(),
        up.len(),
        "silu_mul: gate and up differ in length"
    );
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        // SAFETY: the CPU has AVX-512 F (checked above).
        unsafe { avx512::silu_mul(gate, up) };
        return;
    }
    portable::silu_mul(gate, up);
}

/// Without AVX-512: the same in plain f32 arithmetic that the compiler vectorizes for the
/// build's target (AVX2 for the wheel), with [`crate::vector_exp`]'s `exp`.
pub(crate) mod portable {
    use crate::vector_exp::{exp_nonpositive, exp_shifted, max};

    pub(crate) fn softmax(scores: &mut [f32]) {
        let sum = exp_shifted(scores, max(scores));
        let scale = 1.0 / sum;
        for s in scores.iter_mut() {
            *s *= scale;
        }
    }

    /// `silu(g) = g * sigmoid(g)`, the sigmoid from `t = e^-|g|` (an exponent never
    /// positive): `1 / (1 + t)` for `g >= 0`, `t / (1 + t)` below.
    pub(crate) fn silu_mul(gate: &mut [f32], up: &[f32]) {
        for (g, u) in gate.iter_mut().zip(up) {
            let t = exp_nonpositive(-g.abs());
            let sigmoid = if *g >= 0.0 { 1.0 } else { t } / (1.0 + t);
            *g = *g * sigmoid * u;
        }
    }
}

/// Whether the CPU has AVX-512 F (asked once; attention's kernels ask here too).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx512() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| std::is_x86_feature_detected!("avx512f"))
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512 {
    use std::arch::x86_64::*;

    /// `exp(x)` in every lane (Cephes' `expf`): `x = n ln 2 + r` with `|r| <= ln 2 / 2`,
    /// `exp(r)` by its polynomial, times `2^n` by `vscalefps`. Lanes below -104 give 0, above
    /// 88.7 give infinity, as libm's do.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn exp16(x: __m512) -> __m512 {
        let x = _mm512_max_ps(
            _mm512_min_ps(x, _mm512_set1_ps(89.0)),
            _mm512_set1_ps(-104.0),
        );
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
        );
        // ln 2 in two parts, so that n ln 2 is taken off exactly.
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693_359_4), x);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.121_944_4e-4), r);
        let mut p = _mm512_set1_ps(1.987_569_1e-4);
        for c in [
            1.398_199_9e-3,
            8.333_452e-3,
            4.166_579_6e-2,
            0.166_666_65,
            0.5,
        ] {
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
        }
        let y = _mm512_fmadd_ps(
            _mm512_mul_ps(p, r),
            r,
            _mm512_add_ps(r, _mm512_set1_ps(1.0)),
        );
        _mm512_scalef_ps(y, n)
    }

    /// Lanes below `len` (at most 16) set.
    #[inline]
    fn first(len: usize) -> __mmask16 {
        ((1u32 << len.min(16)) - 1) as u16
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn softmax(scores: &mut [f32]) {
        if scores.is_empty() {
            return;
        }
        let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
        for chunk in scores.chunks(16) {
            // SAFETY: the masked load reads `chunk.len()` floats.
            let v = unsafe { _mm512_maskz_loadu_ps(first(chunk.len()), chunk.as_ptr()) };
            max = _mm512_mask_max_ps(max, first(chunk.len()), max, v);
        }
        let max = _mm512_set1_ps(_mm512_reduce_max_ps(max));
        let mut sum = _mm512_setzero_ps();
        for chunk in scores.chunks_mut(16) {
            let m = first(chunk.len());
            // SAFETY: masked to `chunk.len()` floats both ways.
            unsafe {
                let e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, chunk.as_ptr()), max));
                sum = _mm512_mask_add_ps(sum, m, sum, e);
                _mm512_mask_storeu_ps(chunk.as_mut_ptr(), m, e);
            }
        }
        let inverse = _mm512_set1_ps(1.0 / _mm512_reduce_add_ps(sum));
        for chunk in scores.chunks_mut(16) {
            let m = first(chunk.len());
            // SAFETY: as above.
            unsafe {
                let v = _mm512_maskz_loadu_ps(m, chunk.as_ptr());
                _mm512_mask_storeu_ps(chunk.as_mut_ptr(), m, _mm512_mul_ps(v, inverse));
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn silu_mul(gate: &mut [f32], up: &[f32]) {
        let one = _mm512_set1_ps(1.0);
        for (g, u) in gate.chunks_mut(16).zip(up.chunks(16)) {
            let m = first(g.len());
            // SAFETY: masked to `g.len()` floats (`u` is as long).
            unsafe {
                let x = _mm512_maskz_loadu_ps(m, g.as_ptr());
                let e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), x));
                let silu = _mm512_div_ps(x, _mm512_add_ps(one, e));
                let y = _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, u.as_ptr()));
                _mm512_mask_storeu_ps(g.as_mut_ptr(), m, y);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn exp_is_within_two_units_in_the_last_place_everywhere() {
        if !avx512() {
            return;
        }
        use std::arch::x86_64::*;
        let mut worst = 0f64;
        for i in 0..200_000 {
            let x = -104.0 + 192.7 * (i as f32 / 200_000.0);
            let mut got = [0f32; 16];
            // SAFETY: the CPU has AVX-512 F (checked above).
            unsafe { _mm512_storeu_ps(got.as_mut_ptr(), avx512::exp16(_mm512_set1_ps(x))) };
            let want = f64::from(x).exp();
            // Units in the last place of the f32 answer (relative error over 2^-23), for
            // answers that are normal floats.
            if want > f64::from(f32::MIN_POSITIVE) && want < f64::from(f32::MAX) {
                let ulps = ((f64::from(got[0]) - want) / want).abs() * f64::from(1u32 << 23);
                worst = worst.max(ulps);
            }
        }
        assert!(worst < 2.0, "worst error {worst} units in the last place");
        // SAFETY: as above.
        let ends = unsafe {
            let mut v = [0f32; 16];
            let x = _mm512_setr_ps(
                -1000.0,
                -104.0,
                0.0,
                1000.0,
                f32::INFINITY,
                f32::NEG_INFINITY,
                1.0,
                -1.0,
                0.5,
                2.0,
                3.0,
                4.0,
                5.0,
                6.0,
                7.0,
                8.0,
            );
            _mm512_storeu_ps(v.as_mut_ptr(), avx512::exp16(x));
            v
        };
        assert_eq!(ends[0], 0.0);
        assert!(ends[1] < 1e-44);
        assert_eq!(ends[2], 1.0);
        assert_eq!(ends[3], f32::INFINITY);
        assert_eq!(ends[4], f32::INFINITY);
        assert_eq!(ends[5], 0.0);
    }

    #[test]
    fn softmax_and_silu_equal_their_formulas_for_every_length() {
        for n in [1, 5, 16, 17, 40, 100] {
            let x: Vec<f32> = (0..n)
                .map(|i| ((i * 37 % 23) as f32 - 11.0) / 3.0)
                .collect();
            let mut s = x.clone();
            softmax_in_place(&mut s);
            let mut portable_s = x.clone();
            portable::softmax(&mut portable_s);
            let max = x.iter().cloned().fold(f32::MIN, f32::max);
            let total: f64 = x.iter().map(|v| f64::from(v - max).exp()).sum();
            for ((v, got), portable) in x.iter().zip(&s).zip(&portable_s) {
                let want = f64::from(v - max).exp() / total;
                assert!(
                    (f64::from(*portable) - want).abs() < 1e-6,
                    "portable softmax of {n}: {portable} vs {want}"
                );
                assert!(
                    (f64::from(*got) - want).abs() < 1e-6,
                    "softmax of {n}: {got} vs {want}"
                );
            }
            let up: Vec<f32> = (0..n).map(|i| 1.0 - i as f32 / 20.0).collect();
            let mut g = x.clone();
            silu_mul(&mut g, &up);
            let mut portable_g = x.clone();
            portable::silu_mul(&mut portable_g, &up);
            for (((v, u), got), portable) in x.iter().zip(&up).zip(&g).zip(&portable_g) {
                let (v, u) = (f64::from(*v), f64::from(*u));
                let want = v / (1.0 + (-v).exp()) * u;
                assert!(
                    (f64::from(*portable) - want).abs() < 1e-5,
                    "portable silu of {n}: {portable} vs {want}"
                );
                assert!(
                    (f64::from(*got) - want).abs() < 1e-5,
                    "silu of {n}: {got} vs {want}"
                );
            }
        }
    }
}
