//! Time of one decoding step's f32 products for `rows` sequences, single-threaded, with the
//! weights `W` (out x in) held four ways: as the file stores them (row-major: gemm gets
//! `x W^T`, what serving does), the same in gemm calls of 2048 outputs at most, transposed
//! (`W^T` row-major, which gemm reads without packing: it gets `W x^T` and writes it
//! transposed), and pre-packed in panels of 512 outputs, each transposed.
//! `cargo run --release -p nova-ft-models --features lm --example gemm_layout -- [rows]`.
//!
//! On the project's 2-core machine (2026-12-06, alone): no layout made a block's seven
//! products faster as a whole (transposed: x1.1-1.7 for the 576- and 192-wide layers, x0.9
//! for the 1536-wide ones), and the output head (49,152 x 576, 113 MB, read from memory at
//! every call) ran at 24-32 GFLOP/s whatever its layout, and at half that transposed. So
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
        let w = random(out * inner);
        let wt: Vec<f32> = (0..inner * out)
            .map(|i| w[(i % out) * inner + i / out])
            .collect();
        let x = random(rows * inner);
        let mut y1 = vec![0f32; rows * out];
        let mut y2 = vec![0f32; rows * out];
        let reps = (2_000_000_000 / (rows * out * inner)).clamp(3, 2000);
        let time = |f: &mut dyn FnMut()| {
            f();
            let started = Instant::now();
            for _ in 0..reps {
                f();
            }
            started.elapsed().as_secs_f64() / reps as f64
        };
        // SAFETY (both): the pointers and strides describe the vectors above, alive here.
        let as_stored = time(&mut || unsafe {
            gemm::gemm(
                rows,
                out,
                inner,
                y1.as_mut_ptr(),
                1,
                out as isize,
                false,
                x.as_ptr(),
                1,
                inner as isize,
                w.as_ptr(),
                inner as isize,
                1,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        });
        let transposed = time(&mut || unsafe {
            gemm::gemm(
                out,
                rows,
                inner,
                y2.as_mut_ptr(),
                out as isize,
                1,
                false,
                wt.as_ptr(),
                out as isize,
                1,
                x.as_ptr(),
                inner as isize,
                1,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        });
        // As stored, in column blocks of 2048 outputs (one gemm call each).
        let chunk = 2048.min(out);
        let chunked = time(&mut || {
            for start in (0..out).step_by(chunk) {
                let len = chunk.min(out - start);
                // SAFETY: the block's columns lie inside `y1` and its rows inside `w`.
                unsafe {
                    gemm::gemm(
                        rows,
                        len,
                        inner,
                        y1.as_mut_ptr().add(start),
                        1,
                        out as isize,
                        false,
                        x.as_ptr(),
                        1,
                        inner as isize,
                        w.as_ptr().add(start * inner),
                        inner as isize,
                        1,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    )
                }
            }
        });
        // Pre-packed: panels of up to 512 outputs, each stored transposed (in x width).
        let width = 512.min(out);
        let mut panels = Vec::with_capacity(out * inner);
        for start in (0..out).step_by(width) {
            let len = width.min(out - start);
            for kk in 0..inner {
                for o in start..start + len {
                    panels.push(w[o * inner + kk]);
                }
            }
        }
        let mut y3 = vec![0f32; rows * out];
        let packed = time(&mut || {
            for start in (0..out).step_by(width) {
                let len = width.min(out - start);
                // SAFETY: the panel lies inside `panels` and its columns inside `y3`.
                unsafe {
                    gemm::gemm(
                        rows,
                        len,
                        inner,
                        y3.as_mut_ptr().add(start),
                        1,
                        out as isize,
                        false,
                        x.as_ptr(),
                        1,
                        inner as isize,
                        panels.as_ptr().add(start * inner),
                        1,
                        len as isize,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    )
                }
            }
        });
        let packed_diff = y1
            .iter()
            .zip(&y3)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        println!(
            "    in blocks of {chunk} outputs: {:.3} ms, x{:.2}; panels of {width}: {:.3} ms, \
             x{:.2} (difference {packed_diff:.2e})",
            chunked * 1e3,
            as_stored / chunked,
            packed * 1e3,
            as_stored / packed
        );
        let diff = y1
            .iter()
            .zip(&y2)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        let gflops = |t: f64| 2.0 * (rows * out * inner) as f64 / t / 1e9;
        println!(
            "{rows} x ({out}, {inner}): as stored {:.3} ms ({:.1} GFLOP/s), transposed {:.3} ms \
             ({:.1} GFLOP/s), x{:.2}; max difference {diff:.2e}",
            as_stored * 1e3,
            gflops(as_stored),
            transposed * 1e3,
            gflops(transposed),
            as_stored / transposed
        );
    }
}
