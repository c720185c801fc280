//! Chooses the distillation teacher's thresholds on training and validation data only: the
//! teacher gets a training file's prompts without their labels plus a few labelled pairs (as a
//! distillation job does) and is scored on the validation file, for every candidate setting.
//!
//!     cargo run --release -p nova-ft-models --example teacher_sweep -- \
//!         TRAIN.jsonl VALID.jsonl [--text-field text] [--label-field intent] [--labelled 10]
//!
//! The defaults in `TeacherSettings` are the best row's values (ties go to the simpler, lower
//! threshold).

mod common;

use common::{arg, label_prompt, rows};
use nova_ft_data::dataset::record::Conversation;
use nova_ft_models::{Teacher, TeacherSettings};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = arg(&args, "--text-field", "text");
    let label = arg(&args, "--label-field", "intent");
    let labelled_count: usize = arg(&args, "--labelled", "10").parse().unwrap();
    let train = rows(&args[0], &text, &label);
    let valid = rows(&args[1], &text, &label);
    let system = label_prompt(&train);
    // `--labelled` training rows, evenly spread, keep their labels; the rest are prompts only.
    let stride = (train.len() / labelled_count.max(1)).max(1);
    let labelled: Vec<Conversation> = train
        .iter()
        .step_by(stride)
        .take(labelled_count)
        .map(|(t, l)| Conversation::single_turn(&system, t.clone(), Some(l.clone())))
        .collect();
    let prompts: Vec<(String, String)> = train
        .iter()
        .map(|(t, _)| (system.clone(), t.clone()))
        .collect();
    println!(
        "{:>10} {:>10} {:>10}  valid accuracy ({} rows, {} labelled pairs)",
        "similarity",
        "score",
        "margin",
        valid.len(),
        labelled.len()
    );
    for exemplar_similarity in [0.5f32, 0.6, 0.7, 0.8] {
        for confident_score in [0.6, 0.8, 1.0] {
            for confident_margin in [0.05, 0.1, 0.2, 0.3] {
                let settings = TeacherSettings {
                    exemplar_similarity,
                    confident_score,
                    confident_margin,
                    ..TeacherSettings::default()
                };
                let teacher = Teacher::with_settings(&labelled, &prompts, settings);
                let right = valid
                    .iter()
                    .filter(|(t, l)| teacher.answer(&system, t) == *l)
                    .count();
                println!(
                    "{exemplar_similarity:>10} {confident_score:>10} {confident_margin:>10}  {:.1}%",
                    right as f64 / valid.len() as f64 * 100.0
                );
            }
        }
    }
}
