"""Validation speed: nova_ft's Rust validator vs a straightforward Python loop, side by side.

Both check the same rules (JSON per line, schema, roles and alternation, non-empty text,
media blocks, reserved strings, record bounds, duplicates, system-prompt consistency, labels)
on the same files: five files of 20,000 records by default. Measured two ways, each
interleaved with its baseline: in process (`nova_ft.validate` vs the loop) and as whole
processes (`nova-ft dataset validate` vs `python` running the loop), start-up included.

    python benches/validate_bench.py [--records 20000] [--files 5] [--repeat 9]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import nova_ft

RESERVED = [
    "user:",
    "bot:",
    "assistant:",
    "system:",
    "<image>",
    "<video>",
    "[eos]",
    "thought:",
    "<unk>",
]


def python_validate(path: Path) -> tuple[int, list[str]]:
    """The loop a user would write: json.loads each line and check the rules."""
    errors: list[str] = []
    records = 0
    systems: Counter[str] = Counter()
    seen: set[str] = set()
    labels: Counter[str] = Counter()
    duplicates = 0
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{path}:{n}: record: Invalid JSON syntax - {e}")
                continue
            if not isinstance(rec, dict):
                errors.append(f"{path}:{n}: record: expected a JSON object")
                continue
            bad = False
            system = rec.get("system") or []
            for i, block in enumerate(system):
                text = block.get("text") if isinstance(block, dict) else None
                if not isinstance(text, str) or not text.strip():
                    errors.append(f"{path}:{n}: system[{i}].text: empty text")
                    bad = True
                elif any(r in text.lower() for r in RESERVED):
                    errors.append(f"{path}:{n}: system[{i}].text: reserved string")
                    bad = True
            msgs = rec.get("messages")
            if not isinstance(msgs, list) or len(msgs) < 2:
                errors.append(f"{path}:{n}: messages: both user and assistant needed")
                continue
            for i, m in enumerate(msgs):
                role = m.get("role")
                expected = "user" if i % 2 == 0 else "assistant"
                if role not in ("user", "assistant") or role != expected:
                    errors.append(f"{path}:{n}: messages[{i}].role: expected {expected}")
                    bad = True
                for j, block in enumerate(m.get("content") or []):
                    if any(k in block for k in ("image", "video", "document")):
                        errors.append(f"{path}:{n}: messages[{i}].content[{j}]: media")
                        bad = True
                    text = block.get("text")
                    if not isinstance(text, str) or not text.strip():
                        errors.append(f"{path}:{n}: messages[{i}].content[{j}].text: empty")
                        bad = True
                    elif role == "user" and any(r in text.lower() for r in RESERVED):
                        errors.append(f"{path}:{n}: messages[{i}].content[{j}].text: reserved")
                        bad = True
            if msgs[-1].get("role") != "assistant":
                errors.append(f"{path}:{n}: messages: last turn should be assistant")
                bad = True
            if bad:
                continue
            records += 1
            systems["\n".join(b["text"] for b in system)] += 1
            key = json.dumps(rec, sort_keys=True)
            if key in seen:
                duplicates += 1
            seen.add(key)
            labels[msgs[-1]["content"][0]["text"]] += 1
    if not 8 <= records <= 20_000:
        errors.append(f"{path}: dataset: {records} out of bounds")
    return records, errors


def make_file(path: Path, n: int, part: int = 0) -> None:
    """Realistic records: the tutorial's synthetic rows with varied, longer user turns (each
    file's rows its own, so files do not duplicate each other)."""
    ds = nova_ft.Dataset.synthetic(seed=1 + part, train=n, valid=0)
    lines = ds.jsonl("train").decode().splitlines()
    with open(path, "w") as f:
        for i, line in enumerate(lines):
            rec = json.loads(line)
            turn = rec["messages"][0]["content"][0]
            turn["text"] += f" on day {i} of batch {part} with a window seat please"
            f.write(json.dumps(rec) + "\n")


def side_by_side(
    contenders: dict[str, Callable[[], object]], repeat: int
) -> dict[str, list[float]]:
    """Seconds of each contender per round, run interleaved (after one warm-up each) so both
    see the same machine state."""
    for fn in contenders.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def run_python_loop(paths: list[Path]) -> None:
    """The baseline's whole process: validate each file with the loop, fail on any error."""
    for path in paths:
        _, errors = python_validate(path)
        if errors:
            raise SystemExit(f"{path}: {errors[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="records per file")
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--run-python", nargs="+", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_python:
        run_python_loop(args.run_python)
        return
    nova_ft_cli = Path(sys.executable).with_name("nova-ft")
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / f"part-{i}.jsonl" for i in range(args.files)]
        for part, path in enumerate(paths):
            make_file(path, args.records, part)
        total = args.records * args.files
        size_mb = sum(p.stat().st_size for p in paths) / 1e6
        report = nova_ft.validate(*paths, check_counts=False)
        assert report.ok, "the benchmark files must be valid"
        assert report.stats.records == total
        for path in paths:
            py_records, py_errors = python_validate(path)
            assert not py_errors and py_records == args.records
        in_process = side_by_side(
            {
                "python": lambda: [python_validate(p) for p in paths],
                "nova_ft": lambda: nova_ft.validate(*paths, check_counts=False),
            },
            args.repeat,
        )
        python_cmd = [sys.executable, __file__, "--run-python", *map(str, paths)]
        nova_cmd = [str(nova_ft_cli), "dataset", "validate", "--no-count-check", *map(str, paths)]
        whole = side_by_side(
            {
                "python": lambda: subprocess.run(python_cmd, check=True),
                "nova_ft": lambda: subprocess.run(nova_cmd, check=True, capture_output=True),
            },
            args.repeat,
        )
        print(
            f"{args.files} files, {total:,} records, {size_mb:.1f} MB "
            f"(median of {args.repeat} interleaved runs)"
        )
        for label, times in (("in process", in_process), ("whole process", whole)):
            py_time = statistics.median(times["python"])
            rs_time = statistics.median(times["nova_ft"])
            # Each round's ratio compares two runs made back to back, so it is robust to this
            # machine's speed drifting between rounds; their median is the figure reported.
            ratios = sorted(p / r for p, r in zip(times["python"], times["nova_ft"], strict=True))
            print(
                f"{label + ':':<15} python loop {py_time * 1e3:8.1f} ms  "
                f"nova_ft {rs_time * 1e3:7.1f} ms ({total / rs_time:,.0f} rec/s)  "
                f"ratio {statistics.median(ratios):.1f}x "
                f"(rounds {ratios[0]:.1f}-{ratios[-1]:.1f}x)"
            )


if __name__ == "__main__":
    main()
