"""Generation speed of the local language model (``--models lm``) through the emulator's
Converse API, beside llama.cpp on the same GGUF file and the same threads when
``llama-cpp-python`` is installed (``pip install llama-cpp-python`` builds it; on a CPU with
AMX its native build crashed at the first decode here, and ``CMAKE_ARGS="-DGGML_NATIVE=OFF
-DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=ON"`` built one that runs).

    python benches/lm_speed.py [--tokens 128] [--concurrent 32] [--repeat 3] [--temperature 0.7]
                               [--busy 1]

Prints, per repeat: single-stream decoding tokens/s (a streamed Converse: tokens after the
first over the time after the first), time to first token, and the aggregate tokens/s of
``--concurrent`` Converse requests at once (each with its own question); then llama.cpp's
single-stream decoding tokens/s and time to first token (2 threads), measured in a child
process. Peak memory (RSS) of this process, which runs the emulator and its clients, is printed
last.

``--busy N`` runs everything, llama.cpp included, beside N other processes that keep a core
busy each (a notebook computing, another job): the CPU shared, as users' machines often are.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.config import Config

import nova_ft
from nova_ft import _local_models

MICRO = "amazon.nova-micro-v1:0"
QUESTION = "Write a short story about a lighthouse keeper who finds a message in a bottle."
TOPICS = ["a lighthouse", "a bakery", "a glacier", "a violin", "a desert town", "a robot"]


def inference(tokens: int, temperature: float) -> dict[str, Any]:
    """Converse's inferenceConfig: greedy at temperature 0, else sampled with top-p 0.9
    (Nova's defaults are temperature 0.7, top-p 0.9)."""
    config: dict[str, Any] = {"maxTokens": tokens, "temperature": temperature}
    if temperature > 0:
        config["topP"] = 0.9
    return config


def streamed(client: Any, tokens: int, temperature: float = 0.0) -> tuple[float, float, int]:
    """(time to first token, decoding tokens/s, tokens) of one streamed answer."""
    started = time.perf_counter()
    reply = client.converse_stream(
        modelId=MICRO,
        messages=[{"role": "user", "content": [{"text": QUESTION}]}],
        inferenceConfig=inference(tokens, temperature),
    )
    first = None
    out = 0
    for event in reply["stream"]:
        if "contentBlockDelta" in event and first is None:
            first = time.perf_counter()
        if "metadata" in event:
            out = event["metadata"]["usage"]["outputTokens"]
    end = time.perf_counter()
    assert first is not None
    return first - started, (out - 1) / (end - first), out


def aggregate(client: Any, tokens: int, concurrent: int, temperature: float = 0.0) -> float:
    """Output tokens/s over ``concurrent`` Converse requests sent at once."""

    def one(i: int) -> int:
        reply = client.converse(
            modelId=MICRO,
            messages=[
                {
                    "role": "user",
                    "content": [{"text": f"Write a short story about {TOPICS[i % 6]}."}],
                }
            ],
            inferenceConfig=inference(tokens, temperature),
        )
        return int(reply["usage"]["outputTokens"])

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrent) as pool:
        total = sum(pool.map(one, range(concurrent)))
    return total / (time.perf_counter() - started)


@contextlib.contextmanager
def busy(processes: int) -> Iterator[None]:
    """``processes`` child processes that each keep a core busy until the block ends."""
    spinning = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(processes)
    ]
    try:
        yield
    finally:
        for p in spinning:
            p.kill()
            p.wait()


def llama_cpp(path: str, tokens: int) -> tuple[float, float] | str:
    """llama.cpp's decoding tokens/s and time to first token on the same file, 2 threads, or
    why there are none. It runs in a child process: its memory is not counted in this
    process's peak, and a crash in it does not lose nova_ft's figures."""
    try:
        import llama_cpp as _  # noqa: F401
    except ImportError:
        return "not installed here (pip install llama-cpp-python to compare)"
    child = subprocess.run(
        [sys.executable, __file__, "--llama-cpp-only", path, "--tokens", str(tokens)],
        capture_output=True,
        text=True,
    )
    if child.returncode != 0:
        return f"failed (exit {child.returncode}): {child.stderr.strip()[-300:]}"
    decode, ttft = (float(v) for v in child.stdout.split())
    return decode, ttft


def _llama_cpp_in_this_process(path: str, tokens: int) -> None:
    from llama_cpp import Llama

    # Any: llama-cpp-python's message and chunk types are TypedDict unions that plain dicts
    # do not check against (mypy reported them only where llama-cpp-python is installed).
    llm: Any = Llama(model_path=path, n_threads=2, n_ctx=2048, verbose=False)
    messages = [{"role": "user", "content": QUESTION}]
    # Warm up on another prompt: llama.cpp would reuse the same prompt's cached keys.
    warm = [{"role": "user", "content": "Say hello."}]
    llm.create_chat_completion(messages=warm, max_tokens=8, temperature=0.0)
    started = time.perf_counter()
    first = None
    count = 0
    for chunk in llm.create_chat_completion(
        messages=messages, max_tokens=tokens, temperature=0.0, stream=True
    ):
        if chunk["choices"][0]["delta"].get("content"):
            first = first or time.perf_counter()
            count += 1
    end = time.perf_counter()
    assert first is not None
    print((count - 1) / (end - first), first - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--concurrent", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--temperature",
        type=float,
        default=0.0,
        help="0: greedy (the default); above 0, sampled with top-p 0.9 (llama.cpp stays greedy)",
    )
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        metavar="N",
        help="measure beside N processes that each keep a core busy (the CPU shared)",
    )
    parser.add_argument("--llama-cpp-only", metavar="GGUF", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.llama_cpp_only:
        _llama_cpp_in_this_process(args.llama_cpp_only, args.tokens)
        return
    path = os.environ.get("NOVA_FT_LM_PATH") or str(_local_models.installed_file() or "")
    if not path:
        raise SystemExit(f"the model file is not installed: {_local_models.INSTALL_HINT}")
    if args.busy:
        print(f"beside {args.busy} process(es) keeping a core busy each", flush=True)
    with busy(args.busy):
        measure(args, path)


def measure(args: argparse.Namespace, path: str) -> None:
    config = Config(max_pool_connections=args.concurrent, read_timeout=600)
    with nova_ft.LocalEmulator(models="lm", lm_path=path, verify_signatures=False) as emu:
        client = emu.client("bedrock-runtime", config=config)
        streamed(client, 8)  # load and warm up
        singles, aggregates = [], []
        for r in range(args.repeat):
            ttft, single, out = streamed(client, args.tokens, args.temperature)
            total = aggregate(client, args.tokens, args.concurrent, args.temperature)
            singles.append(single)
            aggregates.append(total)
            print(
                f"run {r + 1}: single stream {single:5.1f} tokens/s ({out} tokens, first after "
                f"{ttft:.2f} s); {args.concurrent} concurrent: {total:6.1f} tokens/s "
                f"(x{total / single:.1f})",
                flush=True,
            )
    print(
        f"nova_ft (emulator, Converse): single {min(singles):.1f}-{max(singles):.1f} tokens/s, "
        f"{args.concurrent} concurrent {min(aggregates):.1f}-{max(aggregates):.1f} tokens/s "
        f"(x{statistics.fmean(aggregates) / statistics.fmean(singles):.1f})"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    reference = llama_cpp(path, args.tokens)
    if isinstance(reference, str):
        print(f"llama.cpp: {reference}")
    else:
        decode, ttft = reference
        ratio = statistics.fmean(singles) / decode
        print(
            f"llama.cpp (2 threads): decoding {decode:.1f} tokens/s, first token after "
            f"{ttft:.2f} s; nova_ft single stream / llama.cpp = {ratio:.2f}"
        )
    print(f"peak memory of this process (emulator and its clients; not llama.cpp): {peak:.0f} MB")


if __name__ == "__main__":
    main()
