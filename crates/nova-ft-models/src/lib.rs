//! The local models behind the emulator's Nova ids. They are stand-ins, not Amazon Nova, and
//! every description says so. They really learn from the uploaded data:
//!
//! - base model (`amazon.nova-micro-v1:0`, and the other Nova ids): [`zero_shot`], a reader of
//!   the request with no knowledge of any data set;
//! - fine-tuning on a closed label set: [`classifier`], softmax regression over hashed n-grams,
//!   trained with the job's epochs, learning rate and warmup;
//! - fine-tuning on open outputs (SQL and other text): [`retrieval`], retrieve-and-adapt;
//! - distillation: the [`Teacher`] (the zero-shot reader, self-trained on the job's prompts it
//!   is confident about, with the labelled examples in the data as exemplars) answers the
//!   prompts, and the student trains only on its answers plus the given labelled pairs.

pub mod candidate_policy;
pub mod candidates;
mod choice;
pub mod classifier;
mod family;
pub mod generation;
mod grpo;
pub mod judge;
#[cfg(feature = "lm")]
pub mod lm;
pub mod retrieval;
mod retrieval_curves;
pub mod reward_policy;
pub mod sampling;
mod teacher;
pub mod text;
mod vector_exp;
pub mod zero_shot;

pub use choice::{choose, CHOICES};
pub use family::{Answerer, FineTuning, ModelFamily, Policy, PromptGroup, StandIns, TunedModel};
pub use teacher::{Teacher, TeacherSettings};

use candidate_policy::CandidatePolicy;
use classifier::{Classifier, Example};
use nova_ft_data::dataset::label_set::looks_like_label_set;
use nova_ft_data::dataset::record::Conversation;
use nova_ft_data::error::{NovaError, Result};
use retrieval::Retrieval;
use reward_policy::RewardPolicy;
use std::collections::BTreeSet;
use std::time::Instant;

/// One request to a model: system prompt and the conversation so far (role, text).
#[derive(Debug, Clone, Copy)]
pub struct Prompt<'a> {
    pub system: &'a str,
    pub turns: &'a [(String, String)],
}

impl Prompt<'_> {
    /// The user turns' text, joined: what the model reads besides the system prompt.
    pub fn user_text(&self) -> String {
        let users: Vec<&str> = self
            .turns
            .iter()
            .filter(|(r, _)| r == "user")
            .map(|(_, t)| t.as_str())
            .collect();
        users.join("\n")
    }
}

/// The base model's answer (zero-shot; see [`zero_shot`]).
pub fn base_respond(prompt: &Prompt<'_>) -> String {
    zero_shot::respond(prompt.system, &prompt.user_text())
}

/// Training settings taken from the job's hyperparameters, and the seed of the run's
/// randomness (the emulator derives it from the job's name, so each job is one draw).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingConfig {
    pub epochs: u32,
    pub learning_rate: f64,
    pub warmup_steps: u32,
    pub seed: i64,
}

impl Default for TrainingConfig {
    /// Nova's defaults (2 epochs, learning rate 1e-5, 10 warm-up steps) and a fixed seed.
    fn default() -> Self {
        TrainingConfig {
            epochs: 2,
            learning_rate: 1e-5,
            warmup_steps: 10,
            seed: 20_250_716,
        }
    }
}

/// A trained local model.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainedModel {
    Classifier(Classifier),
    Retrieval(Retrieval),
    /// Reinforcement fine-tuning's policy over a label list (see [`reward_policy`]).
    Policy(RewardPolicy),
    /// Reinforcement fine-tuning's policy on free-text tasks (see [`candidate_policy`]).
    FreeTextPolicy(CandidatePolicy),
}

/// What a training run produced: the model, its loss curves, and how long training took.
#[derive(Debug, Clone)]
pub struct TrainingRun<M = TrainedModel> {
    pub model: M,
    /// (step, epoch, training loss) per step.
    pub training_loss: Vec<(usize, u32, f64)>,
    /// (step, epoch, validation loss) per epoch.
    pub validation_loss: Vec<(usize, u32, f64)>,
    /// True when the losses are cross-entropies, whose exponent is a perplexity; false for a
    /// model without probabilities (its CSVs then carry no perplexity column).
    pub cross_entropy: bool,
    pub seconds: f64,
}

impl TrainingRun {
    /// The same run with its model behind the family-neutral [`TunedModel`].
    pub fn boxed(self) -> TrainingRun<Box<dyn TunedModel>> {
        TrainingRun {
            model: Box::new(self.model),
            training_loss: self.training_loss,
            validation_loss: self.validation_loss,
            cross_entropy: self.cross_entropy,
            seconds: self.seconds,
        }
    }
}

const RETRIEVAL_MAGIC: &[u8] = b"NFTRET01\n";
const POLICY_MAGIC: &[u8] = b"NFTRFT01\n";
const FREE_TEXT_POLICY_MAGIC: &[u8] = b"NFTRFC01\n";

/// (system, user text, answer) of records that have an answer.
pub(crate) fn triples(records: &[Conversation]) -> Vec<(String, String, String)> {
    records
        .iter()
        .filter_map(|r| {
            let answer = r.target()?;
            let user: Vec<String> = r.prompt_messages().iter().map(|m| m.text()).collect();
            Some((r.system_text(), user.join("\n"), answer))
        })
        .collect()
}

impl TrainedModel {
    /// Train on records: a classifier when the answers form a label set, else retrieval.
    pub fn train(
        records: &[Conversation],
        validation: &[Conversation],
        config: TrainingConfig,
    ) -> Result<TrainingRun> {
        Self::train_from(None, records, validation, config)
    }

    /// Train as [`TrainedModel::train`], continuing from `parent` (iterative fine-tuning)
    /// when its kind fits the new data: a classifier starts from the parent's weights over the
    /// union of both label sets; retrieval keeps the parent's pairs beside the new ones. A
    /// parent of the other kind (or an RFT policy) is not used, and the description says so.
    pub fn train_from(
        parent: Option<&TrainedModel>,
        records: &[Conversation],
        validation: &[Conversation],
        config: TrainingConfig,
    ) -> Result<TrainingRun> {
        let started = Instant::now();
        let train = triples(records);
        if train.is_empty() {
            return Err(NovaError::invalid(
                "no training record has an answer to learn from",
            ));
        }
        let distinct: BTreeSet<&str> = train.iter().map(|(_, _, a)| a.as_str()).collect();
        let longest = train
            .iter()
            .map(|(_, _, a)| a.chars().count())
            .max()
            .unwrap_or(0);
        let multiline = train.iter().any(|(_, _, a)| a.contains('\n'));
        if looks_like_label_set(distinct.len(), train.len(), longest, multiline) {
            let parent = match parent {
                Some(TrainedModel::Classifier(c)) => Some(c),
                _ => None,
            };
            let mut labels: Vec<String> = distinct.iter().map(|s| s.to_string()).collect();
            if let Some(parent) = parent {
                labels.extend(parent.labels.iter().cloned());
                labels.sort();
                labels.dedup();
            }
            let index = |a: &str| labels.binary_search_by(|l| l.as_str().cmp(a)).ok();
            let examples = |set: &[(String, String, String)]| -> Vec<Example> {
                set.iter()
                    .filter_map(|(s, u, a)| Some((Classifier::featurize(s, u), index(a)?)))
                    .collect()
            };
            let train_examples = examples(&train);
            let valid_examples = examples(&triples(validation));
            let (model, curves) =
                Classifier::train_from(parent, labels, &train_examples, &valid_examples, config)?;
            return Ok(TrainingRun {
                model: TrainedModel::Classifier(model),
                training_loss: curves.training,
                validation_loss: curves.validation,
                cross_entropy: true,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        let pairs: Vec<(String, String)> = train
            .iter()
            .map(|(_, u, a)| (u.clone(), a.clone()))
            .collect();
        let model = match parent {
            Some(TrainedModel::Retrieval(parent)) => parent.extended(&pairs),
            _ => Retrieval::build(&pairs),
        };
        let valid: Vec<(String, String)> = triples(validation)
            .into_iter()
            .map(|(_, u, a)| (u, a))
            .collect();
        let (training_loss, validation_loss) = retrieval_curves::curves(&model, &pairs, &valid);
        Ok(TrainingRun {
            model: TrainedModel::Retrieval(model),
            training_loss,
            validation_loss,
            cross_entropy: false,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    pub fn respond(&self, prompt: &Prompt<'_>) -> String {
        match self {
            TrainedModel::Classifier(c) => {
                c.predict(prompt.system, &prompt.user_text()).to_string()
            }
            TrainedModel::Retrieval(r) => r.respond(&prompt.user_text()),
            TrainedModel::Policy(p) => p.respond(prompt.system, &prompt.user_text()),
            TrainedModel::FreeTextPolicy(p) => p.respond(prompt.system, &prompt.user_text()),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            TrainedModel::Classifier(_) => "classifier",
            TrainedModel::Retrieval(_) => "retrieval",
            TrainedModel::Policy(_) => "reward_policy",
            TrainedModel::FreeTextPolicy(_) => "free_text_reward_policy",
        }
    }

    pub fn describe(&self) -> String {
        let what = match self {
            TrainedModel::Classifier(c) => c.describe(),
            TrainedModel::Retrieval(r) => format!("retrieve-and-adapt over {} training pairs (the answers are open text, not a label set)", r.len()),
            TrainedModel::Policy(p) => p.describe(),
            TrainedModel::FreeTextPolicy(p) => p.describe(),
        };
        format!("nova_ft local stand-in, not Amazon Nova: {what}")
    }

    /// The artifact's bytes: a magic line naming the kind, then the model.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        match self {
            TrainedModel::Classifier(c) => c.write_to(&mut bytes).expect("writing to memory"),
            TrainedModel::Retrieval(r) => {
                bytes.extend_from_slice(RETRIEVAL_MAGIC);
                serde_json::to_writer(&mut bytes, r).expect("model serializes");
            }
            TrainedModel::Policy(p) => {
                bytes.extend_from_slice(POLICY_MAGIC);
                serde_json::to_writer(&mut bytes, p).expect("model serializes");
            }
            TrainedModel::FreeTextPolicy(p) => {
                bytes.extend_from_slice(FREE_TEXT_POLICY_MAGIC);
                serde_json::to_writer(&mut bytes, p).expect("model serializes");
            }
        }
        bytes
    }

    /// A model from an artifact's bytes (`name` says where they came from, for errors).
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<TrainedModel> {
        let unreadable = |e: String| NovaError::Emulator {
            message: format!("{name}: unreadable model artifact: {e}"),
            source: None,
        };
        if Classifier::is_artifact(bytes) {
            Classifier::read_from(bytes)
                .map(TrainedModel::Classifier)
                .map_err(|e| unreadable(e.to_string()))
        } else if let Some(json) = bytes.strip_prefix(RETRIEVAL_MAGIC) {
            serde_json::from_slice(json)
                .map(TrainedModel::Retrieval)
                .map_err(|e| unreadable(e.to_string()))
        } else if let Some(json) = bytes.strip_prefix(POLICY_MAGIC) {
            serde_json::from_slice(json)
                .map(TrainedModel::Policy)
                .map_err(|e| unreadable(e.to_string()))
        } else if let Some(json) = bytes.strip_prefix(FREE_TEXT_POLICY_MAGIC) {
            serde_json::from_slice(json)
                .map(TrainedModel::FreeTextPolicy)
                .map_err(|e| unreadable(e.to_string()))
        } else {
            Err(unreadable("unknown format".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The conversation turns of a record before its answer, as (role, text).
    fn turns_of(record: &Conversation) -> Vec<(String, String)> {
        record
            .prompt_messages()
            .iter()
            .map(|m| (m.role.as_str().to_string(), m.text()))
            .collect()
    }
    use nova_ft_data::dataset::synth::SyntheticIntents;

    #[test]
    fn label_sets_train_a_classifier_that_generalises() {
        let train = SyntheticIntents::new(7).take(800);
        let test = SyntheticIntents::new(99).take(120);
        let config = TrainingConfig {
            epochs: 3,
            learning_rate: 1e-5,
            warmup_steps: 10,
            ..TrainingConfig::default()
        };
        let run = TrainedModel::train(&train, &test[..20], config).unwrap();
        assert_eq!(run.model.kind(), "classifier");
        let correct = test
            .iter()
            .filter(|r| {
                run.model.respond(&Prompt {
                    system: &r.system_text(),
                    turns: &turns_of(r),
                }) == r.target().unwrap()
            })
            .count();
        assert!(correct as f64 / test.len() as f64 >= 0.95, "{correct}/120");
        let base_correct = test
            .iter()
            .filter(|r| {
                base_respond(&Prompt {
                    system: &r.system_text(),
                    turns: &turns_of(r),
                }) == r.target().unwrap()
            })
            .count();
        assert!(
            base_correct < correct,
            "base {base_correct} vs tuned {correct}"
        );
        assert_eq!(
            TrainedModel::from_bytes(&run.model.to_bytes(), "m").unwrap(),
            run.model
        );
    }

    #[test]
    fn iterative_training_keeps_what_the_parent_learned() {
        let config = TrainingConfig {
            epochs: 2,
            learning_rate: 1e-5,
            warmup_steps: 10,
            ..TrainingConfig::default()
        };
        let first = SyntheticIntents::new(7).take(600);
        let more = SyntheticIntents::new(5).take(16);
        let test = SyntheticIntents::new(99).take(120);
        let parent = TrainedModel::train(&first, &[], config).unwrap().model;
        let continued = TrainedModel::train_from(Some(&parent), &more, &[], config)
            .unwrap()
            .model;
        let fresh = TrainedModel::train(&more, &[], config).unwrap().model;
        let score = |m: &TrainedModel| {
            test.iter()
                .filter(|r| {
                    m.respond(&Prompt {
                        system: &r.system_text(),
                        turns: &turns_of(r),
                    }) == r.target().unwrap()
                })
                .count()
        };
        assert!(
            score(&continued) > score(&fresh),
            "continued {} vs fresh {}",
            score(&continued),
            score(&fresh)
        );
    }

    #[test]
    fn the_teacher_is_no_worse_than_the_base_model_on_unlabelled_prompts() {
        let prompts = SyntheticIntents::new(7).take(800);
        let test = SyntheticIntents::new(99).take(120);
        let pairs: Vec<(String, String)> = prompts
            .iter()
            .map(|r| (r.system_text(), r.input_text()))
            .collect();
        let teacher = Teacher::new(&[], &pairs);
        let score = |answer: &dyn Fn(&Conversation) -> String| {
            test.iter()
                .filter(|r| answer(r) == r.target().unwrap())
                .count()
        };
        let base = score(&|r| {
            base_respond(&Prompt {
                system: &r.system_text(),
                turns: &turns_of(r),
            })
        });
        let taught = score(&|r| teacher.answer(&r.system_text(), &r.input_text()));
        // On this tiny template set the gain is small; benches/model_quality.py measures ATIS.
        assert!(taught >= base, "teacher {taught} vs base {base} of 120");
    }

    #[test]
    fn open_answers_train_retrieval_and_say_so() {
        let records: Vec<Conversation> = (0..20)
            .map(|i| {
                Conversation::single_turn(
                    "sql",
                    format!("question {i} about things"),
                    Some(format!("SELECT {i} FROM t")),
                )
            })
            .collect();
        let run = TrainedModel::train(
            &records,
            &[],
            TrainingConfig {
                epochs: 1,
                learning_rate: 1e-5,
                warmup_steps: 0,
                ..TrainingConfig::default()
            },
        )
        .unwrap();
        assert_eq!(run.model.kind(), "retrieval");
        assert!(run.model.describe().contains("not Amazon Nova"));
        assert_eq!(
            TrainedModel::from_bytes(&run.model.to_bytes(), "m").unwrap(),
            run.model
        );
    }
}
