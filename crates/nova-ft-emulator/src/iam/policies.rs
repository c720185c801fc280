//! Managed policies: customer managed ones with up to five versions, the built-in AWS managed
//! ones, and their attachment to roles. A role's attached policies count in the evaluation a
//! job runs under ([`super::role_documents`]).

use super::aws_managed::{self, AwsManaged, POLICIES};
use super::form::{check_name, page, write_tags, write_truncation, Form};
use super::{encode_policy, malformed, no_such_role, ActionResult};
use crate::policy::check_document;
use crate::state::{ManagedPolicy, PolicyVersion, State};
use crate::store::Touched;
use crate::wire::{iso_seconds, random_id, AwsError};
use crate::xml_writer::Xml;
use crate::Ctx;
use chrono::{DateTime, Utc};

/// IAM keeps at most this many versions of a managed policy.
const MAX_VERSIONS: usize = 5;

/// A managed policy as IAM describes it, whichever kind it is.
struct PolicyView<'a> {
    name: &'a str,
    id: &'a str,
    arn: String,
    path: &'a str,
    default_version: &'a str,
    description: Option<&'a str>,
    created: String,
    updated: String,
    attachments: usize,
    tags: &'a [(String, String)],
}

fn attachments(state: &State, arn: &str) -> usize {
    state
        .roles
        .values()
        .filter(|r| r.attached.iter().any(|a| a == arn))
        .count()
}

fn customer_view<'a>(state: &State, policy: &'a ManagedPolicy) -> PolicyView<'a> {
    PolicyView {
        name: &policy.name,
        id: &policy.id,
        arn: policy.arn.clone(),
        path: &policy.path,
        default_version: &policy.default_version,
        description: policy.description.as_deref(),
        created: iso_seconds(policy.created),
        updated: iso_seconds(policy.updated),
        attachments: attachments(state, &policy.arn),
        tags: &policy.tags,
    }
}

fn aws_view(state: &State, policy: &'static AwsManaged) -> PolicyView<'static> {
    PolicyView {
        name: policy.name,
        id: policy.id,
        arn: policy.arn(),
        path: policy.path,
        default_version: policy.version,
        description: Some(policy.description),
        created: policy.created.to_string(),
        updated: policy.updated.to_string(),
        attachments: attachments(state, &policy.arn()),
        tags: &[],
    }
}

/// `<Policy>` fields; GetPolicy and CreatePolicy add the description and tags, ListPolicies
/// does not (as IAM).
fn write_policy(xml: &mut Xml, view: &PolicyView<'_>, full: bool) {
    xml.leaf("PolicyName", view.name)
        .leaf("PolicyId", view.id)
        .leaf("Arn", &view.arn)
        .leaf("Path", view.path)
        .leaf("DefaultVersionId", view.default_version)
        .leaf("AttachmentCount", view.attachments)
        .leaf("PermissionsBoundaryUsageCount", 0)
        .leaf("IsAttachable", true)
        .leaf("CreateDate", &view.created)
        .leaf("UpdateDate", &view.updated);
    if full {
        xml.leaf_opt("Description", view.description);
        if !view.tags.is_empty() {
            write_tags(xml, view.tags);
        }
    }
}

fn not_attachable(arn: &str) -> AwsError {
    AwsError::new(
        404,
        "NoSuchEntity",
        format!("Policy {arn} does not exist or is not attachable."),
    )
}

/// A policy ARN the caller gave: customer (`arn:aws:iam::<account>:policy/...`) or AWS.
fn view<'s>(state: &'s State, arn: &str) -> Result<PolicyView<'s>, AwsError> {
    if let Some(policy) = state.policies.get(arn) {
        return Ok(customer_view(state, policy));
    }
    aws_managed::find(arn)
        .map(|p| aws_view(state, p))
        .ok_or_else(|| not_attachable(arn))
}

fn write_version(xml: &mut Xml, id: &str, document: Option<&str>, default: bool, created: &str) {
    xml.leaf_opt("Document", document.map(encode_policy))
        .leaf("VersionId", id)
        .leaf("IsDefaultVersion", default)
        .leaf("CreateDate", created);
}

/// A customer policy the caller may change; AWS managed policies are IAM's, not theirs.
fn customer_mut<'s>(state: &'s mut State, arn: &str) -> Result<&'s mut ManagedPolicy, AwsError> {
    if aws_managed::find(arn).is_some() {
        return Err(AwsError::new(
            403,
            "AccessDenied",
            format!("AWS managed policy {arn} cannot be changed or deleted: create a customer managed policy instead."),
        ));
    }
    state
        .policies
        .get_mut(arn)
        .ok_or_else(|| not_attachable(arn))
}

fn version_id(form: &Form) -> Result<&str, AwsError> {
    let id = form.required("VersionId")?;
    let ok = id
        .strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(id)
    } else {
        Err(AwsError::new(400, "ValidationError", format!("1 validation error detected: Value '{id}' at 'versionId' failed to satisfy constraint: Member must satisfy regular expression pattern: v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?")))
    }
}

fn no_such_version(arn: &str, id: &str) -> AwsError {
    AwsError::new(
        404,
        "NoSuchEntity",
        format!("Policy {arn} version {id} does not exist or is not attachable."),
    )
}

/// The managed-policy actions; `None` when `action` is not one of them.
pub(super) fn handle(ctx: &Ctx, action: &str, form: &Form) -> Option<ActionResult> {
    Some(match action {
        "CreatePolicy" => create_policy(ctx, form),
        "GetPolicy" => (|| {
            let arn = form.required("PolicyArn")?;
            let state = ctx.store.lock();
            let view = view(&state, arn)?;
            let mut xml = Xml::fragment();
            xml.element("Policy", |p| write_policy(p, &view, true));
            Ok(Some(xml))
        })(),
        "ListPolicies" => list_policies(ctx, form),
        "DeletePolicy" => (|| {
            let arn = form.required("PolicyArn")?;
            let mut state = ctx.store.lock();
            let policy = customer_mut(&mut state, arn)?;
            if policy.versions.len() > 1 {
                return Err(AwsError::new(409, "DeleteConflict", "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy."));
            }
            if attachments(&state, arn) > 0 {
                return Err(AwsError::new(
                    409,
                    "DeleteConflict",
                    "Cannot delete a policy attached to entities.",
                ));
            }
            state.policies.remove(arn);
            ctx.commit(state, &[Touched::Policy(arn)])?;
            Ok(None)
        })(),
        "CreatePolicyVersion" => (|| {
            let arn = form.required("PolicyArn")?;
            let document = form.required("PolicyDocument")?;
            check_document(document).map_err(malformed)?;
            let set_default = form.flag("SetAsDefault", false);
            let mut state = ctx.store.lock();
            let policy = customer_mut(&mut state, arn)?;
            if policy.versions.len() >= MAX_VERSIONS {
                return Err(AwsError::new(409, "LimitExceeded", format!("A managed policy can have up to {MAX_VERSIONS} versions. Before you create a new version, you must delete an existing version.")));
            }
            let now = Utc::now();
            let id = format!("v{}", policy.next_version);
            policy.next_version += 1;
            policy.versions.push(PolicyVersion {
                id: id.clone(),
                document: document.to_string(),
                created: now,
            });
            if set_default {
                policy.default_version = id.clone();
            }
            policy.updated = now;
            let mut xml = Xml::fragment();
            xml.element("PolicyVersion", |v| {
                write_version(v, &id, None, set_default, &iso_seconds(now));
            });
            ctx.commit(state, &[Touched::Policy(arn)])?;
            Ok(Some(xml))
        })(),
        "GetPolicyVersion" => (|| {
            let arn = form.required("PolicyArn")?;
            let id = version_id(form)?;
            let state = ctx.store.lock();
            let mut xml = Xml::fragment();
            if let Some(policy) = state.policies.get(arn) {
                let version = policy
                    .versions
                    .iter()
                    .find(|v| v.id == id)
                    .ok_or_else(|| no_such_version(arn, id))?;
                let default = policy.default_version == id;
                xml.element("PolicyVersion", |v| {
                    write_version(
                        v,
                        id,
                        Some(&version.document),
                        default,
                        &iso_seconds(version.created),
                    );
                });
            } else {
                let policy = aws_managed::find(arn).ok_or_else(|| not_attachable(arn))?;
                if policy.version != id {
                    return Err(no_such_version(arn, id));
                }
                xml.element("PolicyVersion", |v| {
                    write_version(v, id, Some(policy.document), true, policy.updated);
                });
            }
            Ok(Some(xml))
        })(),
        "ListPolicyVersions" => (|| {
            let arn = form.required("PolicyArn")?;
            let state = ctx.store.lock();
            if !state.policies.contains_key(arn) && aws_managed::find(arn).is_none() {
                return Err(not_attachable(arn));
            }
            let mut xml = Xml::fragment();
            xml.element("Versions", |list| {
                if let Some(policy) = state.policies.get(arn) {
                    for version in policy.versions.iter().rev() {
                        list.element("member", |v| {
                            let default = version.id == policy.default_version;
                            write_version(
                                v,
                                &version.id,
                                None,
                                default,
                                &iso_seconds(version.created),
                            );
                        });
                    }
                } else if let Some(policy) = aws_managed::find(arn) {
                    list.element("member", |v| {
                        write_version(v, policy.version, None, true, policy.updated);
                    });
                }
            });
            xml.leaf("IsTruncated", false);
            Ok(Some(xml))
        })(),
        "DeletePolicyVersion" => (|| {
            let arn = form.required("PolicyArn")?;
            let id = version_id(form)?;
            let mut state = ctx.store.lock();
            let policy = customer_mut(&mut state, arn)?;
            if policy.default_version == id {
                return Err(AwsError::new(
                    409,
                    "DeleteConflict",
                    "Cannot delete the default version of a policy.",
                ));
            }
            let before = policy.versions.len();
            policy.versions.retain(|v| v.id != id);
            if policy.versions.len() == before {
                return Err(no_such_version(arn, id));
            }
            ctx.commit(state, &[Touched::Policy(arn)])?;
            Ok(None)
        })(),
        "SetDefaultPolicyVersion" => (|| {
            let arn = form.required("PolicyArn")?;
            let id = version_id(form)?;
            let mut state = ctx.store.lock();
            let policy = customer_mut(&mut state, arn)?;
            if !policy.versions.iter().any(|v| v.id == id) {
                return Err(no_such_version(arn, id));
            }
            policy.default_version = id.to_string();
            policy.updated = Utc::now();
            ctx.commit(state, &[Touched::Policy(arn)])?;
            Ok(None)
        })(),
        "AttachRolePolicy" => (|| {
            let name = form.required("RoleName")?;
            let arn = form.required("PolicyArn")?;
            let mut state = ctx.store.lock();
            view(&state, arn)?;
            let role = state
                .roles
                .get_mut(name)
                .ok_or_else(|| no_such_role(name))?;
            // Attaching twice is no error in IAM; it stays attached once.
            if !role.attached.iter().any(|a| a == arn) {
                if role.attached.len() >= 10 {
                    return Err(AwsError::new(
                        409,
                        "LimitExceeded",
                        "Cannot exceed quota for PoliciesPerRole: 10",
                    ));
                }
                role.attached.push(arn.to_string());
            }
            ctx.commit(state, &[Touched::Role(name)])?;
            Ok(None)
        })(),
        "DetachRolePolicy" => (|| {
            let name = form.required("RoleName")?;
            let arn = form.required("PolicyArn")?;
            let mut state = ctx.store.lock();
            let role = state
                .roles
                .get_mut(name)
                .ok_or_else(|| no_such_role(name))?;
            let before = role.attached.len();
            role.attached.retain(|a| a != arn);
            if role.attached.len() == before {
                return Err(AwsError::new(
                    404,
                    "NoSuchEntity",
                    format!("Policy {arn} was not found."),
                ));
            }
            ctx.commit(state, &[Touched::Role(name)])?;
            Ok(None)
        })(),
        "ListAttachedRolePolicies" => (|| {
            let name = form.required("RoleName")?;
            let prefix = form.path("PathPrefix")?;
            let state = ctx.store.lock();
            let role = state.roles.get(name).ok_or_else(|| no_such_role(name))?;
            let attached: Vec<PolicyView<'_>> = role
                .attached
                .iter()
                .filter_map(|arn| view(&state, arn).ok())
                .filter(|v| v.path.starts_with(prefix))
                .collect();
            let (attached, marker) = page(form, attached.iter().map(|v| (v.arn.as_str(), v)))?;
            let mut xml = Xml::fragment();
            xml.element("AttachedPolicies", |list| {
                for view in attached {
                    list.element("member", |m| {
                        m.leaf("PolicyName", view.name).leaf("PolicyArn", &view.arn);
                    });
                }
            });
            write_truncation(&mut xml, marker);
            Ok(Some(xml))
        })(),
        _ => return None,
    })
}

fn create_policy(ctx: &Ctx, form: &Form) -> ActionResult {
    let name = form.required("PolicyName")?;
    check_name("policyName", name, 128)?;
    let document = form.required("PolicyDocument")?;
    check_document(document).map_err(malformed)?;
    let path = form.path("Path")?;
    let tags = form.tags()?;
    let arn = format!("arn:aws:iam::{}:policy{path}{name}", ctx.config.account_id);
    let mut state = ctx.store.lock();
    if state
        .policies
        .values()
        .any(|p| p.name.eq_ignore_ascii_case(name))
    {
        return Err(AwsError::new(
            409,
            "EntityAlreadyExists",
            format!("A policy called {name} already exists. Duplicate names are not allowed."),
        ));
    }
    let now: DateTime<Utc> = Utc::now();
    let policy = ManagedPolicy {
        name: name.to_string(),
        id: format!("ANPA{}", random_id(17).to_ascii_uppercase()),
        arn: arn.clone(),
        path: path.to_string(),
        description: form.get("Description").map(str::to_string),
        created: now,
        updated: now,
        default_version: "v1".into(),
        versions: vec![PolicyVersion {
            id: "v1".into(),
            document: document.to_string(),
            created: now,
        }],
        next_version: 2,
        tags,
    };
    let mut xml = Xml::fragment();
    xml.element("Policy", |p| {
        write_policy(p, &customer_view(&state, &policy), true)
    });
    state.policies.insert(arn.clone(), policy);
    ctx.commit(state, &[Touched::Policy(&arn)])?;
    Ok(Some(xml))
}

fn list_policies(ctx: &Ctx, form: &Form) -> ActionResult {
    let scope = form.get("Scope").unwrap_or("All");
    if !matches!(scope, "All" | "AWS" | "Local") {
        return Err(AwsError::new(400, "ValidationError", format!("1 validation error detected: Value '{scope}' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]")));
    }
    let only_attached = form.flag("OnlyAttached", false);
    let prefix = form.path("PathPrefix")?;
    let state = ctx.store.lock();
    let mut views: Vec<PolicyView<'_>> = Vec::new();
    if scope != "Local" {
        views.extend(POLICIES.iter().map(|p| aws_view(&state, p)));
    }
    if scope != "AWS" {
        views.extend(state.policies.values().map(|p| customer_view(&state, p)));
    }
    views.retain(|v| v.path.starts_with(prefix) && (!only_attached || v.attachments > 0));
    views.sort_by(|a, b| a.arn.cmp(&b.arn));
    let (views, marker) = page(form, views.iter().map(|v| (v.arn.as_str(), v)))?;
    let mut xml = Xml::fragment();
    xml.element("Policies", |list| {
        for view in views {
            list.element("member", |m| write_policy(m, view, false));
        }
    });
    write_truncation(&mut xml, marker);
    Ok(Some(xml))
}
