"""The benchmark loop's speed, side by side with the ways people call Converse from Python.

Against the emulator (a separate process, `nova-ft emulator serve`) with an injected latency,
on the same rows and concurrency, each client runs in its own child process so its CPU time
and peak memory are its own:

- ``nova_ft``: ``Benchmark.run`` (the Rust loop),
- ``boto3-shared``: boto3 ``converse`` in a ``ThreadPoolExecutor`` sharing one client (boto3
  clients are thread-safe: what a careful user writes, and the faster of the two pools),
- ``boto3-threads``: the same with one client per thread,
- ``boto3-sequential``: the tutorial's loop, one call at a time (fewer rows: it is slow).

Prints requests/s, CPU seconds per 1,000 requests and peak RSS, and the ratios: nova_ft at
50 ms latency against the ideal concurrency/latency, and nova_ft against the stronger thread
pool. Run with a release build: ``python benches/converse_loop.py``.
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

SYSTEM = "Classify the intent. Choose one of: flight, airfare, ground_service, aircraft"
TEXTS = [
    "show me flights from boston to denver",
    "how much is a ticket to dallas",
    "car rental in miami",
    "what kind of plane flies to seattle",
]
MODEL = "amazon.nova-micro-v1:0"


def rows(n: int) -> list[dict[str, str]]:
    return [{"id": str(i), "text": TEXTS[i % 4], "system": SYSTEM} for i in range(n)]


def client_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def run_nova_ft(endpoint: str, n: int, concurrency: int) -> int:
    import nova_ft as nf

    with tempfile.TemporaryDirectory() as out:
        session = nf.Session(region="us-east-1", endpoint_url=endpoint)
        report = session.benchmark(
            rows(n), [MODEL], out_dir=out, concurrency=concurrency, max_tokens=8
        ).run(progress=False)
        return int(report.models[MODEL]["answered"])


def boto3_client() -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"max_attempts": 8, "mode": "standard"}, max_pool_connections=64)
    return boto3.client("bedrock-runtime", config=config)


def call(client: Any, row: dict[str, str]) -> str:
    out = client.converse(
        modelId=MODEL,
        system=[{"text": row["system"]}],
        messages=[{"role": "user", "content": [{"text": row["text"]}]}],
        inferenceConfig={"maxTokens": 8, "temperature": 0},
    )
    return str(out["output"]["message"]["content"][0]["text"])


def run_boto3_threads(endpoint: str, n: int, concurrency: int) -> int:
    # Imported here, so the other clients' processes do not pay for the harness's imports.
    import threading
    from concurrent.futures import ThreadPoolExecutor

    local = threading.local()

    def work(row: dict[str, str]) -> str:
        if not hasattr(local, "client"):
            local.client = boto3_client()
        return call(local.client, row)

    with ThreadPoolExecutor(concurrency) as pool:
        return sum(1 for _ in pool.map(work, rows(n)))


def run_boto3_shared(endpoint: str, n: int, concurrency: int) -> int:
    from concurrent.futures import ThreadPoolExecutor

    client = boto3_client()
    with ThreadPoolExecutor(concurrency) as pool:
        return sum(1 for _ in pool.map(lambda row: call(client, row), rows(n)))


def run_boto3_sequential(endpoint: str, n: int, concurrency: int) -> int:
    client = boto3_client()
    return sum(1 for row in rows(n) if call(client, row))


VARIANTS = {
    "nova_ft": run_nova_ft,
    "boto3-shared": run_boto3_shared,
    "boto3-threads": run_boto3_threads,
    "boto3-sequential": run_boto3_sequential,
}


def child(variant: str, endpoint: str, n: int, concurrency: int) -> None:
    """Run one client and print its numbers as JSON."""
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    answered = VARIANTS[variant](endpoint, n, concurrency)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "variant": variant,
                "requests": answered,
                "seconds": wall,
                "requests_per_second": answered / wall,
                "cpu_seconds_per_1000": cpu / answered * 1000,
                "peak_rss_mb": peak_mb,
            }
        )
    )


def measure(variant: str, endpoint: str, n: int, concurrency: int) -> dict[str, Any]:
    env = {**client_env(endpoint), "PATH": "/usr/bin:/bin"}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", variant, endpoint, str(n), str(concurrency)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # The whole process, interpreter start-up and exit included, as a user's script runs.
    result["process_seconds"] = time.perf_counter() - start
    return result


def serve(latency_ms: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nova_ft",
            "emulator",
            "serve",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
            "--data-dir",
            tempfile.mkdtemp(prefix="nova-ft-bench-"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line.split(" on ", 1)[1].split(" ", 1)[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=4, metavar=("VARIANT", "URL", "N", "CONCURRENCY"))
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    if args.child:
        variant, url, n, concurrency = args.child
        child(variant, url, int(n), int(concurrency))
        return
    c = args.concurrency
    for latency in (50.0, 0.0):
        proc, endpoint = serve(latency)
        try:
            print(f"\nlatency {latency:.0f} ms, concurrency {c}, {args.rows} rows")
            print(f"{'client':<18}{'req/s':>10}{'CPU s/1k req':>14}{'peak RSS MB':>13}")
            results = {}
            for variant in VARIANTS:
                n = args.rows if variant != "boto3-sequential" else max(50, args.rows // 20)
                r = measure(variant, endpoint, n, c)
                results[variant] = r
                print(
                    f"{variant:<18}{r['requests_per_second']:>10.0f}"
                    f"{r['cpu_seconds_per_1000']:>14.3f}{r['peak_rss_mb']:>13.0f}"
                )
            ours = results["nova_ft"]["requests_per_second"]
            if latency > 0:
                ideal = c / (latency / 1000)
                whole = results["nova_ft"]["requests"] / results["nova_ft"]["process_seconds"]
                print(
                    f"nova_ft reaches {ours / ideal:.1%} of the ideal {ideal:.0f} req/s "
                    f"({whole / ideal:.1%} timed as a whole process, start-up included)"
                )
            pools = ("boto3-shared", "boto3-threads")
            best = max(pools, key=lambda v: results[v]["requests_per_second"])
            ratio = ours / results[best]["requests_per_second"]
            cpu = results[best]["cpu_seconds_per_1000"] / results["nova_ft"]["cpu_seconds_per_1000"]
            print(
                f"nova_ft vs the faster boto3 pool ({best}): {ratio:.1f}x the requests/s, "
                f"{cpu:.1f}x less CPU"
            )
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
