"""A Converse request in boto3's shapes (``messages``, ``system``, ``inferenceConfig``) or as
one string, turned into what the Rust core sends."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .exceptions import InvalidParameterError

#: Converse's ``inferenceConfig`` keys nova_ft sends.
INFERENCE_KEYS = ("maxTokens", "temperature", "topP", "stopSequences")


def _texts(content: Any, where: str) -> list[str]:
    if isinstance(content, str):
        return [content]
    if not isinstance(content, Sequence) or not content:
        raise InvalidParameterError(f"{where}: content is a list of {{'text': ...}} blocks")
    texts = []
    for j, block in enumerate(content):
        text = block.get("text") if isinstance(block, Mapping) else None
        if not isinstance(text, str):
            raise InvalidParameterError(
                f"{where}.content[{j}]: only text blocks are sent by nova_ft's converse "
                "(use boto3's converse for images, documents or tools)"
            )
        texts.append(text)
    return texts


def converse_request(
    text: str | None,
    messages: Sequence[Mapping[str, Any]] | None,
    system: str | Sequence[Mapping[str, Any]] | None,
    inference_config: Mapping[str, Any] | None,
    max_tokens: int | None,
    temperature: float | None,
) -> dict[str, Any]:
    """The core's arguments: one user ``text`` or the conversation's ``messages``, ``system``,
    and the inference settings (``inference_config`` wins over ``max_tokens``/``temperature``)."""
    if (text is None) == (messages is None):
        raise InvalidParameterError("pass text (one user turn) or messages (Converse's), not both")
    turns: list[tuple[str, list[str]]] = []
    if messages is not None:
        if not messages:
            raise InvalidParameterError("messages is empty: add a user message")
        for i, message in enumerate(messages):
            role = message.get("role") if isinstance(message, Mapping) else None
            if role not in ("user", "assistant"):
                raise InvalidParameterError(f"messages[{i}].role must be user or assistant")
            turns.append((role, _texts(message.get("content"), f"messages[{i}]")))
        if turns[-1][0] != "user":
            raise InvalidParameterError("the last message must be the user's: the model answers it")
    if system is not None and not isinstance(system, str):
        system = "\n".join(_texts(system, "system"))
    config = dict(inference_config or {})
    unknown = sorted(set(config) - set(INFERENCE_KEYS))
    if unknown:
        raise InvalidParameterError(
            f"inference_config: unknown key(s) {unknown}; Converse's are {list(INFERENCE_KEYS)}"
        )
    return {
        "text": text or "",
        "system": system,
        "max_tokens": config.get("maxTokens", max_tokens),
        "temperature": config.get("temperature", temperature),
        "messages": turns,
        "top_p": config.get("topP"),
        "stop_sequences": list(config.get("stopSequences", [])),
    }
