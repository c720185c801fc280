//! The answers the stand-in can give to a free-text prompt, for reinforcement fine-tuning on
//! tasks without a label list: it cannot write new text, so RFT learns which of these a
//! prompt's wording calls for. Each candidate carries structural features (what kind of
//! answer it is), which the policy crosses with the prompt's words.
//!
//! - text-to-SQL (a `CREATE TABLE` schema in the prompt): queries over the schema's (first two
//!   named, else first) tables and
//!   columns (a column, the columns the question names, `*`, `COUNT(*)`, or
//!   `AVG`/`MAX`/`MIN`/`SUM` of a numeric column; with no filter, one on the question's literal
//!   with `=`, `>` or `<`, or an ordering by a column, ascending or its top row);
//! - numbers in the prompt: each number, and the sum, differences, product and quotient of
//!   each pair;
//! - any other prompt: its first sentence, its first two, and its last (extractive answers).
//!
//! The base reader's own answer is always the first candidate, so the policy starts as the
//! base model.

use super::text::{stem, words};
use super::zero_shot::{self, parse_schema, question_and_context};

/// At most this many candidates per prompt.
pub const MAX_CANDIDATES: usize = 256;

/// One answer the stand-in can give, and what kind of answer it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub text: String,
    pub features: Vec<String>,
}

fn candidate(text: String, features: Vec<String>) -> Candidate {
    Candidate { text, features }
}

fn mentioned(name: &str, question: &[String]) -> bool {
    let parts: Vec<String> = words(name).iter().map(|w| stem(w)).collect();
    !parts.is_empty()
        && parts.iter().all(|p| {
            question
                .iter()
                .any(|q| q == p || (p.chars().count() >= 4 && q.starts_with(p.as_str())))
        })
}

fn numeric(kind: &str) -> bool {
    ["INT", "REAL", "NUM", "FLOAT", "DOUBLE", "DEC"]
        .iter()
        .any(|k| kind.contains(k))
}

fn sql_candidates(question: &str, context: &str, out: &mut Vec<Candidate>) {
    let stems: Vec<String> = words(question).iter().map(|w| stem(w)).collect();
    let literal = question
        .split('\'')
        .nth(1)
        .map(|s| (format!("'{}'", s.replace('\'', "''")), false))
        .or_else(|| {
            words(question)
                .into_iter()
                .find(|w| w.parse::<f64>().is_ok())
                .map(|n| (n, true))
        });
    let mut tables = parse_schema(context);
    // The tables the question names first; at most three.
    tables.sort_by_key(|(t, _)| !mentioned(t, &stems));
    for (table, columns) in tables.iter().take(2) {
        let table_feature = if mentioned(table, &stems) {
            "table:named"
        } else {
            "table:unnamed"
        };
        let mut selects: Vec<(String, Vec<String>)> = vec![
            ("*".into(), vec!["select:star".into()]),
            ("COUNT(*)".into(), vec!["select:count".into()]),
        ];
        for (column, kind) in columns.iter().take(8) {
            let named = if mentioned(column, &stems) {
                "named"
            } else {
                "unnamed"
            };
            selects.push((column.clone(), vec![format!("select:column:{named}")]));
            if numeric(kind) {
                for agg in ["AVG", "MAX", "MIN", "SUM"] {
                    selects.push((
                        format!("{agg}({column})"),
                        vec![
                            format!("select:{}", agg.to_lowercase()),
                            format!("select:column:{named}"),
                        ],
                    ));
                }
            }
        }
        let named: Vec<&String> = columns
            .iter()
            .map(|(c, _)| c)
            .filter(|c| mentioned(c, &stems))
            .collect();
        if named.len() >= 2 {
            let list: Vec<&str> = named.iter().take(4).map(|c| c.as_str()).collect();
            selects.push((list.join(", "), vec!["select:columns:named".into()]));
        }
        let mut filters: Vec<(String, Vec<String>)> =
            vec![(String::new(), vec!["where:none".into()])];
        // Ordering, unfiltered: by each column, or its largest first and only that one.
        for (column, kind) in columns.iter().take(8) {
            let named = if mentioned(column, &stems) {
                "named"
            } else {
                "unnamed"
            };
            let kind = if numeric(kind) { "numeric" } else { "text" };
            filters.push((
                format!(" ORDER BY {column}"),
                vec!["order:asc".into(), format!("order:column:{named}:{kind}")],
            ));
            filters.push((
                format!(" ORDER BY {column} DESC LIMIT 1"),
                vec!["order:top".into(), format!("order:column:{named}:{kind}")],
            ));
        }
        if let Some((value, is_number)) = &literal {
            for (column, kind) in columns.iter().take(8) {
                if numeric(kind) != *is_number {
                    continue;
                }
                let named = if mentioned(column, &stems) {
                    "named"
                } else {
                    "unnamed"
                };
                let ops: &[&str] = if *is_number { &["=", ">", "<"] } else { &["="] };
                for op in ops {
                    filters.push((
                        format!(" WHERE {column} {op} {value}"),
                        vec![format!("where:op:{op}"), format!("where:column:{named}")],
                    ));
                }
            }
        }
        for (select, select_features) in &selects {
            let aggregate = select.contains('(');
            for (filter, filter_features) in &filters {
                // An aggregate is one row: ordering it means nothing.
                if aggregate && filter.starts_with(" ORDER BY") {
                    continue;
                }
                let mut features = vec![table_feature.to_string()];
                features.extend(select_features.iter().cloned());
                features.extend(filter_features.iter().cloned());
                out.push(candidate(
                    format!("SELECT {select} FROM {table}{filter}"),
                    features,
                ));
            }
        }
    }
}

/// Numbers as written in the prompt (at most six), and their values.
fn numbers(text: &str) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::new();
    let mut current = String::new();
    for ch in text.chars().chain(std::iter::once(' ')) {
        if ch.is_ascii_digit() || (ch == '.' && !current.is_empty() && !current.contains('.')) {
            current.push(ch);
        } else if ch == ',' && !current.is_empty() {
            // thousands separators: 1,000
        } else if !current.is_empty() {
            if let Ok(value) = current.trim_end_matches('.').parse::<f64>() {
                if !out.contains(&value) {
                    out.push(value);
                }
            }
            current.clear();
        }
    }
    out.truncate(6);
    out
}

fn show(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        let text = format!("{value:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn arithmetic_candidates(values: &[f64], out: &mut Vec<Candidate>) {
    for (i, a) in values.iter().enumerate() {
        out.push(candidate(show(*a), vec![format!("number:{i}")]));
    }
    for (i, a) in values.iter().enumerate() {
        for (j, b) in values.iter().enumerate().skip(i + 1) {
            let pair = format!("{i}{j}");
            let mut push = |value: f64, op: &str| {
                if value.is_finite() {
                    out.push(candidate(
                        show(value),
                        vec![format!("op:{op}"), format!("op:{op}:{pair}")],
                    ));
                }
            };
            push(a + b, "+");
            push(a - b, "-");
            push(b - a, "-r");
            push(a * b, "*");
            if *b != 0.0 {
                push(a / b, "/");
            }
            if *a != 0.0 {
                push(b / a, "/r");
            }
        }
    }
}

fn sentences(text: &str) -> Vec<String> {
    text.split_inclusive(['.', '!', '?', '\n'])
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn extractive_candidates(user: &str, out: &mut Vec<Candidate>) {
    let all = sentences(user);
    if let Some(first) = all.first() {
        out.push(candidate(first.clone(), vec!["extract:first".into()]));
    }
    if all.len() >= 2 {
        out.push(candidate(
            format!("{} {}", all[0], all[1]),
            vec!["extract:first-two".into()],
        ));
        if let Some(last) = all.last() {
            out.push(candidate(last.clone(), vec!["extract:last".into()]));
        }
    }
}

/// The candidates for one prompt: the base reader's answer first, then the task's own, each
/// text once.
pub fn candidates(system: &str, user: &str) -> Vec<Candidate> {
    let mut out = vec![candidate(
        zero_shot::respond(system, user),
        vec!["base".into()],
    )];
    if let Some(labels) = zero_shot::label_list(system) {
        for label in labels {
            out.push(candidate(label.clone(), vec![format!("label:{label}")]));
        }
    } else {
        let (question, context) = question_and_context(user);
        if !parse_schema(&context).is_empty() {
            sql_candidates(&question, &context, &mut out);
        } else {
            let values = numbers(user);
            if values.is_empty() {
                extractive_candidates(user, &mut out);
            } else {
                arithmetic_candidates(&values, &mut out);
            }
        }
    }
    // One entry per text: a text reached two ways keeps both ways' features.
    let mut merged: Vec<Candidate> = Vec::with_capacity(out.len());
    for c in out {
        match merged.iter_mut().find(|m| m.text == c.text) {
            Some(m) => m.features.extend(c.features),
            None => merged.push(c),
        }
    }
    // Past the cap, keep the candidates built most from what the prompt names (the base
    // answer stays first).
    if merged.len() > MAX_CANDIDATES {
        let named = |c: &Candidate| c.features.iter().filter(|f| f.contains(":named")).count();
        merged[1..].sort_by_key(|c| std::cmp::Reverse(named(c)));
        merged.truncate(MAX_CANDIDATES);
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_prompts_offer_queries_over_their_schema() {
        let user = "### Input:\nHow many heads are older than 56?\n\n### Context:\nCREATE TABLE head (name VARCHAR, age INTEGER)\n\n### Response:\n";
        let found = candidates("You write SQL.", user);
        let texts: Vec<&str> = found.iter().map(|c| c.text.as_str()).collect();
        assert!(texts.contains(&"SELECT COUNT(*) FROM head WHERE age > 56"));
        assert!(texts.contains(&"SELECT AVG(age) FROM head"));
        assert!(texts.contains(&"SELECT name FROM head WHERE age < 56"));
        assert!(found[0].features.contains(&"base".to_string()));
        assert!(found.len() <= MAX_CANDIDATES);
    }

    #[test]
    fn numbers_give_arithmetic_and_other_text_gives_sentences() {
        let found = candidates("", "Sam has 12 apples and buys 30 more. How many now?");
        let texts: Vec<&str> = found.iter().map(|c| c.text.as_str()).collect();
        assert!(texts.contains(&"42") && texts.contains(&"360") && texts.contains(&"18"));
        let found = candidates("Summarise.", "The river rose. Roads closed. Schools shut.");
        assert!(found.iter().any(|c| c.text == "The river rose."));
        assert_eq!(numbers("1,000 and 2.5 and 7."), vec![1000.0, 2.5, 7.0]);
    }
}
