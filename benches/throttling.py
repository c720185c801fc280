"""Throttling is "later", not "failed": the benchmark loop under the emulator's faults and
under a Bedrock-like rate limit.

1. 30% random throttling plus 5% server errors, 1,000 rows, repeated: failed rows per run
   (target: none, every run).
2. A rate limit of 6,000 invocations a minute (100/s) with 50 ms latency and 32 calls allowed
   in flight (640/s unthrottled): the rate the loop settles at, as a share of the limit
   (target: within 10%), and its failed rows.

    python benches/throttling.py [--runs 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import nova_ft as nf

MODEL = "amazon.nova-micro-v1:0"


def rows(n: int) -> list[dict[str, str]]:
    texts = ["flights to boston", "cheapest fare to denver", "car rental in dallas"]
    return [{"id": str(i), "text": f"{texts[i % 3]} #{i}", "gold": "flight"} for i in range(n)]


def faults(runs: int) -> None:
    failed = []
    for _ in range(runs):
        with (
            tempfile.TemporaryDirectory() as tmp,
            nf.Session.local(f"{tmp}/emu", throttle_rate=0.3, error_rate=0.05) as session,
        ):
            report = session.benchmark(
                rows(1000), [MODEL], out_dir=f"{tmp}/out", concurrency=32
            ).run(progress=False)
            failed.append(report.models[MODEL]["failed"])
    print(f"30% throttled + 5% errors, 1,000 rows x {runs} runs: failed rows per run {failed}")
    print(f"  runs with no failed row: {failed.count(0)}/{runs}")


def rate_limit(limit_per_minute: float, n: int) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        nf.Session.local(f"{tmp}/emu", rate_limit=limit_per_minute, latency_ms=50.0) as session,
    ):
        bench = session.benchmark(rows(n), [MODEL], out_dir=f"{tmp}/out", concurrency=32)
        start = time.perf_counter()
        report = bench.run(progress=False)
        seconds = time.perf_counter() - start
    model = report.models[MODEL]
    rate, limit = n / seconds, limit_per_minute / 60
    print(
        f"rate limit {limit:.0f}/s, 50 ms latency, up to 32 in flight (640/s unthrottled), "
        f"{n} rows: {rate:.1f}/s = {rate / limit:.0%} of the limit; "
        f"{report.run['throttled']} throttled calls, {model['failed']} failed rows"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rows", type=int, default=3000, help="rows for the rate-limit run")
    args = parser.parse_args()
    faults(args.runs)
    rate_limit(6000, args.rows)


if __name__ == "__main__":
    main()
