//! The reinforcement fine-tuning stand-in: a policy over the labels a system prompt lists,
//! learned from the grader's rewards alone (it never reads a reference answer).
//!
//! The policy starts as the base model: its logits are the base reader's label scores
//! ([`zero_shot::scores`]) times [`PRIOR`], so its most likely answer is the base model's
//! answer and the others are explored in proportion. Training adds a linear term over the
//! prompt's hashed n-grams, learned as GRPO learns for Nova, one step per batch:
//! - for each prompt of the batch, `trainingSamplePerPrompt` answers are sampled and graded;
//!   each answer's advantage is its reward minus the group's mean, over the group's standard
//!   deviation (a group whose rewards are all equal teaches nothing);
//! - the gradient is the advantage-weighted log-probability gradient, averaged over the batch,
//!   plus a KL term pulling towards the base model's distribution ([`KL_WEIGHT`]), which keeps
//!   the policy from collapsing onto one answer for every prompt;
//! - Adam applies it, with RFT's `learningRate` times [`LEARNING_RATE_SCALE`] as its step.
//!   One update per batch of fresh samples makes the probability ratio 1, so PPO's clipping
//!   never binds and is left out.
//!
//! Answers are closed-set: a prompt whose system prompt lists no labels has nothing to sample
//! from here, and the job says so (see [`RewardPolicy::action_labels`]).

use super::classifier::Classifier;
use super::grpo::{draw, logit_gradient, most_likely, AdamStep};
use super::text::{softmax_in_place, to_unit_length};
use super::zero_shot;
use nova_ft_data::cpython_random::CPythonRandom;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Weight of the base reader's scores (0..1 per label) in the logits: with one label matched
/// and 25 not, the base answer starts with about two thirds of the probability. Chosen with
/// [`KL_WEIGHT`] on ATIS train and valid (`rft_sweep --priors 2,4,8 --kls 0.02,0.05,0.2
/// --seeds 2`): priors 2 and 4 with KL 0.05 tied on the worst grid cell (87.1%, 87.0%), 8 and
/// KL 0.2 were worse (84.0%, 83.5%).
pub const PRIOR: f32 = 4.0;
/// RFT's learning rate (1e-7..1e-3) times this is Adam's step, per weight and batch.
///
/// It and [`ADAM_EPSILON`] were chosen together on ATIS train and valid only, as the pair
/// with the best worst cell over learning rates 1e-5..1e-4 and batch sizes 16..128 (`cargo
/// run --release -p nova-ft-models --example rft_sweep -- TRAIN VALID --seeds 3`): x 1,000
/// with Adam's usual 1e-8 fell to 84.9% at learning rate 1e-4 and batch 16 (rarely seen
/// n-grams took full-size steps); this pair's worst cell was 87.1%.
pub const LEARNING_RATE_SCALE: f64 = 2_000.0;
/// Weight of the KL term to the base model's distribution, against advantages of about one.
pub const KL_WEIGHT: f32 = 0.05;
/// Adam's epsilon, large enough that a weight seen in few batches moves less than one seen
/// in many (see [`LEARNING_RATE_SCALE`]).
pub const ADAM_EPSILON: f32 = 1e-4;

/// Adam's moments for the policy's weights, and the KL weight (training state only: not part
/// of the model).
#[derive(Debug)]
pub struct Optimizer {
    steps: i32,
    moments: FxHashMap<u32, (Vec<f32>, Vec<f32>)>,
    pub kl_weight: f32,
}

impl Default for Optimizer {
    fn default() -> Self {
        Optimizer {
            steps: 0,
            moments: FxHashMap::default(),
            kl_weight: KL_WEIGHT,
        }
    }
}

/// One prompt's group: the sampled actions and their rewards.
pub struct Group<'a> {
    pub view: &'a PromptView,
    pub actions: &'a [usize],
    pub rewards: &'a [f64],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardPolicy {
    /// Every label a training prompt listed (a prompt samples among its own).
    pub labels: Vec<String>,
    /// Per hashed n-gram: one weight per label.
    weights: FxHashMap<u32, Vec<f32>>,
    /// The base reader's weight in the logits ([`PRIOR`]; other values only to choose it).
    #[serde(default = "default_prior")]
    pub prior: f32,
}

fn default_prior() -> f32 {
    PRIOR
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
            prior: PRIOR,
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
        let prior = zero_shot::scores(&names, user)
            .into_iter()
            .map(|s| s as f32 * self.prior)
            .collect();
        Some(PromptView {
            actions,
            features: unit_length(Classifier::featurize(system, user)),
            prior,
        })
    }

    /// The probability of each of the prompt's actions.
    pub fn probabilities(&self, view: &PromptView) -> Vec<f32> {
        let mut logits = view.prior.clone();
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
        view.actions[most_likely(&self.probabilities(view))]
    }

    /// Draw an action from the policy.
    pub fn sample(&self, view: &PromptView, random: &mut CPythonRandom) -> usize {
        view.actions[draw(&self.probabilities(view), random)]
    }

    /// One GRPO step over a batch of groups (see the module's documentation). Returns how
    /// many groups carried a learning signal (rewards not all equal).
    pub fn step(&mut self, groups: &[Group<'_>], optimizer: &mut Optimizer, step: f64) -> usize {
        let labels = self.labels.len();
        let batch = groups.len().max(1) as f32;
        let mut gradient: FxHashMap<u32, Vec<f32>> = FxHashMap::default();
        let mut informative = 0;
        for group in groups {
            let p = self.probabilities(group.view);
            let sampled: Vec<usize> = group
                .actions
                .iter()
                .map(|a| group.view.actions.iter().position(|x| x == a).unwrap_or(0))
                .collect();
            let (per_action, signal) = logit_gradient(
                &p,
                &group.view.prior,
                &sampled,
                group.rewards,
                optimizer.kl_weight,
            );
            informative += usize::from(signal);
            for (bucket, x) in &group.view.features {
                let row = gradient.entry(*bucket).or_insert_with(|| vec![0.0; labels]);
                for (k, a) in group.view.actions.iter().enumerate() {
                    row[*a] += per_action[k] * x / batch;
                }
            }
        }
        optimizer.steps += 1;
        let adam = AdamStep::new(optimizer.steps, step, ADAM_EPSILON);
        for (bucket, g) in gradient {
            let (m, v) = optimizer
                .moments
                .entry(bucket)
                .or_insert_with(|| (vec![0.0; labels], vec![0.0; labels]));
            let w = self
                .weights
                .entry(bucket)
                .or_insert_with(|| vec![0.0; labels]);
            for a in 0..labels {
                // Lazy Adam: weights this batch did not touch keep still.
                if g[a] != 0.0 {
                    w[a] += adam.delta(&mut m[a], &mut v[a], g[a]);
                }
            }
        }
        informative
    }

    pub fn respond(&self, system: &str, user: &str) -> String {
        match self.view(system, user) {
            Some(view) => self.labels[self.greedy(&view)].clone(),
            None => zero_shot::respond(system, user),
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
        "Classify the request. Answer with one label from: billing, refund, shipping_status";

    #[test]
    fn starts_as_the_base_model_and_learns_from_rewards_alone() {
        let policy = RewardPolicy::new(&[SYSTEM]);
        assert_eq!(policy.labels.len(), 3, "{:?}", policy.labels);
        // The base reader cannot tell that "money back" asks for a refund without the word.
        let user = "when do I get my money back for the broken lamp";
        let base = zero_shot::respond(SYSTEM, user);
        assert_eq!(policy.respond(SYSTEM, user), base);
        let mut policy = policy;
        let mut optimizer = Optimizer::default();
        let mut random = CPythonRandom::new(1);
        let view = policy.view(SYSTEM, user).unwrap();
        for _ in 0..60 {
            let actions: Vec<usize> = (0..4).map(|_| policy.sample(&view, &mut random)).collect();
            // The grader: 1 for refund, 0 otherwise. The policy is never told the label.
            let rewards: Vec<f64> = actions
                .iter()
                .map(|a| f64::from(u8::from(policy.labels[*a] == "refund")))
                .collect();
            let group = Group {
                view: &view,
                actions: &actions,
                rewards: &rewards,
            };
            policy.step(&[group], &mut optimizer, 0.05);
        }
        assert_ne!(base, "refund");
        assert_eq!(policy.respond(SYSTEM, user), "refund");
        let json = serde_json::to_string(&policy).unwrap();
        let back: RewardPolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, policy);
    }

    #[test]
    fn prompts_without_a_label_list_have_no_actions() {
        assert!(RewardPolicy::action_labels("You write SQL for the schema given.").is_none());
    }
}
