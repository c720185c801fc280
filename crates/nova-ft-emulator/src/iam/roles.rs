//! Roles: create, read, list, update, tag and delete them, and their inline policies.

use super::form::{check_name, page, write_tags, write_truncation, Form};
use super::{encode_policy, malformed, no_such_role, ActionResult};
use crate::policy::check_document;
use crate::state::Role;
use crate::store::Touched;
use crate::wire::{iso_seconds, random_id, AwsError};
use crate::xml_writer::Xml;
use crate::Ctx;
use chrono::Utc;
use std::collections::BTreeMap;

/// The fields of a role, as GetRole and ListRoles write them.
fn write_role(xml: &mut Xml, role: &Role) {
    xml.leaf("Path", &role.path)
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
    if !role.tags.is_empty() {
        write_tags(xml, &role.tags);
    }
}

fn role_xml(role: &Role) -> Xml {
    let mut xml = Xml::fragment();
    xml.element("Role", |r| write_role(r, role));
    xml
}

fn no_such_inline(policy_name: &str) -> AwsError {
    AwsError::new(
        404,
        "NoSuchEntity",
        format!("The role policy with name {policy_name} cannot be found."),
    )
}

fn max_session_duration(form: &Form) -> Result<Option<u32>, AwsError> {
    let Some(value) = form.get("MaxSessionDuration") else {
        return Ok(None);
    };
    match value.parse::<u32>() {
        Ok(seconds) if (3600..=43200).contains(&seconds) => Ok(Some(seconds)),
        _ => Err(AwsError::new(400, "ValidationError", format!("1 validation error detected: Value '{value}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value between 3600 and 43200"))),
    }
}

/// Merge tags into a role's: a key already there takes the new value (TagRole).
fn merge_tags(
    tags: &mut Vec<(String, String)>,
    new: Vec<(String, String)>,
) -> Result<(), AwsError> {
    for (key, value) in new {
        match tags.iter_mut().find(|(k, _)| *k == key) {
            Some(existing) => existing.1 = value,
            None => tags.push((key, value)),
        }
    }
    if tags.len() > 50 {
        return Err(AwsError::new(
            400,
            "LimitExceeded",
            "The number of tags has reached the maximum limit of 50.",
        ));
    }
    Ok(())
}

/// The role actions; `None` when `action` is not one of them.
pub(super) fn handle(ctx: &Ctx, action: &str, form: &Form) -> Option<ActionResult> {
    Some(match action {
        "CreateRole" => create_role(ctx, form),
        "GetRole" => (|| {
            let name = form.required("RoleName")?;
            let state = ctx.store.lock();
            let role = state.roles.get(name).ok_or_else(|| no_such_role(name))?;
            Ok(Some(role_xml(role)))
        })(),
        "ListRoles" => (|| {
            let prefix = form.path("PathPrefix")?;
            let state = ctx.store.lock();
            let roles = state
                .roles
                .iter()
                .filter(|(_, r)| r.path.starts_with(prefix))
                .map(|(name, role)| (name.as_str(), role));
            let (roles, marker) = page(form, roles)?;
            let mut xml = Xml::fragment();
            xml.element("Roles", |list| {
                for role in roles {
                    list.element("member", |m| write_role(m, role));
                }
            });
            write_truncation(&mut xml, marker);
            Ok(Some(xml))
        })(),
        "UpdateRole" => (|| {
            let name = form.required("RoleName")?;
            let seconds = max_session_duration(form)?;
            let mut state = ctx.store.lock();
            let role = state
                .roles
                .get_mut(name)
                .ok_or_else(|| no_such_role(name))?;
            if let Some(description) = form.get("Description") {
                role.description = Some(description.to_string());
            }
            if let Some(seconds) = seconds {
                role.max_session_duration = seconds;
            }
            ctx.commit(state, &[Touched::Role(name)])?;
            Ok(Some(Xml::fragment()))
        })(),
        "UpdateAssumeRolePolicy" => (|| {
            let name = form.required("RoleName")?;
            let trust = form.required("PolicyDocument")?;
            check_document(trust).map_err(malformed)?;
            let mut state = ctx.store.lock();
            let role = state
                .roles
                .get_mut(name)
                .ok_or_else(|| no_such_role(name))?;
            role.assume_role_policy = trust.to_string();
            ctx.commit(state, &[Touched::Role(name)])?;
            Ok(None)
        })(),
        "DeleteRole" => (|| {
            let name = form.required("RoleName")?;
            let mut state = ctx.store.lock();
            let role = state.roles.get(name).ok_or_else(|| no_such_role(name))?;
            if !role.attached.is_empty() {
                return Err(AwsError::new(
                    409,
                    "DeleteConflict",
                    "Cannot delete entity, must detach all policies first.",
                ));
            }
            if !role.policies.is_empty() {
                return Err(AwsError::new(
                    409,
                    "DeleteConflict",
                    "Cannot delete entity, must delete policies first.",
                ));
            }
            state.roles.remove(name);
            ctx.commit(state, &[Touched::Role(name)])?;
            Ok(None)
        })(),
        "TagRole" => (|| {
            let name = form.required("RoleName")?;
            let tags = form.tags()?;
            let mut state = ctx.store.lock();
            let role = state
                .roles
                .get_mut(name)
                .ok_or_else(|| no_such_role(name))?;
            merge_tags(&mut role.tags, tags)?;
            ctx.commit(state, &[Touched::Role(name)])?;
            Ok(None)
        })(),
        "UntagRole" => (|| {
            let name = form.required("RoleName")?;
            let keys = form.members("TagKeys");
            let mut state = ctx.store.lock();
            let role = state
                .roles
                .get_mut(name)
                .ok_or_else(|| no_such_role(name))?;
            role.tags.retain(|(k, _)| !keys.contains(&k.as_str()));
            ctx.commit(state, &[Touched::Role(name)])?;
            Ok(None)
        })(),
        "ListRoleTags" => (|| {
            let name = form.required("RoleName")?;
            let state = ctx.store.lock();
            let role = state.roles.get(name).ok_or_else(|| no_such_role(name))?;
            let mut xml = Xml::fragment();
            write_tags(&mut xml, &role.tags);
            xml.leaf("IsTruncated", false);
            Ok(Some(xml))
        })(),
        "PutRolePolicy" => (|| {
            let name = form.required("RoleName")?;
            let policy_name = form.required("PolicyName")?;
            check_name("policyName", policy_name, 128)?;
            let document = form.required("PolicyDocument")?;
            check_document(document).map_err(malformed)?;
            let mut state = ctx.store.lock();
            let role = state
                .roles
                .get_mut(name)
                .ok_or_else(|| no_such_role(name))?;
            role.policies
                .insert(policy_name.to_string(), document.to_string());
            ctx.commit(state, &[Touched::Role(name)])?;
            Ok(None)
        })(),
        "GetRolePolicy" => (|| {
            let name = form.required("RoleName")?;
            let policy_name = form.required("PolicyName")?;
            let state = ctx.store.lock();
            let role = state.roles.get(name).ok_or_else(|| no_such_role(name))?;
            let document = role
                .policies
                .get(policy_name)
                .ok_or_else(|| no_such_inline(policy_name))?;
            let mut xml = Xml::fragment();
            xml.leaf("RoleName", name)
                .leaf("PolicyName", policy_name)
                .leaf("PolicyDocument", encode_policy(document));
            Ok(Some(xml))
        })(),
        "DeleteRolePolicy" => (|| {
            let name = form.required("RoleName")?;
            let policy_name = form.required("PolicyName")?;
            let mut state = ctx.store.lock();
            let role = state
                .roles
                .get_mut(name)
                .ok_or_else(|| no_such_role(name))?;
            if role.policies.remove(policy_name).is_none() {
                return Err(no_such_inline(policy_name));
            }
            ctx.commit(state, &[Touched::Role(name)])?;
            Ok(None)
        })(),
        "ListRolePolicies" => (|| {
            let name = form.required("RoleName")?;
            let state = ctx.store.lock();
            let role = state.roles.get(name).ok_or_else(|| no_such_role(name))?;
            let names = role.policies.keys().map(|k| (k.as_str(), k.as_str()));
            let (names, marker) = page(form, names)?;
            let mut xml = Xml::fragment();
            xml.element("PolicyNames", |list| {
                for policy in names {
                    list.leaf("member", policy);
                }
            });
            write_truncation(&mut xml, marker);
            Ok(Some(xml))
        })(),
        _ => return None,
    })
}

fn create_role(ctx: &Ctx, form: &Form) -> ActionResult {
    let name = form.required("RoleName")?;
    check_name("roleName", name, 64)?;
    let trust = form.required("AssumeRolePolicyDocument")?;
    check_document(trust).map_err(malformed)?;
    let path = form.path("Path")?;
    let tags = form.tags()?;
    let seconds = max_session_duration(form)?;
    let mut state = ctx.store.lock();
    // Role names are unique whatever their case, as in IAM.
    if state.roles.keys().any(|k| k.eq_ignore_ascii_case(name)) {
        return Err(AwsError::new(
            409,
            "EntityAlreadyExists",
            format!("Role with name {name} already exists."),
        ));
    }
    let role = Role {
        name: name.to_string(),
        id: format!("AROA{}", random_id(17).to_ascii_uppercase()),
        arn: format!("arn:aws:iam::{}:role{path}{name}", ctx.config.account_id),
        path: path.to_string(),
        created: Utc::now(),
        assume_role_policy: trust.to_string(),
        description: form.get("Description").map(str::to_string),
        max_session_duration: seconds.unwrap_or(3600),
        policies: BTreeMap::new(),
        attached: Vec::new(),
        tags,
    };
    let xml = role_xml(&role);
    state.roles.insert(name.to_string(), role);
    ctx.commit(state, &[Touched::Role(name)])?;
    Ok(Some(xml))
}
