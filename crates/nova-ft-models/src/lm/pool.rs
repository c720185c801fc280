//! Borrowing candle tensors' f32 data and running work on candle's thread pool: what the
//! hand-written operations of training (attention, norm, rotary embedding, frozen products)
//! share, and decoding's attention and SwiGLU, which run on [`super::workers`].
//!
//! candle's pool, not rayon's: candle's workers spin between operations, and on 2 cores
//! rayon's threads would take turns with them.

use candle_core::{CpuStorage, Layout, Storage, Tensor};
use std::sync::Mutex;

/// The contiguous f32 data of `t`, borrowed.
pub(crate) fn with_data<R>(t: &Tensor, f: impl FnOnce(&[f32]) -> R) -> candle_core::Result<R> {
    let (storage, layout) = t.storage_and_layout();
    match (&*storage, layout.contiguous_offsets()) {
        (Storage::Cpu(cpu), Some((a, b))) => Ok(f(&cpu.as_slice::<f32>()?[a..b])),
        _ => candle_core::bail!("a CPU tensor in contiguous f32 is needed"),
    }
}

/// The contiguous f32 data of operation `op`'s input.
pub(crate) fn input<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> candle_core::Result<&'a [f32]> {
    match layout.contiguous_offsets() {
        Some((a, b)) => Ok(&storage.as_slice::<f32>()?[a..b]),
        None => candle_core::bail!("{op}: input is not contiguous"),
    }
}

/// Runs `f(index, chunk)` for every `chunk`-long piece of `out`: on decoding's workers during a
/// decoding pass, else on candle's pool ([`super::workers::execute_chunked_here`]).
pub(crate) fn for_each_chunk(out: &mut [f32], chunk: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let slots: Vec<Mutex<&mut [f32]>> = out.chunks_mut(chunk.max(1)).map(Mutex::new).collect();
    super::workers::execute_chunked_here(slots.len(), |range| {
        for i in range {
            let mut slot = slots[i].lock().unwrap_or_else(|e| e.into_inner());
            f(i, &mut slot);
        }
    });
}
