//! Reinforcement fine-tuning of the local label policy on a labelled JSONL data set, with an
//! exact-match reward, over a grid of RFT hyperparameters: the loop the emulator runs (batches
//! of prompts, `samples` answers each, one GRPO step per batch), without the AWS plumbing, so
//! the policy's constants can be chosen on training and validation data only.
//!
//!     cargo run --release -p nova-ft-models --example rft_sweep -- \
//!         TRAIN.jsonl VALID.jsonl [--text-field text] [--label-field intent] \
//!         [--epochs 2] [--samples 4] [--seeds 1] [--priors 4] [--kls 0.05]
//!
//! Prints, for each base prior and KL weight (comma lists), and each learning rate and batch
//! size, the validation accuracy of the policy (mean and min-max over the seeds), beside the
//! base reader and always answering the training set's most frequent label. The step scale
//! and Adam's epsilon are the crate's (`reward_policy::LEARNING_RATE_SCALE`, `ADAM_EPSILON`).

mod common;

use common::{arg, label_prompt, rows};
use nova_ft_data::cpython_random::CPythonRandom;
use nova_ft_models::reward_policy::{Group, Optimizer, RewardPolicy, LEARNING_RATE_SCALE};
use nova_ft_models::{ModelFamily, Prompt, StandIns};
use std::collections::BTreeMap;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (train_path, valid_path) = (&args[0], &args[1]);
    let text = arg(&args, "--text-field", "text");
    let label = arg(&args, "--label-field", "intent");
    let epochs: usize = arg(&args, "--epochs", "2").parse().unwrap();
    let samples: usize = arg(&args, "--samples", "4").parse().unwrap();
    let seeds: i64 = arg(&args, "--seeds", "1").parse().unwrap();
    let train = rows(train_path, &text, &label);
    let valid = rows(valid_path, &text, &label);
    let system = label_prompt(&train);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, l) in &train {
        *counts.entry(l).or_default() += 1;
    }
    let majority = counts
        .iter()
        .max_by_key(|(_, c)| **c)
        .map(|(l, _)| *l)
        .unwrap();
    let accuracy = |answers: &[String]| {
        answers
            .iter()
            .zip(&valid)
            .filter(|(a, (_, l))| *a == l)
            .count() as f64
            / valid.len() as f64
    };
    let turns: Vec<Vec<(String, String)>> = train
        .iter()
        .chain(&valid)
        .map(|(t, _)| vec![("user".to_string(), t.clone())])
        .collect();
    let prompts: Vec<Prompt<'_>> = turns
        .iter()
        .map(|t| Prompt {
            system: &system,
            turns: t,
        })
        .collect();
    let models = StandIns;
    let base: Vec<String> = prompts[train.len()..]
        .iter()
        .map(|p| models.answer(p))
        .collect();
    let majority_acc = accuracy(&vec![majority.to_string(); valid.len()]);
    println!(
        "valid {}: base {:.1}%  majority ({majority}) {:.1}%  epochs {epochs}, samples {samples}",
        valid.len(),
        accuracy(&base) * 100.0,
        majority_acc * 100.0
    );
    let list = |name: &str, default: &str| -> Vec<f32> {
        arg(&args, name, default)
            .split(',')
            .map(|v| v.parse().expect("a number"))
            .collect()
    };
    for prior in list("--priors", "4") {
        for kl in list("--kls", "0.05") {
            println!("prior {prior}, KL weight {kl}");
            println!(
                "{:>9} {:>6}  policy (mean over {seeds} seeds, min-max)",
                "lr", "batch"
            );
            sweep(&train, &valid, &system, prior, kl, epochs, samples, seeds);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn sweep(
    train: &[(String, String)],
    valid: &[(String, String)],
    system: &str,
    prior: f32,
    kl: f32,
    epochs: usize,
    samples: usize,
    seeds: i64,
) {
    let mut template = RewardPolicy::new(&[system]);
    template.prior = prior;
    let views: Vec<_> = train
        .iter()
        .chain(valid)
        .map(|(t, _)| template.view(system, t).expect("a label list"))
        .collect();
    for lr in [1e-5, 3e-5, 5e-5, 1e-4] {
        for batch in [16, 32, 64, 128] {
            let mut scores = Vec::new();
            for seed in 0..seeds {
                let mut policy = template.clone();
                let mut optimizer = Optimizer::default();
                optimizer.kl_weight = kl;
                let mut random = CPythonRandom::new(20_251_202 + seed);
                let mut order: Vec<usize> = (0..train.len()).collect();
                for _ in 0..epochs {
                    random.shuffle(&mut order);
                    for chunk in order.chunks(batch) {
                        let actions: Vec<Vec<usize>> = chunk
                            .iter()
                            .map(|&i| {
                                (0..samples)
                                    .map(|_| policy.sample(&views[i], &mut random))
                                    .collect()
                            })
                            .collect();
                        let rewards: Vec<Vec<f64>> = chunk
                            .iter()
                            .zip(&actions)
                            .map(|(&i, a)| {
                                a.iter()
                                    .map(|&a| f64::from(u8::from(policy.labels[a] == train[i].1)))
                                    .collect()
                            })
                            .collect();
                        let groups: Vec<Group<'_>> = chunk
                            .iter()
                            .zip(actions.iter().zip(&rewards))
                            .map(|(&i, (a, r))| Group {
                                view: &views[i],
                                actions: a,
                                rewards: r,
                            })
                            .collect();
                        policy.step(&groups, &mut optimizer, lr * LEARNING_RATE_SCALE);
                    }
                }
                let right = valid
                    .iter()
                    .enumerate()
                    .filter(|(k, (_, l))| {
                        policy.labels[policy.greedy(&views[train.len() + k])] == *l
                    })
                    .count();
                scores.push(right as f64 / valid.len() as f64 * 100.0);
            }
            let mean = scores.iter().sum::<f64>() / scores.len() as f64;
            let (lo, hi) = scores
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), s| (lo.min(*s), hi.max(*s)));
            println!("{lr:>9.0e} {batch:>6}  {mean:5.1}%  ({lo:.1}-{hi:.1})");
        }
    }
}
