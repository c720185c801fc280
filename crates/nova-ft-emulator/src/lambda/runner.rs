//! Invoke: a function's Python handler runs from its unpacked package in a separate Python
//! process (the interpreter that runs nova_ft, or `python3`), fed the event on stdin, killed
//! at the function's timeout. The process sees Lambda's environment variables, the
//! function's own, and the emulator as its AWS endpoint; what it prints is its log.
//!
//! This is a local stand-in for Lambda's sandbox, not a sandbox: the handler runs with the
//! user's own rights on this machine, as `python grader.py` would.

use super::functions::resolve;
use super::invalid;
use super::package;
use crate::policy::Context;
use crate::request::AwsRequest;
use crate::service_role::role_permits;
use crate::state::Function;
use crate::wire::{response, AwsError, Outcome};
use crate::Ctx;
use axum::http::HeaderValue;
use base64::Engine;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Handler processes running at once, over all functions: beyond it Invoke is throttled, as
/// Lambda throttles past an account's concurrency, so a flood of calls cannot fork the
/// machine to a halt.
pub const MAX_CONCURRENT: usize = 32;

static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// One running invocation, counted while it lives.
struct Slot;

impl Slot {
    fn take() -> Result<Slot, AwsError> {
        if RUNNING.fetch_add(1, Ordering::SeqCst) >= MAX_CONCURRENT {
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            return Err(AwsError::new(
                429,
                "TooManyRequestsException",
                format!("Rate Exceeded: more than {MAX_CONCURRENT} invocations at once (ConcurrentInvocationLimitExceeded)."),
            ));
        }
        Ok(Slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Lambda's payload limit for synchronous invocations, each way.
pub const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// The log tail `LogType=Tail` returns (Lambda's 4 KB).
const LOG_TAIL: usize = 4096;

/// Runs in the handler's process: imports the handler, calls it with the event and a
/// context object, and writes `OK`/`ERROR` and the JSON answer to the original stdout
/// (the handler's own prints go to stderr, the log).
const BOOTSTRAP: &str = r#"
import importlib, json, os, sys, time, traceback
code_dir, handler, request_id, deadline = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
result = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr
sys.path.insert(0, code_dir)
os.chdir(code_dir)

class LambdaContext:
    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
    function_version = "$LATEST"
    invoked_function_arn = os.environ.get("NOVA_FT_FUNCTION_ARN")
    memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    aws_request_id = request_id
    log_group_name = "/aws/lambda/" + str(function_name)
    log_stream_name = "local"
    identity = None
    client_context = None
    def get_remaining_time_in_millis(self):
        return max(0, int((deadline - time.time()) * 1000))

def fail(error_type, message, tb=None):
    answer = {"errorMessage": message, "errorType": error_type, "requestId": request_id,
              "stackTrace": traceback.format_tb(tb) if tb else []}
    result.write("ERROR\n" + json.dumps(answer))
    result.flush()
    sys.exit(0)

raw = sys.stdin.buffer.read()
event = json.loads(raw) if raw.strip() else {}
module_name, _, function_name = handler.rpartition(".")
try:
    function = getattr(importlib.import_module(module_name), function_name)
except Exception as e:
    fail("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {e}")
except SyntaxError as e:
    fail("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {e}")
try:
    answer = function(event, LambdaContext())
except Exception as e:
    traceback.print_exc()
    fail(type(e).__name__, str(e), e.__traceback__)
try:
    text = json.dumps(answer)
except Exception as e:
    fail("Runtime.MarshalError", f"Unable to marshal response: {e}")
result.write("OK\n" + text)
result.flush()
"#;

/// What one invocation produced.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The handler's answer (JSON), or Lambda's error object when it failed.
    pub payload: Vec<u8>,
    /// `Some("Unhandled")` when the handler raised, timed out or answered too much.
    pub function_error: Option<&'static str>,
    /// What the handler printed, framed by Lambda's START/END/REPORT lines.
    pub log: String,
    pub duration: Duration,
}

fn internal(message: impl Into<String>) -> AwsError {
    AwsError::new(500, "ServiceException", message)
}

/// Run the function's handler on `event` (JSON bytes).
pub fn run(ctx: &Ctx, function: &Function, event: &[u8]) -> Result<Invocation, AwsError> {
    let _slot = Slot::take()?;
    let request_id = uuid::Uuid::new_v4().to_string();
    let bytes = ctx
        .store
        .read_blob(&function.code_blob)
        .map_err(|e| internal(format!("the function's package is unreadable: {e}")))?;
    let digest = hex::encode(
        base64::engine::general_purpose::STANDARD
            .decode(&function.code_sha256)
            .unwrap_or_default(),
    );
    let code_dir = package::unpack(&bytes, &ctx.store.dir().join("lambda"), &digest)
        .map_err(|e| internal(format!("the function's package could not be unpacked: {e}")))?;
    let python = ctx
        .config
        .python
        .clone()
        .unwrap_or_else(|| "python3".into());
    let timeout = Duration::from_secs(u64::from(function.timeout));
    let started = Instant::now();
    let deadline = chrono::Utc::now().timestamp_millis() as f64 / 1000.0 + timeout.as_secs_f64();
    let mut command = Command::new(&python);
    command
        .arg("-I")
        .arg("-c")
        .arg(BOOTSTRAP)
        .arg(&code_dir)
        .arg(&function.handler)
        .arg(&request_id)
        .arg(format!("{deadline:.3}"))
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for key in ["PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT"] {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    let region = &ctx.config.region;
    command
        .env("AWS_LAMBDA_FUNCTION_NAME", &function.name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            function.memory_size.to_string(),
        )
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", function.name),
        )
        .env(
            "AWS_EXECUTION_ENV",
            format!("AWS_Lambda_{}", function.runtime),
        )
        .env("AWS_REGION", region)
        .env("AWS_DEFAULT_REGION", region)
        .env("LAMBDA_TASK_ROOT", &code_dir)
        .env("NOVA_FT_FUNCTION_ARN", &function.arn)
        .env("PYTHONUNBUFFERED", "1");
    // The handler's own AWS calls reach this emulator, signed with its key pair (Lambda
    // hands a function its execution role's credentials).
    if let Some(endpoint) = ctx.endpoint.get() {
        command.env("AWS_ENDPOINT_URL", endpoint);
    }
    if let Some(credentials) = &ctx.config.credentials {
        command
            .env("AWS_ACCESS_KEY_ID", &credentials.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &credentials.secret_access_key);
    }
    command.envs(&function.environment);
    let mut child = command.spawn().map_err(|e| {
        internal(format!(
            "the emulator could not start {} to run the function: {e}",
            python.display()
        ))
    })?;
    let mut stdin = child.stdin.take().expect("piped");
    let event = event.to_vec();
    let feeder = std::thread::spawn(move || {
        // A handler that exits without reading closes the pipe: not an error of ours.
        let _ = stdin.write_all(&event);
    });
    let drain = |mut pipe: Box<dyn Read + Send>, cap: usize| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let _ = (&mut pipe).take(cap as u64).read_to_end(&mut out);
            // Keep reading past the cap, so the child never blocks on a full pipe.
            let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            out
        })
    };
    let stdout = drain(
        Box::new(child.stdout.take().expect("piped")),
        MAX_PAYLOAD + 64,
    );
    let stderr = drain(Box::new(child.stderr.take().expect("piped")), 1 << 20);
    let mut timed_out = false;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                timed_out = true;
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(internal(format!("waiting for the function failed: {e}"))),
        }
    }
    let duration = started.elapsed();
    let _ = feeder.join();
    let out = stdout.join().unwrap_or_default();
    let printed = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    let ms = duration.as_secs_f64() * 1000.0;
    let log = format!(
        "START RequestId: {request_id} Version: $LATEST\n{printed}END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\n",
        ms.ceil() as u64,
        function.memory_size
    );
    let error = |message: String, kind: &str| {
        serde_json::json!({"errorMessage": message, "errorType": kind, "requestId": request_id})
            .to_string()
            .into_bytes()
    };
    let (payload, function_error) = if timed_out {
        let message = format!(
            "{} {request_id} Task timed out after {:.2} seconds",
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            timeout.as_secs_f64()
        );
        (
            serde_json::json!({ "errorMessage": message })
                .to_string()
                .into_bytes(),
            Some("Unhandled"),
        )
    } else if let Some(answer) = out.strip_prefix(b"OK\n") {
        if answer.len() > MAX_PAYLOAD {
            (
                error(
                    format!("Response payload size ({} bytes) exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes).", answer.len()),
                    "Function.ResponseSizeTooLarge",
                ),
                Some("Unhandled"),
            )
        } else {
            (answer.to_vec(), None)
        }
    } else if let Some(failure) = out.strip_prefix(b"ERROR\n") {
        (failure.to_vec(), Some("Unhandled"))
    } else {
        let tail: String = printed
            .chars()
            .rev()
            .take(400)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        (
            error(
                format!("RequestId: {request_id} Error: Runtime exited without providing a reason\n{tail}"),
                "Runtime.ExitError",
            ),
            Some("Unhandled"),
        )
    };
    Ok(Invocation {
        payload,
        function_error,
        log,
        duration,
    })
}

/// The Invoke operation.
pub(super) fn invoke(ctx: &Arc<Ctx>, req: &AwsRequest, label: &str) -> Outcome {
    super::functions::no_qualifier(req)?;
    let function = {
        let state = ctx.store.lock();
        resolve(ctx, &state, label)?.clone()
    };
    if req.body.len() > MAX_PAYLOAD {
        return Err(AwsError::new(
            413,
            "RequestTooLargeException",
            format!("{} byte payload is too large for the RequestResponse invocation type (limit {MAX_PAYLOAD} bytes)", req.body.len()),
        ));
    }
    if !req.body.is_empty() && serde_json::from_slice::<serde_json::Value>(&req.body).is_err() {
        return Err(AwsError::new(
            400,
            "InvalidRequestContentException",
            "Could not parse request body into json: the payload must be a JSON document.",
        ));
    }
    match req
        .header("x-amz-invocation-type")
        .unwrap_or("RequestResponse")
    {
        "RequestResponse" => {}
        "DryRun" => return Ok(crate::server::empty(204)),
        "Event" => {
            let (ctx, body) = (Arc::clone(ctx), req.body.to_vec());
            std::thread::spawn(move || {
                if let Err(e) = run(&ctx, &function, &body) {
                    log::warn!(target: "nova_ft.emulator", "asynchronous invocation of {} failed: {}", function.name, e.message);
                }
            });
            return Ok(crate::server::empty(202));
        }
        other => {
            return Err(invalid(format!(
                "InvocationType {other} is not one of RequestResponse, Event, DryRun."
            )))
        }
    }
    let invocation = run(ctx, &function, &req.body)?;
    let mut answer = response(200, "application/json", invocation.payload);
    let headers = answer.headers_mut();
    headers.insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    if let Some(kind) = invocation.function_error {
        headers.insert("x-amz-function-error", HeaderValue::from_static(kind));
    }
    if req.header("x-amz-log-type") == Some("Tail") {
        let bytes = invocation.log.as_bytes();
        let tail = &bytes[bytes.len().saturating_sub(LOG_TAIL)..];
        let encoded = base64::engine::general_purpose::STANDARD.encode(tail);
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            headers.insert("x-amz-log-result", value);
        }
    }
    Ok(answer)
}

/// A service (Bedrock's RFT job) invoking a function as the role it assumed: the role's
/// policies must allow `lambda:InvokeFunction` on the function. The message says how to fix
/// a refusal.
pub fn invoke_as_service(
    ctx: &Ctx,
    function_arn: &str,
    role_arn: &str,
    context: &Context,
    event: &[u8],
) -> Result<Invocation, String> {
    let function = {
        let state = ctx.store.lock();
        let function = resolve(ctx, &state, function_arn)
            .map_err(|e| format!("{}: {}", e.code, e.message))?
            .clone();
        if !role_permits(
            &state,
            role_arn,
            "lambda:InvokeFunction",
            &function.arn,
            context,
        )? {
            return Err(format!(
                "AccessDenied: the role {role_arn} is not authorized to perform lambda:InvokeFunction on {}. Add lambda:InvokeFunction on that function to the role's policy.",
                function.arn
            ));
        }
        function
    };
    run(ctx, &function, event).map_err(|e| format!("{}: {}", e.code, e.message))
}
