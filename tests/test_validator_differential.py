"""nova_ft's data rules against AWS's own Nova dataset validator.

AWS publishes `nova_ft_dataset_validator.py` (aws-samples/amazon-bedrock-samples,
custom-models/bedrock-fine-tuning/nova/understanding/dataset_validation/). Each case below is a
small valid dataset with one mutation; both validators judge it, and every case on which they
disagree must be one of ``DISAGREEMENTS``, each with its reason, which the user guide's table
(docs/guide/data-rules.md) lists too. A new disagreement fails the test, and so does one that
went away.

AWS's script is not shipped with nova_ft; the test reads it from ``NOVA_FT_AWS_VALIDATOR`` or
``shared/aws-validator/`` beside the clone (the repository's main branch, where an update
adding reserved-string checks, pull request 612, was not merged), and needs pydantic.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import io
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import nova_ft

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "guide" / "data-rules.md"
MODELS = {
    "micro": "amazon.nova-micro-v1:0:128k",
    "lite": "amazon.nova-lite-v1:0:300k",
}

Record = dict[str, Any]
Mutation = Callable[[list[Record]], list[str]]


def _record(i: int) -> Record:
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "Classify the request."}],
        "messages": [
            {"role": "user", "content": [{"text": f"request number {i}"}]},
            {"role": "assistant", "content": [{"text": f"label_{i % 3}"}]},
        ],
    }


def _lines(records: list[Record]) -> list[str]:
    return [json.dumps(r) for r in records]


def _first(change: Callable[[Record], None]) -> Mutation:
    """Apply `change` to the first record only."""

    def mutate(records: list[Record]) -> list[str]:
        records = copy.deepcopy(records)
        change(records[0])
        return _lines(records)

    return mutate


def _image(fmt: str = "png", uri: str = "s3://bucket/images/cat.png") -> dict[str, Any]:
    return {"image": {"format": fmt, "source": {"s3Location": {"uri": uri}}}}


def _video(fmt: str = "mp4") -> dict[str, Any]:
    return {"video": {"format": fmt, "source": {"s3Location": {"uri": "s3://bucket/v/a.mp4"}}}}


def _user(r: Record) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = r["messages"][0]["content"]
    return content


def _assistant(r: Record) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = r["messages"][1]["content"]
    return content


def _set(path: Callable[[Record], Any], key: Any, value: Any) -> Callable[[Record], None]:
    def change(r: Record) -> None:
        path(r)[key] = value

    return change


#: (name, models it is judged for, mutation, file name)
CASES: list[tuple[str, tuple[str, ...], Mutation, str]] = [
    ("valid", ("micro", "lite"), _lines, "train.jsonl"),
    (
        "role system in messages",
        ("micro",),
        _first(lambda r: r["messages"][0].update(role="system")),
        "train.jsonl",
    ),
    (
        "role capitalised",
        ("micro",),
        _first(lambda r: r["messages"][0].update(role="User")),
        "train.jsonl",
    ),
    ("assistant first", ("micro",), _first(lambda r: r["messages"].reverse()), "train.jsonl"),
    ("one message", ("micro",), _first(lambda r: r["messages"].pop()), "train.jsonl"),
    (
        "ends with user",
        ("micro",),
        _first(lambda r: r["messages"].append({"role": "user", "content": [{"text": "more"}]})),
        "train.jsonl",
    ),
    (
        "two user turns",
        ("micro",),
        _first(lambda r: r["messages"].insert(1, {"role": "user", "content": [{"text": "x"}]})),
        "train.jsonl",
    ),
    (
        "multi-turn",
        ("micro",),
        _first(
            lambda r: r["messages"].extend(
                [
                    {"role": "user", "content": [{"text": "and then?"}]},
                    {"role": "assistant", "content": [{"text": "label_1"}]},
                ]
            )
        ),
        "train.jsonl",
    ),
    ("empty user text", ("micro",), _first(lambda r: _user(r)[0].update(text="")), "train.jsonl"),
    (
        "whitespace user text",
        ("micro",),
        _first(lambda r: _user(r)[0].update(text="   ")),
        "train.jsonl",
    ),
    (
        "empty answer text",
        ("micro",),
        _first(lambda r: _assistant(r)[0].update(text="")),
        "train.jsonl",
    ),
    (
        "whitespace answer text",
        ("micro",),
        _first(lambda r: _assistant(r)[0].update(text="  ")),
        "train.jsonl",
    ),
    (
        "empty system text",
        ("micro",),
        _first(lambda r: r["system"][0].update(text="")),
        "train.jsonl",
    ),
    ("no system", ("micro",), _first(lambda r: r.pop("system")), "train.jsonl"),
    (
        "system as a string",
        ("micro",),
        _first(_set(lambda r: r, "system", "Classify.")),
        "train.jsonl",
    ),
    (
        "empty content list",
        ("micro",),
        _first(_set(lambda r: r["messages"][0], "content", [])),
        "train.jsonl",
    ),
    ("text not a string", ("micro",), _first(lambda r: _user(r)[0].update(text=5)), "train.jsonl"),
    ("no messages", ("micro",), _first(lambda r: r.pop("messages")), "train.jsonl"),
    ("unknown top-level key", ("micro",), _first(_set(lambda r: r, "id", "r-1")), "train.jsonl"),
    (
        "unknown message key",
        ("micro",),
        _first(_set(lambda r: r["messages"][0], "name", "x")),
        "train.jsonl",
    ),
    (
        "other schemaVersion",
        ("micro",),
        _first(_set(lambda r: r, "schemaVersion", "v2")),
        "train.jsonl",
    ),
    (
        "schemaVersion a number",
        ("micro",),
        _first(_set(lambda r: r, "schemaVersion", 1)),
        "train.jsonl",
    ),
    (
        "reserved string in prompt",
        ("micro",),
        _first(lambda r: _user(r)[0].update(text="User: hi")),
        "train.jsonl",
    ),
    (
        "reserved Thought: in prompt",
        ("micro",),
        _first(lambda r: _user(r)[0].update(text="Thought: x")),
        "train.jsonl",
    ),
    (
        "reserved <unk> in prompt",
        ("micro",),
        _first(lambda r: _user(r)[0].update(text="a <unk> b")),
        "train.jsonl",
    ),
    (
        "reserved lower case in prompt",
        ("micro",),
        _first(lambda r: _user(r)[0].update(text="user: hi")),
        "train.jsonl",
    ),
    (
        "reserved string in system",
        ("micro",),
        _first(lambda r: r["system"][0].update(text="[EOS] x")),
        "train.jsonl",
    ),
    (
        "reserved string in answer",
        ("micro",),
        _first(lambda r: _assistant(r)[0].update(text="Bot: x")),
        "train.jsonl",
    ),
    (
        "long record",
        ("micro",),
        _first(lambda r: _user(r)[0].update(text="word " * 40_000)),
        "train.jsonl",
    ),
    ("image for micro", ("micro",), _first(lambda r: _user(r).insert(0, _image())), "train.jsonl"),
    ("image for lite", ("lite",), _first(lambda r: _user(r).insert(0, _image())), "train.jsonl"),
    ("video for lite", ("lite",), _first(lambda r: _user(r).insert(0, _video())), "train.jsonl"),
    (
        "image in answer",
        ("lite",),
        _first(lambda r: _assistant(r).insert(0, _image())),
        "train.jsonl",
    ),
    ("11 images", ("lite",), _first(lambda r: _user(r).extend([_image()] * 11)), "train.jsonl"),
    ("10 images", ("lite",), _first(lambda r: _user(r).extend([_image()] * 10)), "train.jsonl"),
    ("2 videos", ("lite",), _first(lambda r: _user(r).extend([_video(), _video()])), "train.jsonl"),
    (
        "image and video",
        ("lite",),
        _first(lambda r: _user(r).extend([_image(), _video()])),
        "train.jsonl",
    ),
    (
        "image format bmp",
        ("lite",),
        _first(lambda r: _user(r).insert(0, _image("bmp"))),
        "train.jsonl",
    ),
    (
        "video format flv",
        ("lite",),
        _first(lambda r: _user(r).insert(0, _video("flv"))),
        "train.jsonl",
    ),
    (
        "image uri with a space",
        ("lite",),
        _first(lambda r: _user(r).insert(0, _image(uri="s3://bucket/my cat.png"))),
        "train.jsonl",
    ),
    (
        "image uri not s3",
        ("lite",),
        _first(lambda r: _user(r).insert(0, _image(uri="https://x/cat.png"))),
        "train.jsonl",
    ),
    (
        "document block",
        ("lite",),
        _first(lambda r: _user(r).insert(0, {"document": {"format": "pdf", "name": "d"}})),
        "train.jsonl",
    ),
    ("7 records", ("micro",), lambda rs: _lines(rs[:7]), "train.jsonl"),
    ("8 records", ("micro",), lambda rs: _lines(rs[:8]), "train.jsonl"),
    (
        "20,001 records",
        ("micro",),
        lambda rs: _lines([_record(i) for i in range(20_001)]),
        "train.jsonl",
    ),
    ("trailing blank line", ("micro",), lambda rs: [*_lines(rs), ""], "train.jsonl"),
    (
        "blank line inside",
        ("micro",),
        lambda rs: [_lines(rs)[0], "", *_lines(rs)[1:]],
        "train.jsonl",
    ),
    (
        "byte-order mark",
        ("micro",),
        lambda rs: ["\ufeff" + _lines(rs)[0], *_lines(rs)[1:]],
        "train.jsonl",
    ),
    ("not JSON", ("micro",), lambda rs: ["{not json", *_lines(rs)[1:]], "train.jsonl"),
    ("file not .jsonl", ("micro",), _lines, "train.json"),
]

#: (case, model) -> (nova_ft accepts, AWS's script accepts, why they differ). The user
#: guide's table lists every row.
RESERVED = (
    "the Nova user guide: a system or user prompt holding `User:` `Bot:` `Assistant:` `System:` "
    "`<image>` `<video>` `[EOS]` fails the job; AWS's published validator checks no reserved string"
)
DISAGREEMENTS: dict[tuple[str, str], tuple[bool, bool, str]] = {
    ("file not .jsonl", "micro"): (
        True,
        False,
        "Bedrock documents JSON Lines files, not a file-name suffix; nova_ft warns",
    ),
    ("reserved string in prompt", "micro"): (False, True, RESERVED),
    ("reserved string in system", "micro"): (False, True, RESERVED),
}


def _aws_validator() -> ModuleType | None:
    candidates = [
        os.environ.get("NOVA_FT_AWS_VALIDATOR", ""),
        str(ROOT.parent / "shared" / "aws-validator" / "nova_ft_dataset_validator.py"),
    ]
    path = next((Path(c) for c in candidates if c and Path(c).is_file()), None)
    if path is None or importlib.util.find_spec("pydantic") is None:
        return None
    spec = importlib.util.spec_from_file_location("aws_nova_ft_dataset_validator", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():
        # Its pydantic validators use a form newer pydantic deprecates: not ours to fix.
        warnings.simplefilter("ignore", DeprecationWarning)
        spec.loader.exec_module(module)
    return module


def _aws_accepts(module: ModuleType, path: Path, model: str) -> bool:
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            module.validate_converse_dataset(
                argparse.Namespace(input_file=str(path), model_name=model)
            )
        except module.NovaClientError:
            return False
    return True


def _nova_ft_accepts(path: Path, model: str) -> bool:
    return nova_ft.validate(path, model=MODELS[model]).ok


def _verdict(accepts: bool) -> str:
    return "accepts" if accepts else "refuses"


def _write(directory: Path, name: str, lines: list[str]) -> Path:
    path = directory / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def judge_all(
    directory: Path, judges: dict[str, Callable[[Path, str], bool]]
) -> dict[tuple[str, str], dict[str, bool]]:
    base = [_record(i) for i in range(10)]
    verdicts: dict[tuple[str, str], dict[str, bool]] = {}
    for n, (name, models, mutate, file_name) in enumerate(CASES):
        folder = directory / f"case{n}"
        folder.mkdir()
        path = _write(folder, file_name, mutate(base))
        for model in models:
            verdicts[(name, model)] = {who: judge(path, model) for who, judge in judges.items()}
    return verdicts


def test_nova_ft_agrees_with_aws_validator_but_where_documented(tmp_path: Path) -> None:
    module = _aws_validator()
    if module is None:
        pytest.skip(
            "needs AWS's nova_ft_dataset_validator.py (set NOVA_FT_AWS_VALIDATOR, or put it in "
            "shared/aws-validator/ beside the clone) and pydantic"
        )
    verdicts = judge_all(
        tmp_path,
        {"nova_ft": _nova_ft_accepts, "aws": lambda p, m: _aws_accepts(module, p, m)},
    )
    found = {
        case: (v["nova_ft"], v["aws"]) for case, v in verdicts.items() if v["nova_ft"] != v["aws"]
    }
    expected = {case: (ours, aws) for case, (ours, aws, _) in DISAGREEMENTS.items()}
    for case, (ours, aws) in sorted(found.items()):
        print(f"{case}: nova_ft {_verdict(ours)}, AWS {_verdict(aws)}")
    assert found == expected


def test_every_case_runs_through_nova_ft(tmp_path: Path) -> None:
    """Without AWS's script the cases still run through nova_ft: the controls pass, and each
    documented disagreement is still nova_ft's verdict."""
    verdicts = judge_all(tmp_path, {"nova_ft": _nova_ft_accepts})
    assert verdicts[("valid", "micro")]["nova_ft"] and verdicts[("valid", "lite")]["nova_ft"]
    assert verdicts[("8 records", "micro")]["nova_ft"]
    assert not verdicts[("7 records", "micro")]["nova_ft"]
    assert verdicts[("image for lite", "lite")]["nova_ft"]
    assert not verdicts[("image for micro", "micro")]["nova_ft"]
    for case, (ours, _aws, _why) in DISAGREEMENTS.items():
        assert verdicts[case]["nova_ft"] == ours, case


def test_the_user_guide_lists_every_disagreement() -> None:
    text = GUIDE.read_text()
    for (case, model), (ours, aws, why) in DISAGREEMENTS.items():
        row = f"| {case} | {model} | {_verdict(ours)} | {_verdict(aws)} | {why} |"
        assert row in text, row
