//! The AVX-512 VNNI kernels behind [`super`]'s products: a unit of rows times a tile of
//! Q4_1 or Q8_0 weights, 16 outputs at a time. Kept apart from the repacking and
//! dispatch: everything here is `unsafe` intrinsics behind `target_feature`.

use super::{Rows, TileQ4_1, TileQ8_0, QK, ROWS, TILE};
use std::arch::x86_64::*;

/// Activations `at..at + 4` of a block, in every 32-bit lane.
#[inline]
#[target_feature(enable = "avx512f")]
fn broadcast4(q: &[i8; QK], at: usize) -> __m512i {
    let b = |i: usize| q[at + i] as u8;
    _mm512_set1_epi32(i32::from_le_bytes([b(0), b(1), b(2), b(3)]))
}

/// Rows `first..first + R`'s activations as blocks. (Loops, not `array::from_fn`, which
/// was not inlined: a call per unit, 2-3% of a step of 32 rows.)
#[inline(always)]
fn blocks<const R: usize>(rows: &Rows, first: usize, k: usize) -> [&[[i8; QK]]; R] {
    let mut out: [&[[i8; QK]]; R] = [&[]; R];
    for (r, o) in out.iter_mut().enumerate() {
        let at = (first + r) * k;
        *o = rows.q[at..at + k].as_chunks::<QK>().0;
    }
    out
}

/// Rows `first..first + R`'s values of `per_block` (one per block of 32 inputs).
#[inline(always)]
fn per_row<const R: usize>(per_block: &[f32], first: usize, nb: usize) -> [&[f32]; R] {
    let mut out: [&[f32]; R] = [&[]; R];
    for (r, o) in out.iter_mut().enumerate() {
        *o = &per_block[(first + r) * nb..(first + r + 1) * nb];
    }
    out
}

/// `x` rounded as [`BlockQ8_1::from_float`](super::BlockQ8_1) rounds it, 32 values at a
/// time: `d = max|x| / 127` (kept as f16), `q = round(x / d)` (halves away from zero),
/// `s = d * sum(q)` (kept as f16).
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) fn round_row(x: &[f32], q: &mut [i8], d: &mut [f32], s: &mut [f32], sum: &mut [f32]) {
    use half::f16;
    // Just under a half: added to |y| and truncated, it rounds halves up and nothing else.
    let below_half = _mm512_castps_si512(_mm512_set1_ps(0.499_999_97));
    let sign = _mm512_set1_epi32(i32::MIN);
    let blocks = x.as_chunks::<QK>().0.iter().zip(q.as_chunks_mut::<QK>().0);
    for (b, (x, q)) in blocks.enumerate() {
        // SAFETY: `x` is 32 floats.
        let (lo, hi) = unsafe {
            (
                _mm512_loadu_ps(x.as_ptr()),
                _mm512_loadu_ps(x.as_ptr().add(16)),
            )
        };
        let amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
        let scale = amax / 127.0;
        let inverse = _mm512_set1_ps(if scale == 0.0 { 0.0 } else { 1.0 / scale });
        let round = |v: __m512| {
            let y = _mm512_mul_ps(v, inverse);
            // y's sign on the half (or and and on the bits: AVX-512 F has them for
            // integers only).
            let bias = _mm512_or_si512(below_half, _mm512_and_si512(_mm512_castps_si512(y), sign));
            _mm512_cvttps_epi32(_mm512_add_ps(y, _mm512_castsi512_ps(bias)))
        };
        let (qlo, qhi) = (round(lo), round(hi));
        // SAFETY: `q` is 32 bytes, 16 from each half (values in -127..=127).
        unsafe {
            _mm_storeu_si128(q.as_mut_ptr().cast(), _mm512_cvtepi32_epi8(qlo));
            _mm_storeu_si128(q.as_mut_ptr().add(16).cast(), _mm512_cvtepi32_epi8(qhi));
        }
        let total = _mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi));
        d[b] = f16::from_f32(scale).to_f32();
        s[b] = f16::from_f32(scale * total as f32).to_f32();
        sum[b] = total as f32;
    }
}

/// The 16 outputs of Q4_1 `tiles` (one tile's blocks) for rows `first..first + R`:
/// `sum_b d_w d_x dot(q_w, q_x) + m_w s_x`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) fn q4_1<const R: usize>(
    tiles: &[TileQ4_1],
    rows: &Rows,
    first: usize,
    k: usize,
    out: &mut [[f32; TILE]; ROWS],
) {
    let nb = k / QK;
    let low = _mm512_set1_epi8(0xF);
    let mut acc = [_mm512_setzero_ps(); R];
    let xs = blocks::<R>(rows, first, k);
    let (d, s) = (
        per_row::<R>(&rows.d, first, nb),
        per_row::<R>(&rows.s, first, nb),
    );
    for (b, tile) in tiles.iter().enumerate() {
        // Low and high nibbles in two sums: two chains of dependent dot products, not
        // one twice as long.
        let mut dots = [_mm512_setzero_si512(); R];
        let mut highs = [_mm512_setzero_si512(); R];
        for g in 0..QK / 8 {
            // SAFETY: qs holds 4 groups of 64 bytes.
            let w = unsafe { _mm512_loadu_si512(tile.qs.as_ptr().add(g * 64).cast()) };
            let (lo, hi) = (
                _mm512_and_si512(w, low),
                _mm512_and_si512(_mm512_srli_epi16(w, 4), low),
            );
            for r in 0..R {
                dots[r] = _mm512_dpbusd_epi32(dots[r], lo, broadcast4(&xs[r][b], 8 * g));
                highs[r] = _mm512_dpbusd_epi32(highs[r], hi, broadcast4(&xs[r][b], 8 * g + 4));
            }
        }
        for r in 0..R {
            dots[r] = _mm512_add_epi32(dots[r], highs[r]);
        }
        // SAFETY: d and m are 16 floats each.
        let (dw, mw) = unsafe {
            (
                _mm512_loadu_ps(tile.d.as_ptr()),
                _mm512_loadu_ps(tile.m.as_ptr()),
            )
        };
        for r in 0..R {
            let scale = _mm512_mul_ps(dw, _mm512_set1_ps(d[r][b]));
            acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dots[r]), scale, acc[r]);
            acc[r] = _mm512_fmadd_ps(mw, _mm512_set1_ps(s[r][b]), acc[r]);
        }
    }
    for r in 0..R {
        // SAFETY: out[r] is 16 floats.
        unsafe { _mm512_storeu_ps(out[r].as_mut_ptr(), acc[r]) };
    }
}

/// The 16 outputs of Q8_0 `tiles` for rows `first..first + R`:
/// `sum_b d_w d_x (dot(q_w + 128, q_x) - 128 sum(q_x))`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) fn q8_0<const R: usize>(
    tiles: &[TileQ8_0],
    rows: &Rows,
    first: usize,
    k: usize,
    out: &mut [[f32; TILE]; ROWS],
) {
    let nb = k / QK;
    let mut acc = [_mm512_setzero_ps(); R];
    let xs = blocks::<R>(rows, first, k);
    let (d, sums) = (
        per_row::<R>(&rows.d, first, nb),
        per_row::<R>(&rows.sum, first, nb),
    );
    for (b, tile) in tiles.iter().enumerate() {
        // Even and odd groups in two sums (two shorter chains, as for Q4_1).
        let mut dots = [_mm512_setzero_si512(); R];
        let mut odds = [_mm512_setzero_si512(); R];
        for g in (0..QK / 4).step_by(2) {
            // SAFETY: qs holds 8 groups of 64 bytes.
            let (even, odd) = unsafe {
                let at = tile.qs.as_ptr().add(g * 64);
                (
                    _mm512_loadu_si512(at.cast()),
                    _mm512_loadu_si512(at.add(64).cast()),
                )
            };
            for r in 0..R {
                dots[r] = _mm512_dpbusd_epi32(dots[r], even, broadcast4(&xs[r][b], 4 * g));
                odds[r] = _mm512_dpbusd_epi32(odds[r], odd, broadcast4(&xs[r][b], 4 * g + 4));
            }
        }
        for r in 0..R {
            dots[r] = _mm512_add_epi32(dots[r], odds[r]);
        }
        // SAFETY: d is 16 floats.
        let dw = unsafe { _mm512_loadu_ps(tile.d.as_ptr()) };
        for r in 0..R {
            let dot = _mm512_sub_ps(
                _mm512_cvtepi32_ps(dots[r]),
                _mm512_set1_ps(128.0 * sums[r][b]),
            );
            let scale = _mm512_mul_ps(dw, _mm512_set1_ps(d[r][b]));
            acc[r] = _mm512_fmadd_ps(dot, scale, acc[r]);
        }
    }
    for r in 0..R {
        // SAFETY: out[r] is 16 floats.
        unsafe { _mm512_storeu_ps(out[r].as_mut_ptr(), acc[r]) };
    }
}
