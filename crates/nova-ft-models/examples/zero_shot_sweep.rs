//! Chooses the base reader's partial-match scores on training files only: every labelled row
//! is asked with a system prompt listing the file's labels (as the tutorial asks), and the
//! base reader's answer is compared with the label. The reader does not train, so a training
//! file is held-out data for it; test splits are never read.
//!
//!     cargo run --release -p nova-ft-models --example zero_shot_sweep -- \
//!         TRAIN.jsonl [TRAIN2.jsonl ...] [--text-field text] [--label-field label]
//!
//! Prints each candidate's accuracy on every file and their mean, best first, how many tie for
//! the best mean, and the row of `zero_shot::PARTIAL_MATCH`, which must be among the best.

mod common;

use common::{arg, best_first, header_cells, label_prompt, mean, rows, score_cells, short};
use nova_ft_models::zero_shot::{classify_with, label_list, PartialMatch, PARTIAL_MATCH};

/// The labels as the base reader reads them from the prompt, and the file's (text, label) rows.
type LabelledFile = (Vec<String>, Vec<(String, String)>);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = arg(&args, "--text-field", "text");
    let label = arg(&args, "--label-field", "label");
    let files: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || !args[i - 1].starts_with("--")))
        .map(|(_, a)| a)
        .collect();
    assert!(!files.is_empty(), "pass one or more labelled JSONL files");
    let sets: Vec<LabelledFile> = files
        .iter()
        .map(|f| {
            let rows = rows(f, &text, &label);
            let labels = label_list(&label_prompt(&rows)).expect("the prompt lists the labels");
            (labels, rows)
        })
        .collect();
    let mut results: Vec<(PartialMatch, Vec<f64>)> = Vec::new();
    for min_chars in [3, 4, 5, 6] {
        for prefix in [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] {
            for inside in [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] {
                let partial = PartialMatch {
                    min_chars,
                    prefix,
                    inside,
                };
                let scores = sets
                    .iter()
                    .map(|(labels, rows)| {
                        let right = rows
                            .iter()
                            .filter(|(t, l)| classify_with(labels, t, partial) == *l)
                            .count();
                        right as f64 / rows.len() as f64
                    })
                    .collect();
                results.push((partial, scores));
            }
        }
    }
    best_first(&mut results);
    let names: Vec<String> = files.iter().map(|f| short(f)).collect();
    println!(
        "min_chars prefix inside {}   mean  (base reader accuracy on training files)",
        header_cells(&names)
    );
    let best = mean(&results[0].1);
    let tied = results.iter().filter(|(_, s)| mean(s) == best).count();
    println!(
        "{tied} of {} candidates tie for the best mean",
        results.len()
    );
    for (rank, (p, scores)) in results.iter().enumerate() {
        let current = *p == PARTIAL_MATCH;
        if rank >= 10 && !current {
            continue;
        }
        println!(
            "{:>9} {:>6.2} {:>6.2} {}  {:>5.1}%{}",
            p.min_chars,
            p.prefix,
            p.inside,
            score_cells(scores, &names),
            mean(scores) * 100.0,
            if current { "  <- PARTIAL_MATCH" } else { "" }
        );
    }
}
