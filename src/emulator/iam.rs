//! IAM (awsQuery): service roles and their inline policies.

use super::policy::check_document;
use super::request::AwsRequest;
use super::state::Role;
use super::store::Touched;
use super::wire::{iso_seconds, query_ok, random_id, AwsError, Outcome};
use super::xml_writer::Xml;
use super::Ctx;
use chrono::Utc;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use std::collections::BTreeMap;

pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

struct Form(Vec<(String, String)>);

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, AwsError> {
        self.get(name).ok_or_else(|| {
            AwsError::new(400, "ValidationError", format!("1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null", lower_first(name)))
        })
    }
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// `[\w+=,.@-]+`, 1..=max characters: IAM's pattern for role and policy names.
fn check_name(field: &str, value: &str, max: usize) -> Result<(), AwsError> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(AwsError::new(400, "ValidationError", format!("1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+ and have length between 1 and {max}")))
    }
}

fn malformed(message: String) -> AwsError {
    AwsError::new(400, "MalformedPolicyDocument", message)
}

fn no_such_role(name: &str) -> AwsError {
    AwsError::new(
        404,
        "NoSuchEntity",
        format!("The role with name {name} cannot be found."),
    )
}

/// Policy documents go over the wire URL-encoded (boto3 decodes them back into dicts).
fn encode_policy(document: &str) -> String {
    utf8_percent_encode(document, NON_ALPHANUMERIC).to_string()
}

fn role_xml(role: &Role) -> Xml {
    let mut xml = Xml::fragment();
    xml.element("Role", |r| {
        r.leaf("Path", &role.path)
            .leaf("RoleName", &role.name)
            .leaf("RoleId", &role.id)
            .leaf("Arn", &role.arn)
            .leaf("CreateDate", iso_seconds(role.created))
            .leaf(
                "AssumeRolePolicyDocument",
                encode_policy(&role.assume_role_policy),
            )
            .leaf_opt("Description", role.description.as_deref())
            .leaf("MaxSessionDuration", role.max_session_duration);
    });
    xml
}

pub fn handle(ctx: &Ctx, req: &AwsRequest, request_id: &str) -> Outcome {
    let form = Form(req.form());
    let action = form.get("Action").unwrap_or("").to_string();
    let ok = |result: Option<Xml>| Ok(query_ok(&action, NAMESPACE, result, request_id));
    match action.as_str() {
        "CreateRole" => {
            let name = form.required("RoleName")?;
            check_name("roleName", name, 64)?;
            let trust = form.required("AssumeRolePolicyDocument")?;
            check_document(trust).map_err(malformed)?;
            let path = form.get("Path").unwrap_or("/");
            if !(path.starts_with('/') && path.ends_with('/')) {
                return Err(AwsError::new(400, "ValidationError", format!("The specified value for path is invalid: {path} must begin and end with '/'.")));
            }
            let mut state = ctx.store.lock();
            if state.roles.contains_key(name) {
                return Err(AwsError::new(409, "EntityAlreadyExists", format!("Role with name {name} already exists.")));
            }
            let role = Role {
                name: name.to_string(),
                id: format!("AROA{}", random_id(17).to_ascii_uppercase()),
                arn: format!("arn:aws:iam::{}:role{path}{name}", ctx.config.account_id),
                path: path.to_string(),
                created: Utc::now(),
                assume_role_policy: trust.to_string(),
                description: form.get("Description").map(str::to_string),
                max_session_duration: form.get("MaxSessionDuration").and_then(|v| v.parse().ok()).unwrap_or(3600),
                policies: BTreeMap::new(),
            };
            let xml = role_xml(&role);
            state.roles.insert(name.to_string(), role);
            ctx.commit(state, &[Touched::Role(name)])?;
            ok(Some(xml))
        }
        "GetRole" => {
            let name = form.required("RoleName")?;
            let state = ctx.store.lock();
            let role = state.roles.get(name).ok_or_else(|| no_such_role(name))?;
            ok(Some(role_xml(role)))
        }
        "UpdateAssumeRolePolicy" => {
            let name = form.required("RoleName")?;
            let trust = form.required("PolicyDocument")?;
            check_document(trust).map_err(malformed)?;
            let mut state = ctx.store.lock();
            let role = state.roles.get_mut(name).ok_or_else(|| no_such_role(name))?;
            role.assume_role_policy = trust.to_string();
            ctx.commit(state, &[Touched::Role(name)])?;
            ok(None)
        }
        "DeleteRole" => {
            let name = form.required("RoleName")?;
            let mut state = ctx.store.lock();
            let role = state.roles.get(name).ok_or_else(|| no_such_role(name))?;
            if !role.policies.is_empty() {
                return Err(AwsError::new(409, "DeleteConflict", "Cannot delete entity, must delete policies first."));
            }
            state.roles.remove(name);
            ctx.commit(state, &[Touched::Role(name)])?;
            ok(None)
        }
        "PutRolePolicy" => {
            let name = form.required("RoleName")?;
            let policy_name = form.required("PolicyName")?;
            check_name("policyName", policy_name, 128)?;
            let document = form.required("PolicyDocument")?;
            check_document(document).map_err(malformed)?;
            let mut state = ctx.store.lock();
            let role = state.roles.get_mut(name).ok_or_else(|| no_such_role(name))?;
            role.policies.insert(policy_name.to_string(), document.to_string());
            ctx.commit(state, &[Touched::Role(name)])?;
            ok(None)
        }
        "GetRolePolicy" => {
            let name = form.required("RoleName")?;
            let policy_name = form.required("PolicyName")?;
            let state = ctx.store.lock();
            let role = state.roles.get(name).ok_or_else(|| no_such_role(name))?;
            let document = role.policies.get(policy_name).ok_or_else(|| {
                AwsError::new(404, "NoSuchEntity", format!("The role policy with name {policy_name} cannot be found."))
            })?;
            let mut xml = Xml::fragment();
            xml.leaf("RoleName", name)
                .leaf("PolicyName", policy_name)
                .leaf("PolicyDocument", encode_policy(document));
            ok(Some(xml))
        }
        "DeleteRolePolicy" => {
            let name = form.required("RoleName")?;
            let policy_name = form.required("PolicyName")?;
            let mut state = ctx.store.lock();
            let role = state.roles.get_mut(name).ok_or_else(|| no_such_role(name))?;
            if role.policies.remove(policy_name).is_none() {
                return Err(AwsError::new(404, "NoSuchEntity", format!("The role policy with name {policy_name} cannot be found.")));
            }
            ctx.commit(state, &[Touched::Role(name)])?;
            ok(None)
        }
        "ListRolePolicies" => {
            let name = form.required("RoleName")?;
            let state = ctx.store.lock();
            let role = state.roles.get(name).ok_or_else(|| no_such_role(name))?;
            let mut xml = Xml::fragment();
            xml.element("PolicyNames", |names| {
                for policy in role.policies.keys() {
                    names.leaf("member", policy);
                }
            })
            .leaf("IsTruncated", false);
            ok(Some(xml))
        }
        other => Err(AwsError::new(400, "InvalidAction", format!("The action {other} is not valid for this web service (not served by the nova_ft emulator)."))),
    }
}
