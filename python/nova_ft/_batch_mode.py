"""What the benchmark's batch mode sets up: which models Bedrock batch inference can run, the
bucket prefixes of a run, and the service role scoped to exactly those prefixes."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._steps import Steps
from .role import TrainingRole
from .storage import Bucket

if TYPE_CHECKING:
    from .session import Session

#: Model ARNs batch inference does not take: the Bedrock user guide lists custom Nova models
#: as not supported for batch, so their rows run on demand in the same report.
NOT_BATCH = (
    ":custom-model-deployment/",
    ":custom-model/",
    ":provisioned-model/",
    ":imported-model/",
)

#: The role batch jobs run as (one per account; its policy is rescoped to each run's prefixes).
ROLE_NAME = "BedrockNovaBatchInference"


def batch_capable(model_id: str) -> bool:
    """Whether batch inference can run ``model_id`` (foundation models, inference profiles)."""
    return not any(kind in model_id for kind in NOT_BATCH)


def run_names(out_dir: Path) -> tuple[str, str]:
    """The bucket prefix and job-name prefix of the run writing to ``out_dir``: the same
    directory finds its jobs and files again when the run resumes."""
    digest = hashlib.sha256(str(out_dir.resolve()).encode()).hexdigest()[:8]
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", out_dir.name).strip("-")[:24] or "run"
    return f"nova-ft-batch/{slug}-{digest}", f"nova-ft-{slug}-{digest}"


def setup(
    session: Session, bucket: str | Bucket | None, role: str | None, prefix: str
) -> Steps[dict[str, Any]]:
    """Ensure the bucket and (unless ``role`` is an ARN) the scoped role; the options the
    batch loop needs from them."""
    place = bucket if isinstance(bucket, Bucket) else Bucket(session, bucket)
    yield from Bucket.ensure.__steps__(place)  # type: ignore[attr-defined]
    # The jobs' input and output files go with `cleanup()`, as uploads do.
    session.record.add("prefix", f"{prefix}/", bucket=place.name)
    if role is None:
        scoped = TrainingRole(
            session, place.name, [f"{prefix}/input/"], f"{prefix}/output/", name=ROLE_NAME
        )
        yield from TrainingRole.ensure.__steps__(scoped)  # type: ignore[attr-defined]
        role = scoped.arn
    return {"bucket": place.name, "prefix": prefix, "role_arn": role}
