"""Step 2: the IAM service role Bedrock assumes to read the data and write the output."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._display import html_table
from ._nova_ft import RoleInfo
from ._steps import Sleep, Steps, async_twin, step

if TYPE_CHECKING:
    from .session import Session

__all__ = ["TrainingRole"]

log = logging.getLogger("nova_ft")

#: IAM is eventually consistent: a new role or policy can take this long to be usable by
#: Bedrock (AWS's own notebooks wait 10 s after CreateRole).
PROPAGATION_SECONDS = 10.0


class TrainingRole:
    """The role a customization job runs as.

    Trusted by ``bedrock.amazonaws.com`` only for this account's customization jobs in this
    region (``aws:SourceAccount`` and ``aws:SourceArn`` conditions), and allowed exactly:
    ``s3:GetObject`` on the data prefixes, ``s3:GetObject``/``s3:PutObject`` on the output
    prefix, ``s3:ListBucket`` on the bucket. ``ensure()`` creates it, or updates its policies
    when the prefixes changed, then waits until IAM has propagated the change.
    """

    def __init__(
        self,
        session: Session,
        bucket: str,
        data_prefixes: Sequence[str],
        output_prefix: str,
        name: str = "BedrockNovaFineTune",
        policy_name: str = "s3-scoped",
        invoke_models: Sequence[str] = (),
    ) -> None:
        self._session = session
        #: Models the role may also invoke (an evaluation job's judge).
        self.invoke_models = list(invoke_models)
        self.name = name
        self.bucket = bucket
        self.data_prefixes = list(data_prefixes)
        self.output_prefix = output_prefix
        self.policy_name = policy_name
        self.arn: str | None = None
        self.created: bool | None = None

    @step
    def ensure(self) -> Steps[TrainingRole]:
        """Create or update the role to match. Idempotent."""
        identity = yield from self._session._identity_step()
        info: RoleInfo = yield self._session.core.ensure_role(
            self.name,
            identity.account,
            self._session.region,
            self.bucket,
            self.data_prefixes,
            self.output_prefix,
            self.policy_name,
            self.invoke_models,
        )
        self.arn = info.arn
        self.created = info.created
        if self.created:
            self._session.record.add("role", self.name)
        if info.policy_updated and not self._session.is_local:
            log.info("waiting %.0f s for IAM to propagate role %s", PROPAGATION_SECONDS, self.name)
            yield Sleep(PROPAGATION_SECONDS)
        log.info(
            "role %s %s",
            self.name,
            "created" if self.created else ("updated" if info.policy_updated else "unchanged"),
        )
        return self

    ensure_async = async_twin(ensure)

    def __repr__(self) -> str:
        return f"TrainingRole(name={self.name!r}, arn={self.arn!r}, created={self.created})"

    def _repr_html_(self) -> str:
        return html_table(
            "nova_ft.TrainingRole",
            {
                "name": self.name,
                "arn": self.arn,
                "reads": ", ".join(f"s3://{self.bucket}/{p}" for p in self.data_prefixes),
                "writes": f"s3://{self.bucket}/{self.output_prefix}",
            },
        )
