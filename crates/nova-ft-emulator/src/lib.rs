//! The local AWS: one HTTP server on loopback speaking the wire protocols of S3, IAM, STS,
//! Lambda, Bedrock and bedrock-runtime, so the same SDK code (nova_ft's, boto3, the AWS CLI,
//! other languages' SDKs) runs against it or against AWS. No client code here (neither the AWS
//! SDK's clients nor nova_ft's workflow); the local models answer through `nova-ft-models`.

pub mod aws_routes;
pub mod batch_runner;
pub mod bedrock;
pub mod bedrock_runtime;
pub mod body_stream;
pub mod catalog;
pub mod evaluation_metrics;
pub mod evaluation_runner;
pub mod eventstream;
pub mod faults;
pub mod iam;
pub mod lambda;
pub mod operations;
pub mod policy;
pub mod precise_sleep;
pub mod rate_limit;
pub mod regions;
pub mod reinforcement;
pub mod request;
pub mod s3;
pub mod server;
pub mod service_role;
pub mod sigv4;
pub mod state;
pub mod store;
pub mod sts;
pub mod trainer;
pub mod wire;
pub mod xml_writer;

use faults::Faults;
use nova_ft_data::error::{NovaError, Result};
/// A tiny random language model file, for tests of `--models lm` without the real one.
pub use nova_ft_models::lm::tiny::{tiny_gguf as tiny_language_model, TinySpec};
/// The local models a front end chooses (`--models`, `NOVA_FT_LOCAL_MODELS`).
pub use nova_ft_models::{choose as choose_models, CHOICES as MODEL_CHOICES};
use nova_ft_models::{ModelFamily, StandIns, TunedModel};
use state::State;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::MutexGuard;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{Store, Touched};
use wire::AwsError;

pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";
pub const DEFAULT_REGION: &str = "us-east-1";

/// How the emulator is set up.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub host: String,
    /// Bind to an address other machines can reach. Off by default: a local emulator's
    /// credentials are well known (`test`/`test`), so only this machine should reach it.
    pub allow_remote: bool,
    /// The key pair whose SigV4 signatures are verified; `None` accepts any request unsigned
    /// or signed with anything (for clients that cannot sign).
    pub credentials: Option<sigv4::Credentials>,
    /// Refuse signatures by other keys (by default they are checked for form and accepted,
    /// as local emulators do, so a shell's real AWS credentials work unchanged).
    pub strict_credentials: bool,
    /// 0 picks a free port.
    pub port: u16,
    /// Where state and objects live; `None` = a temporary directory removed at shutdown.
    pub data_dir: Option<PathBuf>,
    pub region: String,
    pub account_id: String,
    pub faults: Faults,
    /// Bedrock's on-demand quota: invocations per minute per model (`None`: unlimited).
    pub rate_limit: Option<f64>,
    /// How long a new deployment stays `Creating` before it is `Active`.
    pub deployment_delay: Duration,
    /// The pause before each of a job's three sub-steps, so progress can be watched.
    pub job_step_delay: Duration,
    /// The Python that runs Lambda handlers (`None`: `python3` on the PATH).
    pub python: Option<PathBuf>,
    /// The local models that answer, train and learn behind the Nova ids.
    pub models: Arc<dyn ModelFamily>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            host: "127.0.0.1".into(),
            allow_remote: false,
            credentials: Some(sigv4::Credentials::default()),
            strict_credentials: false,
            port: 0,
            data_dir: None,
            region: DEFAULT_REGION.into(),
            account_id: DEFAULT_ACCOUNT_ID.into(),
            faults: Faults::default(),
            rate_limit: None,
            deployment_delay: Duration::from_secs(2),
            job_step_delay: Duration::from_millis(300),
            python: None,
            models: Arc::new(StandIns),
        }
    }
}

impl EmulatorConfig {
    /// Refuse settings that cannot work, before anything binds or writes: both front ends
    /// (the Python module and the `nova-ft-emulator` binary) check through here.
    pub fn check(&self) -> Result<()> {
        let rate_ok = |r: f64| (0.0..=1.0).contains(&r);
        let f = &self.faults;
        if !(rate_ok(f.throttle_rate) && rate_ok(f.error_rate))
            || self.rate_limit.is_some_and(|r| r.is_nan() || r <= 0.0)
        {
            return Err(NovaError::invalid(
                "throttle and error rates must be in [0, 1], and a rate limit above 0",
            ));
        }
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NovaError::invalid(format!(
                "the account id must be 12 digits, not {:?}",
                self.account_id
            )));
        }
        if let Some(c) = &self.credentials {
            if c.access_key_id.is_empty() || c.secret_access_key.is_empty() {
                return Err(NovaError::invalid(
                    "the access key id and secret access key must not be empty (turning signature verification off accepts any)",
                ));
            }
        }
        Ok(())
    }
}

/// What every handler gets: the configuration, the store, and the tuned models loaded.
#[derive(Debug)]
pub struct Ctx {
    pub config: EmulatorConfig,
    pub store: Store,
    /// Tuned models by custom-model ARN, loaded from their artifacts on first use.
    pub tuned: Mutex<HashMap<String, Arc<dyn TunedModel>>>,
    /// The per-model token buckets, when a rate limit is set.
    pub rate_limiter: Option<rate_limit::RateLimiter>,
    /// Set when the server stops: running jobs stop writing, so a later emulator on the same
    /// data directory (which resumes them) is the only writer.
    pub shutting_down: AtomicBool,
    /// The server's own URL, once it listens (Lambda handlers call back into it).
    pub endpoint: std::sync::OnceLock<String>,
}

impl Ctx {
    pub fn new(config: EmulatorConfig) -> Result<Ctx> {
        let store = Store::open(config.data_dir.as_deref())?;
        let rate_limiter = config.rate_limit.map(rate_limit::RateLimiter::new);
        Ok(Ctx {
            config,
            store,
            tuned: Mutex::new(HashMap::new()),
            rate_limiter,
            shutting_down: AtomicBool::new(false),
            endpoint: std::sync::OnceLock::new(),
        })
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Persist what a change touched (see [`Store::commit`], which releases the state lock);
    /// a failure to write is an internal error of the call that made the change.
    pub fn commit(
        &self,
        state: MutexGuard<'_, State>,
        touched: &[Touched<'_>],
    ) -> std::result::Result<(), AwsError> {
        self.store.commit(state, touched).map_err(|e| {
            AwsError::new(
                500,
                "InternalFailure",
                format!("the emulator could not save its state: {e}"),
            )
        })
    }
}
