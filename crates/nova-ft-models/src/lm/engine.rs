//! Serving many requests at once: one decoding thread per model (base, or base + one set of
//! adapters) runs every active sequence's next token in the same forward pass (batched
//! decoding), admits new requests between steps, and reuses the keys and values of a system
//! prompt it has already computed (prefix cache). Callers block on their own request and get
//! its text as it is produced.

use super::generate::{cancelled, Decoding, Generation, GenerationParams};
use super::lora::Adapters;
use super::model::{KvCache, Llama, Logits};
use super::tokenizer::Tokenizer;
use nova_ft_data::error::{NovaError, Result};
use std::collections::VecDeque;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

/// What the decoding thread needs, shared with the model that owns it.
pub struct Shared {
    pub llama: Arc<Llama>,
    pub tokenizer: Arc<Tokenizer>,
    pub end_ids: Vec<u32>,
    pub adapters: Option<Adapters>,
}

enum Event {
    Text(String),
    Done(Result<Generation>),
}

struct Request {
    /// Token ids of the shared prefix (the system message) and of the rest of the prompt.
    prefix: Vec<u32>,
    rest: Vec<u32>,
    params: GenerationParams,
    events: Sender<Event>,
}

/// Sequences decoded together at most; more wait for a free slot.
pub const MAX_BATCH: usize = 32;
/// System prompts whose keys and values are kept.
const PREFIX_CACHE: usize = 8;

/// A model's decoding thread.
pub struct Engine {
    requests: Mutex<Sender<Request>>,
}

impl Engine {
    pub fn start(shared: Shared) -> Engine {
        let (tx, rx) = channel::<Request>();
        std::thread::Builder::new()
            .name("nova-ft-lm".into())
            .spawn(move || run(shared, rx))
            .expect("a thread for the language model");
        Engine {
            requests: Mutex::new(tx),
        }
    }

    /// Generate an answer: `prefix` (shared across requests, cached) then `rest`, handing
    /// each piece of text to `on_text` as it is produced.
    pub fn generate(
        &self,
        prefix: Vec<u32>,
        rest: Vec<u32>,
        params: GenerationParams,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        self.submit(prefix, rest, params)?.wait(on_text)
    }

    /// Queue a request without waiting for it: requests submitted from one thread are
    /// admitted in order, so those sharing a prefix find it cached.
    pub fn submit(
        &self,
        prefix: Vec<u32>,
        rest: Vec<u32>,
        params: GenerationParams,
    ) -> Result<Pending> {
        let gone = || NovaError::invalid("language model: the decoding thread is gone");
        let (events, rx) = channel();
        self.requests
            .lock()
            .map_err(|_| gone())?
            .send(Request {
                prefix,
                rest,
                params,
                events,
            })
            .map_err(|_| gone())?;
        Ok(Pending { events: rx })
    }
}

/// A submitted request's answer, as it is produced.
pub struct Pending {
    events: Receiver<Event>,
}

impl Pending {
    /// Wait for the answer, handing each piece of text to `on_text` as it comes.
    pub fn wait(self, on_text: &mut dyn FnMut(&str)) -> Result<Generation> {
        for event in self.events {
            match event {
                Event::Text(t) => on_text(&t),
                Event::Done(result) => return result,
            }
        }
        Err(NovaError::invalid(
            "language model: the decoding thread stopped",
        ))
    }
}

struct Active {
    decoding: Decoding,
    events: Sender<Event>,
}

fn run(shared: Shared, rx: Receiver<Request>) {
    let Shared {
        llama,
        tokenizer,
        end_ids,
        adapters,
    } = shared;
    let adapters = adapters.as_ref();
    let mut prefixes: VecDeque<(Vec<u32>, KvCache)> = VecDeque::new();
    let mut active: Vec<Active> = Vec::new();
    loop {
        // Admit new requests: wait for one when idle, else take what has arrived.
        let mut admitted = Vec::new();
        if active.is_empty() {
            match rx.recv() {
                Ok(r) => admitted.push(r),
                Err(_) => return,
            }
        }
        while active.len() + admitted.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => admitted.push(r),
                Err(_) => break,
            }
        }
        // Prefill the new ones together, each after its cached (or newly computed) prefix.
        let mut fresh: Vec<(Decoding, Sender<Event>, Vec<u32>)> = Vec::new();
        for r in admitted {
            if r.params.cancel.is_cancelled() {
                let _ = r.events.send(Event::Done(Err(cancelled())));
                continue;
            }
            let cache = match prefixes.iter().position(|(p, _)| *p == r.prefix) {
                Some(i) => {
                    let hit = prefixes.remove(i).expect("present");
                    let cache = hit.1.clone();
                    prefixes.push_front(hit);
                    Ok(cache)
                }
                None => {
                    let mut cache = KvCache::new(llama.config.layers);
                    let computed = if r.prefix.is_empty() {
                        Ok(())
                    } else {
                        llama
                            .forward(&[&r.prefix], &mut [&mut cache], adapters)
                            .map(|_| ())
                    };
                    computed.map(|_| {
                        prefixes.push_front((r.prefix.clone(), cache.clone()));
                        prefixes.truncate(PREFIX_CACHE);
                        cache
                    })
                }
            };
            match cache {
                Ok(cache) => {
                    let input = r.prefix.len() + r.rest.len();
                    fresh.push((Decoding::new(cache, input, r.params), r.events, r.rest));
                }
                Err(e) => {
                    let _ = r.events.send(Event::Done(Err(e)));
                }
            }
        }
        if !fresh.is_empty() {
            let mut caches: Vec<KvCache> = fresh
                .iter_mut()
                .map(|(d, _, _)| std::mem::take(&mut d.cache))
                .collect();
            let tokens: Vec<&[u32]> = fresh.iter().map(|(_, _, rest)| rest.as_slice()).collect();
            let mut refs: Vec<&mut KvCache> = caches.iter_mut().collect();
            let started = std::time::Instant::now();
            let result = llama.forward(&tokens, &mut refs, adapters);
            log::trace!(
                target: "nova_ft.emulator",
                "language model: {} prompts ({} tokens) read in {:.1} ms ({} others decoding)",
                tokens.len(),
                tokens.iter().map(|t| t.len()).sum::<usize>(),
                started.elapsed().as_secs_f64() * 1e3,
                active.len()
            );
            match result {
                Ok(logits) => {
                    for (((mut decoding, events, _), cache), logits) in
                        fresh.into_iter().zip(caches).zip(logits.rows())
                    {
                        decoding.cache = cache;
                        let text = decoding.step(logits, &tokenizer, &end_ids);
                        if !text.is_empty() {
                            let _ = events.send(Event::Text(text));
                        }
                        active.push(Active { decoding, events });
                    }
                }
                Err(e) => {
                    for (_, events, _) in fresh {
                        let _ = events.send(Event::Done(Err(NovaError::invalid(e.to_string()))));
                    }
                }
            }
        }
        // Finish what is done; one decoding step for the rest, together.
        let mut i = 0;
        while i < active.len() {
            let a = &mut active[i];
            let full = a.decoding.cache.len + 1 >= llama.max_positions();
            if a.decoding.params.cancel.is_cancelled() {
                let a = active.swap_remove(i);
                log::debug!(
                    target: "nova_ft.emulator",
                    "language model: a request's client went away after {} tokens; stopped",
                    a.decoding.finish().output_tokens
                );
                let _ = a.events.send(Event::Done(Err(cancelled())));
            } else if a.decoding.done.is_some() || a.decoding.next.is_none() || full {
                let a = active.swap_remove(i);
                let _ = a.events.send(Event::Done(Ok(a.decoding.finish())));
            } else {
                i += 1;
            }
        }
        if active.is_empty() {
            continue;
        }
        let next: Vec<[u32; 1]> = active
            .iter_mut()
            .map(|a| [a.decoding.next.take().expect("checked above")])
            .collect();
        let tokens: Vec<&[u32]> = next.iter().map(|t| t.as_slice()).collect();
        let mut refs: Vec<&mut KvCache> =
            active.iter_mut().map(|a| &mut a.decoding.cache).collect();
        let started = std::time::Instant::now();
        let result = llama.forward(&tokens, &mut refs, adapters);
        log::trace!(
            target: "nova_ft.emulator",
            "language model: a step of {} sequences in {:.1} ms",
            tokens.len(),
            started.elapsed().as_secs_f64() * 1e3
        );
        match result {
            Ok(logits) => step_all(&mut active, &logits, &tokenizer, &end_ids),
            Err(e) => {
                for a in active.drain(..) {
                    let _ = a
                        .events
                        .send(Event::Done(Err(NovaError::invalid(e.to_string()))));
                }
            }
        }
    }
}

/// Each active request's next token from its logits (and the text it releases, sent), on
/// the workers when there are several: at a temperature, drawing a token weighs all 49,152
/// logits (0.05 ms at temperature 0.7 and top-p 0.9 since the weights are computed in
/// vectors, 0.33 ms before: the `sampling_speed` example), which for 32 requests on the
/// decoding thread alone kept the workers waiting. Each request's draw uses its own random
/// state, so the tokens are those of one request after another.
fn step_all(active: &mut [Active], logits: &Logits, tokenizer: &Tokenizer, end_ids: &[u32]) {
    let slots: Vec<Mutex<(&mut Active, &[f32], String)>> = active
        .iter_mut()
        .zip(logits.rows())
        .map(|(a, l)| Mutex::new((a, l, String::new())))
        .collect();
    let step = |i: usize| {
        let mut slot = slots[i].lock().unwrap_or_else(|e| e.into_inner());
        let (a, logits, text) = &mut *slot;
        *text = a.decoding.step(logits, tokenizer, end_ids);
    };
    // A few rows are not worth the pool's start and finish.
    if slots.len() < 4 {
        (0..slots.len()).for_each(step);
    } else {
        super::workers::pool().execute_chunked(slots.len(), |range| range.for_each(step));
    }
    for slot in slots {
        let (a, _, text) = slot.into_inner().unwrap_or_else(|e| e.into_inner());
        if !text.is_empty() {
            let _ = a.events.send(Event::Text(text));
        }
    }
}
