"""The coverage table is the router: every operation of each service's botocore model is
called, and exactly the operations the table lists are served; every other one gets the
service's error for an unknown operation, naming it. The user guide's table is the one the
emulator prints."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.model import OperationModel, Shape

import nova_ft

UNSUPPORTED = {
    "s3": ("NotImplemented", 501),
    "iam": ("InvalidAction", 400),
    "sts": ("InvalidAction", 400),
    "bedrock": ("UnknownOperationException", 404),
    "bedrock-runtime": ("UnknownOperationException", 404),
    "lambda": ("UnknownOperationException", 404),
}

# Values a request needs to reach the router: valid enough for botocore to send it.
NAMED = {"Bucket": "coverage-bucket", "Key": "k", "Body": b"x"}


def dummy(shape: Shape, name: str = "", depth: int = 0) -> Any:
    """The smallest value of a shape botocore will serialise (required members only)."""
    if name in NAMED:
        return NAMED[name]
    kind = shape.type_name
    if kind == "structure":
        if depth > 4:
            return {}
        members = shape.members
        required = shape.required_members
        if getattr(shape, "is_tagged_union", False) and members:
            first = next(iter(members))
            return {first: dummy(members[first], first, depth + 1)}
        return {m: dummy(members[m], m, depth + 1) for m in required}
    if kind == "list":
        # One item: a required list may travel as a header that tells operations apart.
        member = shape.member
        return [] if depth > 4 else [dummy(member, "", depth + 1)]
    if kind == "map":
        return {}
    if kind in ("integer", "long"):
        return max(1, int(shape.metadata.get("min", 1)))
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    if kind == "blob":
        return b"x"
    if shape.enum:
        return shape.enum[0]
    return "x" * max(1, int(shape.metadata.get("min", 1)))


def route(op: OperationModel) -> tuple[str, str, frozenset[str]]:
    """What tells an operation apart on the wire: method, URI, required query and headers."""
    required: set[str] = set()
    shape = op.input_shape
    for member in shape.required_members if shape is not None else []:
        serialization = shape.members[member].serialization
        if serialization.get("location") in ("querystring", "header"):
            required.add(serialization.get("name", member).lower())
    return op.http.get("method", ""), op.http.get("requestUri", ""), frozenset(required)


def operations(service: str, served: set[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every operation to call: not those with bidirectional streams (HTTP/2, which botocore
    does not speak), nor those whose request is the same as a served one's (S3 Express's
    ListDirectoryBuckets is ListBuckets sent to another endpoint)."""
    model = botocore.session.get_session().get_service_model(service)
    ops = [model.operation_model(name) for name in model.operation_names]
    served_routes = {route(op) for op in ops if op.name in served}
    for op in ops:
        if op.has_event_stream_input:
            continue
        rest = model.protocol.startswith("rest")
        if op.name not in served and rest and route(op) in served_routes:
            continue
        params = dummy(op.input_shape) if op.input_shape is not None else {}
        yield op.name, botocore.xform_name(op.name), params


@pytest.mark.parametrize("service", list(UNSUPPORTED))
def test_every_operation_is_served_or_refused_by_name(
    emulator: nova_ft.LocalEmulator, service: str
) -> None:
    served = set(nova_ft.LocalEmulator.coverage()[service])
    config = Config(
        parameter_validation=False,
        inject_host_prefix=False,
        retries={"max_attempts": 1},
        s3={"addressing_style": "path"},
    )
    client = emulator.client(service, config=config)
    code, status = UNSUPPORTED[service]
    answered_served: set[str] = set()
    wrong: list[str] = []
    for name, method, params in operations(service, served):
        try:
            getattr(client, method)(**params)
            refused = False
        except ClientError as e:
            error = e.response["Error"]
            refused = error.get("Code") == code and name in error.get("Message", "")
            if refused:
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] == status, name
        if name in served:
            answered_served.add(name)
            if refused:
                wrong.append(f"{name} is listed as served but refused")
        elif not refused:
            wrong.append(f"{name} is not listed but was not refused by name")
    assert not wrong, "\n".join(wrong)
    assert answered_served == served


def test_a_service_the_emulator_does_not_speak_is_named(
    emulator: nova_ft.LocalEmulator,
) -> None:
    sagemaker = emulator.client("sagemaker", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as caught:
        sagemaker.list_models()
    message = caught.value.response["Error"]["Message"]
    assert "sagemaker" in message and "does not serve" in message


def test_the_guides_table_is_the_one_the_emulator_prints() -> None:
    guide = Path(__file__).resolve().parents[1] / "docs" / "guide" / "emulator.md"
    found = re.search(
        r"<!-- coverage:start -->\n(.*?)<!-- coverage:end -->", guide.read_text(), re.S
    )
    assert found, "docs/guide/emulator.md has no coverage table"
    assert found.group(1) == nova_ft.LocalEmulator.coverage_markdown(), (
        "the guide's coverage table is stale: paste `nova-ft emulator coverage` into it"
    )
