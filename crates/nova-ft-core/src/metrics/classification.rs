//! Classification scores: per-class precision, recall and F1, the confusion matrix, macro-F1.

use super::ClassScore;
use std::collections::HashMap;

pub(super) type ClassTables = (Vec<ClassScore>, Vec<String>, Vec<Vec<usize>>, Option<f64>);

/// Per-class precision/recall/F1 over the gold labels, the confusion matrix, macro-F1.
pub(super) fn classification_scores(pairs: &[(String, Option<String>)]) -> ClassTables {
    let mut labels: Vec<String> = pairs.iter().map(|(g, _)| g.clone()).collect();
    labels.sort();
    labels.dedup();
    let index: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let other = labels.len();
    let mut matrix = vec![vec![0usize; labels.len() + 1]; labels.len()];
    for (gold, predicted) in pairs {
        let g = index[gold.as_str()];
        let p = predicted
            .as_deref()
            .and_then(|p| index.get(p).copied())
            .unwrap_or(other);
        matrix[g][p] += 1;
    }
    let mut scores = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let tp = matrix[i][i] as f64;
        let support: usize = matrix[i].iter().sum();
        let predicted: usize = matrix.iter().map(|row| row[i]).sum();
        let precision = if predicted == 0 {
            0.0
        } else {
            tp / predicted as f64
        };
        let recall = if support == 0 {
            0.0
        } else {
            tp / support as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        scores.push(ClassScore {
            label: label.clone(),
            precision,
            recall,
            f1,
            support,
        });
    }
    let macro_f1 = (!scores.is_empty())
        .then(|| scores.iter().map(|s| s.f1).sum::<f64>() / scores.len() as f64);
    (scores, labels, matrix, macro_f1)
}
