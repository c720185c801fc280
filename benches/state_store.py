"""Whether the emulator's metadata store keeps its pace as a bucket fills up.

Sequential 100-byte PUTs through boto3 against a fresh emulator (on its own data directory),
timed a thousand at a time. The baseline is the run's own first thousand: the report gives
the last thousand's time as a ratio of it (1.0 = a change costs the same at the end as at the
start), and the whole run's time.

    python benches/state_store.py [--puts 50000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import nova_ft

BLOCK = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--puts", type=int, default=50_000, help="how many PUTs (default 50000)")
    args = parser.parse_args()
    if args.puts < 2 * BLOCK:
        parser.error(f"--puts must be at least {2 * BLOCK}")
    body = b"x" * 100
    blocks: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="nova-ft-bench-") as data_dir,
        nova_ft.LocalEmulator(data_dir) as emu,
    ):
        s3 = emu.client("s3")
        s3.create_bucket(Bucket="bench")
        start = block_start = time.perf_counter()
        for i in range(args.puts):
            s3.put_object(Bucket="bench", Key=f"objects/{i:07d}", Body=body)
            if (i + 1) % BLOCK == 0:
                now = time.perf_counter()
                blocks.append(now - block_start)
                block_start = now
                if len(blocks) % 10 == 0:
                    print(f"  {i + 1:>7} PUTs, {1000 * blocks[-1] / BLOCK:.2f} ms each lately")
        total = time.perf_counter() - start
        listed = s3.list_objects_v2(Bucket="bench", Prefix="objects/", MaxKeys=1)["KeyCount"]
        assert listed == 1
    first, last = blocks[0], blocks[-1]
    print(f"PUTs:                 {args.puts}")
    print(f"first {BLOCK}:           {first:.2f} s ({1000 * first / BLOCK:.2f} ms each)")
    print(f"last {BLOCK}:            {last:.2f} s ({1000 * last / BLOCK:.2f} ms each)")
    print(f"last / first:         {last / first:.2f}x  (target <= 1.2x)")
    print(f"whole run:            {total:.1f} s ({1000 * total / args.puts:.2f} ms per PUT)")


if __name__ == "__main__":
    main()
