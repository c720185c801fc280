//! One decoding step of many sequences at once, timed alone: the forward pass the engine runs
//! for `rows` requests decoding together, without the thread scheduling and request arrival
//! that make the end-to-end figure (`lm_speed` with `CONCURRENT`) vary from run to run:
//! `cargo run --release -p nova-ft-models --features lm --example lm_step -- <gguf> [rows] [context] [steps]`.
//! Each sequence holds `context` tokens (its prompt) before the timed steps; prints the median
//! and spread of a step's time over `steps` steps, and tokens/s at the median. With
//! `ADAPTERS=1`, every linear layer has a rank-16 LoRA adapter (a tuned model's deployment).

use nova_ft_models::lm::lora::{Adapters, LoraConfig};
use nova_ft_models::lm::model::{KvCache, WeightFormat};
use nova_ft_models::lm::LanguageModel;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: lm_step <gguf> [rows] [context] [steps]");
    let mut number = |default: usize| args.next().and_then(|v| v.parse().ok()).unwrap_or(default);
    let (rows, context, steps) = (number(32), number(100), number(40));
    let lm =
        LanguageModel::open(std::path::Path::new(&path), WeightFormat::Vectorized).expect("model");
    let m = &lm.llama;
    let adapters = std::env::var_os("ADAPTERS").map(|_| {
        let dims = m.config.linear_dims();
        Adapters::trainable(&LoraConfig::default(), m.config.layers, &dims, 7, None)
            .expect("adapters")
            .adapters
            .detached()
    });
    let adapters = adapters.as_ref();
    let vocab = m.config.vocab as u32;
    // Distinct prompts: token ids spread over the vocabulary, a different start per sequence.
    let mut caches: Vec<KvCache> = (0..rows)
        .map(|s| {
            let prompt: Vec<u32> = (0..context)
                .map(|i| ((s * 7919 + i * 104_729) as u32) % vocab)
                .collect();
            let mut cache = KvCache::new(m.config.layers);
            m.forward(&[&prompt], &mut [&mut cache], adapters)
                .expect("prefill");
            cache
        })
        .collect();
    let mut next: Vec<u32> = (0..rows as u32).map(|s| (s * 31 + 17) % vocab).collect();
    let mut times = Vec::with_capacity(steps);
    for _ in 0..steps {
        let tokens: Vec<[u32; 1]> = next.iter().map(|t| [*t]).collect();
        let token_refs: Vec<&[u32]> = tokens.iter().map(|t| &t[..]).collect();
        let mut refs: Vec<&mut KvCache> = caches.iter_mut().collect();
        let started = Instant::now();
        let logits = m.forward(&token_refs, &mut refs, adapters).expect("step");
        times.push(started.elapsed().as_secs_f64());
        // Greedy: each sequence goes on with its most likely token.
        next = logits
            .rows()
            .map(|l| {
                (0..l.len())
                    .max_by(|a, b| l[*a].total_cmp(&l[*b]))
                    .unwrap_or(0) as u32
            })
            .collect();
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{rows} rows after {context} tokens: a step {:.2} ms (median; {:.2}-{:.2} over {steps}), {:.1} tokens/s",
        median * 1e3,
        times[0] * 1e3,
        times[times.len() - 1] * 1e3,
        rows as f64 / median
    );
}
