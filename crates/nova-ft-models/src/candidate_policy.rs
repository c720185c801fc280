//! Reinforcement fine-tuning on free-text tasks (text-to-SQL, arithmetic, extraction): a
//! policy over the answers the stand-in can give a prompt ([`candidates`]), learned from the
//! grader's rewards alone, by the same batched GRPO step as the label policy
//! ([`crate::reward_policy`]: group-relative advantages, a KL pull to the base, Adam).
//!
//! A candidate's logit is the base prior (the base reader's answer starts ahead by
//! [`reward_policy::PRIOR`]) plus the weights of every (prompt word, candidate feature) pair:
//! it learns, for instance, that a question with "many" wants `COUNT(*)`, or that "more"
//! between two numbers wants their sum, from which sampled answers the grader rewarded.

use super::candidates::{candidates, Candidate};
use super::grpo::{draw, logit_gradient, most_likely, AdamStep};
use super::reward_policy::{self, ADAM_EPSILON, KL_WEIGHT};
use super::text::{softmax_in_place, stem, words};
use nova_ft_data::cpython_random::CPythonRandom;
use rustc_hash::{FxHashMap, FxHasher};
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CandidatePolicy {
    /// Per hashed (prompt word, candidate feature) pair.
    weights: FxHashMap<u64, f32>,
}

/// One prompt as the policy reads it: its candidates, each with its hashed feature pairs.
pub struct CandidateView {
    pub candidates: Vec<Candidate>,
    pairs: Vec<Vec<u64>>,
    prior: Vec<f32>,
    scale: f32,
}

/// Adam's moments (training state only).
#[derive(Debug, Default)]
pub struct CandidateOptimizer {
    steps: i32,
    moments: FxHashMap<u64, (f32, f32)>,
}

/// One prompt's sampled candidates (indexes into its view) and their rewards.
pub struct CandidateGroup<'a> {
    pub view: &'a CandidateView,
    pub actions: &'a [usize],
    pub rewards: &'a [f64],
}

fn pair_id(word: &str, feature: &str) -> u64 {
    let mut h = FxHasher::default();
    word.hash(&mut h);
    feature.hash(&mut h);
    h.finish()
}

/// The prompt's words as the policy crosses them: the user text's stemmed words, once each,
/// and a token every prompt has (so a feature can be preferred everywhere).
fn prompt_words(user: &str) -> Vec<String> {
    let mut out: Vec<String> = words(user).iter().map(|w| stem(w)).collect();
    out.sort();
    out.dedup();
    out.push("<any>".to_string());
    out
}

impl CandidatePolicy {
    pub fn view(&self, system: &str, user: &str) -> CandidateView {
        let candidates = candidates(system, user);
        let prompt = prompt_words(user);
        let pairs = candidates
            .iter()
            .map(|c| {
                c.features
                    .iter()
                    .flat_map(|f| prompt.iter().map(move |w| pair_id(w, f)))
                    .collect()
            })
            .collect();
        let prior = (0..candidates.len())
            .map(|i| if i == 0 { reward_policy::PRIOR } else { 0.0 })
            .collect();
        CandidateView {
            candidates,
            pairs,
            prior,
            scale: 1.0 / (prompt.len() as f32).sqrt(),
        }
    }

    pub fn probabilities(&self, view: &CandidateView) -> Vec<f32> {
        let mut logits: Vec<f32> = view
            .pairs
            .iter()
            .zip(&view.prior)
            .map(|(pairs, prior)| {
                prior
                    + view.scale
                        * pairs
                            .iter()
                            .filter_map(|p| self.weights.get(p))
                            .sum::<f32>()
            })
            .collect();
        softmax_in_place(&mut logits);
        logits
    }

    pub fn greedy(&self, view: &CandidateView) -> usize {
        most_likely(&self.probabilities(view))
    }

    pub fn sample(&self, view: &CandidateView, random: &mut CPythonRandom) -> usize {
        draw(&self.probabilities(view), random)
    }

    /// One GRPO step over a batch; returns how many groups carried a learning signal.
    pub fn step(
        &mut self,
        groups: &[CandidateGroup<'_>],
        optimizer: &mut CandidateOptimizer,
        step: f64,
    ) -> usize {
        let batch = groups.len().max(1) as f32;
        let mut gradient: FxHashMap<u64, f32> = FxHashMap::default();
        let mut informative = 0;
        for group in groups {
            let view = group.view;
            let p = self.probabilities(view);
            let (per_candidate, signal) =
                logit_gradient(&p, &view.prior, group.actions, group.rewards, KL_WEIGHT);
            informative += usize::from(signal);
            for (pairs, g) in view.pairs.iter().zip(&per_candidate) {
                if g.abs() < 1e-9 {
                    continue;
                }
                for pair in pairs {
                    *gradient.entry(*pair).or_default() += g * view.scale / batch;
                }
            }
        }
        optimizer.steps += 1;
        let adam = AdamStep::new(optimizer.steps, step, ADAM_EPSILON);
        for (pair, g) in gradient {
            let (m, v) = optimizer.moments.entry(pair).or_default();
            *self.weights.entry(pair).or_default() += adam.delta(m, v, g);
        }
        informative
    }

    pub fn respond(&self, system: &str, user: &str) -> String {
        let view = self.view(system, user);
        view.candidates[self.greedy(&view)].text.clone()
    }

    pub fn describe(&self) -> String {
        format!(
            "policy over the answers the stand-in can give a free-text prompt (queries over its schema, arithmetic on its numbers, its sentences), learned from grader rewards by a group-relative policy gradient ({} word-feature weights), starting from the base reader",
            self.weights.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Addition and multiplication problems told apart by one word, which the policy learns
    /// from rewards alone.
    #[test]
    fn learns_which_operation_a_word_asks_for() {
        let mut random = CPythonRandom::new(3);
        let mut problems = Vec::new();
        for i in 0..200u32 {
            let (a, b) = (2 + i % 17, 3 + (i * 7) % 19);
            let (word, answer) = if i % 2 == 0 {
                ("plus", a + b)
            } else {
                ("times", a * b)
            };
            problems.push((format!("What is {a} {word} {b}?"), answer.to_string()));
        }
        let (train, test) = problems.split_at(160);
        let mut policy = CandidatePolicy::default();
        let accuracy = |policy: &CandidatePolicy| {
            test.iter()
                .filter(|(q, a)| policy.respond("", q) == *a)
                .count() as f64
                / test.len() as f64
        };
        let before = accuracy(&policy);
        let views: Vec<CandidateView> = train.iter().map(|(q, _)| policy.view("", q)).collect();
        let mut optimizer = CandidateOptimizer::default();
        for _ in 0..3 {
            for chunk in (0..train.len()).collect::<Vec<_>>().chunks(16) {
                let sampled: Vec<Vec<usize>> = chunk
                    .iter()
                    .map(|&i| {
                        (0..8)
                            .map(|_| policy.sample(&views[i], &mut random))
                            .collect()
                    })
                    .collect();
                let rewards: Vec<Vec<f64>> = chunk
                    .iter()
                    .zip(&sampled)
                    .map(|(&i, s)| {
                        s.iter()
                            .map(|&k| {
                                f64::from(u8::from(views[i].candidates[k].text == train[i].1))
                            })
                            .collect()
                    })
                    .collect();
                let groups: Vec<CandidateGroup<'_>> = chunk
                    .iter()
                    .zip(sampled.iter().zip(&rewards))
                    .map(|(&i, (s, r))| CandidateGroup {
                        view: &views[i],
                        actions: s,
                        rewards: r,
                    })
                    .collect();
                policy.step(&groups, &mut optimizer, 0.05);
            }
        }
        let after = accuracy(&policy);
        assert!(after >= 0.9 && after > before + 0.5, "{before} -> {after}");
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(
            serde_json::from_str::<CandidatePolicy>(&json).unwrap(),
            policy
        );
    }
}
