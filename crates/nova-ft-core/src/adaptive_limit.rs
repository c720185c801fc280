//! The benchmark's concurrency limit, adapted AIMD-style on a `tokio::sync::Semaphore`: a
//! throttle halves it (at most once per round trip, as TCP does), a run of successes as long
//! as the limit raises it by one, up to the configured maximum. Waiting callers are woken by
//! the semaphore when a slot frees, not by polling.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tokio::sync::{Semaphore, SemaphorePermit};

#[derive(Debug)]
pub struct AdaptiveLimit {
    semaphore: Semaphore,
    max: usize,
    state: Mutex<LimitState>,
    /// Attempts finished so far (a slot dropped counts one).
    attempts: AtomicUsize,
}

#[derive(Debug)]
struct LimitState {
    limit: usize,
    /// Slots to retire as they come back: the limit fell while they were in use.
    debt: usize,
    /// Consecutive successes since the limit last changed.
    streak: usize,
    /// `attempts` when the limit was last halved.
    decreased_at: usize,
}

/// A calling slot; dropping it ends the attempt and frees (or retires) the slot.
#[derive(Debug)]
pub struct Slot<'a> {
    permit: Option<SemaphorePermit<'a>>,
    owner: &'a AdaptiveLimit,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.owner.attempts.fetch_add(1, Ordering::Relaxed);
        if let Some(permit) = self.permit.take() {
            let mut state = self.owner.lock();
            if state.debt > 0 {
                state.debt -= 1;
                permit.forget();
            }
        }
    }
}

impl AdaptiveLimit {
    /// Start at `max` slots (at least one).
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        AdaptiveLimit {
            semaphore: Semaphore::new(max),
            max,
            state: Mutex::new(LimitState {
                limit: max,
                debt: 0,
                streak: 0,
                decreased_at: 0,
            }),
            attempts: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimitState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current limit.
    pub fn limit(&self) -> usize {
        self.lock().limit
    }

    /// Wait for a slot under the current limit.
    pub async fn acquire(&self) -> Slot<'_> {
        // The semaphore is never closed, so acquiring cannot fail.
        let permit = self.semaphore.acquire().await.ok();
        Slot {
            permit,
            owner: self,
        }
    }

    /// A throttled attempt: halve the limit, unless it was halved less than one round trip
    /// (as many finished attempts as the limit) ago; the throttles of calls already in flight
    /// then say nothing new. Returns the new limit when it changed.
    pub fn on_throttle(&self) -> Option<usize> {
        let now = self.attempts.load(Ordering::Relaxed);
        let mut state = self.lock();
        state.streak = 0;
        if now.saturating_sub(state.decreased_at) < state.limit || state.limit == 1 {
            return None;
        }
        state.decreased_at = now;
        let lower = (state.limit / 2).max(1);
        for _ in lower..state.limit {
            // Retire a free slot now, or the next one that comes back.
            match self.semaphore.try_acquire() {
                Ok(permit) => permit.forget(),
                Err(_) => state.debt += 1,
            }
        }
        state.limit = lower;
        Some(lower)
    }

    /// A successful attempt: after as many successes in a row as the limit, one more slot.
    /// Returns the new limit when it changed.
    pub fn on_success(&self) -> Option<usize> {
        let mut state = self.lock();
        if state.limit >= self.max {
            return None;
        }
        state.streak += 1;
        if state.streak < state.limit {
            return None;
        }
        state.streak = 0;
        state.limit += 1;
        if state.debt > 0 {
            state.debt -= 1;
        } else {
            self.semaphore.add_permits(1);
        }
        Some(state.limit)
    }

    /// Slots free right now (for tests and diagnostics).
    pub fn available(&self) -> usize {
        self.semaphore.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// Run `n` attempts to their end, one after another.
    async fn attempts(limit: &AdaptiveLimit, n: usize) {
        for _ in 0..n {
            drop(limit.acquire().await);
        }
    }

    #[test]
    fn no_more_slots_than_the_limit_are_handed_out() {
        block_on(async {
            let limit = AdaptiveLimit::new(3);
            let a = limit.acquire().await;
            let _b = limit.acquire().await;
            let _c = limit.acquire().await;
            assert_eq!(limit.available(), 0);
            drop(a);
            assert_eq!(limit.available(), 1);
            let _d = limit.acquire().await;
            assert_eq!(limit.available(), 0);
        });
    }

    #[test]
    fn a_throttle_halves_once_per_round_trip() {
        block_on(async {
            let limit = AdaptiveLimit::new(8);
            // Fewer finished attempts than the limit since the start: no halving yet.
            assert_eq!(limit.on_throttle(), None);
            attempts(&limit, 8).await;
            assert_eq!(limit.on_throttle(), Some(4));
            assert_eq!(limit.available(), 4);
            // Throttles of the same round trip change nothing.
            assert_eq!(limit.on_throttle(), None);
            let mut expected = vec![Some(2), Some(1), None, None].into_iter();
            for round_trip in [4, 2, 1, 4] {
                attempts(&limit, round_trip).await;
                assert_eq!(limit.on_throttle(), expected.next().unwrap());
            }
            assert_eq!(limit.limit(), 1, "never below one");
        });
    }

    #[test]
    fn successes_add_one_slot_per_limit_in_a_row_up_to_the_maximum() {
        block_on(async {
            let limit = AdaptiveLimit::new(4);
            attempts(&limit, 4).await;
            assert_eq!(limit.on_throttle(), Some(2));
            let grown: Vec<Option<usize>> = (0..5).map(|_| limit.on_success()).collect();
            assert_eq!(grown, [None, Some(3), None, None, Some(4)]);
            assert!(
                (0..10).all(|_| limit.on_success().is_none()),
                "not past the maximum"
            );
            assert_eq!(limit.available(), 4);
        });
    }

    #[test]
    fn slots_in_use_when_the_limit_falls_are_retired_as_they_come_back() {
        block_on(async {
            let limit = AdaptiveLimit::new(4);
            attempts(&limit, 4).await;
            let mut held = Vec::new();
            for _ in 0..4 {
                held.push(limit.acquire().await);
            }
            assert_eq!(limit.on_throttle(), Some(2));
            assert_eq!(limit.available(), 0);
            let mut available = Vec::new();
            for slot in held {
                drop(slot);
                available.push(limit.available());
            }
            // The first two back are retired; the next two free a slot each.
            assert_eq!(available, [0, 0, 1, 2]);
        });
    }
}
