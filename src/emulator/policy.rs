//! IAM policy documents, evaluated for real: a job runs as its role, so the role must trust
//! `bedrock.amazonaws.com` and its policies must allow the S3 reads and writes the job makes.
//! That is where the tutorial's most common failure (AccessDenied on the training data) comes
//! from, so the emulator reproduces it instead of letting everything through.
//!
//! Supported: `Effect`, `Action`/`NotAction`, `Resource`/`NotResource`, `Principal` (for trust
//! policies), and the condition operators `String(Not)Equals`, `String(Not)Like`,
//! `Arn(Not)Equals`, `Arn(Not)Like`. Explicit Deny wins; anything not allowed is denied.
//! A condition operator outside that list never matches, so it cannot grant access by mistake.

use serde_json::Value;
use std::collections::BTreeMap;

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

/// Context keys for conditions (`aws:SourceAccount`, `aws:SourceArn`, ...).
pub type Context = BTreeMap<String, String>;

fn conditions_hold(statement: &Value, context: &Context) -> bool {
    let Some(Value::Object(operators)) = statement.get("Condition") else {
        return true;
    };
    operators.iter().all(|(operator, keys)| {
        let Value::Object(keys) = keys else {
            return false;
        };
        keys.iter().all(|(key, expected)| {
            let expected = strings(Some(expected));
            let actual = context
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str());
            let (negated, like, base) = match operator.as_str() {
                "StringEquals" | "ArnEquals" => (false, false, true),
                "StringNotEquals" | "ArnNotEquals" => (true, false, true),
                "StringLike" | "ArnLike" => (false, true, true),
                "StringNotLike" | "ArnNotLike" => (true, true, true),
                _ => (false, false, false),
            };
            if !base {
                return false;
            }
            let Some(actual) = actual else { return negated };
            let hit = expected.iter().any(|e| {
                if like {
                    wildcard_match(e, actual, false)
                } else {
                    *e == actual
                }
            });
            hit != negated
        })
    })
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
    action_ok && resource_ok && conditions_hold(statement, context)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_match_like_iam() {
        assert!(wildcard_match(
            "arn:aws:s3:::b/training-data/*",
            "arn:aws:s3:::b/training-data/train.jsonl",
            false
        ));
        assert!(!wildcard_match(
            "arn:aws:s3:::b/training-data/*",
            "arn:aws:s3:::b/train.jsonl",
            false
        ));
        assert!(wildcard_match("s3:Get*", "s3:getobject", true));
        assert!(wildcard_match("a?c", "abc", false));
        assert!(wildcard_match("*", "", false));
    }

    #[test]
    fn the_tutorials_scoped_policy_allows_exactly_its_prefixes() {
        let policy = json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/training-data/*", "arn:aws:s3:::b/validation-data/*", "arn:aws:s3:::b/output-data/*"]
        }]});
        let ctx = Context::new();
        assert!(allows(
            &[&policy],
            "s3:GetObject",
            "arn:aws:s3:::b/training-data/train.jsonl",
            &ctx
        ));
        assert!(allows(
            &[&policy],
            "s3:PutObject",
            "arn:aws:s3:::b/output-data/x/metrics.csv",
            &ctx
        ));
        assert!(!allows(
            &[&policy],
            "s3:GetObject",
            "arn:aws:s3:::b/data/train.jsonl",
            &ctx
        ));
        assert!(!allows(
            &[&policy],
            "s3:DeleteObject",
            "arn:aws:s3:::b/training-data/train.jsonl",
            &ctx
        ));
        let deny = json!({"Statement": {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}});
        assert!(!allows(
            &[&policy, &deny],
            "s3:GetObject",
            "arn:aws:s3:::b/training-data/train.jsonl",
            &ctx
        ));
    }

    #[test]
    fn trust_policy_checks_principal_and_conditions() {
        let trust = json!({"Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": "123456789012"},
                "ArnLike": {"aws:SourceArn": "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/*"}
            }
        }]});
        let mut ctx = Context::new();
        ctx.insert("aws:SourceAccount".into(), "123456789012".into());
        ctx.insert(
            "aws:SourceArn".into(),
            "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/abc".into(),
        );
        assert!(trusts_service(&trust, "bedrock.amazonaws.com", &ctx));
        assert!(!trusts_service(&trust, "sagemaker.amazonaws.com", &ctx));
        ctx.insert("aws:SourceAccount".into(), "999999999999".into());
        assert!(!trusts_service(&trust, "bedrock.amazonaws.com", &ctx));
    }

    #[test]
    fn malformed_documents_are_named() {
        assert!(check_document("{")
            .unwrap_err()
            .starts_with("Syntax errors"));
        assert_eq!(
            check_document("{}").unwrap_err(),
            "Missing required field Statement"
        );
        assert!(check_document(r#"{"Statement": [{"Effect": "Maybe"}]}"#).is_err());
    }

    mod properties {
        use super::super::{allows, trusts_service, Context};
        use proptest::prelude::*;
        use serde_json::{json, Value};

        /// JSON values shaped like policy parts, with wrong types where they hurt most.
        fn part() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(json!("*")),
                Just(json!("s3:GetObject")),
                Just(json!("arn:aws:s3:::b/*")),
                Just(json!("Allow")),
                Just(json!("Deny")),
                "\\PC{0,10}".prop_map(Value::String),
                any::<i64>().prop_map(|n| json!(n)),
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    proptest::collection::btree_map(
                        prop_oneof![
                            Just("Effect".to_string()),
                            Just("Action".to_string()),
                            Just("NotAction".to_string()),
                            Just("Resource".to_string()),
                            Just("Principal".to_string()),
                            Just("Service".to_string()),
                            Just("Condition".to_string()),
                            Just("StringEquals".to_string()),
                            Just("ArnLike".to_string()),
                            Just("aws:SourceAccount".to_string()),
                            "\\PC{0,8}",
                        ],
                        inner,
                        0..4,
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn any_policy_is_evaluated_without_panicking(statement in part(), action in "\\PC{0,20}", resource in "\\PC{0,30}") {
                let document = json!({"Version": "2012-10-17", "Statement": statement});
                let mut context = Context::new();
                context.insert("aws:SourceAccount".into(), "123456789012".into());
                let _ = allows(&[&document], &action, &resource, &context);
                let _ = trusts_service(&document, "bedrock.amazonaws.com", &context);
            }
        }
    }
}
