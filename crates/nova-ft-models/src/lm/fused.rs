//! RMS norm and rotary position embedding for training, each one autograd operation with its
//! backward pass written out, run on candle's thread pool.
//!
//! Built from candle's elementwise operations (a tensor allocated and walked per operation,
//! forward and back), the rotation took 9% of a LoRA step on text-to-SQL records and the
//! norms 4.5%. Both are differentiable in their input only: the norm's weight is frozen and
//! the rotation's angles are fixed.

use super::pool::{for_each_chunk, input, with_data};
use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use std::sync::Arc;

/// `x / sqrt(mean(x^2) + eps) * w` over the last dimension of `x`, for a frozen `w`.
pub fn rms_norm(x: &Tensor, w: &Tensor, eps: f64) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1_arc(Arc::new(Box::new(RmsNorm {
        w: w.contiguous()?,
        eps: eps as f32,
    })))
}

struct RmsNorm {
    w: Tensor,
    eps: f32,
}

/// Rows of this many values at least go to one pool thread at a time.
const CHUNK: usize = 16 * 1024;

impl RmsNorm {
    fn width(&self, shape: &Shape) -> candle_core::Result<usize> {
        let d = self.w.elem_count();
        if shape.dims().last() != Some(&d) {
            candle_core::bail!("rms-norm: input {shape:?} for a weight of {d}")
        }
        Ok(d)
    }

    fn inverse(&self, x: &[f32]) -> f32 {
        let mean = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
        1.0 / (mean + self.eps).sqrt()
    }
}

impl CustomOp1 for RmsNorm {
    fn name(&self) -> &'static str {
        "rms-norm"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = self.width(layout.shape())?;
        let x = input(storage, layout, self.name())?;
        let mut out = vec![0f32; x.len()];
        let rows = (CHUNK / d).max(1);
        with_data(&self.w, |w| {
            for_each_chunk(&mut out, rows * d, |i, out| {
                let x = &x[i * rows * d..i * rows * d + out.len()];
                for (y, x) in out.chunks_mut(d).zip(x.chunks(d)) {
                    let inv = self.inverse(x);
                    for ((y, x), w) in y.iter_mut().zip(x).zip(w) {
                        *y = x * inv * w;
                    }
                }
            })
        })?;
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let d = self.width(arg.shape())?;
        let (arg, grad) = (arg.contiguous()?, grad.contiguous()?);
        let mut dx = vec![0f32; arg.elem_count()];
        let rows = (CHUNK / d).max(1);
        with_data(&self.w, |w| {
            with_data(&arg, |x| {
                with_data(&grad, |g| {
                    // With u = g * w: dx = inv * u - x * inv^3 * mean(u * x).
                    for_each_chunk(&mut dx, rows * d, |i, out| {
                        let at = i * rows * d..i * rows * d + out.len();
                        let (x, g) = (&x[at.clone()], &g[at]);
                        for ((dx, x), g) in out.chunks_mut(d).zip(x.chunks(d)).zip(g.chunks(d)) {
                            let inv = self.inverse(x);
                            let ux = x.iter().zip(g).zip(w).map(|((x, g), w)| g * w * x);
                            let m = ux.sum::<f32>() / d as f32 * inv * inv * inv;
                            for (((dx, x), g), w) in dx.iter_mut().zip(x).zip(g).zip(w) {
                                *dx = inv * g * w - x * m;
                            }
                        }
                    })
                })
            })
        })???;
        Tensor::from_vec(dx, arg.shape(), arg.device()).map(Some)
    }
}

/// Cosines and sines of the rotary embedding, `(positions, head_dim / 2)` each, row-major.
#[derive(Clone)]
pub struct RopeTables {
    cos: Arc<Vec<f32>>,
    sin: Arc<Vec<f32>>,
    half: usize,
}

impl RopeTables {
    pub fn new(cos: Vec<f32>, sin: Vec<f32>, half: usize) -> RopeTables {
        RopeTables {
            cos: Arc::new(cos),
            sin: Arc::new(sin),
            half,
        }
    }

    fn positions(&self) -> usize {
        self.cos.len() / self.half.max(1)
    }
}

/// `x` `(b, heads, t, head_dim)` at positions `start..start + t` rotated pair by pair
/// (values `2i` and `2i + 1` together), as Llama's rotary embedding.
pub fn rope(x: &Tensor, tables: &RopeTables, start: usize) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1_arc(Arc::new(Box::new(Rope {
        tables: tables.clone(),
        start,
        sign: 1.0,
    })))
}

struct Rope {
    tables: RopeTables,
    start: usize,
    /// -1 rotates back: the backward pass.
    sign: f32,
}

impl CustomOp1 for Rope {
    fn name(&self) -> &'static str {
        "rope"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (_, _, t, hd) = layout.shape().dims4()?;
        let half = self.tables.half;
        if hd != 2 * half || self.start + t > self.tables.positions() {
            candle_core::bail!(
                "rope: input {:?} at position {} for tables of {} positions x {half}",
                layout.shape(),
                self.start,
                self.tables.positions()
            )
        }
        let x = input(storage, layout, self.name())?;
        let mut out = vec![0f32; x.len()];
        let rows = (CHUNK / hd).max(1);
        let (cos, sin) = (&self.tables.cos, &self.tables.sin);
        for_each_chunk(&mut out, rows * hd, |i, out| {
            let first = i * rows;
            let x = &x[first * hd..first * hd + out.len()];
            for (r, (y, x)) in out.chunks_mut(hd).zip(x.chunks(hd)).enumerate() {
                let at = (self.start + (first + r) % t) * half;
                let (c, s) = (&cos[at..at + half], &sin[at..at + half]);
                for (p, (y, x)) in y.chunks_mut(2).zip(x.chunks(2)).enumerate() {
                    let (c, s) = (c[p], self.sign * s[p]);
                    y[0] = x[0] * c - x[1] * s;
                    y[1] = x[0] * s + x[1] * c;
                }
            }
        });
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }

    fn bwd(
        &self,
        _arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        // A rotation's transpose is the rotation back.
        let back = Rope {
            tables: self.tables.clone(),
            start: self.start,
            sign: -self.sign,
        };
        grad.contiguous()?.apply_op1_no_bwd(&back).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::{rms_norm, rope, RopeTables};
    use candle_core::{Device, Tensor, Var, D};

    fn flat(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    fn close(a: &Tensor, b: &Tensor, what: &str) {
        let (a, b) = (flat(a), flat(b));
        assert_eq!(a.len(), b.len(), "{what}");
        for (x, y) in a.iter().zip(&b) {
            assert!(
                (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
                "{what}: {x} vs {y}"
            );
        }
        assert!(b.iter().any(|v| v.abs() > 1e-3), "{what}: all zero");
    }

    /// Output and input gradient of `f` and `g` under the same random weighting of outputs.
    fn same_op(
        shape: &[usize],
        f: &dyn Fn(&Tensor) -> candle_core::Result<Tensor>,
        g: &dyn Fn(&Tensor) -> candle_core::Result<Tensor>,
    ) {
        let dev = Device::Cpu;
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, shape, &dev).unwrap()).unwrap();
        let (a, b) = (f(x.as_tensor()).unwrap(), g(x.as_tensor()).unwrap());
        close(&a, &b, "output");
        let weights = Tensor::randn(0f32, 1.0, a.shape(), &dev).unwrap();
        let grad = |y: &Tensor| {
            let grads = (y * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            grads.get(x.as_tensor()).unwrap().clone()
        };
        close(&grad(&a), &grad(&b), "gradient");
    }

    #[test]
    fn rms_norm_matches_candles_operations() {
        let dev = Device::Cpu;
        let w = Tensor::randn(0f32, 1.0, 24, &dev).unwrap();
        // Enough rows that the work is cut into several chunks.
        same_op(&[1500, 24], &|x| rms_norm(x, &w, 1e-5), &|x| {
            let mean = x.sqr()?.mean_keepdim(D::Minus1)?;
            x.broadcast_div(&(mean + 1e-5)?.sqrt()?)?.broadcast_mul(&w)
        });
        let x = Tensor::zeros((2, 5), candle_core::DType::F32, &dev).unwrap();
        assert!(
            rms_norm(&x, &w, 1e-5).is_err(),
            "width differs from the weight's"
        );
    }

    #[test]
    fn rope_matches_candles_operations_at_an_offset() {
        let dev = Device::Cpu;
        let (positions, half) = (40, 4);
        let cos: Vec<f32> = (0..positions * half)
            .map(|i| (i as f32 * 0.37).cos())
            .collect();
        let sin: Vec<f32> = (0..positions * half)
            .map(|i| (i as f32 * 0.37).sin())
            .collect();
        let tables = RopeTables::new(cos.clone(), sin.clone(), half);
        let (c, s) = (
            Tensor::from_vec(cos, (positions, half), &dev).unwrap(),
            Tensor::from_vec(sin, (positions, half), &dev).unwrap(),
        );
        let (b, h, t, start) = (2, 3, 7, 5);
        same_op(&[b, h, t, 2 * half], &|x| rope(x, &tables, start), &|x| {
            let pairs = x.reshape((b, h, t, half, 2))?;
            let x0 = pairs.narrow(4, 0, 1)?.squeeze(4)?;
            let x1 = pairs.narrow(4, 1, 1)?.squeeze(4)?;
            let (c, s) = (c.narrow(0, start, t)?, s.narrow(0, start, t)?);
            let r0 = (x0.broadcast_mul(&c)? - x1.broadcast_mul(&s)?)?;
            let r1 = (x0.broadcast_mul(&s)? + x1.broadcast_mul(&c)?)?;
            Tensor::stack(&[r0, r1], 4)?.reshape((b, h, t, 2 * half))
        });
        let x = Tensor::zeros((1, 1, 7, 8), candle_core::DType::F32, &dev).unwrap();
        assert!(rope(&x, &tables, 34).is_err(), "positions past the tables");
    }
}
