//! One Converse call: the unit both `session.converse` and the benchmark loop are built on.

use crate::aws::{aws_error, AwsSession};
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, InferenceConfiguration, Message, SystemContentBlock,
};
use nova_ft_data::error::{NovaError, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::time::Instant;

#[derive(Debug, Clone, Deserialize)]
pub struct ConverseSpec {
    pub model_id: String,
    /// One user turn, when `messages` is empty.
    pub text: String,
    /// The conversation in Converse's order, as (`user` or `assistant`, text blocks); when
    /// given, `text` is not sent.
    #[serde(default)]
    pub messages: Vec<(String, Vec<String>)>,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub max_tokens: Option<i32>,
    #[serde(default)]
    pub temperature: Option<f32>,
    #[serde(default)]
    pub top_p: Option<f32>,
    #[serde(default)]
    pub stop_sequences: Vec<String>,
}

impl ConverseSpec {
    /// One user turn with Converse's defaults for the rest.
    pub fn single(model_id: String, text: String) -> ConverseSpec {
        ConverseSpec {
            model_id,
            text,
            messages: Vec::new(),
            system: None,
            max_tokens: None,
            temperature: None,
            top_p: None,
            stop_sequences: Vec::new(),
        }
    }
}

fn message(role: &str, texts: &[String]) -> Result<Message> {
    let role = match role {
        "user" => ConversationRole::User,
        "assistant" => ConversationRole::Assistant,
        other => {
            return Err(NovaError::invalid(format!(
                "a message's role is user or assistant, not {other:?}"
            )))
        }
    };
    texts
        .iter()
        .fold(Message::builder().role(role), |m, t| {
            m.content(ContentBlock::Text(t.clone()))
        })
        .build()
        .map_err(NovaError::build)
}

#[derive(Debug, Clone, Serialize)]
pub struct Reply {
    pub text: String,
    pub stop_reason: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Wall time of the call as the client saw it.
    pub latency_ms: f64,
    /// The model id actually sent (see [`inference_model_id`]).
    pub model_id: String,
}

/// The id to send to Converse from `region`. Fine-tuning bases carry a context-window suffix
/// (`amazon.nova-micro-v1:0:128k`) and are not served on demand; their on-demand id is the
/// same id without it. Nova 2 is served on demand only through its inference profiles, so its
/// ids get the region's (`us.`, else `global.`). Everything else (ARNs, profiles) passes
/// through unchanged.
pub fn inference_model_id<'a>(model_id: &'a str, region: &str) -> Cow<'a, str> {
    let base = on_demand_id(model_id);
    if base.starts_with("amazon.nova-2-") {
        let geography = if region.starts_with("us-") {
            "us"
        } else {
            "global"
        };
        return Cow::Owned(format!("{geography}.{base}"));
    }
    Cow::Borrowed(base)
}

fn on_demand_id(model_id: &str) -> &str {
    if !model_id.starts_with("amazon.nova-") {
        return model_id;
    }
    match model_id.rsplit_once(':') {
        Some((base, suffix))
            if base.matches(':').count() == 1
                && suffix.ends_with('k')
                && suffix[..suffix.len() - 1]
                    .bytes()
                    .all(|b| b.is_ascii_digit()) =>
        {
            base
        }
        _ => model_id,
    }
}

impl AwsSession {
    pub async fn converse(&self, spec: &ConverseSpec) -> Result<Reply> {
        converse_with(&self.runtime, spec).await
    }
}

/// Converse through a given client (the benchmark passes one without SDK retries).
pub async fn converse_with(
    client: &aws_sdk_bedrockruntime::Client,
    spec: &ConverseSpec,
) -> Result<Reply> {
    let region = client.config().region().map_or("", |r| r.as_ref());
    let model_id = inference_model_id(&spec.model_id, region);
    let mut request = client.converse().model_id(model_id.as_ref());
    if spec.messages.is_empty() {
        request = request.messages(message("user", std::slice::from_ref(&spec.text))?);
    }
    for (role, texts) in &spec.messages {
        request = request.messages(message(role, texts)?);
    }
    let mut config = InferenceConfiguration::builder()
        .set_max_tokens(spec.max_tokens)
        .set_temperature(spec.temperature)
        .set_top_p(spec.top_p);
    for stop in &spec.stop_sequences {
        config = config.stop_sequences(stop.clone());
    }
    let mut request = request.inference_config(config.build());
    if let Some(system) = &spec.system {
        request = request.system(SystemContentBlock::Text(system.clone()));
    }
    let started = Instant::now();
    let out = request.send().await.map_err(|e| aws_error("Converse", e))?;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let text = out
        .output()
        .and_then(|o| o.as_message().ok())
        .map(|m| {
            m.content()
                .iter()
                .filter_map(|c| c.as_text().ok().map(String::as_str))
                .collect::<Vec<_>>()
                .join("")
        })
        .unwrap_or_default();
    let usage = out.usage();
    Ok(Reply {
        text,
        stop_reason: out.stop_reason().as_str().to_string(),
        input_tokens: usage.map_or(0, |u| u.input_tokens() as i64),
        output_tokens: usage.map_or(0, |u| u.output_tokens() as i64),
        latency_ms,
        model_id: model_id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::inference_model_id;

    #[test]
    fn training_bases_map_to_on_demand_ids() {
        let id = |m| inference_model_id(m, "us-east-1").into_owned();
        assert_eq!(id("amazon.nova-micro-v1:0:128k"), "amazon.nova-micro-v1:0");
        assert_eq!(id("amazon.nova-micro-v1:0"), "amazon.nova-micro-v1:0");
        assert_eq!(id("us.amazon.nova-micro-v1:0"), "us.amazon.nova-micro-v1:0");
        let arn = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc";
        assert_eq!(id(arn), arn);
        // Nova 2 Lite only through its profiles: the region's, or the global one.
        assert_eq!(
            id("amazon.nova-2-lite-v1:0:256k"),
            "us.amazon.nova-2-lite-v1:0"
        );
        assert_eq!(
            inference_model_id("amazon.nova-2-lite-v1:0", "eu-west-1"),
            "global.amazon.nova-2-lite-v1:0"
        );
        assert_eq!(
            id("global.amazon.nova-2-lite-v1:0"),
            "global.amazon.nova-2-lite-v1:0"
        );
    }
}
