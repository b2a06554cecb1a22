"""The hand-off of a COMPLETED job, after its result is written: the editorial files (ALE,
FCPXML), then the posters and contact sheet (which link them), then the ASC MHL seal of
everything the job left in its proxy folder.

`proxx run` and every Dagster op that runs a JobSpec call `hand_off` once the ExecutionResult
exists. Nothing here changes the result or its verdict: a FAILED job is never handed off, and a
hand-off that goes wrong is reported beside the result (the CLI's exit code 4, the Dagster
`handed_off` asset check), never as a failed job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from proxx_exec.handoff.editorial import Editorial, write_editorial
from proxx_exec.handoff.mhl import Creator, Seal, seal_files
from proxx_exec.naming import (
    ale_path,
    contact_sheet_path,
    fcpxml_path,
    jobspec_path,
    posters_dir,
    result_path,
)
from proxx_exec.result import ClipState, ExecutionResult
from proxx_exec.tools.posters import PosterSet

log = logging.getLogger("proxx_exec")

_FROZEN = ConfigDict(frozen=True, extra="forbid")

PosterMaker = Callable[[ExecutionResult], PosterSet | None]


class HandOff(BaseModel):
    """What the hand-off of one COMPLETED job made. Never part of its result."""

    model_config = _FROZEN

    job_id: str
    editorial: Editorial
    seal: Seal

    @property
    def problems(self) -> list[str]:
        """Everything that went wrong, in plain words (empty: handed off whole)."""
        found = list(self.editorial.problems)
        if self.seal.problem is not None:
            found.append(f"ASC MHL seal of {self.seal.folder}: {self.seal.problem}")
        return found


def job_files(result: ExecutionResult) -> list[Path]:
    """Everything a COMPLETED job left in its proxy folder, in a fixed order: its proxies, its
    result, the JobSpec kept beside it (jobs that proxx_dagster built), its posters, its
    contact sheet, its ALE and FCPXML (those that exist)."""
    spec = result.spec
    assert spec is not None
    files = [
        Path(clip.output)
        for clip in result.clips
        if clip.output is not None and clip.state is ClipState.COMMITTED
    ]
    files.append(Path(result_path(spec.output_dir, spec.job_id)))
    optional = [Path(jobspec_path(spec.output_dir, spec.job_id))]
    posters = Path(posters_dir(spec.output_dir, spec.job_id))
    if posters.is_dir():
        optional += sorted(p for p in posters.iterdir() if not p.name.startswith("."))
    optional.append(Path(contact_sheet_path(spec.output_dir, spec.job_id)))
    optional.append(Path(ale_path(spec.output_dir, spec.job_id)))
    optional.append(Path(fcpxml_path(spec.output_dir, spec.job_id)))
    files += [path for path in optional if path.is_file()]
    return files


def creator(result: ExecutionResult) -> Creator:
    """The seal's creator: proxx (the tool) and, in its comment, the job and the engine."""
    engine = result.engine
    made_by = (
        f"engine {engine.name} ({engine.version_line}; SHA-256 {engine.sha256})"
        if engine
        else "no engine recorded"
    )
    return Creator(
        job_id=result.job_id or "",
        comment=f"proxx job {result.job_id}: {len(result.clips)} proxies, result digest "
        f"{result.digest}, {made_by}",
    )


def seal_job(result: ExecutionResult, files: list[Path] | None = None) -> Seal:
    """A new generation of the job's proxy folder's ASC MHL history listing `job_files`."""
    spec = result.spec
    assert spec is not None and result.completed
    return seal_files(Path(spec.output_dir), files or job_files(result), creator(result))


def hand_off(result: ExecutionResult, posters: PosterMaker | None = None) -> HandOff | None:
    """Editorial files, posters (when `posters` is given) and the seal of a COMPLETED job; None
    for any other result (a FAILED job is never handed off). Never raises for the hand-off's own
    trouble: HandOff.problems says what went wrong."""
    if not result.completed or result.spec is None or result.job_id is None:
        return None
    editorial = write_editorial(result)
    if posters is not None:
        posters(result)
    try:
        seal = seal_job(result)
    except Exception as error:  # a bug in the seal must not change the job's verdict
        log.exception("job %s: the ASC MHL seal failed", result.job_id)
        seal = Seal(
            folder=result.spec.output_dir,
            generation=None,
            files=(),
            problem=f"{type(error).__name__}: {error}",
        )
    return HandOff(job_id=result.job_id, editorial=editorial, seal=seal)
