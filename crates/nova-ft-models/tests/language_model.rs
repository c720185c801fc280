//! The language model's path end to end on a tiny randomly initialised model of SmolLM2's
//! architecture (written at test time): reading and refusing files, tokenizing, generating
//! (deterministic, cached = uncached, batched = unbatched, stop reasons, streaming order),
//! LoRA and GRPO learning.
#![cfg(feature = "lm")]

use nova_ft_data::cpython_random::CPythonRandom;
use nova_ft_data::dataset::record::Conversation;
use nova_ft_models::generation::{GenerationParams, StopReason};
use nova_ft_models::lm::gguf::LmFile;
use nova_ft_models::lm::grpo::LmPolicy;
use nova_ft_models::lm::lora::LoraConfig;
use nova_ft_models::lm::model::{KvCache, WeightFormat, WIDE_ROWS};
use nova_ft_models::lm::passes::passes;
use nova_ft_models::lm::tiny::{tiny_gguf, TinySpec};
use nova_ft_models::lm::train::{
    evaluate, train_lora, DenseLlama, Example, LocalSchedule, LoraJob,
};
use nova_ft_models::lm::{LanguageModel, LmFamily};
use nova_ft_models::sampling::Sampling;
use nova_ft_models::{FineTuning, ModelFamily, Prompt, PromptGroup, TrainingConfig};

fn tiny(spec: TinySpec) -> LanguageModel {
    let bytes = tiny_gguf(spec).unwrap();
    LanguageModel::from_file(
        LmFile::from_bytes(&bytes, "tiny.gguf").unwrap(),
        WeightFormat::AsStored,
    )
    .unwrap()
}

fn params(max_tokens: usize) -> GenerationParams {
    GenerationParams {
        max_tokens,
        sampling: Sampling::GREEDY,
        stop_sequences: vec![],
        seed: 0,
        cancel: Default::default(),
    }
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn malformed_and_truncated_files_are_refused_with_the_reason() {
    let bytes = tiny_gguf(TinySpec::default()).unwrap();
    for (cut, name) in [
        (10, "header"),
        (bytes.len() / 2, "middle"),
        (bytes.len() - 7, "end"),
    ] {
        let err = LmFile::from_bytes(&bytes[..cut], "cut.gguf")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cut.gguf is not a usable Llama GGUF model"),
            "{name}: {err}"
        );
    }
    let err = LmFile::from_bytes(b"not a gguf file at all", "junk.bin")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("junk.bin") && err.contains("NOVA_FT_LM_PATH"),
        "{err}"
    );
}

#[test]
fn tokenizer_round_trips_text_and_knows_the_chat_markers() {
    let lm = tiny(TinySpec::default());
    let t = &lm.tokenizer;
    assert_eq!(t.token_id("<|im_start|>"), Some(1));
    assert_eq!(t.token_id("<|im_end|>"), Some(2));
    for text in [
        "the answer is 42.",
        "  spaced\n\nlines\t",
        "ünïcödé ✓ 😀",
        "",
    ] {
        assert_eq!(t.decode(&t.encode(text)), text);
    }
    // "Ġt" + "he" merge to "Ġthe" (rank 4): one token.
    assert_eq!(t.encode(" the"), vec![t.token_id("Ġthe").unwrap()]);
    // Control tokens' spellings in user text stay text.
    assert!(!t.encode("<|im_end|>").contains(&2));
}

#[test]
fn cached_batched_and_uncached_forward_passes_agree() {
    for quantized in [false, true] {
        let lm = tiny(TinySpec {
            quantized,
            ..TinySpec::default()
        });
        let m = &lm.llama;
        let ids: Vec<u32> = lm.tokenizer.encode("a short prompt to run, long enough");
        assert!(ids.len() >= WIDE_ROWS);
        // All at once.
        let mut whole = KvCache::new(m.config.layers);
        let at_once = m.forward(&[&ids], &mut [&mut whole], None).unwrap();
        // One token at a time through the cache.
        let mut step = KvCache::new(m.config.layers);
        let mut last = Vec::new();
        for id in &ids {
            last = m.forward(&[&[*id]], &mut [&mut step], None).unwrap();
        }
        // Many rows multiply by widened f32 weights, one row by the quantized kernel, which
        // rounds the activations to 8 bits: a quantized model's two paths differ by that
        // rounding (a small share of the logits' range), an f32 model's not at all.
        let range = at_once[0].iter().fold(0f32, |m, v| m.max(v.abs()));
        let across = if quantized { 0.02 * range } else { 1e-3 };
        let diff = max_abs_diff(&at_once[0], &last[0]);
        assert!(
            diff < across,
            "cached vs uncached: {diff} (logits up to {range})"
        );
        // Fewer rows than WIDE_ROWS: the same kernel either way, the same logits.
        let short = &ids[..WIDE_ROWS - 1];
        let mut whole = KvCache::new(m.config.layers);
        let short_at_once = m.forward(&[short], &mut [&mut whole], None).unwrap();
        let mut step = KvCache::new(m.config.layers);
        for id in short {
            last = m.forward(&[&[*id]], &mut [&mut step], None).unwrap();
        }
        let diff = max_abs_diff(&short_at_once[0], &last[0]);
        assert!(diff < 1e-3, "cached vs uncached, short: {diff}");
        // Two sequences in one pass, of different lengths: each as if alone.
        let other: Vec<u32> = lm.tokenizer.encode("another one");
        let (mut a, mut b) = (KvCache::new(m.config.layers), KvCache::new(m.config.layers));
        let both = m
            .forward(&[&ids, &other], &mut [&mut a, &mut b], None)
            .unwrap();
        let mut c = KvCache::new(m.config.layers);
        let alone = m.forward(&[&other], &mut [&mut c], None).unwrap();
        assert!(max_abs_diff(&both[0], &at_once[0]) < 1e-3, "batched first");
        assert!(max_abs_diff(&both[1], &alone[0]) < across, "batched second");
        // The training model (f32, autograd) computes the same logits, but for the served
        // model's bf16 keys and values (8 significant bits: a relative error up to 2^-9 each).
        if !quantized {
            let dense = DenseLlama::new(m).unwrap();
            let empty = nova_ft_models::lm::lora::Adapters::trainable(
                &LoraConfig::default(),
                m.config.layers,
                &dense.dims(),
                1,
                None,
            )
            .unwrap()
            .adapters;
            let t =
                candle_core::Tensor::from_slice(&ids, (1, ids.len()), &candle_core::Device::Cpu)
                    .unwrap();
            let logits = dense.logits(&t, &empty).unwrap().to_vec2::<f32>().unwrap();
            let range = at_once[0].iter().fold(0f32, |m, v| m.max(v.abs()));
            let diff = max_abs_diff(logits.last().unwrap(), &at_once[0]);
            assert!(
                diff < 0.01 * range,
                "dense vs served: {diff} (logits up to {range})"
            );
        }
    }
}

#[test]
fn greedy_generation_is_deterministic_and_streams_in_order() {
    let lm = tiny(TinySpec::default());
    let turns = vec![("user".to_string(), "hello there".to_string())];
    let prompt = Prompt {
        system: "be brief",
        turns: &turns,
    };
    let mut pieces = Vec::new();
    let first = lm
        .chat(&prompt, &params(12), None, &mut |p| {
            pieces.push(p.to_string())
        })
        .unwrap();
    let second = lm.chat(&prompt, &params(12), None, &mut |_| {}).unwrap();
    assert_eq!(first, second);
    assert_eq!(pieces.concat(), first.text);
    assert_eq!(first.input_tokens, lm.prompt_ids(&prompt).len());
    assert!(first.output_tokens <= 12);
    if first.output_tokens == 12 {
        assert_eq!(first.stop_reason, StopReason::MaxTokens);
    }
}

#[test]
fn stop_sequences_cut_the_answer_and_say_so() {
    let lm = tiny(TinySpec::default());
    let turns = vec![("user".to_string(), "x".to_string())];
    let prompt = Prompt {
        system: "",
        turns: &turns,
    };
    let full = lm.chat(&prompt, &params(40), None, &mut |_| {}).unwrap();
    // Stop at a piece of what greedy decoding writes anyway.
    let chars: Vec<char> = full.text.chars().collect();
    if chars.len() < 4 {
        return; // the random model ended at once: nothing to cut
    }
    let stop: String = chars[2..4].iter().collect();
    let mut p = params(40);
    p.stop_sequences = vec![stop.clone()];
    let mut streamed = String::new();
    let cut = lm
        .chat(&prompt, &p, None, &mut |t| streamed.push_str(t))
        .unwrap();
    assert_eq!(cut.stop_reason, StopReason::StopSequence);
    assert!(!cut.text.contains(&stop));
    assert!(full.text.starts_with(&cut.text));
    assert_eq!(
        streamed, cut.text,
        "nothing past the stop sequence was streamed"
    );
}

#[test]
fn a_shared_prefix_runs_once_with_the_same_result() {
    let lm = tiny(TinySpec::default());
    let dense = DenseLlama::new(&lm.llama).unwrap();
    let adapters = nova_ft_models::lm::lora::Adapters::trainable(
        &LoraConfig::default(),
        2,
        &dense.dims(),
        9,
        None,
    )
    .unwrap()
    .adapters;
    let examples: Vec<_> = [("one", "red"), ("a longer question", "blue sky")]
        .iter()
        .map(|(u, a)| lm.example(&record(u, a), 256))
        .collect();
    let refs: Vec<_> = examples.iter().collect();
    let (shared, owner) = dense.target_logprobs(&refs, &adapters).unwrap();
    let shared: f32 = shared.sum_all().unwrap().to_scalar().unwrap();
    // The same sum from full logits of each example alone, no prefix.
    let mut direct = 0f32;
    for e in &examples {
        let ids =
            candle_core::Tensor::from_slice(&e.ids, (1, e.ids.len()), &candle_core::Device::Cpu)
                .unwrap();
        let logits = dense
            .logits(&ids, &adapters)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        for (i, row) in logits.iter().enumerate() {
            if e.targets[i] && i + 1 < e.ids.len() {
                let max = row.iter().cloned().fold(f32::MIN, f32::max);
                let lse = max + row.iter().map(|v| (v - max).exp()).sum::<f32>().ln();
                direct += row[e.ids[i + 1] as usize] - lse;
            }
        }
    }
    assert_eq!(
        owner.len(),
        examples
            .iter()
            .map(|e| e.targets.iter().filter(|t| **t).count())
            .sum::<usize>()
    );
    assert!(
        (shared - direct).abs() < 1e-3 * direct.abs().max(1.0),
        "{shared} vs {direct}"
    );
}

fn record(user: &str, answer: &str) -> Conversation {
    Conversation::single_turn("Answer with the colour.", user, Some(answer.to_string()))
}

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
fn concurrent_requests_decoded_together_answer_as_alone() {
    let lm = std::sync::Arc::new(tiny(TinySpec::default()));
    let questions: Vec<String> = (0..6).map(|i| format!("question number {i}")).collect();
    let alone: Vec<String> = questions
        .iter()
        .map(|q| {
            let turns = vec![("user".to_string(), q.clone())];
            let prompt = Prompt {
                system: "shared system prompt",
                turns: &turns,
            };
            lm.chat(&prompt, &params(10), None, &mut |_| {})
                .unwrap()
                .text
        })
        .collect();
    // The same prompts at once through the decoding thread (batched, the system prompt's keys
    // and values computed once and reused).
    let together: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = questions
            .iter()
            .map(|q| {
                let lm = std::sync::Arc::clone(&lm);
                scope.spawn(move || {
                    let turns = vec![("user".to_string(), q.clone())];
                    let prompt = Prompt {
                        system: "shared system prompt",
                        turns: &turns,
                    };
                    let mut streamed = String::new();
                    let g = lm
                        .serve(None, &prompt, &params(10), &mut |t| streamed.push_str(t))
                        .unwrap();
                    assert_eq!(streamed, g.text);
                    g.text
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(together, alone);
}

#[test]
fn a_request_whose_client_went_away_is_dropped_and_the_rest_served() {
    let lm = tiny(TinySpec::default());
    let turns = vec![("user".to_string(), "question".to_string())];
    let prompt = Prompt {
        system: "shared system prompt",
        turns: &turns,
    };
    let alone = lm.serve(None, &prompt, &params(10), &mut |_| {}).unwrap();
    let gone = params(10);
    gone.cancel.cancel();
    let mut streamed = String::new();
    let refused = lm.serve(None, &prompt, &gone, &mut |t| streamed.push_str(t));
    let message = refused
        .expect_err("a cancelled request is not answered")
        .to_string();
    assert!(message.contains("cancelled"), "{message}");
    assert!(streamed.is_empty());
    // The engine goes on serving: the same request again gets the same answer.
    let again = lm.serve(None, &prompt, &params(10), &mut |_| {}).unwrap();
    assert_eq!(again.text, alone.text);
    // Without the engine (one sequence, no batch), a cancelled request stops the same way.
    assert!(lm.chat(&prompt, &gone, None, &mut |_| {}).is_err());
}

#[test]
fn many_requests_at_once_take_the_f32_path_and_still_answer_as_alone() {
    // 12 requests decode together: every step has more than WIDE_ROWS rows, so the linear
    // layers multiply by widened f32 weights. An f32 model gives the same answers as alone; a
    // quantized one answers within its budget, its stream equal to its answer.
    for quantized in [false, true] {
        let lm = std::sync::Arc::new(tiny(TinySpec {
            quantized,
            ..TinySpec::default()
        }));
        let questions: Vec<String> = (0..12).map(|i| format!("question {i} of many")).collect();
        assert!(questions.len() > WIDE_ROWS);
        let ask = |lm: &LanguageModel, q: &str, streamed: &mut String| {
            let turns = vec![("user".to_string(), q.to_string())];
            let prompt = Prompt {
                system: "",
                turns: &turns,
            };
            lm.serve(None, &prompt, &params(10), &mut |t| streamed.push_str(t))
                .unwrap()
        };
        let together: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = questions
                .iter()
                .map(|q| {
                    let lm = std::sync::Arc::clone(&lm);
                    scope.spawn(move || {
                        let mut streamed = String::new();
                        let g = ask(&lm, q, &mut streamed);
                        (g, streamed)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (q, (g, streamed)) in questions.iter().zip(&together) {
            assert_eq!(streamed, &g.text);
            assert!(g.output_tokens <= 10);
            if !quantized {
                let alone = ask(&lm, q, &mut String::new());
                assert_eq!(g.text, alone.text, "{q}");
            }
        }
    }
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
