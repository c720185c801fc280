//! One session of AWS clients (S3, IAM, STS, Lambda, Bedrock, bedrock-runtime) from one `aws-config`
//! load, so credentials and region resolve the standard AWS way (environment, profiles, SSO,
//! instance roles). The local emulator is the same code with an endpoint URL: no second path.

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::RequestId;
use nova_ft_data::error::{NovaError, Result};
use serde::Serialize;

/// How to reach AWS. Every field is optional: unset ones resolve as the AWS CLI resolves them.
#[derive(Debug, Clone, Default)]
pub struct SessionConfig {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    /// Static credentials (the emulator's dummy keys); otherwise the default provider chain.
    pub credentials: Option<(String, String)>,
}

/// The clients of one session.
#[derive(Debug, Clone)]
pub struct AwsSession {
    pub region: String,
    pub endpoint_url: Option<String>,
    pub s3: aws_sdk_s3::Client,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sts: aws_sdk_sts::Client,
    pub bedrock: aws_sdk_bedrock::Client,
    pub runtime: aws_sdk_bedrockruntime::Client,
    /// bedrock-runtime without the SDK's own retries: the benchmark loop retries itself, so
    /// it can count attempts, back off with jitter and adapt its concurrency.
    pub runtime_no_retry: aws_sdk_bedrockruntime::Client,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Identity {
    pub account: String,
    pub arn: String,
    pub user_id: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FoundationModelInfo {
    pub model_id: String,
    pub model_arn: String,
    pub model_name: Option<String>,
    pub provider: Option<String>,
    pub customizations: Vec<String>,
    pub inference_types: Vec<String>,
}

/// `FoundationModelInfo` from the SDK's summary or details type: the two have the same
/// accessors but no shared trait.
macro_rules! model_info {
    ($m:expr) => {{
        let m = $m;
        FoundationModelInfo {
            model_id: m.model_id().to_string(),
            model_arn: m.model_arn().to_string(),
            model_name: m.model_name().map(str::to_string),
            provider: m.provider_name().map(str::to_string),
            customizations: m
                .customizations_supported()
                .iter()
                .map(|c| c.as_str().to_string())
                .collect(),
            inference_types: m
                .inference_types_supported()
                .iter()
                .map(|c| c.as_str().to_string())
                .collect(),
        }
    }};
}

/// An SDK error as a [`NovaError::Aws`], keeping the code, request id and HTTP status.
pub fn aws_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> NovaError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_string);
    let message = err.message().map(str::to_string);
    let request_id = err.request_id().map(str::to_string);
    match (code, message) {
        (Some(code), message) => NovaError::Aws {
            operation: operation.to_string(),
            code,
            message: message.unwrap_or_default(),
            request_id,
            status,
        },
        // No service answer: the request did not get through (network, endpoint, credentials).
        (None, _) => {
            let detail = DisplayErrorContext(&err).to_string();
            if credentials_not_loaded(&err) {
                return NovaError::Aws {
                    operation: operation.to_string(),
                    code: "NoCredentials".into(),
                    message: "no AWS credentials found (environment, shared config and credentials files, SSO, container or instance role): run `aws configure` or `aws sso login`, set AWS_PROFILE, or use Session.local() / --local to run on the embedded emulator".into(),
                    request_id,
                    status,
                };
            }
            NovaError::Aws {
                operation: operation.to_string(),
                code: "ConnectionError".into(),
                message: detail,
                request_id,
                status,
            }
        }
    }
}

/// Whether the request failed because no credentials could be loaded: a
/// `CredentialsError::CredentialsNotLoaded` somewhere in the error's source chain.
fn credentials_not_loaded(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(CredentialsError::CredentialsNotLoaded(_)) =
            e.downcast_ref::<CredentialsError>()
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// Whether the service answered 404: the bucket, key, role, model or deployment is not there.
pub fn is_not_found<E>(err: &SdkError<E, HttpResponse>) -> bool {
    err.raw_response()
        .is_some_and(|r| r.status().as_u16() == 404)
}

/// A delete in idempotent clean-up: `Ok(true)` if it deleted something, `Ok(false)` if the
/// resource was already gone, the AWS error otherwise.
pub fn deleted<T, E>(
    operation: &str,
    result: std::result::Result<T, SdkError<E, HttpResponse>>,
) -> Result<bool>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if is_not_found(&err) => Ok(false),
        Err(err) => Err(aws_error(operation, err)),
    }
}

/// The one HTTPS client every SDK client (and the credential providers) uses: rustls with
/// ring's crypto, so no C TLS library is built; the system's trusted roots.
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

impl AwsSession {
    /// Load configuration and build the clients.
    pub async fn connect(config: SessionConfig) -> Result<AwsSession> {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).http_client(https_client());
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &config.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &config.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some((key, secret)) = &config.credentials {
            loader = loader.credentials_provider(aws_sdk_sts::config::Credentials::new(
                key,
                secret,
                None,
                None,
                "nova_ft-static",
            ));
        }
        let sdk = loader.load().await;
        let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| {
            NovaError::invalid("no AWS region: pass region=..., set AWS_REGION, or set region in your AWS profile (nova_ft needs us-east-1 or us-west-2 for on-demand custom models)")
        })?;
        // A custom endpoint (the emulator, LocalStack) serves buckets by path, not by host name.
        let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(config.endpoint_url.is_some())
            .build();
        Ok(AwsSession {
            region,
            endpoint_url: sdk.endpoint_url().map(str::to_string),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            iam: aws_sdk_iam::Client::new(&sdk),
            lambda: aws_sdk_lambda::Client::new(&sdk),
            sts: aws_sdk_sts::Client::new(&sdk),
            bedrock: aws_sdk_bedrock::Client::new(&sdk),
            runtime: aws_sdk_bedrockruntime::Client::new(&sdk),
            runtime_no_retry: aws_sdk_bedrockruntime::Client::from_conf(
                aws_sdk_bedrockruntime::config::Builder::from(&sdk)
                    .retry_config(aws_config::retry::RetryConfig::disabled())
                    .build(),
            ),
        })
    }

    pub async fn caller_identity(&self) -> Result<Identity> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| aws_error("GetCallerIdentity", e))?;
        Ok(Identity {
            account: out.account().unwrap_or_default().to_string(),
            arn: out.arn().unwrap_or_default().to_string(),
            user_id: out.user_id().unwrap_or_default().to_string(),
        })
    }

    /// Foundation models, optionally only those that support a customization type.
    pub async fn foundation_models(
        &self,
        customization: Option<&str>,
    ) -> Result<Vec<FoundationModelInfo>> {
        let mut request = self.bedrock.list_foundation_models();
        if let Some(kind) = customization {
            request = request
                .by_customization_type(aws_sdk_bedrock::types::ModelCustomization::from(kind));
        }
        let out = request
            .send()
            .await
            .map_err(|e| aws_error("ListFoundationModels", e))?;
        Ok(out
            .model_summaries()
            .iter()
            .map(|m| model_info!(m))
            .collect())
    }

    /// One foundation model by id or ARN.
    pub async fn foundation_model(&self, model_id: &str) -> Result<FoundationModelInfo> {
        let out = self
            .bedrock
            .get_foundation_model()
            .model_identifier(model_id)
            .send()
            .await
            .map_err(|e| aws_error("GetFoundationModel", e))?;
        let m = out.model_details().ok_or_else(|| {
            NovaError::unexpected(format!(
                "GetFoundationModel returned no details for {model_id}"
            ))
        })?;
        Ok(model_info!(m))
    }
}
