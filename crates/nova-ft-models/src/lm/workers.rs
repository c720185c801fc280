//! The decoding path's own worker threads: a step of 32 requests is about 200 parallel
//! pieces of work (products, attention, the cache's writes), each tens to hundreds of
//! microseconds, so waking the workers must cost next to nothing, as in candle's pool, which
//! this replaces for decoding.
//!
//! Why not candle's pool: its caller waits for the last worker by spinning without end. When
//! the CPU is shared (a notebook computing, another process, a training job), a worker that
//! loses its core keeps the caller spinning through whole scheduler slices: beside a LoRA
//! training job, a step of 32 rows took 100-640 ms instead of about 30 here, one row 15-330
//! ms instead of 5 (`lm_step`). Why not rayon's: its idle threads go to sleep after a few yields, and
//! waking them for each of a step's pieces cost more than the pieces.
//!
//! Here a thread that waits (a worker for work, the caller for its workers) spins for a
//! short while, then yields its core, then sleeps until woken; and the caller does not wait
//! for a worker that has not started yet: it takes the remaining pieces itself and closes
//! the work, so a descheduled worker delays nothing but its own piece in flight.

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// How long a waiting thread spins before yielding its core: a step's gaps between pieces.
const SPIN_FOR: Duration = Duration::from_micros(50);
/// How long it yields before sleeping: on an idle CPU a yield returns at once, so this keeps
/// a worker quick to start through the gaps of a tuned model's step (its adapters' work).
const YIELD_FOR: Duration = Duration::from_millis(2);
/// `state`'s low bit: the work is closed to workers that have not joined it.
const CLOSED: usize = 1;
/// `state` counts the workers inside the work in steps of 2 above the bit.
const JOINED: usize = 2;

/// The work being run: a type-erased `&F` (`F: Fn() + Sync`) and how to call it.
#[derive(Clone, Copy)]
struct Work {
    call: unsafe fn(*const ()),
    data: *const (),
}

struct Shared {
    /// Bumped (under `calls`) when new work is posted.
    generation: AtomicUsize,
    /// Joined workers (in steps of [`JOINED`]) and the [`CLOSED`] bit.
    state: AtomicUsize,
    /// Written under `calls` before `state` opens; read by a worker after it joins.
    work: UnsafeCell<Work>,
    caller: UnsafeCell<Option<Thread>>,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

// SAFETY: `work` and `caller` are written only by the thread holding `Pool::calls`, while no
// worker is joined (state is CLOSED with none inside, or not yet opened), and read only by
// workers between joining and leaving; the atomics order the two.
unsafe impl Sync for Shared {}

/// A set of worker threads, plus the calling thread, that run one piece of work at a time.
pub(crate) struct Pool {
    shared: &'static Shared,
    workers: Vec<Thread>,
    calls: Mutex<()>,
}

thread_local! {
    /// Set in the workers, and in a caller while its work runs: work posted from inside work
    /// runs inline (it would wait for itself).
    static INSIDE: Cell<bool> = const { Cell::new(false) };
    /// Set while this thread runs a decoding pass ([`Decoding`]).
    static DECODING: Cell<bool> = const { Cell::new(false) };
}

/// While alive, the shared products this thread runs ([`super::frozen`]'s, which LoRA's
/// adapters use) go to these workers, not to candle's pool: decoding with adapters took
/// turns between the two pools' threads (a step of 32 rows 52-67 ms, against 37-41 with the
/// products here and 36-54 with everything on candle's pool, `ADAPTERS=1 lm_step`). Training
/// keeps them on candle's pool, with the rest of its operations (here it ran a fifth slower).
pub(crate) struct Decoding(bool);

impl Decoding {
    pub(crate) fn enter() -> Decoding {
        Decoding(DECODING.with(|d| d.replace(true)))
    }
}

impl Drop for Decoding {
    fn drop(&mut self) {
        DECODING.with(|d| d.set(self.0));
    }
}

/// The threads [`execute_chunked_here`] runs on, the caller's included.
pub(crate) fn threads_here() -> usize {
    match DECODING.with(Cell::get) {
        true => pool().threads(),
        false => candle_core::utils::barrier_pool().n_workers() + 1,
    }
}

/// `f(range)` over `0..items` in pieces on these workers during a decoding pass, else on
/// candle's pool.
pub(crate) fn execute_chunked_here(items: usize, f: impl Fn(std::ops::Range<usize>) + Sync) {
    match DECODING.with(Cell::get) {
        true => pool().execute_chunked(items, f),
        false => candle_core::utils::barrier_pool().execute_chunked(items, f),
    }
}

/// Wait until `ready()`: spin, then yield, then sleep (woken by `unpark`).
fn wait_until(mut ready: impl FnMut() -> bool) {
    if ready() {
        return;
    }
    let started = Instant::now();
    loop {
        // The clock is read every 64 turns, not at each.
        for _ in 0..64 {
            if ready() {
                return;
            }
            std::hint::spin_loop();
        }
        let waited = started.elapsed();
        if waited >= YIELD_FOR {
            thread::park();
        } else if waited >= SPIN_FOR {
            thread::yield_now();
        }
    }
}

/// The pool of `CANDLE_NUM_THREADS`, else `RAYON_NUM_THREADS`, else the physical cores (as
/// candle counts them), the calling thread included.
pub(crate) fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let threads = std::env::var("CANDLE_NUM_THREADS")
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or_else(candle_core::utils::get_num_threads);
        Pool::new(threads.saturating_sub(1))
    })
}

unsafe fn trampoline<F: Fn() + Sync>(data: *const ()) {
    // SAFETY: `data` is the `&F` that `Pool::execute` posted and outlives the work.
    unsafe { (*(data as *const F))() }
}

impl Pool {
    fn new(workers: usize) -> Pool {
        fn nothing(_: *const ()) {}
        let shared: &'static Shared = Box::leak(Box::new(Shared {
            generation: AtomicUsize::new(0),
            state: AtomicUsize::new(CLOSED),
            work: UnsafeCell::new(Work {
                call: nothing,
                data: std::ptr::null(),
            }),
            caller: UnsafeCell::new(None),
            panic: Mutex::new(None),
        }));
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let spawned = thread::Builder::new()
                .name(format!("nova-ft-lm-{i}"))
                .spawn(move || worker(shared));
            match spawned {
                Ok(h) => handles.push(h.thread().clone()),
                // Fewer workers: the caller does their share.
                Err(_) => break,
            }
        }
        Pool {
            shared,
            workers: handles,
            calls: Mutex::new(()),
        }
    }

    /// Threads that run work, the caller's included.
    pub(crate) fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// `f(range)` over `0..items` in pieces, on the workers and the calling thread; returns
    /// when every piece has run. A panic in a piece is raised here.
    pub(crate) fn execute_chunked(&self, items: usize, f: impl Fn(std::ops::Range<usize>) + Sync) {
        if items == 0 {
            return;
        }
        if self.workers.is_empty() || INSIDE.with(Cell::get) {
            return f(0..items);
        }
        // About 8 pieces a thread: a straggler's share is small, taking a piece is cheap.
        let piece = items.div_ceil(self.threads() * 8).max(1);
        let next = AtomicUsize::new(0);
        let run = || loop {
            let start = next.fetch_add(piece, Ordering::Relaxed);
            if start >= items {
                break;
            }
            f(start..items.min(start + piece));
        };
        self.execute(&run);
    }

    fn execute<F: Fn() + Sync>(&self, run: &F) {
        let _one_at_a_time = self.calls.lock().unwrap_or_else(|e| e.into_inner());
        let shared = self.shared;
        // SAFETY: we hold `calls` and the work is closed with no worker inside (the previous
        // call waited for that), so no worker reads these now.
        unsafe {
            *shared.work.get() = Work {
                call: trampoline::<F>,
                data: run as *const F as *const (),
            };
            *shared.caller.get() = Some(thread::current());
        }
        shared.state.store(0, Ordering::Release);
        shared.generation.fetch_add(1, Ordering::Release);
        for w in &self.workers {
            w.unpark();
        }
        // Closes the work and waits for the workers inside it, also when `run` panics here:
        // they borrow this frame.
        struct Close<'a>(&'a Shared);
        impl Drop for Close<'_> {
            fn drop(&mut self) {
                let state = &self.0.state;
                state.fetch_or(CLOSED, Ordering::AcqRel);
                wait_until(|| state.load(Ordering::Acquire) == CLOSED);
            }
        }
        let close = Close(shared);
        INSIDE.with(|i| i.set(true));
        let mine = catch_unwind(AssertUnwindSafe(run));
        INSIDE.with(|i| i.set(false));
        drop(close);
        let theirs = shared
            .panic
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Err(p) = mine {
            resume_unwind(p);
        }
        if let Some(p) = theirs {
            resume_unwind(p);
        }
    }
}

fn worker(shared: &'static Shared) {
    INSIDE.with(|i| i.set(true));
    let mut seen = 0usize;
    loop {
        wait_until(|| shared.generation.load(Ordering::Acquire) != seen);
        seen = shared.generation.load(Ordering::Acquire);
        // Join the work unless the caller has closed it (it may have finished alone).
        let mut state = shared.state.load(Ordering::Acquire);
        let joined = loop {
            if state & CLOSED != 0 {
                break false;
            }
            match shared.state.compare_exchange_weak(
                state,
                state + JOINED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break true,
                Err(now) => state = now,
            }
        };
        if !joined {
            continue;
        }
        // SAFETY: joined, so the caller is waiting and these are its current work's.
        let (work, caller) = unsafe { (*shared.work.get(), (*shared.caller.get()).clone()) };
        // SAFETY: the caller keeps `work.data` alive until every joined worker has left.
        if let Err(p) = catch_unwind(|| unsafe { (work.call)(work.data) }) {
            let mut slot = shared.panic.lock().unwrap_or_else(|e| e.into_inner());
            slot.get_or_insert(p);
        }
        // The last to leave a closed work wakes the caller (if it sleeps).
        if shared.state.fetch_sub(JOINED, Ordering::AcqRel) == CLOSED + JOINED {
            if let Some(c) = caller {
                c.unpark();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn every_item_runs_once_whatever_the_count_and_the_threads() {
        for workers in [0, 1, 3] {
            let pool = Pool::new(workers);
            for items in [0, 1, 2, 7, 64, 1000] {
                let hits: Vec<AtomicU64> = (0..items).map(|_| AtomicU64::new(0)).collect();
                pool.execute_chunked(items, |range| {
                    for i in range {
                        hits[i].fetch_add(1, Ordering::Relaxed);
                    }
                });
                assert!(
                    hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                    "{items} items"
                );
            }
        }
    }

    #[test]
    fn many_calls_from_many_threads_each_see_their_own_work_done() {
        let pool = Pool::new(2);
        thread::scope(|s| {
            for t in 0..4u64 {
                let pool = &pool;
                s.spawn(move || {
                    for round in 0..300u64 {
                        let sum = AtomicU64::new(0);
                        pool.execute_chunked(50, |range| {
                            for i in range {
                                sum.fetch_add(i as u64 * (t + round), Ordering::Relaxed);
                            }
                        });
                        assert_eq!(sum.load(Ordering::Relaxed), 1225 * (t + round));
                    }
                });
            }
        });
    }

    #[test]
    fn work_posted_from_inside_work_runs_inline() {
        let pool = Pool::new(1);
        let total = AtomicU64::new(0);
        pool.execute_chunked(4, |outer| {
            for _ in outer {
                pool.execute_chunked(3, |inner| {
                    total.fetch_add(inner.len() as u64, Ordering::Relaxed);
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 12);
    }

    #[test]
    fn a_panic_in_a_piece_reaches_the_caller_and_the_pool_still_works() {
        let pool = Pool::new(1);
        let caught = catch_unwind(AssertUnwindSafe(|| {
            pool.execute_chunked(100, |range| {
                if range.contains(&57) {
                    panic!("piece 57");
                }
            })
        }));
        assert!(caught.is_err());
        let sum = AtomicU64::new(0);
        pool.execute_chunked(10, |range| {
            sum.fetch_add(range.len() as u64, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 10);
    }

    /// The names of the threads other than the caller that ran pieces of 64 slow items.
    fn helpers() -> Vec<String> {
        let names = Mutex::new(Vec::new());
        execute_chunked_here(64, |_| {
            std::thread::sleep(std::time::Duration::from_millis(1));
            let me = thread::current().name().unwrap_or("").to_string();
            names.lock().unwrap().push(me);
        });
        let caller = thread::current().name().unwrap_or("").to_string();
        let mut names = names.into_inner().unwrap();
        names.retain(|n| *n != caller);
        names
    }

    #[test]
    fn a_decoding_pass_runs_shared_products_here_and_training_on_candles_pool() {
        if pool().threads() < 2 {
            return; // one thread: everything runs on the caller
        }
        let outside = helpers();
        assert!(
            outside.iter().all(|n| n.starts_with("candle-bp")),
            "{outside:?}"
        );
        {
            let _pass = Decoding::enter();
            let inside = helpers();
            assert!(
                inside.iter().all(|n| n.starts_with("nova-ft-lm-")),
                "{inside:?}"
            );
            {
                let _nested = Decoding::enter();
            }
            assert!(
                DECODING.with(Cell::get),
                "a nested pass's end keeps the outer one's"
            );
        }
        assert!(!DECODING.with(Cell::get));
    }

    #[test]
    fn chunks_of_a_slice_are_each_given_their_index() {
        let mut out = vec![0f32; 1000];
        super::super::pool::for_each_chunk(&mut out, 64, |i, c| {
            c.iter_mut().for_each(|v| *v = i as f32)
        });
        for (at, v) in out.iter().enumerate() {
            assert_eq!(*v, (at / 64) as f32);
        }
    }
}
