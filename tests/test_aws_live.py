"""Against real AWS, read-only, free calls: run with ``NOVA_FT_AWS_TESTS=1 pytest -m aws``
and credentials for an account with Bedrock model access in us-east-1. Never runs in CI."""

from __future__ import annotations

import os

import pytest

import nova_ft as nf

pytestmark = [
    pytest.mark.aws,
    pytest.mark.skipif(
        os.environ.get("NOVA_FT_AWS_TESTS") != "1", reason="set NOVA_FT_AWS_TESTS=1 to call AWS"
    ),
]


def test_identity_and_the_nova_micro_fine_tuning_base() -> None:
    with nf.Session(region=os.environ.get("AWS_REGION", "us-east-1")) as session:
        assert session.account_id.isdigit()
        ids = {m["model_id"] for m in session.foundation_models("FINE_TUNING")}
        assert nf.DEFAULT_BASE_MODEL in ids, "no Nova Micro fine-tuning base: grant model access"


def test_a_missing_job_is_resource_not_found() -> None:
    with nf.Session(region=os.environ.get("AWS_REGION", "us-east-1")) as session:
        with pytest.raises(nf.ResourceNotFoundError):
            session.job("nova-ft-no-such-job")
