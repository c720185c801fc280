//! How the fine-tuning classifier was chosen: 5-fold cross-validation on ATIS train (never the
//! test split), then train -> test and train+valid -> test, at the tutorial's settings
//! (3 epochs, learning rate 1e-5, 10 warmup steps). No server, no AWS calls: the model a job
//! trains, alone.
//!
//! Its step scale (`classifier::LEARNING_RATE_SCALE`, Nova's learning rate times it is the
//! peak SGD step) is chosen here too: for each candidate scale, the 5-fold CV accuracy at
//! Nova's smallest, default and largest learning rates (1e-6, 1e-5, 1e-4). The scale kept puts
//! the best step at Nova's default rate, the one most jobs send, so that a smaller rate
//! under-fits and a larger one overshoots, as they would on Nova; ties go to the smaller
//! scale.
//!
//!     cargo run --release -p nova-ft-models --example classifier_cv [-- DATA_DIR]
//!
//! DATA_DIR holds `atis/{train,test}.jsonl`: by default `$NOVA_FT_DATA`, else the cache
//! `nova_ft.datasets` fills (`python -c "from nova_ft import datasets; datasets.load('atis', 'test')"`).
//!
//! `benches/model_quality.py` measures the same model through the emulator's API.
use nova_ft_data::dataset::record::Conversation;
use nova_ft_models::classifier::LEARNING_RATE_SCALE;
use nova_ft_models::{Prompt, TrainedModel, TrainingConfig};
use std::path::{Path, PathBuf};
use std::time::Instant;

const SYSTEM: &str = "Classify the intent of the request.";

fn load(data: &Path, split: &str) -> Vec<(String, String)> {
    let path = data.join("atis").join(format!("{split}.jsonl"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (pass the data folder)", path.display()));
    text.lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let field = |name: &str| row[name].as_str().expect("a string field").to_string();
            (field("text"), field("intent"))
        })
        .collect()
}

/// Accuracy on `test` of the model a job trains on `train` (label-set detection, features and
/// all), the training time in seconds and the model time per answer in microseconds (features
/// and scores, no HTTP).
fn score(train: &[(String, String)], test: &[(String, String)]) -> (f64, f64, f64) {
    score_at(train, test, 1e-5)
}

/// [`score`] at another (effective) Nova learning rate.
fn score_at(
    train: &[(String, String)],
    test: &[(String, String)],
    learning_rate: f64,
) -> (f64, f64, f64) {
    let records: Vec<Conversation> = train
        .iter()
        .map(|(text, label)| Conversation::single_turn(SYSTEM, text.as_str(), Some(label.clone())))
        .collect();
    let config = TrainingConfig {
        epochs: 3,
        learning_rate,
        warmup_steps: 10,
        ..TrainingConfig::default()
    };
    let run = TrainedModel::train(&records, &[], config).expect("training");
    assert_eq!(
        run.model.kind(),
        "classifier",
        "ATIS intents are a label set"
    );
    let started = Instant::now();
    let correct = test
        .iter()
        .filter(|(text, label)| {
            let turns = [("user".to_string(), text.clone())];
            let prompt = Prompt {
                system: SYSTEM,
                turns: &turns,
            };
            run.model.respond(&prompt) == *label
        })
        .count();
    let micros = started.elapsed().as_secs_f64() * 1e6 / test.len() as f64;
    (correct as f64 / test.len() as f64, run.seconds, micros)
}

fn main() {
    let data: PathBuf = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("NOVA_FT_DATA").ok())
        .map(PathBuf::from)
        .or_else(|| {
            let home = std::env::var("HOME").ok()?;
            Some(PathBuf::from(home).join(".cache/nova_ft/datasets"))
        })
        .expect("pass the data folder, or set NOVA_FT_DATA");
    let train = load(&data, "train");
    let test = load(&data, "test");
    let folds = 5;
    let cv_at = |learning_rate: f64| -> f64 {
        (0..folds)
            .map(|fold| {
                let (held, kept): (Vec<_>, Vec<_>) = train
                    .iter()
                    .enumerate()
                    .partition(|(i, _)| i % folds == fold);
                let strip = |rows: Vec<(usize, &(String, String))>| -> Vec<(String, String)> {
                    rows.into_iter().map(|(_, r)| r.clone()).collect()
                };
                score_at(&strip(kept), &strip(held), learning_rate).0
            })
            .sum::<f64>()
            / folds as f64
    };
    let cv = cv_at(1e-5);
    println!("Step scale: 5-fold CV accuracy on ATIS train, 3 epochs, by Nova learning rate");
    println!(
        "{:>10} {:>8} {:>8} {:>8} {:>8}",
        "scale", "1e-6", "1e-5", "1e-4", "worst"
    );
    for scale in [1e4, 4e4, 1e5, 4e5, 1e6, 4e6] {
        // The model multiplies by LEARNING_RATE_SCALE; this rate makes the product `scale * lr`.
        let row: Vec<f64> = [1e-6, 1e-5, 1e-4]
            .iter()
            .map(|lr| cv_at(lr * scale / LEARNING_RATE_SCALE))
            .collect();
        let worst = row.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "{scale:>10.0} {:>7.2}% {:>7.2}% {:>7.2}% {:>7.2}%{}",
            row[0] * 100.0,
            row[1] * 100.0,
            row[2] * 100.0,
            worst * 100.0,
            if scale == LEARNING_RATE_SCALE {
                "  <- LEARNING_RATE_SCALE"
            } else {
                ""
            }
        );
    }
    let (on_test, seconds, micros) = score(&train, &test);
    let mut with_valid = train.clone();
    with_valid.extend(load(&data, "valid"));
    let (on_test_with_valid, ..) = score(&with_valid, &test);
    println!("ATIS, local classifier (a stand-in, not Amazon Nova), 3 epochs");
    println!(
        "  5-fold CV on train ({} rows): {:.2}%",
        train.len(),
        cv * 100.0
    );
    println!(
        "  train -> test ({} rows):      {:.2}% (trained in {seconds:.2} s)",
        test.len(),
        on_test * 100.0
    );
    println!(
        "  train+valid -> test:           {:.2}%",
        on_test_with_valid * 100.0
    );
    println!("  model time per answer:         {micros:.1} us (features and scores, no HTTP)");
}
