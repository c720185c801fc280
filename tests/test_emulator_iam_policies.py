"""IAM managed policies and condition operators, through unmodified boto3: the IAM set-up of
AWS's own Nova Micro samples (a trust policy with ArnEquals and a wildcard, a customer
managed policy attached with AttachRolePolicy), and the answers IAM documents."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from test_emulator_bedrock import job_request, setup_data, wait_job

ACCOUNT = "123456789012"


def sample_trust(region: str = "us-east-1") -> str:
    """The trust policy of the on-demand inference sample (and the Bedrock user guide)."""
    jobs = f"arn:aws:bedrock:{region}:{ACCOUNT}:model-customization-job/*"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "bedrock.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": ACCOUNT},
                        "ArnEquals": {"aws:SourceArn": jobs},
                    },
                }
            ],
        }
    )


def sample_access_policy(bucket: str) -> str:
    """The sample's S3 policy: the bucket and everything in it."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "s3:AbortMultipartUpload",
                        "s3:DeleteObject",
                        "s3:PutObject",
                        "s3:GetObject",
                        "s3:GetBucketAcl",
                        "s3:GetBucketNotification",
                        "s3:ListBucket",
                        "s3:PutBucketNotification",
                    ],
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                }
            ],
        }
    )


def test_the_samples_iam_setup_runs_a_job(aws: Callable[[str], Any]) -> None:
    bucket = "bedrock-customization-us-east-1-123456789012"
    setup_data(aws, bucket)
    iam, bedrock = aws("iam"), aws("bedrock")
    role = iam.create_role(
        RoleName="AmazonBedrockCustomizationRole1",
        AssumeRolePolicyDocument=sample_trust(),
        Description="Role for Bedrock to access S3 for finetuning",
    )["Role"]
    policy = iam.create_policy(
        PolicyName="AmazonBedrockCustomizationPolicy1",
        PolicyDocument=sample_access_policy(bucket),
    )["Policy"]
    assert policy["Arn"] == f"arn:aws:iam::{ACCOUNT}:policy/AmazonBedrockCustomizationPolicy1"
    assert policy["DefaultVersionId"] == "v1" and policy["AttachmentCount"] == 0
    iam.attach_role_policy(RoleName=role["RoleName"], PolicyArn=policy["Arn"])
    attached = iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]
    assert attached == [{"PolicyName": policy["PolicyName"], "PolicyArn": policy["Arn"]}]
    assert iam.get_policy(PolicyArn=policy["Arn"])["Policy"]["AttachmentCount"] == 1

    arn = bedrock.create_model_customization_job(**job_request(bucket, role["Arn"], "sample-job"))[
        "jobArn"
    ]
    assert wait_job(bedrock, arn)["status"] == "Completed"

    # The same trust policy for another region does not match this job's ARN.
    iam.create_role(RoleName="OtherRegionRole", AssumeRolePolicyDocument=sample_trust("eu-west-1"))
    iam.attach_role_policy(RoleName="OtherRegionRole", PolicyArn=policy["Arn"])
    other = f"arn:aws:iam::{ACCOUNT}:role/OtherRegionRole"
    with pytest.raises(bedrock.exceptions.AccessDeniedException):
        bedrock.create_model_customization_job(**job_request(bucket, other, "wrong-region"))

    # The sample's clean-up: detach, delete the policy, delete the role.
    with pytest.raises(iam.exceptions.DeleteConflictException) as caught:
        iam.delete_role(RoleName=role["RoleName"])
    assert "detach" in caught.value.response["Error"]["Message"]
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=policy["Arn"])
    for name in (role["RoleName"], "OtherRegionRole"):
        iam.detach_role_policy(RoleName=name, PolicyArn=policy["Arn"])
        iam.delete_role(RoleName=name)
    iam.delete_policy(PolicyArn=policy["Arn"])
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=policy["Arn"])


def test_aws_managed_policies_count_in_the_jobs_evaluation(aws: Callable[[str], Any]) -> None:
    bucket = "sl-nova-ft-managed"
    setup_data(aws, bucket)
    iam, bedrock = aws("iam"), aws("bedrock")
    read_only = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    got = iam.get_policy(PolicyArn=read_only)["Policy"]
    version = iam.get_policy_version(PolicyArn=read_only, VersionId=got["DefaultVersionId"])
    assert "s3:Get*" in version["PolicyVersion"]["Document"]["Statement"][0]["Action"]
    role = iam.create_role(RoleName="ReadOnlyRole", AssumeRolePolicyDocument=sample_trust())
    iam.attach_role_policy(RoleName="ReadOnlyRole", PolicyArn=read_only)
    job = bedrock.create_model_customization_job(
        **job_request(bucket, role["Role"]["Arn"], "read-only-job")
    )
    failed = wait_job(bedrock, job["jobArn"])
    # Reading the data is allowed; writing the output is not.
    assert failed["status"] == "Failed"
    assert "s3:PutObject" in failed["failureMessage"]
    assert "output-data/" in failed["failureMessage"]

    iam.attach_role_policy(
        RoleName="ReadOnlyRole", PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess"
    )
    job = bedrock.create_model_customization_job(
        **job_request(bucket, role["Role"]["Arn"], "full-access-job")
    )
    assert wait_job(bedrock, job["jobArn"])["status"] == "Completed"
    aws_listed = iam.list_policies(Scope="AWS", OnlyAttached=True)["Policies"]
    assert {p["PolicyName"] for p in aws_listed} == {"AmazonS3ReadOnlyAccess", "AmazonS3FullAccess"}
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.attach_role_policy(
            RoleName="ReadOnlyRole", PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy"
        )


def test_policy_versions_and_their_limits(aws: Callable[[str], Any]) -> None:
    iam = aws("iam")

    def document(action: str) -> str:
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}],
            }
        )

    arn = iam.create_policy(
        PolicyName="Versioned", PolicyDocument=document("s3:GetObject"), Description="v-test"
    )["Policy"]["Arn"]
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_policy(PolicyName="Versioned", PolicyDocument=document("s3:GetObject"))
    for n in range(2, 6):
        created = iam.create_policy_version(
            PolicyArn=arn, PolicyDocument=document(f"s3:Action{n}"), SetAsDefault=n == 3
        )["PolicyVersion"]
        assert created["VersionId"] == f"v{n}"
    with pytest.raises(iam.exceptions.LimitExceededException):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=document("s3:Too"))
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["IsDefaultVersion"] for v in versions] == [False, False, True, False, False]
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=arn)  # more than one version
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v3")["PolicyVersion"]
    assert got["Document"]["Statement"][0]["Action"] == "s3:Action3"
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v5")
    for version in ("v1", "v2", "v3", "v4"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy_version(PolicyArn=arn, VersionId="v4")
    # A new version number is never reused.
    again = iam.create_policy_version(PolicyArn=arn, PolicyDocument=document("s3:New"))
    assert again["PolicyVersion"]["VersionId"] == "v6"
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument="{")
    aws_policy = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
    with pytest.raises(iam.exceptions.ClientError) as caught:
        iam.create_policy_version(PolicyArn=aws_policy, PolicyDocument=document("s3:*"))
    assert caught.value.response["Error"]["Code"] == "AccessDenied"
    local = iam.list_policies(Scope="Local")["Policies"]
    assert [p["PolicyName"] for p in local] == ["Versioned"]


def test_roles_list_in_pages_and_carry_tags(aws: Callable[[str], Any]) -> None:
    iam = aws("iam")
    for n in range(5):
        iam.create_role(
            RoleName=f"paged-{n}",
            AssumeRolePolicyDocument=sample_trust(),
            Path="/paged/",
            Tags=[{"Key": "team", "Value": "ml"}],
        )
    first = iam.list_roles(PathPrefix="/paged/", MaxItems=2)
    assert [r["RoleName"] for r in first["Roles"]] == ["paged-0", "paged-1"]
    assert first["IsTruncated"] is True
    paginator = iam.get_paginator("list_roles")
    names = [
        r["RoleName"]
        for page in paginator.paginate(PathPrefix="/paged/", PaginationConfig={"PageSize": 2})
        for r in page["Roles"]
    ]
    assert names == [f"paged-{n}" for n in range(5)]
    iam.tag_role(
        RoleName="paged-0", Tags=[{"Key": "team", "Value": "nlp"}, {"Key": "env", "Value": "dev"}]
    )
    tags = iam.list_role_tags(RoleName="paged-0")["Tags"]
    assert tags == [{"Key": "team", "Value": "nlp"}, {"Key": "env", "Value": "dev"}]
    iam.untag_role(RoleName="paged-0", TagKeys=["team"])
    assert iam.get_role(RoleName="paged-0")["Role"]["Tags"] == [{"Key": "env", "Value": "dev"}]
    iam.update_role(RoleName="paged-0", Description="updated", MaxSessionDuration=7200)
    role = iam.get_role(RoleName="paged-0")["Role"]
    assert (role["Description"], role["MaxSessionDuration"]) == ("updated", 7200)
    with pytest.raises(iam.exceptions.ClientError) as caught:
        iam.list_roles(PathPrefix="paged/")  # a path begins and ends with /
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(iam.exceptions.ClientError) as caught:
        iam.list_groups()
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidAction" and "ListGroups" in error["Message"]
