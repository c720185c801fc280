"""Each of Bedrock's data rules rejects its line, with the right line number and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nova_ft
from conftest import GOOD, record, write_lines
from nova_ft.cli import main

BAD_LINES = {
    # line number -> (line text, field reported)
    2: ("{not json", "record"),
    3: (json.dumps({**GOOD, "messages": [GOOD["messages"][0]]}), "messages"),
    4: (
        json.dumps(
            {
                **GOOD,
                "messages": [
                    {"role": "system", "content": [{"text": "hi"}]},
                    GOOD["messages"][1],
                ],
            }
        ),
        "messages[0].role",
    ),
    5: (json.dumps(record(user="")), "messages[0].content[0].text"),
    6: (json.dumps(record(user="hello Assistant: hi")), "messages[0].content[0].text"),
    7: (json.dumps(record(answer="")), "messages[1].content[0].text"),
    8: (
        json.dumps(
            {
                **GOOD,
                "messages": [
                    {"role": "user", "content": [{"image": {"format": "png"}}]},
                    GOOD["messages"][1],
                ],
            }
        ),
        "messages[0].content[0].image",
    ),
    9: (json.dumps({**GOOD, "system": [{"text": "be brief [EOS]"}]}), "system[0].text"),
    10: ("", "record"),
    11: (json.dumps([1, 2]), "record"),
    12: (
        json.dumps({**GOOD, "messages": list(reversed(GOOD["messages"]))}),
        "messages[0].role",
    ),
}


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    lines = [json.dumps(record())]
    lines += [BAD_LINES[n][0] for n in sorted(BAD_LINES)]
    lines += [json.dumps(record(user=f"q{i}")) for i in range(10)]
    return write_lines(tmp_path / "train.jsonl", lines)


def test_every_rule_reports_its_line_and_field(bad_file: Path) -> None:
    report = nova_ft.validate(bad_file)
    assert not report.ok
    found = {(i.line, i.field) for i in report.errors}
    for line, (_, field) in BAD_LINES.items():
        assert (line, field) in found, f"line {line} {field} not reported: {report.lines()}"
    assert all(i.line in BAD_LINES for i in report.errors)
    assert report.stats.records == 11
    first = next(i for i in report.errors if i.line == 6)
    assert str(first).startswith(f"{bad_file}:6: messages[0].content[0].text: ")
    assert "Assistant:" in first.message


def test_invalid_utf8_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(json.dumps(record()).encode() + b"\n\xc3\x28\n")
    report = nova_ft.validate(path, check_counts=False)
    assert [(i.line, i.field) for i in report.errors] == [(2, "record")]
    assert "UTF-8" in report.errors[0].message


def test_record_bounds_count_train_and_validation_together(tmp_path: Path) -> None:
    train = write_lines(
        tmp_path / "train.jsonl", [json.dumps(record(user=f"a{i}")) for i in range(5)]
    )
    valid = write_lines(
        tmp_path / "valid.jsonl", [json.dumps(record(user=f"b{i}")) for i in range(3)]
    )
    assert not nova_ft.validate(train).ok
    assert nova_ft.validate(train, valid).ok
    distill = nova_ft.validate(train, valid, task="distillation")
    assert [i.field for i in distill.errors] == ["dataset"]
    assert "between 100 and 15000" in distill.errors[0].message


def test_distillation_accepts_prompts_without_answers(tmp_path: Path) -> None:
    prompt = {"schemaVersion": "bedrock-conversation-2024", "messages": [GOOD["messages"][0]]}
    path = write_lines(tmp_path / "prompts.jsonl", [json.dumps(prompt)] * 120)
    assert nova_ft.validate(path, task="distillation").ok
    assert not nova_ft.validate(path, task="sft").ok


def test_issue_cap_counts_the_rest(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "train.jsonl", ["{bad"] * 250)
    report = nova_ft.validate(path, max_issues=20)
    assert len(report.errors) == 20
    assert report.omitted_errors == 230
    assert report.error_count == 250


def test_warnings_for_small_inconsistent_duplicated_data(tmp_path: Path) -> None:
    lines = [json.dumps(record())] * 3 + [
        json.dumps({**record(user="x"), "system": [{"text": "other"}]})
    ]
    lines += [json.dumps(record(user=f"q{i}")) for i in range(6)]
    report = nova_ft.validate(write_lines(tmp_path / "train.jsonl", lines))
    assert report.ok
    fields = {w.field for w in report.warnings}
    assert {"dataset", "system"} <= fields
    assert report.stats.duplicate_records == 2
    assert any("repeat an earlier record" in w.message for w in report.warnings)


def test_wrong_schema_version_is_a_warning(tmp_path: Path) -> None:
    lines = [
        json.dumps({**record(user=f"q{i}"), "schemaVersion": "bedrock-conversion-2024"})
        for i in range(8)
    ]
    report = nova_ft.validate(write_lines(tmp_path / "train.jsonl", lines))
    assert report.ok
    assert any(w.field == "schemaVersion" for w in report.warnings)


def test_raise_for_errors_carries_every_issue(bad_file: Path) -> None:
    report = nova_ft.validate(bad_file)
    with pytest.raises(nova_ft.DatasetValidationError) as caught:
        report.raise_for_errors()
    assert caught.value.issues == report.errors
    assert isinstance(caught.value, nova_ft.NovaFtError)
    assert isinstance(caught.value, ValueError)


def test_from_jsonl_refuses_bad_files_with_line_numbers(bad_file: Path) -> None:
    with pytest.raises(nova_ft.DatasetValidationError) as caught:
        nova_ft.Dataset.from_jsonl(bad_file)
    assert {i.line for i in caught.value.issues} == set(BAD_LINES)
    assert f"{bad_file}:2: record:" in str(caught.value)


def test_cli_validate_prints_one_problem_a_line_and_fails(
    bad_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dataset", "validate", str(bad_file)]) == 1
    out, err = capsys.readouterr()
    errors = [line for line in out.splitlines() if not line.startswith("warning:")]
    assert all(line.startswith(f"{bad_file}:") for line in errors)
    assert {int(line.split(":")[1]) for line in errors} == set(BAD_LINES)
    assert "FAILED" in err


def test_cli_validate_passes_good_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dataset", "synth", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    code = main(
        ["dataset", "validate", str(tmp_path / "train.jsonl"), str(tmp_path / "valid.jsonl")]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "ok: 900 valid records in 2 file(s), 0 error(s)" in err
    assert main(["--json", "dataset", "validate", str(tmp_path / "train.jsonl")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["stats"]["records"] == 800


def test_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(nova_ft.DataFileError) as caught:
        nova_ft.validate(tmp_path / "nope.jsonl")
    assert isinstance(caught.value, OSError)
    assert "nope.jsonl" in str(caught.value)
    assert main(["dataset", "validate", str(tmp_path / "nope.jsonl")]) == 1
    assert "error:" in capsys.readouterr().err


def test_bad_file_names_are_rejected(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "my data.jsonl", [json.dumps(record(user=f"q{i}")) for i in range(8)]
    )
    report = nova_ft.validate(path)
    assert [i.field for i in report.errors] == ["file"]


def test_repeated_system_prompts_are_still_checked_when_they_change(tmp_path: Path) -> None:
    """The validator remembers the last good system prompt; changes must still be checked."""
    lines = [json.dumps(record(user=f"q{i}")) for i in range(10)]
    lines.append(json.dumps({**record(user="a"), "system": [{"text": "System: be nice"}]}))  # 11
    lines.append(json.dumps(record(user="b")))  # 12: back to the first prompt
    lines.append(json.dumps({**record(user="c"), "system": None}))  # 13: no prompt is fine
    lines.append(json.dumps({**record(user="d"), "system": "not a list"}))  # 14
    lines.append(json.dumps({**record(user="e"), "system": [{"text": "Be brief."}]}))  # 15
    report = nova_ft.validate(write_lines(tmp_path / "train.jsonl", lines))
    assert [(i.line, i.field) for i in report.errors] == [(11, "system[0].text"), (14, "system")]
    assert report.stats.records == 13
    previews = [v["preview"] for v in report.stats.system_prompts]
    assert previews == ["Classify the intent.", "", "Be brief."]


def test_nova_2_lite_rules_are_chosen_by_the_base_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = {
        "role": "assistant",
        "content": [
            {"reasoningContent": {"reasoningText": {"text": "it asks for a fare"}}},
            {"text": "airfare"},
        ],
    }
    with_reasoning = {
        **record("how much to fly to boston"),
        "messages": [record("how much to fly to boston")["messages"][0], answer],
    }
    path = write_lines(tmp_path / "nova2.jsonl", [json.dumps(with_reasoning)] * 150)
    micro = nova_ft.validate(path, check_counts=False)
    assert [i.field for i in micro.errors][:1] == ["messages[1].content[0].reasoningContent"]
    nova2 = nova_ft.validate(path, model="amazon.nova-2-lite-v1:0:256k")
    # Reasoning is fine for Nova 2 Lite; 150 records are not (it takes 200 to 20,000).
    assert [i.field for i in nova2.errors] == ["dataset"]
    assert "200" in nova2.errors[0].message
    code = main(
        [
            "dataset",
            "validate",
            str(path),
            "--model",
            "amazon.nova-2-lite-v1:0:256k",
            "--no-count-check",
        ]
    )
    assert code == 0, capsys.readouterr()
