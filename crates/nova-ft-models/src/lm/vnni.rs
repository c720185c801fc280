//! Products of many rows (batched decoding, prompts) with the file's quantized weights, by
//! AVX-512 VNNI's 8-bit dot products (`vpdpbusd`: 64 byte products summed in fours per
//! instruction), where the CPU has them.
//!
//! Why not f32: multiplying by f32 copies of the weights read 537 MB at every step of 32
//! requests, and gemm repacked them at every call (26% of a step, perf); here the weights stay
//! 4-bit (Q4_1) or 8-bit (Q8_0, SmolLM2's output head), repacked once, and the activations are
//! rounded to 8 bits per block of 32 as the one-row Q4_1 kernel rounds them ([`super::q4_1`]).
//! candle 0.11 has such kernels for Q4_K, Q6_K and Q8_0 when `in` is a multiple of 256; SmolLM2
//! is 576 wide and in Q4_1, so they are written here after candle's (`repack_x86.rs`).
//!
//! Layout: tiles of 16 outputs x one block of 32 inputs, so that one `vpdpbusd` gives 16
//! outputs 4 inputs further, with the activations' 4 bytes broadcast.

use super::q4_1::{BlockQ4_1, BlockQ8_1};
use candle_core::quantized::k_quants::GgmlType;
use candle_core::quantized::GgmlDType;
use half::f16;

/// Outputs per tile.
const TILE: usize = 16;
/// Inputs per block.
const QK: usize = 32;
/// Rows per unit of work: the weights of a tile are unpacked once for these.
const ROWS: usize = 8;

/// Whether this CPU runs the kernels (AVX-512 F and BW, and VNNI).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// One block of 16 outputs' Q4_1 weights: `w = d * q + m`, `q` in 0..16. Byte `j` of output
/// `o` in group `g` holds `q[8g + j]` in its low nibble and `q[8g + j + 4]` in its high one.
#[repr(C, align(64))]
struct TileQ4_1 {
    qs: [u8; QK / 8 * TILE * 4],
    d: [f32; TILE],
    m: [f32; TILE],
}

/// One block of 16 outputs' Q8_0 weights, `w = d * q`, stored as `q + 128` (unsigned, as
/// `vpdpbusd` wants one side): byte `j` of output `o` in group `g` is `q[4g + j] + 128`.
#[repr(C, align(64))]
struct TileQ8_0 {
    qs: [u8; QK * TILE],
    d: [f32; TILE],
}

enum Tiles {
    Q4_1(Vec<TileQ4_1>),
    Q8_0(Vec<TileQ8_0>),
}

/// A linear layer's weights (`n x k`) repacked into tiles, `tile * (k / 32) + block`.
pub struct Packed {
    tiles: Tiles,
    n: usize,
    k: usize,
}

/// Rows of activations rounded to 8 bits per block of 32 as [`BlockQ8_1`] rounds them
/// (`x = d * q`): made once for every layer that reads the same input.
pub struct Rows {
    m: usize,
    k: usize,
    q: Vec<i8>,
    d: Vec<f32>,
    /// `d * sum(q)`, rounded as `BlockQ8_1` rounds it (the Q4_1 offsets multiply it).
    s: Vec<f32>,
    /// `sum(q)` (the Q8_0 weights' +128 is taken off with it).
    sum: Vec<f32>,
}

impl Rows {
    /// How many rows.
    pub fn len(&self) -> usize {
        self.m
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.m == 0
    }

    /// `m` rows of `k` values (`x`, row-major; `k` a multiple of 32), rounded on candle's
    /// pool when there are several.
    pub fn new(x: &[f32], m: usize, k: usize) -> Rows {
        assert!(
            k.is_multiple_of(QK) && x.len() == m * k,
            "vnni: {m} rows of {k} values expected"
        );
        let nb = k / QK;
        let mut rows = Rows {
            m,
            k,
            q: vec![0; m * k],
            d: vec![0.0; m * nb],
            s: vec![0.0; m * nb],
            sum: vec![0.0; m * nb],
        };
        let slots: Vec<_> = rows
            .q
            .chunks_mut(k)
            .zip(rows.d.chunks_mut(nb))
            .zip(rows.s.chunks_mut(nb).zip(rows.sum.chunks_mut(nb)))
            .zip(x.chunks_exact(k))
            .map(std::sync::Mutex::new)
            .collect();
        let round = |r: usize| {
            let mut slot = slots[r].lock().unwrap_or_else(|e| e.into_inner());
            let (((q, d), (s, sum)), x) = &mut *slot;
            #[cfg(target_arch = "x86_64")]
            if available() {
                // SAFETY: the CPU has AVX-512 F and BW (checked).
                unsafe { kernels::round_row(x, q, d, s, sum) };
                return;
            }
            let mut blocks = vec![BlockQ8_1::zeros(); nb];
            BlockQ8_1::from_float(x, &mut blocks);
            for (b, block) in blocks.iter().enumerate() {
                q[b * QK..(b + 1) * QK].copy_from_slice(block.qs());
                d[b] = block.d();
                s[b] = block.s();
                sum[b] = block.qs().iter().map(|v| i32::from(*v)).sum::<i32>() as f32;
            }
        };
        if m < ROWS {
            (0..m).for_each(round);
        } else {
            super::workers::pool().execute_chunked(m, |range| range.for_each(round));
        }
        drop(slots);
        rows
    }
}

impl Packed {
    /// The tensor's bytes (`n x k` weights in `dtype`) repacked (the last tile padded with
    /// zero weights when `n` is not a multiple of 16), or `None` when the kernels do not
    /// apply: another format, `k` not a multiple of 32, bytes not whole blocks, or a CPU
    /// without VNNI.
    pub fn new(dtype: GgmlDType, bytes: &[u8], n: usize, k: usize) -> Option<Packed> {
        if !available() || n == 0 || k == 0 || !k.is_multiple_of(QK) {
            return None;
        }
        let nb = k / QK;
        let tiles = match dtype {
            GgmlDType::Q4_1 => {
                let blocks = super::q4_1::as_blocks(bytes)?;
                (blocks.len() == n * nb).then(|| Tiles::Q4_1(pack_q4_1(blocks, n, nb)))?
            }
            GgmlDType::Q8_0 => (bytes.len() == n * nb * Q8_0_BYTES)
                .then(|| Tiles::Q8_0(pack_q8_0(bytes, n, nb)))?,
            _ => return None,
        };
        Some(Packed { tiles, n, k })
    }

    /// The layer's outputs, `n`.
    pub fn outputs(&self) -> usize {
        self.n
    }

    /// The layer's inputs, `k`.
    pub fn inputs(&self) -> usize {
        self.k
    }

    /// `x W^T` for rows `x` (`m x k`): `m x n`, row-major.
    pub fn matmul(&self, rows: &Rows) -> Vec<f32> {
        let (n, m) = (self.n, rows.m);
        assert_eq!(rows.k, self.k, "vnni: rows of {} inputs expected", self.k);
        // Not zeroed: the units below write every value (6 MB for the head's 32 rows).
        let mut y: Vec<f32> = Vec::with_capacity(m * n);
        let units_per_tile = m.div_ceil(ROWS);
        let units = n.div_ceil(TILE) * units_per_tile;
        let y_at = y.as_mut_ptr() as usize;
        super::workers::pool().execute_chunked(units, |range| {
            for unit in range {
                let (tile, first) = (unit / units_per_tile, (unit % units_per_tile) * ROWS);
                let count = ROWS.min(m - first);
                let mut out = [[0f32; TILE]; ROWS];
                self.unit(rows, tile, first, count, &mut out);
                // The last tile's padding outputs are not written.
                let width = TILE.min(n - tile * TILE);
                for (r, o) in out[..count].iter().enumerate() {
                    let at = (first + r) * n + tile * TILE;
                    // SAFETY: `y`'s buffer (m x n) outlives the pool's work; each unit writes
                    // its own columns (at most 16, inside row `first + r`) of its own rows, and
                    // no two units share one.
                    unsafe {
                        let to = (y_at as *mut f32).add(at);
                        // A whole tile's 16 values in one move, not a call to memmove.
                        match width == TILE {
                            true => to.cast::<[f32; TILE]>().write_unaligned(*o),
                            false => std::ptr::copy_nonoverlapping(o.as_ptr(), to, width),
                        }
                    };
                }
            }
        });
        // SAFETY: the units cover every tile (all n columns, the last one's padding cut off)
        // and every row, so all m x n values are written; f32 needs no drop.
        unsafe { y.set_len(m * n) };
        y
    }

    /// Tile `tile`'s 16 outputs for rows `first..first + count` (at most 8).
    fn unit(
        &self,
        rows: &Rows,
        tile: usize,
        first: usize,
        count: usize,
        out: &mut [[f32; TILE]; ROWS],
    ) {
        let nb = self.k / QK;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a Packed exists only where `available()` said the CPU has the features.
        unsafe {
            // One kernel per row count, so that the rows' sums stay in registers.
            macro_rules! by_rows {
                ($kernel:ident, $tiles:expr) => {{
                    let t = &$tiles[tile * nb..(tile + 1) * nb];
                    match count {
                        1 => kernels::$kernel::<1>(t, rows, first, self.k, out),
                        2 => kernels::$kernel::<2>(t, rows, first, self.k, out),
                        3 => kernels::$kernel::<3>(t, rows, first, self.k, out),
                        4 => kernels::$kernel::<4>(t, rows, first, self.k, out),
                        5 => kernels::$kernel::<5>(t, rows, first, self.k, out),
                        6 => kernels::$kernel::<6>(t, rows, first, self.k, out),
                        7 => kernels::$kernel::<7>(t, rows, first, self.k, out),
                        _ => kernels::$kernel::<ROWS>(t, rows, first, self.k, out),
                    }
                }};
            }
            match &self.tiles {
                Tiles::Q4_1(t) => by_rows!(q4_1, t),
                Tiles::Q8_0(t) => by_rows!(q8_0, t),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (rows, tile, first, count, out, nb);
    }
}

/// Bytes of a Q8_0 block (ggml's `block_q8_0`): `d` as a little-endian f16, then 32 `q`.
const Q8_0_BYTES: usize = 2 + QK;

fn pack_q4_1(blocks: &[BlockQ4_1], n: usize, nb: usize) -> Vec<TileQ4_1> {
    let mut tiles = Vec::with_capacity(n.div_ceil(TILE) * nb);
    for t in 0..n.div_ceil(TILE) {
        for b in 0..nb {
            let mut tile = TileQ4_1 {
                qs: [0; QK / 8 * TILE * 4],
                d: [0.0; TILE],
                m: [0.0; TILE],
            };
            for o in 0..TILE.min(n - t * TILE) {
                let block = &blocks[(t * TILE + o) * nb + b];
                let (d, m, qs) = block.parts();
                tile.d[o] = d;
                tile.m[o] = m;
                let q = |i: usize| {
                    if i < QK / 2 {
                        qs[i] & 0xF
                    } else {
                        qs[i - QK / 2] >> 4
                    }
                };
                for g in 0..QK / 8 {
                    for j in 0..4 {
                        tile.qs[(g * TILE + o) * 4 + j] = q(8 * g + j) | (q(8 * g + j + 4) << 4);
                    }
                }
            }
            tiles.push(tile);
        }
    }
    tiles
}

fn pack_q8_0(bytes: &[u8], n: usize, nb: usize) -> Vec<TileQ8_0> {
    let mut tiles = Vec::with_capacity(n.div_ceil(TILE) * nb);
    for t in 0..n.div_ceil(TILE) {
        for b in 0..nb {
            let mut tile = TileQ8_0 {
                qs: [0; QK * TILE],
                d: [0.0; TILE],
            };
            for o in 0..TILE.min(n - t * TILE) {
                let at = ((t * TILE + o) * nb + b) * Q8_0_BYTES;
                let block = &bytes[at..at + Q8_0_BYTES];
                tile.d[o] = f16::from_le_bytes([block[0], block[1]]).to_f32();
                for g in 0..QK / 4 {
                    for j in 0..4 {
                        // q + 128, as a byte: the sign bit flipped.
                        tile.qs[(g * TILE + o) * 4 + j] = block[2 + 4 * g + j] ^ 0x80;
                    }
                }
            }
            tiles.push(tile);
        }
    }
    tiles
}

#[cfg(target_arch = "x86_64")]
mod kernels;

#[cfg(test)]
mod tests {
    use super::super::q4_1::tests::pseudo_random;
    use super::*;
    use candle_core::quantized::QTensor;
    use candle_core::{Device, Tensor};

    /// `x W^T` as ggml computes it: for Q4_1 its scalar dot product with the activations in
    /// Q8_1 blocks; for Q8_0 (no block sums) W dequantized and x rounded as the kernel rounds
    /// it, in f64.
    fn reference(x: &[f32], m: usize, k: usize, w: &QTensor) -> Vec<f32> {
        let n = w.shape().dims()[0];
        let mut y = vec![0f32; m * n];
        if w.dtype() == GgmlDType::Q4_1 {
            let data = w.data().unwrap();
            let blocks = super::super::q4_1::as_blocks(&data).unwrap();
            let nb = k / QK;
            for r in 0..m {
                let mut xq = vec![BlockQ8_1::zeros(); nb];
                BlockQ8_1::from_float(&x[r * k..(r + 1) * k], &mut xq);
                for o in 0..n {
                    y[r * n + o] = BlockQ4_1::vec_dot_unopt(k, &blocks[o * nb..(o + 1) * nb], &xq);
                }
            }
            return y;
        }
        let dense = w.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap();
        let dense = dense.to_vec1::<f32>().unwrap();
        let rows = Rows::new(x, m, k);
        for r in 0..m {
            for o in 0..n {
                let mut sum = 0f64;
                for i in 0..k {
                    let xi =
                        f64::from(rows.d[r * (k / QK) + i / QK]) * f64::from(rows.q[r * k + i]);
                    sum += xi * f64::from(dense[o * k + i]);
                }
                y[r * n + o] = sum as f32;
            }
        }
        y
    }

    #[test]
    fn rows_are_rounded_as_ggml_rounds_them_halves_included() {
        // Block 0's largest value is 127, so d = 1 and its halves stay halves; block 1 has
        // negative halves and a zero; then random blocks, and a block of zeros.
        let mut x: Vec<f32> = (0..32).map(|i| i as f32 * 3.0 - 40.5).collect();
        x[31] = 127.0;
        x.extend((0..32).map(|i| -(i as f32) - 0.5 + if i == 7 { 7.5 } else { 0.0 }));
        x.extend(pseudo_random(96, 11).iter().map(|v| v * 3.7));
        x.extend([0.0; 32]);
        let k = 192;
        let rows = Rows::new(&x, 1, k);
        let mut blocks = vec![BlockQ8_1::zeros(); k / QK];
        BlockQ8_1::from_float(&x, &mut blocks);
        for (b, block) in blocks.iter().enumerate() {
            assert_eq!(&rows.q[b * QK..(b + 1) * QK], block.qs(), "block {b}");
            assert_eq!(rows.d[b].to_bits(), block.d().to_bits(), "block {b}");
            assert_eq!(rows.s[b].to_bits(), block.s().to_bits(), "block {b}");
            let sum: i32 = block.qs().iter().map(|q| i32::from(*q)).sum();
            assert_eq!(rows.sum[b], sum as f32, "block {b}");
        }
        // Block 0 rounded its halves away from zero: 127 / 127 = 1, -40.5 -> -41.
        assert_eq!(rows.q[0], -41);
    }

    #[test]
    fn packed_products_equal_the_dequantized_ones_for_every_row_count() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX-512 VNNI");
            return;
        }
        // 53 outputs: three whole tiles and one of 5.
        let (k, n) = (96, 53);
        for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
            let w = Tensor::from_vec(pseudo_random(n * k, 3), (n, k), &Device::Cpu).unwrap();
            let q = QTensor::quantize(&w, dtype).unwrap();
            let packed = Packed::new(dtype, &q.data().unwrap(), n, k).unwrap();
            assert!(Packed::new(dtype, &q.data().unwrap(), n + 1, k).is_none());
            assert!(Packed::new(GgmlDType::Q4_0, &q.data().unwrap(), n, k).is_none());
            for m in [1, 3, 4, 7, 8, 9, 17] {
                let x = pseudo_random(m * k, 5 + m as u32);
                let got = packed.matmul(&Rows::new(&x, m, k));
                let want = reference(&x, m, k, &q);
                for (a, b) in got.iter().zip(&want) {
                    assert!(
                        (a - b).abs() < 1e-4 * b.abs().max(1.0),
                        "{dtype:?} m={m}: {a} vs {b}"
                    );
                }
                // A row's outputs do not depend on the rows beside it.
                let alone = packed.matmul(&Rows::new(&x[..k], 1, k));
                assert_eq!(&got[..n], &alone[..], "{dtype:?} m={m}");
            }
        }
    }
}
