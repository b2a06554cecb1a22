"""The job: validate, then for each clip in order run the engine once and verify, then commit.

The first failure stops the job. Nothing is retried. Whatever happens, one ExecutionResult.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

from proxx_exec.canonical import sha256_hex
from proxx_exec.commit import (
    Staging,
    commit_outputs,
    create_staging,
    remove_staging,
    staging_problem,
)
from proxx_exec.engines import engine_binary
from proxx_exec.failures import FailureClass, JobFailure, Reason
from proxx_exec.jobspec import JobSpec, load_jobspec_bytes, read_spec_file
from proxx_exec.naming import result_path
from proxx_exec.plan import ClipPlan, JobPlan
from proxx_exec.process import ProcessOutcome, run_engine
from proxx_exec.result import (
    Check,
    ClipResult,
    ClipState,
    ClipTiming,
    ExecutionResult,
    Status,
    seal,
    write_result,
)
from proxx_exec.validate import ValidatedJob, validate_job
from proxx_exec.verify import verify_clip

log = logging.getLogger("proxx_exec")


@dataclass(frozen=True)
class ClipProgress:
    """One progress event. Observers get copies; nothing they do reaches the job."""

    index: int
    clip_count: int
    source: str
    frames_done: int
    frames_total: int
    phase: str  # "encode", "verify" or "done"


ProgressCallback = Callable[[ClipProgress], None]


def _notify(callback: ProgressCallback | None, event: ClipProgress) -> None:
    if callback is None:
        return
    try:
        callback(event)
    except Exception:  # an observer's failure must not change the job
        log.exception("progress callback failed; execution continues unchanged")


@dataclass
class _ClipRecord:
    """What happened to one clip that was started."""

    exit_code: int | None = None
    checks: list[Check] = field(default_factory=list)
    frame_count: int | None = None
    output_bytes: int | None = None
    output_sha256: str | None = None
    verified: bool = False


@dataclass
class _Journal:
    """What happened so far: the raw material of the result."""

    clips: dict[int, _ClipRecord] = field(default_factory=dict)
    timings: list[ClipTiming] = field(default_factory=list)


def proxx_version() -> str:
    return importlib.metadata.version("proxx-dagster")


def execute(spec: JobSpec, on_progress: ProgressCallback | None = None) -> ExecutionResult:
    """Run one JobSpec to its ExecutionResult. Never raises for a job's own failure."""
    watch = Stopwatch()
    journal = _Journal()
    validated: ValidatedJob | None = None
    failure: JobFailure | None = None
    try:
        validated = validate_job(spec)
        _run_validated(validated, journal, on_progress)
    except JobFailure as error:
        failure = error
    result = _build_result(spec, validated=validated, journal=journal, failure=failure, watch=watch)
    _write_beside_outputs(result, spec)
    return result


def execute_document(raw: bytes, on_progress: ProgressCallback | None = None) -> ExecutionResult:
    """Parse a JobSpec document (JSON or YAML) and run it; a bad document is a FAILED result."""
    watch = Stopwatch()
    try:
        spec = load_jobspec_bytes(raw)
    except JobFailure as error:
        return _unparsed_failure(raw, error, watch)
    return execute(spec, on_progress)


def execute_file(path: Path, on_progress: ProgressCallback | None = None) -> ExecutionResult:
    watch = Stopwatch()
    try:
        raw = read_spec_file(path)
    except OSError as error:
        failure = JobFailure(
            FailureClass.VALIDATION,
            Reason.SPEC_UNREADABLE,
            f"cannot read JobSpec {path}: {error.strerror or error}",
        )
        return _unparsed_failure(str(path).encode(), failure, watch)
    return execute_document(raw, on_progress)


def _run_validated(
    job: ValidatedJob, journal: _Journal, on_progress: ProgressCallback | None
) -> None:
    plan = job.plan
    staging = create_staging(plan)
    try:
        for clip in plan.clips:
            _run_clip(job, staging, clip, journal, on_progress)
        commit_outputs(plan, staging)
    except JobFailure as failure:
        leftover = remove_staging(staging)
        if leftover is not None:
            failure.message += f"; {leftover} (the next validation of this job names it)"
        raise
    leftover = remove_staging(staging)
    if leftover is not None:  # the proxies are committed; only the extra names remain
        log.warning("job %s: %s", plan.job_id, leftover)


def _run_clip(
    job: ValidatedJob,
    staging: Staging,
    clip: ClipPlan,
    journal: _Journal,
    on_progress: ProgressCallback | None,
) -> None:
    plan = job.plan
    total = clip.expected.frame_count

    def event(frames: int, phase: str) -> ClipProgress:
        return ClipProgress(clip.index, len(plan.clips), clip.source, frames, total, phase)

    def on_engine_progress(block: dict[str, str]) -> None:
        frames = block.get("frame", "0")
        _notify(on_progress, event(int(frames) if frames.isdigit() else 0, "encode"))

    record = journal.clips[clip.index] = _ClipRecord()
    problem = staging_problem(staging, after_failure=False)
    if problem is not None:
        raise JobFailure(
            FailureClass.EXECUTION,
            problem[0],
            f"clip {clip.index}: {problem[1]}",
            clip_index=clip.index,
        )
    if not Path(clip.source).is_file():
        raise JobFailure(
            FailureClass.EXECUTION,
            Reason.SOURCE_VANISHED,
            f"clip {clip.index}: source {clip.source} disappeared after validation",
            clip_index=clip.index,
        )
    _notify(on_progress, event(0, "encode"))
    began = time.perf_counter()
    outcome = run_engine(job.engine_binary, clip.argv, job.spec.clip_timeout_s, on_engine_progress)
    encoded = time.perf_counter()
    record.exit_code = outcome.exit_code
    _raise_for_outcome(clip, outcome, job.spec.clip_timeout_s, staging)
    _notify(on_progress, event(total, "verify"))
    verification = verify_clip(clip, job.engine_binary, job.spec.clip_timeout_s)
    journal.timings.append(
        ClipTiming(
            index=clip.index, encode_s=encoded - began, verify_s=time.perf_counter() - encoded
        )
    )
    record.checks = verification.checks
    record.frame_count = verification.frame_count
    if verification.failed_reason is not None:
        failed = [c.name for c in verification.checks if not c.passed]
        raise JobFailure(
            FailureClass.VERIFICATION,
            verification.failed_reason,
            f"clip {clip.index}: output failed verification: {', '.join(failed)}",
            clip_index=clip.index,
            stderr_tail=verification.decode_stderr,
        )
    staged = Path(clip.staged_output)
    with staged.open("rb") as handle:
        record.output_sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
    record.output_bytes = staged.stat().st_size
    record.verified = True
    _notify(on_progress, event(total, "done"))


# What a signal most likely means for an encode, for the message.
_SIGNAL_MEANING = {
    "SIGKILL": "killed (by the out-of-memory killer or an operator)",
    "SIGXFSZ": "stopped at the file-size limit (RLIMIT_FSIZE)",
    "SIGSEGV": "crashed",
    "SIGTERM": "terminated",
    "SIGINT": "interrupted",
}


def _raise_for_outcome(
    clip: ClipPlan, outcome: ProcessOutcome, timeout_s: int, staging: Staging
) -> None:
    def fail(reason: Reason, message: str) -> JobFailure:
        return JobFailure(
            FailureClass.EXECUTION,
            reason,
            f"clip {clip.index}: {message}",
            clip_index=clip.index,
            stderr_tail=outcome.stderr_tail or None,
        )

    if outcome.start_error is not None:
        raise fail(Reason.ENGINE_START_FAILED, f"the engine could not start: {outcome.start_error}")
    if outcome.timed_out:
        raise fail(
            Reason.TIMEOUT,
            f"the engine ran longer than clip_timeout_s={timeout_s} and "
            "its process group was killed",
        )
    if outcome.succeeded:
        return
    ending = (
        f"the engine was killed by {outcome.signal_name}"
        if outcome.signal_name
        else f"the engine exited with status {outcome.exit_code}"
    )
    problem = staging_problem(staging, after_failure=True)
    if problem is not None:  # the output side failed: name that cause
        raise fail(problem[0], f"{problem[1]}; {ending}")
    if outcome.signal_name is not None:
        meaning = _SIGNAL_MEANING.get(outcome.signal_name, "killed by a signal")
        raise fail(Reason.SIGNALED, f"{ending}: {meaning}")
    raise fail(Reason.NONZERO_EXIT, ending)


def _unplanned_clips(spec: JobSpec) -> list[dict[str, Any]]:
    """A job that failed validation: every source listed, none run."""
    return [
        ClipResult(
            index=index,
            source=source,
            output=None,
            state=ClipState.NOT_RUN,
            argv=[],
            verify_argv=[],
            exit_code=None,
            checks=[],
            output_bytes=None,
            output_sha256=None,
            frame_count=None,
            duration_s=None,
        ).model_dump(mode="json")
        for index, source in enumerate(spec.sources)
    ]


def _clip_results(
    plan: JobPlan, journal: _Journal, failure: JobFailure | None
) -> list[dict[str, Any]]:
    rows = []
    for clip in plan.clips:
        record = journal.clips.get(clip.index)
        if record is None:
            state = ClipState.NOT_RUN
            record = _ClipRecord()
        elif not record.verified:
            state = ClipState.FAILED
        else:
            state = ClipState.COMMITTED if failure is None else ClipState.DISCARDED
        rows.append(
            ClipResult(
                index=clip.index,
                source=clip.source,
                output=clip.output,
                state=state,
                argv=list(clip.argv),
                verify_argv=list(clip.verify_argv),
                exit_code=record.exit_code,
                checks=record.checks,
                output_bytes=record.output_bytes,
                output_sha256=record.output_sha256,
                frame_count=record.frame_count,
                duration_s=_duration(record.frame_count, clip.expected.frame_rate),
            ).model_dump(mode="json")
        )
    return rows


def _duration(frames: int | None, frame_rate: str) -> float | None:
    if frames is None:
        return None
    return round(float(frames / Fraction(frame_rate)), 6)


def _failure_fields(failure: JobFailure | None) -> dict[str, Any] | None:
    if failure is None:
        return None
    return {
        "class": failure.failure_class.value,
        "reason": failure.reason.value,
        "clip_index": failure.clip_index,
        "message": failure.message,
        "stderr_tail": failure.stderr_tail,
    }


class Stopwatch:
    """Wall-clock facts for the result's `timing` block; the only clock reads in a job."""

    def __init__(self) -> None:
        self.started = datetime.now(UTC)
        self._clock = time.perf_counter()

    def timing(self, clips: list[ClipTiming]) -> dict[str, Any]:
        return {
            "started_at": self.started.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            "duration_s": time.perf_counter() - self._clock,
            "clips": [c.model_dump() for c in clips],
        }


def _build_result(
    spec: JobSpec,
    *,
    validated: ValidatedJob | None,
    journal: _Journal,
    failure: JobFailure | None,
    watch: Stopwatch,
) -> ExecutionResult:
    plan = validated.plan if validated else None
    try:
        binary: str | None = str(engine_binary(spec.engine))
    except JobFailure:
        binary = None
    return seal(
        {
            "proxx_version": proxx_version(),
            "job_id": spec.job_id,
            "spec_fingerprint": spec.fingerprint,
            "spec": spec.canonical(),
            "profile": plan.profile.model_dump(mode="json") if plan else None,
            "engine": plan.engine.model_dump(mode="json") if plan else None,
            "status": Status.FAILED if failure else Status.COMPLETED,
            "failure": _failure_fields(failure),
            "clips": _clip_results(plan, journal, failure) if plan else _unplanned_clips(spec),
            "timing": watch.timing(journal.timings),
            "host": {"engine_binary": binary},
        }
    )


def _unparsed_failure(raw: bytes, failure: JobFailure, watch: Stopwatch) -> ExecutionResult:
    return seal(
        {
            "proxx_version": proxx_version(),
            "job_id": None,
            "spec_fingerprint": sha256_hex(raw),
            "spec": None,
            "profile": None,
            "engine": None,
            "status": Status.FAILED,
            "failure": _failure_fields(failure),
            "clips": [],
            "timing": watch.timing([]),
            "host": {"engine_binary": None},
        }
    )


def _write_beside_outputs(result: ExecutionResult, spec: JobSpec) -> None:
    """Keep the result with the proxies. An existing result file is never replaced."""
    target = Path(result_path(spec.output_dir, spec.job_id))
    if not target.parent.is_dir():
        return
    try:
        write_result(result, target)
    except OSError as error:
        log.warning("result not written beside the outputs at %s: %s", target, error)
