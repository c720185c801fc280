"""What a customization job asks of Bedrock, from :meth:`Session.fine_tune`'s arguments:
the customization type's own requirements checked (a grader for RFT, a teacher for
distillation), defaults filled in, names chosen."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._defaults import ON_DEMAND_CUSTOM_MODEL_REGIONS
from .exceptions import InvalidParameterError
from .job import DEFAULT_BASE_MODEL, Hyperparameters

if TYPE_CHECKING:
    from .reward import Grader
    from .rft import RftHyperparameters
    from .role import TrainingRole
    from .session import Session
    from .storage import DataLocation

__all__ = ["fine_tune_spec"]


def fine_tune_spec(
    session: Session,
    data: DataLocation,
    role: TrainingRole | str,
    *,
    base_model: str,
    hyperparameters: Hyperparameters | Mapping[str, Any] | None,
    customization: str,
    teacher_model: str | None,
    max_response_length: int | None,
    job_name: str | None,
    custom_model_name: str | None,
    grader: Grader | str | None = None,
    rft_hyperparameters: RftHyperparameters | Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], bool]:
    """The request :func:`~nova_ft.job.fine_tune_steps` sends for :meth:`Session.fine_tune`'s
    arguments, checked; and whether the job was named by the caller."""
    kind = customization.upper()
    if kind not in ("FINE_TUNING", "DISTILLATION", "REINFORCEMENT_FINE_TUNING"):
        raise InvalidParameterError(
            "customization must be FINE_TUNING, DISTILLATION or REINFORCEMENT_FINE_TUNING, "
            f"got {customization!r}"
        )
    rft: dict[str, Any] = {}
    if kind == "REINFORCEMENT_FINE_TUNING":
        from .rft import RFT_BASE_MODEL, RftHyperparameters

        if grader is None:
            raise InvalidParameterError(
                "REINFORCEMENT_FINE_TUNING needs grader= (session.deploy_grader(...) or a "
                "Lambda function ARN)"
            )
        if hyperparameters:
            raise InvalidParameterError(
                "RFT takes rft_hyperparameters=RftHyperparameters(...), not hyperparameters="
            )
        if isinstance(rft_hyperparameters, Mapping):
            rft_hyperparameters = RftHyperparameters.from_api(rft_hyperparameters)
        rft = {
            "grader_arn": grader if isinstance(grader, str) else grader.function_arn,
            "rft_hyperparameters": rft_hyperparameters.to_api() if rft_hyperparameters else {},
        }
        if base_model == DEFAULT_BASE_MODEL:
            base_model = RFT_BASE_MODEL
    if kind == "DISTILLATION" and not teacher_model:
        raise InvalidParameterError(
            "DISTILLATION needs teacher_model= (amazon.nova-pro-v1:0 or amazon.nova-premier-v1:0)"
        )
    if isinstance(hyperparameters, Mapping):
        hyperparameters = Hyperparameters.from_api(hyperparameters)
    if hyperparameters is None and kind == "FINE_TUNING":
        hyperparameters = Hyperparameters()
    role_arn = role if isinstance(role, str) else role.arn
    if not role_arn:
        raise InvalidParameterError("the training role has no ARN yet: call role.ensure()")
    if not session.serves_on_demand_custom_models:
        warnings.warn(
            f"region {session.region} cannot serve on-demand custom Nova models (only "
            f"{', '.join(ON_DEMAND_CUSTOM_MODEL_REGIONS)}): you could train but not deploy",
            UserWarning,
            stacklevel=3,
        )
    suffix = {"DISTILLATION": "distill", "REINFORCEMENT_FINE_TUNING": "rft"}.get(kind, "sft")
    family = "nova-2-lite" if "nova-2" in base_model else "nova-micro"
    spec: dict[str, Any] = {
        "job_name": job_name or f"{family}-{suffix}",
        # A named job's model is named after it, so two named jobs never share a name.
        "custom_model_name": custom_model_name
        or (f"{job_name}-model" if job_name else f"{family}-{suffix}"),
        "role_arn": role_arn,
        "base_model": base_model,
        "customization_type": kind,
        "training_uri": data.train_uri,
        "validation_uri": data.valid_uri,
        "output_uri": data.output_uri,
        "hyperparameters": hyperparameters.to_api() if hyperparameters else {},
        "teacher_model": teacher_model,
        "max_response_length": max_response_length,
        **rft,
    }
    return spec, job_name is not None
