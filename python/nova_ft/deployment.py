"""Step 4: a deployment of a custom model, on demand (the default) or provisioned throughput;
its ARN is the Converse model id."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._converse import converse_request
from ._defaults import CONVERSE_MAX_TOKENS, CONVERSE_TEMPERATURE
from ._display import html_table, progress_bar
from ._naming import request_token
from ._nova_ft import DeploymentInfo, Reply
from ._steps import Sleep, Steps, async_twin, run, run_async, step
from .exceptions import (
    ConflictError,
    DeploymentFailedError,
    InvalidParameterError,
    ResourceNotFoundError,
)

if TYPE_CHECKING:
    from .job import CustomModel
    from .session import Session

__all__ = ["Deployment"]

log = logging.getLogger("nova_ft")


COMMITMENTS = (None, "OneMonth", "SixMonths")


class Deployment:
    """A deployment of a custom model: on demand (billed per token, the default) or
    provisioned throughput (``provisioned=True``: model units billed every hour from creation
    until deleted, optionally with a one- or six-month commitment).

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

    def __init__(
        self,
        session: Session,
        name: str,
        info: DeploymentInfo | None = None,
        *,
        provisioned: bool = False,
    ) -> None:
        self._session = session
        self.name = name
        #: Provisioned throughput (model units billed hourly) rather than on demand.
        self.provisioned = provisioned or ":provisioned-model/" in name
        #: The deployment as Bedrock last described it (None until fetched).
        self.info: DeploymentInfo | None = info

    @property
    def ready_status(self) -> str:
        """The status in which it answers: ``Active`` on demand, ``InService`` provisioned."""
        return "InService" if self.provisioned else "Active"

    @property
    def model_units(self) -> int | None:
        """Provisioned throughput's model units (None on demand)."""
        return self.info.model_units if self.info else None

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
        """``Creating``, then ``Active`` (on demand) or ``InService`` (provisioned; ``Updating``
        while its model is swapped), or ``Failed``."""
        return self.info.status if self.info else None

    @property
    def model_arn(self) -> str | None:
        """The custom model this deployment serves."""
        return self.info.model_arn if self.info else None

    def _refresh(self) -> Steps[Deployment]:
        core = self._session.core
        ident = self.arn or self.name
        if self.provisioned:
            self.info = yield core.describe_provisioned(ident)
        else:
            self.info = yield core.describe_deployment(ident)
        return self

    def _attach(self) -> Steps[Deployment]:
        yield from self._refresh()
        if self.info is not None:
            self.name = self.info.name
        return self

    @step
    def refresh(self) -> Steps[Deployment]:
        """Fetch the deployment's current state."""
        return (yield from self._refresh())

    refresh_async = async_twin(refresh)

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
                if self.status == self.ready_status:
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
        """Wait until the deployment answers: ``Active`` (on demand; Converse answers
        ModelNotReady before) or ``InService`` (provisioned)."""
        return run(self._wait(progress, timeout))

    async def wait_async(self, progress: bool = False, timeout: float | None = None) -> Deployment:
        """Async twin of :meth:`wait`."""
        return await run_async(self._wait(progress, timeout))

    @step
    def update(
        self, model: CustomModel | str, *, wait: bool = True, timeout: float | None = None
    ) -> Steps[Deployment]:
        """Swap the model behind this (on-demand) deployment for ``model`` (a
        :class:`~nova_ft.job.CustomModel` or its ARN), keeping its ARN, so callers change
        nothing. The old model answers until the swap completes (``update_status``
        ``Updating`` -> ``UpdateCompleted``); with ``wait`` this returns once it has.
        Compare the two first with :class:`~nova_ft.Benchmark` on both model ids."""
        if self.provisioned:
            raise InvalidParameterError(
                "update() swaps the model of an on-demand deployment; provisioned throughput "
                "is updated with UpdateProvisionedModelThroughput"
            )
        model_arn = model if isinstance(model, str) else getattr(model, "arn", None)
        if not model_arn:
            raise InvalidParameterError(f"update() needs a custom model or its ARN, not {model!r}")
        yield self._session.core.update_deployment(self.arn or self.name, model_arn)
        log.info("deployment %s: swapping in %s", self.name, model_arn)
        yield from self._refresh()
        if not wait:
            return self
        first, longest = (0.05, 0.5) if self._session.is_local else (15.0, 30.0)
        delay, started = first, time.monotonic()
        while self.info is not None and self.info.update_status == "Updating":
            if timeout is not None and time.monotonic() - started > timeout:
                raise TimeoutError(f"deployment {self.name} still Updating after {timeout:.0f} s")
            yield Sleep(delay)
            delay = min(delay * 1.5, longest)
            yield from self._refresh()
        if self.info is not None and self.info.update_status == "UpdateFailed":
            raise DeploymentFailedError(
                f"deployment {self.name}: the update to {model_arn} failed: "
                f"{self.info.failure_message}"
            )
        return self

    update_async = async_twin(update)

    @property
    def update_status(self) -> str | None:
        """``Updating``, ``UpdateCompleted`` or ``UpdateFailed`` after :meth:`update`."""
        return self.info.update_status if self.info else None

    @step
    def delete(self) -> Steps[bool]:
        """Delete the deployment (stops its billing); False if it was already gone."""
        core = self._session.core
        ident = self.arn or self.name
        if self.provisioned:
            deleted: bool = yield core.delete_provisioned(ident)
        else:
            deleted = yield core.delete_deployment(ident)
        return deleted

    delete_async = async_twin(delete)

    @step
    def converse(
        self,
        text: str | None = None,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        inference_config: Mapping[str, Any] | None = None,
        max_tokens: int | None = CONVERSE_MAX_TOKENS,
        temperature: float | None = CONVERSE_TEMPERATURE,
    ) -> Steps[Reply]:
        """One Converse call to this deployment (arguments as :meth:`Session.converse`)."""
        request = converse_request(
            text, messages, system, inference_config, max_tokens, temperature
        )
        reply: Reply = yield self._session.core.converse(self.model_id, **request)
        return reply

    converse_async = async_twin(converse)

    def __repr__(self) -> str:
        kind = f", provisioned={self.model_units} MU" if self.provisioned else ""
        return f"Deployment(name={self.name!r}, status={self.status!r}{kind})"

    def _repr_html_(self) -> str:
        return html_table(
            "nova_ft.Deployment",
            {
                "name": self.name,
                "status": self.status,
                "model id (ARN)": self.arn,
                "custom model": self.model_arn,
                "billing": f"provisioned, {self.model_units} model unit(s), hourly"
                if self.provisioned
                else "on demand, per token",
            },
        )


def _provisioned_notice(
    name: str, model_units: int, commitment: str | None, hourly_price: float | None
) -> str:
    """What a provisioned deployment will cost, said before it is bought."""
    term = {
        None: "no commitment (delete it any time)",
        "OneMonth": "a one-month commitment",
        "SixMonths": "a six-month commitment",
    }[commitment]
    if hourly_price is None:
        price = (
            "at the hourly rate per model unit on aws.amazon.com/bedrock/pricing (Provisioned "
            "Throughput, the base model's row); nova_ft has no verified figure, so pass "
            "hourly_price= to see the total"
        )
    else:
        hourly = hourly_price * model_units
        price = f"${hourly:,.2f}/hour (${hourly * 24 * 30:,.0f} per 30 days)"
    return (
        f"provisioned throughput {name}: {model_units} model unit(s), {term}, billed every "
        f"hour until deleted {price}; Session.cleanup() deletes it"
    )


def deploy_steps(
    session: Session,
    model_arn: str,
    name: str | None,
    description: str | None,
    model_units: int | None = None,
    commitment: str | None = None,
    hourly_price: float | None = None,
) -> Steps[Deployment]:
    """Attach to the deployment of this name for this model, or create it: on demand, or
    provisioned throughput when ``model_units`` is given."""
    provisioned = model_units is not None
    if provisioned and (not isinstance(model_units, int) or model_units < 1):
        raise InvalidParameterError(f"model_units must be a whole number >= 1, not {model_units!r}")
    if commitment not in COMMITMENTS:
        raise InvalidParameterError(
            f"commitment must be None (hourly), 'OneMonth' or 'SixMonths', not {commitment!r}"
        )
    if commitment is not None and not provisioned:
        raise InvalidParameterError(
            "commitment applies to provisioned throughput: pass model_units"
        )
    if hourly_price is not None and hourly_price < 0:
        raise InvalidParameterError(f"hourly_price must be >= 0, not {hourly_price!r}")
    if not provisioned and not session.serves_on_demand_custom_models:
        warnings.warn(
            f"region {session.region} cannot serve on-demand custom Nova models; "
            "use us-east-1 or us-west-2",
            UserWarning,
            stacklevel=4,
        )
    token = request_token({"model_arn": model_arn, "name": name, "units": model_units})
    name = name or f"nova-ft-{'pt-' if provisioned else ''}{token[:12]}"
    deployment = Deployment(session, name, provisioned=provisioned)
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
    if model_units is not None:
        log.warning(_provisioned_notice(name, model_units, commitment, hourly_price))
        arn: str = yield session.core.create_provisioned(
            name, model_arn, model_units, token, commitment
        )
        session.record.add("provisioned", arn)
    else:
        arn = yield session.core.create_deployment(
            name,
            model_arn,
            token,
            description or "on-demand deployment created by nova_ft",
        )
        session.record.add("deployment", arn)
    log.info("deployment %s created: %s", name, arn)
    yield from deployment._refresh()
    return deployment
