//! Time of one decoding step's f32 products for `rows` sequences, single-threaded, with the
//! weights `W` (out x in) held four ways: as the file stores them (row-major: gemm gets
//! `x W^T`, what serving does), the same in gemm calls of 2048 outputs at most, transposed
//! (`W^T` row-major, which gemm reads without packing: it gets `W x^T` and writes it
//! transposed), and pre-packed in panels of 512 outputs, each transposed.
//! `cargo run --release -p nova-ft-models --features lm --example gemm_layout -- [rows]`.
//!
//! On the project's 2-core machine (2026-12-06, alone): no layout made a block's seven
//! products faster as a whole (transposed: x1.1-1.4 for the 576- and 192-wide layers,
//! x0.86-0.94 for the 1536-wide ones), and the output head (49,152 x 576, 113 MB, read from memory at
//! every call) ran at 24-34 GFLOP/s whatever its layout, and at half that transposed. So
//! serving keeps the weights as stored.

use std::time::Instant;

/// SmolLM2-135M's linear layers per block (out, in) and the output head.
const SHAPES: [(usize, usize); 8] = [
    (576, 576),
    (192, 576),
    (192, 576),
    (576, 576),
    (1536, 576),
    (1536, 576),
    (576, 1536),
    (49152, 576),
];

/// `x W^T` for `x` (`rows x inner`, row-major) into `y` (`rows x out`, row-major), columns
/// `start..start + len` only, by one single-threaded gemm call that reads `W`'s column block
/// at `w` with (row, column) strides `w_strides` (`W^T` is `inner x len`).
///
/// # Safety
/// `y` and `x` hold `rows x out` and `rows x inner` values, and `w` at those strides stays
/// inside its allocation for `inner x len` values.
unsafe fn product(
    y: &mut [f32],
    x: &[f32],
    (rows, inner, out): (usize, usize, usize),
    (start, len): (usize, usize),
    w: *const f32,
    w_strides: (isize, isize),
) {
    // SAFETY: the caller's promise.
    unsafe {
        gemm::gemm(
            rows,
            len,
            inner,
            y.as_mut_ptr().add(start),
            1,
            out as isize,
            false,
            x.as_ptr(),
            1,
            inner as isize,
            w,
            w_strides.1,
            w_strides.0,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

fn max_difference(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()))
}

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(32);
    let mut state = 1u32;
    let mut random = |n: usize| -> Vec<f32> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as f32 / u32::MAX as f32 - 0.5
            })
            .collect()
    };
    for &(out, inner) in &SHAPES {
        let dims = (rows, inner, out);
        let w = random(out * inner);
        let x = random(rows * inner);
        let reps = (2_000_000_000 / (rows * out * inner)).clamp(3, 2000);
        let time = |f: &mut dyn FnMut()| {
            f();
            let started = Instant::now();
            for _ in 0..reps {
                f();
            }
            started.elapsed().as_secs_f64() / reps as f64
        };
        // Column blocks of `width` outputs, each read at `at(start)` with `strides(len)`.
        let blocks = |width: usize| {
            (0..out)
                .step_by(width)
                .map(move |s| (s, width.min(out - s)))
        };
        let i = |v: usize| v as isize;
        let mut want = vec![0f32; rows * out];
        // SAFETY (every call below): the weights' layouts hold `out x inner` values at the
        // offsets and strides given, and `want`/`got` hold `rows x out`.
        let as_stored = time(&mut || unsafe {
            product(&mut want, &x, dims, (0, out), w.as_ptr(), (1, i(inner)))
        });
        let mut got = vec![0f32; rows * out];
        let chunk = 2048.min(out);
        let chunked = time(&mut || {
            for (start, len) in blocks(chunk) {
                let at = w[start * inner..].as_ptr();
                unsafe { product(&mut got, &x, dims, (start, len), at, (1, i(inner))) }
            }
        });
        let chunked_diff = max_difference(&want, &got);
        // W^T, row-major.
        let wt: Vec<f32> = (0..inner * out)
            .map(|j| w[(j % out) * inner + j / out])
            .collect();
        let transposed = time(&mut || unsafe {
            product(&mut got, &x, dims, (0, out), wt.as_ptr(), (i(out), 1))
        });
        let transposed_diff = max_difference(&want, &got);
        // Panels of up to 512 outputs, each W^T of its rows, one after another.
        let width = 512.min(out);
        let mut panels = Vec::with_capacity(out * inner);
        for (start, len) in blocks(width) {
            for k in 0..inner {
                panels.extend((start..start + len).map(|o| w[o * inner + k]));
            }
        }
        let packed = time(&mut || {
            for (start, len) in blocks(width) {
                let at = panels[start * inner..].as_ptr();
                unsafe { product(&mut got, &x, dims, (start, len), at, (i(len), 1)) }
            }
        });
        let packed_diff = max_difference(&want, &got);
        let gflops = |t: f64| 2.0 * (rows * out * inner) as f64 / t / 1e9;
        println!(
            "{rows} x ({out}, {inner}): as stored {:.3} ms ({:.1} GFLOP/s); calls of {chunk} \
             outputs x{:.2}; transposed x{:.2}; panels of {width} x{:.2} (largest differences \
             {chunked_diff:.1e}, {transposed_diff:.1e}, {packed_diff:.1e})",
            as_stored * 1e3,
            gflops(as_stored),
            as_stored / chunked,
            as_stored / transposed,
            as_stored / packed,
        );
    }
}
