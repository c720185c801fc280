//! What the emulator asks of its local models, whichever family answers: today's stand-ins
//! ([`StandIns`]); a real language model can be another implementation. The emulator holds one
//! `Arc<dyn ModelFamily>` and never names a model type.
//!
//! Every answer goes through a [`Prompt`]; training gets Bedrock's records and hyperparameters
//! ([`TrainingConfig`]), reinforcement fine-tuning a [`Policy`] it samples from and rewards.

use crate::candidate_policy::{CandidateGroup, CandidateOptimizer, CandidatePolicy, CandidateView};
use crate::generation::{Generation, GenerationParams};
use crate::reward_policy::RewardPolicy;
use crate::{judge, Prompt, Teacher, TrainedModel, TrainingConfig, TrainingRun};
use nova_ft_data::cpython_random::CPythonRandom;
use nova_ft_data::dataset::record::Conversation;
use nova_ft_data::error::Result;
use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

/// Something that answers prompts.
pub trait Answerer: Send + Sync {
    fn answer(&self, prompt: &Prompt<'_>) -> String;

    /// Whether [`Answerer::generate`] produces text token by token (streams can go out as it
    /// writes).
    fn streams(&self) -> bool {
        false
    }

    /// Generation as the request asks (budget, sampling, stop sequences), handing each piece
    /// of text to `on_text` as it is produced. `None`: this model answers whole, and the caller
    /// cuts the answer to the request's limits.
    fn generate(
        &self,
        _prompt: &Prompt<'_>,
        _params: &GenerationParams,
        _on_text: &mut dyn FnMut(&str),
    ) -> Option<Result<Generation>> {
        None
    }
}

/// A model a customization job produced: it answers, describes itself, and is saved as the
/// custom model's artifact.
pub trait TunedModel: Answerer + Debug {
    /// What kind of model it is (`classifier`, `retrieval`, ...), for descriptions and logs.
    fn kind(&self) -> &'static str;
    /// One line for the custom model's description; says it is a local stand-in.
    fn describe(&self) -> String;
    /// The artifact's bytes ([`ModelFamily::load`] reads them back).
    fn to_bytes(&self) -> Vec<u8>;
    /// For the family that made it, to continue training from it.
    fn as_any(&self) -> &dyn Any;
}

/// One prompt's sampled answers and their rewards, for [`Policy::learn`].
pub struct PromptGroup<'a> {
    pub prompt: usize,
    pub answers: &'a [String],
    pub rewards: &'a [f64],
}

/// Reinforcement fine-tuning's policy over the job's prompts (addressed by index): answers are
/// sampled, graded by the job's reward function, and learned from group-relatively.
pub trait Policy: Send {
    /// One sampled answer to prompt `prompt`.
    fn sample(&self, prompt: usize, random: &mut CPythonRandom) -> String;
    /// One sampled answer to each of `prompts`, in order (a prompt may repeat: a group). A
    /// policy that decodes many answers at once overrides this.
    fn sample_many(&self, prompts: &[usize], random: &mut CPythonRandom) -> Vec<String> {
        prompts.iter().map(|&p| self.sample(p, random)).collect()
    }
    /// Its most likely answer.
    fn greedy(&self, prompt: usize) -> String;
    /// The most likely answer to each of `prompts`, in order.
    fn greedy_many(&self, prompts: &[usize]) -> Vec<String> {
        prompts.iter().map(|&p| self.greedy(p)).collect()
    }
    /// One step from a batch of groups (a prompt, the answers sampled for it, their rewards);
    /// `learning_rate` is the job's (Bedrock's scale), which the policy maps to its own.
    /// Returns how many groups carried a learning signal (rewards not all equal).
    fn learn(&mut self, batch: &[PromptGroup<'_>], learning_rate: f64) -> usize;
    /// What it is, for the custom model's description.
    fn describe(&self) -> String;
    /// The tuned model it has become.
    fn into_model(self: Box<Self>) -> Box<dyn TunedModel>;
}

/// What a fine-tuning job gives its model.
#[derive(Clone, Copy)]
pub struct FineTuning<'a> {
    /// The records to learn from (every one has an answer).
    pub records: &'a [Conversation],
    /// Held-out records for the validation loss (may be empty).
    pub validation: &'a [Conversation],
    /// The job's hyperparameters.
    pub config: TrainingConfig,
    /// The custom model the job continues from (iterative fine-tuning).
    pub parent: Option<&'a dyn TunedModel>,
}

/// A family of local models behind the Nova ids.
pub trait ModelFamily: Send + Sync + Debug {
    /// The base model's answer (a Nova foundation model id).
    fn answer(&self, prompt: &Prompt<'_>) -> String;
    /// A larger foundation model's answer (Nova Pro, Premier: distillation teachers).
    fn answer_as_teacher(&self, prompt: &Prompt<'_>) -> String;
    /// A foundation model's generation as the request asks ([`Answerer::generate`]); `teacher`
    /// for the larger Nova models.
    fn generate(
        &self,
        _teacher: bool,
        _prompt: &Prompt<'_>,
        _params: &GenerationParams,
        _on_text: &mut dyn FnMut(&str),
    ) -> Option<Result<Generation>> {
        None
    }
    /// Whether the base models generate token by token ([`ModelFamily::generate`]).
    fn streams(&self) -> bool {
        false
    }
    /// What answers for the Nova ids, for model descriptions.
    fn describe_base(&self) -> String {
        "answered locally by a stand-in model (not a language model; not Amazon Nova)".to_string()
    }
    /// What answers for the Nova ids, in a few words for model names.
    fn stand_in_name(&self) -> &'static str {
        "nova_ft stand-in"
    }
    /// A judge model's answer (the Claude ids evaluations use).
    fn judge(&self, prompt: &Prompt<'_>) -> String;
    /// Supervised fine-tuning on records with answers.
    fn fine_tune(&self, job: FineTuning<'_>) -> Result<TrainingRun<Box<dyn TunedModel>>>;
    /// Distillation's teacher: it answers `prompts`, knowing the `labelled` records.
    fn teacher(&self, labelled: &[Conversation], prompts: &[(String, String)])
        -> Box<dyn Answerer>;
    /// RFT's policy over these prompts, starting as the base model; `Err` says why this
    /// family cannot learn them.
    /// `max_answer_tokens`: the job's `inferenceMaxTokens`, for families that generate.
    fn policy(
        &self,
        prompts: &[Prompt<'_>],
        max_answer_tokens: Option<usize>,
    ) -> Result<Box<dyn Policy>, String>;
    /// A tuned model from its artifact (`name` says where the bytes came from, for errors).
    fn load(&self, bytes: &[u8], name: &str) -> Result<Arc<dyn TunedModel>>;
}

/// The fast stand-ins: a zero-shot reader as the base model, a classifier or retrieval when
/// fine-tuned, a label policy for RFT, a token-overlap judge. See the crate's documentation.
#[derive(Debug, Default, Clone, Copy)]
pub struct StandIns;

impl Answerer for TrainedModel {
    fn answer(&self, prompt: &Prompt<'_>) -> String {
        self.respond(prompt)
    }
}

impl TunedModel for TrainedModel {
    fn kind(&self) -> &'static str {
        TrainedModel::kind(self)
    }

    fn describe(&self) -> String {
        TrainedModel::describe(self)
    }

    fn to_bytes(&self) -> Vec<u8> {
        TrainedModel::to_bytes(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Answerer for Teacher {
    fn answer(&self, prompt: &Prompt<'_>) -> String {
        Teacher::answer(self, prompt.system, &prompt.user_text())
    }
}

/// Each group's answers as the indexes a policy knows them by (`index` of the prompt and the
/// answer); an answer the policy did not offer counts as its first.
fn answer_indexes(
    batch: &[PromptGroup<'_>],
    index: impl Fn(usize, &str) -> Option<usize>,
) -> Vec<Vec<usize>> {
    batch
        .iter()
        .map(|g| {
            g.answers
                .iter()
                .map(|a| index(g.prompt, a).unwrap_or(0))
                .collect()
        })
        .collect()
}

/// [`RewardPolicy`] over a job's prompts, each read once into its features.
struct LabelPolicy {
    policy: RewardPolicy,
    views: Vec<crate::reward_policy::PromptView>,
    optimizer: crate::reward_policy::Optimizer,
}

impl Policy for LabelPolicy {
    fn sample(&self, prompt: usize, random: &mut CPythonRandom) -> String {
        let action = self.policy.sample(&self.views[prompt], random);
        self.policy.labels[action].clone()
    }

    fn greedy(&self, prompt: usize) -> String {
        self.policy.labels[self.policy.greedy(&self.views[prompt])].clone()
    }

    fn learn(&mut self, batch: &[PromptGroup<'_>], learning_rate: f64) -> usize {
        let labels = &self.policy.labels;
        let actions = answer_indexes(batch, |_, a| labels.iter().position(|l| l == a));
        let groups: Vec<crate::reward_policy::Group<'_>> = batch
            .iter()
            .zip(&actions)
            .map(|(g, actions)| crate::reward_policy::Group {
                view: &self.views[g.prompt],
                actions,
                rewards: g.rewards,
            })
            .collect();
        let step = learning_rate * crate::reward_policy::LEARNING_RATE_SCALE;
        self.policy.step(&groups, &mut self.optimizer, step)
    }

    fn describe(&self) -> String {
        self.policy.describe()
    }

    fn into_model(self: Box<Self>) -> Box<dyn TunedModel> {
        Box::new(TrainedModel::Policy(self.policy))
    }
}

/// [`CandidatePolicy`] over a job's prompts, each read once into its candidates.
struct FreeTextPolicy {
    policy: CandidatePolicy,
    views: Vec<CandidateView>,
    optimizer: CandidateOptimizer,
}

impl Policy for FreeTextPolicy {
    fn sample(&self, prompt: usize, random: &mut CPythonRandom) -> String {
        let view = &self.views[prompt];
        view.candidates[self.policy.sample(view, random)]
            .text
            .clone()
    }

    fn greedy(&self, prompt: usize) -> String {
        let view = &self.views[prompt];
        view.candidates[self.policy.greedy(view)].text.clone()
    }

    fn learn(&mut self, batch: &[PromptGroup<'_>], learning_rate: f64) -> usize {
        let views = &self.views;
        let actions = answer_indexes(batch, |prompt, a| {
            views[prompt].candidates.iter().position(|c| c.text == a)
        });
        let groups: Vec<CandidateGroup<'_>> = batch
            .iter()
            .zip(&actions)
            .map(|(g, actions)| CandidateGroup {
                view: &self.views[g.prompt],
                actions,
                rewards: g.rewards,
            })
            .collect();
        let step = learning_rate * crate::reward_policy::LEARNING_RATE_SCALE;
        self.policy.step(&groups, &mut self.optimizer, step)
    }

    fn describe(&self) -> String {
        self.policy.describe()
    }

    fn into_model(self: Box<Self>) -> Box<dyn TunedModel> {
        Box::new(TrainedModel::FreeTextPolicy(self.policy))
    }
}

impl ModelFamily for StandIns {
    fn answer(&self, prompt: &Prompt<'_>) -> String {
        crate::base_respond(prompt)
    }

    fn answer_as_teacher(&self, prompt: &Prompt<'_>) -> String {
        Teacher::new(&[], &[]).answer(prompt.system, &prompt.user_text())
    }

    fn judge(&self, prompt: &Prompt<'_>) -> String {
        judge::respond(prompt.system, &prompt.user_text())
    }

    fn fine_tune(&self, job: FineTuning<'_>) -> Result<TrainingRun<Box<dyn TunedModel>>> {
        // A parent of another family is not ours to continue from: train afresh.
        let parent = job
            .parent
            .and_then(|p| p.as_any().downcast_ref::<TrainedModel>());
        TrainedModel::train_from(parent, job.records, job.validation, job.config)
            .map(TrainingRun::boxed)
    }

    fn teacher(
        &self,
        labelled: &[Conversation],
        prompts: &[(String, String)],
    ) -> Box<dyn Answerer> {
        Box::new(Teacher::new(labelled, prompts))
    }

    fn policy(
        &self,
        prompts: &[Prompt<'_>],
        _max_answer_tokens: Option<usize>,
    ) -> Result<Box<dyn Policy>, String> {
        let systems: Vec<&str> = prompts.iter().map(|p| p.system).collect();
        let policy = RewardPolicy::new(&systems);
        let views: Option<Vec<_>> = prompts
            .iter()
            .map(|p| policy.view(p.system, &p.user_text()))
            .collect();
        match views {
            // Every prompt lists its labels: a policy over them.
            Some(views) => Ok(Box::new(LabelPolicy {
                policy,
                views,
                optimizer: Default::default(),
            })),
            // Free text: a policy over the answers the stand-in can give each prompt.
            None => {
                let policy = CandidatePolicy::default();
                let views = prompts
                    .iter()
                    .map(|p| policy.view(p.system, &p.user_text()))
                    .collect();
                Ok(Box::new(FreeTextPolicy {
                    policy,
                    views,
                    optimizer: Default::default(),
                }))
            }
        }
    }

    fn load(&self, bytes: &[u8], name: &str) -> Result<Arc<dyn TunedModel>> {
        Ok(Arc::new(TrainedModel::from_bytes(bytes, name)?))
    }
}
