//! The local stand-in behind Anthropic Claude ids, which AWS's samples call as an LLM judge
//! (`Here is the correct answer: <correct_answer>...</correct_answer> ... Put the score in
//! <SCORE> tags`).
//!
//! It is not Claude, and its reasoning says so. It finds a reference answer and a candidate
//! answer in the prompt, under XML tags or labelled lines whose names say which is which
//! (`correct`, `reference`, `expected`, `gold`, `ground truth` ...; `student`, `generated`,
//! `predicted`, `candidate`, `response` ...), compares them in order (for SQL: the queries
//! normalised for case, spacing and quotes, clause by clause, where a different operator,
//! literal, function or column is a different query), and answers on the scale the prompt asks
//! for, in the format it asks for (`<SCORE>` or any other tag, JSON, or the number alone). Any
//! other prompt is read as the base model reads it.

use super::text::words;
use super::zero_shot;
use regex_lite::Regex;
use std::sync::LazyLock;

/// Words in a tag or label that name the reference answer.
const REFERENCE_NAMES: [&str; 9] = [
    "ground truth",
    "ground_truth",
    "expected",
    "reference",
    "correct",
    "gold",
    "target",
    "ideal",
    "true answer",
];
/// Words in a tag or label that name the answer being judged.
const CANDIDATE_NAMES: [&str; 11] = [
    "student",
    "generated",
    "predicted",
    "prediction",
    "candidate",
    "response",
    "model answer",
    "model_answer",
    "model output",
    "test_answer",
    "actual",
];

static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<([A-Za-z][A-Za-z0-9_\-]{0,40})>").expect("a valid pattern"));
static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:between\s+)?\b(\d+(?:\.\d+)?)\s*(?:-|–|to|and)\s*(\d+(?:\.\d+)?)\b")
        .expect("a valid pattern")
});

fn names(name: &str, list: &[&str]) -> bool {
    let name = name.to_lowercase().replace('-', "_");
    list.iter()
        .any(|n| name.contains(n) || name.contains(&n.replace(' ', "_")))
}

/// The text inside `<name>...</name>` (also when the closing tag is written `<name>`, as in
/// one of AWS's samples, or missing: then up to the next tag or blank line).
fn tag_content(prompt: &str, name: &str, from: usize) -> Option<String> {
    let rest = &prompt[from..];
    let close = format!("</{name}>");
    let end = rest
        .find(&close)
        .or_else(|| rest.find(&format!("<{name}>")))
        .or_else(|| rest.find("\n\n"))
        .or_else(|| rest.find('<'))
        .unwrap_or(rest.len());
    let text = rest[..end].trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Reference and candidate from XML tags.
fn from_tags(prompt: &str) -> (Option<String>, Option<String>) {
    let (mut reference, mut candidate) = (None, None);
    for found in TAG.captures_iter(prompt) {
        let (Some(whole), Some(name)) = (found.get(0), found.get(1)) else {
            continue;
        };
        let name = name.as_str();
        let slot = if names(name, &REFERENCE_NAMES) {
            &mut reference
        } else if names(name, &CANDIDATE_NAMES) {
            &mut candidate
        } else {
            continue;
        };
        if slot.is_none() {
            *slot = tag_content(prompt, name, whole.end());
        }
    }
    (reference, candidate)
}

/// The text after the first line whose start names one of `labels` (after `#`, `*`, `-` or
/// spaces), up to the next such line or a blank line; the label's own line may carry the text
/// after a colon.
fn labelled(text: &str, labels: &[&str]) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let is_label = |line: &str, labels: &[&str]| {
        let head: String = line
            .trim_start_matches(|c: char| c == '#' || c == '*' || c == '-' || c.is_whitespace())
            .to_lowercase()
            .chars()
            .take(40)
            .collect();
        let title = head.split(':').next().unwrap_or("");
        labels.iter().any(|l| title.contains(l)) && (head.contains(':') || head.len() < 40)
    };
    let start = lines.iter().position(|l| is_label(l, labels))?;
    let mut found = Vec::new();
    if let Some((_, rest)) = lines[start].split_once(':') {
        let rest = rest.trim().trim_matches('*').trim();
        if !rest.is_empty() {
            found.push(rest.to_string());
        }
    }
    let all: Vec<&str> = REFERENCE_NAMES
        .iter()
        .chain(&CANDIDATE_NAMES)
        .copied()
        .collect();
    for line in &lines[start + 1..] {
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

/// SQL or text as a sequence of comparable tokens: lower-cased outside quotes, quotes unified,
/// operators and punctuation as tokens of their own, a trailing `;` dropped.
fn sequence(text: &str) -> Vec<String> {
    let text = text.trim().trim_end_matches(';').trim();
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c == '\'' || c == '"' {
            let mut literal = String::from("'");
            for d in chars.by_ref() {
                if d == c {
                    break;
                }
                literal.push(d);
            }
            literal.push('\'');
            out.push(literal);
        } else if c.is_alphanumeric() || c == '_' || c == '.' {
            let mut word: String = c.to_lowercase().collect();
            while let Some(&d) = chars.peek() {
                if d.is_alphanumeric() || d == '_' || d == '.' {
                    word.extend(d.to_lowercase());
                    chars.next();
                } else {
                    break;
                }
            }
            let word = word.trim_end_matches('.').to_string();
            if !word.is_empty() {
                out.push(word);
            }
        } else {
            let mut op = c.to_string();
            if let Some(&d) = chars.peek() {
                if matches!((c, d), ('<', '=') | ('>', '=') | ('!', '=') | ('<', '>')) {
                    op.push(d);
                    chars.next();
                }
            }
            out.push(op);
        }
    }
    out
}

fn is_sql(tokens: &[String]) -> bool {
    matches!(
        tokens.first().map(String::as_str),
        Some("select" | "with" | "insert" | "update" | "delete")
    )
}

/// Length of the longest common subsequence.
fn lcs(a: &[String], b: &[String]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for x in a {
        let mut diagonal = 0;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x == y {
                diagonal + 1
            } else {
                row[j + 1].max(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Tokens that change what a query or a statement means when they differ: operators, numbers,
/// quoted literals, and negations.
fn meaning_bearing(token: &str) -> bool {
    token.starts_with('\'')
        || token.parse::<f64>().is_ok()
        || ["<", ">", "=", "<=", ">=", "!=", "<>"].contains(&token)
        || [
            "not", "no", "never", "desc", "asc", "distinct", "count", "sum", "avg", "min", "max",
            "and", "or", "limit",
        ]
        .contains(&token)
}

/// How well the candidate matches the reference, 0..1, with the reason in words. In order:
/// the longest common subsequence of their tokens (a ROUGE-L F-measure), halved when a token
/// that carries meaning (an operator, number, literal, negation, aggregate) differs.
fn agreement(reference: &str, candidate: &str) -> (f64, String) {
    let (a, b) = (sequence(reference), sequence(candidate));
    if a == b {
        return (
            1.0,
            "the answer is the reference, up to case, spacing and quotes".into(),
        );
    }
    if a.is_empty() || b.is_empty() {
        return (0.0, "one of the two answers is empty".into());
    }
    let common = lcs(&a, &b) as f64;
    let f = 2.0 * common / (a.len() + b.len()) as f64;
    let mut key_a: Vec<&String> = a.iter().filter(|t| meaning_bearing(t)).collect();
    let mut key_b: Vec<&String> = b.iter().filter(|t| meaning_bearing(t)).collect();
    key_a.sort();
    key_b.sort();
    let kind = if is_sql(&a) { "query" } else { "answer" };
    if key_a != key_b {
        return (
            f * 0.5,
            format!(
                "the {kind} shares {:.0}% of the reference's tokens in order, but an operator, number, literal, negation or aggregate differs, which changes its meaning",
                f * 100.0
            ),
        );
    }
    (
        f,
        format!(
            "the {kind} shares {:.0}% of the reference's tokens in order",
            f * 100.0
        ),
    )
}

/// The scale asked for: the first `low-high` range in a sentence about the score (0-100
/// when none is named).
fn scale(prompt: &str) -> (f64, f64) {
    for sentence in prompt.split(['\n', '.']) {
        let lower = sentence.to_lowercase();
        let about_score = words(&lower).iter().any(|w| {
            [
                "score", "scale", "rate", "rating", "grade", "points", "mark",
            ]
            .contains(&w.as_str())
        });
        if !about_score {
            continue;
        }
        for found in RANGE.captures_iter(sentence) {
            let low = found.get(1).and_then(|m| m.as_str().parse::<f64>().ok());
            let high = found.get(2).and_then(|m| m.as_str().parse::<f64>().ok());
            if let (Some(low), Some(high)) = (low, high) {
                if high > low && low >= 0.0 {
                    return (low, high);
                }
            }
        }
    }
    (0.0, 100.0)
}

/// Where the prompt asks the score to go.
enum Reply {
    /// `<NAME>score</NAME>`, and the reasoning in its tag when one is asked for.
    Tags {
        score: String,
        reason: Option<String>,
    },
    Json,
    Number,
    NumberAndReason,
}

fn reply_format(prompt: &str) -> Reply {
    let lower = prompt.to_lowercase();
    let mut score = None;
    let mut reason = None;
    for found in TAG.captures_iter(prompt) {
        let Some(name) = found.get(1).map(|m| m.as_str()) else {
            continue;
        };
        let n = name.to_lowercase();
        if score.is_none() && ["score", "rating", "grade"].iter().any(|w| n.contains(w)) {
            score = Some(name.to_string());
        } else if reason.is_none()
            && [
                "reason",
                "thinking",
                "explanation",
                "justification",
                "rationale",
            ]
            .iter()
            .any(|w| n.contains(w))
        {
            reason = Some(name.to_string());
        }
    }
    if let Some(score) = score {
        return Reply::Tags { score, reason };
    }
    if lower.contains("json") || lower.contains("\"score\"") {
        return Reply::Json;
    }
    let only_number = [
        "number only",
        "only the number",
        "just the number",
        "only a number",
    ]
    .iter()
    .any(|p| lower.contains(p));
    let wants_reason = !only_number
        && ["explain", "reasoning", "justify", "why"]
            .iter()
            .any(|w| words(&lower).iter().any(|x| x == w));
    if wants_reason {
        Reply::NumberAndReason
    } else {
        Reply::Number
    }
}

fn asks_for_a_score(prompt: &str) -> bool {
    words(prompt).iter().any(|w| {
        [
            "score",
            "scores",
            "rate",
            "rating",
            "grade",
            "similar",
            "similarity",
            "evaluate",
            "judge",
            "compare",
        ]
        .contains(&w.as_str())
    })
}

/// The stand-in's answer.
pub fn respond(system: &str, user: &str) -> String {
    let prompt = format!("{system}\n{user}");
    if asks_for_a_score(&prompt) {
        let (tag_reference, tag_candidate) = from_tags(&prompt);
        let reference = tag_reference.or_else(|| labelled(&prompt, &REFERENCE_NAMES));
        let candidate = tag_candidate.or_else(|| labelled(&prompt, &CANDIDATE_NAMES));
        if let (Some(reference), Some(candidate)) = (reference, candidate) {
            let (low, high) = scale(&prompt);
            let (share, why) = agreement(&reference, &candidate);
            let value = low + share * (high - low);
            let score = if high <= 1.0 {
                format!("{value:.2}")
            } else {
                format!("{}", value.round() as i64)
            };
            let reasoning = format!(
                "nova_ft local stand-in judge, not Claude: {why}; score {score} on a {low}-{high} scale."
            );
            return match reply_format(&prompt) {
                Reply::Tags { score: tag, reason } => match reason {
                    Some(r) => format!("<{r}>{reasoning}</{r}>\n<{tag}>{score}</{tag}>"),
                    None => format!("<{tag}>{score}</{tag}>"),
                },
                Reply::Json => {
                    serde_json::json!({"score": value, "reasoning": reasoning}).to_string()
                }
                Reply::Number => score,
                Reply::NumberAndReason => format!("{score}\n{reasoning}"),
            };
        }
    }
    let answer = zero_shot::respond(system, user);
    if answer.starts_with("I am the nova_ft local stand-in") {
        return "I am the nova_ft local stand-in for Anthropic Claude, not Claude. I can score a candidate answer against a reference answer (named by XML tags or labels in the prompt), pick a label from a list in the system prompt, or write SQL from a CREATE TABLE schema.".to_string();
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    const JUDGE: &str = "You are a SQL expert. Compare the two queries and give a score from 0 to 100 for how similar they are. Answer with the number only.";

    fn score(system: &str, user: &str) -> f64 {
        respond(system, user).trim().parse().unwrap()
    }

    #[test]
    fn scores_a_candidate_against_the_reference() {
        let same = "Expected SQL: SELECT name FROM head WHERE age > 56\nGenerated SQL: select name from head where age > 56;";
        assert_eq!(respond(JUDGE, same), "100");
        let other = "Expected SQL: SELECT name FROM head WHERE age > 56\nGenerated SQL: SELECT COUNT(*) FROM department";
        assert!(score(JUDGE, other) < 30.0);
        let multi_line =
            "### Reference answer\nSELECT a\nFROM t\n\n### Model answer\nSELECT a FROM t";
        assert_eq!(respond("Rate the answer from 1 to 10.", multi_line), "10");
    }

    #[test]
    fn order_and_operators_matter_where_a_bag_of_words_sees_none() {
        let flipped = "Expected SQL: SELECT name FROM head WHERE age > 56\nGenerated SQL: SELECT name FROM head WHERE age < 56";
        assert!(score(JUDGE, flipped) <= 50.0, "{}", score(JUDGE, flipped));
        let swapped = "Reference: dog bites man\nCandidate: man bites dog";
        assert!(score(JUDGE, swapped) < 70.0);
        let negated = "Reference: the refund was approved\nCandidate: the refund was not approved";
        assert!(score(JUDGE, negated) <= 50.0);
    }

    #[test]
    fn reads_the_scale_asked_for_and_not_a_prefix_of_it() {
        let pair = "Expected: a b c d\nGenerated: a b c d";
        assert_eq!(respond("Score it 0-100.", pair), "100");
        assert_eq!(respond("Score it on a 0-10 scale.", pair), "10");
        assert_eq!(respond("Give a score between 0 and 1.", pair), "1.00");
        assert_eq!(respond("Rate it from 1 to 5.", pair), "5");
        // "generated" holds "rate" but asks for nothing; no score word, no score.
        assert!(!asks_for_a_score("Here is the generated text"));
    }

    /// The judge prompt of AWS's text-to-SQL sample (amazon-bedrock-samples,
    /// custom-models/import_models/llama-3/customized-text-to-sql-model), whose closing tag
    /// of the student answer is written as an opening one.
    fn aws_text_to_sql_prompt(correct: &str, student: &str) -> String {
        format!(
            "You are a data science teacher that is introducing students to SQL. Consider the following question and schema:\n<question>How many heads are older than 56?</question>\n<schema>CREATE TABLE head (age INTEGER)</schema>\n\nHere is the correct answer:\n<correct_answer>{correct}</correct_answer>\n\nHere is the student's answer:\n<student_answer>{student}<student_answer>\n\nPlease provide a numeric score from 0 to 100 on how well the student's answer matches the correct answer for this question.\nThe score should be high if the answers say essentially the same thing.\nThe score should be lower if some parts are missing, or if extra unnecessary parts have been included.\nThe score should be 0 for an entirely wrong answer. Put the score in <SCORE> XML tags.\nDo not consider your own answer to the question, but instead score based only on the correct answer above.\n"
        )
    }

    fn tagged_score(reply: &str) -> f64 {
        let start = reply.find("<SCORE>").expect("a <SCORE> tag") + "<SCORE>".len();
        let end = reply.find("</SCORE>").expect("a closing tag");
        reply[start..end].parse().unwrap()
    }

    #[test]
    fn answers_aws_text_to_sql_judge_prompt_in_its_tags() {
        let right = respond(
            "",
            &aws_text_to_sql_prompt(
                "SELECT COUNT(*) FROM head WHERE age > 56",
                "SELECT count(*) FROM head WHERE age > 56",
            ),
        );
        assert_eq!(tagged_score(&right), 100.0, "{right}");
        let wrong = respond(
            "",
            &aws_text_to_sql_prompt(
                "SELECT COUNT(*) FROM head WHERE age > 56",
                "SELECT COUNT(*) FROM head WHERE age < 56",
            ),
        );
        assert!(tagged_score(&wrong) <= 50.0, "{wrong}");
    }

    #[test]
    fn answers_aws_prompt_evaluation_sample_with_score_and_reason_tags() {
        // amazon-bedrock-samples, articles-guides/prompt-engineering/Prompt Evaluation.ipynb
        let prompt = "You are a teacher.  Consider the following question along with its correct answer and a student submitted answer.\nHere is the question:\n<question>What is the capital of France?</question>\nHere is the correct answer:\n<correct_answer>Paris is the capital of France</correct_answer>\nHere is the student's answer:\n<student_answer>The capital of France is Paris</student_answer>\nPlease provide a score from 0 to 100 on how well the student answer matches the correct answer for this question.\nThe score should be high if the answers say essentially the same thing.\nThe score should be lower if some facts are missing or incorrect, or if extra unnecessary facts have been included.\nThe score should be 0 for entirely wrong answers.  Put the score in <SCORE> tags. and your reasoning in <REASON> tags.\nDo not consider your own answer to the question, but instead score based on the correct_answer above.";
        let reply = respond("", prompt);
        assert!(
            reply.contains("<REASON>") && reply.contains("stand-in"),
            "{reply}"
        );
        let value = tagged_score(&reply);
        assert!(value > 0.0 && value < 100.0, "{reply}");
    }

    #[test]
    fn json_replies_when_json_is_asked_for() {
        let reply = respond(
            "Return JSON with a \"score\" from 0 to 10 and your reasoning.",
            "Reference: 42\nResponse: 42",
        );
        let value: serde_json::Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(value["score"], 10.0);
        assert!(value["reasoning"].as_str().unwrap().contains("stand-in"));
    }

    #[test]
    fn other_prompts_are_read_as_the_base_model_reads_them_and_say_what_it_is() {
        let system = nova_ft_data::dataset::synth::SYSTEM_PROMPT;
        assert_eq!(
            respond(system, "show me flights from boston to denver"),
            zero_shot::respond(system, "show me flights from boston to denver")
        );
        assert!(respond("", "Tell me a story").contains("not Claude"));
    }
}
