//! The local models behind the emulator's Nova ids. They are stand-ins, not Amazon Nova, and
//! every description says so.
//!
//! This file holds the interface the emulator calls (train from records, answer a prompt,
//! save and load an artifact) and the first, deliberately simple models:
//! - the base model answers with a fixed, labelled placeholder sentence;
//! - training builds an exact-match lookup from each training input to its most frequent
//!   answer, falling back to the most frequent answer overall.
//!
//! Stronger learners (a zero-shot baseline, an n-gram classifier, retrieval for SQL) replace
//! these behind the same interface.

use crate::core::dataset::record::Conversation;
use crate::core::error::{NovaError, Result};
use crate::core::fsio::write_atomically;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// One request to a model: system prompt and the conversation so far (role, text).
#[derive(Debug, Clone, Copy)]
pub struct Prompt<'a> {
    pub system: &'a str,
    pub turns: &'a [(String, String)],
}

impl Prompt<'_> {
    /// The text of the last user turn.
    pub fn last_user(&self) -> &str {
        self.turns
            .iter()
            .rev()
            .find(|(role, _)| role == "user")
            .map(|(_, t)| t.as_str())
            .unwrap_or("")
    }
}

/// The placeholder base model's only answer.
pub const BASE_PLACEHOLDER: &str = "[nova_ft local stand-in for the base model: no zero-shot model is installed yet, so this is a fixed reply]";

/// A trained local model, as saved next to the emulator's state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum TrainedModel {
    /// Exact input -> answer lookup with a most-frequent fallback.
    Lookup {
        answers: HashMap<String, String>,
        fallback: String,
        records: usize,
    },
}

/// Training settings taken from the job's hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingConfig {
    pub epochs: u32,
    pub learning_rate: f64,
    pub warmup_steps: u32,
}

/// What a training run produced: the model and its loss curves.
#[derive(Debug, Clone)]
pub struct TrainingRun {
    pub model: TrainedModel,
    /// (step, epoch, training loss) per step.
    pub training_loss: Vec<(usize, u32, f64)>,
    /// (step, epoch, validation loss) per epoch.
    pub validation_loss: Vec<(usize, u32, f64)>,
}

fn key(prompt_text: &str) -> String {
    prompt_text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn most_frequent<'a>(answers: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for a in answers {
        *counts.entry(a).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(a, _)| a.to_string())
}

impl TrainedModel {
    /// Train on records (input = system + prompt turns, target = final answer).
    pub fn train(
        records: &[Conversation],
        validation: &[Conversation],
        config: TrainingConfig,
    ) -> Result<TrainingRun> {
        let pairs: Vec<(String, String)> = records
            .iter()
            .filter_map(|r| r.target().map(|t| (key(&r.input_text()), t)))
            .collect();
        let fallback = most_frequent(pairs.iter().map(|(_, a)| a.as_str()))
            .ok_or_else(|| NovaError::invalid("no training record has an answer to learn from"))?;
        let mut by_input: HashMap<&str, Vec<&str>> = HashMap::new();
        for (input, answer) in &pairs {
            by_input
                .entry(input.as_str())
                .or_default()
                .push(answer.as_str());
        }
        let answers = by_input
            .into_iter()
            .filter_map(|(input, answers)| {
                most_frequent(answers.into_iter()).map(|a| (input.to_string(), a))
            })
            .collect();
        let model = TrainedModel::Lookup {
            answers,
            fallback,
            records: pairs.len(),
        };
        let loss = |set: &[Conversation]| -> f64 {
            let scored: Vec<bool> = set
                .iter()
                .filter_map(|r| {
                    r.target().map(|t| {
                        model.respond(&Prompt {
                            system: &r.system_text(),
                            turns: &turns_of(r),
                        }) == t
                    })
                })
                .collect();
            let wrong = scored.iter().filter(|ok| !**ok).count() as f64;
            // A 0/1 loss smoothed so perfect recall reports a small positive number, like a log loss would.
            (wrong + 0.01) / (scored.len().max(1) as f64)
        };
        let steps_per_epoch = pairs.len().max(1);
        let train_loss = loss(records);
        let training_loss = (1..=config.epochs)
            .map(|e| ((e as usize) * steps_per_epoch - 1, e, train_loss))
            .collect();
        let validation_loss = if validation.is_empty() {
            Vec::new()
        } else {
            let v = loss(validation);
            (1..=config.epochs)
                .map(|e| ((e as usize) * steps_per_epoch - 1, e, v))
                .collect()
        };
        Ok(TrainingRun {
            model,
            training_loss,
            validation_loss,
        })
    }

    pub fn respond(&self, prompt: &Prompt<'_>) -> String {
        match self {
            TrainedModel::Lookup {
                answers, fallback, ..
            } => {
                let input: Vec<&str> = prompt.turns.iter().map(|(_, t)| t.as_str()).collect();
                answers
                    .get(&key(&input.join("\n")))
                    .cloned()
                    .unwrap_or_else(|| fallback.clone())
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            TrainedModel::Lookup { answers, records, .. } => format!(
                "nova_ft local stand-in, not Amazon Nova: exact-match lookup over {records} training records ({} distinct inputs) with a most-frequent-answer fallback",
                answers.len()
            ),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec(self).expect("model serializes");
        write_atomically(path, &bytes)
    }

    pub fn load(path: &Path) -> Result<TrainedModel> {
        let bytes = std::fs::read(path).map_err(|e| NovaError::io(path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            NovaError::invalid(format!(
                "{}: unreadable model artifact: {e}",
                path.display()
            ))
        })
    }
}

/// The conversation turns of a record before its answer, as (role, text).
pub fn turns_of(record: &Conversation) -> Vec<(String, String)> {
    record
        .prompt_messages()
        .iter()
        .map(|m| (m.role.as_str().to_string(), m.text()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_learns_the_training_answers_and_round_trips() {
        let records: Vec<Conversation> = (0..20)
            .map(|i| {
                Conversation::single_turn("s", format!("q{}", i % 4), Some(format!("a{}", i % 4)))
            })
            .collect();
        let config = TrainingConfig {
            epochs: 2,
            learning_rate: 1e-5,
            warmup_steps: 0,
        };
        let run = TrainedModel::train(&records, &records[..4], config).unwrap();
        let turns = vec![("user".to_string(), "Q2".to_string())];
        assert_eq!(
            run.model.respond(&Prompt {
                system: "s",
                turns: &turns
            }),
            "a2"
        );
        assert_eq!(run.training_loss.len(), 2);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        run.model.save(&path).unwrap();
        assert_eq!(TrainedModel::load(&path).unwrap(), run.model);
        assert!(run.model.describe().contains("not Amazon Nova"));
    }
}
