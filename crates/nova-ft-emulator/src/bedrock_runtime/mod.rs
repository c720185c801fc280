//! bedrock-runtime: Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream,
//! on foundation model ids, cross-region inference profiles and deployment ARNs, answered by
//! the local stand-in models with `usage` and latency.

mod conversation;
mod converse;
mod invoke;
mod live;

use super::bedrock::{deployment_status, provisioned_status, serving_model};
use super::catalog::{self, Invocable};
use super::request::AwsRequest;
use super::wire::{AwsError, Outcome};
use super::Ctx;
use chrono::Utc;
use conversation::{from_converse, json_body, Completion, Conversation};
use invoke::Family;
use nova_ft_models::generation::{Cancel, Generation, GenerationParams};
use nova_ft_models::{ModelFamily, Prompt, TunedModel};
use std::sync::Arc;

/// Which model answers a call.
enum Responder {
    /// A Nova foundation model id: the zero-shot reader; `teacher` for the larger Nova models
    /// (Pro, Premier), the distillation teacher, which outside a job has no data to learn
    /// from and reads as the base does.
    Base {
        teacher: bool,
    },
    /// A Claude id: the local judge stand-in (`models::judge`), answering as `model`.
    Claude {
        model: &'static str,
    },
    Trained(Arc<dyn TunedModel>),
}

impl Responder {
    fn answer(&self, models: &dyn ModelFamily, prompt: &Prompt<'_>) -> String {
        match self {
            Responder::Base { teacher: false } => models.answer(prompt),
            Responder::Base { teacher: true } => models.answer_as_teacher(prompt),
            Responder::Claude { .. } => models.judge(prompt),
            Responder::Trained(model) => model.answer(prompt),
        }
    }

    /// The model's own generation with the request's parameters, when it generates token by
    /// token (the language model); `None` when it answers whole (the stand-ins).
    fn generate(
        &self,
        models: &dyn ModelFamily,
        prompt: &Prompt<'_>,
        params: &GenerationParams,
    ) -> Option<nova_ft_data::error::Result<Generation>> {
        self.generate_streaming(models, prompt, params, &mut |_| {})
    }

    fn generate_streaming(
        &self,
        models: &dyn ModelFamily,
        prompt: &Prompt<'_>,
        params: &GenerationParams,
        on_text: &mut dyn FnMut(&str),
    ) -> Option<nova_ft_data::error::Result<Generation>> {
        match self {
            Responder::Base { teacher } => models.generate(*teacher, prompt, params, on_text),
            Responder::Claude { .. } => None,
            Responder::Trained(model) => model.generate(prompt, params, on_text),
        }
    }

    /// Whether this model generates token by token (its streams can go out as it writes).
    fn streams(&self, models: &dyn ModelFamily) -> bool {
        match self {
            Responder::Base { .. } => models.streams(),
            Responder::Claude { .. } => false,
            Responder::Trained(model) => model.streams(),
        }
    }

    /// The answer to `conversation`, generated under its limits or cut to them.
    fn complete(
        &self,
        models: &dyn ModelFamily,
        conversation: &Conversation,
        started: std::time::Instant,
        floor: std::time::Duration,
        client_gone: &Cancel,
    ) -> Result<Completion, AwsError> {
        let prompt = Prompt {
            system: &conversation.system,
            turns: &conversation.turns,
        };
        let latency = || started.elapsed().max(floor).as_millis() as u64;
        let params = GenerationParams {
            cancel: client_gone.clone(),
            ..conversation.generation_params()
        };
        match self.generate(models, &prompt, &params) {
            Some(Ok(g)) => Ok(conversation.generated(g, latency())),
            Some(Err(e)) => Err(AwsError::validation(e.to_string())),
            None => {
                let raw = self.answer(models, &prompt);
                Ok(conversation.complete(&raw, latency()))
            }
        }
    }

    /// The body format InvokeModel reads for this model.
    fn family(&self) -> Family {
        match self {
            Responder::Claude { model } => Family::Anthropic(model),
            _ => Family::Nova,
        }
    }
}

fn resolve(ctx: &Ctx, model_id: &str) -> Result<Responder, AwsError> {
    if model_id.contains(":custom-model-deployment/") {
        let model_arn = {
            let state = ctx.store.lock();
            let d = state.deployments.get(model_id).ok_or_else(|| {
                AwsError::not_found(format!(
                    "Could not find the custom model deployment {model_id}."
                ))
            })?;
            let now = Utc::now();
            let status = deployment_status(d, now);
            if status != "Active" {
                return Err(AwsError::new(429, "ModelNotReadyException", format!("The deployment {} is {status}; it can serve requests once its status is Active.", d.name)));
            }
            // During an update the old model answers until the swap completes.
            d.serving_model(now).to_string()
        };
        return trained(ctx, &model_arn).map(Responder::Trained);
    }
    if model_id.contains(":provisioned-model/") {
        let serving = {
            let state = ctx.store.lock();
            let p = state.provisioned.get(model_id).ok_or_else(|| {
                AwsError::not_found(format!("Could not find the provisioned model {model_id}."))
            })?;
            let now = Utc::now();
            let status = provisioned_status(p, now);
            if status == "Creating" {
                return Err(AwsError::validation(format!("The provisioned model {} is Creating; it can serve requests once its status is InService.", p.name)));
            }
            serving_model(p, now).to_string()
        };
        if serving.contains(":custom-model/") {
            return trained(ctx, &serving).map(Responder::Trained);
        }
        return Ok(Responder::Base { teacher: false });
    }
    if model_id.contains(":custom-model/") {
        return Err(AwsError::validation(
            "A custom model cannot be invoked on demand by its model ARN. Create a custom model deployment (CreateCustomModelDeployment) and pass the deployment ARN as modelId.",
        ));
    }
    let model = match catalog::invocable(model_id, &ctx.config.region) {
        Invocable::Yes(model) => model,
        Invocable::NeedsProfile(model) => {
            return Err(AwsError::validation(format!(
                "Invocation of model ID {} with on-demand throughput isn\u{2019}t supported. Retry your request with the ID or ARN of an inference profile that contains this model.",
                model.id
            )))
        }
        Invocable::Unknown => {
            return Err(AwsError::validation("The provided model identifier is invalid."))
        }
    };
    Ok(foundation(model))
}

/// Who answers for a foundation model.
fn foundation(model: &'static catalog::FoundationModel) -> Responder {
    if model.provider == "Anthropic" {
        return Responder::Claude {
            model: anthropic_name(model.id),
        };
    }
    Responder::Base {
        teacher: catalog::TEACHERS.contains(&model.id),
    }
}

/// The model name Anthropic's answers carry: `anthropic.claude-3-haiku-20240307-v1:0` ->
/// `claude-3-haiku-20240307`.
fn anthropic_name(id: &'static str) -> &'static str {
    let name = id.strip_prefix("anthropic.").unwrap_or(id);
    name.rsplit_once("-v").map_or(name, |(name, _)| name)
}

/// Save a tuned model's artifact in the data directory (as `models/<id>.json`); its path
/// there, for `CustomModel::artifact`, from which [`trained`] loads it.
pub(crate) fn save_tuned(
    ctx: &Ctx,
    model_id: &str,
    model: &dyn TunedModel,
) -> nova_ft_data::error::Result<String> {
    let artifact = format!("models/{model_id}.json");
    nova_ft_data::fsio::write_atomically(&ctx.store.dir().join(&artifact), &model.to_bytes())?;
    Ok(artifact)
}

/// The tuned model behind a custom model ARN, loaded once and cached.
pub(crate) fn trained(ctx: &Ctx, model_arn: &str) -> Result<Arc<dyn TunedModel>, AwsError> {
    if let Some(model) = ctx
        .tuned
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(model_arn)
    {
        return Ok(Arc::clone(model));
    }
    let artifact = {
        let state = ctx.store.lock();
        let model = state.custom_models.get(model_arn).ok_or_else(|| {
            AwsError::not_found(format!("The custom model {model_arn} no longer exists."))
        })?;
        model.artifact.clone().ok_or_else(|| {
            AwsError::new(
                424,
                "ModelErrorException",
                "The custom model has no artifact.",
            )
        })?
    };
    let path = ctx.store.dir().join(artifact);
    let model = std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            ctx.config
                .models
                .load(&bytes, &path.display().to_string())
                .map_err(|e| e.to_string())
        })
        .map_err(|e| AwsError::new(424, "ModelErrorException", e))?;
    ctx.tuned
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(model_arn.to_string(), Arc::clone(&model));
    Ok(model)
}

pub fn handle(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let segments = req.segments();
    let (model_id, operation) = match segments.as_slice() {
        [model, id, op] if model == "model" => (id.as_str(), op.as_str()),
        _ => ("", ""),
    };
    let (native, stream) = match operation {
        "converse" => (false, false),
        "converse-stream" => (false, true),
        "invoke" => (true, false),
        "invoke-with-response-stream" => (true, true),
        _ => {
            return Err(super::operations::unsupported(
                req.service,
                &super::operations::rest_operation(req, None),
                req,
            ))
        }
    };
    let responder = resolve(ctx, model_id)?;
    let body = json_body(&req.body)?;
    let conversation = if native {
        invoke::read(responder.family(), &body)?
    } else {
        from_converse(&body)?
    };
    if stream && responder.streams(ctx.config.models.as_ref()) {
        let models = Arc::clone(&ctx.config.models);
        let started = req.received;
        let family = responder.family();
        let run = move |on_text: &mut dyn FnMut(&str), client_gone: Cancel| {
            let prompt = Prompt {
                system: &conversation.system,
                turns: &conversation.turns,
            };
            let params = GenerationParams {
                cancel: client_gone,
                ..conversation.generation_params()
            };
            match responder.generate_streaming(models.as_ref(), &prompt, &params, on_text) {
                Some(Ok(g)) => {
                    let latency = started.elapsed().as_millis() as u64;
                    Ok(conversation.generated(g, latency))
                }
                Some(Err(e)) => Err(AwsError::validation(e.to_string())),
                None => Err(AwsError::validation("this model does not stream")),
            }
        };
        return Ok(if native {
            let events = invoke::InvokeEvents {
                family,
                message_id: format!("msg_bdrk_{}", super::wire::random_id(24)),
            };
            invoke::stream_headers(live::stream(events, run))
        } else {
            live::stream(converse::ConverseEvents, run)
        });
    }
    // The answer goes out once the injected latency has passed, so that is its latency at least.
    let done = responder.complete(
        ctx.config.models.as_ref(),
        &conversation,
        req.received,
        req.injected_latency,
        &req.client_gone,
    )?;
    if native {
        invoke::respond(responder.family(), &done, stream)
    } else {
        converse::respond(&done, stream)
    }
}

/// A model a batch inference job runs: a foundation model or an inference profile, the
/// models batch serves. Custom models (by model, deployment or provisioned ARN) are refused:
/// the Bedrock user guide lists custom Nova models as not supported for batch inference.
pub struct BatchModel(Responder);

impl BatchModel {
    pub fn resolve(ctx: &Ctx, model_id: &str) -> Result<BatchModel, AwsError> {
        if [":custom-model", ":provisioned-model/", ":imported-model/"]
            .iter()
            .any(|kind| model_id.contains(kind))
        {
            return Err(AwsError::validation(format!(
                "Batch inference does not support the model {model_id}: custom models cannot run batch inference jobs. Use a foundation model or an inference profile, or benchmark the custom model on demand (Converse on its deployment)."
            )));
        }
        if let Invocable::NeedsProfile(model) = catalog::invocable(model_id, &ctx.config.region) {
            // Batch runs on Bedrock's own capacity: no inference profile needed for it.
            return Ok(BatchModel(foundation(model)));
        }
        resolve(ctx, model_id).map(BatchModel)
    }

    /// One record's `modelOutput` (what InvokeModel, or Converse when `converse`, would have
    /// answered for `input`) and its input and output token counts; a record the model
    /// cannot read gets the error InvokeModel would have sent.
    pub fn answer(
        &self,
        ctx: &Ctx,
        input: &serde_json::Value,
        converse: bool,
    ) -> Result<(serde_json::Value, usize, usize), AwsError> {
        let started = std::time::Instant::now();
        let conversation = if converse {
            from_converse(input)?
        } else {
            invoke::read(self.0.family(), input)?
        };
        let done = self.0.complete(
            ctx.config.models.as_ref(),
            &conversation,
            started,
            std::time::Duration::ZERO,
            &Cancel::default(),
        )?;
        let output = if converse {
            converse::body(&done)
        } else {
            let message_id = format!("msg_bdrk_{}", super::wire::random_id(24));
            invoke::body(self.0.family(), &done, &message_id)
        };
        Ok((output, done.input_tokens, done.output_tokens))
    }
}

/// An evaluation job's generator: `model_id`'s answer to one user turn, cut to `max_tokens`
/// (a foundation model, an inference profile or a provisioned model; evaluation jobs run on
/// Bedrock's capacity, so a model that needs a profile on demand is served by its id too).
pub fn answer_text(
    ctx: &Ctx,
    model_id: &str,
    text: &str,
    max_tokens: Option<usize>,
) -> Result<String, AwsError> {
    let responder = match catalog::invocable(model_id, &ctx.config.region) {
        Invocable::NeedsProfile(model) => foundation(model),
        _ => resolve(ctx, model_id)?,
    };
    let conversation = conversation::Conversation {
        system: String::new(),
        turns: vec![("user".to_string(), text.to_string())],
        max_tokens,
        stop_sequences: Vec::new(),
        sampling: nova_ft_models::sampling::Sampling::GREEDY,
    };
    let done = responder.complete(
        ctx.config.models.as_ref(),
        &conversation,
        std::time::Instant::now(),
        std::time::Duration::ZERO,
        &Cancel::default(),
    )?;
    Ok(done.text)
}
