//! Products with frozen f32 weights, on candle's thread pool in training and on decoding's
//! workers ([`super::workers`]) in a decoding pass: LoRA training's linear layers (`x W^T`
//! forward and only `dY W` backward: candle's matmul would also compute the weight's
//! gradient, as large as the forward pass, and throw it away), LoRA's adapters, and serving's
//! batched passes without VNNI.
//!
//! candle's own f32 matmul runs `gemm` on rayon's pool while candle's pool (which runs every
//! other operation) spins waiting for its next job: on 2 cores the two pools took turns, and
//! the spinning was 12% of a training step. Here each pool thread multiplies its own block of
//! rows (or columns), single-threaded: 32 concurrent requests decoded 26% faster
//! (151-155 -> 191-195 tokens/s, the `lm_speed` example).

use super::pool::{input, with_data};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use std::sync::Arc;

/// `x W^T` for a frozen `w` `(out, in)` in f32 and any `x` `(.., in)`: differentiable in `x`
/// only.
pub fn frozen_linear(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    x.apply_op1_arc(Arc::new(Box::new(Frozen(w.contiguous()?))))
}

struct Frozen(Tensor);

/// `x W^T` for `w` `(out, in)` and `x` `(.., in)`, both f32, on candle's pool; not
/// differentiable (serving's batched passes).
pub fn product(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    let x = x.contiguous()?;
    let (y, shape) = with_data(&x, |data| times_transpose(data, x.shape(), w))??;
    Tensor::from_vec(y, shape, x.device())
}

/// `x W^T` for `x`'s data of shape `(.., in)` and `w` `(out, in)`, and the product's shape.
fn times_transpose(x: &[f32], shape: &Shape, w: &Tensor) -> candle_core::Result<(Vec<f32>, Shape)> {
    let dims = w.dims2()?;
    with_data(w, |w| {
        times_transpose_of(x, shape, w, dims, "frozen-linear")
    })?
}

/// `x W^T` for `x`'s data of shape `(.., in)` and `w`'s data, `(out, in)` row-major, and the
/// product's shape; `op` names the operation in the error a width mismatch gets.
fn times_transpose_of(
    x: &[f32],
    shape: &Shape,
    w: &[f32],
    (out, inner): (usize, usize),
    op: &str,
) -> candle_core::Result<(Vec<f32>, Shape)> {
    let (rows, width) = matrix(shape)?;
    if width != inner {
        candle_core::bail!("{op}: input width {width}, weight ({out}, {inner})")
    }
    // W^T's element (i, j) is W's (j, i): row stride 1, column stride `inner`.
    let y = matmul(x, rows, inner, w, (1, inner), out);
    Ok((y, last_dim(shape, out)))
}

/// The gradient of `x W^T` with respect to `x`: `dY W` for `w` `(out, in)`, in `grad`'s shape
/// but for its last dimension, `in`.
fn input_gradient(grad: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    let (out, inner) = w.dims2()?;
    let grad = grad.contiguous()?;
    let (rows, _) = matrix(grad.shape())?;
    let dx = with_data(&grad, |g| {
        with_data(w, |w| matmul(g, rows, out, w, (inner, 1), inner))
    })??;
    Tensor::from_vec(dx, last_dim(grad.shape(), inner), grad.device())
}

/// Rows, then width, of `shape` read as a matrix over its last dimension.
fn matrix(shape: &Shape) -> candle_core::Result<(usize, usize)> {
    let width = *shape.dims().last().unwrap_or(&0);
    if width == 0 {
        candle_core::bail!("frozen-linear: an input of shape {shape:?} has no columns")
    }
    Ok((shape.elem_count() / width, width))
}

/// `shape` with its last dimension (there is one: [`matrix`] checked) set to `n`.
fn last_dim(shape: &Shape, n: usize) -> Shape {
    let mut dims = shape.dims().to_vec();
    if let Some(last) = dims.last_mut() {
        *last = n;
    }
    Shape::from(dims)
}

impl CustomOp1 for Frozen {
    fn name(&self) -> &'static str {
        "frozen-linear"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = input(storage, layout, self.name())?;
        let (y, shape) = times_transpose(x, layout.shape(), &self.0)?;
        Ok((CpuStorage::F32(y), shape))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        input_gradient(grad, &self.0).map(Some)
    }
}

/// `x W^T` for `x` `(.., in)` and `w` `(out, in)`, both f32, on candle's pool, differentiable
/// in both: LoRA's adapters. candle's matmul runs these small products on rayon's pool, whose
/// workers then spin beside candle's (training ran 4-8% faster on GeoQuery records with
/// rayon held to one thread).
pub fn pool_linear(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op2(&w.contiguous()?, PoolLinear)
}

struct PoolLinear;

impl CustomOp2 for PoolLinear {
    fn name(&self) -> &'static str {
        "pool-linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = input(s1, l1, self.name())?;
        let w = input(s2, l2, self.name())?;
        let dims = l2.shape().dims2()?;
        let (y, shape) = times_transpose_of(x, l1.shape(), w, dims, self.name())?;
        Ok((CpuStorage::F32(y), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (out, inner) = w.dims2()?;
        let grad = grad.contiguous()?;
        let (rows, _) = matrix(grad.shape())?;
        // dW = dY^T X: dY^T made row-major (out x rows, small: `out` is the rank or a layer's
        // width), X row-major.
        let gt = grad.reshape((rows, out))?.t()?.contiguous()?;
        let x = x.contiguous()?;
        let dw = with_data(&gt, |g| {
            with_data(&x, |x| matmul(g, out, rows, x, (inner, 1), inner))
        })??;
        Ok((
            Some(input_gradient(&grad, w)?),
            Some(Tensor::from_vec(dw, (out, inner), grad.device())?),
        ))
    }
}

/// `lhs (m, k) · rhs (k, n)`, row-major `lhs` and `rhs` with (row, column) strides
/// `rhs_strides`, on candle's pool: one block of rows (or of columns, when there are more
/// columns) per thread.
pub fn matmul(
    lhs: &[f32],
    m: usize,
    k: usize,
    rhs: &[f32],
    rhs_strides: (usize, usize),
    n: usize,
) -> Vec<f32> {
    let mut dst = vec![0f32; m * n];
    if m == 0 || n == 0 {
        return dst;
    }
    // The pool's workers and the calling thread, which works too.
    let threads = super::workers::threads_here();
    let by_rows = m >= n;
    let along = if by_rows { m } else { n };
    // Blocks of at least 32 rows or columns: gemm's kernels want some length to amortise
    // packing.
    let blocks = threads.min(along.div_ceil(32)).max(1);
    let size = along.div_ceil(blocks);
    // Raw addresses cross to the pool's threads; every block writes its own rows (or
    // columns) of `dst` only.
    let (dst_at, lhs_at, rhs_at) = (
        dst.as_mut_ptr() as usize,
        lhs.as_ptr() as usize,
        rhs.as_ptr() as usize,
    );
    let (rs, cs) = rhs_strides;
    let product = |block: usize| {
        let start = block * size;
        let len = size.min(along - start);
        let (rows, cols) = if by_rows { (len, n) } else { (m, len) };
        let (dst_off, lhs_off, rhs_off) = if by_rows {
            (start * n, start * k, 0)
        } else {
            (start, 0, start * cs)
        };
        // SAFETY: `lhs` holds m x k values and `rhs` k x n at strides (rs, cs), both
        // borrowed for this call; the block's rows or columns lie inside `dst` (m x n) and
        // no two blocks share one.
        unsafe {
            gemm::gemm(
                rows,
                cols,
                k,
                (dst_at as *mut f32).add(dst_off),
                1,
                n as isize,
                false,
                (lhs_at as *const f32).add(lhs_off),
                1,
                k as isize,
                (rhs_at as *const f32).add(rhs_off),
                cs as isize,
                rs as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        }
    };
    // Decoding's workers during a decoding pass, else candle's pool.
    super::workers::execute_chunked_here(blocks, |range| range.for_each(product));
    dst
}

#[cfg(test)]
mod tests {
    use super::{frozen_linear, matmul, pool_linear};
    use candle_core::{Device, Tensor, Var};

    fn close(a: &[f32], b: &[f32]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn products_match_candles_matmul_split_by_rows_or_columns() {
        let dev = Device::Cpu;
        // More rows than columns, more columns than rows, and too few to split.
        for (m, k, n) in [(130, 24, 40), (3, 24, 200), (5, 7, 3)] {
            let a = Tensor::randn(0f32, 1.0, (m, k), &dev).unwrap();
            let b = Tensor::randn(0f32, 1.0, (n, k), &dev).unwrap();
            let want = a.matmul(&b.t().unwrap()).unwrap().flatten_all().unwrap();
            let (av, bv) = (
                a.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                b.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            );
            close(
                &matmul(&av, m, k, &bv, (1, k), n),
                &want.to_vec1::<f32>().unwrap(),
            );
            // The backward pass's product, `b` read as (n, k) row-major.
            let c = Tensor::randn(0f32, 1.0, (m, n), &dev).unwrap();
            let want = c.matmul(&b).unwrap().flatten_all().unwrap();
            let cv = c.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            close(
                &matmul(&cv, m, n, &bv, (k, 1), k),
                &want.to_vec1::<f32>().unwrap(),
            );
        }
    }

    #[test]
    fn pool_linear_matches_candles_matmul_and_its_gradients() {
        let dev = Device::Cpu;
        // Rank-4 adapters' shapes: a long input times a short weight, and back up.
        for (rows, inner, out) in [(70, 24, 4), (70, 4, 40), (3, 5, 2)] {
            let x =
                Var::from_tensor(&Tensor::randn(0f32, 1.0, (rows, inner), &dev).unwrap()).unwrap();
            let w =
                Var::from_tensor(&Tensor::randn(0f32, 1.0, (out, inner), &dev).unwrap()).unwrap();
            let ours = pool_linear(x.as_tensor(), w.as_tensor()).unwrap();
            let theirs = x.as_tensor().matmul(&w.as_tensor().t().unwrap()).unwrap();
            let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            close(&flat(&ours), &flat(&theirs));
            let weights = Tensor::randn(0f32, 1.0, (rows, out), &dev).unwrap();
            let loss = |y: &Tensor| (y * &weights).unwrap().sum_all().unwrap();
            let got = loss(&ours).backward().unwrap();
            let want = loss(&theirs).backward().unwrap();
            for v in [&x, &w] {
                close(
                    &flat(got.get(v.as_tensor()).unwrap()),
                    &flat(want.get(v.as_tensor()).unwrap()),
                );
            }
        }
    }

    #[test]
    fn frozen_linear_passes_gradients_to_its_input_only() {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3, 6), &dev).unwrap()).unwrap();
        let w = Var::from_tensor(&Tensor::randn(0f32, 1.0, (5, 6), &dev).unwrap()).unwrap();
        let y = frozen_linear(x.as_tensor(), w.as_tensor()).unwrap();
        assert_eq!(y.dims(), [2, 3, 5]);
        let plain = x
            .as_tensor()
            .broadcast_matmul(&w.as_tensor().t().unwrap())
            .unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        close(&flat(&y), &flat(&plain));
        let weights = Tensor::randn(0f32, 1.0, (2, 3, 5), &dev).unwrap();
        let grads = (&y * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let want = (&plain * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        close(
            &flat(grads.get(x.as_tensor()).unwrap()),
            &flat(want.get(x.as_tensor()).unwrap()),
        );
        assert!(grads.get(w.as_tensor()).is_none(), "the weight is frozen");
        assert!(frozen_linear(
            &Tensor::zeros((2, 4), candle_core::DType::F32, &dev).unwrap(),
            w.as_tensor()
        )
        .is_err());
    }
}
