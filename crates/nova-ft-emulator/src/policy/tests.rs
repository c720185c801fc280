//! Policy evaluation: the statements, trust, and IAM's documented condition examples.
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
    ctx.insert("aws:SourceAccount", "123456789012");
    ctx.insert(
        "aws:SourceArn",
        "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/abc",
    );
    assert!(trusts_service(&trust, "bedrock.amazonaws.com", &ctx));
    assert!(!trusts_service(&trust, "sagemaker.amazonaws.com", &ctx));
    ctx.insert("aws:SourceAccount", "999999999999");
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
            context.insert("aws:SourceAccount", "123456789012");
            let _ = allows(&[&document], &action, &resource, &context);
            let _ = trusts_service(&document, "bedrock.amazonaws.com", &context);
        }
    }
}

/// Whether a one-statement Allow policy with `condition` allows a request with `context`.
fn allowed_with(condition: serde_json::Value, context: &Context) -> bool {
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition
    }]});
    allows(&[&policy], "s3:GetObject", "arn:aws:s3:::b/k", context)
}

fn context(pairs: &[(&str, &str)]) -> Context {
    let mut context = Context::new();
    for (key, value) in pairs {
        context.insert(key, *value);
    }
    context
}

#[test]
fn arn_equals_takes_wildcards_in_each_part_like_the_bedrock_user_guide() {
    // The Bedrock user guide's trust policy for customization jobs.
    let guide = json!({"StringEquals": {"aws:SourceAccount": "111122223333"},
        "ArnEquals": {"aws:SourceArn": "arn:aws:bedrock:us-east-1:111122223333:model-customization-job/*"}});
    let job = "arn:aws:bedrock:us-east-1:111122223333:model-customization-job/abc123";
    let ctx = context(&[
        ("aws:SourceAccount", "111122223333"),
        ("aws:SourceArn", job),
    ]);
    assert!(allowed_with(guide.clone(), &ctx));
    let other_region = context(&[
        ("aws:SourceAccount", "111122223333"),
        ("aws:SourceArn", &job.replace("us-east-1", "eu-west-1")),
    ]);
    assert!(!allowed_with(guide, &other_region));
    // A wildcard stays inside its part: `*` in the region part does not swallow colons.
    let region_wildcard = json!({"ArnLike": {"aws:SourceArn": "arn:aws:bedrock:*:111122223333:model-customization-job/*"}});
    assert!(allowed_with(region_wildcard.clone(), &ctx));
    let nested = context(&[(
        "aws:SourceArn",
        "arn:aws:bedrock:us-east-1:extra:999:model-customization-job/x",
    )]);
    assert!(!allowed_with(region_wildcard, &nested));
    assert!(!allowed_with(
        json!({"ArnNotEquals": {"aws:SourceArn": "arn:aws:bedrock:*:*:model-customization-job/*"}}),
        &ctx
    ));
}

#[test]
fn string_operators_with_ignore_case_like_and_if_exists() {
    let ctx = context(&[("aws:PrincipalTag/department", "Finance")]);
    assert!(!allowed_with(
        json!({"StringEquals": {"aws:PrincipalTag/department": "finance"}}),
        &ctx
    ));
    assert!(allowed_with(
        json!({"StringEqualsIgnoreCase": {"aws:PrincipalTag/department": "finance"}}),
        &ctx
    ));
    assert!(allowed_with(
        json!({"StringLike": {"aws:PrincipalTag/department": "Fin*"}}),
        &ctx
    ));
    assert!(allowed_with(
        json!({"StringNotEquals": {"aws:PrincipalTag/department": ["HR", "Legal"]}}),
        &ctx
    ));
    assert!(!allowed_with(
        json!({"StringNotEquals": {"aws:PrincipalTag/department": ["HR", "Finance"]}}),
        &ctx
    ));
    // Keys are case-insensitive; an absent key fails a positive operator unless IfExists.
    assert!(allowed_with(
        json!({"StringEquals": {"AWS:PRINCIPALTAG/DEPARTMENT": "Finance"}}),
        &ctx
    ));
    let empty = Context::new();
    assert!(!allowed_with(
        json!({"StringEquals": {"ec2:InstanceType": "t2.micro"}}),
        &empty
    ));
    assert!(allowed_with(
        json!({"StringEqualsIfExists": {"ec2:InstanceType": ["t2.micro", "t2.small"]}}),
        &empty
    ));
    assert!(allowed_with(
        json!({"StringNotLike": {"ec2:InstanceType": "*.large"}}),
        &empty
    ));
}

#[test]
fn numeric_date_bool_null_binary_and_ip_operators() {
    // IAM's examples: s3:max-keys at most 10; a date window on aws:CurrentTime; HTTPS only;
    // temporary credentials only (Null aws:TokenIssueTime); a source IP range.
    let ctx = context(&[
        ("s3:max-keys", "10"),
        ("aws:CurrentTime", "2020-06-30T12:00:00Z"),
        ("aws:EpochTime", "1593518400"),
        ("aws:SecureTransport", "true"),
        ("aws:SourceIp", "203.0.113.7"),
        ("aws:SourceIpV6", "2001:db8::1"),
    ]);
    assert!(allowed_with(
        json!({"NumericLessThanEquals": {"s3:max-keys": "10"}}),
        &ctx
    ));
    assert!(!allowed_with(
        json!({"NumericLessThan": {"s3:max-keys": 10}}),
        &ctx
    ));
    assert!(!allowed_with(
        json!({"NumericEquals": {"s3:max-keys": "ten"}}),
        &ctx
    ));
    assert!(allowed_with(
        json!({"DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
               "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"}}),
        &ctx
    ));
    assert!(!allowed_with(
        json!({"DateGreaterThan": {"aws:CurrentTime": "2020-07-01"}}),
        &ctx
    ));
    assert!(allowed_with(
        json!({"DateGreaterThanEquals": {"aws:EpochTime": "2020-06-30T12:00:00Z"}}),
        &ctx
    ));
    assert!(allowed_with(
        json!({"Bool": {"aws:SecureTransport": "true"}}),
        &ctx
    ));
    assert!(allowed_with(
        json!({"Null": {"aws:TokenIssueTime": "true", "aws:SourceIp": "false"}}),
        &ctx
    ));
    assert!(!allowed_with(
        json!({"Null": {"aws:TokenIssueTime": "false"}}),
        &ctx
    ));
    assert!(allowed_with(
        json!({"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]}}),
        &ctx
    ));
    assert!(!allowed_with(
        json!({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
        &ctx
    ));
    assert!(allowed_with(
        json!({"IpAddress": {"aws:SourceIpV6": "2001:db8::/32"}}),
        &ctx
    ));
    let binary = context(&[("key", "QmluYXJ5VmFsdWVJbkJhc2U2NA==")]);
    assert!(allowed_with(
        json!({"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}),
        &binary
    ));
    // A Deny on insecure transport (IAM's example) does not deny an HTTPS request.
    let deny = json!({"Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]});
    assert!(allows(&[&deny], "s3:GetObject", "arn:aws:s3:::b/k", &ctx));
    let insecure = context(&[("aws:SecureTransport", "false")]);
    assert!(!allows(
        &[&deny],
        "s3:GetObject",
        "arn:aws:s3:::b/k",
        &insecure
    ));
}

#[test]
fn set_operators_over_multivalued_keys() {
    // IAM's example: only the tag keys environment and cost-center may be sent.
    let only =
        json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}});
    let mut ctx = Context::new();
    ctx.insert_all("aws:TagKeys", ["environment".to_string()]);
    assert!(allowed_with(only.clone(), &ctx));
    ctx.insert_all(
        "aws:TagKeys",
        ["environment".to_string(), "owner".to_string()],
    );
    assert!(!allowed_with(only.clone(), &ctx));
    // ForAllValues passes when the key is absent; ForAnyValue does not.
    assert!(allowed_with(only, &Context::new()));
    let any = json!({"ForAnyValue:StringEquals": {"aws:TagKeys": ["owner"]}});
    assert!(allowed_with(any.clone(), &ctx));
    assert!(!allowed_with(any, &Context::new()));
    let none_of = json!({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret", "owner"]}});
    assert!(!allowed_with(none_of.clone(), &ctx));
    ctx.insert_all("aws:TagKeys", ["environment".to_string()]);
    assert!(allowed_with(none_of, &ctx));
}

#[test]
fn unknown_operators_and_malformed_blocks_never_grant() {
    let ctx = context(&[("aws:SourceAccount", "1")]);
    for condition in [
        json!({"StringEqualz": {"aws:SourceAccount": "1"}}),
        json!({"StringEquals": "aws:SourceAccount"}),
        json!({"StringEquals": {"aws:SourceAccount": {"nested": 1}}}),
        json!("StringEquals"),
        json!({"DateLessThan": {"aws:SourceAccount": "not a date"}}),
        json!({"IpAddress": {"aws:SourceAccount": "10.0.0.0/99"}}),
    ] {
        assert!(!allowed_with(condition.clone(), &ctx), "{condition}");
    }
}
