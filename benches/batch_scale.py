"""A large evaluation on the emulator: the same rows through the online benchmark loop and
through Bedrock batch inference (``Benchmark(mode="batch")``), side by side.

Each mode runs in its own child process with its own embedded emulator, so its wall time and
peak memory (RSS: the client, the emulator and its local model together) are its own. Prints
rows, wall seconds, rows per second, peak RSS, accuracy (the two must agree: the same model on
the same requests) and the estimated cost (batch is priced at half of on-demand), and the
ratios batch/online.

    python benches/batch_scale.py [--rows 100000] [--concurrency 32] [--repeat 3]

The online loop is the baseline a careful user would run: nova_ft's own Converse loop (the
fastest client measured in benches/converse_loop.py), at the given concurrency.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

SYSTEM = "Classify the request. Answer with one label from this list: billing, refund, shipping"
TEXTS = [
    ("where is my billing statement", "billing"),
    ("i want a refund for this", "refund"),
    ("shipping to ohio takes how long", "shipping"),
    ("can i get my money back", "refund"),
]
MODEL = "amazon.nova-micro-v1:0"


def rows(n: int) -> list[dict[str, str]]:
    return [
        {"id": str(i), "text": f"{TEXTS[i % 4][0]} #{i}", "gold": TEXTS[i % 4][1], "system": SYSTEM}
        for i in range(n)
    ]


def one(mode: str, n: int, concurrency: int) -> dict[str, Any]:
    import nova_ft as nf

    with tempfile.TemporaryDirectory() as tmp, nf.Session.local(f"{tmp}/emu") as session:
        data = rows(n)
        started = time.perf_counter()
        report = session.benchmark(
            data,
            {"base": MODEL},
            out_dir=f"{tmp}/out",
            mode=mode,
            concurrency=concurrency,
            max_tokens=8,
            poll_seconds=0.5,
        ).run(progress=False)
        seconds = time.perf_counter() - started
        base = report.models["base"]
        return {
            "mode": mode,
            "rows": n,
            "seconds": seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "accuracy": base["accuracy"],
            "cost_usd": base["cost_usd"],
            "failed": base["failed"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each mode (min-max shown)")
    parser.add_argument("--one", choices=["online", "batch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.rows, args.concurrency)))
        return
    runs: dict[str, list[dict[str, Any]]] = {"online": [], "batch": []}
    for _ in range(args.repeat):
        for mode in runs:  # alternating, so drift in the machine's speed hits both alike
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    mode,
                    "--rows",
                    str(args.rows),
                    "--concurrency",
                    str(args.concurrency),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            runs[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))

    def spread(mode: str, key: str, fmt: str) -> str:
        values = [r[key] for r in runs[mode]]
        low, high = min(values), max(values)
        return format(low, fmt) if low == high else f"{low:{fmt}}-{high:{fmt}}"

    print(
        f"{args.rows:,} rows on the emulator (local stand-in model; costs estimated), "
        f"{args.repeat} runs each, min-max"
    )
    print(
        f"{'mode':<8} {'seconds':>11} {'peak RSS MB':>12} {'accuracy':>9} {'~cost $':>9} "
        f"{'failed':>7}"
    )
    for mode in runs:
        print(
            f"{mode:<8} {spread(mode, 'seconds', '.1f'):>11} "
            f"{spread(mode, 'peak_rss_mb', '.0f'):>12} "
            f"{spread(mode, 'accuracy', '.1%'):>9} {spread(mode, 'cost_usd', '.4f'):>9} "
            f"{spread(mode, 'failed', 'd'):>7}"
        )
    ratio = [
        b["seconds"] / o["seconds"] for o, b in zip(runs["online"], runs["batch"], strict=True)
    ]
    memory = [
        b["peak_rss_mb"] / o["peak_rss_mb"]
        for o, b in zip(runs["online"], runs["batch"], strict=True)
    ]
    same = all(
        b["accuracy"] == o["accuracy"] for o, b in zip(runs["online"], runs["batch"], strict=True)
    )
    print(
        f"batch/online, run by run: time x{min(ratio):.2f}-{max(ratio):.2f}, "
        f"peak memory x{min(memory):.2f}-{max(memory):.2f}, "
        f"cost x{runs['batch'][0]['cost_usd'] / runs['online'][0]['cost_usd']:.2f}; "
        f"same accuracy: {same}"
    )


if __name__ == "__main__":
    main()
