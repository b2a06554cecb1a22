"""`proxx reproduce`: run a finished job's recorded commands again and compare the bytes.

The proof that a result's proxies came from its JobSpec and engine: every clip's recorded argv
is run once more by the same engine binary (its SHA-256 must equal the recorded one) into a
scratch folder, verified as the job verified it, and the output's SHA-256 compared with the
recorded one. The committed proxies are never read or written, and no result file is written:
this is not a retry of the job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from proxx_exec.engines import EngineIdentity, identify_engine
from proxx_exec.failures import JobFailure, clip_label
from proxx_exec.files import file_fingerprint
from proxx_exec.naming import staged_path
from proxx_exec.plan import ClipPlan
from proxx_exec.process import run_engine
from proxx_exec.refusals import describe
from proxx_exec.result import (
    ClipResult,
    ExecutionResult,
    Status,
    document_digest_matches,
    read_result_document,
)
from proxx_exec.verify import verify_clip

_STDERR_LINES = 3


class Refusal(Exception):
    """Why a result cannot be reproduced here; nothing was run."""


class Verdict(StrEnum):
    IDENTICAL = "identical"
    DIFFERS = "differs"
    FAILED_VERIFICATION = "failed verification"
    ENGINE_FAILED = "engine failed"
    SOURCE_MISSING = "source missing"


@dataclass(frozen=True)
class ReproducibleJob:
    """A COMPLETED result whose digest matches and whose engine binary is on this machine."""

    result: ExecutionResult
    result_file: Path
    binary: Path  # this machine's engine binary, equal to the recorded one by SHA-256

    @property
    def clip_timeout_s(self) -> int:
        assert self.result.spec is not None  # load_reproducible refuses a result without one
        return self.result.spec.clip_timeout_s

    @property
    def output_dir(self) -> str:
        assert self.result.spec is not None
        return self.result.spec.output_dir


@dataclass(frozen=True)
class ClipReproduction:
    index: int
    source: str
    recorded_output: str
    verdict: Verdict
    recorded_bytes: int
    recorded_sha256: str
    reproduced_bytes: int | None
    reproduced_sha256: str | None
    detail: str | None  # what failed, in plain words
    cpu_dependent: tuple[str, ...]


def load_reproducible(path: Path) -> ReproducibleJob:
    """Read a result file and check it can be reproduced here; Refusal in plain words if not."""
    result = _trusted_result(path)
    if result.status is not Status.COMPLETED or result.failure is not None:
        failure = result.failure
        why = (
            f"{failure.failure_class.value} {failure.reason.value}: {failure.message}"
            if failure
            else "no failure recorded"
        )
        raise Refusal(
            f"job {result.job_id} did not complete ({result.status.value}, {why}); a failed job "
            "commits no proxies, so there is nothing to reproduce"
        )
    spec = result.spec
    if spec is None or result.engine is None:
        raise Refusal(f"{path} records no JobSpec or engine; nothing can be re-run")
    binary = _same_engine_here(spec.engine, result.engine)
    for clip in result.clips:
        _check_recorded_commands(clip, spec.output_dir, spec.job_id)
    return ReproducibleJob(
        result=result,
        result_file=path,
        binary=binary,
    )


def _trusted_result(path: Path) -> ExecutionResult:
    """The result in the file, if its digest matches its content and this proxx reads it."""
    try:
        document = read_result_document(path)
        digest_ok = document_digest_matches(document)
    except ValueError as error:  # also NaN or Infinity, never written by proxx
        raise Refusal(f"{path}: {error}") from None
    if not digest_ok:
        raise Refusal(
            f"the digest recorded in {path} does not match its content: the record was changed "
            "after it was written, so it cannot be the basis of a proof (`proxx audit` says more)"
        )
    try:
        return ExecutionResult.model_validate(document)
    except ValidationError as error:
        raise Refusal(
            f"{path} was written by proxx {document.get('proxx_version', '?')} in result format "
            f"{document.get('result_version', '?')}; this proxx reproduces format "
            f"{ExecutionResult.model_fields['result_version'].default} only "
            f"({describe(error, ExecutionResult, document).splitlines()[0]})"
        ) from None


def _same_engine_here(named: str, recorded: EngineIdentity) -> Path:
    """The engine binary the JobSpec names, on this machine, if it is the recorded one."""
    try:
        engine, binary = identify_engine(named)
    except JobFailure as error:
        raise Refusal(
            f"the engine the JobSpec names ({named}) cannot run on this machine: {error.message}"
        ) from None
    if engine.sha256 != recorded.sha256:
        raise Refusal(
            f"this machine's engine binary {binary} has SHA-256 {engine.sha256} "
            f"({engine.version_line}); the job was made by one with SHA-256 {recorded.sha256} "
            f"({recorded.name}, {recorded.version_line}). Another binary may give other bytes, "
            "so a run here would prove nothing. Install the recorded engine and try again."
        )
    return binary


def _recorded_staged(clip: ClipResult, output_dir: str, job_id: str) -> str:
    """The staged output the clip's commands name: where proxx's plan writes, nowhere else."""
    assert clip.output is not None
    return "file:" + staged_path(output_dir, job_id, PurePosixPath(clip.output).name)


def _check_recorded_commands(clip: ClipResult, output_dir: str, job_id: str) -> None:
    label = clip_label(clip.index)
    if clip.output is None or clip.output_sha256 is None or clip.output_bytes is None:
        raise Refusal(f"{label} records no committed output, size or SHA-256")
    if clip.expected is None:
        raise Refusal(f"{label} records no expected output to verify against")
    staged = _recorded_staged(clip, output_dir, job_id)
    if not clip.argv or clip.argv[-1] != staged or clip.argv.count(staged) != 1:
        raise Refusal(f"{label}: the recorded encode command does not end with {staged}")
    if clip.verify_argv.count(staged) != 1:
        raise Refusal(f"{label}: the recorded verification command does not read {staged}")


def scratch_problem(folder: Path, output_dir: str) -> str | None:
    """Why `folder` cannot hold a reproduction: it must be new or empty, outside output_dir."""
    resolved = folder.resolve()
    committed = Path(output_dir).resolve()
    if resolved == committed or resolved.is_relative_to(committed):
        return (
            f"{folder} is inside the job's output folder {output_dir}; reproduce never writes there"
        )
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        return f"{folder} exists and is a symlink or not a folder"
    if folder.is_dir() and any(folder.iterdir()):
        return f"{folder} is not empty; give a new or empty folder"
    if not folder.exists() and not folder.parent.is_dir():
        return f"the folder {folder.parent} that would hold {folder.name} does not exist"
    return None


ClipStarted = Callable[[ClipResult], None]


def reproduce_clips(
    job: ReproducibleJob, scratch: Path, on_clip: ClipStarted | None = None
) -> list[ClipReproduction]:
    """Every clip once, in order, into `scratch` (which must exist and be empty)."""
    return [_reproduce_clip(job, clip, scratch, on_clip) for clip in job.result.clips]


def _reproduce_clip(
    job: ReproducibleJob, clip: ClipResult, scratch: Path, on_clip: ClipStarted | None
) -> ClipReproduction:
    assert clip.output is not None and clip.expected is not None
    assert clip.output_bytes is not None and clip.output_sha256 is not None
    spec = job.result.spec
    assert spec is not None
    target = scratch / PurePosixPath(clip.output).name
    recorded_staged = _recorded_staged(clip, spec.output_dir, spec.job_id)
    new_staged = "file:" + str(target)
    plan = ClipPlan(
        index=clip.index,
        source=clip.source,
        output=clip.output,
        staged_output=str(target),
        argv=(*clip.argv[:-1], new_staged),
        verify_argv=tuple(new_staged if a == recorded_staged else a for a in clip.verify_argv),
        expected=clip.expected,
        decisions=clip.decisions,
        cpu_dependent=clip.cpu_dependent,
    )

    def verdict(
        kind: Verdict, detail: str | None = None, found: tuple[int, str] | None = None
    ) -> ClipReproduction:
        return ClipReproduction(
            index=clip.index,
            source=clip.source,
            recorded_output=clip.output or "",
            verdict=kind,
            recorded_bytes=clip.output_bytes or 0,
            recorded_sha256=clip.output_sha256 or "",
            reproduced_bytes=found[0] if found else None,
            reproduced_sha256=found[1] if found else None,
            detail=detail,
            cpu_dependent=clip.cpu_dependent,
        )

    if on_clip is not None:
        on_clip(clip)
    if not Path(clip.source).is_file():
        return verdict(Verdict.SOURCE_MISSING, f"the source {clip.source} is not there")
    engine = run_engine(job.binary, plan.argv, job.clip_timeout_s)
    if not engine.succeeded:
        if engine.start_error is not None:
            ending = f"could not start: {engine.start_error}"
        elif engine.timed_out:
            ending = f"ran longer than clip_timeout_s={job.clip_timeout_s} and was killed"
        elif engine.signal_name is not None:
            ending = f"was killed by {engine.signal_name}"
        else:
            ending = f"exited with status {engine.exit_code}"
        tail = " | ".join(engine.stderr_tail.strip().splitlines()[-_STDERR_LINES:])
        detail = f"the engine {ending}" + (f": {tail}" if tail else "")
        return verdict(Verdict.ENGINE_FAILED, detail)
    checked = verify_clip(plan, job.binary, job.clip_timeout_s)
    found = file_fingerprint(target) if target.is_file() else None
    if checked.failed_reason is not None:
        failed = ", ".join(c.name for c in checked.checks if not c.passed)
        return verdict(
            Verdict.FAILED_VERIFICATION, f"{checked.failed_reason.value}: {failed}", found
        )
    assert found is not None  # verification found the file
    if found != (clip.output_bytes, clip.output_sha256):
        return verdict(Verdict.DIFFERS, None, found)
    return verdict(Verdict.IDENTICAL, None, found)
