//! IAM (awsQuery): service roles, their inline policies, customer managed policies with
//! versions, the AWS managed policies samples attach, and tags.

mod aws_managed;
mod form;
mod policies;
mod roles;

use super::request::AwsRequest;
use super::state::{Role, State};
use super::wire::{query_ok, AwsError, Outcome};
use super::xml_writer::Xml;
use super::Ctx;
use form::Form;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

pub const NAMESPACE: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// The actions served, for the coverage table.
pub const ACTIONS: [&str; 25] = [
    "CreateRole",
    "GetRole",
    "ListRoles",
    "UpdateRole",
    "UpdateAssumeRolePolicy",
    "DeleteRole",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
    "PutRolePolicy",
    "GetRolePolicy",
    "DeleteRolePolicy",
    "ListRolePolicies",
    "CreatePolicy",
    "GetPolicy",
    "DeletePolicy",
    "ListPolicies",
    "CreatePolicyVersion",
    "GetPolicyVersion",
    "ListPolicyVersions",
    "DeletePolicyVersion",
    "SetDefaultPolicyVersion",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "ListAttachedRolePolicies",
];

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

/// Every policy document a role's permissions come from: its inline policies and the
/// default versions of its attached managed policies (customer or AWS managed).
pub fn role_documents(state: &State, role: &Role) -> Vec<serde_json::Value> {
    let attached = role
        .attached
        .iter()
        .filter_map(|arn| match state.policies.get(arn) {
            Some(policy) => policy.default_document(),
            None => aws_managed::find(arn).map(|p| p.document),
        });
    role.policies
        .values()
        .map(String::as_str)
        .chain(attached)
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect()
}

pub fn handle(ctx: &Ctx, req: &AwsRequest, request_id: &str) -> Outcome {
    let form = Form(req.form());
    let action = form.get("Action").unwrap_or("").to_string();
    let result = match roles::handle(ctx, &action, &form) {
        Some(result) => result,
        None => match policies::handle(ctx, &action, &form) {
            Some(result) => result,
            None => {
                return Err(super::operations::unsupported(
                    req.service,
                    &[action.as_str()],
                    req,
                ))
            }
        },
    }?;
    Ok(query_ok(&action, NAMESPACE, result, request_id))
}

/// What an action handler gives back: the result element's content, if any.
type ActionResult = Result<Option<Xml>, AwsError>;
