"""A session of AWS clients: against your AWS account, or against the embedded emulator.

>>> with Session.local() as session:
...     session.account_id
'123456789012'
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any

from . import _nova_ft
from .emulator import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, LocalEmulator

__all__ = ["ON_DEMAND_CUSTOM_MODEL_REGIONS", "Session"]

#: Regions that serve on-demand deployments of customized Nova models.
ON_DEMAND_CUSTOM_MODEL_REGIONS = ("us-east-1", "us-west-2")


class Session:
    """The AWS clients (S3, IAM, STS, Bedrock, bedrock-runtime) of one workflow.

    Credentials and region resolve the standard AWS way (arguments, then the environment,
    then the shared config and credentials files, SSO, instance roles), through the AWS SDK
    for Rust. ``Session.local()`` starts the embedded emulator and points every client at it:
    the same code, no second path.
    """

    def __init__(
        self,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self._core = _nova_ft.SessionCore.connect(region, profile, endpoint_url)
        self._emulator: LocalEmulator | None = None
        self._identity: dict[str, Any] | None = None

    @classmethod
    def local(
        cls, data_dir: str | os.PathLike[str] | None = None, **emulator_options: Any
    ) -> Session:
        """Start a :class:`LocalEmulator` (options as there) and a session against it.

        The emulator stops when the session is closed (or leaves its ``with`` block).
        """
        emulator = LocalEmulator(None if data_dir is None else Path(data_dir), **emulator_options)
        session = cls.__new__(cls)
        session._core = _nova_ft.SessionCore.connect(
            emulator.region, None, emulator.endpoint_url, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
        )
        session._emulator = emulator
        session._identity = None
        return session

    @property
    def region(self) -> str:
        return self._core.region

    @property
    def endpoint_url(self) -> str | None:
        """The custom endpoint, if any (the emulator's for a local session)."""
        return self._core.endpoint_url

    @property
    def emulator(self) -> LocalEmulator | None:
        """The emulator this session started, for ``Session.local()``."""
        return self._emulator

    @property
    def is_local(self) -> bool:
        return self._emulator is not None

    @property
    def serves_on_demand_custom_models(self) -> bool:
        """Whether this region can serve on-demand deployments of custom Nova models."""
        return self.is_local or self.region in ON_DEMAND_CUSTOM_MODEL_REGIONS

    def caller_identity(self) -> dict[str, Any]:
        """``sts get-caller-identity``: ``{"account", "arn", "user_id"}``."""
        identity: dict[str, Any] = self._core.caller_identity()
        self._identity = identity
        return identity

    async def caller_identity_async(self) -> dict[str, Any]:
        identity: dict[str, Any] = await self._core.caller_identity_async()
        self._identity = identity
        return identity

    @property
    def account_id(self) -> str:
        identity = self._identity or self.caller_identity()
        return str(identity["account"])

    def foundation_models(self, customization: str | None = None) -> list[dict[str, Any]]:
        """Foundation models, optionally only those supporting ``FINE_TUNING`` or
        ``DISTILLATION``. An empty list on AWS usually means model access was not granted."""
        models: list[dict[str, Any]] = self._core.foundation_models(customization)
        return models

    async def foundation_models_async(
        self, customization: str | None = None
    ) -> list[dict[str, Any]]:
        models: list[dict[str, Any]] = await self._core.foundation_models_async(customization)
        return models

    def foundation_model(self, model_id: str) -> dict[str, Any]:
        """One foundation model by id or ARN (raises ResourceNotFoundError if unknown)."""
        model: dict[str, Any] = self._core.foundation_model(model_id)
        return model

    def close(self) -> None:
        """Stop the emulator this session started, if any."""
        if self._emulator is not None:
            self._emulator.stop()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f", endpoint_url={self.endpoint_url!r}" if self.endpoint_url else ""
        return f"Session(region={self.region!r}, local={self.is_local}{where})"
