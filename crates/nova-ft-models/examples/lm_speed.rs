//! Generation speed of the local language model on one prompt, single stream:
//! `cargo run --release -p nova-ft-models --features lm --example lm_speed -- <gguf> [vectorized|q8|stored] [tokens]`,
//! with `CONCURRENT=32` for that many requests at once and `TEMPERATURE=0.7` to sample (top-p
//! 0.9) rather than decode greedily.
//! `benches/lm_speed.py` runs it beside llama.cpp.

use nova_ft_models::generation::GenerationParams;
use nova_ft_models::lm::model::WeightFormat;
use nova_ft_models::lm::LanguageModel;
use nova_ft_models::sampling::Sampling;
use nova_ft_models::Prompt;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: lm_speed <gguf> [vectorized|q8|stored] [tokens]");
    let format = match args.next().as_deref() {
        Some("stored") => WeightFormat::AsStored,
        Some("q8") => WeightFormat::Q8,
        _ => WeightFormat::Vectorized,
    };
    let tokens: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(128);
    let started = Instant::now();
    let lm = LanguageModel::open(std::path::Path::new(&path), format).expect("model");
    println!(
        "loaded in {:.2} s; {}",
        started.elapsed().as_secs_f64(),
        memory()
    );
    let turns = vec![(
        "user".to_string(),
        "Write a short story about a lighthouse keeper who finds a message in a bottle."
            .to_string(),
    )];
    let prompt = Prompt {
        system: "",
        turns: &turns,
    };
    // TEMPERATURE=0.7: sampled with Nova's default top-p (0.9) instead of greedy.
    let sampling = match std::env::var("TEMPERATURE")
        .ok()
        .and_then(|t| t.parse().ok())
    {
        Some(temperature) => Sampling {
            temperature,
            top_p: 0.9,
            top_k: 0,
        },
        None => Sampling::GREEDY,
    };
    let params = GenerationParams {
        max_tokens: tokens,
        sampling,
        stop_sequences: vec![],
        seed: 0,
        cancel: Default::default(),
    };
    let ids = lm.prompt_ids(&prompt);
    let started = Instant::now();
    let mut first = None;
    let g = lm
        .chat(&prompt, &params, None, &mut |_| {
            first.get_or_insert_with(|| started.elapsed().as_secs_f64());
        })
        .expect("generation");
    let total = started.elapsed().as_secs_f64();
    let ttft = first.unwrap_or(total);
    println!("{}", g.text);
    println!("after one answer: {}", memory());
    let concurrent: usize = std::env::var("CONCURRENT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    if concurrent > 0 {
        let lm = std::sync::Arc::new(lm);
        let started = Instant::now();
        let total: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..concurrent)
                .map(|i| {
                    let lm = std::sync::Arc::clone(&lm);
                    let params = params.clone();
                    scope.spawn(move || {
                        let turns = vec![(
                            "user".to_string(),
                            format!("Write a short story about topic {i}."),
                        )];
                        let prompt = Prompt {
                            system: "",
                            turns: &turns,
                        };
                        lm.serve(None, &prompt, &params, &mut |_| {})
                            .expect("generation")
                            .output_tokens
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        println!(
            "{concurrent} concurrent: {total} tokens in {:.2} s: {:.1} tokens/s; {}",
            started.elapsed().as_secs_f64(),
            total as f64 / started.elapsed().as_secs_f64(),
            memory()
        );
        return;
    }
    println!(
        "prompt {} tokens, answer {} tokens ({:?}); first token after {:.3} s; decoding {:.1} tokens/s",
        ids.len(),
        g.output_tokens,
        g.stop_reason,
        ttft,
        (g.output_tokens.saturating_sub(1)) as f64 / (total - ttft).max(1e-9)
    );
}

/// The process's resident memory now and at its peak (Linux; empty elsewhere).
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    format!("resident {}, peak {}", field("VmRSS:"), field("VmHWM:"))
}
