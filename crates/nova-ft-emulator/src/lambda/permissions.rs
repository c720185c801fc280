//! AddPermission, GetPolicy and RemovePermission: a function's resource-based policy.

use super::functions::{check_revision, no_qualifier, resolve};
use super::{conflict, invalid, not_found};
use crate::request::AwsRequest;
use crate::server::empty;
use crate::store::Touched;
use crate::wire::{json, Outcome};
use crate::Ctx;
use serde_json::{json, Map, Value};

fn text<'m>(map: &'m Map<String, Value>, field: &str) -> Option<&'m str> {
    map.get(field).and_then(Value::as_str)
}

fn policy_document(function: &crate::state::Function) -> String {
    json!({
        "Version": "2012-10-17",
        "Id": "default",
        "Statement": function.policy,
    })
    .to_string()
}

pub(super) fn add(ctx: &Ctx, req: &AwsRequest, label: &str, map: &Map<String, Value>) -> Outcome {
    no_qualifier(req)?;
    let (Some(sid), Some(action), Some(principal)) = (
        text(map, "StatementId"),
        text(map, "Action"),
        text(map, "Principal"),
    ) else {
        return Err(invalid("StatementId, Action and Principal are required."));
    };
    let sid_ok = !sid.is_empty()
        && sid.len() <= 100
        && sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !sid_ok {
        return Err(invalid(format!("1 validation error detected: Value '{sid}' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)")));
    }
    if !(action.starts_with("lambda:") || action == "*") {
        return Err(invalid(format!(
            "The action {action} is not a Lambda action (lambda:InvokeFunction, lambda:*, ...)."
        )));
    }
    let mut state = ctx.store.lock();
    let name = resolve(ctx, &state, label)?.name.clone();
    let function = state.functions.get_mut(&name).expect("resolved above");
    check_revision(function, map, "GetPolicy")?;
    if function
        .policy
        .iter()
        .any(|s| s.get("Sid").and_then(Value::as_str) == Some(sid))
    {
        return Err(conflict(format!("The statement id ({sid}) provided already exists. Please provide a new statement id, or remove the existing statement.")));
    }
    let principal_value = if principal.contains(".amazonaws.com") {
        json!({ "Service": principal })
    } else if principal.chars().all(|c| c.is_ascii_digit()) {
        json!({ "AWS": format!("arn:aws:iam::{principal}:root") })
    } else {
        json!({ "AWS": principal })
    };
    let mut statement = json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal_value,
        "Action": action,
        "Resource": function.arn,
    });
    let mut condition = Map::new();
    if let Some(arn) = text(map, "SourceArn") {
        condition.insert("ArnLike".into(), json!({ "AWS:SourceArn": arn }));
    }
    if let Some(account) = text(map, "SourceAccount") {
        condition.insert(
            "StringEquals".into(),
            json!({ "AWS:SourceAccount": account }),
        );
    }
    if !condition.is_empty() {
        statement["Condition"] = Value::Object(condition);
    }
    function.policy.push(statement.clone());
    function.revision_id = uuid::Uuid::new_v4().to_string();
    ctx.commit(state, &[Touched::Function(&name)])?;
    Ok(json(201, &json!({ "Statement": statement.to_string() })))
}

pub(super) fn get(ctx: &Ctx, _req: &AwsRequest, label: &str) -> Outcome {
    let state = ctx.store.lock();
    let function = resolve(ctx, &state, label)?;
    if function.policy.is_empty() {
        return Err(not_found("The resource you requested does not exist."));
    }
    Ok(json(
        200,
        &json!({ "Policy": policy_document(function), "RevisionId": function.revision_id }),
    ))
}

pub(super) fn remove(ctx: &Ctx, _req: &AwsRequest, label: &str, sid: &str) -> Outcome {
    let mut state = ctx.store.lock();
    let name = resolve(ctx, &state, label)?.name.clone();
    let function = state.functions.get_mut(&name).expect("resolved above");
    let before = function.policy.len();
    function
        .policy
        .retain(|s| s.get("Sid").and_then(Value::as_str) != Some(sid));
    if function.policy.len() == before {
        return Err(not_found(format!(
            "Statement {sid} is not found in resource policy."
        )));
    }
    function.revision_id = uuid::Uuid::new_v4().to_string();
    ctx.commit(state, &[Touched::Function(&name)])?;
    Ok(empty(204))
}
