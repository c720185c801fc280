"""``nova-ft dataset``: synth, convert, validate, stats."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import InvalidParameterError
from ._output import emit

if TYPE_CHECKING:
    from ..data_report import ValidationReport
    from ..dataset import Dataset


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    dataset = commands.add_parser(
        "dataset", help="build, convert, validate and count training data"
    )
    sub = dataset.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")

    synth = sub.add_parser(
        "synth",
        parents=[common],
        help="write the tutorial's synthetic airline-intent data",
        description="Write the Bedrock tutorial's synthetic airline-intent data, byte-identical "
        "to the tutorial's Python generator for the same seed.",
    )
    synth.add_argument("--seed", type=int, default=7, help="random seed (tutorial: 7)")
    synth.add_argument("--train", type=int, default=800, help="training rows (tutorial: 800)")
    synth.add_argument("--valid", type=int, default=100, help="validation rows (tutorial: 100)")
    synth.add_argument("--test", type=int, default=0, help="test rows (tutorial: 120, seed 99)")
    synth.add_argument(
        "--test-seed",
        type=int,
        default=None,
        help="draw test rows from their own stream with this seed (tutorial: 99); "
        "default: continue the training stream",
    )
    synth.add_argument("--out", type=Path, required=True, help="directory for the JSONL files")
    synth.set_defaults(handler=run_synth)

    convert = sub.add_parser(
        "convert",
        parents=[common],
        help="convert intent or text-to-SQL rows to conversation JSONL",
        description="Convert rows from a .jsonl or .csv file to bedrock-conversation-2024 "
        "records. --out FILE.jsonl writes one file; --out DIR writes DIR/train.jsonl "
        "(and valid/test when --valid/--test are given).",
    )
    convert.add_argument("--kind", choices=["intent", "sql"], required=True)
    convert.add_argument("--input", type=Path, required=True, help=".jsonl or .csv rows")
    convert.add_argument("--out", type=Path, required=True, help="a .jsonl file or a directory")
    convert.add_argument("--text-field", default="text", help="intent: the text column")
    convert.add_argument("--label-field", default="label", help="intent: the label column")
    convert.add_argument("--instruction", default=None, help="intent: first sentence of the prompt")
    convert.add_argument("--labels", default=None, help="intent: comma-separated label order")
    convert.add_argument("--question-field", default="question", help="sql: the question column")
    convert.add_argument("--context-field", default="context", help="sql: the schema column")
    convert.add_argument("--sql-field", default="sql", help="sql: the SQL column")
    convert.add_argument("--valid", type=float, default=0.0, help="fraction for validation")
    convert.add_argument("--test", type=float, default=0.0, help="fraction for test")
    convert.add_argument("--seed", type=int, default=0, help="seed of the split")
    convert.add_argument("--no-stratify", action="store_true", help="do not stratify by label")
    convert.add_argument(
        "--drop-leaks", action="store_true", help="drop valid/test rows whose input is in train"
    )
    convert.set_defaults(handler=run_convert)

    check = sub.add_parser(
        "validate",
        parents=[common],
        help="check JSONL files against Bedrock's rules (exit 1 on any error)",
        description="Check files as one job's data. Prints one problem a line "
        "(file:line: field: message), warnings prefixed 'warning:'; exits 1 if any error.",
    )
    check.add_argument("files", nargs="+", type=Path)
    check.add_argument("--task", choices=["sft", "distillation", "rft"], default="sft")
    check.add_argument(
        "--model",
        default="",
        help="base model whose rules apply (default Nova Micro's; amazon.nova-2-lite-v1:0:256k "
        "takes images or videos, reasoningContent, and 200+ SFT records)",
    )
    check.add_argument("--max-issues", type=int, default=100, help="list at most this many")
    check.add_argument(
        "--no-count-check",
        dest="check_counts",
        action="store_false",
        help="skip the record-count bounds (files that are part of a larger set, or a corpus "
        "to sample from)",
    )
    check.set_defaults(handler=run_validate)

    stats = sub.add_parser(
        "stats",
        parents=[common],
        help="records, labels, estimated tokens and cost",
    )
    stats.add_argument("files", nargs="+", type=Path)
    stats.add_argument("--epochs", type=int, default=2, help="epochs for the training estimate")
    stats.add_argument("--task", choices=["sft", "distillation"], default="sft")
    stats.set_defaults(handler=run_stats)


def _overlap_text(ds: Dataset) -> list[str]:
    report = ds.overlap()
    return [f"  {line}" for line in report.lines()] if len(ds.splits) > 1 else []


def run_synth(args: argparse.Namespace) -> int:
    from ..dataset import Dataset

    ds = Dataset.synthetic(args.seed, args.train, args.valid, args.test, args.test_seed)
    paths = ds.write(args.out)
    lines = [f"wrote {paths[s]} ({ds.size(s)} records)" for s in ds.splits]
    lines += _overlap_text(ds)
    data = {
        "files": {s: str(p) for s, p in paths.items()},
        "records": {s: ds.size(s) for s in ds.splits},
        "overlap": ds.overlap().__dict__,
    }
    emit(args, "\n".join(lines), data)
    return 0


def run_convert(args: argparse.Namespace) -> int:
    from ..dataset import Dataset

    labels = [x.strip() for x in args.labels.split(",")] if args.labels else None
    if args.kind == "intent":
        ds = Dataset.from_intents(
            args.input,
            text=args.text_field,
            label=args.label_field,
            instruction=args.instruction,
            labels=labels,
            valid=args.valid,
            test=args.test,
            seed=args.seed,
            stratify=not args.no_stratify,
            drop_leaks=args.drop_leaks,
        )
    else:
        ds = Dataset.from_sql(
            args.input,
            question=args.question_field,
            context=args.context_field,
            sql=args.sql_field,
            valid=args.valid,
            test=args.test,
            seed=args.seed,
            drop_leaks=args.drop_leaks,
        )
    if args.out.suffix == ".jsonl":
        if len(ds.splits) > 1:
            raise InvalidParameterError(
                f"--out {args.out} is one file but --valid/--test asked for {len(ds.splits)} "
                "splits: give --out a directory"
            )
        paths = {"train": ds.write_split("train", args.out)}
    else:
        paths = ds.write(args.out)
    lines = [f"wrote {paths[s]} ({ds.size(s)} records)" for s in ds.splits]
    lines += _overlap_text(ds)
    data = {"files": {s: str(p) for s, p in paths.items()}, "labels": ds.labels}
    emit(args, "\n".join(lines), data)
    return 0


def _summary(report: ValidationReport) -> str:
    records = sum(n for _, n in report.files)
    verdict = "ok" if report.ok else "FAILED"
    warnings = len(report.warnings) + report.omitted_warnings
    return (
        f"{verdict}: {records} valid records in {len(report.files)} file(s), "
        f"{report.error_count} error(s), {warnings} warning(s)"
    )


def run_validate(args: argparse.Namespace) -> int:
    from ..dataset import validate

    report = validate(
        *args.files,
        task=args.task,
        max_issues=args.max_issues,
        check_counts=args.check_counts,
        model=args.model,
    )
    if getattr(args, "json", False):
        emit(args, "", report.raw)
    else:
        for line in report.lines():
            print(line)
        print(_summary(report), file=sys.stderr)
    return 0 if report.ok else 1


def run_stats(args: argparse.Namespace) -> int:
    from ..dataset import validate

    report = validate(*args.files, task=args.task, epochs=args.epochs, check_counts=False)
    s = report.stats
    lines = [
        f"records:          {s.records:,} ({', '.join(f'{p}: {n:,}' for p, n in report.files)})",
        f"input tokens:     {s.input_tokens:,} (mean {report.cost.mean_input_tokens:.1f})",
        f"output tokens:    {s.output_tokens:,} (mean {report.cost.mean_output_tokens:.1f})",
        f"largest record:   {s.max_record_tokens:,} tokens",
        f"system prompts:   {len(s.system_prompts)}",
        f"duplicates:       {s.duplicate_records:,}",
        f"tokens are        {s.token_estimator}",
        f"cost:             {report.cost}",
    ]
    if s.labels:
        lines.append(f"labels ({len(s.labels)}):")
        total = sum(s.labels.values())
        width = max(len(k) for k in s.labels)
        lines += [f"  {k:<{width}}  {v:>6,}  {100 * v / total:5.1f}%" for k, v in s.labels.items()]
    else:
        lines.append(f"answers:          open-ended ({s.distinct_answers:,} distinct)")
    if not report.ok:
        lines.append(f"note: {report.error_count} invalid line(s) were not counted; run validate")
    data = {**report.raw["stats"], "cost": report.raw["cost"], "errors": report.error_count}
    emit(args, "\n".join(lines), data)
    return 0
