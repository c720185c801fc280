//! Which operation a request is, which operations the emulator serves, and the answer to one
//! it does not: the protocol's own error shape, with a message that names the operation.
//!
//! REST requests are named from AWS's route tables ([`super::aws_routes`], generated from
//! botocore's models); awsQuery requests name themselves (`Action=`). The served lists are the
//! coverage table in the user guide, docs/guide/emulator.md (`nova-ft emulator coverage`), and a test calls every
//! operation of every service to check that they match the router.

use super::aws_routes::{self, Route};
use super::request::{AwsRequest, Service};
use super::wire::AwsError;

/// S3 operations the emulator serves.
pub const S3: [&str; 26] = [
    "ListBuckets",
    "CreateBucket",
    "HeadBucket",
    "DeleteBucket",
    "GetBucketLocation",
    "PutPublicAccessBlock",
    "GetPublicAccessBlock",
    "DeletePublicAccessBlock",
    "PutBucketEncryption",
    "GetBucketEncryption",
    "DeleteBucketEncryption",
    "GetBucketVersioning",
    "PutBucketVersioning",
    "ListObjects",
    "ListObjectsV2",
    "ListObjectVersions",
    "DeleteObjects",
    "PutObject",
    "CopyObject",
    "GetObject",
    "HeadObject",
    "DeleteObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "AbortMultipartUpload",
];

/// Bedrock control-plane operations the emulator serves.
pub const BEDROCK: [&str; 31] = [
    "ListFoundationModels",
    "GetFoundationModel",
    "CreateModelCustomizationJob",
    "GetModelCustomizationJob",
    "ListModelCustomizationJobs",
    "StopModelCustomizationJob",
    "GetCustomModel",
    "ListCustomModels",
    "DeleteCustomModel",
    "CreateCustomModel",
    "CreateCustomModelDeployment",
    "GetCustomModelDeployment",
    "ListCustomModelDeployments",
    "DeleteCustomModelDeployment",
    "UpdateCustomModelDeployment",
    "ListInferenceProfiles",
    "GetInferenceProfile",
    "CreateProvisionedModelThroughput",
    "GetProvisionedModelThroughput",
    "ListProvisionedModelThroughputs",
    "UpdateProvisionedModelThroughput",
    "DeleteProvisionedModelThroughput",
    "CreateModelInvocationJob",
    "GetModelInvocationJob",
    "ListModelInvocationJobs",
    "StopModelInvocationJob",
    "CreateEvaluationJob",
    "GetEvaluationJob",
    "ListEvaluationJobs",
    "StopEvaluationJob",
    "BatchDeleteEvaluationJob",
];

/// bedrock-runtime operations the emulator serves.
pub const BEDROCK_RUNTIME: [&str; 4] = [
    "Converse",
    "ConverseStream",
    "InvokeModel",
    "InvokeModelWithResponseStream",
];

/// Lambda operations the emulator serves (Python functions, for RFT graders).
pub const LAMBDA: [&str; 11] = [
    "CreateFunction",
    "GetFunction",
    "GetFunctionConfiguration",
    "ListFunctions",
    "UpdateFunctionCode",
    "UpdateFunctionConfiguration",
    "DeleteFunction",
    "Invoke",
    "AddPermission",
    "GetPolicy",
    "RemovePermission",
];

/// STS operations the emulator serves.
pub const STS: [&str; 1] = ["GetCallerIdentity"];

/// Every service the emulator speaks, with the operations it serves (the coverage table).
pub fn coverage() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("s3", S3.to_vec()),
        ("iam", super::iam::ACTIONS.to_vec()),
        ("sts", STS.to_vec()),
        ("bedrock", BEDROCK.to_vec()),
        ("bedrock-runtime", BEDROCK_RUNTIME.to_vec()),
        ("lambda", LAMBDA.to_vec()),
    ]
}

/// [`coverage`] as the Markdown table the user guide shows (`nova-ft emulator coverage`,
/// `nova-ft-emulator coverage`).
pub fn coverage_markdown() -> String {
    let mut out = String::from("| service | operations served |\n|---|---|\n");
    for (service, operations) in coverage() {
        out.push_str(&format!("| `{service}` | {} |\n", operations.join(", ")));
    }
    out
}

/// Whether a request path matches a route's path pattern: `{name}` is one segment, `{name+}`
/// the rest of the path.
fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let path: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for (i, part) in pattern.iter().enumerate() {
        if part.starts_with('{') && part.ends_with("+}") {
            return path.len() > i && path[i..].iter().any(|s| !s.is_empty());
        }
        let Some(segment) = path.get(i) else {
            return false;
        };
        let is_param = part.starts_with('{') && part.ends_with('}');
        if (is_param && segment.is_empty()) || (!is_param && part != segment) {
            return false;
        }
    }
    pattern.len() == path.len()
}

/// The operations among `routes` that `method` on `path` can be: of the routes that match,
/// those with the most conditions met (`?tagging` beats a plain GET of the bucket). Several
/// only when AWS has two names for one route (`GetBucketLifecycle` and its successor).
pub fn identify<'r>(
    routes: impl IntoIterator<Item = &'r Route>,
    method: &str,
    path: &str,
    has_query: impl Fn(&str, Option<&str>) -> bool,
    has_header: impl Fn(&str) -> bool,
) -> Vec<&'static str> {
    let mut best: (usize, Vec<&'static str>) = (0, Vec::new());
    for &(route_method, uri, operation, required) in routes {
        if route_method != method {
            continue;
        }
        let (pattern, query) = uri.split_once('?').unwrap_or((uri, ""));
        if !path_matches(pattern, path) {
            continue;
        }
        let mut conditions = 0;
        let mut all_met = true;
        let query_conditions = query.split('&').filter(|q| !q.is_empty()).map(|q| {
            let (name, value) = q.split_once('=').map_or((q, None), |(n, v)| (n, Some(v)));
            has_query(name, value)
        });
        let required_conditions =
            required
                .split(',')
                .filter(|c| !c.is_empty())
                .map(|c| match c.split_once(':') {
                    Some(("q", name)) => has_query(name, None),
                    Some(("h", name)) => has_header(name),
                    _ => false,
                });
        for met in query_conditions.chain(required_conditions) {
            conditions += 1;
            all_met &= met;
        }
        if !all_met {
            continue;
        }
        if best.1.is_empty() || conditions > best.0 {
            best = (conditions, vec![operation]);
        } else if conditions == best.0 {
            best.1.push(operation);
        }
    }
    best.1
}

/// The REST operations a request can be, from AWS's routes for its service. S3 requests are
/// matched on the bucket/key shape of their address (path or virtual-host style), after the
/// few S3 routes with a fixed path (`/WriteGetObjectResponse`) when the bucket is in the path.
pub fn rest_operation(req: &AwsRequest, s3: Option<S3Address>) -> Vec<&'static str> {
    let has_query = |name: &str, value: Option<&str>| {
        req.query
            .iter()
            .any(|(k, v)| k == name && value.is_none_or(|want| v == want))
    };
    let has_header = |name: &str| req.headers.contains_key(name);
    let method = req.method.as_str();
    match req.service {
        Service::S3 => {
            let Some(address) = s3 else {
                return Vec::new();
            };
            if address.path_style {
                let fixed = aws_routes::S3
                    .iter()
                    .filter(|r| r.1 != "/" && !r.1.contains('{'));
                let found = identify(fixed, method, &req.raw_path, has_query, has_header);
                if !found.is_empty() {
                    return found;
                }
            }
            identify(
                &aws_routes::S3,
                method,
                address.shape,
                has_query,
                has_header,
            )
        }
        // One signing name, two route tables whose paths do not overlap.
        Service::Bedrock | Service::BedrockRuntime => identify(
            aws_routes::BEDROCK
                .iter()
                .chain(&aws_routes::BEDROCK_RUNTIME),
            method,
            &req.raw_path,
            has_query,
            has_header,
        ),
        Service::Lambda => identify(
            &aws_routes::LAMBDA,
            method,
            &req.raw_path,
            has_query,
            has_header,
        ),
        Service::Iam | Service::Sts => Vec::new(),
    }
}

/// How an S3 request addresses its bucket and key.
#[derive(Debug, Clone, Copy)]
pub struct S3Address {
    /// `/`, `/{Bucket}` or `/{Bucket}/{Key+}`.
    pub shape: &'static str,
    /// The bucket is the path's first segment (not the host's first label).
    pub path_style: bool,
}

/// Whether the emulator serves a request that is `operations` (any one of them).
pub fn served(service: Service, operations: &[&str]) -> bool {
    let list: &[&str] = match service {
        Service::S3 => &S3,
        Service::Bedrock => &BEDROCK,
        Service::BedrockRuntime => &BEDROCK_RUNTIME,
        Service::Sts => &STS,
        Service::Iam => &super::iam::ACTIONS,
        Service::Lambda => &LAMBDA,
    };
    operations.iter().any(|op| list.contains(op))
}

/// The answer to an operation the emulator does not serve, in the service's error shape.
pub fn unsupported(service: Service, operations: &[&str], req: &AwsRequest) -> AwsError {
    let operation = (!operations.is_empty()).then(|| operations.join(" / "));
    let operation = operation.as_deref();
    let served = coverage()
        .into_iter()
        .find(|(name, _)| *name == service.name())
        .map(|(_, ops)| ops.join(", "))
        .unwrap_or_default();
    let what = match (operation, service) {
        (Some(op), Service::Iam | Service::Sts) => op.to_string(),
        (Some(op), _) => format!("{op} ({} {})", req.method, req.raw_path),
        (None, _) => format!("{} {}", req.method, req.raw_path),
    };
    let message = format!(
        "{what} is not an operation the nova_ft emulator serves for {}; it serves {served} (see the coverage table in docs/guide/emulator.md).",
        service.name()
    );
    match service {
        // S3's own answer for functionality it does not implement.
        Service::S3 => AwsError::new(501, "NotImplemented", message),
        Service::Iam | Service::Sts => AwsError::new(400, "InvalidAction", message),
        Service::Bedrock | Service::BedrockRuntime | Service::Lambda => {
            AwsError::new(404, "UnknownOperationException", message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(
        routes: &[Route],
        method: &str,
        path: &str,
        query: &[&str],
        headers: &[&str],
    ) -> Option<&'static str> {
        let found = identify(
            routes,
            method,
            path,
            |n, v| {
                query.iter().any(|q| match q.split_once('=') {
                    Some((k, val)) => k == n && v.is_none_or(|want| want == val),
                    None => *q == n && v.is_none(),
                })
            },
            |h| headers.contains(&h),
        );
        assert!(found.len() <= 1, "{found:?}");
        found.first().copied()
    }

    #[test]
    fn rest_requests_are_named_as_aws_names_them() {
        let s3 = &aws_routes::S3;
        assert_eq!(name(s3, "GET", "/{Bucket}", &[], &[]), Some("ListObjects"));
        assert_eq!(
            name(s3, "GET", "/{Bucket}", &["list-type=2"], &[]),
            Some("ListObjectsV2")
        );
        assert_eq!(
            name(s3, "GET", "/{Bucket}", &["tagging"], &[]),
            Some("GetBucketTagging")
        );
        assert_eq!(
            name(s3, "PUT", "/{Bucket}/{Key+}", &[], &[]),
            Some("PutObject")
        );
        assert_eq!(
            name(s3, "PUT", "/{Bucket}/{Key+}", &[], &["x-amz-copy-source"]),
            Some("CopyObject")
        );
        assert_eq!(
            name(
                s3,
                "PUT",
                "/{Bucket}/{Key+}",
                &["partNumber", "uploadId"],
                &[]
            ),
            Some("UploadPart")
        );
        assert_eq!(
            name(
                s3,
                "PUT",
                "/{Bucket}/{Key+}",
                &["partNumber", "uploadId"],
                &["x-amz-copy-source"]
            ),
            Some("UploadPartCopy")
        );
        let bedrock = &aws_routes::BEDROCK;
        assert_eq!(
            name(bedrock, "GET", "/custom-models/arn%3Aaws%3Ax", &[], &[]),
            Some("GetCustomModel")
        );
        assert_eq!(
            name(bedrock, "POST", "/evaluation-jobs", &[], &[]),
            Some("CreateEvaluationJob")
        );
        assert_eq!(name(bedrock, "GET", "/no-such-thing", &[], &[]), None);
        let runtime = &aws_routes::BEDROCK_RUNTIME;
        assert_eq!(
            name(runtime, "POST", "/model/m/invoke", &[], &[]),
            Some("InvokeModel")
        );
    }

    #[test]
    fn every_served_operation_is_one_aws_has() {
        let known = |routes: &[Route], op: &str| routes.iter().any(|r| r.2 == op);
        for op in S3 {
            assert!(known(&aws_routes::S3, op), "{op}");
        }
        for op in BEDROCK {
            assert!(known(&aws_routes::BEDROCK, op), "{op}");
        }
        for op in BEDROCK_RUNTIME {
            assert!(known(&aws_routes::BEDROCK_RUNTIME, op), "{op}");
        }
    }
}
