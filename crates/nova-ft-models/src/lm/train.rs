//! LoRA training: the model in f32 with its weights frozen, adapters trained by AdamW on the
//! answer tokens only (the prompt is context, not a target), as PEFT does on a GPU.
//!
//! Bedrock's hyperparameters map to local ones in [`LocalSchedule::from_job`], the one place
//! that says how.

use super::attention::causal_attention;
use super::frozen::frozen_linear;
use super::fused::{rms_norm, rope, RopeTables};
use super::lora::{Adapters, LoraConfig};
use super::model::{candle_err, embed_rows, Llama, TARGETS};
use super::passes::{passes, GradSum};
use candle_core::quantized::QTensor;
use candle_core::{Device, Tensor, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use nova_ft_data::error::{NovaError, Result};
use std::sync::Arc;

/// The model's weights in f32, frozen, for training.
pub struct DenseLlama {
    config: super::gguf::Config,
    /// As the file stores it: rows are widened as a batch needs them, rather than keeping an
    /// f32 copy of the whole table (113 MB for SmolLM2) that only lookups read.
    embedding: Arc<QTensor>,
    head: Tensor,
    final_norm: Tensor,
    blocks: Vec<DenseBlock>,
    rope: RopeTables,
}

struct DenseBlock {
    attn_norm: Tensor,
    ffn_norm: Tensor,
    weights: Vec<Tensor>,
}

/// One training example: token ids and, per position, whether the next token is a target.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub ids: Vec<u32>,
    /// `targets[i]`: position `i` predicts `ids[i + 1]` and that counts in the loss.
    pub targets: Vec<bool>,
}

impl DenseLlama {
    pub fn new(model: &Llama) -> Result<DenseLlama> {
        let c = model.config;
        let vec = |v: &[f32]| Tensor::from_slice(v, v.len(), &Device::Cpu).map_err(candle_err);
        let mut blocks = Vec::with_capacity(c.layers);
        for b in &model.blocks {
            blocks.push(DenseBlock {
                attn_norm: vec(&b.attn_norm)?,
                ffn_norm: vec(&b.ffn_norm)?,
                weights: b.linears.iter().map(|l| l.dense()).collect::<Result<_>>()?,
            });
        }
        let embedding = model.embedding_table();
        let half = c.head_dim() / 2;
        let positions = model.max_positions();
        let (cos, sin) = c.rope_tables(positions);
        Ok(DenseLlama {
            config: c,
            head: model.head.dense()?,
            embedding,
            final_norm: vec(&model.final_norm)?,
            blocks,
            rope: RopeTables::new(cos, sin, half),
        })
    }

    /// Output and input width of each of a block's linear layers.
    pub fn dims(&self) -> [(usize, usize); 7] {
        self.config.linear_dims()
    }

    pub fn layers(&self) -> usize {
        self.config.layers
    }

    fn rms(&self, x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
        rms_norm(x, w, self.config.rms_eps)
    }

    fn rope(&self, x: &Tensor, start: usize) -> candle_core::Result<Tensor> {
        rope(x, &self.rope, start)
    }

    fn linear(
        &self,
        x: &Tensor,
        layer: usize,
        which: usize,
        adapters: &Adapters,
    ) -> candle_core::Result<Tensor> {
        let y = frozen_linear(x, &self.blocks[layer].weights[which])?;
        match adapters.get(layer, which) {
            Some(lora) => lora.add_to(x, &y),
            None => Ok(y),
        }
    }

    /// Final hidden states `(b * s, hidden)` of a padded batch `ids` `(b, s)` that all follow
    /// the same `prefix` (often the system prompt). The prefix runs once and every row attends
    /// to it: the same arithmetic as running it in each row, and gradients through it add up
    /// over the rows as they would.
    pub fn hidden(
        &self,
        prefix: &[u32],
        ids: &Tensor,
        adapters: &Adapters,
    ) -> candle_core::Result<Tensor> {
        let c = self.config;
        let (b, s) = ids.dims2()?;
        let p = prefix.len();
        let (d, hd, heads, kvh) = (c.hidden, c.head_dim(), c.heads, c.kv_heads);
        let rows = b * s;
        // The prefix's rows first, then the batch's.
        let all: Vec<u32> = prefix
            .iter()
            .copied()
            .chain(ids.flatten_all()?.to_vec1::<u32>()?)
            .collect();
        let mut h = Tensor::from_vec(
            embed_rows(&self.embedding, &all)?,
            (p + rows, d),
            &Device::Cpu,
        )?;
        for l in 0..c.layers {
            let blk = &self.blocks[l];
            let x = self.rms(&h, &blk.attn_norm)?;
            let q = self.linear(&x, l, 0, adapters)?;
            let k = self.linear(&x, l, 1, adapters)?;
            let v = self.linear(&x, l, 2, adapters)?;
            // Rows [0, p) are the prefix, then the batch's b x s.
            let split = |y: &Tensor, n: usize| -> candle_core::Result<(Option<Tensor>, Tensor)> {
                let batch = y
                    .narrow(0, p, rows)?
                    .reshape((b, s, n, hd))?
                    .transpose(1, 2)?
                    .contiguous()?;
                let pre = if p > 0 {
                    Some(
                        y.narrow(0, 0, p)?
                            .reshape((1, p, n, hd))?
                            .transpose(1, 2)?
                            .contiguous()?,
                    )
                } else {
                    None
                };
                Ok((pre, batch))
            };
            let (qp, qs) = split(&q, heads)?;
            let (kp, ks) = split(&k, kvh)?;
            let (vp, vs) = split(&v, kvh)?;
            let qs = self.rope(&qs, p)?;
            let ks = self.rope(&ks, p)?;
            let out = match (qp, kp, vp) {
                (Some(qp), Some(kp), Some(vp)) => {
                    let (qp, kp) = (self.rope(&qp, 0)?, self.rope(&kp, 0)?);
                    let pre = causal_attention(&qp, &kp, &vp, 0)?;
                    let shared = |t: &Tensor| t.broadcast_as((b, kvh, p, hd))?.contiguous();
                    let keys = Tensor::cat(&[&shared(&kp)?, &ks], 2)?;
                    let values = Tensor::cat(&[&shared(&vp)?, &vs], 2)?;
                    let batch = causal_attention(&qs, &keys, &values, p)?;
                    Tensor::cat(
                        &[
                            &pre.transpose(1, 2)?.reshape((p, d))?,
                            &batch.transpose(1, 2)?.reshape((rows, d))?,
                        ],
                        0,
                    )?
                }
                _ => causal_attention(&qs, &ks, &vs, 0)?
                    .transpose(1, 2)?
                    .reshape((rows, d))?,
            };
            h = (h + self.linear(&out, l, 3, adapters)?)?;
            let x = self.rms(&h, &blk.ffn_norm)?;
            let gate = self.linear(&x, l, 4, adapters)?;
            let up = self.linear(&x, l, 5, adapters)?;
            let act = (gate.silu()? * up)?;
            h = (h + self.linear(&act, l, 6, adapters)?)?;
        }
        self.rms(&h.narrow(0, p, rows)?, &self.final_norm)
    }

    /// Logits `(b * t, vocab)` for a padded batch of ids `(b, t)`.
    pub fn logits(&self, ids: &Tensor, adapters: &Adapters) -> candle_core::Result<Tensor> {
        let h = self.hidden(&[], ids, adapters)?;
        frozen_linear(&h, &self.head)
    }

    /// Log-probabilities of the target tokens of `batch`, one per target position in row
    /// order, with the row each belongs to. Rows share their longest common prefix that holds
    /// no target ([`DenseLlama::hidden`]); logits are computed only where a target is.
    pub fn target_logprobs(
        &self,
        batch: &[&Example],
        adapters: &Adapters,
    ) -> Result<(Tensor, Vec<usize>)> {
        let shortest = batch.iter().map(|e| e.ids.len()).min().unwrap_or(0);
        let mut p = 0;
        while p + 1 < shortest
            && batch
                .iter()
                .all(|e| e.ids[p] == batch[0].ids[p] && !e.targets[p])
        {
            p += 1;
        }
        let s = batch.iter().map(|e| e.ids.len()).max().unwrap_or(0) - p;
        let mut ids = Vec::with_capacity(batch.len() * s);
        let mut at = Vec::new();
        let mut next = Vec::new();
        let mut owner = Vec::new();
        for (row, e) in batch.iter().enumerate() {
            for i in 0..s {
                let k = p + i;
                ids.push(e.ids.get(k).copied().unwrap_or(0));
                if e.targets.get(k).copied().unwrap_or(false) && k + 1 < e.ids.len() {
                    at.push((row * s + i) as u32);
                    next.push(e.ids[k + 1]);
                    owner.push(row);
                }
            }
        }
        if at.is_empty() {
            return Err(NovaError::invalid(
                "no answer tokens to learn from in this batch",
            ));
        }
        let n = at.len();
        let run = || -> candle_core::Result<Tensor> {
            let ids = Tensor::from_vec(ids, (batch.len(), s), &Device::Cpu)?;
            let hidden = self.hidden(&batch[0].ids[..p], &ids, adapters)?;
            let picked = hidden.index_select(&Tensor::from_vec(at, n, &Device::Cpu)?, 0)?;
            let logits = frozen_linear(&picked, &self.head)?;
            let lse = logits.log_sum_exp(D::Minus1)?;
            let next = Tensor::from_vec(next, (n, 1), &Device::Cpu)?;
            logits.gather(&next, 1)?.squeeze(1)? - lse
        };
        Ok((run().map_err(candle_err)?, owner))
    }

    /// Mean cross-entropy over the target positions of `batch`, and how many there are.
    pub fn loss(&self, batch: &[&Example], adapters: &Adapters) -> Result<(Tensor, usize)> {
        let (logp, owner) = self.target_logprobs(batch, adapters)?;
        let count = owner.len();
        let loss = logp
            .sum_all()
            .and_then(|l| l / -(count as f64))
            .map_err(candle_err)?;
        Ok((loss, count))
    }
}

/// How a job's hyperparameters become the local training run. The one place that says so.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalSchedule {
    pub epochs: u32,
    /// AdamW's learning rate for the adapters.
    pub learning_rate: f64,
    pub warmup_steps: u32,
    /// Examples per step.
    pub batch_size: usize,
    /// Longer examples keep their first tokens up to this many (the answer's end may be cut).
    pub max_tokens: usize,
}

/// Bedrock's learning rates for Nova (1e-6 to 1e-4, default 1e-5) are full-model rates; LoRA
/// adapters learn at rates about 50 times larger (PEFT's usual 1e-4 to 1e-3), so the job's
/// rate is multiplied by this. Set from that common practice, not tuned on any data set.
pub const LORA_RATE_SCALE: f64 = 50.0;

impl LocalSchedule {
    /// The job's epochs and warm-up steps as they are; its learning rate times
    /// [`LORA_RATE_SCALE`]; 8 examples per step; examples cut at 512 tokens.
    pub fn from_job(config: &crate::TrainingConfig) -> LocalSchedule {
        LocalSchedule {
            epochs: config.epochs.max(1),
            learning_rate: config.learning_rate * LORA_RATE_SCALE,
            warmup_steps: config.warmup_steps,
            batch_size: 8,
            max_tokens: 512,
        }
    }
}

/// A LoRA training run's result.
pub struct LoraRun {
    pub adapters: Adapters,
    /// (step, epoch, training loss).
    pub training_loss: Vec<(usize, u32, f64)>,
    /// (step, epoch, validation loss), one per epoch.
    pub validation_loss: Vec<(usize, u32, f64)>,
    pub tokens_trained: usize,
}

/// Mean loss over `examples` (no gradients).
pub fn evaluate(
    dense: &DenseLlama,
    adapters: &Adapters,
    examples: &[Example],
    batch_size: usize,
) -> Result<f64> {
    let mut total = 0.0;
    let mut count = 0usize;
    for chunk in examples.chunks(batch_size.max(1)) {
        let refs: Vec<&Example> = chunk.iter().collect();
        for part in passes(&refs) {
            if part.iter().all(|e| targets(e) == 0) {
                continue;
            }
            let (loss, n) = dense.loss(part, adapters)?;
            total += loss.to_scalar::<f32>().map_err(candle_err)? as f64 * n as f64;
            count += n;
        }
    }
    Ok(if count == 0 {
        f64::NAN
    } else {
        total / count as f64
    })
}

/// What a LoRA training run is given.
pub struct LoraJob<'a> {
    pub lora: &'a LoraConfig,
    pub schedule: LocalSchedule,
    pub train: &'a [Example],
    pub validation: &'a [Example],
    /// Orders the examples and draws the fresh adapters.
    pub seed: u64,
    /// Adapters to continue from (iterative fine-tuning).
    pub start: Option<&'a Adapters>,
}

/// Train adapters as `job` says, reporting each step's loss to `on_step` (step, epoch, loss).
pub fn train_lora(
    dense: &DenseLlama,
    job: LoraJob<'_>,
    on_step: &mut dyn FnMut(usize, u32, f64),
) -> Result<LoraRun> {
    let LoraJob {
        lora,
        schedule,
        train,
        validation,
        seed,
        start,
    } = job;
    if train.is_empty() {
        return Err(NovaError::invalid("no training examples"));
    }
    let dims = dense.dims();
    if let Some(start) = start {
        start.check_fits(dense.layers(), &dims, "the parent model's adapters")?;
    }
    let trainable = Adapters::trainable(lora, dense.layers(), &dims, seed, start)?;
    let params = ParamsAdamW {
        lr: schedule.learning_rate,
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    };
    let mut optimizer = AdamW::new(trainable.vars.clone(), params).map_err(candle_err)?;
    let mut random = crate::sampling::SplitMix::new(seed ^ 0x5EED);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut step = 0usize;
    let mut training_loss = Vec::new();
    let mut validation_loss = Vec::new();
    let mut tokens = 0usize;
    for epoch in 1..=schedule.epochs {
        // Fisher-Yates with the run's seed.
        for i in (1..order.len()).rev() {
            let j = (random.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        for chunk in order.chunks(schedule.batch_size.max(1)) {
            step += 1;
            let warm = schedule.warmup_steps as f64;
            let rate = if warm > 0.0 && (step as f64) < warm {
                schedule.learning_rate * step as f64 / warm
            } else {
                schedule.learning_rate
            };
            optimizer.set_learning_rate(rate);
            let batch: Vec<&Example> = chunk.iter().map(|i| &train[*i]).collect();
            tokens += batch.iter().map(|e| e.ids.len()).sum::<usize>();
            // A batch whose answers were all cut away teaches nothing: skip it.
            let Some(value) = train_step(dense, &trainable, &mut optimizer, &batch)? else {
                continue;
            };
            training_loss.push((step, epoch, value));
            on_step(step, epoch, value);
        }
        if !validation.is_empty() {
            let loss = evaluate(dense, &trainable.adapters, validation, schedule.batch_size)?;
            validation_loss.push((step, epoch, loss));
        }
    }
    Ok(LoraRun {
        adapters: trainable.adapters.detached(),
        training_loss,
        validation_loss,
        tokens_trained: tokens,
    })
}

/// Answer tokens `e` teaches (each predicts the next token).
fn targets(e: &Example) -> usize {
    (0..e.ids.len().saturating_sub(1))
        .filter(|k| e.targets.get(*k).copied().unwrap_or(false))
        .count()
}

/// One optimiser step on `batch`: the mean cross-entropy over its answer tokens, computed and
/// differentiated pass by pass ([`passes`]) with the gradients added up; the loss, or `None`
/// when no answer token is left (answers cut away by the length limit).
fn train_step(
    dense: &DenseLlama,
    trainable: &super::lora::TrainableAdapters,
    optimizer: &mut AdamW,
    batch: &[&Example],
) -> Result<Option<f64>> {
    let total: usize = batch.iter().map(|e| targets(e)).sum();
    if total == 0 {
        return Ok(None);
    }
    let parts = passes(batch);
    let mut sum = GradSum::new(&trainable.vars);
    let mut loss = 0.0;
    for part in &parts {
        if part.iter().all(|e| targets(e) == 0) {
            continue;
        }
        let (logp, _) = dense.target_logprobs(part, &trainable.adapters)?;
        let share = logp
            .sum_all()
            .and_then(|l| l / -(total as f64))
            .map_err(candle_err)?;
        loss += share.to_scalar::<f32>().map_err(candle_err)? as f64;
        let grads = share.backward().map_err(candle_err)?;
        if parts.len() == 1 {
            optimizer.step(&grads).map_err(candle_err)?;
            return Ok(Some(loss));
        }
        sum.add(&grads, &trainable.vars)?;
    }
    sum.step(&trainable.vars, optimizer)?;
    Ok(Some(loss))
}

/// Names of the linear layers LoRA may target, for documentation and errors.
pub fn target_names() -> &'static [&'static str] {
    &TARGETS
}
