//! Sleeping until a deadline to within tens of microseconds, for injected latency.
//!
//! tokio's timer counts whole milliseconds and rounds up: a 50 ms sleep took 51.5 ms on
//! average here, 3% of the latency a benchmark is meant to see. The last stretch of each wait
//! runs instead on one thread that waits on a condition variable until the earliest deadline
//! (the OS's high-resolution timeout) and wakes each sleeper on time. Nothing in the
//! ecosystem we already depend on does this; an async runtime with a timerfd reactor would
//! be a second runtime beside tokio.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How much of a wait is left to the precise thread: more than tokio's rounding.
const PRECISE_STRETCH: Duration = Duration::from_millis(3);

/// Sleep until `deadline`: on tokio's timer until shortly before it, then on the precise one.
/// Cancel-safe: a dropped sleeper's entry just fires into nothing.
pub async fn sleep_until(deadline: Instant) {
    if let Some(coarse) = deadline.checked_sub(PRECISE_STRETCH) {
        if coarse > Instant::now() {
            tokio::time::sleep_until(coarse.into()).await;
        }
    }
    if deadline <= Instant::now() {
        return;
    }
    if !timer_running() {
        // No precise thread: tokio's timer, late by up to a millisecond, rather than never.
        tokio::time::sleep_until(deadline.into()).await;
        return;
    }
    let (wake, woken) = oneshot::channel();
    add(deadline, wake);
    // The timer thread sends once the deadline passes; it never drops a sender unsent.
    let _ = woken.await;
}

struct Sleeper {
    at: Instant,
    wake: oneshot::Sender<()>,
}

// Ordered by deadline, earliest first out of the max-heap.
impl Ord for Sleeper {
    fn cmp(&self, other: &Self) -> Ordering {
        other.at.cmp(&self.at)
    }
}

impl PartialOrd for Sleeper {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Sleeper {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Sleeper {}

/// The sleepers waiting on the precise thread, earliest deadline first.
static SLEEPERS: Mutex<BinaryHeap<Sleeper>> = Mutex::new(BinaryHeap::new());
/// Signalled when a sleeper with an earlier deadline than all others arrives.
static EARLIER: Condvar = Condvar::new();

/// Starts the precise thread on first use; whether it runs.
fn timer_running() -> bool {
    static RUNNING: OnceLock<bool> = OnceLock::new();
    *RUNNING.get_or_init(|| {
        let started = std::thread::Builder::new()
            .name("nova-ft-timer".into())
            .spawn(run)
            .is_ok();
        if !started {
            log::warn!(target: "nova_ft.emulator", "no precise timer thread: injected latency uses tokio's millisecond timer");
        }
        started
    })
}

fn lock() -> MutexGuard<'static, BinaryHeap<Sleeper>> {
    SLEEPERS.lock().unwrap_or_else(|p| p.into_inner())
}

fn add(at: Instant, wake: oneshot::Sender<()>) {
    let mut sleepers = lock();
    let earliest = sleepers.peek().is_none_or(|first| at < first.at);
    sleepers.push(Sleeper { at, wake });
    if earliest {
        EARLIER.notify_one();
    }
}

/// The precise thread: wake every sleeper whose deadline has passed, then wait until the
/// earliest remaining one (or an earlier newcomer).
fn run() {
    let mut sleepers = lock();
    loop {
        let now = Instant::now();
        while sleepers.peek().is_some_and(|first| first.at <= now) {
            if let Some(due) = sleepers.pop() {
                let _ = due.wake.send(());
            }
        }
        sleepers = match sleepers.peek().map(|first| first.at - now) {
            Some(wait) => {
                EARLIER
                    .wait_timeout(sleepers, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
            None => EARLIER.wait(sleepers).unwrap_or_else(|p| p.into_inner()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleepers_never_wake_before_their_deadline() {
        let start = Instant::now();
        let sleepers: Vec<_> = [7u64, 1, 4, 0, 12]
            .into_iter()
            .map(|ms| {
                tokio::spawn(async move {
                    let deadline = start + Duration::from_millis(ms);
                    sleep_until(deadline).await;
                    (ms, Instant::now() >= deadline)
                })
            })
            .collect();
        for sleeper in sleepers {
            let (ms, on_time) = sleeper.await.unwrap();
            assert!(on_time, "the {ms} ms sleeper woke early");
        }
        // A deadline in the past returns at once.
        sleep_until(start).await;
    }

    #[tokio::test]
    async fn a_sleeper_dropped_while_waiting_does_not_stop_the_timer() {
        // Polled once inside the precise stretch, then dropped: its entry fires into nothing
        // later. (No timing is asserted: had the deadline already passed, it simply ended.)
        let short = Instant::now() + Duration::from_millis(2);
        tokio::select! {
            biased;
            () = sleep_until(short) => {}
            () = std::future::ready(()) => {}
        }
        let later = Instant::now() + Duration::from_millis(4);
        sleep_until(later).await;
        assert!(Instant::now() >= later);
    }
}
