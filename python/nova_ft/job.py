"""Step 3: the model customization job (FINE_TUNING or DISTILLATION) and its custom model."""

from __future__ import annotations

import csv
import io
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ._defaults import DEFAULT_BASE_MODEL
from ._display import finish_plot, html_table, progress_bar, require_pyplot
from ._naming import job_output_location, request_token
from ._nova_ft import CustomModelInfo, JobInfo
from ._pandas import require_pandas
from ._steps import Sleep, Steps, async_twin, run, run_async, step
from .deployment import Deployment, deploy_steps
from .exceptions import (
    ConflictError,
    InvalidParameterError,
    JobFailedError,
    ResourceNotFoundError,
    ServiceValidationError,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .session import Session

__all__ = ["DEFAULT_BASE_MODEL", "CustomModel", "FineTuneJob", "Hyperparameters"]

log = logging.getLogger("nova_ft")

#: The fine-tuning base of Nova Micro (the on-demand id has no ``:128k``).
TERMINAL = ("Completed", "Failed", "Stopped")
#: Bedrock's sub-steps, in order: the progress bar counts them.
SUB_STEPS = ("validation", "data_processing", "training")


def check_ranges(
    settings: Any,
    ranges: Mapping[str, tuple[float, float]],
    api_names: Mapping[str, str],
    whose: str,
    optional: bool = False,
) -> None:
    """Refuse a hyperparameter of ``settings`` that is not a number, not whole (all but
    ``learning_rate``), or outside its range; ``optional`` lets ``None`` mean "the default"."""
    for name, (low, high) in ranges.items():
        value = getattr(settings, name)
        if optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidParameterError(f"{name} must be a number, got {value!r}")
        if name != "learning_rate" and not isinstance(value, int):
            raise InvalidParameterError(f"{name} must be a whole number, got {value!r}")
        if not low <= value <= high:
            raise InvalidParameterError(
                f"{name}={value} is outside {whose} range {low:g} to {high:g} ({api_names[name]})"
            )


@dataclass(frozen=True)
class Hyperparameters:
    """Nova's fine-tuning hyperparameters, range-checked before any call.

    Examples:
        >>> Hyperparameters(epochs=3).to_api()
        {'epochCount': '3', 'learningRate': '0.00001', 'learningRateWarmupSteps': '10'}
        >>> Hyperparameters.from_api({"learningRateMultiplier": "1.0"})
        Traceback (most recent call last):
        ...
        nova_ft.exceptions.InvalidParameterError: learningRateMultiplier is for Claude 3 Haiku, ...
    """

    epochs: int = 2
    learning_rate: float = 1e-5
    warmup_steps: int = 10

    #: Nova Micro's documented ranges (bedrock-api.md section 8).
    RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "epochs": (1, 5),
        "learning_rate": (1e-6, 1e-4),
        "warmup_steps": (0, 100),
    }
    API_NAMES: ClassVar[dict[str, str]] = {
        "epochs": "epochCount",
        "learning_rate": "learningRate",
        "warmup_steps": "learningRateWarmupSteps",
    }

    def __post_init__(self) -> None:
        check_ranges(self, self.RANGES, self.API_NAMES, "Nova's")

    def to_api(self) -> dict[str, str]:
        """The strings Bedrock expects (``learningRate`` written out, as AWS's samples do)."""
        rate = f"{self.learning_rate:.12f}".rstrip("0").rstrip(".")
        return {
            "epochCount": str(self.epochs),
            "learningRate": rate,
            "learningRateWarmupSteps": str(self.warmup_steps),
        }

    @classmethod
    def from_api(cls, values: Mapping[str, str | int | float]) -> Hyperparameters:
        """From Bedrock's names; a Claude-only or unknown key is refused with the fix."""
        by_api = {v: k for k, v in cls.API_NAMES.items()}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key == "learningRateMultiplier":
                low, high = cls.RANGES["learning_rate"]
                raise InvalidParameterError(
                    "learningRateMultiplier is for Claude 3 Haiku, not Nova: use learningRate "
                    f"({low} to {high}) instead"
                )
            if key not in by_api:
                raise InvalidParameterError(
                    f"unknown Nova hyperparameter {key!r}; Nova takes {sorted(by_api)}"
                )
            name = by_api[key]
            kwargs[name] = float(value) if name == "learning_rate" else int(value)
        return cls(**kwargs)


def _base_model_hint(session: Session) -> str:
    return (
        "Nova ids carry context-window suffixes that change; list the current ones with "
        "session.foundation_models('FINE_TUNING') (or nova-ft models) instead of hard-coding "
        f"(the Nova Micro fine-tuning base is {DEFAULT_BASE_MODEL}, region {session.region})"
    )


class FineTuneJob:
    """A Bedrock model customization job.

    Create one with :meth:`nova_ft.Session.fine_tune` (idempotent: re-running the same
    configuration attaches to the job it started) or attach with :meth:`Session.job`.

    Examples:
        >>> import nova_ft as nf
        >>> with nf.Session.local(job_step_delay=0.01) as session:
        ...     data = nf.Dataset.synthetic(seed=7, train=200, valid=20)
        ...     location = data.upload(session.bucket().ensure())
        ...     role = session.training_role(location).ensure()
        ...     job = session.fine_tune(location, role, hyperparameters=Hyperparameters(epochs=1))
        ...     model = job.wait(progress=False)
        ...     again = session.fine_tune(location, role, hyperparameters=Hyperparameters(epochs=1))
        ...     job.status, again.arn == job.arn, list(job.metrics().columns)[:3]
        ('Completed', True, ['split', 'step_number', 'epoch_number'])
    """

    def __init__(self, session: Session, name: str, info: JobInfo | None = None) -> None:
        self._session = session
        self.name = name
        #: The job as Bedrock last described it (None until fetched).
        self.info: JobInfo | None = info

    # -- state ------------------------------------------------------------------------------

    @property
    def arn(self) -> str | None:
        """The job ARN (None until created)."""
        return self.info.job_arn if self.info else None

    @property
    def status(self) -> str | None:
        """``InProgress``, ``Completed``, ``Failed``, ``Stopping`` or ``Stopped``."""
        return self.info.status if self.info else None

    @property
    def failure_message(self) -> str | None:
        """Bedrock's explanation when the job failed."""
        return self.info.failure_message if self.info else None

    @property
    def custom_model_arn(self) -> str | None:
        """The custom model's ARN, once the job completed."""
        return self.info.custom_model_arn if self.info else None

    @property
    def _sub_steps(self) -> dict[str, str]:
        return self.info.steps if self.info else {}

    @property
    def custom_model(self) -> CustomModel:
        """The model this job made (once Completed)."""
        if not self.custom_model_arn:
            raise InvalidParameterError(
                f"job {self.name} has no custom model yet (status {self.status}); call wait()"
            )
        return CustomModel(self._session, self.custom_model_arn)

    def _refresh(self) -> Steps[FineTuneJob]:
        self.info = yield self._session.core.describe_job(self.arn or self.name)
        return self

    def _attach(self) -> Steps[FineTuneJob]:
        yield from self._refresh()
        if self.info is not None:
            self.name = self.info.job_name
        return self

    @step
    def refresh(self) -> Steps[FineTuneJob]:
        """Fetch the job's current state."""
        return (yield from self._refresh())

    refresh_async = async_twin(refresh)

    # -- waiting ----------------------------------------------------------------------------

    def _wait(
        self, progress: bool, timeout: float | None, poll: float | None
    ) -> Steps[CustomModel]:
        # Poll gently: quickly at first, then less often (Bedrock jobs take tens of minutes,
        # and there is no waiter or event to subscribe to).
        first, longest = (0.1, 1.0) if self._session.is_local else (15.0, 60.0)
        delay = poll if poll is not None else first
        started = time.monotonic()
        bar = progress_bar(len(SUB_STEPS), f"job {self.name}", progress)
        try:
            while True:
                yield from self._refresh()
                done = sum(self._sub_steps.get(s) == "Completed" for s in SUB_STEPS)
                if bar is not None:
                    bar.n = done
                    bar.set_postfix_str(self._progress_text(), refresh=True)
                if self.status in TERMINAL:
                    break
                if timeout is not None and time.monotonic() - started > timeout:
                    raise TimeoutError(
                        f"job {self.name} still {self.status} after {timeout:.0f} s; it keeps "
                        "running on Bedrock: call wait() again, or stop()"
                    )
                yield Sleep(delay)
                if poll is None:
                    delay = min(delay * 1.5, longest)
        finally:
            if bar is not None:
                bar.close()
        if self.status != "Completed":
            raise self._failure()
        log.info("job %s completed: %s", self.name, self.custom_model_arn)
        assert self.custom_model_arn is not None
        self._session.record.add("custom_model", self.custom_model_arn)
        return CustomModel(self._session, self.custom_model_arn)

    def _progress_text(self) -> str:
        steps = self._sub_steps
        current = next((s for s in SUB_STEPS if steps.get(s) == "InProgress"), None)
        return f"{self.status}" + (f" ({current.replace('_', ' ')})" if current else "")

    def _failure(self) -> JobFailedError:
        message = self.failure_message or "no failure message"
        hint = None
        if "AccessDenied" in message or "Access Denied" in message:
            hint = (
                "the training role cannot read the data: its policy's prefixes must match the "
                "upload's (TrainingRole(data_prefixes=location.data_prefixes) does this)"
            )
        elif self.status == "Stopped":
            hint = "the job was stopped; start a new one with different names or settings"
        else:
            hint = "fix what the message names (file, line, field) and start the job again"
        return JobFailedError(
            f"job {self.name} ended {self.status}: {message}",
            job_name=self.name,
            status=self.status or "",
            failure_message=self.failure_message,
            hint=hint,
        )

    def wait(
        self,
        progress: bool = True,
        timeout: float | None = None,
        poll: float | None = None,
        *,
        stop_on_interrupt: bool = False,
    ) -> CustomModel:
        """Wait until the job ends, with a progress bar; return its custom model.

        Raises :class:`~nova_ft.exceptions.JobFailedError` with Bedrock's failure message if the
        job fails or is stopped. Ctrl-C stops waiting; the job keeps running on Bedrock unless
        ``stop_on_interrupt=True``, which also stops the job (StopModelCustomizationJob).
        """
        try:
            return run(self._wait(progress, timeout, poll))
        except KeyboardInterrupt:
            if stop_on_interrupt:
                self.stop()
                log.warning("interrupted: job %s is %s", self.name, self.status)
                raise
            log.warning(
                "stopped waiting; job %s keeps running on Bedrock: call wait() to resume or "
                "stop() to stop it",
                self.name,
            )
            raise

    async def wait_async(
        self, progress: bool = False, timeout: float | None = None, poll: float | None = None
    ) -> CustomModel:
        """Async twin of :meth:`wait` (no progress bar by default)."""
        return await run_async(self._wait(progress, timeout, poll))

    @step
    def stop(self) -> Steps[FineTuneJob]:
        """Ask Bedrock to stop the job (status goes Stopping, then Stopped)."""
        yield self._session.core.stop_job(self.arn or self.name)
        yield from self._refresh()
        return self

    stop_async = async_twin(stop)

    # -- metrics ----------------------------------------------------------------------------

    def _metric_keys(self) -> tuple[str, str, list[str]]:
        """The bucket, the training metrics' key, and where the validation metrics may be:
        where Bedrock writes them (AWS's sample notebooks read them there), then where the
        user guide says."""
        output = (self.info.output_uri if self.info else None) or ""
        if not output.startswith("s3://") or not self.arn:
            raise InvalidParameterError(f"job {self.name} has no output location yet")
        bucket, base = job_output_location(output, self.arn)
        validation = f"{base}validation_artifacts/post_fine_tuning_validation/"
        return (
            bucket,
            f"{base}training_artifacts/step_wise_training_metrics.csv",
            [
                f"{validation}validation/validation_metrics.csv",
                f"{validation}validation_metrics.csv",
            ],
        )

    def metrics(self) -> pd.DataFrame:
        """Training and validation loss from the job's output CSVs, as one DataFrame.

        Columns: ``split`` (``training``/``validation``), ``step_number``, ``epoch_number``,
        ``loss``, ``perplexity``.
        """
        pd = require_pandas()
        bucket, train_key, valid_keys = self._metric_keys()
        rows: list[dict[str, Any]] = []
        candidates = [("training", train_key)] + [("validation", key) for key in valid_keys]
        seen: set[str] = set()
        for split, key in candidates:
            if split in seen:
                continue
            try:
                text = self._session.core.get_text(bucket, key).wait()
            except ResourceNotFoundError:
                if split == "training":
                    raise
                continue
            seen.add(split)
            for row in csv.DictReader(io.StringIO(text)):
                rows.append(
                    {
                        "split": split,
                        "step_number": int(row["step_number"]),
                        "epoch_number": int(row["epoch_number"]),
                        "loss": float(row.get(f"{split}_loss") or "nan"),
                        "perplexity": float(row.get("perplexity") or "nan"),
                    }
                )
        columns = ["split", "step_number", "epoch_number", "loss", "perplexity"]
        return pd.DataFrame(rows, columns=columns)

    def rewards(self) -> pd.DataFrame:
        """A reinforcement fine-tuning job's reward curve, as a DataFrame: ``step_number``,
        ``epoch_number``, ``train_reward_mean``, ``train_reward_std`` (the sampled answers of
        each step's batch) and ``eval_reward`` (greedy answers on held-out prompts, every
        ``evalInterval`` steps; NaN between)."""
        pd = require_pandas()
        bucket, key, _ = self._metric_keys()
        text = self._session.core.get_text(bucket, key).wait()
        reader = csv.DictReader(io.StringIO(text))
        if "train_reward_mean" not in (reader.fieldnames or []):
            raise InvalidParameterError(
                f"job {self.name} wrote no reward curve (it is not a REINFORCEMENT_FINE_TUNING "
                "job): see metrics() for its loss"
            )
        columns = ["step_number", "epoch_number", "train_reward_mean", "train_reward_std"]
        rows = [
            {
                **{c: float(row[c] or "nan") for c in columns},
                "eval_reward": float(row.get("eval_reward") or "nan"),
            }
            for row in reader
        ]
        frame = pd.DataFrame(rows, columns=[*columns, "eval_reward"])
        return frame.astype({"step_number": int, "epoch_number": int})

    def plot_rewards(self, path: str | None = None, ax: Axes | None = None) -> Figure:
        """Plot an RFT job's reward curve (training per step, held-out evaluations)."""
        plt = require_pyplot()
        frame = self.rewards()
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot(frame["step_number"], frame["train_reward_mean"], label="training reward", lw=1.2)
        held = frame.dropna(subset=["eval_reward"])
        ax.plot(held["step_number"], held["eval_reward"], "o-", label="held-out reward")
        return finish_plot(ax, "step", "mean reward", self.name, path)

    def plot_loss(self, path: str | None = None, ax: Axes | None = None) -> Figure:
        """Plot the loss curves (training per step, validation per epoch); save to ``path``."""
        plt = require_pyplot()
        frame = self.metrics()
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        train = frame[frame["split"] == "training"]
        ax.plot(train["step_number"], train["loss"], label="training loss", lw=1.2)
        valid = frame[frame["split"] == "validation"]
        if len(valid):
            ax.plot(valid["step_number"], valid["loss"], "o-", label="validation loss")
        return finish_plot(ax, "step", "loss", self.name, path)

    def __repr__(self) -> str:
        return f"FineTuneJob(name={self.name!r}, status={self.status!r})"

    def _repr_html_(self) -> str:
        return html_table(
            "nova_ft.FineTuneJob",
            {
                "name": self.name,
                "status": self.status,
                "steps": ", ".join(f"{k}: {v}" for k, v in self._sub_steps.items()),
                "base model": self.info.base_model_arn if self.info else None,
                "hyperparameters": self.info.hyperparameters if self.info else None,
                "custom model": self.custom_model_arn,
                "failure": self.failure_message,
            },
        )


def fine_tune_steps(session: Session, spec: dict[str, Any], named: bool) -> Steps[FineTuneJob]:
    """Attach to the job this configuration already started, or start it."""
    token = request_token(spec)
    if not named:
        spec["job_name"] = f"{spec['job_name']}-{token[:8]}"
        spec["custom_model_name"] = f"{spec['custom_model_name']}-{token[:8]}"
    name = spec["job_name"]
    job = FineTuneJob(session, name)
    try:
        yield from job._refresh()
    except ResourceNotFoundError:
        pass
    else:
        if job.info is not None and job.info.client_request_token == token:
            log.info("job %s exists (%s): attaching", name, job.status)
            return job
        raise ConflictError(
            f"a customization job named {name} already exists with a different configuration",
            code="ConflictException",
            hint="pass another job_name (and custom_model_name), or attach to it with "
            f"session.job({name!r})",
        )
    try:
        arn: str = yield session.core.create_job(**spec, client_request_token=token)
    except ServiceValidationError as exc:
        message = exc.message.lower()
        if "model" in message and ("identifier" in message or "base" in message):
            exc.hint = _base_model_hint(session)
        raise
    session.record.add("job", arn)
    bucket, prefix = job_output_location(spec["output_uri"], arn)
    session.record.add("prefix", prefix, bucket=bucket)
    log.info("job %s started: %s", name, arn)
    yield from job._refresh()
    return job


class CustomModel:
    """A custom model made by a customization job."""

    def __init__(self, session: Session, arn: str, info: CustomModelInfo | None = None) -> None:
        self._session = session
        self.arn = arn
        #: The model as Bedrock last described it (None until :meth:`refresh`).
        self.info: CustomModelInfo | None = info

    @property
    def name(self) -> str | None:
        """The model name (after :meth:`refresh`)."""
        return self.info.model_name if self.info else None

    @property
    def status(self) -> str | None:
        """``Active``, ``Creating`` or ``Failed`` (after :meth:`refresh`)."""
        return self.info.status if self.info else None

    def _refresh(self) -> Steps[CustomModel]:
        self.info = yield self._session.core.describe_custom_model(self.arn)
        return self

    def export(self, s3_uri: str) -> str:
        """Local sessions only: write this model's artifacts to ``s3_uri`` so that
        :meth:`Session.import_model` can bring it back (Bedrock itself has no export; on AWS,
        import artifacts trained elsewhere, such as a Nova adapter trained on SageMaker)."""
        emulator = self._session.emulator
        if emulator is None:
            raise InvalidParameterError(
                "Bedrock has no API to export a custom model: export() works on the local "
                "emulator; on AWS, import artifacts trained elsewhere with Session.import_model"
            )
        return emulator.export_model(self.arn, s3_uri)

    @step
    def refresh(self) -> Steps[CustomModel]:
        """Fetch the model's current state."""
        return (yield from self._refresh())

    refresh_async = async_twin(refresh)

    @step
    def deploy(
        self,
        name: str | None = None,
        description: str | None = None,
        *,
        model_units: int | None = None,
        commitment: str | None = None,
        hourly_price: float | None = None,
    ) -> Steps[Deployment]:
        """Create (or attach to) a deployment of this model; see :class:`Deployment`.

        On demand (billed per token) by default. With ``model_units``, provisioned throughput
        instead: that many model units billed every hour until deleted, with ``commitment``
        ``None`` (hourly), ``"OneMonth"`` or ``"SixMonths"``. Its cost is logged (a warning)
        before it is bought, as a total when ``hourly_price`` (dollars per model unit per hour,
        from Bedrock's pricing page) is given. :meth:`Session.cleanup` deletes it.
        """
        return (
            yield from deploy_steps(
                self._session, self.arn, name, description, model_units, commitment, hourly_price
            )
        )

    deploy_async = async_twin(deploy)

    def __repr__(self) -> str:
        return f"CustomModel(arn={self.arn!r}, status={self.status!r})"

    def _repr_html_(self) -> str:
        return html_table(
            "nova_ft.CustomModel", {"arn": self.arn, **(self.info.to_dict() if self.info else {})}
        )


def job_history_steps(session: Session) -> Steps[list[dict[str, Any]]]:
    """One row per customization job: what it trained, how, on what data, and how it ended."""
    arns: list[str] = yield session.core.list_jobs()
    rows: list[dict[str, Any]] = []
    etags: dict[str, str | None] = {}
    for arn in arns:
        info: JobInfo = yield session.core.describe_job(arn)
        uri = info.training_uri or ""
        if uri.startswith("s3://") and uri not in etags:
            bucket, _, key = uri[5:].partition("/")
            try:
                etags[uri] = yield session.core.object_etag(bucket, key)
            except ResourceNotFoundError:  # the bucket is gone
                etags[uri] = None
        started, ended = _parse_time(info.creation_time), _parse_time(info.end_time)
        valid = [v for v in info.validation_losses if v is not None]
        rows.append(
            {
                "name": info.job_name,
                "type": info.customization_type,
                "base_model": info.base_model_arn.rsplit("/", 1)[-1],
                "status": info.status,
                "created": info.creation_time,
                "duration_s": (ended - started) if started and ended else None,
                "training_data": uri or None,
                "data_etag": etags.get(uri),
                "final_training_loss": info.training_loss,
                "final_validation_loss": valid[-1] if valid else None,
                "custom_model": info.custom_model_arn,
                **{f"hp.{k}": v for k, v in sorted(info.hyperparameters.items())},
            }
        )
    return rows


def _parse_time(text: str | None) -> float | None:
    """Seconds since the epoch of an ISO 8601 time, or None."""
    if not text:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
