"""A large evaluation on the emulator: the same rows through the online benchmark loop and
through Bedrock batch inference (``Benchmark(mode="batch")``), side by side.

Each mode runs in its own child process with its own embedded emulator, so its wall time and
peak memory (RSS: the client, the emulator and its local model together) are its own. Prints
rows, wall seconds, rows per second, peak RSS, accuracy (the two must agree: the same model on
the same requests) and the estimated cost (batch is priced at half of on-demand), and the
ratios batch/online.

    python benches/batch_scale.py [--rows 100000] [--concurrency 32]

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
    parser.add_argument("--one", choices=["online", "batch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.rows, args.concurrency)))
        return
    results = {}
    for mode in ("online", "batch"):
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
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{args.rows:,} rows on the emulator (local stand-in model; costs estimated)")
    print(
        f"{'mode':<8} {'seconds':>8} {'rows/s':>9} {'peak RSS MB':>12} {'accuracy':>9} "
        f"{'~cost $':>9} {'failed':>7}"
    )
    for mode, r in results.items():
        print(
            f"{mode:<8} {r['seconds']:>8.1f} {r['rows'] / r['seconds']:>9.0f} "
            f"{r['peak_rss_mb']:>12.0f} {r['accuracy']:>9.1%} {r['cost_usd']:>9.4f} "
            f"{r['failed']:>7}"
        )
    on, ba = results["online"], results["batch"]
    print(
        f"batch/online: time x{ba['seconds'] / on['seconds']:.2f}, "
        f"peak memory x{ba['peak_rss_mb'] / on['peak_rss_mb']:.2f}, "
        f"cost x{ba['cost_usd'] / on['cost_usd']:.2f}; same accuracy: "
        f"{ba['accuracy'] == on['accuracy']}"
    )


if __name__ == "__main__":
    main()
