//! Acting as a role a service assumed: Bedrock reading a job's data and writing its metrics,
//! importing a model, or calling an RFT job's Lambda grader. The role must trust the service,
//! and its policies (inline and attached) are evaluated for each object and call, with the
//! condition keys the service's requests carry.

use super::policy::{allows, trusts_service, Context};
use super::s3;
use super::state::{Job, State};
use super::wire::AwsError;
use super::Ctx;
use chrono::Utc;

const BEDROCK: &str = "bedrock.amazonaws.com";

fn role_name(role_arn: &str) -> &str {
    role_arn.rsplit('/').next().unwrap_or(role_arn)
}

/// The condition keys of the requests a job makes: Bedrock's source keys when it assumes the
/// role, and the global keys every AWS request carries (Bedrock calls S3 over HTTPS).
pub fn job_context(ctx: &Ctx, job_arn: &str, role_arn: &str) -> Context {
    let now = Utc::now();
    let mut context = Context::new();
    context.insert("aws:SourceAccount", ctx.config.account_id.clone());
    context.insert("aws:SourceArn", job_arn);
    context.insert("aws:PrincipalArn", role_arn);
    context.insert("aws:PrincipalAccount", ctx.config.account_id.clone());
    context.insert("aws:RequestedRegion", ctx.config.region.clone());
    context.insert("aws:SecureTransport", "true");
    context.insert(
        "aws:CurrentTime",
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    context.insert("aws:EpochTime", now.timestamp().to_string());
    context
}

/// At CreateModelCustomizationJob: the role must exist and trust Bedrock for this job.
pub fn check_role_trust(
    ctx: &Ctx,
    state: &State,
    role_arn: &str,
    job_arn: &str,
) -> Result<(), AwsError> {
    let role = state
        .roles
        .get(role_name(role_arn))
        .filter(|r| r.arn == role_arn)
        .ok_or_else(|| AwsError::validation(format!("The role {role_arn} does not exist. Create it (nova-ft role, or iam create-role) before starting the job.")))?;
    let trust = serde_json::from_str(&role.assume_role_policy).unwrap_or_default();
    if !trusts_service(&trust, BEDROCK, &job_context(ctx, job_arn, role_arn)) {
        return Err(AwsError::access_denied(format!(
            "Bedrock cannot assume the role {role_arn}: its trust policy must allow {BEDROCK} to call sts:AssumeRole (with aws:SourceAccount {} and an aws:SourceArn matching this job).",
            ctx.config.account_id
        )));
    }
    Ok(())
}

/// Whether the job's role may do `action` on `s3://bucket/key`; the message says how to fix it.
fn role_may(ctx: &Ctx, job: &Job, action: &str, bucket: &str, key: &str) -> Result<(), String> {
    role_allows(ctx, &job.role_arn, &job.arn, action, bucket, key)
}

/// Whether `role_arn`, assumed by Bedrock for the resource `source_arn`, may do `action` on
/// `s3://bucket/key`; the message says how to fix it.
pub fn role_allows(
    ctx: &Ctx,
    role_arn: &str,
    source_arn: &str,
    action: &str,
    bucket: &str,
    key: &str,
) -> Result<(), String> {
    let state = ctx.store.lock();
    let resource = format!("arn:aws:s3:::{bucket}/{key}");
    let context = job_context(ctx, source_arn, role_arn);
    if role_permits(&state, role_arn, action, &resource, &context)? {
        Ok(())
    } else {
        Err(format!(
            "AccessDenied: the role {role_arn} is not authorized to perform {action} on {resource}. Add {action} on that object (or its prefix, e.g. arn:aws:s3:::{bucket}/{}*) to the role's policy.",
            key.rsplit_once('/').map(|(p, _)| format!("{p}/")).unwrap_or_default()
        ))
    }
}

/// Whether a role's policies (inline and attached) allow `action` on `resource` in `context`,
/// as a service that assumed it acts (S3 reads of a job, Lambda calls of an RFT job's grader);
/// an error when the role is gone.
pub fn role_permits(
    state: &State,
    role_arn: &str,
    action: &str,
    resource: &str,
    context: &Context,
) -> Result<bool, String> {
    let Some(role) = state.roles.get(role_name(role_arn)) else {
        return Err(format!("The role {role_arn} no longer exists."));
    };
    let documents = super::iam::role_documents(state, role);
    let refs: Vec<&serde_json::Value> = documents.iter().collect();
    Ok(allows(&refs, action, resource, context))
}

pub fn split_uri(uri: &str) -> (String, String) {
    let rest = uri.trim_start_matches("s3://");
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (bucket.to_string(), key.to_string())
}

pub fn read_as_role(ctx: &Ctx, job: &Job, uri: &str) -> Result<Vec<u8>, String> {
    let (bucket, key) = split_uri(uri);
    role_may(ctx, job, "s3:GetObject", &bucket, &key)?;
    s3::internal_get(ctx, &bucket, &key).map_err(|e| format!("{}: {uri}: {}", e.code, e.message))
}

pub fn write_as_role(
    ctx: &Ctx,
    job: &Job,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> Result<(), String> {
    role_may(ctx, job, "s3:PutObject", bucket, key)?;
    s3::internal_put(ctx, bucket, key, bytes, "text/csv")
        .map_err(|e| format!("{}: s3://{bucket}/{key}: {}", e.code, e.message))
}
