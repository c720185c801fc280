//! The Llama transformer that serves SmolLM2: quantized weights as the GGUF stores them (or
//! requantized, see [`WeightFormat`]), LoRA adapters beside any linear layer, a KV cache per
//! sequence, and one forward pass over the new tokens of many sequences at once (prefill and
//! batched decoding are the same call).
//!
//! The linear layers run on [`super::vnni`]'s kernels over the file's quantized weights where
//! the CPU has AVX-512 VNNI, otherwise on candle's quantized matmuls and f32 copies of the
//! weights. Normalisation, rotary embeddings and attention are written over plain slices,
//! which for a model this small costs less than a chain of tensor operations would allocate.

use super::attend::Stored;
use super::gguf::{Config, LmFile};
use super::lora::Adapters;
use super::pool::with_data;
use super::vnni::{Packed, Rows};
use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use nova_ft_data::error::{NovaError, Result};
use std::sync::{Arc, Mutex, OnceLock};

pub(crate) fn candle_err(e: candle_core::Error) -> NovaError {
    NovaError::invalid(format!("language model: {e}"))
}

/// How the linear weights are held in memory for serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightFormat {
    /// As stored in the file.
    AsStored,
    /// As stored where a SIMD kernel multiplies that format (candle's, or [`super::q4_1`]'s
    /// for SmolLM2's Q4_1), otherwise (Q5_0, Q5_1, whose kernels in candle are scalar)
    /// requantized to Q8_0. What serving uses.
    Vectorized,
    /// Every 4- and 5-bit format requantized to 8-bit blocks (Q8_0): what serving used before
    /// the Q4_1 kernel, kept to measure against (`examples/lm_speed.rs`).
    Q8,
}

/// A copy of a quantized tensor (QTensor is not Clone): the same bytes, read again.
fn copy(t: &QTensor) -> Result<QTensor> {
    let data = t.data().map_err(candle_err)?;
    let storage = QStorage::from_data(data, &Device::Cpu, t.dtype()).map_err(candle_err)?;
    QTensor::new(storage, t.shape().clone()).map_err(candle_err)
}

/// Rows from which a linear layer multiplies by its widened weights ([`Linear::forward`]).
pub const WIDE_ROWS: usize = 8;
/// The frozen weights of one linear layer (`out x in`).
pub struct Linear {
    pub(crate) matmul: QMatMul,
    /// The weights widened to f32, made the first time many rows come at once without
    /// `packed` weights, or for training. Before the VNNI kernels, 32 concurrent
    /// requests decoded 3.3 times as fast as with the quantized kernel (f16 weights: only 1.7
    /// times, gemm widens them as it goes), for 424 MB more memory (the blocks' layers) once
    /// batches come (`CONCURRENT=32 cargo run --release -p nova-ft-models --features lm
    /// --example lm_speed -- <gguf> q8 64`). The output head too: 113 MB more, and 32
    /// concurrent requests 17% faster than with its 8-bit kernel (235-240 vs 202-204 tokens/s,
    /// 2026-12-05).
    wide: OnceLock<Option<Tensor>>,
    /// The quantized weights repacked for [`super::vnni`]'s kernels, which multiply any
    /// number of rows; `None` where they do not apply (no AVX-512 VNNI, another format), and
    /// then `wide` (many rows) and the Q4_1 kernel or candle's (a few) do.
    packed: Option<Packed>,
}

impl Linear {
    fn new(t: &QTensor, format: WeightFormat) -> Result<Linear> {
        let t = match (format, t.dtype()) {
            (
                WeightFormat::Q8,
                GgmlDType::Q4_0 | GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1,
            )
            | (WeightFormat::Vectorized, GgmlDType::Q5_0 | GgmlDType::Q5_1)
                if t.shape().dims()[1].is_multiple_of(32) =>
            {
                let dense = t.dequantize(&Device::Cpu).map_err(candle_err)?;
                QTensor::quantize(&dense, GgmlDType::Q8_0).map_err(candle_err)?
            }
            _ => copy(t)?,
        };
        Linear::of(Arc::new(t))
    }

    fn of(t: Arc<QTensor>) -> Result<Linear> {
        let packed = match t.shape().dims2() {
            Ok((n, k)) => Packed::new(t.dtype(), &t.data().map_err(candle_err)?, n, k),
            Err(_) => None,
        };
        Ok(Linear {
            matmul: QMatMul::from_arc(t).map_err(candle_err)?,
            wide: OnceLock::new(),
            packed,
        })
    }

    /// `x W^T` for rows `x` (`n x in`): by [`super::vnni`]'s kernels where they apply.
    /// Otherwise one row (decoding one sequence) reads the quantized weights, which is
    /// memory-bound and fastest that way, and many rows (batched decoding, prefill) multiply by
    /// the widened weights as a matrix product, which reads each weight once for all rows
    /// where the quantized kernel reads it once per row.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (m, width) = x.dims2().map_err(candle_err)?;
        if let Some(p) = &self.packed {
            if width != p.inputs() {
                return Err(NovaError::invalid(format!(
                    "language model: rows of {width} values for a layer of {} inputs",
                    p.inputs()
                )));
            }
            let y = with_data(&x.contiguous().map_err(candle_err)?, |x| {
                p.matmul(&Rows::new(x, m, p.inputs()))
            });
            return Tensor::from_vec(y.map_err(candle_err)?, (m, p.outputs()), &Device::Cpu)
                .map_err(candle_err);
        }
        if m >= WIDE_ROWS {
            if let Some(w) = self.wide() {
                // On candle's pool: candle's own matmul runs on rayon's, whose threads take
                // turns on the cores with candle's spinning workers.
                return super::frozen::product(x, w).map_err(candle_err);
            }
        }
        if let QMatMul::QTensor(t) = &self.matmul {
            if t.dtype() == GgmlDType::Q4_1 {
                return q4_1_forward(t, x);
            }
        }
        self.matmul.forward(x).map_err(candle_err)
    }

    fn wide(&self) -> Option<&Tensor> {
        self.wide
            .get_or_init(|| {
                self.dequantized()
                    .and_then(|w| w.to_dtype(DType::F32).map_err(candle_err))
                    .ok()
            })
            .as_ref()
    }

    /// The weights as a dense f32 matrix (`out x in`), for training: the widened weights
    /// (made now if serving has not yet), so that training and batched serving share a copy.
    pub fn dense(&self) -> Result<Tensor> {
        match self.wide() {
            Some(w) => Ok(w.clone()),
            _ => self.dequantized(),
        }
    }

    fn dequantized(&self) -> Result<Tensor> {
        match &self.matmul {
            QMatMul::QTensor(t) => t.dequantize(&Device::Cpu).map_err(candle_err),
            QMatMul::Tensor(t) | QMatMul::TensorF16(t) => {
                t.to_dtype(DType::F32).map_err(candle_err)
            }
        }
    }
}

/// `x W^T` with `W` in Q4_1, by [`super::q4_1`]'s SIMD kernel (candle's is scalar).
fn q4_1_forward(w: &QTensor, x: &Tensor) -> Result<Tensor> {
    let (m, k) = x.dims2().map_err(candle_err)?;
    let n = w.shape().dims()[0];
    let values = x.flatten_all().and_then(|x| x.to_vec1::<f32>());
    let bytes = w.data().map_err(candle_err)?;
    super::q4_1::matmul(&values.map_err(candle_err)?, (m, k, n), &bytes)
        .ok_or_else(|| {
            NovaError::invalid(format!(
                "language model: a Q4_1 tensor of {n} rows does not hold whole blocks of {k} \
                 columns"
            ))
        })
        .and_then(|y| Tensor::from_vec(y, (m, n), &Device::Cpu).map_err(candle_err))
}

/// The linear layers of a block, in the order LoRA targets name them.
pub const TARGETS: [&str; 7] = ["q", "k", "v", "o", "gate", "up", "down"];

pub struct Block {
    pub attn_norm: Vec<f32>,
    pub ffn_norm: Vec<f32>,
    /// q, k, v, o, gate, up, down (see [`TARGETS`]).
    pub linears: [Linear; 7],
}

/// SmolLM2 (any Llama GGUF) ready to run.
pub struct Llama {
    pub config: Config,
    pub blocks: Vec<Block>,
    pub final_norm: Vec<f32>,
    embedding: Arc<QTensor>,
    /// The output head (tied to the embedding in SmolLM2; `output.weight` when the file has one).
    pub head: Linear,
    /// cos and sin of every position's rotation, `position * head_dim/2 + pair`.
    cos: Vec<f32>,
    sin: Vec<f32>,
}

/// The logits after each sequence's last new token: row `s` (`vocab` values) is sequence
/// `s`'s. One allocation, as the head's product writes it: 32 rows are 6 MB, which copied into
/// a vector per row cost the decoding thread a millisecond a step while the pool waited.
#[derive(Clone, Debug, PartialEq)]
pub struct Logits {
    values: Vec<f32>,
    vocab: usize,
}

impl Logits {
    /// Each sequence's logits, in order.
    pub fn rows(&self) -> std::slice::ChunksExact<'_, f32> {
        self.values.chunks_exact(self.vocab.max(1))
    }

    /// Sequences.
    pub fn len(&self) -> usize {
        self.values.len() / self.vocab.max(1)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl std::ops::Index<usize> for Logits {
    type Output = [f32];

    /// Sequence `s`'s logits.
    fn index(&self, s: usize) -> &[f32] {
        &self.values[s * self.vocab..(s + 1) * self.vocab]
    }
}

/// One sequence's keys and values: per layer, per key/value head, every position's
/// `head_dim` values one after another, rounded to 8 bits per block of 16 ([`Stored`]).
/// - 8 bits and the scales are 62% of the bytes of bf16 (32 requests of 150 tokens hold 69 MB
///   instead of 110), and every decoding step reads them all from memory.
/// - A head's positions are contiguous, so that its pass over them is one stream the
///   hardware prefetches: interleaved by position, attention over 32 sequences took 1.3 times
///   as long (a timing of `attend` alone made for the change, 2026-12-06, not kept).
///
/// Every forward pass writes its keys and values here first and attends over what is stored,
/// so cached and uncached passes see the same rounding.
#[derive(Clone, Default)]
pub struct KvCache {
    pub keys: Vec<Vec<Stored>>,
    pub values: Vec<Vec<Stored>>,
    pub len: usize,
}

impl KvCache {
    pub fn new(layers: usize) -> KvCache {
        KvCache {
            keys: vec![Vec::new(); layers],
            values: vec![Vec::new(); layers],
            len: 0,
        }
    }

    /// Append layer `l`'s keys and values of new positions (`kv_heads * head_dim` values a
    /// position, head after head), each head to its own stream.
    fn push(&mut self, l: usize, k: &[f32], v: &[f32], kv_heads: usize, head_dim: usize) {
        for (stored, x) in [(&mut self.keys[l], k), (&mut self.values[l], v)] {
            stored.resize_with(kv_heads, Stored::default);
            for position in x.chunks_exact(kv_heads * head_dim) {
                for (s, head) in stored.iter_mut().zip(position.chunks_exact(head_dim)) {
                    s.push(head);
                }
            }
        }
    }
}

fn rms_norm(x: &mut [f32], weight: &[f32], eps: f32) {
    for row in x.chunks_mut(weight.len()) {
        let mean = row.iter().map(|v| v * v).sum::<f32>() / row.len() as f32;
        let scale = 1.0 / (mean + eps).sqrt();
        for (v, w) in row.iter_mut().zip(weight) {
            *v *= scale * w;
        }
    }
}

/// `gate = silu(gate) * up`, in chunks on the workers: its `exp`s were 2% of a step of 32
/// requests on the calling thread while the workers waited.
fn silu_mul(gate: &mut [f32], up: &[f32]) {
    const CHUNK: usize = 4096;
    let silu = |i: usize, gate: &mut [f32]| {
        let up = &up[i * CHUNK..i * CHUNK + gate.len()];
        super::activations::silu_mul(gate, up);
    };
    match gate.len() > CHUNK {
        true => super::pool::for_each_chunk(gate, CHUNK, silu),
        false => silu(0, gate),
    }
}

/// Rows `ids` of an embedding table, widened to f32 row by row (the table stays as stored).
pub(crate) fn embed_rows(table: &QTensor, ids: &[u32]) -> candle_core::Result<Vec<f32>> {
    let ids = Tensor::from_slice(ids, ids.len(), &Device::Cpu)?;
    table.embedding(&ids)?.flatten_all()?.to_vec1::<f32>()
}

/// The `n` rows `x` as a tensor, made the first time it is asked for and kept in `slot`.
fn tensor<'a>(slot: &'a mut Option<Tensor>, x: &[f32], n: usize) -> Result<&'a Tensor> {
    match slot {
        Some(t) => Ok(t),
        None => Ok(slot.insert(rows(x, n, x.len() / n)?)),
    }
}

fn rows(x: &[f32], n: usize, width: usize) -> Result<Tensor> {
    Tensor::from_slice(x, (n, width), &Device::Cpu).map_err(candle_err)
}

fn flat(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()
        .and_then(|t| t.to_vec1::<f32>())
        .map_err(candle_err)
}

impl Llama {
    /// The model in `file`, its linear weights held as `format` says.
    pub fn new(file: &LmFile, format: WeightFormat) -> Result<Llama> {
        let c = file.config;
        let vec = |key: &str| -> Result<Vec<f32>> {
            file.tensor(key)
                .dequantize(&Device::Cpu)
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(candle_err)
        };
        let mut blocks = Vec::with_capacity(c.layers);
        for l in 0..c.layers {
            let lin = |s: &str| Linear::new(file.tensor(&format!("blk.{l}.{s}.weight")), format);
            blocks.push(Block {
                attn_norm: vec(&format!("blk.{l}.attn_norm.weight"))?,
                ffn_norm: vec(&format!("blk.{l}.ffn_norm.weight"))?,
                linears: [
                    lin("attn_q")?,
                    lin("attn_k")?,
                    lin("attn_v")?,
                    lin("attn_output")?,
                    lin("ffn_gate")?,
                    lin("ffn_up")?,
                    lin("ffn_down")?,
                ],
            });
        }
        let embedding = Arc::new(copy(file.tensor("token_embd.weight"))?);
        let head = match file.tensors.get("output.weight") {
            Some(t) => Linear::new(t, WeightFormat::AsStored)?,
            // Tied (SmolLM2): the head reads the embedding's bytes, not a copy (30 MB).
            None => Linear::of(Arc::clone(&embedding))?,
        };
        let (cos, sin) = c.rope_tables(c.context.clamp(1, 32_768));
        Ok(Llama {
            config: c,
            blocks,
            final_norm: vec("output_norm.weight")?,
            embedding,
            head,
            cos,
            sin,
        })
    }

    /// The longest sequence (prompt and answer) the model can hold.
    pub fn max_positions(&self) -> usize {
        self.cos.len() / (self.config.head_dim() / 2)
    }

    /// Embedding rows of `ids`.
    pub fn embed(&self, ids: &[u32]) -> Result<Vec<f32>> {
        embed_rows(&self.embedding, ids).map_err(candle_err)
    }

    /// The embedding table as the file stores it, shared (training reads its rows too).
    pub(crate) fn embedding_table(&self) -> Arc<QTensor> {
        Arc::clone(&self.embedding)
    }

    fn rope(&self, x: &mut [f32], positions: &[usize], heads: usize) {
        let hd = self.config.head_dim();
        let half = hd / 2;
        for (row, &pos) in x.chunks_mut(heads * hd).zip(positions) {
            let cos = &self.cos[pos * half..(pos + 1) * half];
            let sin = &self.sin[pos * half..(pos + 1) * half];
            for head in row.chunks_mut(hd) {
                for i in 0..half {
                    let (a, b) = (head[2 * i], head[2 * i + 1]);
                    head[2 * i] = a * cos[i] - b * sin[i];
                    head[2 * i + 1] = a * sin[i] + b * cos[i];
                }
            }
        }
    }

    /// The rotary embedding of the new rows' queries and keys, then their keys and values
    /// stored in their sequences' caches (layer `l`): a sequence at a time on candle's pool
    /// when there are several. On the calling thread alone, storing 32 sequences' keys and
    /// values (a cache line missed for each head's) was 3% of a step while the pool waited.
    fn rotate_and_store(
        &self,
        l: usize,
        (q, k, v): (&mut [f32], &mut [f32], &[f32]),
        positions: &[usize],
        spans: &[(usize, usize, usize)],
        caches: &mut [&mut KvCache],
    ) {
        let c = self.config;
        let (d, kv) = (c.hidden, c.kv_dim());
        let (mut q_rest, mut k_rest) = (q, k);
        let mut slots = Vec::with_capacity(spans.len());
        for (&(start, len, _), cache) in spans.iter().zip(caches.iter_mut()) {
            let (qs, qr) = std::mem::take(&mut q_rest).split_at_mut(len * d);
            let (ks, kr) = std::mem::take(&mut k_rest).split_at_mut(len * kv);
            (q_rest, k_rest) = (qr, kr);
            let (vs, at) = (
                &v[start * kv..(start + len) * kv],
                &positions[start..start + len],
            );
            slots.push(Mutex::new((qs, ks, vs, at, &mut **cache)));
        }
        let work = |i: usize| {
            let mut slot = slots[i].lock().unwrap_or_else(|e| e.into_inner());
            let (qs, ks, vs, at, cache) = &mut *slot;
            self.rope(qs, at, c.heads);
            self.rope(ks, at, c.kv_heads);
            cache.push(l, ks, vs, c.kv_heads, c.head_dim());
        };
        match slots.len() < 4 {
            true => (0..slots.len()).for_each(work),
            false => {
                super::workers::pool().execute_chunked(slots.len(), |range| range.for_each(work))
            }
        }
    }

    /// Layers `which` of block `l` on the same rows `x` (`n x width`), each with its adapter:
    /// the rows are rounded once for all of them when the layers run on the packed kernels.
    fn linears(
        &self,
        l: usize,
        which: &[usize],
        x: &[f32],
        n: usize,
        adapters: Option<&Adapters>,
    ) -> Result<Vec<Vec<f32>>> {
        let linears = &self.blocks[l].linears;
        let width = x.len() / n;
        let rounded = match which.iter().all(|w| linears[*w].packed.is_some()) {
            true => Some(Rows::new(x, n, width)),
            false => None,
        };
        // The rows as a tensor, made only for a layer that needs one, once.
        let mut xt: Option<Tensor> = None;
        let mut outputs = Vec::with_capacity(which.len());
        for &w in which {
            let layer = &linears[w];
            // The quantized product, where the kernels apply.
            let packed = match (&rounded, &layer.packed) {
                (Some(r), Some(p)) => Some(p.matmul(r)),
                _ => None,
            };
            let Some(lora) = adapters.and_then(|a| a.get(l, w)) else {
                outputs.push(match packed {
                    Some(y) => y,
                    None => flat(&layer.forward(tensor(&mut xt, x, n)?)?)?,
                });
                continue;
            };
            let xt = tensor(&mut xt, x, n)?;
            let y = match packed {
                Some(y) => rows(&y, n, y.len() / n)?,
                None => layer.forward(xt)?,
            };
            outputs.push(flat(&lora.add_to(xt, &y).map_err(candle_err)?)?);
        }
        Ok(outputs)
    }

    /// Run `tokens[s]` (new tokens of sequence `s`) through the model after what `caches[s]`
    /// holds, appending to the caches; returns each sequence's logits after its last new token.
    pub fn forward(
        &self,
        tokens: &[&[u32]],
        caches: &mut [&mut KvCache],
        adapters: Option<&Adapters>,
    ) -> Result<Logits> {
        let _on_workers = super::workers::Decoding::enter();
        let c = self.config;
        let (d, hd) = (c.hidden, c.head_dim());
        let all: Vec<u32> = tokens.iter().flat_map(|t| t.iter().copied()).collect();
        let n = all.len();
        if n == 0 || tokens.iter().any(|t| t.is_empty()) {
            return Err(NovaError::invalid(
                "language model: a sequence has no new tokens",
            ));
        }
        let mut positions = Vec::with_capacity(n);
        let mut spans = Vec::with_capacity(tokens.len());
        for (t, cache) in tokens.iter().zip(caches.iter()) {
            let start = positions.len();
            positions.extend(cache.len..cache.len + t.len());
            spans.push((start, t.len(), cache.len));
        }
        if positions.iter().any(|p| *p >= self.max_positions()) {
            return Err(NovaError::invalid(format!(
                "language model: the conversation is longer than the model's {} positions",
                self.max_positions()
            )));
        }
        if let Some(bad) = all.iter().find(|id| **id as usize >= c.vocab) {
            return Err(NovaError::invalid(format!(
                "language model: token id {bad} is outside the vocabulary"
            )));
        }
        let eps = c.rms_eps as f32;
        let mut h = self.embed(&all)?;
        for l in 0..c.layers {
            let block = &self.blocks[l];
            let mut x = h.clone();
            rms_norm(&mut x, &block.attn_norm, eps);
            let [mut q, mut k, v]: [Vec<f32>; 3] = self
                .linears(l, &[0, 1, 2], &x, n, adapters)?
                .try_into()
                .map_err(|_| NovaError::invalid("language model: three projections expected"))?;
            self.rotate_and_store(l, (&mut q, &mut k, &v), &positions, &spans, caches);
            // Attention, one (row, key/value head) at a time over that row's sequence: the
            // query heads that share a key/value head are done together, reading its keys and
            // values once. With few rows, a query head at a time, so that both cores have work
            // (one row has only 3 key/value heads).
            let group = c.heads / c.kv_heads;
            let together = if n * c.kv_heads >= 8 { group } else { 1 };
            let scale = 1.0 / (hd as f32).sqrt();
            let mut out = vec![0f32; n * d];
            let seq_of: Vec<usize> = spans
                .iter()
                .enumerate()
                .flat_map(|(s, (_, len, _))| std::iter::repeat_n(s, *len))
                .collect();
            let caches_ref: Vec<&KvCache> = caches.iter().map(|c| &**c).collect();
            // `together` query heads of one row a chunk of `out`, on the workers.
            super::pool::for_each_chunk(&mut out, together * hd, |i, o| {
                let per_row = c.heads / together;
                let (row, first_head) = (i / per_row, (i % per_row) * together);
                let cache = caches_ref[seq_of[row]];
                let visible = positions[row] + 1;
                let at = row * d + first_head * hd;
                let kv_head = first_head / group;
                let head = super::attend::Head {
                    keys: &cache.keys[l][kv_head],
                    values: &cache.values[l][kv_head],
                    stride: hd,
                    offset: 0,
                };
                super::attend::attend(&q[at..at + together * hd], &head, visible, scale, hd, o);
            });
            let attn = self.linears(l, &[3], &out, n, adapters)?.remove(0);
            for (h, a) in h.iter_mut().zip(attn) {
                *h += a;
            }
            let mut x = h.clone();
            rms_norm(&mut x, &block.ffn_norm, eps);
            let mut gate_up = self.linears(l, &[4, 5], &x, n, adapters)?;
            let up = gate_up.pop().unwrap_or_default();
            let mut gate = gate_up.pop().unwrap_or_default();
            silu_mul(&mut gate, &up);
            let down = self.linears(l, &[6], &gate, n, adapters)?.remove(0);
            for (h, a) in h.iter_mut().zip(down) {
                *h += a;
            }
        }
        for (s, (_, len, _)) in spans.iter().enumerate() {
            caches[s].len += len;
        }
        // Logits after each sequence's last new token.
        let mut last = Vec::with_capacity(spans.len() * d);
        for (start, len, _) in &spans {
            last.extend_from_slice(&h[(start + len - 1) * d..(start + len) * d]);
        }
        rms_norm(&mut last, &self.final_norm, eps);
        let values = match &self.head.packed {
            Some(p) if p.inputs() == d => p.matmul(&Rows::new(&last, spans.len(), d)),
            _ => flat(&self.head.forward(&rows(&last, spans.len(), d)?)?)?,
        };
        Ok(Logits {
            vocab: values.len() / spans.len(),
            values,
        })
    }
}
