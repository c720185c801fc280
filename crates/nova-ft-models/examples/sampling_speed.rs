//! How long drawing one token takes at a temperature, over a vocabulary of SmolLM2's size,
//! timed alone: `cargo run --release -p nova-ft-models --example sampling_speed -- [temperature]
//! [top_p] [top_k] [draws]`. Prints the fastest and the median of `draws` draws (the fastest is
//! what the code costs when nothing else takes the core).
//!
//! The logits are synthetic and seeded: normal with a spread of 2.5 (a language model's logits
//! are about that), plus a few tokens 6 to 12 above the rest, so that the nucleus holds a
//! handful to hundreds of tokens as the temperature goes.

use nova_ft_models::sampling::{Sampling, SplitMix};
use std::time::Instant;

const VOCABULARY: usize = 49_152;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut number = |default: f64| args.next().and_then(|v| v.parse().ok()).unwrap_or(default);
    let sampling = Sampling {
        temperature: number(0.7) as f32,
        top_p: number(0.9) as f32,
        top_k: number(0.0) as usize,
    };
    let draws = number(2000.0) as usize;
    let mut random = SplitMix::new(11);
    let mut logits: Vec<f32> = (0..VOCABULARY)
        .map(|_| {
            // Box-Muller.
            let (u, v) = (random.next_f64().max(1e-12), random.next_f64());
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos() * 2.5) as f32
        })
        .collect();
    for (i, lift) in [(17, 12.0f32), (4_000, 10.0), (20_000, 9.0), (33_333, 6.0)] {
        logits[i] += lift;
    }
    let mut times = Vec::with_capacity(draws);
    let mut picked = 0u64;
    for _ in 0..draws {
        let started = Instant::now();
        picked += u64::from(sampling.pick(std::hint::black_box(&logits), &mut random));
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{sampling:?}: fastest {:.1} µs, median {:.1} µs over {draws} draws (checksum {picked})",
        times[0],
        times[draws / 2]
    );
}
