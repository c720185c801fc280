//! Reinforcement fine-tuning of the language model: group-relative policy optimisation (GRPO,
//! as in DeepSeekMath) over sampled completions. For each prompt the job samples a group of
//! answers (its `trainingSamplePerPrompt`), the Lambda grader scores them, and each answer's
//! advantage is its reward's distance from the group's mean in standard deviations. The
//! adapters then take [`INNER_STEPS`] AdamW steps on the clipped surrogate
//! `min(r A, clip(r, 1 - EPSILON, 1 + EPSILON) A) - BETA * KL(policy || base)` per answer
//! token, `r` the ratio of the answer's probability now to when it was sampled.
//!
//! A group's answers share their prompt, so each group's prompt runs once in the training pass
//! ([`DenseLlama::target_logprobs`] shares a batch's common prefix), and gradients are added up
//! group by group, so one group's activations are in memory at a time. A batch's answers are
//! sampled through the batched decoding engine, each prompt computed once for its group.

use super::family::{LanguageModel, LoraModel};
use super::generate::GenerationParams;
use super::lora::{Adapters, LoraConfig};
use super::model::candle_err;
use super::passes::GradSum;
use super::train::{DenseLlama, Example, LORA_RATE_SCALE};
use crate::family::{Policy, PromptGroup, TunedModel};
use crate::sampling::Sampling;
use crate::Prompt;
use candle_core::{Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use nova_ft_data::cpython_random::CPythonRandom;
use nova_ft_data::error::Result;
use std::sync::Arc;

/// PPO's clip range, DeepSeekMath's value.
pub const EPSILON: f64 = 0.2;
/// Weight of the KL penalty towards the base model, DeepSeekMath's value.
pub const BETA: f64 = 0.04;
/// Optimisation steps per sampled batch. One, as Hugging Face TRL's GRPO trainer does by
/// default (`num_iterations=1`): the ratio is then 1 at the step and the objective is the
/// advantage-weighted log-likelihood with the KL term; more steps reuse the samples, where
/// clipping acts, at the cost of a forward and backward pass each.
pub const INNER_STEPS: usize = 1;
/// Longest sampled answer, unless the job says otherwise.
pub const MAX_ANSWER_TOKENS: usize = 128;

pub struct LmPolicy {
    lm: Arc<LanguageModel>,
    dense: DenseLlama,
    /// Trainable adapters (the tensors share storage with `vars`).
    adapters: Adapters,
    /// The base model: no adapters, for the KL term.
    base: Adapters,
    vars: Vec<Var>,
    optimizer: Option<AdamW>,
    prompts: Vec<(String, Vec<(String, String)>)>,
    /// Longest sampled answer.
    pub max_answer_tokens: usize,
}

impl LmPolicy {
    pub fn new(
        lm: Arc<LanguageModel>,
        lora: LoraConfig,
        prompts: &[Prompt<'_>],
    ) -> Result<LmPolicy> {
        let dense = DenseLlama::new(&lm.llama)?;
        let trainable = Adapters::trainable(&lora, dense.layers(), &dense.dims(), 17, None)?;
        let base = Adapters {
            config: lora,
            layers: (0..dense.layers()).map(|_| Default::default()).collect(),
        };
        Ok(LmPolicy {
            lm,
            dense,
            adapters: trainable.adapters,
            base,
            vars: trainable.vars,
            optimizer: None,
            prompts: prompts
                .iter()
                .map(|p| (p.system.to_string(), p.turns.to_vec()))
                .collect(),
            max_answer_tokens: MAX_ANSWER_TOKENS,
        })
    }

    /// Answers to `prompts` (one each, seeds in order), decoded together by an engine
    /// serving the current adapters. The whole prompt but its last token is the engine's
    /// cached prefix, and requests go in order, so a group's answers compute their prompt
    /// once (one after another, each answer recomputed its 150-token prompt: 163 s for 64
    /// answers of 32 tokens here, 55-61 s this way).
    fn generate_many(&self, prompts: &[usize], sampling: Sampling, seeds: &[u64]) -> Vec<String> {
        let engine = self.lm.engine(Some(self.adapters.detached()));
        let pending: Vec<_> = prompts
            .iter()
            .zip(seeds)
            .map(|(&prompt, &seed)| {
                let (system, turns) = &self.prompts[prompt];
                let params = GenerationParams {
                    max_tokens: self.max_answer_tokens,
                    sampling,
                    stop_sequences: Vec::new(),
                    seed,
                    cancel: Default::default(),
                };
                let mut prefix = self.lm.prompt_ids(&Prompt { system, turns });
                let rest = prefix.split_off(prefix.len().saturating_sub(1));
                engine.submit(prefix, rest, params)
            })
            .collect();
        pending
            .into_iter()
            .map(|p| match p.and_then(|p| p.wait(&mut |_| {})) {
                Ok(g) => g.text,
                Err(e) => {
                    log::warn!("RFT sampling: {e}");
                    String::new()
                }
            })
            .collect()
    }

    /// The prompt followed by `answer` as a training example (targets: the answer's tokens).
    fn example(&self, prompt: usize, answer: &str) -> Example {
        let (system, turns) = &self.prompts[prompt];
        let mut record = nova_ft_data::dataset::record::Conversation {
            system: if system.is_empty() {
                vec![]
            } else {
                vec![system.clone()]
            },
            messages: Vec::new(),
        };
        for (role, text) in turns {
            record.messages.push(if role == "assistant" {
                nova_ft_data::dataset::record::Message::assistant(text.clone())
            } else {
                nova_ft_data::dataset::record::Message::user(text.clone())
            });
        }
        record
            .messages
            .push(nova_ft_data::dataset::record::Message::assistant(answer));
        let mut e = self.lm.example(&record, 1024);
        // Only the sampled answer is a target, not earlier assistant turns.
        let opening = self.lm.prompt_ids(&Prompt { system, turns }).len();
        for t in e.targets.iter_mut().take(opening.saturating_sub(1)) {
            *t = false;
        }
        e
    }

    fn step(
        &mut self,
        examples: &[Example],
        groups: &[std::ops::Range<usize>],
        advantages: &[f64],
        rate: f64,
    ) -> Result<()> {
        if self.optimizer.is_none() {
            let params = ParamsAdamW {
                lr: rate,
                weight_decay: 0.0,
                ..ParamsAdamW::default()
            };
            self.optimizer = Some(AdamW::new(self.vars.clone(), params).map_err(candle_err)?);
        }
        // Group by group, gradients added up: one group's activations in memory at a time.
        // `old[g]`: the probabilities group g's answers were sampled with, which the first
        // pass computes (the adapters have not moved yet).
        let mut old: Vec<Option<Tensor>> = vec![None; groups.len()];
        for _ in 0..INNER_STEPS {
            // The adapters' gradients summed over groups.
            let mut total = GradSum::new(&self.vars);
            for (g, range) in groups.iter().enumerate() {
                let refs: Vec<&Example> = examples[range.clone()].iter().collect();
                let (reference, owner) = self.dense.target_logprobs(&refs, &self.base)?;
                let reference = reference.detach();
                let (logp, _) = self.dense.target_logprobs(&refs, &self.adapters)?;
                let sampled = old[g].get_or_insert_with(|| logp.detach()).clone();
                // Each answer's tokens weigh 1/len, each answer 1/n over the whole batch:
                // the mean of per-answer means.
                let mut lengths = vec![0usize; refs.len()];
                for row in &owner {
                    lengths[*row] += 1;
                }
                let w: Vec<f32> = owner
                    .iter()
                    .map(|row| 1.0 / lengths[*row] as f32 / examples.len() as f32)
                    .collect();
                let adv: Vec<f32> = owner
                    .iter()
                    .map(|row| advantages[range.start + row] as f32)
                    .collect();
                let objective = || -> candle_core::Result<Tensor> {
                    let n = w.len();
                    let w = Tensor::from_vec(w.clone(), n, &Device::Cpu)?;
                    let adv = Tensor::from_vec(adv.clone(), n, &Device::Cpu)?;
                    let ratio = (&logp - &sampled)?.exp()?;
                    let unclipped = (&ratio * &adv)?;
                    let clipped = (ratio.clamp(1.0 - EPSILON, 1.0 + EPSILON)? * &adv)?;
                    let surrogate = unclipped.minimum(&clipped)?;
                    let diff = (&reference - &logp)?;
                    let kl = ((diff.exp()? - &diff)? - 1.0)?;
                    let per_token = (surrogate - (kl * BETA)?)?;
                    (per_token * &w)?.sum_all()?.neg()
                };
                let grads = objective()
                    .and_then(|loss| loss.backward())
                    .map_err(candle_err)?;
                total.add(&grads, &self.vars)?;
            }
            if let Some(optimizer) = self.optimizer.as_mut() {
                optimizer.set_learning_rate(rate);
                total.step(&self.vars, optimizer)?;
            }
        }
        Ok(())
    }
}

/// Sampling as the job samples: the model's distribution unchanged (temperature 1, no
/// truncation), so that the ratio and KL terms are about the policy itself.
const SAMPLING: Sampling = Sampling {
    temperature: 1.0,
    top_p: 1.0,
    top_k: 0,
};

impl Policy for LmPolicy {
    fn sample(&self, prompt: usize, random: &mut CPythonRandom) -> String {
        self.sample_many(&[prompt], random)
            .pop()
            .unwrap_or_default()
    }

    fn sample_many(&self, prompts: &[usize], random: &mut CPythonRandom) -> Vec<String> {
        let seeds: Vec<u64> = prompts.iter().map(|_| random.getrandbits(64)).collect();
        self.generate_many(prompts, SAMPLING, &seeds)
    }

    fn greedy(&self, prompt: usize) -> String {
        self.greedy_many(&[prompt]).pop().unwrap_or_default()
    }

    fn greedy_many(&self, prompts: &[usize]) -> Vec<String> {
        self.generate_many(prompts, Sampling::GREEDY, &vec![0; prompts.len()])
    }

    fn learn(&mut self, batch: &[PromptGroup<'_>], learning_rate: f64) -> usize {
        let mut examples = Vec::new();
        let mut advantages = Vec::new();
        let mut groups = Vec::new();
        for g in batch {
            let n = g.rewards.len().max(1) as f64;
            let mean = g.rewards.iter().sum::<f64>() / n;
            let std = (g.rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
            if std < 1e-9 {
                continue;
            }
            let start = examples.len();
            for (answer, reward) in g.answers.iter().zip(g.rewards) {
                let e = self.example(g.prompt, answer);
                if e.targets.iter().any(|t| *t) {
                    examples.push(e);
                    advantages.push((reward - mean) / (std + 1e-4));
                }
            }
            if examples.len() > start {
                groups.push(start..examples.len());
            }
        }
        if examples.is_empty() {
            return 0;
        }
        if let Err(e) = self.step(
            &examples,
            &groups,
            &advantages,
            learning_rate * LORA_RATE_SCALE,
        ) {
            log::warn!("RFT step: {e}");
            return 0;
        }
        groups.len()
    }

    fn describe(&self) -> String {
        format!(
            "local language model {} with LoRA adapters trained by GRPO (rank {}): a real small model standing in for Nova, not Amazon Nova",
            self.lm.name, self.adapters.config.rank
        )
    }

    fn into_model(self: Box<Self>) -> Box<dyn TunedModel> {
        Box::new(LoraModel::new(
            Arc::clone(&self.lm),
            self.adapters.detached(),
        ))
    }
}
