"""Staging and the all-or-nothing commit: the only code that creates, moves or removes files.

Outputs appear at their final names only when every clip passed, by hard links, which fail
rather than replace an existing file (no check-then-rename race).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from proxx_exec.failures import FailureClass, JobFailure, Reason, invalid
from proxx_exec.plan import JobPlan


def create_staging(plan: JobPlan) -> None:
    """Claim the job's staging folder atomically; refuse if any run of the job holds it."""
    try:
        Path(plan.staging_dir).mkdir(mode=0o755)
    except FileExistsError:
        raise invalid(
            Reason.STAGING_EXISTS,
            f"staging folder {plan.staging_dir} appeared after validation: another "
            f"run of job {plan.job_id} is active",
        ) from None
    except OSError as error:
        raise JobFailure(
            FailureClass.EXECUTION,
            Reason.STAGING_FAILED,
            f"cannot create staging folder {plan.staging_dir}: {error.strerror or error}",
        ) from None


def remove_staging(plan: JobPlan) -> None:
    """Remove the job's own staging folder; a symlink put in its place is never followed."""
    staging = Path(plan.staging_dir)
    if staging.is_symlink():
        staging.unlink()
    elif staging.is_dir():
        shutil.rmtree(staging)


def commit_outputs(plan: JobPlan) -> None:
    """Give every staged output its final name, or none of them."""
    linked: list[str] = []
    try:
        for clip in plan.clips:
            try:
                os.link(clip.staged_output, clip.output)
            except FileExistsError:
                raise JobFailure(
                    FailureClass.EXECUTION,
                    Reason.OUTPUT_EXISTS,
                    f"clip {clip.index}: {clip.output} appeared while the job ran; "
                    "nothing was overwritten",
                    clip_index=clip.index,
                ) from None
            except OSError as error:
                raise JobFailure(
                    FailureClass.EXECUTION,
                    Reason.COMMIT_FAILED,
                    f"clip {clip.index}: cannot commit {clip.output}: {error.strerror or error}",
                    clip_index=clip.index,
                ) from None
            linked.append(clip.output)
    except JobFailure:
        for path in linked:  # only names this commit created
            Path(path).unlink(missing_ok=True)
        raise
