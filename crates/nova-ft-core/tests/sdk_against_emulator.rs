//! The official AWS SDK for Rust against the local emulator: the tutorial's steps, and the
//! errors typed as the SDK types them. (boto3 and the AWS CLI are tested from Python.)

use aws_sdk_bedrock::types::{
    CustomizationType, OutputDataConfig, TrainingDataConfig, ValidationDataConfig, Validator,
};
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, InferenceConfiguration, Message, SystemContentBlock,
};
use aws_sdk_s3::primitives::ByteStream;
use nova_ft_data::dataset::{to_jsonl, Dataset};
use nova_ft_emulator::server::{start, RunningEmulator};
use nova_ft_emulator::EmulatorConfig;
use std::time::Duration;

async fn emulator() -> RunningEmulator {
    let config = EmulatorConfig {
        deployment_delay: Duration::from_millis(100),
        job_step_delay: Duration::from_millis(10),
        ..EmulatorConfig::default()
    };
    start(config).await.expect("emulator starts")
}

async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(nova_ft_core::aws::https_client())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .load()
        .await
}

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"bedrock.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:ListBucket"],"Resource":["arn:aws:s3:::rust-sdk","arn:aws:s3:::rust-sdk/training-data/*","arn:aws:s3:::rust-sdk/validation-data/*","arn:aws:s3:::rust-sdk/output-data/*"]}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_with_the_rust_sdk() {
    let emu = emulator().await;
    let sdk = sdk_config(&emu.endpoint_url()).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let iam = aws_sdk_iam::Client::new(&sdk);
    let sts = aws_sdk_sts::Client::new(&sdk);
    let bedrock = aws_sdk_bedrock::Client::new(&sdk);
    let runtime = aws_sdk_bedrockruntime::Client::new(&sdk);

    let identity = sts.get_caller_identity().send().await.unwrap();
    assert_eq!(identity.account(), Some("123456789012"));

    // Storage: the Rust SDK sends checksummed bodies; the emulator must take them as S3 does.
    s3.create_bucket().bucket("rust-sdk").send().await.unwrap();
    let data = Dataset::synthetic(7, 800, 100, 0, None);
    let train = to_jsonl(data.split("train").unwrap());
    let valid = to_jsonl(data.split("valid").unwrap());
    s3.put_object()
        .bucket("rust-sdk")
        .key("training-data/train.jsonl")
        .body(ByteStream::from(train.clone()))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("rust-sdk")
        .key("validation-data/valid.jsonl")
        .body(ByteStream::from(valid))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_object()
        .bucket("rust-sdk")
        .key("training-data/train.jsonl")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        train.as_slice()
    );
    let listed = s3
        .list_objects_v2()
        .bucket("rust-sdk")
        .prefix("training-data/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, vec!["training-data/train.jsonl"]);

    let role = iam
        .create_role()
        .role_name("RustSdkRole")
        .assume_role_policy_document(TRUST)
        .send()
        .await
        .unwrap();
    let role_arn = role.role().unwrap().arn().to_string();
    iam.put_role_policy()
        .role_name("RustSdkRole")
        .policy_name("s3-scoped")
        .policy_document(POLICY)
        .send()
        .await
        .unwrap();

    let models = bedrock
        .list_foundation_models()
        .by_customization_type(aws_sdk_bedrock::types::ModelCustomization::FineTuning)
        .send()
        .await
        .unwrap();
    assert!(models
        .model_summaries()
        .iter()
        .any(|m| m.model_id() == "amazon.nova-micro-v1:0:128k"));

    let job = bedrock
        .create_model_customization_job()
        .job_name("rust-sdk-job")
        .custom_model_name("rust-sdk-model")
        .role_arn(&role_arn)
        .base_model_identifier("amazon.nova-micro-v1:0:128k")
        .customization_type(CustomizationType::FineTuning)
        .training_data_config(
            TrainingDataConfig::builder()
                .s3_uri("s3://rust-sdk/training-data/train.jsonl")
                .build(),
        )
        .validation_data_config(
            ValidationDataConfig::builder()
                .validators(
                    Validator::builder()
                        .s3_uri("s3://rust-sdk/validation-data/valid.jsonl")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .output_data_config(
            OutputDataConfig::builder()
                .s3_uri("s3://rust-sdk/output-data/")
                .build()
                .unwrap(),
        )
        .hyper_parameters("epochCount", "3")
        .hyper_parameters("learningRate", "0.00001")
        .hyper_parameters("learningRateWarmupSteps", "10")
        .send()
        .await
        .unwrap();
    let job_arn = job.job_arn().to_string();
    let model_arn = loop {
        let j = bedrock
            .get_model_customization_job()
            .job_identifier(&job_arn)
            .send()
            .await
            .unwrap();
        match j.status().map(|s| s.as_str()) {
            Some("InProgress") => tokio::time::sleep(Duration::from_millis(20)).await,
            Some("Completed") => break j.output_model_arn().unwrap().to_string(),
            other => panic!("job ended {other:?}: {:?}", j.failure_message()),
        }
    };

    let deployment = bedrock
        .create_custom_model_deployment()
        .model_deployment_name("rust-sdk-od")
        .model_arn(&model_arn)
        .send()
        .await
        .unwrap();
    let deployment_arn = deployment.custom_model_deployment_arn().to_string();
    loop {
        let d = bedrock
            .get_custom_model_deployment()
            .custom_model_deployment_identifier(&deployment_arn)
            .send()
            .await
            .unwrap();
        if d.status().as_str() == "Active" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let answer = runtime
        .converse()
        .model_id(&deployment_arn)
        .system(SystemContentBlock::Text(
            nova_ft_data::dataset::synth::SYSTEM_PROMPT.into(),
        ))
        .messages(
            Message::builder()
                .role(ConversationRole::User)
                .content(ContentBlock::Text(
                    "show me flights from boston to denver".into(),
                ))
                .build()
                .unwrap(),
        )
        .inference_config(
            InferenceConfiguration::builder()
                .max_tokens(8)
                .temperature(0.0)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let text = answer.output().unwrap().as_message().unwrap().content()[0]
        .as_text()
        .unwrap()
        .clone();
    assert_eq!(text, "flight");
    assert!(answer.usage().unwrap().input_tokens() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_arrive_typed_as_the_sdk_expects() {
    let emu = emulator().await;
    let sdk = sdk_config(&emu.endpoint_url()).await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let err = iam
        .get_role()
        .role_name("missing")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_no_such_entity_exception(), "{err:?}");

    let bedrock = aws_sdk_bedrock::Client::new(&sdk);
    let err = bedrock
        .get_model_customization_job()
        .job_identifier("missing")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");

    let runtime = aws_sdk_bedrockruntime::Client::new(&sdk);
    let err = runtime
        .converse()
        .model_id("amazon.nova-micro-v1:0:128k")
        .messages(
            Message::builder()
                .role(ConversationRole::User)
                .content(ContentBlock::Text("hi".into()))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let err = s3
        .get_object()
        .bucket("missing-bucket")
        .key("k")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        err.to_string().contains("NoSuchBucket") || format!("{err:?}").contains("NoSuchBucket"),
        "{err:?}"
    );
}
