//! The language model's training on a tiny randomly initialised model of SmolLM2's
//! architecture: LoRA lowers the loss and round-trips as an artifact, GRPO raises a toy
//! task's reward, long examples train in passes whose gradients add up to one step's.
#![cfg(feature = "lm")]

mod common;

use common::{max_abs_diff, record, tiny};
use nova_ft_data::cpython_random::CPythonRandom;
use nova_ft_data::dataset::record::Conversation;
use nova_ft_models::lm::grpo::LmPolicy;
use nova_ft_models::lm::lora::LoraConfig;
use nova_ft_models::lm::passes::passes;
use nova_ft_models::lm::tiny::TinySpec;
use nova_ft_models::lm::train::{
    evaluate, train_lora, DenseLlama, Example, LocalSchedule, LoraJob,
};
use nova_ft_models::lm::LmFamily;
use nova_ft_models::{FineTuning, ModelFamily, Prompt, PromptGroup, TrainingConfig};

#[test]
fn lora_lowers_the_loss_and_round_trips_as_an_artifact() {
    let lm = tiny(TinySpec::default());
    let train: Vec<Conversation> = (0..16)
        .map(|i| {
            record(
                &format!("item {i}"),
                if i % 2 == 0 { "red" } else { "blue" },
            )
        })
        .collect();
    let examples: Vec<_> = train.iter().map(|r| lm.example(r, 256)).collect();
    assert!(examples.iter().all(|e| e.targets.iter().any(|t| *t)));
    let dense = DenseLlama::new(&lm.llama).unwrap();
    let lora = LoraConfig {
        rank: 4,
        alpha: 8.0,
        ..LoraConfig::default()
    };
    let schedule = LocalSchedule {
        epochs: 8,
        learning_rate: 1e-2,
        warmup_steps: 0,
        batch_size: 4,
        max_tokens: 256,
    };
    let fresh = nova_ft_models::lm::lora::Adapters::trainable(&lora, 2, &dense.dims(), 3, None)
        .unwrap()
        .adapters;
    let before = evaluate(&dense, &fresh, &examples, 4).unwrap();
    let job = LoraJob {
        lora: &lora,
        schedule,
        train: &examples,
        validation: &examples[..4],
        seed: 3,
        start: None,
    };
    let run = train_lora(&dense, job, &mut |_, _, _| {}).unwrap();
    let after = evaluate(&dense, &run.adapters, &examples, 4).unwrap();
    assert!(after < before * 0.7, "loss {before} -> {after}");
    assert_eq!(run.validation_loss.len(), 8);
    // Through the family: the tuned model answers like the training data, and its artifact loads.
    let family = LmFamily::new(tiny(TinySpec::default()));
    let config = TrainingConfig {
        epochs: 3,
        learning_rate: 2e-4,
        warmup_steps: 0,
        seed: 5,
    };
    let job = FineTuning {
        records: &train,
        validation: &[],
        config,
        parent: None,
    };
    let tuned = family.fine_tune(job).unwrap();
    assert!(tuned.training_loss.last().unwrap().2 < tuned.training_loss[0].2);
    let bytes = tuned.model.to_bytes();
    let loaded = family.load(&bytes, "adapter.bin").unwrap();
    let turns = vec![("user".to_string(), "item 3".to_string())];
    let prompt = Prompt {
        system: "Answer with the colour.",
        turns: &turns,
    };
    assert_eq!(loaded.answer(&prompt), tuned.model.answer(&prompt));
    assert!(loaded.describe().contains("LoRA"));
    let err = family
        .load(b"{\"format\":\"nova-ft-lora-1\" broken", "bad.bin")
        .unwrap_err();
    assert!(err.to_string().contains("bad.bin"), "{err}");
}

#[test]
fn grpo_raises_the_reward_of_a_toy_task() {
    // Reward: the share of the answer's characters that are lowercase ASCII letters, which a
    // random model over bytes writes about a tenth of the time.
    let lm = std::sync::Arc::new(tiny(TinySpec::default()));
    let lora = LoraConfig {
        rank: 4,
        alpha: 8.0,
        ..LoraConfig::default()
    };
    let turns: Vec<Vec<(String, String)>> = (0..4)
        .map(|i| vec![("user".to_string(), format!("q{i}"))])
        .collect();
    let prompts: Vec<Prompt<'_>> = turns
        .iter()
        .map(|t| Prompt {
            system: "",
            turns: t,
        })
        .collect();
    let mut lm_policy = LmPolicy::new(lm, lora, &prompts).unwrap();
    lm_policy.max_answer_tokens = 8;
    let mut policy: Box<dyn nova_ft_models::Policy> = Box::new(lm_policy);
    let reward = |a: &str| {
        let n = a.chars().count().max(1) as f64;
        a.chars().filter(|c| c.is_ascii_lowercase()).count() as f64 / n
    };
    let mut random = CPythonRandom::new(11);
    let mean_reward = |policy: &dyn nova_ft_models::Policy, random: &mut CPythonRandom| {
        let mut total = 0.0;
        for p in 0..4 {
            for _ in 0..8 {
                total += reward(&policy.sample(p, random));
            }
        }
        total / 32.0
    };
    let before = mean_reward(policy.as_ref(), &mut random);
    for _ in 0..20 {
        let groups: Vec<(usize, Vec<String>, Vec<f64>)> = (0..4)
            .map(|p| {
                let answers: Vec<String> = (0..6).map(|_| policy.sample(p, &mut random)).collect();
                let rewards = answers.iter().map(|a| reward(a)).collect();
                (p, answers, rewards)
            })
            .collect();
        let batch: Vec<PromptGroup<'_>> = groups
            .iter()
            .map(|(p, a, r)| PromptGroup {
                prompt: *p,
                answers: a,
                rewards: r,
            })
            .collect();
        policy.learn(&batch, 4e-4);
    }
    let after = mean_reward(policy.as_ref(), &mut random);
    assert!(after > before + 0.15, "mean reward {before} -> {after}");
}

#[test]
fn long_examples_train_in_passes_short_ones_at_once() {
    let example = |len: usize| Example {
        ids: vec![1; len],
        targets: vec![true; len],
    };
    let short: Vec<Example> = (0..8).map(|_| example(70)).collect();
    let refs: Vec<&Example> = short.iter().collect();
    assert_eq!(passes(&refs).len(), 1, "the tutorial's rows: one pass");
    let long: Vec<Example> = (0..8).map(|_| example(512)).collect();
    let refs: Vec<&Example> = long.iter().collect();
    let cut = passes(&refs);
    assert_eq!(cut.len(), 8, "8 rows of 512 tokens: one a pass");
    assert_eq!(cut.iter().map(|p| p.len()).sum::<usize>(), 8);
    let mixed: Vec<Example> = [100, 100, 600, 50].into_iter().map(example).collect();
    let refs: Vec<&Example> = mixed.iter().collect();
    let lengths: Vec<Vec<usize>> = passes(&refs)
        .iter()
        .map(|p| p.iter().map(|e| e.ids.len()).collect())
        .collect();
    assert_eq!(lengths, [vec![100, 100], vec![600], vec![50]]);
}

#[test]
fn gradients_added_up_pass_by_pass_take_the_step_of_one_pass() {
    // Plain gradient descent: the step is the gradient itself (AdamW's first step would hide
    // a gradient off by a factor).
    use candle_nn::{Optimizer, SGD};
    use nova_ft_models::lm::lora::Adapters;
    use nova_ft_models::lm::passes::GradSum;
    let lm = tiny(TinySpec::default());
    let examples: Vec<Example> = (0..4)
        .map(|i| lm.example(&record(&format!("item {i}"), "red"), 256))
        .collect();
    let refs: Vec<&Example> = examples.iter().collect();
    let dense = DenseLlama::new(&lm.llama).unwrap();
    let lora = LoraConfig {
        rank: 4,
        alpha: 8.0,
        ..LoraConfig::default()
    };
    let fresh = || Adapters::trainable(&lora, 2, &dense.dims(), 5, None).unwrap();
    // At once.
    let at_once = fresh();
    let mut optimizer = SGD::new(at_once.vars.clone(), 0.5).unwrap();
    let (loss, total) = dense.loss(&refs, &at_once.adapters).unwrap();
    optimizer.step(&loss.backward().unwrap()).unwrap();
    // In two passes, each its share of the mean, the gradients added up.
    let in_passes = fresh();
    let mut optimizer = SGD::new(in_passes.vars.clone(), 0.5).unwrap();
    let mut sum = GradSum::new(&in_passes.vars);
    for part in refs.chunks(2) {
        let (logp, _) = dense.target_logprobs(part, &in_passes.adapters).unwrap();
        let share = (logp.sum_all().unwrap() / -(total as f64)).unwrap();
        sum.add(&share.backward().unwrap(), &in_passes.vars)
            .unwrap();
    }
    sum.step(&in_passes.vars, &mut optimizer).unwrap();
    let untrained = fresh();
    let mut moved = 0f32;
    for ((a, b), c) in at_once
        .vars
        .iter()
        .zip(&in_passes.vars)
        .zip(&untrained.vars)
    {
        let c = c
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let (a, b) = (
            a.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
            b.as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap(),
        );
        assert!(max_abs_diff(&a, &b) < 1e-6, "{}", max_abs_diff(&a, &b));
        moved = moved.max(max_abs_diff(&a, &c));
    }
    assert!(moved > 1e-4, "the step moved the adapters by {moved}");
}
