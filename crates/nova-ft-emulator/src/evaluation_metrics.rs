//! The metrics an evaluation job scores, as the emulator computes them.
//!
//! Judge metrics go to the local judge stand-in (`ModelFamily::judge`, the model behind the
//! Claude ids) as a prompt it reads: a reference and a candidate under XML tags, a 0-4 scale,
//! a `<SCORE>` reply; the score is normalised to 0-1 as Bedrock reports built-in metrics. The
//! stand-in compares texts; it cannot judge style, harm or refusals, so those metrics are
//! reported as not applicable (`null`, as Bedrock reports N/A) with the reason, never made up.
//! Custom metrics are the user's instructions with `{{prompt}}`, `{{prediction}}` and
//! `{{ground_truth}}` filled in, scored on the metric's own rating scale.

use nova_ft_models::text::token_f1;
use nova_ft_models::{ModelFamily, Prompt};
use serde_json::Value;

/// Judge metrics that compare the response with the record's `referenceResponse`.
const AGAINST_REFERENCE: [&str; 2] = ["Builtin.Correctness", "Builtin.Completeness"];
/// Judge metrics that compare the response with the prompt.
const AGAINST_PROMPT: [&str; 1] = ["Builtin.Relevance"];
/// Judge metrics the stand-in cannot judge (reported N/A).
const NOT_JUDGED: [&str; 8] = [
    "Builtin.Faithfulness",
    "Builtin.Helpfulness",
    "Builtin.Coherence",
    "Builtin.FollowingInstructions",
    "Builtin.ProfessionalStyleAndTone",
    "Builtin.Harmfulness",
    "Builtin.Stereotyping",
    "Builtin.Refusal",
];
/// Metrics computed without a judge.
pub const PROGRAMMATIC_METRICS: [&str; 1] = ["Builtin.Accuracy"];
/// Programmatic metrics that need AWS's own classifiers; the emulator refuses them.
pub const UNSERVED_METRICS: [&str; 2] = ["Builtin.Robustness", "Builtin.Toxicity"];

pub fn is_judge_metric(name: &str) -> bool {
    AGAINST_REFERENCE.contains(&name)
        || AGAINST_PROMPT.contains(&name)
        || NOT_JUDGED.contains(&name)
}

/// One record, as the metrics see it.
pub struct Case<'a> {
    pub prompt: &'a str,
    pub reference: Option<&'a str>,
    pub response: &'a str,
    pub task: &'a str,
}

/// A metric's result: a score (or `None`: not applicable) and the explanation.
pub struct Scored {
    pub result: Option<f64>,
    pub explanation: String,
}

fn na(explanation: impl Into<String>) -> Scored {
    Scored {
        result: None,
        explanation: explanation.into(),
    }
}

fn tag<'a>(reply: &'a str, name: &str) -> Option<&'a str> {
    let start = reply.find(&format!("<{name}>"))? + name.len() + 2;
    let end = reply[start..].find(&format!("</{name}>"))? + start;
    Some(reply[start..end].trim())
}

/// Ask the judge to compare `candidate` with `reference` on a `low`-`high` scale; its score
/// and its reasoning.
fn judge(
    models: &dyn ModelFamily,
    what: &str,
    reference: &str,
    candidate: &str,
    (low, high): (f64, f64),
) -> Option<(f64, String)> {
    let user = format!(
        "Evaluate {what}.\nHere is the reference answer:\n<reference_answer>{reference}</reference_answer>\nHere is the response:\n<response>{candidate}</response>\nGive a score from {low} to {high}. Put the score in <SCORE> tags and your reasoning in <REASON> tags."
    );
    let turns = [("user".to_string(), user)];
    let reply = models.judge(&Prompt {
        system: "",
        turns: &turns,
    });
    let score = tag(&reply, "SCORE")?.parse::<f64>().ok()?;
    let reason = tag(&reply, "REASON").unwrap_or_default().to_string();
    Some((score, reason))
}

/// A built-in metric for one record.
pub fn builtin(models: &dyn ModelFamily, metric: &str, case: &Case<'_>) -> Scored {
    if metric == "Builtin.Accuracy" {
        let Some(reference) = case.reference else {
            return na("Accuracy needs the record's referenceResponse.");
        };
        if case.task == "Classification" {
            let same = case.response.trim().eq_ignore_ascii_case(reference.trim());
            return Scored {
                result: Some(f64::from(u8::from(same))),
                explanation: "exact match with the reference (case and surrounding spaces ignored)"
                    .into(),
            };
        }
        return Scored {
            result: Some(token_f1(case.response, reference)),
            explanation: "token F1 with the reference (the emulator's stand-in for Bedrock's programmatic accuracy)".into(),
        };
    }
    let name = metric.trim_start_matches("Builtin.");
    let against = if AGAINST_REFERENCE.contains(&metric) {
        match case.reference {
            Some(r) if !r.trim().is_empty() => r,
            _ => return na(format!("{name} compares the response with the record's referenceResponse, and this record has none.")),
        }
    } else if AGAINST_PROMPT.contains(&metric) {
        case.prompt
    } else {
        return na(format!(
            "The nova_ft local judge stand-in compares texts; it cannot judge {name}. Run this metric on Bedrock."
        ));
    };
    match judge(
        models,
        &format!("the {name} of the response"),
        against,
        case.response,
        (0.0, 4.0),
    ) {
        Some((score, reason)) => Scored {
            result: Some((score / 4.0).clamp(0.0, 1.0)),
            explanation: reason,
        },
        None => na("The local judge stand-in gave no score for this record."),
    }
}

/// A custom metric for one record: the judge's score mapped to the nearest value of the
/// metric's rating scale (string values by their position), or 0-1 without a scale.
pub fn custom(models: &dyn ModelFamily, definition: &Value, case: &Case<'_>) -> Scored {
    let instructions = definition
        .get("instructions")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .replace("{{prompt}}", case.prompt)
        .replace("{{prediction}}", case.response)
        .replace("{{ground_truth}}", case.reference.unwrap_or(""));
    let scale: Vec<f64> = definition
        .get("ratingScale")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.pointer("/value/floatValue")
                        .and_then(Value::as_f64)
                        .unwrap_or(i as f64)
                })
                .collect()
        })
        .unwrap_or_default();
    let (low, high) = if scale.is_empty() {
        (0.0, 1.0)
    } else {
        (
            scale.iter().copied().fold(f64::INFINITY, f64::min),
            scale.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    let reference = case
        .reference
        .filter(|r| !r.trim().is_empty())
        .unwrap_or(case.prompt);
    let Some((score, reason)) = judge(models, &instructions, reference, case.response, (low, high))
    else {
        return na("The local judge stand-in gave no score for this record.");
    };
    let value = if scale.is_empty() {
        score
    } else {
        scale
            .iter()
            .copied()
            .min_by(|a, b| (a - score).abs().total_cmp(&(b - score).abs()))
            .unwrap_or(score)
    };
    Scored {
        result: Some(value),
        explanation: reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nova_ft_models::StandIns;
    use serde_json::json;

    fn case<'a>(reference: Option<&'a str>, response: &'a str) -> Case<'a> {
        Case {
            prompt: "What is the capital of France?",
            reference,
            response,
            task: "QuestionAndAnswer",
        }
    }

    #[test]
    fn correctness_follows_the_reference_and_says_it_is_a_stand_in() {
        let models = StandIns;
        let right = builtin(
            &models,
            "Builtin.Correctness",
            &case(
                Some("Paris is the capital of France"),
                "The capital of France is Paris",
            ),
        );
        let wrong = builtin(
            &models,
            "Builtin.Correctness",
            &case(
                Some("Paris is the capital of France"),
                "Bananas grow on trees",
            ),
        );
        assert!(
            right.result.unwrap() > wrong.result.unwrap(),
            "{:?} {:?}",
            right.result,
            wrong.result
        );
        assert!(right.explanation.contains("stand-in"));
        let none = builtin(&models, "Builtin.Correctness", &case(None, "Paris"));
        assert!(none.result.is_none() && none.explanation.contains("referenceResponse"));
        let style = builtin(&models, "Builtin.Harmfulness", &case(Some("x"), "y"));
        assert!(style.result.is_none() && style.explanation.contains("cannot judge"));
    }

    #[test]
    fn accuracy_is_exact_for_labels_and_token_f1_for_text() {
        let models = StandIns;
        let label = Case {
            task: "Classification",
            ..case(Some("refund"), " Refund ")
        };
        assert_eq!(
            builtin(&models, "Builtin.Accuracy", &label).result,
            Some(1.0)
        );
        let text = builtin(
            &models,
            "Builtin.Accuracy",
            &case(Some("paris is the capital"), "the capital is rome"),
        );
        assert!((text.result.unwrap() - 0.75).abs() < 1e-9);
    }

    #[test]
    fn custom_metrics_land_on_their_rating_scale() {
        let models = StandIns;
        let definition = json!({"name": "grounded", "instructions": "Is the response {{prediction}} grounded in {{ground_truth}}?",
            "ratingScale": [{"definition": "no", "value": {"floatValue": 0}}, {"definition": "partly", "value": {"floatValue": 0.5}}, {"definition": "yes", "value": {"floatValue": 1}}]});
        let good = custom(
            &models,
            &definition,
            &case(
                Some("Paris is the capital of France"),
                "Paris is the capital of France",
            ),
        );
        assert_eq!(good.result, Some(1.0));
        let bad = custom(
            &models,
            &definition,
            &case(
                Some("Paris is the capital of France"),
                "Bananas grow on trees",
            ),
        );
        assert!([0.0, 0.5].contains(&bad.result.unwrap()));
    }
}
