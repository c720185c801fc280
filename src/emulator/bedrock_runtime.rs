//! bedrock-runtime: Converse and ConverseStream, on foundation model ids and on deployment
//! ARNs, answered by the local stand-in models with `usage` and `metrics.latencyMs`.

use super::bedrock::deployment_status;
use super::catalog;
use super::eventstream;
use super::models::{base_respond, Prompt, Teacher, TrainedModel};
use super::request::AwsRequest;
use super::wire::{json, response, AwsError, Outcome};
use super::Ctx;
use crate::workflow::tokens::estimate_tokens;
use chrono::Utc;
use serde_json::{json, Value};
use std::sync::Arc;

/// Which model answers a call.
enum Responder {
    /// A foundation model id: the zero-shot reader; `teacher` for the larger Nova models
    /// (Pro, Premier), which read with the distillation teacher's richer synonym table.
    Base {
        teacher: bool,
    },
    Trained(Arc<TrainedModel>),
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
            let status = deployment_status(d, Utc::now());
            if status != "Active" {
                return Err(AwsError::new(429, "ModelNotReadyException", format!("The deployment {} is {status}; it can serve requests once its status is Active.", d.name)));
            }
            d.model_arn.clone()
        };
        return trained(ctx, &model_arn).map(Responder::Trained);
    }
    if model_id.contains(":custom-model/") {
        return Err(AwsError::validation(
            "A custom model cannot be invoked on demand by its model ARN. Create a custom model deployment (CreateCustomModelDeployment) and pass the deployment ARN as modelId.",
        ));
    }
    let model = catalog::find(model_id)
        .ok_or_else(|| AwsError::validation("The provided model identifier is invalid."))?;
    if !model.on_demand {
        return Err(AwsError::validation(format!(
            "Invocation of model ID {} with on-demand throughput isn\u{2019}t supported. Retry your request with the ID or ARN of an inference profile that contains this model.",
            model.id
        )));
    }
    Ok(Responder::Base {
        teacher: catalog::TEACHERS.contains(&model.id),
    })
}

/// The trained model behind a custom model ARN, loaded once and cached.
fn trained(ctx: &Ctx, model_arn: &str) -> Result<Arc<TrainedModel>, AwsError> {
    if let Some(model) = ctx
        .models
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
    let model = TrainedModel::load(&ctx.store.dir().join(artifact))
        .map_err(|e| AwsError::new(424, "ModelErrorException", e.to_string()))?;
    let model = Arc::new(model);
    ctx.models
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(model_arn.to_string(), Arc::clone(&model));
    Ok(model)
}

struct Request {
    system: String,
    turns: Vec<(String, String)>,
    max_tokens: Option<usize>,
    stop_sequences: Vec<String>,
}

fn parse(req: &AwsRequest) -> Result<Request, AwsError> {
    let body: Value = serde_json::from_slice(&req.body).map_err(|_| {
        AwsError::new(
            400,
            "SerializationException",
            "The request body is not valid JSON.",
        )
    })?;
    let start_with_user = || {
        AwsError::validation("A conversation must start with a user message. Try again with a conversation that starts with a user message.")
    };
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(start_with_user)?;
    let mut turns = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let role = message.get("role").and_then(Value::as_str).unwrap_or("");
        let expected = if i % 2 == 0 { "user" } else { "assistant" };
        if i == 0 && role != "user" {
            return Err(start_with_user());
        }
        if role != expected {
            return Err(AwsError::validation("A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."));
        }
        let mut texts = Vec::new();
        for block in message
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match block.get("text").and_then(Value::as_str) {
                Some(text) => texts.push(text.to_string()),
                None => {
                    return Err(AwsError::validation(
                        "The nova_ft emulator's local models read text content blocks only.",
                    ))
                }
            }
        }
        turns.push((role.to_string(), texts.join("\n")));
    }
    let system: Vec<&str> = body
        .get("system")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("text").and_then(Value::as_str))
        .collect();
    let config = body.get("inferenceConfig");
    let max_tokens = match config.and_then(|c| c.get("maxTokens")) {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().filter(|n| *n >= 1).ok_or_else(|| AwsError::validation("1 validation error detected: Value at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1"))? as usize),
    };
    if let Some(t) = config.and_then(|c| c.get("temperature")) {
        if !t.as_f64().is_some_and(|t| (0.0..=1.0).contains(&t)) {
            return Err(AwsError::validation("1 validation error detected: Value at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value between 0 and 1"));
        }
    }
    let stop_sequences = config
        .and_then(|c| c.get("stopSequences"))
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(Request {
        system: system.join("\n"),
        turns,
        max_tokens,
        stop_sequences,
    })
}

/// Cut `text` at the first stop sequence, then to at most `max_tokens` estimated tokens.
/// Token estimates add up word by word, so truncation keeps whole words.
fn limit(text: &str, max_tokens: Option<usize>, stops: &[String]) -> (String, &'static str) {
    let mut reason = "end_turn";
    let mut text = text.to_string();
    if let Some(at) = stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min()
    {
        text.truncate(at);
        reason = "stop_sequence";
    }
    if let Some(max) = max_tokens {
        if estimate_tokens(&text) > max {
            let mut used = 0;
            let mut end = 0;
            for (start, word) in text
                .split_whitespace()
                .map(|w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
            {
                let cost = estimate_tokens(word);
                if used + cost > max {
                    break;
                }
                used += cost;
                end = start + word.len();
            }
            text.truncate(end);
            reason = "max_tokens";
        }
    }
    (text, reason)
}

pub fn handle(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let segments = req.segments();
    let (model_id, stream) = match segments.as_slice() {
        [model, id, op] if model == "model" && op == "converse" => (id.as_str(), false),
        [model, id, op] if model == "model" && op == "converse-stream" => (id.as_str(), true),
        _ => {
            return Err(super::operations::unsupported(
                req.service,
                &super::operations::rest_operation(req, None),
                req,
            ))
        }
    };
    let responder = resolve(ctx, model_id)?;
    let request = parse(req)?;
    let prompt = Prompt {
        system: &request.system,
        turns: &request.turns,
    };
    let raw = match &responder {
        Responder::Base { teacher: false } => base_respond(&prompt),
        Responder::Base { teacher: true } => {
            Teacher::new(&[], &[]).answer(prompt.system, &prompt.user_text())
        }
        Responder::Trained(model) => model.respond(&prompt),
    };
    let (text, stop_reason) = limit(&raw, request.max_tokens, &request.stop_sequences);
    let input_tokens = estimate_tokens(&request.system)
        + request
            .turns
            .iter()
            .map(|(_, t)| estimate_tokens(t))
            .sum::<usize>();
    let output_tokens = estimate_tokens(&text);
    let usage = json!({"inputTokens": input_tokens, "outputTokens": output_tokens, "totalTokens": input_tokens + output_tokens});
    let metrics = json!({"latencyMs": req.received.elapsed().as_millis() as u64});
    if !stream {
        return Ok(json(
            200,
            &json!({
                "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
                "stopReason": stop_reason,
                "usage": usage,
                "metrics": metrics,
            }),
        ));
    }
    let mut body = eventstream::event("messageStart", br#"{"role":"assistant"}"#)?;
    let mut rest = text.as_str();
    while !rest.is_empty() {
        // Deltas of a word each (with its leading space), as a model streams tokens.
        let cut = rest
            .char_indices()
            .skip(1)
            .find(|(_, c)| c.is_whitespace())
            .map_or(rest.len(), |(i, _)| i);
        let delta = json!({"contentBlockIndex": 0, "delta": {"text": &rest[..cut]}});
        body.extend(eventstream::event(
            "contentBlockDelta",
            delta.to_string().as_bytes(),
        )?);
        rest = &rest[cut..];
    }
    body.extend(eventstream::event(
        "contentBlockStop",
        br#"{"contentBlockIndex":0}"#,
    )?);
    body.extend(eventstream::event(
        "messageStop",
        json!({"stopReason": stop_reason}).to_string().as_bytes(),
    )?);
    body.extend(eventstream::event(
        "metadata",
        json!({"usage": usage, "metrics": metrics})
            .to_string()
            .as_bytes(),
    )?);
    Ok(response(200, "application/vnd.amazon.eventstream", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_cuts_at_stop_sequences_and_token_budgets() {
        assert_eq!(
            limit("flight", Some(8), &[]),
            ("flight".to_string(), "end_turn")
        );
        assert_eq!(
            limit("one two three", None, &["two".into()]),
            ("one ".to_string(), "stop_sequence")
        );
        let (text, reason) = limit("alpha beta gamma delta", Some(4), &[]);
        assert_eq!((text.as_str(), reason), ("alpha beta", "max_tokens"));
    }
}
