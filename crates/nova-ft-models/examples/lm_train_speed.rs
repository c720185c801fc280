//! LoRA training throughput and loss of the local language model on the tutorial's synthetic
//! intents: `cargo run --release -p nova-ft-models --features lm --example lm_train_speed --
//! <gguf> [rows] [epochs] [seed] [records.jsonl]`. Prints tokens/s per step and the loss curve;
//! `benches/lm_train_speed.py` runs it beside PyTorch + PEFT on the same rows. With a JSONL
//! file of SFT records, its first `rows` records are trained on instead (long records, such as
//! text-to-SQL with a schema, train at another speed than the intents' short ones).

use nova_ft_data::dataset::synth::SyntheticIntents;
use nova_ft_data::dataset::validate::{load_conversations, Task};
use nova_ft_models::lm::lora::LoraConfig;
use nova_ft_models::lm::model::WeightFormat;
use nova_ft_models::lm::train::{train_lora, DenseLlama, LocalSchedule, LoraJob};
use nova_ft_models::lm::LanguageModel;
use nova_ft_models::TrainingConfig;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: lm_train_speed <gguf> [rows] [epochs] [seed] [records.jsonl]");
    let rows: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let epochs: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2);
    let seed: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(7);
    let lm =
        LanguageModel::open(std::path::Path::new(&path), WeightFormat::Vectorized).expect("model");
    let records = match args.next() {
        Some(file) => {
            let mut all =
                load_conversations(std::path::Path::new(&file), Task::FineTuning).expect("records");
            all.truncate(rows);
            all
        }
        None => SyntheticIntents::new(seed).take(rows),
    };
    let schedule = LocalSchedule::from_job(&TrainingConfig {
        epochs,
        ..TrainingConfig::default()
    });
    let examples: Vec<_> = records
        .iter()
        .map(|r| lm.example(r, schedule.max_tokens))
        .collect();
    let tokens: usize = examples.iter().map(|e| e.ids.len()).sum();
    let started = Instant::now();
    let dense = DenseLlama::new(&lm.llama).expect("dense");
    println!(
        "{rows} rows, {tokens} tokens per epoch; f32 copy in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let lora = LoraConfig::default();
    let job = LoraJob {
        lora: &lora,
        schedule,
        train: &examples,
        validation: &[],
        seed: seed as u64,
        start: None,
    };
    let started = Instant::now();
    let mut last = Instant::now();
    let run = train_lora(&dense, job, &mut |step, epoch, loss| {
        println!(
            "step {step:4} epoch {epoch} loss {loss:.4} ({:.2} s)",
            last.elapsed().as_secs_f64()
        );
        last = Instant::now();
    })
    .expect("training");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "trained {} tokens in {seconds:.1} s: {:.0} tokens/s",
        run.tokens_trained,
        run.tokens_trained as f64 / seconds
    );
}
