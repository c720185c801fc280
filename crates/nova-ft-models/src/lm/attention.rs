//! Causal attention for training as one autograd operation, with its backward pass written out
//! (the FlashAttention recurrences, on the CPU).
//!
//! Built from candle's tensor operations, attention stores a `(heads, t, t)` score matrix
//! several times over per layer (scaled, masked, exponentiated, normalised) for the backward
//! pass, and computes the masked-out half too: on 440-token text-to-SQL records that was 40%
//! of a LoRA step and gigabytes of memory. This operation keeps only the output and each
//! query's log-sum-exp, visits only the keys a query may see, and recomputes the probabilities
//! in the backward pass. Work runs on candle's thread pool, one (row, head) at a time.

use super::pool::{for_each_chunk, input};
use crate::vector_exp;
use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};

/// Causal attention of queries `q` `(b, heads, s, hd)` over keys and values `k`, `v`
/// `(b, kv_heads, prefix + s, hd)`: query `i` sees keys `0..=prefix + i` (a shared prefix, then
/// its own row). Query head `h` reads key/value head `h / (heads / kv_heads)`. Differentiable
/// in all three inputs; the result is `(b, heads, s, hd)`.
pub fn causal_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    prefix: usize,
) -> candle_core::Result<Tensor> {
    let hd = q.dim(3)?;
    let op = CausalAttention {
        prefix,
        scale: 1.0 / (hd as f32).sqrt(),
    };
    // The operation's result carries each query's log-sum-exp as one more column, which
    // the backward pass reads; the caller sees only the outputs.
    q.contiguous()?
        .apply_op3_arc(
            &k.contiguous()?,
            &v.contiguous()?,
            std::sync::Arc::new(Box::new(op)),
        )?
        .narrow(3, 0, hd)
}

struct CausalAttention {
    prefix: usize,
    scale: f32,
}

/// Sizes of one call, checked against the three inputs.
#[derive(Clone, Copy)]
struct Dims {
    b: usize,
    heads: usize,
    kv_heads: usize,
    s: usize,
    t: usize,
    hd: usize,
}

impl CausalAttention {
    fn dims(&self, q: &Layout, k: &Layout, v: &Layout) -> candle_core::Result<Dims> {
        let (b, heads, s, hd) = q.shape().dims4()?;
        let (kb, kv_heads, t, khd) = k.shape().dims4()?;
        if k.shape() != v.shape()
            || kb != b
            || khd != hd
            || t != self.prefix + s
            || kv_heads == 0
            || heads % kv_heads != 0
        {
            candle_core::bail!(
                "causal-attention: q {:?}, k {:?}, v {:?} with a prefix of {} do not fit",
                q.shape(),
                k.shape(),
                v.shape(),
                self.prefix
            );
        }
        Ok(Dims {
            b,
            heads,
            kv_heads,
            s,
            t,
            hd,
        })
    }
}

fn f32s(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.contiguous()?.flatten_all()?.to_vec1::<f32>()
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    super::lanes::dot(a, b, |v| v)
}

/// `y += alpha x`.
#[inline]
fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += alpha * x;
    }
}

impl CustomOp3 for CausalAttention {
    fn name(&self) -> &'static str {
        "causal-attention"
    }

    fn cpu_fwd(
        &self,
        qs: &CpuStorage,
        ql: &Layout,
        ks: &CpuStorage,
        kl: &Layout,
        vs: &CpuStorage,
        vl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = self.dims(ql, kl, vl)?;
        let (q, k, v) = (
            input(qs, ql, self.name())?,
            input(ks, kl, self.name())?,
            input(vs, vl, self.name())?,
        );
        let (hd, group, width) = (d.hd, d.heads / d.kv_heads, d.hd + 1);
        let mut out = vec![0f32; d.b * d.heads * d.s * width];
        for_each_chunk(&mut out, d.s * width, |unit, out| {
            let (row, head) = (unit / d.heads, unit % d.heads);
            let qb = &q[unit * d.s * hd..(unit + 1) * d.s * hd];
            let kv = (row * d.kv_heads + head / group) * d.t * hd;
            let (kb, vb) = (&k[kv..kv + d.t * hd], &v[kv..kv + d.t * hd]);
            let mut weights = vec![0f32; d.t];
            for i in 0..d.s {
                let seen = self.prefix + i + 1;
                let qi = &qb[i * hd..(i + 1) * hd];
                for (j, w) in weights[..seen].iter_mut().enumerate() {
                    *w = dot(qi, &kb[j * hd..(j + 1) * hd]) * self.scale;
                }
                let max = vector_exp::max(&weights[..seen]);
                let sum = vector_exp::exp_shifted(&mut weights[..seen], max);
                let o = &mut out[i * width..(i + 1) * width];
                for (j, w) in weights[..seen].iter().enumerate() {
                    axpy(w / sum, &vb[j * hd..(j + 1) * hd], &mut o[..hd]);
                }
                o[hd] = max + sum.ln();
            }
        });
        Ok((
            CpuStorage::F32(out),
            Shape::from((d.b, d.heads, d.s, width)),
        ))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let d = self.dims(q.layout(), k.layout(), v.layout())?;
        let (hd, group, width) = (d.hd, d.heads / d.kv_heads, d.hd + 1);
        let (qv, kv, vv) = (f32s(q)?, f32s(k)?, f32s(v)?);
        let (res, grad) = (f32s(res)?, f32s(grad)?);
        // Per (row, head): dQ (s x hd), then that head's share of dK and dV (t x hd each),
        // added over the heads that share a key/value head below.
        let unit_len = d.s * hd + 2 * d.t * hd;
        let mut parts = vec![0f32; d.b * d.heads * unit_len];
        for_each_chunk(&mut parts, unit_len, |unit, part| {
            let row = unit / d.heads;
            let kvo = (row * d.kv_heads + (unit % d.heads) / group) * d.t * hd;
            let (kb, vb) = (&kv[kvo..kvo + d.t * hd], &vv[kvo..kvo + d.t * hd]);
            let qb = &qv[unit * d.s * hd..(unit + 1) * d.s * hd];
            let (ob, gb) = (
                &res[unit * d.s * width..(unit + 1) * d.s * width],
                &grad[unit * d.s * width..(unit + 1) * d.s * width],
            );
            let (dq, rest) = part.split_at_mut(d.s * hd);
            let (dk, dv) = rest.split_at_mut(d.t * hd);
            let mut probabilities = vec![0f32; d.t];
            for i in 0..d.s {
                let qi = &qb[i * hd..(i + 1) * hd];
                let (oi, gi) = (
                    &ob[i * width..(i + 1) * width],
                    &gb[i * width..(i + 1) * width],
                );
                let (lse, glse) = (oi[hd], gi[hd]);
                // dS_ij = P_ij (dO_i · v_j - dO_i · O_i + dLSE_i), scaled as S was.
                let centre = dot(&gi[..hd], &oi[..hd]) - glse;
                let dqi = &mut dq[i * hd..(i + 1) * hd];
                // P_ij = e^(S_ij - LSE_i), the exponentials taken together (they vectorize).
                let seen = &mut probabilities[..self.prefix + i + 1];
                for (j, p) in seen.iter_mut().enumerate() {
                    *p = dot(qi, &kb[j * hd..(j + 1) * hd]) * self.scale;
                }
                vector_exp::exp_shifted(seen, lse);
                for (j, p) in seen.iter().copied().enumerate() {
                    let (kj, vj) = (&kb[j * hd..(j + 1) * hd], &vb[j * hd..(j + 1) * hd]);
                    let ds = p * (dot(&gi[..hd], vj) - centre) * self.scale;
                    axpy(ds, kj, dqi);
                    axpy(ds, qi, &mut dk[j * hd..(j + 1) * hd]);
                    axpy(p, &gi[..hd], &mut dv[j * hd..(j + 1) * hd]);
                }
            }
        });
        let mut dq = Vec::with_capacity(d.b * d.heads * d.s * hd);
        let mut dk = vec![0f32; d.b * d.kv_heads * d.t * hd];
        let mut dv = vec![0f32; d.b * d.kv_heads * d.t * hd];
        for (unit, part) in parts.chunks(unit_len).enumerate() {
            let (row, head) = (unit / d.heads, unit % d.heads);
            dq.extend_from_slice(&part[..d.s * hd]);
            let at = (row * d.kv_heads + head / group) * d.t * hd;
            axpy(
                1.0,
                &part[d.s * hd..d.s * hd + d.t * hd],
                &mut dk[at..at + d.t * hd],
            );
            axpy(
                1.0,
                &part[d.s * hd + d.t * hd..],
                &mut dv[at..at + d.t * hd],
            );
        }
        let dev = q.device();
        Ok((
            Some(Tensor::from_vec(dq, q.shape(), dev)?),
            Some(Tensor::from_vec(dk, k.shape(), dev)?),
            Some(Tensor::from_vec(dv, v.shape(), dev)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::causal_attention;
    use candle_core::{Device, Tensor, Var, D};

    /// Attention from candle's operations (the masked score matrix, softmax, weighted sum),
    /// with candle's own gradients.
    fn reference(q: &Tensor, k: &Tensor, v: &Tensor, p: usize) -> candle_core::Result<Tensor> {
        let (b, heads, s, hd) = q.dims4()?;
        let kvh = k.dim(1)?;
        let widen = |y: &Tensor| -> candle_core::Result<Tensor> {
            y.unsqueeze(2)?
                .broadcast_as((b, kvh, heads / kvh, p + s, hd))?
                .reshape((b, heads, p + s, hd))
        };
        let (k, v) = (widen(k)?, widen(v)?);
        let mask: Vec<f32> = (0..s)
            .flat_map(|i| (0..p + s).map(move |j| if j > p + i { -1e9 } else { 0.0 }))
            .collect();
        let mask = Tensor::from_vec(mask, (s, p + s), &Device::Cpu)?;
        let scores =
            (q.matmul(&k.t()?.contiguous()?)? / (hd as f64).sqrt())?.broadcast_add(&mask)?;
        let e = scores
            .broadcast_sub(&scores.max_keepdim(D::Minus1)?.detach())?
            .exp()?;
        e.broadcast_div(&e.sum_keepdim(D::Minus1)?)?.matmul(&v)
    }

    fn close(a: &Tensor, b: &Tensor, what: &str) {
        let (a, b) = (
            a.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            b.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        assert_eq!(a.len(), b.len(), "{what}: sizes");
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs() / (1.0 + y.abs()))
            .fold(0f32, f32::max);
        assert!(worst < 1e-4, "{what}: off by {worst}");
        assert!(b.iter().any(|x| x.abs() > 1e-3), "{what}: all zero");
    }

    #[test]
    fn outputs_and_gradients_match_candles_own_attention() {
        // Two rows, four query heads over two key/value heads, a shared prefix of 3.
        for (b, p, s) in [(2, 3, 5), (1, 0, 7)] {
            let dev = Device::Cpu;
            let var = |shape: (usize, usize, usize, usize)| {
                Var::from_tensor(&Tensor::randn(0f32, 1.0, shape, &dev).unwrap()).unwrap()
            };
            let (q, k, v) = (
                var((b, 4, s, 8)),
                var((b, 2, p + s, 8)),
                var((b, 2, p + s, 8)),
            );
            // A weighted sum of the outputs, so that every output's gradient differs.
            let weights = Tensor::randn(0f32, 1.0, (b, 4, s, 8), &dev).unwrap();
            let run = |f: &dyn Fn() -> candle_core::Result<Tensor>| {
                let out = f().unwrap();
                let grads = (&out * &weights)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap();
                let grad = |x: &Var| grads.get(x.as_tensor()).unwrap().clone();
                (out, grad(&q), grad(&k), grad(&v))
            };
            let fused = run(&|| causal_attention(q.as_tensor(), k.as_tensor(), v.as_tensor(), p));
            let plain = run(&|| reference(q.as_tensor(), k.as_tensor(), v.as_tensor(), p));
            close(&fused.0, &plain.0, "output");
            close(&fused.1, &plain.1, "dq");
            close(&fused.2, &plain.2, "dk");
            close(&fused.3, &plain.3, "dv");
        }
    }

    #[test]
    fn mismatched_shapes_are_refused() {
        let dev = Device::Cpu;
        let q = Tensor::zeros((1, 3, 4, 8), candle_core::DType::F32, &dev).unwrap();
        let k = Tensor::zeros((1, 2, 4, 8), candle_core::DType::F32, &dev).unwrap();
        let err = causal_attention(&q, &k, &k, 0).unwrap_err().to_string();
        assert!(err.contains("do not fit"), "{err}");
        let q = Tensor::zeros((1, 2, 4, 8), candle_core::DType::F32, &dev).unwrap();
        assert!(
            causal_attention(&q, &k, &k, 1).is_err(),
            "prefix beyond the keys"
        );
    }
}
