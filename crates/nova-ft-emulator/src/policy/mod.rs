//! IAM policy documents, evaluated for real: a job runs as its role, so the role must trust
//! `bedrock.amazonaws.com` and its policies must allow the S3 reads and writes the job makes.
//! That is where the tutorial's most common failure (AccessDenied on the training data) comes
//! from, so the emulator reproduces it instead of letting everything through.
//!
//! Supported: `Effect`, `Action`/`NotAction`, `Resource`/`NotResource`, `Principal` (for trust
//! policies), and every condition operator IAM defines (`conditions`). Explicit Deny wins;
//! anything not allowed is denied.

mod conditions;
#[cfg(test)]
mod tests;

use conditions::conditions_hold;
pub use conditions::Context;
use serde_json::Value;

/// Why a document is not a policy, in IAM's words where possible.
pub fn check_document(text: &str) -> Result<Value, String> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| format!("Syntax errors in policy. ({e})"))?;
    let statements = statements(&doc).ok_or("Missing required field Statement")?;
    for statement in statements {
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow" | "Deny") => {}
            Some(other) => return Err(format!("Invalid effect: {other}")),
            None => return Err("Missing required field Effect".into()),
        }
    }
    Ok(doc)
}

fn statements(doc: &Value) -> Option<Vec<&Value>> {
    match doc.get("Statement")? {
        Value::Array(items) => Some(items.iter().collect()),
        item @ Value::Object(_) => Some(vec![item]),
        _ => None,
    }
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// IAM wildcard match: `*` any run, `?` any one character.
pub fn wildcard_match(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if case_insensitive {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    // Iterative glob matching with backtracking to the last `*`.
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn matches_any(patterns: &[&str], text: &str, case_insensitive: bool) -> bool {
    patterns
        .iter()
        .any(|p| wildcard_match(p, text, case_insensitive))
}

fn statement_applies(
    statement: &Value,
    action: &str,
    resource: Option<&str>,
    context: &Context,
) -> bool {
    let action_ok = if statement.get("NotAction").is_some() {
        !matches_any(&strings(statement.get("NotAction")), action, true)
    } else {
        matches_any(&strings(statement.get("Action")), action, true)
    };
    let resource_ok = match resource {
        None => true,
        Some(resource) if statement.get("NotResource").is_some() => {
            !matches_any(&strings(statement.get("NotResource")), resource, false)
        }
        Some(resource) => matches_any(&strings(statement.get("Resource")), resource, false),
    };
    action_ok && resource_ok && conditions_hold(statement.get("Condition"), context)
}

/// IAM's decision over the statements that apply: an explicit Deny wins, then any Allow;
/// nothing allows by default.
fn decide<'a>(applicable: impl Iterator<Item = &'a Value>) -> bool {
    let mut allowed = false;
    for statement in applicable {
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Deny") => return false,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    allowed
}

/// Whether the policy documents together allow `action` on `resource`.
pub fn allows(documents: &[&Value], action: &str, resource: &str, context: &Context) -> bool {
    decide(
        documents
            .iter()
            .flat_map(|doc| statements(doc).unwrap_or_default())
            .filter(|statement| statement_applies(statement, action, Some(resource), context)),
    )
}

/// Whether a trust policy lets `service` (e.g. `bedrock.amazonaws.com`) assume the role.
pub fn trusts_service(trust: &Value, service: &str, context: &Context) -> bool {
    let names_service = |statement: &Value| match statement.get("Principal") {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(p)) => {
            strings(p.get("Service")).contains(&service) || strings(p.get("AWS")).contains(&"*")
        }
        _ => false,
    };
    decide(
        statements(trust)
            .unwrap_or_default()
            .into_iter()
            .filter(|statement| {
                names_service(statement)
                    && statement_applies(statement, "sts:AssumeRole", None, context)
            }),
    )
}
