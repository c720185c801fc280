//! CreateFunction, GetFunction, GetFunctionConfiguration, ListFunctions,
//! UpdateFunctionCode, UpdateFunctionConfiguration and DeleteFunction.

use super::package;
use super::{conflict, invalid, not_found};
use crate::policy::{trusts_service, Context};
use crate::request::AwsRequest;
use crate::server::empty;
use crate::state::{Function, State};
use crate::store::Touched;
use crate::wire::{json, AwsError, Outcome};
use crate::{s3, Ctx};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The runtimes the emulator can run: Python 3 (it runs handlers with the Python that runs
/// nova_ft). The others exist on AWS; they are refused here, saying why.
const PYTHON_RUNTIMES: [&str; 7] = [
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "python3.15",
];
/// Lambda's limits for a function's timeout (seconds) and memory (MB).
const TIMEOUT: (u64, u64) = (1, 900);
const MEMORY: (u64, u64) = (128, 10_240);

const LAMBDA: &str = "lambda.amazonaws.com";

/// Lambda's `LastModified` format: `2025-01-02T03:04:05.678+0000`.
pub(super) fn last_modified(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// The function a `FunctionName` path label names: a name, a full ARN or a partial ARN
/// (`123456789012:function:name`), optionally qualified with `$LATEST` (the only version the
/// emulator keeps).
pub(crate) fn resolve<'s>(
    ctx: &Ctx,
    state: &'s State,
    label: &str,
) -> Result<&'s Function, AwsError> {
    let rest = label.strip_prefix("arn:aws:lambda:").map_or(label, |r| {
        // region:account:function:name[:qualifier]
        r.split_once(':').map_or(r, |(_, after)| after)
    });
    let rest = match rest.split_once(":function:") {
        Some((account, name)) if account == ctx.config.account_id => name,
        Some(_) => rest.rsplit(":function:").next().unwrap_or(rest),
        None => rest,
    };
    let (name, qualifier) = rest.split_once(':').unwrap_or((rest, "$LATEST"));
    let missing = || {
        not_found(format!(
            "Function not found: arn:aws:lambda:{}:{}:function:{name}{}",
            ctx.config.region,
            ctx.config.account_id,
            if qualifier == "$LATEST" {
                String::new()
            } else {
                format!(":{qualifier}")
            }
        ))
    };
    if qualifier != "$LATEST" {
        return Err(missing());
    }
    state.functions.get(name).ok_or_else(missing)
}

pub(super) fn configuration(function: &Function) -> Value {
    let mut out = json!({
        "FunctionName": function.name,
        "FunctionArn": function.arn,
        "Runtime": function.runtime,
        "Role": function.role,
        "Handler": function.handler,
        "CodeSize": function.code_size,
        "Description": function.description,
        "Timeout": function.timeout,
        "MemorySize": function.memory_size,
        "LastModified": last_modified(function.last_modified),
        "CodeSha256": function.code_sha256,
        "Version": "$LATEST",
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": function.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": format!("/aws/lambda/{}", function.name)},
    });
    if !function.environment.is_empty() {
        out["Environment"] = json!({ "Variables": function.environment });
    }
    out
}

fn int_in(
    map: &Map<String, Value>,
    field: &str,
    (min, max): (u64, u64),
) -> Result<Option<u32>, AwsError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64().filter(|n| (min..=max).contains(n)) {
            Some(n) => Ok(Some(n as u32)),
            None => Err(invalid(format!(
                "{field} must be an integer from {min} to {max}; got {v}."
            ))),
        },
    }
}

fn string_field<'m>(map: &'m Map<String, Value>, field: &str) -> Result<Option<&'m str>, AwsError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(invalid(format!("{field} must be a string; got {other}."))),
    }
}

fn check_name(name: &str) -> Result<(), AwsError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "1 validation error detected: Value '{name}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64 and contain only letters, numbers, hyphens and underscores"
        )))
    }
}

fn check_runtime(runtime: &str) -> Result<(), AwsError> {
    if PYTHON_RUNTIMES.contains(&runtime) {
        return Ok(());
    }
    Err(invalid(format!(
        "The runtime parameter of {runtime} is not supported by the nova_ft emulator, which runs Python handlers only ({}). Deploy other runtimes to AWS.",
        PYTHON_RUNTIMES.join(", ")
    )))
}

/// Lambda assumes the execution role when the function runs: it must exist and trust Lambda.
fn check_role(ctx: &Ctx, state: &State, role_arn: &str) -> Result<(), AwsError> {
    let name = role_arn.rsplit('/').next().unwrap_or(role_arn);
    let cannot = || invalid("The role defined for the function cannot be assumed by Lambda.");
    let role = state
        .roles
        .get(name)
        .filter(|r| r.arn == role_arn)
        .ok_or_else(cannot)?;
    let trust: Value = serde_json::from_str(&role.assume_role_policy).unwrap_or_default();
    let mut context = Context::new();
    context.insert("aws:SourceAccount", ctx.config.account_id.clone());
    if trusts_service(&trust, LAMBDA, &context) {
        Ok(())
    } else {
        Err(cannot())
    }
}

fn environment(map: &Map<String, Value>) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let Some(env) = map.get("Environment").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let variables = env.get("Variables").and_then(Value::as_object);
    let mut out = BTreeMap::new();
    for (k, v) in variables.into_iter().flatten() {
        let valid_key = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let Some(v) = v.as_str().filter(|_| valid_key) else {
            return Err(invalid(format!(
                "Environment variable {k} is invalid: names start with a letter and hold letters, digits and _; values are strings."
            )));
        };
        out.insert(k.clone(), v.to_string());
    }
    if out.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() > 4096 {
        return Err(invalid("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit."));
    }
    Ok(Some(out))
}

/// The deployment package of a request: `ZipFile` (base64 in JSON) or an S3 object.
fn package_bytes(ctx: &Ctx, map: &Map<String, Value>) -> Result<Vec<u8>, AwsError> {
    if let Some(zip) = string_field(map, "ZipFile")? {
        return base64::engine::general_purpose::STANDARD
            .decode(zip)
            .map_err(|_| invalid("ZipFile must be base64-encoded bytes of a zip file."));
    }
    match (string_field(map, "S3Bucket")?, string_field(map, "S3Key")?) {
        (Some(bucket), Some(key)) => s3::internal_get(ctx, bucket, key).map_err(|e| {
            invalid(format!(
                "Error occurred while GetObject. S3 Error Code: {}. S3 Error Message: {}",
                e.code, e.message
            ))
        }),
        _ => Err(invalid(
            "Please provide a source for function code: ZipFile, or S3Bucket and S3Key. (Container images are not served by the nova_ft emulator.)",
        )),
    }
}

/// Check a package and keep it as a blob: (blob, base64 SHA-256, size).
fn store_package(ctx: &Ctx, bytes: &[u8]) -> Result<(String, String, u64), AwsError> {
    use sha2::{Digest, Sha256};
    package::check(bytes)?;
    let blob = ctx.store.put_blob(bytes).map_err(|e| {
        AwsError::new(
            500,
            "ServiceException",
            format!("the emulator could not store the package: {e}"),
        )
    })?;
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes));
    Ok((blob, sha, bytes.len() as u64))
}

pub(super) fn create(ctx: &Ctx, map: &Map<String, Value>) -> Outcome {
    let name =
        string_field(map, "FunctionName")?.ok_or_else(|| invalid("FunctionName is required."))?;
    check_name(name)?;
    let role = string_field(map, "Role")?.ok_or_else(|| invalid("Role is required."))?;
    if string_field(map, "PackageType")?.is_some_and(|p| p != "Zip") {
        return Err(invalid(
            "The nova_ft emulator serves Zip functions only; container images (PackageType=Image) are not served.",
        ));
    }
    let runtime = string_field(map, "Runtime")?
        .ok_or_else(|| invalid("Runtime and Handler are mandatory parameters for functions created with deployment packages."))?;
    check_runtime(runtime)?;
    let handler = string_field(map, "Handler")?
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("Runtime and Handler are mandatory parameters for functions created with deployment packages."))?;
    let description = string_field(map, "Description")?.unwrap_or_default();
    if description.chars().count() > 256 {
        return Err(invalid("Description must be at most 256 characters."));
    }
    let timeout = int_in(map, "Timeout", TIMEOUT)?.unwrap_or(3);
    let memory_size = int_in(map, "MemorySize", MEMORY)?.unwrap_or(128);
    let environment = environment(map)?.unwrap_or_default();
    let code = map
        .get("Code")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("Code is required."))?;
    {
        let state = ctx.store.lock();
        if state.functions.contains_key(name) {
            return Err(conflict(format!("Function already exist: {name}")));
        }
        check_role(ctx, &state, role)?;
    }
    let (code_blob, code_sha256, code_size) = store_package(ctx, &package_bytes(ctx, code)?)?;
    let tags = map
        .get("Tags")
        .and_then(Value::as_object)
        .map(|t| {
            t.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let function = Function {
        name: name.to_string(),
        arn: format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            ctx.config.region, ctx.config.account_id
        ),
        runtime: runtime.to_string(),
        role: role.to_string(),
        handler: handler.to_string(),
        description: description.to_string(),
        timeout,
        memory_size,
        environment,
        code_blob,
        code_sha256,
        code_size,
        last_modified: Utc::now(),
        revision_id: uuid::Uuid::new_v4().to_string(),
        policy: Vec::new(),
        tags,
    };
    let mut state = ctx.store.lock();
    if state.functions.contains_key(name) {
        // Another request created it meanwhile.
        ctx.store.delete_blob(&function.code_blob);
        return Err(conflict(format!("Function already exist: {name}")));
    }
    let answer = configuration(&function);
    state.functions.insert(name.to_string(), function);
    ctx.commit(state, &[Touched::Function(name)])?;
    log::info!(target: "nova_ft.emulator", "Lambda function {name} created");
    Ok(json(201, &answer))
}

/// Only `$LATEST` exists here: any other `Qualifier` names a version that is not found.
pub(super) fn no_qualifier(req: &AwsRequest) -> Result<(), AwsError> {
    match req.query_value("Qualifier") {
        None | Some("$LATEST") => Ok(()),
        Some(q) => Err(not_found(format!(
            "Function version {q} not found: the nova_ft emulator keeps $LATEST only (no published versions or aliases)."
        ))),
    }
}

pub(super) fn get(ctx: &Ctx, req: &AwsRequest, label: &str) -> Outcome {
    no_qualifier(req)?;
    let state = ctx.store.lock();
    let function = resolve(ctx, &state, label)?;
    let mut out = json!({
        "Configuration": configuration(function),
        // Lambda answers with a presigned download URL; the emulator has none to give.
        "Code": {"RepositoryType": "S3"},
    });
    if !function.tags.is_empty() {
        out["Tags"] = json!(function.tags);
    }
    Ok(json(200, &out))
}

pub(super) fn get_configuration(ctx: &Ctx, req: &AwsRequest, label: &str) -> Outcome {
    no_qualifier(req)?;
    let state = ctx.store.lock();
    Ok(json(200, &configuration(resolve(ctx, &state, label)?)))
}

pub(super) fn list(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let state = ctx.store.lock();
    let all: Vec<&Function> = state.functions.values().collect();
    let start = match req.query_value("Marker") {
        None => 0,
        Some(marker) => all
            .iter()
            .position(|f| f.name.as_str() > marker)
            .unwrap_or(all.len()),
    };
    let limit = match req.query_value("MaxItems") {
        None => 50,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| invalid("MaxItems must be a number from 1 to 10000."))?,
    };
    let page: Vec<&Function> = all.iter().skip(start).take(limit).copied().collect();
    let mut out = json!({ "Functions": page.iter().map(|f| configuration(f)).collect::<Vec<_>>() });
    if start + page.len() < all.len() {
        if let Some(last) = page.last() {
            out["NextMarker"] = json!(last.name);
        }
    }
    Ok(json(200, &out))
}

/// A `RevisionId` in the request must be the function's current one (optimistic locking);
/// `api` is the call Lambda's message points to for the latest id.
pub(super) fn check_revision(
    function: &Function,
    map: &Map<String, Value>,
    api: &str,
) -> Result<(), AwsError> {
    match string_field(map, "RevisionId")? {
        Some(r) if r != function.revision_id => Err(AwsError::new(
            412,
            "PreconditionFailedException",
            format!("The Revision Id provided does not match the latest Revision Id. Call the {api} API to retrieve the latest Revision Id"),
        )),
        _ => Ok(()),
    }
}

pub(super) fn update_code(ctx: &Ctx, label: &str, map: &Map<String, Value>) -> Outcome {
    let name = {
        let state = ctx.store.lock();
        let function = resolve(ctx, &state, label)?;
        check_revision(function, map, "GetFunction/GetAlias")?;
        function.name.clone()
    };
    let bytes = package_bytes(ctx, map)?;
    if map.get("DryRun").and_then(Value::as_bool) == Some(true) {
        package::check(&bytes)?;
        let state = ctx.store.lock();
        return Ok(json(200, &configuration(resolve(ctx, &state, &name)?)));
    }
    let (blob, sha, size) = store_package(ctx, &bytes)?;
    let mut state = ctx.store.lock();
    let Some(function) = state.functions.get_mut(&name) else {
        ctx.store.delete_blob(&blob);
        return Err(not_found(format!("Function not found: {name}")));
    };
    let old = std::mem::replace(&mut function.code_blob, blob);
    function.code_sha256 = sha;
    function.code_size = size;
    function.last_modified = Utc::now();
    function.revision_id = uuid::Uuid::new_v4().to_string();
    let answer = configuration(function);
    ctx.commit(state, &[Touched::Function(&name)])?;
    ctx.store.delete_blob(&old);
    Ok(json(200, &answer))
}

pub(super) fn update_configuration(ctx: &Ctx, label: &str, map: &Map<String, Value>) -> Outcome {
    let timeout = int_in(map, "Timeout", TIMEOUT)?;
    let memory_size = int_in(map, "MemorySize", MEMORY)?;
    let environment = environment(map)?;
    let runtime = string_field(map, "Runtime")?;
    if let Some(runtime) = runtime {
        check_runtime(runtime)?;
    }
    let handler = string_field(map, "Handler")?;
    let description = string_field(map, "Description")?;
    let role = string_field(map, "Role")?;
    let mut state = ctx.store.lock();
    let name = resolve(ctx, &state, label)?.name.clone();
    if let Some(role) = role {
        check_role(ctx, &state, role)?;
    }
    let function = state.functions.get_mut(&name).expect("resolved above");
    check_revision(function, map, "GetFunction/GetAlias")?;
    if let Some(v) = timeout {
        function.timeout = v;
    }
    if let Some(v) = memory_size {
        function.memory_size = v;
    }
    if let Some(v) = environment {
        function.environment = v;
    }
    if let Some(v) = runtime {
        function.runtime = v.to_string();
    }
    if let Some(v) = handler {
        function.handler = v.to_string();
    }
    if let Some(v) = description {
        function.description = v.to_string();
    }
    if let Some(v) = role {
        function.role = v.to_string();
    }
    function.last_modified = Utc::now();
    function.revision_id = uuid::Uuid::new_v4().to_string();
    let answer = configuration(function);
    ctx.commit(state, &[Touched::Function(&name)])?;
    Ok(json(200, &answer))
}

pub(super) fn delete(ctx: &Ctx, req: &AwsRequest, label: &str) -> Outcome {
    no_qualifier(req)?;
    let mut state = ctx.store.lock();
    let name = resolve(ctx, &state, label)?.name.clone();
    let function = state.functions.remove(&name).expect("resolved above");
    ctx.commit(state, &[Touched::Function(&name)])?;
    ctx.store.delete_blob(&function.code_blob);
    log::info!(target: "nova_ft.emulator", "Lambda function {name} deleted");
    Ok(empty(204))
}
