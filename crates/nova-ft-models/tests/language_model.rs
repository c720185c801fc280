//! The language model's serving path on a tiny randomly initialised model of SmolLM2's
//! architecture (written at test time): reading and refusing files, tokenizing, generating
//! (deterministic, cached = uncached, batched = unbatched, stop reasons, streaming order,
//! shared prefixes, disconnected clients). Training is in `lm_training.rs`.
#![cfg(feature = "lm")]

mod common;

use candle_core::quantized::GgmlDType;
use common::{max_abs_diff, params, record, tiny};
use nova_ft_models::generation::StopReason;
use nova_ft_models::lm::gguf::LmFile;
use nova_ft_models::lm::lora::LoraConfig;
use nova_ft_models::lm::model::{KvCache, WIDE_ROWS};
use nova_ft_models::lm::tiny::{tiny_gguf, TinySpec};
use nova_ft_models::lm::train::DenseLlama;
use nova_ft_models::lm::vnni;
use nova_ft_models::lm::LanguageModel;
use nova_ft_models::Prompt;

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
    // Heads of 8 values (64 wide, 8 heads): the cache's blocks are 16.
    let narrow = tiny_gguf(TinySpec {
        heads: 8,
        kv_heads: 4,
        ..TinySpec::default()
    })
    .unwrap();
    let err = LmFile::from_bytes(&narrow, "narrow.gguf")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("narrow.gguf") && err.contains("attention heads of 8 values"),
        "{err}"
    );
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
    // The head tied to the embedding (as SmolLM2's) and, once, a head of its own.
    let (q4, q8) = (Some(GgmlDType::Q4_1), Some(GgmlDType::Q8_0));
    for (format, untied_head) in [(None, false), (q4, false), (q8, true), (None, true)] {
        let quantized = format.is_some();
        let lm = tiny(TinySpec {
            quantized: format,
            untied_head,
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
        let mut last = None;
        for id in &ids {
            last = Some(m.forward(&[&[*id]], &mut [&mut step], None).unwrap());
        }
        let mut last = last.expect("a token");
        // With AVX-512 VNNI every pass multiplies the quantized weights by the same kernels,
        // whatever the rows, so the logits agree. Without, many rows multiply by widened f32
        // weights and one row by a quantized kernel, which rounds the activations to 8 bits:
        // a quantized model's two paths differ by that rounding (a small share of the logits'
        // range), an f32 model's not at all.
        let range = at_once[0].iter().fold(0f32, |m, v| m.max(v.abs()));
        let across = if quantized && !vnni::available() {
            0.02 * range
        } else {
            1e-3
        };
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
        // model's cached keys and values, rounded to 8 bits per block of 16 (an error up to
        // half a step, max/254, each).
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
fn many_requests_at_once_still_answer_as_alone() {
    // 12 requests decode together: every step has more than WIDE_ROWS rows. An f32 model's
    // layers multiply by its f32 weights and give the same answers as alone; so does a
    // quantized one where its layers run on the VNNI kernels (any number of rows, the same
    // arithmetic). Without VNNI a quantized model's many rows multiply by widened f32 weights
    // and one row by a quantized kernel: it answers within its budget, its stream equal to
    // its answer.
    for format in [None, Some(GgmlDType::Q4_1), Some(GgmlDType::Q8_0)] {
        let quantized = format.is_some();
        let lm = std::sync::Arc::new(tiny(TinySpec {
            quantized: format,
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
            if !quantized || vnni::available() {
                let alone = ask(&lm, q, &mut String::new());
                assert_eq!(g.text, alone.text, "{format:?} {q}");
            }
        }
    }
}

#[test]
fn a_layer_refuses_rows_of_the_wrong_width() {
    for format in [None, Some(GgmlDType::Q4_1), Some(GgmlDType::Q8_0)] {
        let lm = tiny(TinySpec {
            quantized: format,
            ..TinySpec::default()
        });
        let hidden = lm.llama.config.hidden;
        let rows = |width: usize| {
            candle_core::Tensor::zeros(
                (3, width),
                candle_core::DType::F32,
                &candle_core::Device::Cpu,
            )
            .unwrap()
        };
        let head = &lm.llama.head;
        assert_eq!(
            head.forward(&rows(hidden)).unwrap().dims(),
            [3, lm.llama.config.vocab]
        );
        assert!(head.forward(&rows(hidden + 32)).is_err(), "{format:?}");
    }
}
