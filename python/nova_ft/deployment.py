"""Step 4: an on-demand deployment of a custom model; its ARN is the Converse model id."""

from __future__ import annotations

import logging
import time
import warnings
from typing import TYPE_CHECKING, Any

from ._display import html_table, progress_bar
from ._naming import request_token
from ._nova_ft import DeploymentInfo, Reply
from ._steps import Sleep, Steps, run, run_async
from .exceptions import ConflictError, DeploymentFailedError, ResourceNotFoundError

if TYPE_CHECKING:
    from .session import Session

__all__ = ["Deployment"]

log = logging.getLogger("nova_ft")


class Deployment:
    """An on-demand custom model deployment (billed per token, no provisioned capacity).

    Examples:
        >>> import nova_ft as nf
        >>> with nf.Session.local(job_step_delay=0.01, deployment_delay=0.1) as session:
        ...     data = nf.Dataset.synthetic(seed=7, train=200, valid=20)
        ...     location = data.upload(session.bucket().ensure())
        ...     job = session.fine_tune(location, session.training_role(location).ensure())
        ...     deployment = job.wait(progress=False).deploy()
        ...     _ = deployment.wait(progress=False)
        ...     reply = deployment.converse("car rental in boston", system=data.system_prompt)
        ...     deployment.status, reply.text, deployment.delete(), deployment.delete()
        ('Active', 'ground_service', True, False)
    """

    def __init__(self, session: Session, name: str, info: DeploymentInfo | None = None) -> None:
        self._session = session
        self.name = name
        #: The deployment as Bedrock last described it (None until fetched).
        self.info: DeploymentInfo | None = info

    @property
    def arn(self) -> str | None:
        """The deployment ARN (None until created)."""
        return self.info.deployment_arn if self.info else None

    @property
    def model_id(self) -> str:
        """What to pass to Converse as ``modelId``: the deployment ARN."""
        if not self.arn:
            raise ResourceNotFoundError(f"deployment {self.name} has no ARN yet; call refresh()")
        return self.arn

    @property
    def status(self) -> str | None:
        """``Creating``, ``Active`` or ``Failed``."""
        return self.info.status if self.info else None

    @property
    def model_arn(self) -> str | None:
        """The custom model this deployment serves."""
        return self.info.model_arn if self.info else None

    def _refresh(self) -> Steps[Deployment]:
        self.info = yield self._session.core.describe_deployment(self.arn or self.name)
        return self

    def _attach(self) -> Steps[Deployment]:
        yield from self._refresh()
        if self.info is not None:
            self.name = self.info.name
        return self

    def refresh(self) -> Deployment:
        """Fetch the deployment's current state."""
        return run(self._refresh())

    async def refresh_async(self) -> Deployment:
        """Async twin of :meth:`refresh`."""
        return await run_async(self._refresh())

    def _wait(self, progress: bool, timeout: float | None) -> Steps[Deployment]:
        first, longest = (0.05, 0.5) if self._session.is_local else (15.0, 30.0)
        delay = first
        started = time.monotonic()
        bar = progress_bar(1, f"deployment {self.name}", progress)
        try:
            while True:
                yield from self._refresh()
                if bar is not None:
                    bar.set_postfix_str(str(self.status), refresh=True)
                if self.status == "Active":
                    if bar is not None:
                        bar.update(1)
                    return self
                if self.status == "Failed":
                    raise DeploymentFailedError(
                        f"deployment {self.name} failed: "
                        f"{self.info.failure_message if self.info else None}",
                        hint="on-demand deployments need a Nova model customized on or after "
                        "2025-07-16, in us-east-1 or us-west-2",
                    )
                if timeout is not None and time.monotonic() - started > timeout:
                    raise TimeoutError(
                        f"deployment {self.name} still {self.status} after {timeout:.0f} s"
                    )
                yield Sleep(delay)
                delay = min(delay * 1.5, longest)
        finally:
            if bar is not None:
                bar.close()

    def wait(self, progress: bool = True, timeout: float | None = None) -> Deployment:
        """Wait until the deployment is Active (Converse answers ModelNotReady before)."""
        return run(self._wait(progress, timeout))

    async def wait_async(self, progress: bool = False, timeout: float | None = None) -> Deployment:
        """Async twin of :meth:`wait`."""
        return await run_async(self._wait(progress, timeout))

    def _delete(self) -> Steps[bool]:
        deleted: bool = yield self._session.core.delete_deployment(self.arn or self.name)
        return deleted

    def delete(self) -> bool:
        """Delete the deployment (stops its billing); False if it was already gone."""
        return run(self._delete())

    async def delete_async(self) -> bool:
        """Async twin of :meth:`delete`."""
        return await run_async(self._delete())

    def converse(self, text: str, system: str | None = None, **options: Any) -> Reply:
        """One Converse call to this deployment (see :meth:`Session.converse`)."""
        return self._session.converse(self.model_id, text, system=system, **options)

    async def converse_async(self, text: str, system: str | None = None, **options: Any) -> Reply:
        """Async twin of :meth:`converse`."""
        return await self._session.converse_async(self.model_id, text, system=system, **options)

    def __repr__(self) -> str:
        return f"Deployment(name={self.name!r}, status={self.status!r})"

    def _repr_html_(self) -> str:
        return html_table(
            "nova_ft.Deployment",
            {
                "name": self.name,
                "status": self.status,
                "model id (ARN)": self.arn,
                "custom model": self.model_arn,
            },
        )


def deploy_steps(
    session: Session, model_arn: str, name: str | None, description: str | None
) -> Steps[Deployment]:
    """Attach to the deployment of this name for this model, or create it."""
    if not session.serves_on_demand_custom_models:
        warnings.warn(
            f"region {session.region} cannot serve on-demand custom Nova models; "
            "use us-east-1 or us-west-2",
            UserWarning,
            stacklevel=4,
        )
    token = request_token({"model_arn": model_arn, "name": name})
    name = name or f"nova-ft-{token[:12]}"
    deployment = Deployment(session, name)
    try:
        yield from deployment._refresh()
    except ResourceNotFoundError:
        pass
    else:
        if deployment.model_arn == model_arn:
            log.info("deployment %s exists (%s): attaching", name, deployment.status)
            return deployment
        raise ConflictError(
            f"a deployment named {name} already serves another model ({deployment.model_arn})",
            code="ConflictException",
            hint="pass another name, or delete that deployment first",
        )
    arn: str = yield session.core.create_deployment(
        name,
        model_arn,
        token,
        description or "on-demand deployment created by nova_ft",
    )
    session.record.add("deployment", arn)
    log.info("deployment %s created: %s", name, arn)
    yield from deployment._refresh()
    return deployment
