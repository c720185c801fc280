"""Object bodies stream to and from disk: the emulator's peak memory does not grow with the
size of what it stores or serves (an earlier build held three copies of each PUT)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")

MIB = 1 << 20


class Pattern:
    """`size` bytes of a repeating pattern, read in pieces (never whole in this process)."""

    def __init__(self, size: int) -> None:
        self.size, self.at = size, 0
        self.block = bytes(range(256)) * 4096  # 1 MiB

    def read(self, n: int = -1) -> bytes:
        n = self.size - self.at if n < 0 else min(n, self.size - self.at)
        out = (self.block * (n // len(self.block) + 1))[:n]
        self.at += n
        return out

    def seek(self, offset: int, whence: int = 0) -> int:
        self.at = offset if whence == 0 else self.size + offset if whence == 2 else self.at + offset
        return self.at

    def tell(self) -> int:
        return self.at


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_peak_memory_does_not_grow_with_object_size(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "nova_ft.cli", "emulator", "serve", "--port", "0"]
    command += ["--data-dir", str(tmp_path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            endpoint = proc.stdout.readline().split()[4]
            s3: Any = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )
            s3.create_bucket(Bucket="big")

            def round_trip(key: str, size: int) -> int:
                s3.put_object(Bucket="big", Key=key, Body=Pattern(size))
                body = s3.get_object(Bucket="big", Key=key)["Body"]
                digest, total = hashlib.md5(), 0
                for piece in iter(lambda: body.read(MIB), b""):
                    digest.update(piece)
                    total += len(piece)
                assert total == size
                assert digest.hexdigest() == hashlib.md5(Pattern(size).read()).hexdigest()
                return peak_rss(proc.pid)

            small = round_trip("small", 8 * MIB)
            large = round_trip("large", 256 * MIB)
            # Holding the large body even once would add 256 MiB.
            print(f"peak RSS: {small // MIB} MiB after 8 MiB, {large // MIB} MiB after 256 MiB")
            assert large - small < 64 * MIB, (small // MIB, large // MIB)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def test_a_refused_upload_is_answered_before_its_body_arrives() -> None:
    """A PUT to a bucket that does not exist is answered at once, even though the client has
    sent only the start of the body it announced (the handler does not wait for the rest)."""
    import socket

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    import nova_ft

    with nova_ft.LocalEmulator() as emu:
        host_port = emu.endpoint_url.removeprefix("http://")
        request = AWSRequest(method="PUT", url=f"{emu.endpoint_url}/missing-bucket/key")
        request.context["payload_signing_enabled"] = False
        S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
        head = f"PUT /missing-bucket/key HTTP/1.1\r\nHost: {host_port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items() if k != "Host")
        head += f"Content-Length: {10 * MIB}\r\n\r\n"
        host, port = host_port.split(":")
        with socket.create_connection((host, int(port)), timeout=20) as client:
            client.sendall(head.encode() + b"x" * 65536)  # then nothing more
            answer = client.recv(65536)
        assert answer.startswith(b"HTTP/1.1 404"), answer[:200]
        assert b"NoSuchBucket" in answer
