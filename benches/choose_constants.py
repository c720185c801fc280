"""Runs every sweep that chose a constant of the local models, on training and validation data
only (never a test split), and prints each sweep's table with the kept value marked.

    python benches/choose_constants.py [--only zero-shot,classifier,retrieval,teacher,rft]

Each sweep is a Rust example of the models crate (no server, no AWS calls: the model alone),
given JSONL files written here from `nova_ft.datasets` and the synthetic generator:

- zero-shot: the base reader's partial-match scores (`zero_shot::PARTIAL_MATCH`), on ATIS
  train and the synthetic set's training rows (the reader does not train, so these are
  held-out data for it);
- classifier: the step scale (`classifier::LEARNING_RATE_SCALE`) and the features, 5-fold
  cross-validation on ATIS train;
- retrieval: the term weights (`retrieval::TERM_WEIGHTS`), 5-fold cross-validation on the
  training files of GeoQuery and sql-create-context;
- teacher: the distillation teacher's thresholds (`TeacherSettings`), ATIS train -> valid;
- rft: the RFT policy's step scale, prior and KL weight, ATIS train -> valid, 3 seeds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nova_ft
from nova_ft import datasets

ROOT = Path(__file__).resolve().parent.parent
SWEEPS = ("zero-shot", "classifier", "retrieval", "teacher", "rft")


def write(path: Path, rows: Iterable[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def synthetic_train() -> list[dict[str, str]]:
    """The synthetic set's training rows (as benches/model_quality.py trains on them), in
    ATIS's fields: `text` the user turn, `intent` the answer."""
    rows = []
    for record in nova_ft.Dataset.synthetic(7, 800, 100).records("train"):
        turns = {m["role"]: m["content"][0]["text"] for m in record["messages"]}
        rows.append({"text": turns["user"], "intent": turns["assistant"]})
    return rows


def example(name: str, *args: str) -> None:
    command = ["cargo", "run", "--quiet", "--release", "-p", "nova-ft-models"]
    print(f"\n$ cargo run --release -p nova-ft-models --example {name} -- {' '.join(args)}")
    sys.stdout.flush()
    subprocess.run([*command, "--example", name, "--", *args], cwd=ROOT, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", default=",".join(SWEEPS), help="comma list of " + ", ".join(SWEEPS)
    )
    chosen = parser.parse_args().only.split(",")
    unknown = set(chosen) - set(SWEEPS)
    if unknown:
        parser.error(f"unknown sweep {sorted(unknown)}; choose from {', '.join(SWEEPS)}")
    with tempfile.TemporaryDirectory(prefix="nova-ft-sweeps-") as folder:
        tmp = Path(folder)
        (tmp / "atis").mkdir()
        atis = {
            split: write(tmp / "atis" / f"{split}.jsonl", datasets.load("atis", split))
            for split in ("train", "valid", "test")
        }
        atis_train, atis_valid = atis["train"], atis["valid"]
        if "zero-shot" in chosen:
            (tmp / "synthetic").mkdir()
            synthetic = write(tmp / "synthetic" / "train.jsonl", synthetic_train())
            example("zero_shot_sweep", atis_train, synthetic, "--label-field", "intent")
        if "classifier" in chosen:
            # It reads `atis/{train,valid,test}.jsonl` itself and prints train -> test last,
            # after the choice is made: the figure the README reports, not a criterion.
            example("classifier_cv", str(tmp))
        if "retrieval" in chosen:
            sql = []
            for name in ("geoquery", "sql_create_context"):
                (tmp / name).mkdir()
                rows = [
                    {"question": r["question"], "context": r["context"], "sql": r["sql"]}
                    for r in datasets.load(name, "train")
                ]
                sql.append(write(tmp / name / "train.jsonl", rows))
            example("retrieval_sweep", *sql)
        if "teacher" in chosen:
            example("teacher_sweep", atis_train, atis_valid)
        if "rft" in chosen:
            example(
                "rft_sweep",
                atis_train,
                atis_valid,
                "--seeds",
                "3",
                "--priors",
                "2,4,8",
                "--kls",
                "0.02,0.05,0.2",
            )


if __name__ == "__main__":
    main()
