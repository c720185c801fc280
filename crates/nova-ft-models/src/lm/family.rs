//! The language model behind [`ModelFamily`]: SmolLM2 answers for every Nova id, fine-tuning
//! trains LoRA adapters, distillation's teacher is the model prompted with retrieved labelled
//! exemplars. The judge (Claude ids) stays the stand-ins' token-overlap judge: a 135M model is
//! no judge, and the descriptions say so.

use super::chat::{self, Markers};
use super::engine::{Engine, Shared};
use super::generate::{generate, Generation, GenerationParams};
use super::gguf::LmFile;
use super::lora::{Adapters, LoraConfig};
use super::model::{Llama, WeightFormat};
use super::tokenizer::Tokenizer;
use super::train::{self, DenseLlama, Example, LocalSchedule};
use crate::family::{Answerer, FineTuning, ModelFamily, Policy, TunedModel};
use crate::sampling::Sampling;
use crate::{Prompt, StandIns, TrainingRun};
use nova_ft_data::dataset::record::{Conversation, Role};
use nova_ft_data::error::{NovaError, Result};
use std::any::Any;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// Answers `answer()` gives when the request sets no limit (calls without inference
/// parameters: evaluation and batch jobs, distillation's teacher).
const DEFAULT_MAX_TOKENS: usize = 512;

/// SmolLM2 (or any Llama GGUF) ready to answer and to be fine-tuned.
pub struct LanguageModel {
    pub llama: Arc<Llama>,
    pub tokenizer: Arc<Tokenizer>,
    markers: Markers,
    end_ids: Vec<u32>,
    /// The file's `general.name` or path, for descriptions and artifacts.
    pub name: String,
    /// The base model's decoding thread, started on first use.
    engine: OnceLock<Engine>,
}

impl std::fmt::Debug for LanguageModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LanguageModel({}, {:?})", self.name, self.llama.config)
    }
}

impl LanguageModel {
    pub fn open(path: &Path, format: WeightFormat) -> Result<LanguageModel> {
        Self::from_file(LmFile::open(path)?, format)
    }

    pub fn from_file(file: LmFile, format: WeightFormat) -> Result<LanguageModel> {
        let markers = Markers::of(&file.tokenizer).ok_or_else(|| {
            NovaError::invalid(format!(
                "{}: the tokenizer has no <|im_start|>/<|im_end|> tokens, so it has no chat template this emulator can apply",
                file.name
            ))
        })?;
        let end_ids = [Some(markers.end), markers.end_of_text]
            .into_iter()
            .flatten()
            .collect();
        let llama = Llama::new(&file, format)?;
        let name = file
            .name
            .rsplit('/')
            .next()
            .unwrap_or(&file.name)
            .to_string();
        Ok(LanguageModel {
            llama: Arc::new(llama),
            tokenizer: Arc::new(file.tokenizer),
            markers,
            end_ids,
            name,
            engine: OnceLock::new(),
        })
    }

    /// The prompt's token ids under the chat template.
    pub fn prompt_ids(&self, prompt: &Prompt<'_>) -> Vec<u32> {
        chat::prompt(&self.tokenizer, self.markers, prompt.system, prompt.turns)
    }

    /// Generate an answer to `prompt` with `adapters` (a tuned model) or without (the base).
    pub fn chat(
        &self,
        prompt: &Prompt<'_>,
        params: &GenerationParams,
        adapters: Option<&Adapters>,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        let ids = self.prompt_ids(prompt);
        generate(
            &self.llama,
            adapters,
            &self.tokenizer,
            &self.end_ids,
            &ids,
            params.clone(),
            on_text,
        )
    }

    /// A decoding thread for this model with `adapters` (batched decoding, prefix cache).
    pub fn engine(&self, adapters: Option<Adapters>) -> Engine {
        Engine::start(Shared {
            llama: Arc::clone(&self.llama),
            tokenizer: Arc::clone(&self.tokenizer),
            end_ids: self.end_ids.clone(),
            adapters,
        })
    }

    /// Generate through `engine` (or the base model's), batched with whatever else it serves.
    pub fn serve(
        &self,
        engine: Option<&Engine>,
        prompt: &Prompt<'_>,
        params: &GenerationParams,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        let engine = engine.unwrap_or_else(|| self.engine.get_or_init(|| self.engine(None)));
        let prefix = chat::system_prefix(&self.tokenizer, self.markers, prompt.system);
        let ids = self.prompt_ids(prompt);
        let rest = ids[prefix.len()..].to_vec();
        engine.generate(prefix, rest, params.clone(), on_text)
    }

    /// Greedy answer with the default budget, served by `engine` (or the base model's).
    pub fn answer_greedy(&self, prompt: &Prompt<'_>, engine: Option<&Engine>) -> String {
        let params = GenerationParams {
            max_tokens: DEFAULT_MAX_TOKENS,
            sampling: Sampling::GREEDY,
            stop_sequences: Vec::new(),
            seed: 0,
            cancel: Default::default(),
        };
        match self.serve(engine, prompt, &params, &mut |_| {}) {
            Ok(g) => g.text,
            Err(e) => {
                log::warn!("language model: {e}");
                String::new()
            }
        }
    }

    /// A record as a training example: the chat template over system and turns, every
    /// assistant turn's tokens (and its closing `<|im_end|>`) the targets; cut at `max_tokens`.
    pub fn example(&self, record: &Conversation, max_tokens: usize) -> Example {
        let (t, m) = (&self.tokenizer, self.markers);
        let mut ids = chat::system_prefix(t, m, &record.system_text());
        let mut targets = vec![false; ids.len()];
        for message in &record.messages {
            let opening = {
                let mut o = vec![m.start];
                o.extend(t.encode(&format!("{}\n", message.role.as_str())));
                o
            };
            ids.extend(&opening);
            targets.extend(vec![false; opening.len()]);
            let mut body = t.encode(&message.text());
            body.push(m.end);
            let learn = message.role == Role::Assistant;
            // The position before each body token predicts it.
            if let Some(last) = targets.last_mut() {
                *last = learn;
            }
            targets.extend(vec![learn; body.len() - 1]);
            targets.push(false);
            ids.extend(body);
            let newline = t.encode("\n");
            targets.extend(vec![false; newline.len()]);
            ids.extend(newline);
        }
        ids.truncate(max_tokens);
        targets.truncate(max_tokens);
        Example { ids, targets }
    }
}

/// The language model as the emulator's model family.
#[derive(Debug, Clone)]
pub struct LmFamily {
    pub lm: Arc<LanguageModel>,
    /// LoRA rank, alpha and targets of fine-tuning jobs.
    pub lora: LoraConfig,
}

impl LmFamily {
    pub fn new(lm: LanguageModel) -> LmFamily {
        LmFamily {
            lm: Arc::new(lm),
            lora: LoraConfig::default(),
        }
    }
}

/// A LoRA-tuned language model: the custom model's artifact is its adapters.
pub struct LoraModel {
    lm: Arc<LanguageModel>,
    pub adapters: Adapters,
    /// Its decoding thread, started on first use.
    engine: OnceLock<Engine>,
}

impl LoraModel {
    pub fn new(lm: Arc<LanguageModel>, adapters: Adapters) -> LoraModel {
        LoraModel {
            lm,
            adapters,
            engine: OnceLock::new(),
        }
    }

    fn engine(&self) -> &Engine {
        self.engine
            .get_or_init(|| self.lm.engine(Some(self.adapters.clone())))
    }
}

impl std::fmt::Debug for LoraModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoraModel({}, {:?})", self.lm.name, self.adapters)
    }
}

impl Answerer for LoraModel {
    fn answer(&self, prompt: &Prompt<'_>) -> String {
        self.lm.answer_greedy(prompt, Some(self.engine()))
    }

    fn streams(&self) -> bool {
        true
    }

    fn generate(
        &self,
        prompt: &Prompt<'_>,
        params: &GenerationParams,
        on_text: &mut dyn FnMut(&str),
    ) -> Option<Result<Generation>> {
        Some(self.lm.serve(Some(self.engine()), prompt, params, on_text))
    }
}

impl TunedModel for LoraModel {
    fn kind(&self) -> &'static str {
        "lora"
    }

    fn describe(&self) -> String {
        format!(
            "local language model {} with LoRA adapters (rank {}, alpha {}, on {}): a real small model standing in for Nova, not Amazon Nova",
            self.lm.name,
            self.adapters.config.rank,
            self.adapters.config.alpha,
            self.adapters.config.targets.join(", ")
        )
    }

    fn to_bytes(&self) -> Vec<u8> {
        self.adapters
            .to_bytes(&self.lm.name)
            .unwrap_or_else(|e| format!("{{\"error\":{:?}}}", e.to_string()).into_bytes())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The base model answering with labelled exemplars from the job's data in its context: the
/// few most similar prompts (by word overlap) with their answers, as earlier turns.
struct InContextTeacher {
    lm: Arc<LanguageModel>,
    labelled: Vec<(String, String, String)>,
}

/// Exemplars per prompt: enough to show the answer's form, few enough to keep prompts short.
const EXEMPLARS: usize = 4;

impl Answerer for InContextTeacher {
    fn answer(&self, prompt: &Prompt<'_>) -> String {
        let user = prompt.user_text();
        let mut scored: Vec<(f64, &(String, String, String))> = self
            .labelled
            .iter()
            .filter(|(s, _, _)| s == prompt.system)
            .map(|e| (crate::text::token_f1(&e.1, &user), e))
            .filter(|(_, e)| e.1 != user)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut turns: Vec<(String, String)> = Vec::new();
        for (_, (_, u, a)) in scored.iter().take(EXEMPLARS).rev() {
            turns.push(("user".into(), u.clone()));
            turns.push(("assistant".into(), a.clone()));
        }
        turns.extend(prompt.turns.iter().cloned());
        let with_exemplars = Prompt {
            system: prompt.system,
            turns: &turns,
        };
        self.lm.answer_greedy(&with_exemplars, None)
    }
}

impl Answerer for LmFamily {
    fn answer(&self, prompt: &Prompt<'_>) -> String {
        self.lm.answer_greedy(prompt, None)
    }
}

impl ModelFamily for LmFamily {
    fn answer(&self, prompt: &Prompt<'_>) -> String {
        self.lm.answer_greedy(prompt, None)
    }

    fn answer_as_teacher(&self, prompt: &Prompt<'_>) -> String {
        self.lm.answer_greedy(prompt, None)
    }

    fn generate(
        &self,
        _teacher: bool,
        prompt: &Prompt<'_>,
        params: &GenerationParams,
        on_text: &mut dyn FnMut(&str),
    ) -> Option<Result<Generation>> {
        Some(self.lm.serve(None, prompt, params, on_text))
    }

    fn streams(&self) -> bool {
        true
    }

    fn judge(&self, prompt: &Prompt<'_>) -> String {
        StandIns.judge(prompt)
    }

    fn fine_tune(&self, job: FineTuning<'_>) -> Result<TrainingRun<Box<dyn TunedModel>>> {
        let started = Instant::now();
        let schedule = LocalSchedule::from_job(&job.config);
        let examples = |records: &[Conversation]| -> Vec<Example> {
            records
                .iter()
                .map(|r| self.lm.example(r, schedule.max_tokens))
                .filter(|e| e.targets.iter().any(|t| *t))
                .collect()
        };
        let train_set = examples(job.records);
        if train_set.is_empty() {
            return Err(NovaError::invalid(
                "no training record has an assistant answer within the first 512 tokens",
            ));
        }
        let validation = examples(job.validation);
        let parent = job
            .parent
            .and_then(|p| p.as_any().downcast_ref::<LoraModel>())
            .map(|p| &p.adapters);
        let dense = DenseLlama::new(&self.lm.llama)?;
        let lora_job = train::LoraJob {
            lora: parent.map_or(&self.lora, |p| &p.config),
            schedule,
            train: &train_set,
            validation: &validation,
            seed: job.config.seed as u64,
            start: parent,
        };
        let run = train::train_lora(&dense, lora_job, &mut |step, epoch, loss| {
            log::debug!("LoRA step {step} (epoch {epoch}): loss {loss:.4}")
        })?;
        Ok(TrainingRun {
            model: Box::new(LoraModel::new(Arc::clone(&self.lm), run.adapters)),
            training_loss: run.training_loss,
            validation_loss: run.validation_loss,
            cross_entropy: true,
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    fn teacher(
        &self,
        labelled: &[Conversation],
        _prompts: &[(String, String)],
    ) -> Box<dyn Answerer> {
        Box::new(InContextTeacher {
            lm: Arc::clone(&self.lm),
            labelled: crate::triples(labelled),
        })
    }

    fn policy(
        &self,
        prompts: &[Prompt<'_>],
        max_answer_tokens: Option<usize>,
    ) -> Result<Box<dyn Policy>, String> {
        let mut policy =
            super::grpo::LmPolicy::new(Arc::clone(&self.lm), self.lora.clone(), prompts)
                .map_err(|e| e.to_string())?;
        if let Some(max) = max_answer_tokens {
            policy.max_answer_tokens = max.max(1);
        }
        Ok(Box::new(policy))
    }

    fn load(&self, bytes: &[u8], name: &str) -> Result<Arc<dyn TunedModel>> {
        if !Adapters::is_artifact(bytes) {
            // A stand-in's artifact (a job run before this emulator used the language model).
            return StandIns.load(bytes, name);
        }
        let (adapters, _base) = Adapters::from_bytes(bytes, name)?;
        let config = self.lm.llama.config;
        adapters.check_fits(config.layers, &config.linear_dims(), name)?;
        Ok(Arc::new(LoraModel::new(Arc::clone(&self.lm), adapters)))
    }

    fn stand_in_name(&self) -> &'static str {
        "SmolLM2-135M-Instruct"
    }

    fn describe_base(&self) -> String {
        format!(
            "answered locally by {} (SmolLM2-135M-Instruct, a real small language model standing in for Nova; not Amazon Nova)",
            self.lm.name
        )
    }
}
