//! Matrix products with weights in Q4_1, the 4-bit format SmolLM2's GGUF stores its linear
//! layers in, through candle's quantized matmul (its thread pool and tiling) with an AVX2 dot
//! product. candle 0.11 has SIMD dot products for Q4_0 and Q8_0 but only a scalar one for
//! Q4_1, so serving requantized these weights to Q8_0, which reads 34 bytes per 32 weights
//! where Q4_1 reads 20: decoding one sequence reads every weight once per token, and its speed
//! is that of memory. The kernel is ggml's (llama.cpp's) `ggml_vec_dot_q4_1_q8_1`, written
//! here because candle's block types keep their fields private.
//!
//! The blocks have ggml's layout, so the bytes of a Q4_1 tensor read from the file are used
//! as they are, without a copy.

use candle_core::quantized::k_quants::{self, GgmlType};
use candle_core::quantized::GgmlDType;
use half::f16;

/// Weights per block.
const QK: usize = 32;

/// 32 weights: `w = d * q + m`, `q` in 0..16 (ggml's `block_q4_1`). Byte `j` holds weight
/// `j` in its low nibble and weight `j + 16` in its high nibble.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct BlockQ4_1 {
    d: f16,
    m: f16,
    qs: [u8; QK / 2],
}
const _: () = assert!(std::mem::size_of::<BlockQ4_1>() == 20);

impl BlockQ4_1 {
    /// `d`, `m` and the packed `q`.
    pub(crate) fn parts(&self) -> (f32, f32, &[u8; QK / 2]) {
        (self.d.to_f32(), self.m.to_f32(), &self.qs)
    }
}

/// 32 activations: `x = d * q`, `q` in -127..=127, with `s = d * sum(q)` so that a Q4_1
/// block's offset `m` multiplies the block's sum once (ggml's `block_q8_1`).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct BlockQ8_1 {
    d: f16,
    s: f16,
    qs: [i8; QK],
}
const _: () = assert!(std::mem::size_of::<BlockQ8_1>() == 36);

impl BlockQ8_1 {
    pub(crate) fn d(&self) -> f32 {
        self.d.to_f32()
    }

    pub(crate) fn s(&self) -> f32 {
        self.s.to_f32()
    }

    pub(crate) fn qs(&self) -> &[i8; QK] {
        &self.qs
    }
}

/// `y = x W^T` for `x` (`m x k`, row-major) and `W` (`n x k`) as Q4_1 blocks, the bytes of a
/// Q4_1 tensor. `None` when the bytes are not whole, aligned blocks of `n x k` weights.
pub fn matmul(x: &[f32], (m, k, n): (usize, usize, usize), weights: &[u8]) -> Option<Vec<f32>> {
    let blocks = as_blocks(weights)?;
    if !k.is_multiple_of(QK) || blocks.len() != n * (k / QK) || x.len() != m * k {
        return None;
    }
    let mut y = vec![0f32; m * n];
    k_quants::matmul::<BlockQ4_1>((m, k, n), x, blocks, &mut y).ok()?;
    Some(y)
}

/// The bytes as blocks, when they are whole blocks at an address a block may start at.
pub(crate) fn as_blocks(bytes: &[u8]) -> Option<&[BlockQ4_1]> {
    let size = std::mem::size_of::<BlockQ4_1>();
    let aligned = (bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<BlockQ4_1>());
    if !aligned || !bytes.len().is_multiple_of(size) {
        return None;
    }
    // SAFETY: BlockQ4_1 is repr(C) plain data (two f16 and bytes) for which every bit pattern
    // is a value; the pointer is aligned for it and the length is whole blocks.
    Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast(), bytes.len() / size) })
}

impl GgmlType for BlockQ4_1 {
    const DTYPE: GgmlDType = GgmlDType::Q4_1;
    const BLCK_SIZE: usize = QK;
    type VecDotType = BlockQ8_1;

    fn to_float(xs: &[Self], ys: &mut [f32]) {
        for (x, out) in xs.iter().zip(ys.chunks_exact_mut(QK)) {
            let (d, m) = (x.d.to_f32(), x.m.to_f32());
            for (j, q) in x.qs.iter().enumerate() {
                out[j] = d * f32::from(q & 0xF) + m;
                out[j + QK / 2] = d * f32::from(q >> 4) + m;
            }
        }
    }

    fn from_float(xs: &[f32], ys: &mut [Self]) {
        for (x, out) in xs.chunks_exact(QK).zip(ys.iter_mut()) {
            let min = x.iter().copied().fold(f32::INFINITY, f32::min);
            let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let d = (max - min) / 15.0;
            let id = if d == 0.0 { 0.0 } else { 1.0 / d };
            let q = |v: f32| ((v - min) * id + 0.5).clamp(0.0, 15.0) as u8;
            for j in 0..QK / 2 {
                out.qs[j] = q(x[j]) | (q(x[j + QK / 2]) << 4);
            }
            out.d = f16::from_f32(d);
            out.m = f16::from_f32(min);
        }
    }

    /// One row through the four-row kernel (candle calls this only for the columns left over
    /// after the quads).
    fn vec_dot(n: usize, xs: &[Self], ys: &[BlockQ8_1]) -> f32 {
        Self::vec_dot_4(n, xs, xs, xs, xs, ys).0
    }

    fn vec_dot_4(
        n: usize,
        xs0: &[Self],
        xs1: &[Self],
        xs2: &[Self],
        xs3: &[Self],
        ys: &[BlockQ8_1],
    ) -> (f32, f32, f32, f32) {
        debug_assert!(n.is_multiple_of(QK));
        #[cfg(target_feature = "avx2")]
        {
            // SAFETY: compiled for AVX2 and FMA (x86-64-v3), so the CPU has them.
            let [a, b, c, d] = unsafe { avx2::dot4([xs0, xs1, xs2, xs3], ys) };
            (a, b, c, d)
        }
        #[cfg(not(target_feature = "avx2"))]
        {
            let dot = |xs| Self::vec_dot_unopt(n, xs, ys);
            (dot(xs0), dot(xs1), dot(xs2), dot(xs3))
        }
    }

    fn vec_dot_unopt(_n: usize, xs: &[Self], ys: &[BlockQ8_1]) -> f32 {
        let mut sum = 0f32;
        for (x, y) in xs.iter().zip(ys) {
            let mut dot = 0i32;
            for j in 0..QK / 2 {
                dot += i32::from(x.qs[j] & 0xF) * i32::from(y.qs[j]);
                dot += i32::from(x.qs[j] >> 4) * i32::from(y.qs[j + QK / 2]);
            }
            sum += x.d.to_f32() * y.d.to_f32() * dot as f32 + x.m.to_f32() * y.s.to_f32();
        }
        sum
    }
}

impl GgmlType for BlockQ8_1 {
    // Only the activations' side of a Q4_1 product: never stored, never dotted with itself.
    const DTYPE: GgmlDType = GgmlDType::Q8_1;
    const BLCK_SIZE: usize = QK;
    type VecDotType = BlockQ8_1;

    fn to_float(xs: &[Self], ys: &mut [f32]) {
        for (x, out) in xs.iter().zip(ys.chunks_exact_mut(QK)) {
            for (o, q) in out.iter_mut().zip(x.qs) {
                *o = x.d.to_f32() * f32::from(q);
            }
        }
    }

    fn from_float(xs: &[f32], ys: &mut [Self]) {
        for (x, out) in xs.chunks_exact(QK).zip(ys.iter_mut()) {
            let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
            let d = amax / 127.0;
            let id = if d == 0.0 { 0.0 } else { 1.0 / d };
            let mut sum = 0i32;
            for (q, v) in out.qs.iter_mut().zip(x) {
                *q = (v * id).round() as i8;
                sum += i32::from(*q);
            }
            out.d = f16::from_f32(d);
            out.s = f16::from_f32(d * sum as f32);
        }
    }

    fn vec_dot(n: usize, xs: &[Self], ys: &[Self]) -> f32 {
        Self::vec_dot_unopt(n, xs, ys)
    }

    fn vec_dot_unopt(_n: usize, xs: &[Self], ys: &[Self]) -> f32 {
        let mut sum = 0f32;
        for (x, y) in xs.iter().zip(ys) {
            let dot: i32 =
                x.qs.iter()
                    .zip(y.qs)
                    .map(|(a, b)| i32::from(*a) * i32::from(b))
                    .sum();
            sum += x.d.to_f32() * y.d.to_f32() * dot as f32;
        }
        sum
    }
}

#[cfg(target_feature = "avx2")]
mod avx2 {
    use super::{BlockQ4_1, BlockQ8_1};
    use std::arch::x86_64::*;

    /// Four rows of weights dotted with one row of activations, each activation block loaded
    /// once for the four.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn dot4(xs: [&[BlockQ4_1]; 4], ys: &[BlockQ8_1]) -> [f32; 4] {
        let mut acc = [_mm256_setzero_ps(); 4];
        let mut offsets = [0f32; 4];
        let low = _mm256_set1_epi8(0xF);
        let ones = _mm256_set1_epi16(1);
        for (b, y) in ys.iter().enumerate() {
            // SAFETY: y.qs is 32 bytes; the loads are unaligned loads.
            let qy = unsafe { _mm256_loadu_si256(y.qs.as_ptr().cast()) };
            let (dy, sy) = (y.d.to_f32(), y.s.to_f32());
            for r in 0..4 {
                let x = &xs[r][b];
                // SAFETY: x.qs is 16 bytes.
                let packed = unsafe { _mm_loadu_si128(x.qs.as_ptr().cast()) };
                // Weights 0..16 from the low nibbles, 16..32 from the high ones.
                let qx = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), low);
                // u4 x i8 products summed in pairs (at most 2 * 15 * 128: no saturation).
                let pairs = _mm256_maddubs_epi16(qx, qy);
                let sums = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, ones));
                let scale = _mm256_set1_ps(x.d.to_f32() * dy);
                acc[r] = _mm256_fmadd_ps(scale, sums, acc[r]);
                offsets[r] += x.m.to_f32() * sy;
            }
        }
        let mut out = [0f32; 4];
        for r in 0..4 {
            out[r] = hsum(acc[r]) + offsets[r];
        }
        out
    }

    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `n` values in -1..1 from `seed` (xorshift): test weights and activations.
    pub(crate) fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state as f32 / u32::MAX as f32) * 2.0 - 1.0
            })
            .collect()
    }

    fn quantize<T: GgmlType>(x: &[f32]) -> Vec<T> {
        let mut blocks = vec![T::zeros(); x.len() / QK];
        T::from_float(x, &mut blocks);
        blocks
    }

    #[test]
    fn simd_dot_products_equal_the_scalar_ones() {
        let k = 576;
        let rows: Vec<Vec<BlockQ4_1>> =
            (0..4).map(|r| quantize(&pseudo_random(k, r + 1))).collect();
        let y: Vec<BlockQ8_1> = quantize(&pseudo_random(k, 9));
        let fast = BlockQ4_1::vec_dot_4(k, &rows[0], &rows[1], &rows[2], &rows[3], &y);
        for (r, got) in [fast.0, fast.1, fast.2, fast.3].into_iter().enumerate() {
            let want = BlockQ4_1::vec_dot_unopt(k, &rows[r], &y);
            assert!(
                (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                "{got} vs {want}"
            );
            assert_eq!(BlockQ4_1::vec_dot(k, &rows[r], &y), got);
        }
    }

    #[test]
    fn the_product_matches_candles_q4_1_within_the_activations_rounding() {
        use candle_core::quantized::QTensor;
        use candle_core::{Device, Module, Tensor};
        let (m, k, n) = (3, 64, 6);
        let w = Tensor::from_vec(pseudo_random(n * k, 3), (n, k), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, GgmlDType::Q4_1).unwrap();
        let x_values = pseudo_random(m * k, 5);
        let x = Tensor::from_vec(x_values.clone(), (m, k), &Device::Cpu).unwrap();
        // candle's own bytes of the tensor, borrowed as serving borrows them: the product
        // below agrees only if the block layout is candle's.
        let ours = {
            let data = q.data().unwrap();
            assert!(matmul(&x_values, (m, k, n + 1), &data).is_none());
            matmul(&x_values, (m, k, n), &data).unwrap()
        };
        let theirs = candle_core::quantized::QMatMul::from_qtensor(q)
            .unwrap()
            .forward(&x)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        // Both round the activations to 8 bits; the block sums' rounding differs slightly.
        for (a, b) in ours.iter().zip(&theirs) {
            assert!((a - b).abs() < 1e-2, "{a} vs {b}");
        }
    }
}
