//! The fine-tuned model for open outputs such as SQL: retrieve and adapt.
//!
//! It indexes the training pairs by TF-IDF over the question's word stems and the schema's
//! table and column names. For a new request it takes the answer of the nearest training
//! question and, when that answer is SQL, adapts it to the new request:
//! - table names of the example's schema become the new schema's most similar tables;
//! - column names not in the new schema become the most similar new columns;
//! - literals follow the words that differ between the two questions (`'texas'` becomes
//!   `'ohio'` when "texas" in the example's question is "ohio" in the new one), and remaining
//!   numbers and quoted strings take the new question's, in order.
//!
//! What it cannot do: write a query whose shape no training example has (new joins, nesting or
//! aggregates), or map literals the question does not spell out. It is a stand-in that shows
//! whether training data covers the traffic, not a language model.

use super::text::{stem, to_unit_length, words};
use super::zero_shot::{parse_schema, question_and_context};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Entry {
    question: String,
    context: String,
    answer: String,
    /// Term -> weight (TF-IDF), normalised to unit length.
    vector: Vec<(String, f32)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Retrieval {
    entries: Vec<Entry>,
    idf: HashMap<String, f32>,
    /// Stems of words that appear inside literals of the training answers ('texas', 56):
    /// slot fillers, which say little about which query shape a question needs.
    #[serde(default)]
    slot_words: std::collections::HashSet<String>,
    #[serde(default)]
    weights: TermWeights,
}

/// How much each kind of term counts, relative to a word of the question.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct TermWeights {
    /// A slot-filler word (one seen inside a training answer's literal).
    pub slot: f32,
    /// A table name of the request's schema.
    pub table: f32,
    /// A column name of the request's schema.
    pub column: f32,
}

/// Chosen by `cargo run --release -p nova-ft-models --example retrieval_sweep` on the training
/// files of GeoQuery and sql-create-context (5-fold cross-validation), never a test split.
pub const TERM_WEIGHTS: TermWeights = TermWeights {
    slot: 0.3,
    table: 0.1,
    column: 0.3,
};

impl Default for TermWeights {
    fn default() -> Self {
        TERM_WEIGHTS
    }
}

/// Stems of the words inside an SQL answer's string literals and numbers.
fn literal_words(answer: &str) -> Vec<String> {
    if !looks_like_sql(answer) {
        return Vec::new();
    }
    sql_tokens(answer)
        .into_iter()
        .filter(|t| t.starts_with('\'') || t.starts_with('"') || t.parse::<f64>().is_ok())
        .flat_map(|t| words(&t).into_iter().map(|w| stem(&w)).collect::<Vec<_>>())
        .collect()
}

fn terms(
    question: &str,
    context: &str,
    slots: &std::collections::HashSet<String>,
    weights: TermWeights,
) -> Vec<(String, f32)> {
    let mut out: Vec<(String, f32)> = words(question)
        .iter()
        .map(|w| {
            let s = stem(w);
            let weight = if slots.contains(&s) {
                weights.slot
            } else {
                1.0
            };
            (s, weight)
        })
        .collect();
    for (table, columns) in parse_schema(context) {
        out.push((format!("t:{}", table.to_lowercase()), weights.table));
        for (column, _) in columns {
            out.push((format!("c:{}", column.to_lowercase()), weights.column));
        }
    }
    out
}

fn vectorize(
    terms: &[(String, f32)],
    idf: &HashMap<String, f32>,
    default_idf: f32,
) -> Vec<(String, f32)> {
    let mut tf: HashMap<&str, f32> = HashMap::new();
    for (t, w) in terms {
        *tf.entry(t.as_str()).or_default() += w;
    }
    let mut v: Vec<(String, f32)> = tf
        .into_iter()
        .map(|(t, w)| {
            (
                t.to_string(),
                w * idf.get(t).copied().unwrap_or(default_idf),
            )
        })
        .collect();
    to_unit_length(&mut v);
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn cosine(a: &[(String, f32)], b: &[(String, f32)]) -> f32 {
    let (mut i, mut j, mut dot) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                dot += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    dot
}

impl Retrieval {
    /// Index (user turn, answer) pairs.
    pub fn build(pairs: &[(String, String)]) -> Retrieval {
        Self::build_weighted(pairs, TERM_WEIGHTS)
    }

    /// Index as [`Retrieval::build`], with other term weights (for the sweep that chose them).
    pub fn build_weighted(pairs: &[(String, String)], weights: TermWeights) -> Retrieval {
        let split: Vec<(String, String, String)> = pairs
            .iter()
            .map(|(user, answer)| {
                let (q, c) = question_and_context(user);
                (q, c, answer.clone())
            })
            .collect();
        let slot_words: std::collections::HashSet<String> = split
            .iter()
            .flat_map(|(_, _, a)| literal_words(a))
            .collect();
        let mut df: HashMap<String, f32> = HashMap::new();
        for (q, c, _) in &split {
            let mut seen: Vec<String> = terms(q, c, &slot_words, weights)
                .into_iter()
                .map(|(t, _)| t)
                .collect();
            seen.sort();
            seen.dedup();
            for t in seen {
                *df.entry(t).or_default() += 1.0;
            }
        }
        let n = split.len().max(1) as f32;
        let idf: HashMap<String, f32> = df
            .into_iter()
            .map(|(t, d)| (t, (1.0 + n / d).ln()))
            .collect();
        let default_idf = (1.0 + n).ln();
        let entries = split
            .into_iter()
            .map(|(question, context, answer)| {
                let vector = vectorize(
                    &terms(&question, &context, &slot_words, weights),
                    &idf,
                    default_idf,
                );
                Entry {
                    question,
                    context,
                    answer,
                    vector,
                }
            })
            .collect();
        Retrieval {
            entries,
            idf,
            slot_words,
            weights,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// A model over this one's pairs and `pairs` (iterative fine-tuning of open answers):
    /// the new pairs are retrieved beside the old, with idf over both.
    pub fn extended(&self, pairs: &[(String, String)]) -> Retrieval {
        let mut all: Vec<(String, String)> = self
            .entries
            .iter()
            .map(|e| {
                // Written so that `question_and_context` splits it back the same way.
                let user = if e.context.is_empty() {
                    e.question.clone()
                } else {
                    format!("### Input:\n{}\n### Context:\n{}", e.question, e.context)
                };
                (user, e.answer.clone())
            })
            .collect();
        all.extend_from_slice(pairs);
        Retrieval::build_weighted(&all, self.weights)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The nearest entry to a request and its similarity.
    fn nearest(&self, question: &str, context: &str) -> Option<(&Entry, f32)> {
        let default_idf = (1.0 + self.entries.len() as f32).ln();
        let query = vectorize(
            &terms(question, context, &self.slot_words, self.weights),
            &self.idf,
            default_idf,
        );
        self.entries
            .iter()
            .map(|e| (e, cosine(&query, &e.vector)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// The nearest answer and its similarity, without adaptation (for the distillation teacher).
    pub fn nearest_answer(&self, user: &str) -> Option<(String, f32)> {
        let (q, c) = question_and_context(user);
        self.nearest(&q, &c).map(|(e, s)| (e.answer.clone(), s))
    }

    pub fn respond(&self, user: &str) -> String {
        let (question, context) = question_and_context(user);
        let Some((entry, _)) = self.nearest(&question, &context) else {
            return String::new();
        };
        if looks_like_sql(&entry.answer) {
            adapt_sql(
                &entry.answer,
                &entry.question,
                &entry.context,
                &question,
                &context,
            )
        } else {
            entry.answer.clone()
        }
    }
}

fn looks_like_sql(text: &str) -> bool {
    let upper = text.trim_start().to_uppercase();
    ["SELECT", "WITH", "INSERT", "UPDATE", "DELETE"]
        .iter()
        .any(|k| upper.starts_with(k))
}

fn name_similarity(a: &str, b: &str) -> f32 {
    let a: Vec<String> = words(&a.replace('_', " "))
        .iter()
        .map(|w| stem(w))
        .collect();
    let b: Vec<String> = words(&b.replace('_', " "))
        .iter()
        .map(|w| stem(w))
        .collect();
    if a == b {
        return 2.0;
    }
    let shared = a.iter().filter(|w| b.contains(w)).count() as f32;
    shared / (a.len().max(b.len()).max(1) as f32)
}

/// SQL tokens: identifiers/keywords, quoted literals, numbers and everything else, kept whole.
fn sql_tokens(sql: &str) -> Vec<String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c == '\'' || c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            i = (i + 1).min(chars.len());
        } else if c.is_alphanumeric() || c == '_' {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
        } else {
            i += 1;
        }
        out.push(chars[start..i].iter().collect());
    }
    out
}

/// Word runs that differ between two questions, paired in order: (example's, new).
fn differing_spans(old: &str, new: &str) -> Vec<(String, String)> {
    let old_words = words(old);
    let new_words = words(new);
    let runs = |a: &[String], b: &[String]| -> Vec<String> {
        let mut out = Vec::new();
        let mut current: Vec<&str> = Vec::new();
        for w in a {
            if b.contains(w) {
                if !current.is_empty() {
                    out.push(current.join(" "));
                    current.clear();
                }
            } else {
                current.push(w);
            }
        }
        if !current.is_empty() {
            out.push(current.join(" "));
        }
        out
    };
    runs(&old_words, &new_words)
        .into_iter()
        .zip(runs(&new_words, &old_words))
        .collect()
}

fn adapt_sql(
    sql: &str,
    old_question: &str,
    old_context: &str,
    new_question: &str,
    new_context: &str,
) -> String {
    let old_schema = parse_schema(old_context);
    let new_schema = parse_schema(new_context);
    let new_tables: Vec<&str> = new_schema.iter().map(|(t, _)| t.as_str()).collect();
    let new_columns: Vec<&str> = new_schema
        .iter()
        .flat_map(|(_, cols)| cols.iter().map(|(c, _)| c.as_str()))
        .collect();
    let has = |list: &[&str], name: &str| list.iter().any(|x| x.eq_ignore_ascii_case(name));
    let best = |list: &[&str], name: &str| -> Option<String> {
        list.iter()
            .map(|c| (c, name_similarity(c, name)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, _)| c.to_string())
    };
    let old_tables: Vec<&str> = old_schema.iter().map(|(t, _)| t.as_str()).collect();
    let old_columns: Vec<&str> = old_schema
        .iter()
        .flat_map(|(_, cols)| cols.iter().map(|(c, _)| c.as_str()))
        .collect();
    let spans = differing_spans(old_question, new_question);
    let mut new_numbers = words(new_question)
        .into_iter()
        .filter(|w| w.parse::<f64>().is_ok());
    let mut new_quoted = new_question
        .split(['\'', '"'])
        .skip(1)
        .step_by(2)
        .map(str::to_string);
    let mut out = String::new();
    for token in sql_tokens(sql) {
        let replaced = if token.starts_with('\'') || token.starts_with('"') {
            let quote = &token[..1];
            let inner = token.trim_matches(|c| c == '\'' || c == '"');
            match spans
                .iter()
                .find(|(old, _)| old.eq_ignore_ascii_case(inner))
            {
                Some((_, new)) => format!("{quote}{new}{quote}"),
                None if !old_question.to_lowercase().contains(&inner.to_lowercase()) => {
                    token.clone()
                }
                None => new_quoted
                    .next()
                    .map_or(token.clone(), |q| format!("{quote}{q}{quote}")),
            }
        } else if token.parse::<f64>().is_ok() {
            match spans.iter().find(|(old, _)| *old == token) {
                Some((_, new)) if new.parse::<f64>().is_ok() => new.clone(),
                _ if old_question.contains(&token) => new_numbers.next().unwrap_or(token.clone()),
                _ => token.clone(),
            }
        } else if !new_schema.is_empty() && has(&old_tables, &token) && !has(&new_tables, &token) {
            best(&new_tables, &token).unwrap_or(token.clone())
        } else if !new_schema.is_empty() && has(&old_columns, &token) && !has(&new_columns, &token)
        {
            best(&new_columns, &token).unwrap_or(token.clone())
        } else {
            token.clone()
        };
        out.push_str(&replaced);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(question: &str, context: &str) -> String {
        format!("### Input:\n{question}\n\n### Context:\n{context}\n\n### Response:\n")
    }

    #[test]
    fn retrieves_and_swaps_literals_that_follow_the_question() {
        let geo = "CREATE TABLE state (state_name TEXT, population INTEGER, capital TEXT)";
        let pairs = vec![
            (
                prompt("what is the population of texas", geo),
                "SELECT population FROM state WHERE state_name = 'texas'".to_string(),
            ),
            (
                prompt("what is the capital of ohio", geo),
                "SELECT capital FROM state WHERE state_name = 'ohio'".to_string(),
            ),
        ];
        let model = Retrieval::build(&pairs);
        assert_eq!(
            model.respond(&prompt("what is the population of utah", geo)),
            "SELECT population FROM state WHERE state_name = 'utah'"
        );
    }

    #[test]
    fn slot_values_do_not_decide_which_query_is_retrieved() {
        let geo = "CREATE TABLE state (state_name TEXT, population INTEGER, area INTEGER)";
        let pairs = vec![
            (
                prompt("what is the population of california", geo),
                "SELECT population FROM state WHERE state_name = 'california'".to_string(),
            ),
            (
                prompt("what is the area of texas", geo),
                "SELECT area FROM state WHERE state_name = 'texas'".to_string(),
            ),
        ];
        let model = Retrieval::build(&pairs);
        // "california" matches the first example, but it is a slot value; "area" decides.
        assert_eq!(
            model.respond(&prompt("what is the area of california", geo)),
            "SELECT area FROM state WHERE state_name = 'california'"
        );
    }

    #[test]
    fn maps_tables_and_columns_to_a_new_schema() {
        let pairs = vec![(
            prompt(
                "how many heads are older than 56",
                "CREATE TABLE head (age INTEGER)",
            ),
            "SELECT COUNT(*) FROM head WHERE age > 56".to_string(),
        )];
        let model = Retrieval::build(&pairs);
        let answer = model.respond(&prompt(
            "how many singers are older than 30",
            "CREATE TABLE singer (age INTEGER, name TEXT)",
        ));
        assert_eq!(answer, "SELECT COUNT(*) FROM singer WHERE age > 30");
    }
}
