//! `nova-ft-emulator`: the local AWS as a program of its own, for clients in any language (the
//! AWS CLI, the AWS SDKs for JavaScript, Java, Go, ...). It serves the same server that
//! `nova-ft emulator serve` runs from Python, and needs no Python except to run Lambda
//! handlers (which are Python functions).
//!
//!     cargo install --path crates/nova-ft-emulator
//!     nova-ft-emulator serve --port 4566 --data-dir ./aws-state

use clap::{Args, Parser, Subcommand};
use nova_ft_emulator::faults::Faults;
use nova_ft_emulator::server::start;
use nova_ft_emulator::sigv4::Credentials;
use nova_ft_emulator::{operations, EmulatorConfig, DEFAULT_ACCOUNT_ID, DEFAULT_REGION};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    version,
    about = "A local AWS for Bedrock model customization (nova_ft's emulator)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve S3, IAM, STS, Lambda, Bedrock and bedrock-runtime on one port until Ctrl-C or
    /// SIGTERM. Prints one line with the endpoint URL once it accepts connections.
    Serve(Box<ServeArgs>),
    /// Print the operations served, per service, as a Markdown table; any other operation is
    /// answered with the service's own error naming it.
    Coverage,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to bind (loopback unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Let --host be an address other machines reach. Anyone who reaches the port can run
    /// code through its Lambda: keep it on loopback on a shared machine.
    #[arg(long)]
    allow_remote: bool,
    /// Port (0 picks a free one).
    #[arg(long, default_value_t = 4566)]
    port: u16,
    /// Keep state and objects here (default: a temporary folder removed at exit).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long, default_value = DEFAULT_REGION)]
    region: String,
    /// The account id in every ARN the emulator makes.
    #[arg(long, default_value = DEFAULT_ACCOUNT_ID)]
    account_id: String,
    /// The access key whose SigV4 signatures are accepted.
    #[arg(long, default_value = "test")]
    access_key_id: String,
    /// Its secret.
    #[arg(long, default_value = "test")]
    secret_access_key: String,
    /// Accept requests unsigned or signed with any key (for clients that cannot sign).
    #[arg(long)]
    no_verify_signatures: bool,
    /// Refuse signatures by other keys (by default they are checked for form and accepted,
    /// so a shell's real AWS credentials work). Use it, with a secret of your own, on a
    /// shared machine.
    #[arg(long)]
    strict_credentials: bool,
    /// Each call's service time in milliseconds (the answer waits out the rest).
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    latency_ms: f64,
    /// Random extra latency in milliseconds.
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    jitter_ms: f64,
    /// Share of calls throttled (429).
    #[arg(long, default_value_t = 0.0)]
    throttle_rate: f64,
    /// Share of calls failed (500/503).
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Bedrock's on-demand quota: invocations per minute per model.
    #[arg(long)]
    rate_limit: Option<f64>,
    /// Seconds a new deployment stays Creating.
    #[arg(long, default_value_t = 2.0, value_parser = non_negative)]
    deployment_delay: f64,
    /// The Python that runs Lambda handlers (default: python3 on the PATH).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Which local models answer behind the Nova ids: `stand-ins` (fast, not language
    /// models) or `lm` (SmolLM2-135M, a real small language model). Default:
    /// NOVA_FT_LOCAL_MODELS, else stand-ins.
    #[arg(long)]
    models: Option<String>,
    /// The language model's GGUF file for `--models lm` (default: NOVA_FT_LM_PATH).
    #[arg(long)]
    lm_path: Option<PathBuf>,
}

fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("expected a number of at least 0, not {text:?}")),
    }
}

impl ServeArgs {
    fn config(self) -> nova_ft_data::error::Result<EmulatorConfig> {
        let models = nova_ft_models::choose(self.models.as_deref(), self.lm_path.as_deref())?;
        Ok(EmulatorConfig {
            host: self.host,
            allow_remote: self.allow_remote,
            credentials: (!self.no_verify_signatures).then_some(Credentials {
                access_key_id: self.access_key_id,
                secret_access_key: self.secret_access_key,
            }),
            strict_credentials: self.strict_credentials,
            port: self.port,
            data_dir: self.data_dir,
            region: self.region,
            account_id: self.account_id,
            faults: Faults {
                latency: Duration::from_secs_f64(self.latency_ms / 1e3),
                jitter: Duration::from_secs_f64(self.jitter_ms / 1e3),
                throttle_rate: self.throttle_rate,
                error_rate: self.error_rate,
            },
            rate_limit: self.rate_limit,
            deployment_delay: Duration::from_secs_f64(self.deployment_delay),
            python: self.python,
            models,
            ..EmulatorConfig::default()
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Coverage => {
            print!("{}", operations::coverage_markdown());
            ExitCode::SUCCESS
        }
        Command::Serve(args) => {
            env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
                .init();
            match (*args).config().and_then(serve) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("nova-ft-emulator: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn serve(config: EmulatorConfig) -> nova_ft_data::error::Result<()> {
    config.check()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| nova_ft_data::error::NovaError::emulator("cannot start a runtime", e))?;
    runtime.block_on(async {
        let (credentials, strict) = (config.credentials.clone(), config.strict_credentials);
        let mut running = start(config).await?;
        println!(
            "nova_ft emulator listening on {} (data: {})",
            running.endpoint_url(),
            running.ctx.store.dir().display()
        );
        match credentials {
            Some(c) => {
                println!(
                    "credentials: AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
                    c.access_key_id, c.secret_access_key
                );
                println!(
                    "{}",
                    if strict {
                        "other access keys: refused (--strict-credentials)"
                    } else {
                        "other access keys: accepted, their signatures checked for form only (--strict-credentials refuses them)"
                    }
                );
            }
            None => println!("signatures are not verified: any credentials are accepted"),
        }
        // Last, so the lines scripts read (endpoint, credentials) keep their places.
        println!("local models: {}", running.ctx.config.models.describe_base());
        wait_for_stop_signal().await;
        running.stop().await;
        eprintln!("nova_ft emulator stopped");
        Ok(())
    })
}

/// Ctrl-C, or SIGTERM (what `kill` and service managers send).
async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
