//! The base model's stand-in: a genuine zero-shot reader of the request, with no knowledge of
//! any data set and no vocabulary of its own. For a classification prompt it finds the label
//! list in the system prompt and picks the label whose words best match the user text, by
//! surface form only (the same word, its plural stem, a shared prefix, one word inside the
//! other); for a text-to-SQL prompt it writes a naive query from the schema in the prompt;
//! otherwise it says what it is. It knows no synonyms: a request that shares no word with the
//! right label gets the first label, as a reader without the vocabulary would guess.

use super::text::{stem, words};

/// The label list named in a system prompt: the longest comma-separated list after a colon.
pub fn label_list(system: &str) -> Option<Vec<String>> {
    let mut best: Option<Vec<String>> = None;
    for line in system.lines() {
        for (at, _) in line.match_indices(':') {
            let items: Vec<String> = line[at + 1..]
                .split(',')
                .map(|item| {
                    let item = item.trim().trim_end_matches('.');
                    item.strip_prefix("or ")
                        .or_else(|| item.strip_prefix("and "))
                        .unwrap_or(item)
                        .trim()
                        .to_string()
                })
                .collect();
            let labels_like = items.len() >= 2
                && items.iter().all(|i| {
                    !i.is_empty()
                        && i.len() <= 60
                        && i.split_whitespace().count() <= 3
                        && i.chars().all(|c| {
                            c.is_alphanumeric()
                                || (c.is_ascii_punctuation() && !"?!;:\"'()".contains(c))
                                || c == ' '
                        })
                });
            if labels_like && best.as_ref().is_none_or(|b| items.len() > b.len()) {
                best = Some(items);
            }
        }
    }
    best
}

/// A label's words: its runs of letters and digits, stemmed (`password_reset` is `password`,
/// `reset`).
fn label_words(label: &str) -> Vec<String> {
    words(label).iter().map(|w| stem(w)).collect()
}

/// How much a partial match between a label word and a word of the text counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PartialMatch {
    /// Shortest shared prefix, or word inside a word, that counts: shorter ones are mostly
    /// chance (`re`, `con`).
    pub min_chars: usize,
    /// A shared prefix (`refund`/`refunding`).
    pub prefix: f64,
    /// One word inside the other (`bill`/`billing`).
    pub inside: f64,
}

/// Chosen by `cargo run --release -p nova-ft-models --example zero_shot_sweep` on training
/// files only (ATIS train and the synthetic generator's training rows), never a test split.
pub const PARTIAL_MATCH: PartialMatch = PartialMatch {
    min_chars: 4,
    prefix: 0.6,
    inside: 0.5,
};

/// How well one label word is matched by the text's stems: 1 for the same word, a partial
/// score ([`PartialMatch`]) for a shared prefix or one word inside the other, 0 otherwise.
fn word_match(label_word: &str, text: &[String], partial: PartialMatch) -> f64 {
    let mut best: f64 = 0.0;
    for t in text {
        let score = if t == label_word {
            1.0
        } else {
            let common = t
                .chars()
                .zip(label_word.chars())
                .take_while(|(a, b)| a == b)
                .count();
            let shorter = t.chars().count().min(label_word.chars().count());
            if common >= partial.min_chars {
                partial.prefix
            } else if shorter >= partial.min_chars
                && (t.contains(label_word) || label_word.contains(t.as_str()))
            {
                partial.inside
            } else {
                0.0
            }
        };
        best = best.max(score);
    }
    best
}

/// Score every label against the text (0..1 each).
pub fn scores(labels: &[String], text: &str) -> Vec<f64> {
    scores_with(labels, text, PARTIAL_MATCH)
}

/// [`scores`] with other partial-match scores (for the sweep that chose them).
pub fn scores_with(labels: &[String], text: &str, partial: PartialMatch) -> Vec<f64> {
    let text: Vec<String> = words(text).iter().map(|w| stem(w)).collect();
    let split: Vec<Vec<String>> = labels.iter().map(|l| label_words(l)).collect();
    // A word every label shares (a common prefix such as a data set's tag) says nothing.
    let shared: Vec<String> = split
        .first()
        .map(|first| {
            first
                .iter()
                .filter(|w| split.iter().all(|s| s.contains(w)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    split
        .iter()
        .map(|lw| {
            let informative: Vec<&String> = lw.iter().filter(|w| !shared.contains(w)).collect();
            if informative.is_empty() {
                return 0.0;
            }
            informative
                .iter()
                .map(|w| word_match(w, &text, partial))
                .sum::<f64>()
                / informative.len() as f64
        })
        .collect()
}

/// The best-matching label, or the first when nothing matches.
pub fn classify(labels: &[String], text: &str) -> String {
    classify_with(labels, text, PARTIAL_MATCH)
}

/// [`classify`] with other partial-match scores.
pub fn classify_with(labels: &[String], text: &str, partial: PartialMatch) -> String {
    let scores = scores_with(labels, text, partial);
    let mut best = 0;
    for (i, s) in scores.iter().enumerate() {
        if *s > scores[best] {
            best = i;
        }
    }
    labels[best].clone()
}

/// Tables and columns from `CREATE TABLE name (col TYPE, ...)` statements.
pub fn parse_schema(context: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut tables = Vec::new();
    // ASCII upper-casing keeps every byte offset, so offsets found in `upper` slice `context`.
    let upper = context.to_ascii_uppercase();
    let mut from = 0;
    while let Some(at) = upper[from..].find("CREATE TABLE") {
        let start = from + at + "CREATE TABLE".len();
        let Some(open) = context[start..].find('(').map(|o| start + o) else {
            break;
        };
        let close = context[open..]
            .find(')')
            .map_or(context.len(), |c| open + c);
        let name = context[start..open]
            .trim()
            .trim_matches(['"', '`', '[', ']'])
            .to_string();
        let columns = context[open + 1..close]
            .split(',')
            .filter_map(|col| {
                let mut parts = col.split_whitespace();
                let name = parts.next()?.trim_matches(['"', '`', '[', ']']).to_string();
                let kind = parts.next().unwrap_or("TEXT").to_uppercase();
                (!name.is_empty()).then_some((name, kind))
            })
            .collect();
        tables.push((name, columns));
        from = close.min(context.len());
    }
    tables
}

/// Split a user turn in the `### Input: ... ### Context: ...` layout into question and schema.
pub fn question_and_context(user: &str) -> (String, String) {
    let after = |marker: &str| user.find(marker).map(|i| i + marker.len());
    match (
        after("### Input:"),
        user.find("### Context:"),
        after("### Context:"),
    ) {
        (Some(q_start), Some(c_at), Some(c_start)) if q_start <= c_at => {
            let end = user
                .find("### Response:")
                .unwrap_or(user.len())
                .max(c_start);
            (
                user[q_start..c_at].trim().to_string(),
                user[c_start..end].trim().to_string(),
            )
        }
        _ => match user.to_ascii_uppercase().find("CREATE TABLE") {
            Some(at) => (user[..at].trim().to_string(), user[at..].trim().to_string()),
            None => (user.to_string(), String::new()),
        },
    }
}

fn mentioned(name: &str, question_stems: &[String]) -> bool {
    let parts = label_words(name);
    !parts.is_empty()
        && parts.iter().all(|p| {
            question_stems
                .iter()
                .any(|q| q == p || (p.len() >= 4 && q.starts_with(p.as_str())))
        })
}

/// A naive but well-formed query: the mentioned table (or the first), COUNT/AVG/MAX/MIN when
/// the question asks for one, the mentioned columns, and a WHERE on a literal from the question.
pub fn naive_sql(question: &str, context: &str) -> String {
    let tables = parse_schema(context);
    let Some((table, columns)) = ({
        let stems: Vec<String> = words(question).iter().map(|w| stem(w)).collect();
        tables
            .iter()
            .find(|(t, _)| mentioned(t, &stems))
            .or(tables.first())
            .cloned()
    }) else {
        return "SELECT 1".to_string();
    };
    let q = question.to_lowercase();
    let stems: Vec<String> = words(question).iter().map(|w| stem(w)).collect();
    let cols: Vec<&(String, String)> = columns
        .iter()
        .filter(|(c, _)| mentioned(c, &stems))
        .collect();
    let numeric = |kind: &str| {
        ["INT", "REAL", "NUM", "FLOAT", "DOUBLE", "DEC"]
            .iter()
            .any(|k| kind.contains(k))
    };
    let literal = question
        .split('\'')
        .nth(1)
        .map(|s| format!("'{s}'"))
        .or_else(|| {
            words(question)
                .into_iter()
                .find(|w| w.parse::<f64>().is_ok())
        });
    let op = if [
        "more than",
        "greater than",
        "older than",
        "over ",
        "above",
        "larger than",
        "higher than",
    ]
    .iter()
    .any(|p| q.contains(p))
    {
        ">"
    } else if [
        "less than",
        "younger than",
        "under ",
        "below",
        "fewer than",
        "smaller than",
        "lower than",
    ]
    .iter()
    .any(|p| q.contains(p))
    {
        "<"
    } else {
        "="
    };
    let filter_col = literal.as_ref().and_then(|lit| {
        let want_numeric = !lit.starts_with('\'');
        let of_kind: Vec<&(String, String)> = columns
            .iter()
            .filter(|(_, kind)| numeric(kind) == want_numeric)
            .collect();
        cols.iter()
            .rev()
            .find(|(_, kind)| numeric(kind) == want_numeric)
            .copied()
            // Unnamed in the question ("older than 56"): the table's only column of that kind.
            .or_else(|| (of_kind.len() == 1).then(|| of_kind[0]))
            .or(cols.last().copied())
            .map(|(c, _)| c.clone())
    });
    let target = cols
        .iter()
        .map(|(c, _)| c.as_str())
        .find(|c| Some(*c) != filter_col.as_deref());
    let select = if q.contains("how many") || q.contains("number of") || q.contains("count") {
        "COUNT(*)".to_string()
    } else if let Some(agg) = [
        ("average", "AVG"),
        ("mean", "AVG"),
        ("maximum", "MAX"),
        ("highest", "MAX"),
        ("minimum", "MIN"),
        ("lowest", "MIN"),
        ("total", "SUM"),
    ]
    .iter()
    .find(|(word, _)| q.contains(word))
    .map(|(_, f)| f)
    {
        format!("{agg}({})", target.unwrap_or("*"))
    } else {
        target.unwrap_or("*").to_string()
    };
    let mut sql = format!("SELECT {select} FROM {table}");
    if let (Some(col), Some(lit)) = (filter_col, literal) {
        sql.push_str(&format!(" WHERE {col} {op} {lit}"));
    }
    sql
}

/// The base model's answer to a request.
pub fn respond(system: &str, user: &str) -> String {
    if let Some(labels) = label_list(system) {
        return classify(&labels, user);
    }
    let (question, context) = question_and_context(user);
    if !context.is_empty() || system.to_lowercase().contains("sql") {
        return naive_sql(&question, &context);
    }
    "I am the nova_ft local stand-in for the base model, not Amazon Nova. I can pick a label from a list in the system prompt, or write SQL from a CREATE TABLE schema.".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nova_ft_data::dataset::synth::SYSTEM_PROMPT;

    #[test]
    fn finds_the_label_list_in_the_tutorial_prompt() {
        let labels = label_list(SYSTEM_PROMPT).unwrap();
        assert_eq!(labels.len(), 8);
        assert_eq!(labels[0], "flight");
        assert_eq!(labels[7], "quantity");
    }

    fn labels(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn matches_labels_by_surface_form_only() {
        let labels = labels(&[
            "billing",
            "shipping_status",
            "account_closure",
            "password_reset",
            "refund",
        ]);
        assert_eq!(
            classify(&labels, "please reset my password"),
            "password_reset"
        );
        assert_eq!(
            classify(&labels, "what is the status of my shipment"),
            "shipping_status"
        );
        assert_eq!(
            classify(&labels, "I want to close my account"),
            "account_closure"
        );
        assert_eq!(classify(&labels, "two refunds are missing"), "refund");
        // One word inside another counts: "bill" is in "billing".
        assert_eq!(classify(&labels, "my bill is wrong"), "billing");
        // No vocabulary: "money back" shares no word with "refund", so the first label.
        assert_eq!(classify(&labels, "I want my money back"), "billing");
    }

    #[test]
    fn shared_label_prefixes_carry_no_signal() {
        let labels = labels(&["intent_upgrade", "intent_cancel"]);
        assert_eq!(classify(&labels, "cancel it now"), "intent_cancel");
    }

    #[test]
    fn non_ascii_schemas_and_odd_layouts_are_read_without_panicking() {
        // 'ı' upper-cases to 'I', two bytes to one: offsets from a full upper-casing would
        // cut a character.
        let schema = "ıı CREATE TABLE straße (größe INTEGER, ü TEXT) ß create table x (y REAL)";
        let tables = parse_schema(schema);
        assert_eq!(tables.len(), 2);
        assert_eq!(tables[0].0, "straße");
        let (q, c) = question_and_context("### Context: CREATE TABLE t (a INT) ### Input: ß?");
        assert!(q.contains('ß') || c.contains("CREATE"), "{q:?} {c:?}");
        let _ = naive_sql("Wie viele größe über 5?", schema);
    }

    #[test]
    fn writes_naive_sql_from_the_schema() {
        let user = "### Input:\nHow many heads of the departments are older than 56 ?\n\n### Context:\nCREATE TABLE head (age INTEGER)\n\n### Response:\n";
        let (q, c) = question_and_context(user);
        assert_eq!(
            naive_sql(&q, &c),
            "SELECT COUNT(*) FROM head WHERE age > 56"
        );
        assert_eq!(
            parse_schema("CREATE TABLE a (x VARCHAR, y INTEGER); CREATE TABLE b (z TEXT)").len(),
            2
        );
    }
}
