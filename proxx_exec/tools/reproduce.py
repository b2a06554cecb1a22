"""`proxx reproduce`: derive a finished job's commands again, run them, compare the bytes.

The proof that a result's proxies came from its JobSpec and engine. The commands are never taken
from the file (its digest is a plain SHA-256 anyone can recompute): the recorded JobSpec is read
and planned again on this machine, with the same engine binary (its SHA-256 must equal the
recorded one) and the same probing library (PyAV and its libav, which must equal the recorded
ones). When the commands derived for the job's own output folder differ from the recorded ones,
nothing is run. Otherwise the commands derived for a scratch folder — the same but for the paths
under it — are run once per clip, each proxy verified as the job verified it and its SHA-256
compared with the recorded one. The committed proxies are never read or written, and no result
file is written: this is not a retry of the job.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from pydantic import ValidationError

from proxx_exec import __version__
from proxx_exec.commit import create_staging, keep_staged, remove_staging
from proxx_exec.engines import EngineIdentity, engine_binary
from proxx_exec.failures import JobFailure, Reason, clip_label
from proxx_exec.files import file_fingerprint
from proxx_exec.jobspec import is_text
from proxx_exec.plan import ClipPlan, JobPlan
from proxx_exec.process import run_engine
from proxx_exec.refusals import describe
from proxx_exec.result import (
    ClipResult,
    ExecutionResult,
    Status,
    document_digest_matches,
    read_result_document,
)
from proxx_exec.validate import Reading, read_job
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
    """A COMPLETED result whose digest matches, whose engine binary and probing library are the
    ones on this machine, and whose commands are the ones its JobSpec gives here."""

    result: ExecutionResult
    result_file: Path
    reading: Reading  # the recorded JobSpec, read again here: the commands come from it

    @property
    def binary(self) -> Path:
        """This machine's engine binary, equal to the recorded one by SHA-256."""
        return self.reading.engine_binary

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
    if result.spec is None or result.engine is None or result.prober is None:
        raise Refusal(
            f"{path} records no JobSpec, engine or probing library; nothing can be re-run"
        )
    for clip in result.clips:
        _check_recorded_output(clip)
    reading = _read_again(result)
    _check_derived_commands(result, reading.validated().plan)
    return ReproducibleJob(result=result, result_file=path, reading=reading)


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


def _read_again(result: ExecutionResult) -> Reading:
    """The recorded JobSpec read on this machine, if its engine and probing library are the
    recorded ones (both are checked before any command is compared)."""
    spec, recorded, prober = result.spec, result.engine, result.prober
    assert spec is not None and recorded is not None and prober is not None
    _check_engine_unrun(spec.engine, recorded)
    try:
        reading = read_job(spec)
    except JobFailure as error:
        if error.reason in {
            Reason.ENGINE_UNAVAILABLE,
            Reason.ENGINE_NOT_FFMPEG,
            Reason.ENGINE_MISMATCH,
        }:
            raise Refusal(
                f"the engine the JobSpec names ({spec.engine}) cannot run on this machine: "
                f"{error.message}"
            ) from None
        raise Refusal(
            "the commands cannot be derived again from the recorded JobSpec on this machine "
            f"({error.reason.value}): {error.message}. Only commands derived here are run."
        ) from None
    engine = reading.engine
    if engine.sha256 != recorded.sha256:
        raise Refusal(
            f"this machine's engine binary {reading.engine_binary} has SHA-256 {engine.sha256} "
            f"({engine.version_line}); the job was made by one with SHA-256 {recorded.sha256} "
            f"({recorded.name}, {recorded.version_line}). Another binary may give other bytes, "
            "so a run here would prove nothing. Install the recorded engine and try again."
        )
    if reading.prober != prober:
        raise Refusal(
            f"this machine reads media with {reading.prober.describe()}; the job was planned "
            f"with {prober.describe()}. The plan's facts (frame counts, time scale, stream "
            "layout, display matrix) come from that library, so another one may give other "
            "commands and a run here would prove nothing. Install the recorded versions (proxx "
            "pins PyAV exactly) and try again."
        )
    return reading


def _check_engine_unrun(engine: str, recorded: EngineIdentity) -> None:
    """The binary the JobSpec names must be the recorded one, by SHA-256, before it is run even
    once (planning asks it for `-version`): the file is someone else's, so its `engine` may name
    any program on this machine."""
    try:
        binary = engine_binary(engine)
    except JobFailure as error:
        raise Refusal(
            f"the engine the JobSpec names ({engine}) cannot run on this machine: {error.message}"
        ) from None
    if not binary.is_file():
        raise Refusal(
            f"the engine the JobSpec names ({engine}) is not a file on this machine ({binary})"
        )
    try:
        _, digest = file_fingerprint(binary)
    except OSError as error:
        raise Refusal(
            f"the engine binary {binary} cannot be read to check it: {error.strerror or error}"
        ) from None
    if digest != recorded.sha256:
        raise Refusal(
            f"this machine's engine binary {binary} has SHA-256 {digest}; the job was made by "
            f"one with SHA-256 {recorded.sha256} ({recorded.name}, {recorded.version_line}). "
            "Another binary may give other bytes, so a run here would prove nothing; it was "
            "not run. Install the recorded engine and try again."
        )


def _check_recorded_output(clip: ClipResult) -> None:
    label = clip_label(clip.index)
    if clip.output is None or clip.output_sha256 is None or clip.output_bytes is None:
        raise Refusal(f"{label} records no committed output, size or SHA-256")


def _first_difference(recorded: list[str], derived: tuple[str, ...]) -> str:
    for position, (was, now) in enumerate(zip(recorded, derived, strict=False)):
        if was != now:
            return f"argument {position}: recorded {was!r}, derived here {now!r}"
    if len(recorded) > len(derived):
        extra = len(recorded) - len(derived)
        return f"the record has {extra} more argument(s), from {recorded[len(derived)]!r}"
    return f"the derived command has {len(derived) - len(recorded)} more argument(s)"


def _check_derived_commands(result: ExecutionResult, derived: JobPlan) -> None:
    """The recorded plan must be the one the recorded JobSpec gives here, to the argument."""
    why = (
        "Only commands derived here from the JobSpec are ever run. The record was altered "
        "(its digest proves nothing: anyone can recompute it), or a source changed since the job"
        + (
            f", or this proxx ({__version__}) plans otherwise than the one that ran it "
            f"({result.proxx_version})"
            if result.proxx_version != __version__
            else ""
        )
        + "."
    )
    if result.profile != derived.profile:
        raise Refusal(f"the recorded profile is not the one the recorded JobSpec gives. {why}")
    if len(result.clips) != len(derived.clips):
        raise Refusal(
            f"the record lists {len(result.clips)} clips; its JobSpec gives "
            f"{len(derived.clips)}. {why}"
        )
    for recorded, plan in zip(result.clips, derived.clips, strict=True):
        label = clip_label(plan.index)
        if recorded.argv != list(plan.argv):
            raise Refusal(
                f"{label}: the recorded encode command is not the one the recorded JobSpec "
                f"gives on this machine ({_first_difference(recorded.argv, plan.argv)}). {why}"
            )
        if recorded.verify_argv != list(plan.verify_argv):
            raise Refusal(
                f"{label}: the recorded verification command is not the one the recorded "
                "JobSpec gives on this machine "
                f"({_first_difference(recorded.verify_argv, plan.verify_argv)}). {why}"
            )
        same = (
            recorded.index == plan.index
            and recorded.source == plan.source
            and recorded.output == plan.output
            and recorded.expected == plan.expected
            and recorded.decisions == plan.decisions
            and recorded.cpu_dependent == plan.cpu_dependent
        )
        if not same:
            raise Refusal(
                f"{label}: the recorded source, output, expected proxy or decisions are not the "
                f"ones the recorded JobSpec gives on this machine. {why}"
            )


def scratch_problem(folder: Path, output_dir: str) -> str | None:
    """Why `folder` cannot hold a reproduction: it must be new or empty, outside output_dir."""
    if any(c in str(folder) for c in "\n\r"):
        return f"{str(folder)!r} holds a line break, which no JobSpec path may hold"
    if not is_text(str(folder)):
        return (
            f"{str(folder)!r} holds a character that is not Unicode text (a name that is not "
            "UTF-8), which no JobSpec path may hold"
        )
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
    writable = folder if folder.exists() else folder.parent
    if not os.access(writable, os.W_OK | os.X_OK):
        return f"{writable} is not writable"
    return None


ClipStarted = Callable[[ClipResult], None]


def reproduce_clips(
    job: ReproducibleJob, scratch: Path, on_clip: ClipStarted | None = None
) -> list[ClipReproduction]:
    """Every clip once, in order, into `scratch` (which must exist and be empty): the job's
    commands derived again with `scratch` as the output folder. Each proxy ends under its
    output name in `scratch`."""
    try:
        plan = job.reading.validated(output_dir=str(scratch)).plan
        staging = create_staging(plan)
    except JobFailure as error:  # e.g. another reproduction of this job into the same folder
        raise Refusal(
            f"the reproduction cannot start in {scratch} ({error.reason.value}): {error.message}"
        ) from None
    clips: list[ClipReproduction] = []
    try:
        for recorded, derived in zip(job.result.clips, plan.clips, strict=True):
            clips.append(_reproduce_clip(job, recorded, derived, on_clip))
    finally:
        try:  # only clips that reached a verdict: an interrupted encode is never kept
            not_kept = keep_staged(plan, [clip.index for clip in clips])
        finally:
            remove_staging(staging)
    return [
        replace(clip, detail="; ".join(filter(None, [clip.detail, not_kept[clip.index]])))
        if clip.index in not_kept
        else clip
        for clip in clips
    ]


def _reproduce_clip(
    job: ReproducibleJob, clip: ClipResult, plan: ClipPlan, on_clip: ClipStarted | None
) -> ClipReproduction:
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
    if not Path(plan.source).is_file():  # there when the commands were derived, gone since
        return verdict(Verdict.SOURCE_MISSING, f"the source {plan.source} is not there")
    return _run_and_compare(job, clip, plan, verdict)


def _run_and_compare(
    job: ReproducibleJob,
    clip: ClipResult,
    plan: ClipPlan,
    verdict: Callable[..., ClipReproduction],
) -> ClipReproduction:
    staged = Path(plan.staged_output)
    engine = run_engine(job.binary, plan.argv, job.clip_timeout_s)
    if not engine.succeeded:
        tail = " | ".join(engine.stderr_tail.strip().splitlines()[-_STDERR_LINES:])
        detail = engine.ending(job.clip_timeout_s) + (f": {tail}" if tail else "")
        return verdict(Verdict.ENGINE_FAILED, detail)
    checked = verify_clip(plan, job.binary, job.clip_timeout_s)
    found = file_fingerprint(staged) if staged.is_file() else None
    if checked.failed_reason is not None:
        failed = ", ".join(c.name for c in checked.checks if not c.passed)
        return verdict(
            Verdict.FAILED_VERIFICATION, f"{checked.failed_reason.value}: {failed}", found
        )
    assert found is not None  # verification found the file
    if found != (clip.output_bytes, clip.output_sha256):
        return verdict(Verdict.DIFFERS, None, found)
    return verdict(Verdict.IDENTICAL, None, found)
