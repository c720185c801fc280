use super::checks::{
    check_hyperparameters, check_job_name, check_model_name, check_role_arn, check_s3_uri,
};
use std::collections::BTreeMap;

#[test]
fn names_uris_and_arns_follow_bedrock_patterns() {
    assert!(check_job_name("jobName", "nova-micro-intent-sft").is_ok());
    assert!(check_job_name("jobName", "-bad").is_err());
    assert!(check_model_name("customModelName", "nova-micro-intent").is_ok());
    assert!(check_model_name("customModelName", "has.dot").is_err());
    assert!(check_model_name("customModelName", "double--dash").is_err());
    assert_eq!(
        check_s3_uri("f", "s3://bucket-1/training-data/train.jsonl").unwrap(),
        ("bucket-1".into(), "training-data/train.jsonl".into())
    );
    assert!(
        check_s3_uri("f", "s3://bucket-1/out/2025-07-20T12:00:00/").is_err(),
        "colons are not allowed in keys"
    );
    assert!(check_s3_uri("f", "s3://Bucket/x").is_err());
    assert!(check_role_arn("arn:aws:iam::123456789012:role/BedrockNovaFineTune").is_ok());
    assert!(check_role_arn("arn:aws:s3:::bucket").is_err());
}

#[test]
fn nova_hyperparameters_are_checked_by_name_and_range() {
    let ok: BTreeMap<String, String> = [
        ("epochCount", "3"),
        ("learningRate", "0.00001"),
        ("learningRateWarmupSteps", "10"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert!(check_hyperparameters(&ok).is_ok());
    let wrong_key: BTreeMap<String, String> =
        [("learningRateMultiplier".to_string(), "1.0".to_string())].into();
    let err = check_hyperparameters(&wrong_key).unwrap_err();
    assert!(err.message.contains("learningRate") && err.message.contains("epochCount"));
    for (k, v) in [
        ("epochCount", "6"),
        ("epochCount", "2.5"),
        ("learningRate", "0.01"),
        ("learningRateWarmupSteps", "-1"),
    ] {
        let bad: BTreeMap<String, String> = [(k.to_string(), v.to_string())].into();
        assert!(check_hyperparameters(&bad).is_err(), "{k}={v}");
    }
}
