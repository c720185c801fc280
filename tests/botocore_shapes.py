"""Checks the emulator's raw JSON answers against botocore's service models: every member
known and of its type, required members present, enums and numeric ranges kept. boto3's
parser forgives all of these, so a test that only reads parsed answers would not notice."""

from __future__ import annotations

import json
from typing import Any

from botocore.model import Shape

SKIPPED_LOCATIONS = {"header", "headers", "statusCode"}


def problems(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """What in ``value`` (JSON as sent) does not conform to ``shape``."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        members = {
            m.serialization.get("name", name): m
            for name, m in shape.members.items()
            if m.serialization.get("location") not in SKIPPED_LOCATIONS
        }
        found = [f"{path}.{k}: not a member of {shape.name}" for k in value if k not in members]
        found += [
            f"{path}.{name}: required by {shape.name}, missing"
            for name in shape.required_members
            if name in members and name not in value
        ]
        for key, item in value.items():
            if key in members and item is not None:
                found += problems(members[key], item, f"{path}.{key}")
        return found
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [p for i, v in enumerate(value) for p in problems(shape.member, v, f"{path}[{i}]")]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map"]
        return [p for k, v in value.items() for p in problems(shape.value, v, f"{path}.{k}")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string, got {value!r}"]
        if shape.enum and value not in shape.enum:
            return [f"{path}: {value!r} is not one of {shape.enum}"]
        return []
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{path}: expected an integer, got {value!r}"]
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            return [f"{path}: {value} outside {low}..{high}"]
        return []
    if kind in ("double", "float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean"]
    if kind == "timestamp":
        ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a timestamp"]
    return []


def watch(client: Any, found: list[str]) -> Any:
    """Record into ``found`` every way a JSON answer this client receives does not conform."""

    def check(http_response: Any, model: Any, **_: Any) -> None:
        protocol = model.service_model.metadata.get("protocol")
        if protocol not in ("rest-json", "json") or model.has_streaming_output:
            return  # XML or a stream: reading it here would consume the caller's body
        if model.output_shape is None or not http_response.content:
            return
        if http_response.status_code >= 300:
            return
        try:
            body = json.loads(http_response.content)
        except ValueError:
            return
        found.extend(f"{model.name} {p}" for p in problems(model.output_shape, body))

    client.meta.events.register("after-call", check)
    return client
