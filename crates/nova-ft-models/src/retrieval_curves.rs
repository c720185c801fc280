//! Loss curves a retrieval job really computes, so that a free-text (SQL) job's metrics CSVs
//! carry numbers measured on its own data, as a classifier's do.
//!
//! A record's loss is `1 - token F1` between the model's answer and the record's answer (0 when
//! every token matches), not a cross-entropy: the model has no probabilities, so the CSVs carry
//! no perplexity. Training is read once, in steps of a batch, each batch answered by an index
//! of the batches before it (the model has not seen it yet), so the curve falls as the index
//! grows. Retrieval has no epochs, learning rate or warm-up: a second pass would re-score the
//! same index, so the curve has one epoch whatever the job asks, and validation is measured
//! once, on the finished model. Losses are averaged over at most a fixed sample per step, so a
//! 20,000-record job stays quick.

use super::retrieval::Retrieval;
use super::text::token_f1;

/// Steps per epoch (fewer when there are fewer records).
const STEPS_PER_EPOCH: usize = 40;
/// Records scored per training step, and per validation pass.
const SCORED_PER_STEP: usize = 16;
const SCORED_VALIDATION: usize = 400;

/// Mean `1 - F1` of `index`'s answers to (at most `cap` evenly spread) pairs; an empty index
/// answers nothing (loss 1).
fn mean_loss(index: Option<&Retrieval>, pairs: &[(String, String)], cap: usize) -> f64 {
    if pairs.is_empty() {
        return 0.0;
    }
    let stride = pairs.len().div_ceil(cap).max(1);
    let scored: Vec<f64> = pairs
        .iter()
        .step_by(stride)
        .map(|(user, answer)| match index {
            Some(index) => 1.0 - token_f1(&index.respond(user), answer),
            None => 1.0,
        })
        .collect();
    scored.iter().sum::<f64>() / scored.len() as f64
}

/// (step, epoch, loss) rows for training (one pass) and for validation (one row).
pub type Curves = (Vec<(usize, u32, f64)>, Vec<(usize, u32, f64)>);

pub fn curves(full: &Retrieval, train: &[(String, String)], valid: &[(String, String)]) -> Curves {
    let steps = STEPS_PER_EPOCH.min(train.len()).max(1);
    let batch = train.len().div_ceil(steps).max(1);
    let mut training = Vec::new();
    for (step, chunk) in train.chunks(batch).enumerate() {
        let seen = &train[..step * batch];
        let index = (!seen.is_empty()).then(|| Retrieval::build(seen));
        training.push((step, 1, mean_loss(index.as_ref(), chunk, SCORED_PER_STEP)));
    }
    let mut validation = Vec::new();
    if !valid.is_empty() {
        let last = training.len().saturating_sub(1);
        validation.push((last, 1, mean_loss(Some(full), valid, SCORED_VALIDATION)));
    }
    (training, validation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_f1_counts_shared_tokens() {
        assert_eq!(token_f1("SELECT a FROM t", "select a from t"), 1.0);
        assert_eq!(token_f1("x", "y"), 0.0);
        let half = token_f1("SELECT a FROM t", "SELECT b FROM u");
        assert!((half - 0.5).abs() < 1e-9, "{half}");
    }

    #[test]
    fn the_curve_falls_as_the_index_grows_and_validation_is_measured_once() {
        let pairs: Vec<(String, String)> = (0..200)
            .map(|i| {
                let table = ["head", "ship", "film", "city"][i % 4];
                (
                    format!("### Input:\nHow many rows in {table}?\n\n### Context:\nCREATE TABLE {table} (id INTEGER)\n"),
                    format!("SELECT COUNT(*) FROM {table}"),
                )
            })
            .collect();
        let (train, valid) = pairs.split_at(160);
        let full = Retrieval::build(train);
        let (training, validation) = curves(&full, train, valid);
        assert_eq!(training.first().map(|r| r.2), Some(1.0));
        assert!(training.iter().all(|r| r.1 == 1), "one pass: {training:?}");
        assert!(training.last().unwrap().2 < training.first().unwrap().2);
        assert_eq!(validation.len(), 1);
        assert!(validation.iter().all(|r| r.2 < 0.5), "{validation:?}");
    }
}
