//! AWS managed policies that Bedrock samples and users attach, built in as IAM has them (ARN
//! `arn:aws:iam::aws:policy/<path><name>`), so attaching them needs no CreatePolicy.
//!
//! Documents from the AWS Managed Policy Reference (docs.aws.amazon.com/aws-managed-policy),
//! at the version named. AmazonBedrockFullAccess keeps the statements that concern this
//! workflow (Bedrock, KMS DescribeKey, the describe calls and PassRole); its statements for
//! SageMaker-hosted Marketplace endpoints are left out, as the emulator serves no SageMaker.
//! Policy ids, versions and dates are IAM's for the long-standing S3, IAM, Lambda and
//! administrator policies; for the two Bedrock policies, which AWS edits often, they are
//! the emulator's own and may differ from what IAM reports today.

/// One AWS managed policy.
pub(super) struct AwsManaged {
    pub(super) name: &'static str,
    pub(super) path: &'static str,
    pub(super) id: &'static str,
    pub(super) version: &'static str,
    pub(super) description: &'static str,
    /// When AWS created it and last edited it (ISO 8601).
    pub(super) created: &'static str,
    pub(super) updated: &'static str,
    pub(super) document: &'static str,
}

impl AwsManaged {
    pub(super) fn arn(&self) -> String {
        format!("arn:aws:iam::aws:policy{}{}", self.path, self.name)
    }
}

pub(super) const POLICIES: [AwsManaged; 7] = [
    AwsManaged {
        name: "AdministratorAccess",
        path: "/",
        id: "ANPAIWMBCKSKIEE64ZLYK",
        version: "v1",
        description: "Provides full access to AWS services and resources.",
        created: "2015-02-06T18:39:46Z",
        updated: "2015-02-06T18:39:46Z",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    },
    AwsManaged {
        name: "AmazonBedrockFullAccess",
        path: "/",
        id: "ANPAZKAPJZG4ND5RWKFQZ",
        version: "v7",
        description:
            "Provides full access to Amazon Bedrock and additional permissions to related services.",
        created: "2023-12-12T16:46:48Z",
        updated: "2025-07-01T00:00:00Z",
        document: r#"{"Version":"2012-10-17","Statement":[{"Sid":"BedrockAll","Effect":"Allow","Action":["bedrock:*"],"Resource":"*"},{"Sid":"DescribeKey","Effect":"Allow","Action":["kms:DescribeKey"],"Resource":"arn:*:kms:*:::*"},{"Sid":"APIsWithAllResourceAccess","Effect":"Allow","Action":["iam:ListRoles","ec2:DescribeVpcs","ec2:DescribeSubnets","ec2:DescribeSecurityGroups"],"Resource":"*"},{"Sid":"PassRoleToBedrock","Effect":"Allow","Action":["iam:PassRole"],"Resource":"arn:aws:iam::*:role/*AmazonBedrock*","Condition":{"StringEquals":{"iam:PassedToService":["bedrock.amazonaws.com"]}}}]}"#,
    },
    AwsManaged {
        name: "AmazonBedrockReadOnly",
        path: "/",
        id: "ANPAZKAPJZG4LCIAWBQOB",
        version: "v3",
        description: "Provides read only access to Amazon Bedrock resources.",
        created: "2023-12-12T16:47:38Z",
        updated: "2025-07-01T00:00:00Z",
        document: r#"{"Version":"2012-10-17","Statement":[{"Sid":"AmazonBedrockReadOnly","Effect":"Allow","Action":["bedrock:GetFoundationModel","bedrock:ListFoundationModels","bedrock:GetModelInvocationLoggingConfiguration","bedrock:GetProvisionedModelThroughput","bedrock:ListProvisionedModelThroughputs","bedrock:GetModelCustomizationJob","bedrock:ListModelCustomizationJobs","bedrock:ListCustomModels","bedrock:GetCustomModel","bedrock:ListTagsForResource","bedrock:GetFoundationModelAvailability","bedrock:GetInferenceProfile","bedrock:ListInferenceProfiles","bedrock:GetCustomModelDeployment","bedrock:ListCustomModelDeployments"],"Resource":"*"}]}"#,
    },
    AwsManaged {
        name: "AmazonS3FullAccess",
        path: "/",
        id: "ANPAIFIR6V6BVTRAHWINE",
        version: "v2",
        description: "Provides full access to all buckets via the AWS Management Console.",
        created: "2015-02-06T18:40:58Z",
        updated: "2021-09-27T20:16:37Z",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}"#,
    },
    AwsManaged {
        name: "AmazonS3ReadOnlyAccess",
        path: "/",
        id: "ANPAIZTJ4DXE7G6AGAE6M",
        version: "v3",
        description: "Provides read only access to all buckets via the AWS Management Console.",
        created: "2015-02-06T18:40:59Z",
        updated: "2023-08-10T21:31:39Z",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","s3:Describe*","s3-object-lambda:Get*","s3-object-lambda:List*"],"Resource":"*"}]}"#,
    },
    AwsManaged {
        name: "AWSLambdaBasicExecutionRole",
        path: "/service-role/",
        id: "ANPAJNCQGXC42545SKXIK",
        version: "v1",
        description: "Provides write permissions to CloudWatch Logs.",
        created: "2015-04-09T15:03:43Z",
        updated: "2015-04-09T15:03:43Z",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],"Resource":"*"}]}"#,
    },
    AwsManaged {
        name: "IAMFullAccess",
        path: "/",
        id: "ANPAI7XKCFMBPM3QQRRVQ",
        version: "v2",
        description: "Provides full access to IAM via the AWS Management Console.",
        created: "2015-02-06T18:40:38Z",
        updated: "2019-06-21T19:40:00Z",
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}"#,
    },
];

/// The AWS managed policy with this ARN.
pub(super) fn find(arn: &str) -> Option<&'static AwsManaged> {
    POLICIES.iter().find(|p| p.arn() == arn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_is_a_policy_and_every_arn_is_unique() {
        let mut arns = std::collections::BTreeSet::new();
        for policy in &POLICIES {
            crate::policy::check_document(policy.document).unwrap();
            assert!(arns.insert(policy.arn()), "{}", policy.name);
            assert!(find(&policy.arn()).is_some());
        }
        assert!(find("arn:aws:iam::aws:policy/AmazonS3FullAccess").is_some());
        assert!(find("arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole").is_some());
    }
}
