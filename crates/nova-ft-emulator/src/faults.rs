//! Fault injection: added latency (with jitter), throttling and server errors at set rates,
//! so tests and benchmarks can see how clients behave when AWS pushes back.

use super::request::Service;
use super::wire::AwsError;
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// Added to every call on the runtime and control plane.
    pub latency: Duration,
    /// Up to this much more, uniformly at random.
    pub jitter: Duration,
    /// Share of calls refused with ThrottlingException (429), in [0, 1].
    pub throttle_rate: f64,
    /// Share of calls failed with a 500 or 503 server error, in [0, 1].
    pub error_rate: f64,
}

impl Faults {
    pub fn applies_to(service: Service) -> bool {
        // Faults model Bedrock's behaviour; storage and identity calls stay reliable.
        matches!(service, Service::Bedrock | Service::BedrockRuntime)
    }

    /// How long to wait before answering.
    pub fn delay(&self) -> Duration {
        let jitter = if self.jitter.is_zero() {
            Duration::ZERO
        } else {
            self.jitter.mul_f64(fastrand::f64())
        };
        self.latency + jitter
    }

    /// The injected failure for this call, if it draws one.
    pub fn draw(&self) -> Option<AwsError> {
        let roll = fastrand::f64();
        if roll < self.throttle_rate {
            return Some(AwsError::new(429, "ThrottlingException", "Too many requests, please wait before trying again. (injected by the nova_ft emulator)"));
        }
        if roll < self.throttle_rate + self.error_rate {
            return Some(if fastrand::bool() {
                AwsError::new(500, "InternalServerException", "An internal server error occurred. Retry your request. (injected by the nova_ft emulator)")
            } else {
                AwsError::new(503, "ServiceUnavailableException", "The service is temporarily unavailable. Retry your request. (injected by the nova_ft emulator)")
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_respected_roughly() {
        let faults = Faults {
            throttle_rate: 0.3,
            error_rate: 0.1,
            ..Default::default()
        };
        let draws: Vec<_> = (0..20_000).filter_map(|_| faults.draw()).collect();
        let throttled = draws
            .iter()
            .filter(|e| e.code == "ThrottlingException")
            .count() as f64
            / 20_000.0;
        let errors = draws.iter().filter(|e| e.status.is_server_error()).count() as f64 / 20_000.0;
        assert!((throttled - 0.3).abs() < 0.02, "{throttled}");
        assert!((errors - 0.1).abs() < 0.02, "{errors}");
        assert!(Faults::default().draw().is_none());
    }
}
