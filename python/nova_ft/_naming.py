"""Names and tokens derived from a configuration, shared by the workflow steps."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def job_output_location(output_uri: str, job_arn: str) -> tuple[str, str]:
    """(bucket, key prefix) where Bedrock writes a job's artifacts:
    ``<output prefix>model-customization-job-<job id>/``.

    Examples:
        >>> arn = "arn:aws:bedrock:us-east-1:1:model-customization-job/x/abc"
        >>> job_output_location("s3://b/out", arn)
        ('b', 'out/model-customization-job-abc/')
    """
    bucket, _, prefix = output_uri.removeprefix("s3://").partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, f"{prefix}model-customization-job-{job_arn.rsplit('/', 1)[-1]}/"


def request_token(spec: Mapping[str, Any]) -> str:
    """A clientRequestToken derived from the configuration: the same job twice, one token."""
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    import hashlib  # loaded on first use: it costs a Session's start-up ~5 ms

    return hashlib.sha256(canonical.encode()).hexdigest()[:32]
