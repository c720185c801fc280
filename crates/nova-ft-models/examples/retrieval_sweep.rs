//! Chooses the retrieval model's term weights (slot-filler words, table and column names) by
//! 5-fold cross-validation on text-to-SQL training files: each fold's model indexes the other
//! four fifths and answers the held-out fifth, scored by exact match of the normalised query.
//! Test and validation splits are never read.
//!
//!     cargo run --release -p nova-ft-models --example retrieval_sweep -- \
//!         TRAIN.jsonl [TRAIN2.jsonl ...]      # fields: question, context, sql
//!
//! Prints each candidate's cross-validated exact match per file and their mean, best first,
//! and the row of `retrieval::TERM_WEIGHTS`. The defaults are the best mean.

mod common;

use common::{best_first, fields, fold, header_cells, mean, score_cells, short};
use nova_ft_models::retrieval::{Retrieval, TermWeights, TERM_WEIGHTS};

const FOLDS: usize = 5;

/// The user turn `Dataset.from_sql` writes.
fn user_turn(question: &str, context: &str) -> String {
    format!("### Input:\n{question}\n\n### Context:\n{context}\n\n### Response:\n")
}

/// Lower case, one space, double quotes as single, no trailing semicolon (the bench's rule).
fn normalise(sql: &str) -> String {
    sql.replace('"', "'")
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn exact_match_cv(pairs: &[(String, String)], weights: TermWeights) -> f64 {
    let mut right = 0;
    for k in 0..FOLDS {
        let (held, kept) = fold(pairs, FOLDS, k);
        let model = Retrieval::build_weighted(&kept, weights);
        right += held
            .iter()
            .filter(|(user, sql)| normalise(&model.respond(user)) == normalise(sql))
            .count();
    }
    right as f64 / pairs.len() as f64
}

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    assert!(
        !files.is_empty(),
        "pass one or more text-to-SQL training files"
    );
    let sets: Vec<Vec<(String, String)>> = files
        .iter()
        .map(|f| {
            fields(f, &["question", "context", "sql"])
                .into_iter()
                .map(|r| (user_turn(&r[0], &r[1]), r[2].clone()))
                .collect()
        })
        .collect();
    let mut results: Vec<(TermWeights, Vec<f64>)> = Vec::new();
    for slot in [0.0, 0.1, 0.3, 1.0] {
        for table in [0.1, 0.5, 1.0] {
            for column in [0.1, 0.3, 1.0] {
                let weights = TermWeights {
                    slot,
                    table,
                    column,
                };
                let scores = sets.iter().map(|s| exact_match_cv(s, weights)).collect();
                results.push((weights, scores));
            }
        }
    }
    best_first(&mut results);
    let names: Vec<String> = files.iter().map(|f| short(f)).collect();
    println!(
        "slot table column {}   mean  ({FOLDS}-fold CV exact match on training files)",
        header_cells(&names)
    );
    for (w, scores) in &results {
        println!(
            "{:>4.1} {:>5.1} {:>6.1} {}  {:>5.1}%{}",
            w.slot,
            w.table,
            w.column,
            score_cells(scores, &names),
            mean(scores) * 100.0,
            if *w == TERM_WEIGHTS {
                "  <- TERM_WEIGHTS"
            } else {
                ""
            }
        );
    }
}
