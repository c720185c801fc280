//! The reinforcement fine-tuning stand-in: a policy over the labels a system prompt lists,
//! learned from the grader's rewards alone (it never reads a reference answer).
//!
//! The policy starts as the base model: its logits are the base reader's label scores
//! ([`zero_shot::scores`]) times [`PRIOR`], so its most likely answer is the base model's
//! answer and the others are explored in proportion. Training adds a linear term over the
//! prompt's hashed n-grams and updates it by a group-relative policy gradient, as GRPO does
//! for Nova: for each prompt it samples `trainingSamplePerPrompt` answers, the grader scores
//! them, each answer's advantage is its reward minus the group's mean over the group's
//! standard deviation, and the log-probability of each answer moves by advantage times step.
//!
//! Answers are closed-set: a prompt whose system prompt lists no labels has nothing to sample
//! from here, and the job says so (see [`RewardPolicy::action_labels`]).

use super::classifier::Classifier;
use super::text::{softmax_in_place, to_unit_length};
use super::zero_shot;
use nova_ft_data::cpython_random::CPythonRandom;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Weight of the base reader's scores (0..1 per label) in the logits: with one label matched
/// and 25 not, the base answer starts with about two thirds of the probability.
pub const PRIOR: f32 = 4.0;
/// RFT's learning rate (1e-7..1e-3) times this is the policy-gradient step.
pub const LEARNING_RATE_SCALE: f64 = 50_000.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardPolicy {
    /// Every label a training prompt listed (a prompt samples among its own).
    pub labels: Vec<String>,
    bias: Vec<f32>,
    /// Per hashed n-gram: one weight per label.
    weights: FxHashMap<u32, Vec<f32>>,
}

/// One prompt as the policy reads it: its labels (indexes into the policy's), its features
/// and the base reader's scores of those labels.
pub struct PromptView {
    pub actions: Vec<usize>,
    features: Vec<(u32, f32)>,
    prior: Vec<f32>,
}

fn unit_length(mut features: Vec<(u32, f32)>) -> Vec<(u32, f32)> {
    to_unit_length(&mut features);
    features
}

impl RewardPolicy {
    /// The labels a system prompt offers, if it lists any.
    pub fn action_labels(system: &str) -> Option<Vec<String>> {
        zero_shot::label_list(system).filter(|l| l.len() >= 2)
    }

    /// A policy equal to the base model over every label of these system prompts.
    pub fn new(systems: &[&str]) -> RewardPolicy {
        let mut labels: Vec<String> = systems
            .iter()
            .filter_map(|s| Self::action_labels(s))
            .flatten()
            .collect();
        labels.sort();
        labels.dedup();
        RewardPolicy {
            bias: vec![0.0; labels.len()],
            labels,
            weights: FxHashMap::default(),
        }
    }

    pub fn view(&self, system: &str, user: &str) -> Option<PromptView> {
        let own = Self::action_labels(system)?;
        let actions: Vec<usize> = own
            .iter()
            .filter_map(|l| self.labels.binary_search(l).ok())
            .collect();
        if actions.len() < 2 {
            return None;
        }
        let names: Vec<String> = actions.iter().map(|i| self.labels[*i].clone()).collect();
        let prior = zero_shot::scores(&names, user, false)
            .into_iter()
            .map(|s| s as f32 * PRIOR)
            .collect();
        Some(PromptView {
            actions,
            features: unit_length(Classifier::featurize(system, user)),
            prior,
        })
    }

    /// The probability of each of the prompt's actions.
    pub fn probabilities(&self, view: &PromptView) -> Vec<f32> {
        let mut logits: Vec<f32> = view
            .actions
            .iter()
            .zip(&view.prior)
            .map(|(a, p)| p + self.bias[*a])
            .collect();
        for (bucket, x) in &view.features {
            if let Some(row) = self.weights.get(bucket) {
                for (logit, a) in logits.iter_mut().zip(&view.actions) {
                    *logit += row[*a] * x;
                }
            }
        }
        softmax_in_place(&mut logits);
        logits
    }

    /// The most likely action (the first on ties, as the base reader picks).
    pub fn greedy(&self, view: &PromptView) -> usize {
        let p = self.probabilities(view);
        let mut best = 0;
        for (i, v) in p.iter().enumerate() {
            if *v > p[best] {
                best = i;
            }
        }
        view.actions[best]
    }

    /// Draw an action from the policy.
    pub fn sample(&self, view: &PromptView, random: &mut CPythonRandom) -> usize {
        let p = self.probabilities(view);
        let mut u = (random.getrandbits(24) as f32) / (1u32 << 24) as f32;
        for (i, v) in p.iter().enumerate() {
            if u < *v {
                return view.actions[i];
            }
            u -= v;
        }
        *view.actions.last().expect("at least two actions")
    }

    /// One policy-gradient step for a prompt's group of sampled actions and their rewards:
    /// raises the log-probability of each action by its group-relative advantage times `step`.
    /// Returns false when the group says nothing (all rewards equal).
    pub fn update(
        &mut self,
        view: &PromptView,
        actions: &[usize],
        rewards: &[f64],
        step: f64,
    ) -> bool {
        let n = rewards.len().max(1) as f64;
        let mean = rewards.iter().sum::<f64>() / n;
        let std = (rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
        if std < 1e-9 {
            return false;
        }
        let p = self.probabilities(view);
        for (action, reward) in actions.iter().zip(rewards) {
            let advantage = ((reward - mean) / std * step / n) as f32;
            for (k, a) in view.actions.iter().enumerate() {
                let indicator = if a == action { 1.0 } else { 0.0 };
                let delta = (indicator - p[k]) * advantage;
                self.bias[*a] += delta;
                for (bucket, x) in &view.features {
                    let labels = self.labels.len();
                    let row = self
                        .weights
                        .entry(*bucket)
                        .or_insert_with(|| vec![0.0; labels]);
                    row[*a] += delta * x;
                }
            }
        }
        true
    }

    pub fn respond(&self, system: &str, user: &str) -> String {
        match self.view(system, user) {
            Some(view) => self.labels[self.greedy(&view)].clone(),
            None => zero_shot::respond(system, user, false),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "policy over {} labels learned from grader rewards by a group-relative policy gradient ({} n-gram rows), starting from the base reader",
            self.labels.len(),
            self.weights.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSTEM: &str =
        "Classify the request. Answer with one label from: flight, airfare, ground_service";

    #[test]
    fn starts_as_the_base_model_and_learns_from_rewards_alone() {
        let policy = RewardPolicy::new(&[SYSTEM]);
        assert_eq!(policy.labels.len(), 3, "{:?}", policy.labels);
        // The base reader cannot tell that "how much" asks for a fare without the word.
        let user = "how much does it cost to go from boston to denver";
        let base = zero_shot::respond(SYSTEM, user, false);
        assert_eq!(policy.respond(SYSTEM, user), base);
        let mut policy = policy;
        let mut random = CPythonRandom::new(1);
        let view = policy.view(SYSTEM, user).unwrap();
        for _ in 0..60 {
            let actions: Vec<usize> = (0..4).map(|_| policy.sample(&view, &mut random)).collect();
            // The grader: 1 for airfare, 0 otherwise. The policy is never told the label.
            let rewards: Vec<f64> = actions
                .iter()
                .map(|a| f64::from(u8::from(policy.labels[*a] == "airfare")))
                .collect();
            policy.update(&view, &actions, &rewards, 0.5);
        }
        assert_eq!(policy.respond(SYSTEM, user), "airfare");
        let json = serde_json::to_string(&policy).unwrap();
        let back: RewardPolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, policy);
    }

    #[test]
    fn prompts_without_a_label_list_have_no_actions() {
        assert!(RewardPolicy::action_labels("You write SQL for the schema given.").is_none());
    }
}
