//! A training step in passes: a batch too large for memory in one forward and backward pass
//! goes through a few examples at a time ([`passes`]), and the adapters' gradients of the
//! passes add up ([`GradSum`]) to the whole batch's before one optimiser step. LoRA training
//! and GRPO both step this way.

use super::model::candle_err;
use super::train::Example;
use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use candle_nn::Optimizer;
use nova_ft_data::error::Result;

/// Gradients of the adapters' variables added up over several backward passes, each pass's
/// graph (and its store, which also holds gradients of tensors outside the adapters) dropped
/// before the next: one part's activations in memory at a time.
pub struct GradSum {
    sums: Vec<Option<Tensor>>,
}

impl GradSum {
    pub fn new(vars: &[Var]) -> GradSum {
        GradSum {
            sums: vec![None; vars.len()],
        }
    }

    /// Add the adapters' gradients from one backward pass.
    pub fn add(&mut self, grads: &GradStore, vars: &[Var]) -> Result<()> {
        for (sum, var) in self.sums.iter_mut().zip(vars) {
            if let Some(g) = grads.get(var.as_tensor()) {
                *sum = Some(match sum.take() {
                    Some(s) => (s + g).map_err(candle_err)?,
                    None => g.clone(),
                });
            }
        }
        Ok(())
    }

    /// One step of `optimizer` on the sums. Its API takes a store from a backward pass, so
    /// the store comes from `sum(var * g)`, whose gradient for each variable is exactly `g`.
    pub fn step(self, vars: &[Var], optimizer: &mut impl Optimizer) -> Result<()> {
        let mut surrogate: Option<Tensor> = None;
        for (sum, var) in self.sums.iter().zip(vars) {
            if let Some(g) = sum {
                let term = (var.as_tensor() * g.detach())
                    .and_then(|t| t.sum_all())
                    .map_err(candle_err)?;
                surrogate = Some(match surrogate.take() {
                    Some(s) => (s + term).map_err(candle_err)?,
                    None => term,
                });
            }
        }
        if let Some(surrogate) = surrogate {
            let grads = surrogate.backward().map_err(candle_err)?;
            optimizer.step(&grads).map_err(candle_err)?;
        }
        Ok(())
    }
}

/// Tokens of a training pass at most (padded rows x length), unless one example is longer: at
/// the backward pass's peak SmolLM2 in f32 holds about 4 MB a token (a pass of one 443-token
/// record took a process from 0.76 to 2.6 GB). Attention keeps no score matrix
/// ([`super::attention`]), so memory grows with the tokens, not their squares. 768 keeps a
/// batch of the tutorial's 8 short rows in one pass (their shared prefix runs once) and
/// trains rows longer than 384 tokens one at a time: two of 443 in one pass were 5% faster
/// for 2.2 GB more.
pub const PASS_TOKENS: usize = 768;

/// `batch` cut into passes that each fit [`PASS_TOKENS`] (padding to the longest row
/// counted), in order; a short batch (the tutorial's rows) is one pass.
pub fn passes<'a, 'e>(batch: &'a [&'e Example]) -> Vec<&'a [&'e Example]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut longest = 0usize;
    for (i, e) in batch.iter().enumerate() {
        let longer = longest.max(e.ids.len());
        let rows = i + 1 - start;
        if rows > 1 && rows * longer > PASS_TOKENS {
            out.push(&batch[start..i]);
            start = i;
            longest = e.ids.len();
        } else {
            longest = longer;
        }
    }
    if start < batch.len() {
        out.push(&batch[start..]);
    }
    out
}
