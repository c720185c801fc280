"""A session of AWS clients: against your AWS account, or against the embedded emulator.

>>> with Session.local() as session:
...     session.account_id
'123456789012'
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _nova_ft, _steps
from ._cleanup import cleanup_steps
from ._closing import Closing
from ._converse import converse_request
from ._defaults import (
    CONVERSE_MAX_TOKENS,
    CONVERSE_TEMPERATURE,
    ON_DEMAND_CUSTOM_MODEL_REGIONS,
)
from ._job_spec import fine_tune_spec
from ._naming import request_token
from ._nova_ft import FoundationModel, Identity, Reply
from .deployment import Deployment
from .emulator import LocalEmulator
from .exceptions import InvalidParameterError
from .job import DEFAULT_BASE_MODEL, CustomModel, FineTuneJob, Hyperparameters, fine_tune_steps
from .resources import Resource, ResourceRecord
from .role import TrainingRole
from .storage import Bucket, DataLocation

if TYPE_CHECKING:
    import pandas as pd

    # Imported where used: a session that runs no benchmark and no RFT does not pay for them
    # (start-up counts in the benchmark loop's wall time, benches/converse_loop.py).
    from .benchmark import Benchmark
    from .benchmark_report import BenchmarkReport
    from .dataset import Dataset
    from .evaluation import CustomMetric, EvaluationJob
    from .reward import Grader, RewardFunction
    from .rft import RftHyperparameters

__all__ = ["ON_DEMAND_CUSTOM_MODEL_REGIONS", "Reply", "Session"]

log = logging.getLogger("nova_ft")


def _one_of(name: str, short: str | None, boto3_name: str | None) -> str | None:
    """The value given as ``name`` or as boto3's ``<name>_name``; both only if they agree."""
    if short is not None and boto3_name is not None and short != boto3_name:
        raise InvalidParameterError(
            f"{name}={short!r} and {name}_name={boto3_name!r} disagree: pass one of them"
        )
    return short if short is not None else boto3_name


class Session(Closing):
    """The AWS clients (S3, IAM, STS, Bedrock, bedrock-runtime) of one workflow.

    Credentials and region resolve the standard AWS way (arguments, then the environment,
    then the shared config and credentials files, SSO, instance roles), through the AWS SDK
    for Rust. ``Session.local()`` starts the embedded emulator and points every client at it:
    the same code, no second path.

    ``region_name`` and ``profile_name`` are boto3's names for ``region`` and ``profile``;
    either spelling works (``Session(region_name="us-east-1", profile_name="dev")``).
    """

    def __init__(
        self,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        record_path: str | os.PathLike[str] | None = None,
        *,
        region_name: str | None = None,
        profile_name: str | None = None,
    ) -> None:
        region = _one_of("region", region, region_name)
        profile = _one_of("profile", profile, profile_name)
        self._setup(_nova_ft.SessionCore.connect(region, profile, endpoint_url), None, record_path)

    def _setup(
        self,
        core: _nova_ft.SessionCore,
        emulator: LocalEmulator | None,
        record_path: str | os.PathLike[str] | None,
    ) -> None:
        """Every field a session has, set in one place for both ways of making one."""
        self._core = core
        self._emulator = emulator
        self._identity: Identity | None = None
        self._record_path = record_path
        self._record: ResourceRecord | None = None

    @classmethod
    def local(
        cls, data_dir: str | os.PathLike[str] | None = None, **emulator_options: Any
    ) -> Session:
        """Start a :class:`LocalEmulator` (options as there) and a session against it.

        The emulator stops when the session is closed (or leaves its ``with`` block).
        """
        emulator = LocalEmulator(None if data_dir is None else Path(data_dir), **emulator_options)
        core = _nova_ft.SessionCore.connect(
            emulator.region,
            None,
            emulator.endpoint_url,
            emulator.access_key_id,
            emulator.secret_access_key,
        )
        session = cls.__new__(cls)
        session._setup(core, emulator, None)
        return session

    @property
    def region(self) -> str:
        """The resolved AWS region."""
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
        """Whether this session runs on the embedded emulator."""
        return self._emulator is not None

    @property
    def serves_on_demand_custom_models(self) -> bool:
        """Whether this region can serve on-demand deployments of custom Nova models."""
        return self.is_local or self.region in ON_DEMAND_CUSTOM_MODEL_REGIONS

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def core(self) -> _nova_ft.SessionCore:
        """The Rust session: one method per AWS operation, each returning a
        :class:`~nova_ft._nova_ft.Pending` to ``wait()`` on or to ``await``."""
        return self._core

    @property
    def record(self) -> ResourceRecord:
        """What this workflow created here, for :meth:`cleanup` (a JSON file next to the work).

        For ``Session.local()`` it lives in the emulator's data directory; otherwise in
        ``./.nova_ft/resources-<account>-<region>.json`` unless ``record_path`` was given.
        """
        if self._record is None:
            if self._record_path is not None:
                path = Path(self._record_path)
            elif self._emulator is not None:
                path = self._emulator.data_dir / "nova_ft-resources.json"
            else:
                path = Path(".nova_ft") / f"resources-{self.account_id}-{self.region}.json"
            self._record = ResourceRecord(path)
        return self._record

    # -- step 0: environment ----------------------------------------------------------------

    @_steps.step
    def caller_identity(self) -> _steps.Steps[Identity]:
        """``sts get-caller-identity``: the account, ARN and user id."""
        identity: Identity = yield self._core.caller_identity()
        self._identity = identity
        return identity

    caller_identity_async = _steps.async_twin(caller_identity)

    def _identity_step(self) -> _steps.Steps[Identity]:
        """The caller identity, fetched once per session (a step: sync and async share it)."""
        if self._identity is None:
            self._identity = yield self._core.caller_identity()
        return self._identity

    @property
    def account_id(self) -> str:
        """The AWS account id (one STS call, then cached)."""
        identity = self._identity or self.caller_identity()
        return identity.account

    @_steps.step
    def foundation_models(
        self, customization: str | None = None
    ) -> _steps.Steps[list[FoundationModel]]:
        """Foundation models, optionally only those supporting ``FINE_TUNING`` or
        ``DISTILLATION``. An empty list on AWS usually means model access was not granted."""
        models: list[FoundationModel] = yield self._core.foundation_models(customization)
        return models

    foundation_models_async = _steps.async_twin(foundation_models)

    @_steps.step
    def foundation_model(self, model_id: str) -> _steps.Steps[FoundationModel]:
        """One foundation model by id or ARN (raises ResourceNotFoundError if unknown)."""
        model: FoundationModel = yield self._core.foundation_model(model_id)
        return model

    foundation_model_async = _steps.async_twin(foundation_model)

    def bucket(self, name: str | None = None) -> Bucket:
        """The workflow's bucket (default ``sl-nova-ft-<account>``); call ``.ensure()``."""
        return Bucket(self, name)

    # -- step 2: role -----------------------------------------------------------------------

    def training_role(
        self,
        data: DataLocation | None = None,
        *,
        bucket: str | None = None,
        data_prefixes: Sequence[str] = ("training-data/", "validation-data/"),
        output_prefix: str = "output-data/",
        name: str = "BedrockNovaFineTune",
    ) -> TrainingRole:
        """The service role for customization jobs, scoped to an upload's prefixes.

        Pass the :class:`DataLocation` that ``Dataset.upload`` returned, or the bucket and
        prefixes. Call ``.ensure()`` on the result.
        """
        if data is not None:
            return TrainingRole(self, data.bucket, data.data_prefixes, data.output_prefix, name)
        if bucket is None:
            raise InvalidParameterError("training_role needs data=<upload> or bucket=<name>")
        return TrainingRole(self, bucket, data_prefixes, output_prefix, name)

    # -- step 3: training -------------------------------------------------------------------

    @_steps.step
    def fine_tune(
        self,
        data: DataLocation,
        role: TrainingRole | str,
        *,
        base_model: str = DEFAULT_BASE_MODEL,
        hyperparameters: Hyperparameters | Mapping[str, Any] | None = None,
        customization: str = "FINE_TUNING",
        teacher_model: str | None = None,
        max_response_length: int | None = None,
        job_name: str | None = None,
        custom_model_name: str | None = None,
        grader: Grader | str | None = None,
        rft_hyperparameters: RftHyperparameters | Mapping[str, Any] | None = None,
    ) -> _steps.Steps[FineTuneJob]:
        """Start a customization job, or attach to the one this configuration started.

        The ``clientRequestToken`` is derived from the configuration, and default names carry
        its first 8 characters, so re-running a cell never starts a second job, while a
        changed setting starts a new one. ``customization="DISTILLATION"`` needs
        ``teacher_model`` (Nova Pro or Premier); the data may then hold prompts without answers.
        ``customization="REINFORCEMENT_FINE_TUNING"`` needs ``grader`` (see
        :meth:`deploy_grader`) and RFT data (:class:`~nova_ft.RftDataset`); its base defaults
        to Nova 2 Lite (``amazon.nova-2-lite-v1:0:256k``), and ``rft_hyperparameters`` takes
        :class:`~nova_ft.RftHyperparameters`.
        """
        spec, named = fine_tune_spec(
            self,
            data,
            role,
            base_model=base_model,
            hyperparameters=hyperparameters,
            customization=customization,
            teacher_model=teacher_model,
            max_response_length=max_response_length,
            job_name=job_name,
            custom_model_name=custom_model_name,
            grader=grader,
            rft_hyperparameters=rft_hyperparameters,
        )
        return (yield from fine_tune_steps(self, spec, named))

    fine_tune_async = _steps.async_twin(fine_tune)

    @_steps.step
    def jobs(self) -> _steps.Steps[pd.DataFrame]:
        """Every customization job of this account and region, as a DataFrame to compare
        runs: name, type, base model, status, created, duration, training data (and its
        ETag), final losses, custom model, and one ``hp.<name>`` column per hyperparameter."""
        from ._pandas import require_pandas
        from .job import job_history_steps

        pd = require_pandas()
        return pd.DataFrame((yield from job_history_steps(self)))

    jobs_async = _steps.async_twin(jobs)

    @_steps.step
    def deploy_grader(
        self,
        reward: RewardFunction,
        role: TrainingRole | str | None = None,
        *,
        name: str | None = None,
        timeout_seconds: int = 300,
        memory_mb: int = 512,
    ) -> _steps.Steps[Grader]:
        """Deploy a reward function as a Lambda function (created, or its code updated) with
        its own execution role, and grant ``role`` (the training role) permission to invoke
        exactly that function. :meth:`cleanup` deletes the function and the execution role.
        Test it first: ``reward.test(data).raise_for_errors()``."""
        from .reward import deploy_grader_steps

        return (
            yield from deploy_grader_steps(self, reward, role, name, timeout_seconds, memory_mb)
        )

    deploy_grader_async = _steps.async_twin(deploy_grader)

    @_steps.step
    def import_model(
        self, s3_uri: str, name: str, role: TrainingRole | str
    ) -> _steps.Steps[CustomModel]:
        """Bring a model trained elsewhere to Bedrock (CreateCustomModel) from its artifacts
        under ``s3_uri``, read as ``role`` (which must trust Bedrock and may read that prefix).
        Deploy it like any custom model. :meth:`cleanup` deletes it."""
        role_arn = role if isinstance(role, str) else role.arn
        if not role_arn:
            raise InvalidParameterError("import_model needs a role Bedrock can assume to read S3")
        token = request_token({"import": s3_uri, "name": name})
        arn: str = yield self.core.import_custom_model(name, s3_uri, role_arn, token)
        self.record.add("custom_model", arn)
        log.info("custom model %s imported from %s: %s", name, s3_uri, arn)
        return (yield from CustomModel(self, arn)._refresh())

    import_model_async = _steps.async_twin(import_model)

    @_steps.step
    def job(self, name_or_arn: str) -> _steps.Steps[FineTuneJob]:
        """Attach to an existing customization job."""
        return (yield from FineTuneJob(self, name_or_arn)._attach())

    job_async = _steps.async_twin(job)

    # -- step 4: deployment -----------------------------------------------------------------

    @_steps.step
    def deployment(self, name_or_arn: str) -> _steps.Steps[Deployment]:
        """Attach to an existing deployment."""
        return (yield from Deployment(self, name_or_arn)._attach())

    deployment_async = _steps.async_twin(deployment)

    # -- step 5: inference ------------------------------------------------------------------

    @_steps.step
    def converse(
        self,
        model_id: str,
        text: str | None = None,
        *,
        messages: Sequence[Mapping[str, Any]] | None = None,
        system: str | Sequence[Mapping[str, Any]] | None = None,
        inference_config: Mapping[str, Any] | None = None,
        max_tokens: int | None = CONVERSE_MAX_TOKENS,
        temperature: float | None = CONVERSE_TEMPERATURE,
    ) -> _steps.Steps[Reply]:
        """One Converse call: ``text`` as one user turn, or ``messages`` in Converse's own
        shape (``[{"role": "user", "content": [{"text": ...}]}, ...]``, multi-turn, the last
        the user's). ``system`` is a string or Converse's list of ``{"text": ...}`` blocks;
        ``inference_config`` is Converse's ``inferenceConfig`` (``maxTokens``, ``temperature``,
        ``topP``, ``stopSequences``) and wins over ``max_tokens``/``temperature``. A
        fine-tuning base id (``...:128k``) is sent as its on-demand id."""
        request = converse_request(
            text, messages, system, inference_config, max_tokens, temperature
        )
        reply: Reply = yield self._core.converse(model_id, **request)
        return reply

    converse_async = _steps.async_twin(converse)

    def benchmark(
        self,
        data: str | os.PathLike[str] | Dataset | pd.DataFrame | Sequence[Mapping[str, Any]],
        models: Sequence[str | Deployment] | Mapping[str, str | Deployment],
        **options: Any,
    ) -> Benchmark:
        """A :class:`~nova_ft.Benchmark` of ``models`` on ``data`` (options as there)."""
        from .benchmark import Benchmark

        return Benchmark(self, data, models, **options)

    @_steps.step
    def evaluate(
        self,
        data: BenchmarkReport | str | os.PathLike[str],
        *,
        metrics: Sequence[str] = ("Builtin.Correctness", "Builtin.Completeness"),
        evaluator: str = "amazon.nova-pro-v1:0",
        custom_metrics: Sequence[CustomMetric | Mapping[str, Any]] | None = None,
        models: Sequence[str] | None = None,
        limit: int | None = None,
        bucket: str | None = None,
        role: str | None = None,
        job_name: str | None = None,
        task_type: str = "General",
        sources: Sequence[str] | None = None,
    ) -> _steps.Steps[EvaluationJob]:
        """Start a Bedrock model evaluation job on your own answers; see
        :class:`~nova_ft.evaluation.EvaluationJob` (``.wait()``, ``.summary()``).

        ``data`` is a :class:`~nova_ft.BenchmarkReport` (its answers, one or two ``models`` by
        display name, at most 1,000 rows: ``limit=``) or an evaluation dataset file whose
        ``modelResponses`` carry the ``sources`` identifiers. The judge (``evaluator``) scores
        ``metrics`` (built-in judge metrics) and ``custom_metrics``
        (:class:`~nova_ft.evaluation.CustomMetric`). The dataset goes to
        ``s3://<bucket>/nova-ft-eval/<job>/``, and a role scoped to it (and allowed to invoke
        the judge) is created unless ``role`` is given. ``task_type`` is ``General``, what
        AWS's judge samples send for judge jobs.
        """
        from .evaluation import evaluate_steps, normalise_custom

        job: EvaluationJob = yield from evaluate_steps(
            self,
            data if not isinstance(data, os.PathLike) else os.fspath(data),
            metrics=list(metrics),
            evaluator=evaluator,
            custom_metrics=normalise_custom(custom_metrics),
            models=models,
            limit=limit,
            bucket=bucket,
            role=role,
            job_name=job_name,
            task_type=task_type,
            sources=sources,
        )
        return job

    evaluate_async = _steps.async_twin(evaluate)

    def teacher_answers(
        self,
        prompts: Dataset | str | os.PathLike[str],
        teacher: str = "amazon.nova-pro-v1:0",
        *,
        out_dir: str | os.PathLike[str] | None = None,
        max_tokens: int = 512,
        bucket: str | Bucket | None = None,
        role: str | None = None,
        progress: bool = True,
    ) -> Dataset:
        """Distillation data through batch inference: ``teacher`` answers every prompt (a
        :class:`Dataset`'s train split, or a JSONL of prompts with or without answers) in one
        Bedrock batch job, and the answers come back as a validated training
        :class:`Dataset` (``<out_dir>/teacher-train.jsonl``) to fine-tune a student on.
        Prompts the teacher did not answer are left out, with a warning. At least 100
        prompts (a batch job's minimum)."""
        from ._teacher_batch import teacher_answers

        return teacher_answers(
            self,
            prompts,
            teacher,
            out_dir=out_dir,
            max_tokens=max_tokens,
            bucket=bucket,
            role=role,
            progress=progress,
        )

    # -- step 6: clean up -------------------------------------------------------------------

    @_steps.step
    def cleanup(
        self, *, delete_bucket: bool = False, dry_run: bool = False
    ) -> _steps.Steps[list[Resource]]:
        """Delete what this workflow created, from :attr:`record`; return what was deleted.

        Order: deployments, custom models, running jobs (stopped; Bedrock keeps job records),
        job output, uploaded objects, the role and its policy, and the bucket only with
        ``delete_bucket=True`` (and only if nova_ft created it). Safe to call again.
        """
        return (yield from cleanup_steps(self, delete_bucket, dry_run))

    cleanup_async = _steps.async_twin(cleanup)

    def close(self) -> None:
        """Stop the emulator this session started, if any."""
        if self._emulator is not None:
            self._emulator.stop()

    def __repr__(self) -> str:
        where = f", endpoint_url={self.endpoint_url!r}" if self.endpoint_url else ""
        return f"Session(region={self.region!r}, local={self.is_local}{where})"
