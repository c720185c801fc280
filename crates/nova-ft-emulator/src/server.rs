//! The HTTP front: one port, one handler that identifies the service of each call, applies
//! injected faults, and hands the call to that service's handler.

use super::faults::Faults;
use super::precise_sleep;
use super::request::{credential_scope, route, AwsRequest, Service};
use super::sigv4::{
    self, content_sha256_mismatch, sha256_hex, verify, PayloadCheck, SignedRequest,
};
use super::wire::{
    json_error, query_error, request_id, response, s3_error, AwsError, HttpResponse,
};
use super::{
    batch_runner, bedrock, bedrock_runtime, body_stream, evaluation_runner, iam, lambda, s3, sts,
    trainer, Ctx, EmulatorConfig,
};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method};
use axum::Router;
use chrono::Utc;
use nova_ft_data::error::{NovaError, Result};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// How long a stopping server lets requests in flight finish before it closes them.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(800);

/// Largest S3 body accepted (an object or a part; streamed to disk as it arrives).
/// The signing names of the services the emulator speaks (bedrock-runtime signs as bedrock;
/// S3's WriteGetObjectResponse as s3-object-lambda, answered by S3 as not served).
const SERVICES_SPOKEN: [&str; 6] = ["s3", "s3-object-lambda", "iam", "sts", "bedrock", "lambda"];

const MAX_OBJECT_BODY: usize = 1 << 30;
/// Largest Converse/InvokeModel body (Bedrock accepts images and documents inline).
const MAX_RUNTIME_BODY: usize = 25 << 20;
/// Largest control-plane body (Bedrock, IAM, STS): far above any real call, so a runaway or
/// hostile client cannot make the emulator hold or store megabytes.
const MAX_CONTROL_BODY: usize = 1 << 20;
/// Largest Lambda body: a 50 MB deployment package, base64-encoded in CreateFunction's JSON
/// (Lambda's own limit for a direct upload).
const MAX_LAMBDA_BODY: usize = 69_905_067;

/// Which service a request is for, and the most its body may hold, from what arrives before
/// the body: the signing scope, the method and the path (an unsigned `POST /` is IAM or STS).
fn service_and_limit(scope: Option<&str>, method: &Method, path: &str) -> (Service, usize) {
    let service = match route(scope, method, path, b"") {
        Service::S3 if scope.is_none() && *method == Method::POST && path == "/" => Service::Iam,
        service => service,
    };
    let limit = match service {
        Service::S3 => MAX_OBJECT_BODY,
        Service::BedrockRuntime => MAX_RUNTIME_BODY,
        Service::Bedrock | Service::Iam | Service::Sts => MAX_CONTROL_BODY,
        Service::Lambda => MAX_LAMBDA_BODY,
    };
    (service, limit)
}

/// A body over the limit, refused with the service's own error shape.
fn too_large(service: Service, limit: usize) -> AwsError {
    let message =
        format!("The request body is larger than the {limit} bytes this operation accepts.");
    match service {
        Service::S3 => AwsError::new(400, "EntityTooLarge", message),
        Service::Iam | Service::Sts => AwsError::new(400, "ValidationError", message),
        Service::Bedrock | Service::BedrockRuntime => AwsError::validation(message),
        Service::Lambda => AwsError::new(413, "RequestEntityTooLargeException", message),
    }
}

/// A running emulator: its address, and the means to stop it.
#[derive(Debug)]
pub struct RunningEmulator {
    pub addr: SocketAddr,
    pub ctx: Arc<Ctx>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningEmulator {
    /// `http://127.0.0.1:PORT`
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting connections, let requests in flight finish for up to
    /// [`SHUTDOWN_GRACE`], then close what is left (a client stalled mid-upload cannot hold
    /// the server open). State is already on disk: every change is saved as it happens, and a
    /// request cut off was never acknowledged.
    pub async fn stop(&mut self) {
        self.ctx
            .shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
                let _ = task.await;
            }
        }
        self.ctx.store.release();
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        self.ctx
            .shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Whether a host name or address (without its port) is this machine's loopback.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The host of a `Host` or `Origin` value: no scheme, no port, no path.
fn host_of(value: &str) -> &str {
    let rest = value.split_once("://").map_or(value, |(_, rest)| rest);
    let rest = rest.split('/').next().unwrap_or(rest);
    match rest.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => rest.rsplit_once(':').map_or(rest, |(host, _)| host),
    }
}

/// Requests a web page or a DNS-rebinding attack could send: a `Host` that is not loopback (a
/// page's own domain pointed at 127.0.0.1), or an `Origin` of a page on another machine. With
/// no signature check, these are what would let any page in the user's browser drive the
/// emulator, so they are refused as S3 refuses a CORS request it has no rule for.
fn foreign_request(
    config: &EmulatorConfig,
    headers: &axum::http::HeaderMap,
    method: &Method,
    service: Service,
) -> Option<AwsError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let foreign_host =
        !config.allow_remote && header("host").is_some_and(|h| !is_loopback(host_of(h)));
    let foreign_origin = header("origin").is_some_and(|o| o != "null" && !is_loopback(host_of(o)));
    let preflight = *method == Method::OPTIONS;
    if !(foreign_host || foreign_origin || preflight) {
        return None;
    }
    let message = "This request comes from another site or host name (Host or Origin is not this machine's loopback), and the emulator has no CORS rule for it.";
    Some(match service {
        Service::S3 if preflight => AwsError::new(403, "AccessForbidden", message),
        Service::S3 | Service::Iam | Service::Sts => AwsError::new(403, "AccessDenied", message),
        Service::Bedrock | Service::BedrockRuntime | Service::Lambda => {
            AwsError::access_denied(message)
        }
    })
}

/// Bind and start serving on the current tokio runtime. Binding happens before this returns,
/// so a port in use is reported here, and the endpoint accepts connections as soon as it does.
pub async fn start(config: EmulatorConfig) -> Result<RunningEmulator> {
    if !is_loopback(&config.host) {
        if !config.allow_remote {
            return Err(NovaError::invalid(format!(
                "binding {} would let other machines reach the emulator, whose credentials are well known: keep the default 127.0.0.1, or pass allow_remote=True (--allow-remote) if you mean it",
                config.host
            )));
        }
        log::warn!(
            target: "nova_ft.emulator",
            "listening on {}: other machines can reach this emulator{}",
            config.host,
            if config.credentials.is_some() {
                ""
            } else {
                ", and it checks no signatures"
            }
        );
    }
    let bind = format!("{}:{}", config.host, config.port);
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| {
        NovaError::emulator(format!("the emulator cannot listen on {bind}: {e}"), e)
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| NovaError::emulator(format!("no local address: {e}"), e))?;
    let ctx = Arc::new(Ctx::new(config)?);
    let _ = ctx.endpoint.set(format!("http://{addr}"));
    trainer::resume_all(&ctx);
    batch_runner::resume_all(&ctx);
    evaluation_runner::resume_all(&ctx);
    let app = Router::new().fallback(handle).with_state(Arc::clone(&ctx));
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = rx.await;
        });
        if let Err(e) = server.await {
            log::error!(target: "nova_ft.emulator", "server error: {e}");
        }
    });
    Ok(RunningEmulator {
        addr,
        ctx,
        shutdown: Some(tx),
        task: Some(task),
    })
}

async fn handle(State(ctx): State<Arc<Ctx>>, request: Request) -> HttpResponse {
    let received = std::time::Instant::now();
    let request_id = request_id();
    let (parts, body) = request.into_parts();
    let raw_path = parts.uri.path().to_string();
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let scope = credential_scope(&parts.headers, &query);
    // A call signed for a service the emulator does not speak (Lambda, SageMaker, ...) is
    // told so, rather than read as an S3 request.
    if let Some((_, _, service)) = &scope {
        if !SERVICES_SPOKEN.contains(&service.as_str()) {
            let refused = AwsError::new(
                404,
                "UnknownOperationException",
                format!(
                    "The nova_ft emulator does not serve the {service} service; it serves {}.",
                    SERVICES_SPOKEN.join(", ")
                ),
            );
            return json_error(&refused);
        }
    }
    // Refuse an oversized body from its Content-Length, before reading a byte of it.
    let (early, limit) = service_and_limit(
        scope.as_ref().map(|(_, _, s)| s.as_str()),
        &parts.method,
        &raw_path,
    );
    let declared = parts
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let head = parts.method == Method::HEAD;
    if let Some(refused) = foreign_request(&ctx.config, &parts.headers, &parts.method, early) {
        return error_response(early, &refused, &request_id, head);
    }
    if declared.is_some_and(|n| n > limit as u64) {
        return error_response(early, &too_large(early, limit), &request_id, head);
    }
    // S3 signs its payload's hash in a header, so its signature is checked before the body
    // is read; the other services sign the body itself.
    let raw_query = parts.uri.query().unwrap_or_default().to_string();
    let check_signature = |service, body: Option<&[u8]>| match &ctx.config.credentials {
        Some(credentials) => {
            let signed = SignedRequest {
                method: &parts.method,
                raw_path: &raw_path,
                raw_query: &raw_query,
                headers: &parts.headers,
                body,
            };
            verify(
                credentials,
                ctx.config.strict_credentials,
                &signed,
                service,
                Utc::now(),
            )
        }
        None => Ok(PayloadCheck::Unchecked),
    };
    let mut payload_check = PayloadCheck::Unchecked;
    if early == Service::S3 {
        payload_check = match check_signature(early, None) {
            Ok(check) => check,
            Err(refused) => return error_response(early, &refused, &request_id, head),
        };
    }
    // An object's or a part's body goes to its handler as it arrives; others are read whole.
    let (body, streamed) = if early == Service::S3
        && s3::streams_body(&parts.method, &raw_path, &parts.headers)
    {
        let (sender, reader) = body_stream::channel();
        (Bytes::new(), Some((body, sender, reader)))
    } else {
        match axum::body::to_bytes(body, limit).await {
            Ok(body) => (body, None),
            Err(_) => return error_response(early, &too_large(early, limit), &request_id, head),
        }
    };
    let (pump, reader) = match streamed {
        Some((body, sender, reader)) => {
            (Some(body_stream::pump(body, sender, limit)), Some(reader))
        }
        None => (None, None),
    };
    let service = route(
        scope.as_ref().map(|(_, _, s)| s.as_str()),
        &parts.method,
        &raw_path,
        &body,
    );
    if service != Service::S3 && !sigv4::unsigned_by_design(service, &body) {
        if let Err(refused) = check_signature(service, Some(&body)) {
            return error_response(service, &refused, &request_id, head);
        }
    }
    // A streamed body is checked as it is written to disk.
    if let (PayloadCheck::Sha256(claimed), None) = (&payload_check, &reader) {
        let computed = sha256_hex(&body);
        if &computed != claimed {
            let refused = content_sha256_mismatch(claimed, &computed);
            return error_response(service, &refused, &request_id, head);
        }
    }
    let faults = ctx.config.faults;
    let injecting = Faults::applies_to(service) && faults != Faults::default();
    let injected_latency = if injecting {
        faults.delay()
    } else {
        std::time::Duration::ZERO
    };
    let req = Arc::new(AwsRequest {
        method: parts.method,
        raw_path,
        query,
        headers: parts.headers,
        body,
        stream: Mutex::new(reader),
        payload_check,
        service,
        region: scope
            .as_ref()
            .map(|(_, r, _)| r.clone())
            .unwrap_or_else(|| ctx.config.region.clone()),
        access_key: scope.map(|(k, _, _)| k),
        received,
        injected_latency,
        client_gone: Default::default(),
    });

    let answer = async {
        let outcome = async {
            if injecting {
                if let Some(error) = faults.draw() {
                    return Err(error);
                }
            }
            if let (Some(limiter), Service::BedrockRuntime) = (&ctx.rate_limiter, service) {
                // Invocations are counted per model, as Bedrock's quotas are.
                let segments = req.segments();
                let model = segments.get(1).map(String::as_str).unwrap_or_default();
                limiter.admit(model, std::time::Instant::now())?;
            }
            dispatch(&ctx, &req, &request_id).await
        }
        .await;
        // The injected latency is the call's whole service time from its arrival, as a remote
        // service's latency includes its own work: the work is done first and the answer
        // waits out the rest. (Sleeping first woke a burst of calls on one timer tick, all
        // then queueing for the CPU: about 2 ms more per call at 32 in flight.)
        if !injected_latency.is_zero() {
            precise_sleep::sleep_until(received + injected_latency).await;
        }
        outcome
    };
    let outcome = match pump {
        // The answer decides: once it is ready the pump is dropped, so a client that stopped
        // sending (or sends slowly a body the handler refused) does not hold the response.
        Some(pump) => {
            let pumping = async {
                pump.await;
                std::future::pending().await
            };
            tokio::select! {
                outcome = answer => outcome,
                outcome = pumping => outcome,
            }
        }
        None => answer.await,
    };

    let mut response = match outcome {
        Ok(response) => response,
        Err(error) => error_response(service, &error, &request_id, head),
    };
    log::debug!(
        target: "nova_ft.emulator",
        "{method} {path} -> {status} ({service}, {ms:.1} ms, request {request_id})",
        method = req.method,
        path = req.raw_path,
        status = response.status().as_u16(),
        service = service.name(),
        ms = received.elapsed().as_secs_f64() * 1000.0,
    );
    let id = HeaderValue::from_str(&request_id).expect("ascii id");
    let headers = response.headers_mut();
    match service {
        Service::S3 => {
            headers.insert("x-amz-request-id", id.clone());
            headers.insert("x-amz-id-2", id);
        }
        _ => {
            headers.insert("x-amzn-requestid", id);
        }
    }
    response
}

/// Run the service's handler off the async workers (handlers read and write files and run
/// models). A handler that panics answers 500 with the service's internal-error code, and
/// the connection, the server and the state stay usable.
async fn dispatch(
    ctx: &Arc<Ctx>,
    req: &Arc<AwsRequest>,
    request_id: &str,
) -> Result<HttpResponse, AwsError> {
    let (ctx, req, id) = (Arc::clone(ctx), Arc::clone(req), request_id.to_string());
    let service = req.service;
    // The server drops this future when the client disconnects; the handler, on a thread of
    // its own, learns it through the flag.
    let mut gone = ClientGone(Some(req.client_gone.clone()));
    let handled = tokio::task::spawn_blocking(move || {
        // A body the handler did not read (it answered early, or panicked): the connection
        // stops sending it.
        let _unread = DropStream(&req);
        match req.service {
            Service::Sts => sts::handle(&ctx, &req, &id),
            Service::Iam => iam::handle(&ctx, &req, &id),
            Service::S3 => s3::handle(&ctx, &req),
            Service::Bedrock => bedrock::handle(&ctx, &req),
            Service::BedrockRuntime => bedrock_runtime::handle(&ctx, &req),
            Service::Lambda => lambda::handle(&ctx, &req),
        }
    })
    .await;
    gone.0 = None; // the handler answered while the client was still there
    handled.unwrap_or_else(|e| {
        log::error!(target: "nova_ft.emulator", "request {request_id}: handler failed: {e}");
        let message = format!(
            "The nova_ft emulator failed on this request (request {request_id}); it keeps serving."
        );
        Err(match service {
            Service::S3 => AwsError::new(500, "InternalError", message),
            Service::Iam | Service::Sts => AwsError::new(500, "ServiceFailure", message),
            Service::Bedrock | Service::BedrockRuntime => {
                AwsError::new(500, "InternalServerException", message)
            }
            Service::Lambda => AwsError::new(500, "ServiceException", message),
        })
    })
}

/// Marks the request's client gone when dropped before the handler answered.
struct ClientGone(Option<nova_ft_models::generation::Cancel>);

impl Drop for ClientGone {
    fn drop(&mut self) {
        if let Some(flag) = &self.0 {
            flag.cancel();
        }
    }
}

/// Drops a request's unread body stream when it goes out of scope, unwinding included.
struct DropStream<'r>(&'r AwsRequest);

impl Drop for DropStream<'_> {
    fn drop(&mut self) {
        drop(self.0.take_stream());
    }
}

fn error_response(
    service: Service,
    error: &AwsError,
    request_id: &str,
    head: bool,
) -> HttpResponse {
    match service {
        Service::S3 => s3_error(error, request_id, head),
        Service::Iam => query_error(error, iam::NAMESPACE, request_id),
        Service::Sts => query_error(error, sts::NAMESPACE, request_id),
        Service::Bedrock | Service::BedrockRuntime => json_error(error),
        Service::Lambda => lambda::error_response(error),
    }
}

/// An empty 200 body, for calls without output.
pub fn empty(status: u16) -> HttpResponse {
    response(status, "", Body::empty())
}
