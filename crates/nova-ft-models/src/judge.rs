//! The local stand-in behind Anthropic Claude ids, which AWS's samples call as an LLM judge
//! ("compare the generated SQL with the expected SQL and give a score from 0 to 100").
//!
//! It is not Claude. For a prompt that holds a reference answer and a candidate answer (found
//! by their labels: expected/reference/correct/gold/ground truth, and generated/predicted/
//! candidate/response/model answer) and asks for a score, it answers with the similarity of
//! the two, by their tokens, on the scale the prompt names (0-100 unless it says 1-10, 1-5 or
//! 0-1). Any other prompt is read as the base model reads it (label lists, SQL from a schema).

use super::text::tokens_keeping;
use super::zero_shot;

const REFERENCE_LABELS: [&str; 6] = [
    "ground truth",
    "expected",
    "reference",
    "correct",
    "gold",
    "target",
];
const CANDIDATE_LABELS: [&str; 6] = [
    "generated",
    "predicted",
    "candidate",
    "model answer",
    "model output",
    "response",
];

/// The text after the first line whose lower-cased start holds one of `labels` (after any
/// `#`, `*`, `-` or spaces), up to the next labelled line or blank line. The label's own line
/// may carry the text after a colon.
fn labelled(text: &str, labels: &[&str]) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let is_label = |line: &str, labels: &[&str]| {
        let head = line
            .trim_start_matches(|c: char| c == '#' || c == '*' || c == '-' || c.is_whitespace())
            .to_lowercase();
        let head: String = head.chars().take(40).collect();
        labels.iter().any(|l| head.contains(l)) && (head.contains(':') || head.len() < 40)
    };
    let start = lines.iter().position(|l| is_label(l, labels))?;
    let mut found = Vec::new();
    if let Some((_, rest)) = lines[start].split_once(':') {
        let rest = rest.trim().trim_matches('*').trim();
        if !rest.is_empty() {
            found.push(rest.to_string());
        }
    }
    for line in &lines[start + 1..] {
        let all: Vec<&str> = REFERENCE_LABELS
            .iter()
            .chain(&CANDIDATE_LABELS)
            .copied()
            .collect();
        if (line.trim().is_empty() && !found.is_empty()) || is_label(line, &all) {
            break;
        }
        if !line.trim().is_empty() && !line.trim_start().starts_with("```") {
            found.push(line.trim().to_string());
        }
    }
    let answer = found.join(" ");
    (!answer.is_empty()).then_some(answer)
}

/// Identifier and `table.column` tokens, without a sentence's trailing dots.
fn tokens(text: &str) -> Vec<String> {
    tokens_keeping(text, |c| c == '_' || c == '.')
        .into_iter()
        .map(|t| t.trim_matches('.').to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Token-set similarity in [0, 1] (Jaccard), 1 for the same answer however spaced or cased.
fn similarity(a: &str, b: &str) -> f64 {
    let a: std::collections::BTreeSet<String> = tokens(a).into_iter().collect();
    let b: std::collections::BTreeSet<String> = tokens(b).into_iter().collect();
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    a.intersection(&b).count() as f64 / a.union(&b).count() as f64
}

/// The scale the prompt asks for: (low, high).
fn scale(prompt: &str) -> (f64, f64) {
    let p = prompt.to_lowercase().replace(' ', "");
    for (needles, range) in [
        (["0-1.", "0to1.", "between0and1"], (0.0, 1.0)),
        (["1-10", "1to10", "0-10"], (1.0, 10.0)),
        (["1-5", "1to5", "0-5"], (1.0, 5.0)),
    ] {
        if needles.iter().any(|n| p.contains(n)) {
            return range;
        }
    }
    (0.0, 100.0)
}

/// The stand-in's answer.
pub fn respond(system: &str, user: &str) -> String {
    let prompt = format!("{system}\n{user}");
    let lower = prompt.to_lowercase();
    let asks_for_score = ["score", "rate", "grade", "similar"]
        .iter()
        .any(|w| lower.contains(w));
    if asks_for_score {
        if let (Some(reference), Some(candidate)) = (
            labelled(&prompt, &REFERENCE_LABELS),
            labelled(&prompt, &CANDIDATE_LABELS),
        ) {
            let (low, high) = scale(&prompt);
            let value = low + similarity(&reference, &candidate) * (high - low);
            return if high <= 1.0 {
                format!("{value:.2}")
            } else {
                format!("{}", value.round() as i64)
            };
        }
    }
    let answer = zero_shot::respond(system, user, true);
    if answer.starts_with("I am the nova_ft local stand-in") {
        return "I am the nova_ft local stand-in for Anthropic Claude, not Claude. I can score a generated answer against a reference answer, pick a label from a list in the system prompt, or write SQL from a CREATE TABLE schema.".to_string();
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    const JUDGE: &str = "You are a SQL expert. Compare the two queries and give a score from 0 to 100 for how similar they are. Answer with the number only.";

    #[test]
    fn scores_a_candidate_against_the_reference() {
        let same = "Expected SQL: SELECT name FROM head WHERE age > 56\nGenerated SQL: select name from head where age > 56";
        assert_eq!(respond(JUDGE, same), "100");
        let other = "Expected SQL: SELECT name FROM head WHERE age > 56\nGenerated SQL: SELECT COUNT(*) FROM department";
        let score: i64 = respond(JUDGE, other).parse().unwrap();
        assert!(score < 30, "{score}");
        let multi_line =
            "### Reference answer\nSELECT a\nFROM t\n\n### Model answer\nSELECT a FROM t";
        assert_eq!(respond("Rate the answer from 1 to 10.", multi_line), "10");
    }

    #[test]
    fn other_prompts_are_read_as_the_base_model_reads_them_and_say_what_it_is() {
        let system = nova_ft_data::dataset::synth::SYSTEM_PROMPT;
        assert_eq!(
            respond(system, "show me flights from boston to denver"),
            zero_shot::respond(system, "show me flights from boston to denver", true)
        );
        assert!(respond("", "Tell me a story").contains("not Claude"));
    }
}
