//! Bedrock throttles by rate, not at random: a token bucket per model, refilled at the quota
//! (requests per minute) and holding up to one second of it, so a client that sends faster
//! than the quota is refused with `ThrottlingException` and one that adapts is not.

use super::wire::AwsError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    /// Model id -> (tokens, when last refilled).
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_minute` requests per minute for each model.
    pub fn new(per_minute: f64) -> RateLimiter {
        let per_second = per_minute / 60.0;
        RateLimiter {
            per_second,
            burst: per_second.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Take one request's token from `model`'s bucket at `now`, or refuse the call.
    pub fn admit(&self, model: &str, now: Instant) -> Result<(), AwsError> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets
            .entry(model.to_string())
            .or_insert((self.burst, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.per_second).min(self.burst);
        *last = now.max(*last);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(AwsError::new(
                429,
                "ThrottlingException",
                "Too many requests, please wait before trying again. (the nova_ft emulator's rate limit)",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_admits_its_rate_and_refuses_the_rest() {
        let limiter = RateLimiter::new(600.0); // 10 per second, burst 10
        let start = Instant::now();
        let admitted = |from: Instant, calls: u32, spacing: Duration| {
            (0..calls)
                .filter(|i| limiter.admit("m", from + spacing * *i).is_ok())
                .count()
        };
        // Ten seconds of calls at 100 per second: the burst plus ten per second.
        let taken = admitted(start, 1000, Duration::from_millis(10));
        assert!((100..=112).contains(&taken), "{taken}");
        // Another model has its own bucket.
        assert!(limiter.admit("other", start).is_ok());
    }
}
