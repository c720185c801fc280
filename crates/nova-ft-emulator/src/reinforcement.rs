//! Running a reinforcement fine-tuning job: the data is read and checked as the job's role,
//! the policy samples answers, the job's Lambda grader scores them (invoked as the role, which
//! needs `lambda:InvokeFunction` on it), and the policy learns from the rewards. The
//! validation set (`validationDataConfig`), or without one a tenth of the training prompts
//! (at most 200) held out, is scored greedily every `evalInterval` steps, so the reward curve
//! shows what the policy does on prompts it never trained on.
//!
//! Artifacts: `training_artifacts/step_wise_training_metrics.csv` with
//! `step_number,epoch_number,train_reward_mean,train_reward_std,eval_reward` per step (the
//! eval column filled at each evaluation). Bedrock's user guide does not publish its RFT
//! metric files' layout; this one is the emulator's.

use super::lambda::invoke_as_service;
use super::service_role::{job_context, read_as_role, write_as_role};
use super::state::Job;
use super::trainer::{
    data_failure, job_seed, next_step, output_location, pause, register_model, stop_requested,
    Ending,
};
use super::Ctx;
use nova_ft_data::cpython_random::CPythonRandom;
use nova_ft_data::dataset::rft::{load_sources, load_validation_sources, RftRecord};
use nova_ft_models::{Policy, Prompt, PromptGroup};
use serde_json::{json, Value};
use std::time::Instant;

/// The emulator's defaults where the request leaves a hyperparameter out (AWS does not
/// publish its RFT defaults).
#[derive(Debug, Clone, Copy)]
struct RftSettings {
    epochs: usize,
    batch_size: usize,
    learning_rate: f64,
    samples_per_prompt: usize,
    eval_interval: usize,
    /// `inferenceMaxTokens`: the longest sampled answer (models that generate).
    max_answer_tokens: Option<usize>,
}

impl RftSettings {
    fn of(job: &Job) -> RftSettings {
        let hp = job
            .customization_config
            .as_ref()
            .and_then(|c| c.pointer("/rftConfig/hyperParameters"));
        let get = |name: &str, default: f64| {
            hp.and_then(|h| h.get(name))
                .and_then(Value::as_f64)
                .unwrap_or(default)
        };
        RftSettings {
            epochs: get("epochCount", 2.0) as usize,
            batch_size: get("batchSize", 64.0) as usize,
            learning_rate: get("learningRate", 1e-5),
            samples_per_prompt: get("trainingSamplePerPrompt", 4.0) as usize,
            eval_interval: get("evalInterval", 10.0) as usize,
            max_answer_tokens: hp
                .and_then(|h| h.get("inferenceMaxTokens"))
                .and_then(Value::as_u64)
                .map(|n| n as usize),
        }
    }
}

/// Without a validation set, held out for evaluation: a tenth of the prompts, at most this
/// many.
const MAX_EVAL_PROMPTS: usize = 200;
/// Samples per grader invocation (well inside Lambda's 6 MB payload).
const SAMPLES_PER_INVOCATION: usize = 128;

/// The grader's view of one answer: Bedrock's sample shape.
fn sample_event(record: &RftRecord, index: usize, answer: &str) -> Value {
    let mut messages: Vec<Value> = record
        .messages
        .iter()
        .map(|(role, text)| json!({"role": role, "content": text}))
        .collect();
    messages.push(json!({"role": "assistant", "content": answer}));
    let mut metadata = record.extra.clone();
    metadata.insert("reference_answer".into(), record.reference_answer.clone());
    json!({
        "id": record.id.clone().unwrap_or_else(|| format!("sample-{index}")),
        "messages": messages,
        "metadata": metadata,
    })
}

/// Calls the grader on samples; one reward per sample, in order.
struct Grader<'a> {
    ctx: &'a Ctx,
    job: &'a Job,
    lambda_arn: String,
    calls: usize,
}

impl Grader<'_> {
    fn grade(&mut self, samples: &[Value]) -> Result<Vec<f64>, String> {
        let mut rewards = Vec::with_capacity(samples.len());
        for chunk in samples.chunks(SAMPLES_PER_INVOCATION) {
            let event = serde_json::to_vec(chunk).expect("samples serialize");
            let context = job_context(self.ctx, &self.job.arn, &self.job.role_arn);
            let invocation = invoke_as_service(
                self.ctx,
                &self.lambda_arn,
                &self.job.role_arn,
                &context,
                &event,
            )
            .map_err(|e| format!("The grader {} could not be invoked: {e}", self.lambda_arn))?;
            self.calls += 1;
            let answer: Value = serde_json::from_slice(&invocation.payload).unwrap_or(Value::Null);
            if invocation.function_error.is_some() {
                let what = answer
                    .get("errorType")
                    .and_then(Value::as_str)
                    .unwrap_or("Error");
                let message = answer
                    .get("errorMessage")
                    .and_then(Value::as_str)
                    .unwrap_or("(no message)");
                return Err(format!(
                    "The grader {} failed: {what}: {message}. Fix the reward function (test it locally with nova_ft's RewardFunction.test) and start a new job.",
                    self.lambda_arn
                ));
            }
            let scores = answer.as_array().ok_or_else(|| {
                format!("The grader {} must return a list of {{id, aggregate_reward_score}}, one per sample; it returned {}.", self.lambda_arn, truncate(&answer))
            })?;
            if scores.len() != chunk.len() {
                return Err(format!(
                    "The grader {} returned {} scores for {} samples; return one per sample, in order.",
                    self.lambda_arn,
                    scores.len(),
                    chunk.len()
                ));
            }
            for (i, score) in scores.iter().enumerate() {
                let value = score
                    .get("aggregate_reward_score")
                    .and_then(Value::as_f64)
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        format!(
                            "The grader {}'s answer {i} has no numeric aggregate_reward_score: {}.",
                            self.lambda_arn,
                            truncate(score)
                        )
                    })?;
                rewards.push(value);
            }
        }
        Ok(rewards)
    }
}

fn truncate(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// One row of the reward curve.
struct Row {
    step: usize,
    epoch: usize,
    mean: f64,
    std: f64,
    eval: Option<f64>,
}

fn curve_csv(rows: &[Row]) -> Vec<u8> {
    let mut out =
        String::from("step_number,epoch_number,train_reward_mean,train_reward_std,eval_reward\n");
    for r in rows {
        let eval = r.eval.map(|e| e.to_string()).unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{eval}\n",
            r.step, r.epoch, r.mean, r.std
        ));
    }
    out.into_bytes()
}

pub(super) fn run(ctx: &Ctx, arn: &str, job: &Job) -> Ending {
    pause(ctx, arn);
    if stop_requested(ctx, arn) {
        return Ending::Stopped;
    }
    let bytes = match read_as_role(ctx, job, &job.training_uri) {
        Ok(bytes) => bytes,
        Err(message) => return Ending::Failed(message),
    };
    let mut records = match load_sources(&[(job.training_uri.as_str(), &bytes)]) {
        Ok(mut sources) => sources.pop().unwrap_or_default(),
        Err(error) => return data_failure(error),
    };
    // A validation set (as AWS's RFT samples send) is what the eval reward is measured on;
    // without one, a share of the training prompts is held out.
    let training_count = records.len();
    for uri in &job.validation_uris {
        let bytes = match read_as_role(ctx, job, uri) {
            Ok(bytes) => bytes,
            Err(message) => return Ending::Failed(message),
        };
        match load_validation_sources(&[(uri.as_str(), &bytes)]) {
            Ok(mut sources) => records.extend(sources.pop().unwrap_or_default()),
            Err(error) => return data_failure(error),
        }
    }
    if let Err(ending) = next_step(ctx, arn, ["Completed", "InProgress", "NotStarted"]) {
        return ending;
    }
    let prompts: Vec<Prompt<'_>> = records
        .iter()
        .map(|r| Prompt {
            system: r.system(),
            turns: r.turns(),
        })
        .collect();
    let mut policy = match ctx
        .config
        .models
        .policy(&prompts, RftSettings::of(job).max_answer_tokens)
    {
        Ok(policy) => policy,
        Err(message) => return Ending::Failed(message),
    };
    if let Err(ending) = next_step(ctx, arn, ["Completed", "Completed", "InProgress"]) {
        return ending;
    }
    let Some(lambda_arn) = job
        .customization_config
        .as_ref()
        .and_then(|c| c.pointer("/rftConfig/graderConfig/lambdaGrader/lambdaArn"))
        .and_then(Value::as_str)
    else {
        return Ending::Failed(
            "The job has no grader (rftConfig.graderConfig.lambdaGrader.lambdaArn).".into(),
        );
    };
    let mut grader = Grader {
        ctx,
        job,
        lambda_arn: lambda_arn.to_string(),
        calls: 0,
    };
    let settings = RftSettings::of(job);
    let started = Instant::now();
    let mut random = CPythonRandom::new(job_seed(job));
    let (eval, mut train): (Vec<usize>, Vec<usize>) = if records.len() > training_count {
        (
            (training_count..records.len()).collect(),
            (0..training_count).collect(),
        )
    } else {
        let mut order: Vec<usize> = (0..records.len()).collect();
        random.shuffle(&mut order);
        let held_out = (records.len() / 10).min(MAX_EVAL_PROMPTS);
        let (eval, train) = order.split_at(held_out);
        (eval.to_vec(), train.to_vec())
    };
    let evaluate = |policy: &dyn Policy, grader: &mut Grader| -> Result<Option<f64>, String> {
        if eval.is_empty() {
            return Ok(None);
        }
        let answers = policy.greedy_many(&eval);
        let samples: Vec<Value> = eval
            .iter()
            .zip(&answers)
            .map(|(&i, answer)| sample_event(&records[i], i, answer))
            .collect();
        let rewards = grader.grade(&samples)?;
        Ok(Some(rewards.iter().sum::<f64>() / rewards.len() as f64))
    };
    let mut rows = Vec::new();
    let mut step = 0;
    let first_eval = match evaluate(policy.as_ref(), &mut grader) {
        Ok(e) => e,
        Err(message) => return Ending::Failed(message),
    };
    rows.push(Row {
        step: 0,
        epoch: 0,
        mean: f64::NAN,
        std: f64::NAN,
        eval: first_eval,
    });
    for epoch in 1..=settings.epochs {
        random.shuffle(&mut train);
        for batch in train.chunks(settings.batch_size) {
            if stop_requested(ctx, arn) || ctx.is_shutting_down() {
                return Ending::Stopped;
            }
            let began = std::time::Instant::now();
            // The whole batch's answers at once: a policy that decodes in batches does so.
            let prompts: Vec<usize> = batch
                .iter()
                .flat_map(|&i| std::iter::repeat_n(i, settings.samples_per_prompt))
                .collect();
            let answers = policy.sample_many(&prompts, &mut random);
            let samples: Vec<Value> = prompts
                .iter()
                .zip(&answers)
                .map(|(&i, answer)| sample_event(&records[i], i, answer))
                .collect();
            let sampled = began.elapsed();
            let rewards = match grader.grade(&samples) {
                Ok(r) => r,
                Err(message) => return Ending::Failed(message),
            };
            let graded = began.elapsed();
            let k = settings.samples_per_prompt;
            let groups: Vec<PromptGroup<'_>> = batch
                .iter()
                .enumerate()
                .map(|(j, &i)| PromptGroup {
                    prompt: i,
                    answers: &answers[j * k..(j + 1) * k],
                    rewards: &rewards[j * k..(j + 1) * k],
                })
                .collect();
            let learned_from = policy.learn(&groups, settings.learning_rate);
            step += 1;
            log::debug!(
                target: "nova_ft.emulator",
                "RFT step {step}: {} answers sampled in {:.1} s, graded in {:.1} s; {learned_from} groups learned from in {:.1} s",
                answers.len(),
                sampled.as_secs_f64(),
                (graded - sampled).as_secs_f64(),
                (began.elapsed() - graded).as_secs_f64(),
            );
            let mean = rewards.iter().sum::<f64>() / rewards.len() as f64;
            let std = (rewards.iter().map(|r| (r - mean).powi(2)).sum::<f64>()
                / rewards.len() as f64)
                .sqrt();
            let eval = if step % settings.eval_interval == 0 {
                match evaluate(policy.as_ref(), &mut grader) {
                    Ok(e) => e,
                    Err(message) => return Ending::Failed(message),
                }
            } else {
                None
            };
            rows.push(Row {
                step,
                epoch,
                mean,
                std,
                eval,
            });
        }
    }
    let final_eval = match evaluate(policy.as_ref(), &mut grader) {
        Ok(e) => e,
        Err(message) => return Ending::Failed(message),
    };
    if let Some(last) = rows.last_mut() {
        last.eval = final_eval;
    }
    let (bucket, base) = output_location(job);
    if let Err(message) = write_as_role(
        ctx,
        job,
        &bucket,
        &format!("{base}/training_artifacts/step_wise_training_metrics.csv"),
        curve_csv(&rows),
    ) {
        return Ending::Failed(message);
    }
    if stop_requested(ctx, arn) {
        return Ending::Stopped;
    }
    let description = format!(
        "nova_ft local stand-in, not Amazon Nova: {} (trained in {:.2} s, {} grader calls, evaluated on {} {})",
        policy.describe(),
        started.elapsed().as_secs_f64(),
        grader.calls,
        eval.len(),
        if records.len() > training_count {
            "validation prompts"
        } else {
            "held-out training prompts"
        }
    );
    // Rewards are not losses: the job reports no training or validation loss.
    register_model(
        ctx,
        job,
        policy.into_model().as_ref(),
        description,
        None,
        Vec::new(),
    )
}
