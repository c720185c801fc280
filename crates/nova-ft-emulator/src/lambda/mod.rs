//! AWS Lambda (restJson1, `/2015-03-31/...`) for the calls a reinforcement fine-tuning
//! workflow makes: create, read, update and delete a Python function, grant invoke
//! permissions, and invoke it. A function's handler runs from its uploaded zip in a separate
//! Python process with the function's timeout ([`runner`]); Bedrock's RFT jobs call their
//! grader through [`invoke_as_service`], as Bedrock does, under the job role's permissions.

mod functions;
mod package;
mod permissions;
pub mod runner;

pub use runner::{invoke_as_service, Invocation};

use super::operations;
use super::request::AwsRequest;
use super::wire::{json, AwsError, HttpResponse, Outcome};
use super::Ctx;
use axum::http::{HeaderValue, Method};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The API version prefix of every Lambda route.
pub const PREFIX: &str = "/2015-03-31/";

/// Lambda's error body: `{"Type": "User"|"Service", "Message": ...}` with the code in
/// `x-amzn-ErrorType` (botocore and the Rust SDK read both).
pub fn error_response(error: &AwsError) -> HttpResponse {
    let kind = if error.status.is_server_error() {
        "Service"
    } else {
        "User"
    };
    let mut response = json(
        error.status.as_u16(),
        &serde_json::json!({ "Type": kind, "Message": error.message }),
    );
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(error.code));
    response
}

pub(crate) fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::new(400, "InvalidParameterValueException", message)
}

pub(crate) fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new(404, "ResourceNotFoundException", message)
}

pub(crate) fn conflict(message: impl Into<String>) -> AwsError {
    AwsError::new(409, "ResourceConflictException", message)
}

fn body(req: &AwsRequest) -> Result<Map<String, Value>, AwsError> {
    if req.body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid(
            "The request body could not be read as a JSON object.",
        )),
    }
}

pub fn handle(ctx: &Arc<Ctx>, req: &AwsRequest) -> Outcome {
    let segments = req.segments();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (&req.method, parts.as_slice()) {
        (&Method::POST, ["2015-03-31", "functions"]) => functions::create(ctx, &body(req)?),
        (&Method::GET, ["2015-03-31", "functions"]) => functions::list(ctx, req),
        (&Method::GET, ["2015-03-31", "functions", name]) => functions::get(ctx, req, name),
        (&Method::DELETE, ["2015-03-31", "functions", name]) => functions::delete(ctx, req, name),
        (&Method::GET, ["2015-03-31", "functions", name, "configuration"]) => {
            functions::get_configuration(ctx, req, name)
        }
        (&Method::PUT, ["2015-03-31", "functions", name, "code"]) => {
            functions::update_code(ctx, name, &body(req)?)
        }
        (&Method::PUT, ["2015-03-31", "functions", name, "configuration"]) => {
            functions::update_configuration(ctx, name, &body(req)?)
        }
        (&Method::POST, ["2015-03-31", "functions", name, "invocations"]) => {
            runner::invoke(ctx, req, name)
        }
        (&Method::POST, ["2015-03-31", "functions", name, "policy"]) => {
            permissions::add(ctx, req, name, &body(req)?)
        }
        (&Method::GET, ["2015-03-31", "functions", name, "policy"]) => {
            permissions::get(ctx, req, name)
        }
        (&Method::DELETE, ["2015-03-31", "functions", name, "policy", statement]) => {
            permissions::remove(ctx, req, name, statement)
        }
        _ => Err(operations::unsupported(
            req.service,
            &operations::rest_operation(req, None),
            req,
        )),
    }
}
