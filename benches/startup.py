"""How fast the command line answers: whole processes, medians of repeated runs, side by side
with a bare ``python -c pass`` (the floor no Python program goes below).

    python benches/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_ms(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    cli = shutil.which("nova-ft", path=str(Path(sys.executable).parent)) or "nova-ft"
    # Bytecode first, as a wheel's install leaves it: an editable install under
    # PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module on every run.
    package = subprocess.run(
        [sys.executable, "-c", "import nova_ft, os; print(os.path.dirname(nova_ft.__file__))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([cli, "dataset", "synth", "--out", tmp], check=True, capture_output=True)
        cases = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "import nova_ft": [sys.executable, "-c", "import nova_ft"],
            "nova-ft --help": [cli, "--help"],
            "nova-ft dataset validate": [cli, "dataset", "validate", f"{tmp}/train.jsonl"],
        }
        floor = None
        for name, command in cases.items():
            ms = median_ms(command, args.runs)
            floor = floor or ms
            print(f"{name:<26} {ms:7.1f} ms  ({ms / floor:.1f}x python -c pass)")


if __name__ == "__main__":
    main()
