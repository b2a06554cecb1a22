"""The job: validate, then for each clip in order run the engine once and verify, then commit.

The first failure stops the job. Nothing is retried. Whatever happens, one ExecutionResult,
built from a typed outcome per clip: a failure of the taxonomy, an unexpected error
(INTERNAL_ERROR) or an interruption (INTERRUPTED) all end the same way — staging removed, no
final-named proxy of the failed job, the FAILED result written beside the outputs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

from proxx_exec import __version__
from proxx_exec.canonical import sha256_hex
from proxx_exec.commit import (
    Staging,
    commit_outputs,
    create_staging,
    remove_staging,
    staging_problem,
    withdraw,
)
from proxx_exec.engines import engine_binary
from proxx_exec.failures import FailureClass, JobFailure, Reason, clip_label
from proxx_exec.files import file_fingerprint
from proxx_exec.jobspec import JobSpec, load_jobspec_bytes, read_spec_file, unreadable_spec_file
from proxx_exec.looks.picture import lut_sha256_now
from proxx_exec.plan import ClipPlan, JobPlan
from proxx_exec.process import ProcessOutcome, run_engine
from proxx_exec.result import (
    Check,
    ClipResult,
    ClipState,
    ClipTiming,
    ExecutionResult,
    Failure,
    Host,
    Status,
    Timing,
    record_path,
    seal,
    write_result,
)
from proxx_exec.validate import ValidatedJob, validate_job
from proxx_exec.verify import verify_clip

log = logging.getLogger("proxx_exec")


@dataclass(frozen=True)
class ClipProgress:
    """One progress event. Observers get copies; nothing they do reaches the job.

    `number` counts clips from 1, as people, messages and the {index} naming token do.
    """

    index: int
    clip_count: int
    source: str
    frames_done: int
    frames_total: int
    phase: str  # "encode", "verify" or "done"

    @property
    def number(self) -> int:
        return self.index + 1


ProgressCallback = Callable[[ClipProgress], None]


def _notify(callback: ProgressCallback | None, event: ClipProgress) -> None:
    if callback is None:
        return
    try:
        callback(event)
    except Exception:  # an observer's failure must not change the job
        log.exception("progress callback failed; execution continues unchanged")


@dataclass(frozen=True)
class ClipOutcome:
    """What happened to one started clip. `failure` set: this clip stopped the job."""

    exit_code: int | None = None
    checks: tuple[Check, ...] = ()
    frame_count: int | None = None
    output_bytes: int | None = None
    output_sha256: str | None = None
    timing: ClipTiming | None = None
    failure: JobFailure | None = None


class Stopwatch:
    """The job's start, end and stage durations for the result's `timing` block. Clocks are
    read for timing (here and per clip stage in `_run_clip`) and for the clip timeout's
    deadline (`process.py`); no other decision depends on a clock."""

    def __init__(self) -> None:
        self.started = datetime.now(UTC)
        self._clock = time.perf_counter()
        self.validation_s: float | None = None
        self.commit_s: float | None = None

    def since_start(self) -> float:
        return time.perf_counter() - self._clock

    def timing(self, outcomes: list[ClipOutcome]) -> Timing:
        return Timing(
            started_at=self.started.isoformat(),
            finished_at=datetime.now(UTC).isoformat(),
            duration_s=self.since_start(),
            validation_s=self.validation_s,
            commit_s=self.commit_s,
            clips=[o.timing for o in outcomes if o.timing is not None],
        )


def proxx_version() -> str:
    return __version__


class _JobState:
    """How far one run got: what the record and the clean-up need, whatever stopped it."""

    def __init__(self) -> None:
        self.validated: ValidatedJob | None = None
        self.staging: Staging | None = None
        self.outcomes: list[ClipOutcome] = []
        self.current: int | None = None  # the clip being run
        self.committed: list[str] = []  # final names the commit created

    def stopped(self, error: BaseException, reason: Reason, what: str) -> JobFailure:
        """The failure for an error outside the taxonomy. VALIDATION while nothing was written
        (the record does not spend the job_id), EXECUTION once the staging folder is claimed."""
        failure_class = FailureClass.VALIDATION if self.staging is None else FailureClass.EXECUTION
        where = f"{clip_label(self.current)}: " if self.current is not None else ""
        failure = JobFailure(
            failure_class,
            reason,
            f"{where}{what} ({_named(error)}); nothing was committed",
            clip_index=self.current,
        )
        if self.current is not None and len(self.outcomes) == self.current:
            self.outcomes.append(ClipOutcome(failure=failure))  # the clip it stopped
        return failure


def _named(error: BaseException) -> str:
    """An exception as people read it: its type, and its text when it has one."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def execute(spec: JobSpec, on_progress: ProgressCallback | None = None) -> ExecutionResult:
    """Run one JobSpec to its ExecutionResult. Never raises for a job's own failure, nor for an
    unexpected error (a FAILED result, INTERNAL_ERROR). An interruption (KeyboardInterrupt,
    SystemExit, an orchestrator's termination: any BaseException that is not an Exception) is
    recorded as INTERRUPTED, cleaned up like any failure, and then raised again, so that the
    process still stops as it was asked to."""
    watch = Stopwatch()
    state = _JobState()
    failure: JobFailure | None = None
    interruption: BaseException | None = None
    try:
        state.validated = validate_job(spec)
        watch.validation_s = watch.since_start()
        _run_validated(state, on_progress, watch)
    except JobFailure as error:
        failure = error
    except Exception as error:
        log.exception("job %s: unexpected error", spec.job_id)
        failure = state.stopped(error, Reason.INTERNAL_ERROR, "an unexpected error stopped the job")
    except BaseException as error:
        interruption = error
        failure = state.stopped(error, Reason.INTERRUPTED, "the job was interrupted")
    result = _finish(spec, state, failure, watch)
    if interruption is not None:
        raise interruption
    return result


def execute_document(raw: bytes, on_progress: ProgressCallback | None = None) -> ExecutionResult:
    """Parse a JobSpec document (JSON or YAML) and run it; a bad document is a FAILED result."""
    watch = Stopwatch()
    try:
        spec = load_jobspec_bytes(raw)
    except JobFailure as error:
        return _unparsed_failure(raw, error, watch)
    except Exception as error:
        log.exception("unexpected error reading a JobSpec document")
        failure = _JobState().stopped(
            error, Reason.INTERNAL_ERROR, "an unexpected error stopped reading the JobSpec"
        )
        return _unparsed_failure(raw, failure, watch)
    return execute(spec, on_progress)


def execute_file(path: Path, on_progress: ProgressCallback | None = None) -> ExecutionResult:
    watch = Stopwatch()
    try:
        raw = read_spec_file(path)
    except OSError as error:
        failure = JobFailure(
            FailureClass.VALIDATION, Reason.SPEC_UNREADABLE, unreadable_spec_file(path, error)
        )
        return _unparsed_failure(str(path).encode(), failure, watch)
    except Exception as error:
        log.exception("unexpected error reading JobSpec %s", path)
        failure = _JobState().stopped(
            error, Reason.INTERNAL_ERROR, f"an unexpected error stopped reading JobSpec {path}"
        )
        return _unparsed_failure(str(path).encode(), failure, watch)
    return execute_document(raw, on_progress)


def _run_validated(
    state: _JobState, on_progress: ProgressCallback | None, watch: Stopwatch
) -> None:
    """Every clip in order, each run once; the first failed clip stops the job; then commit.
    The staging folder is removed by `_finish`, whatever happens here."""
    assert state.validated is not None
    job = state.validated
    plan = job.plan
    state.staging = create_staging(plan)
    for clip in plan.clips:
        state.current = clip.index
        outcome = _run_clip(job, state.staging, clip, on_progress)
        state.outcomes.append(outcome)
        if outcome.failure is not None:
            raise outcome.failure
    state.current = None
    committing = watch.since_start()
    commit_outputs(plan, state.staging, state.committed)
    watch.commit_s = watch.since_start() - committing


def _finish(
    spec: JobSpec, state: _JobState, failure: JobFailure | None, watch: Stopwatch
) -> ExecutionResult:
    """Remove the staging folder, make the one record and keep it beside the outputs."""
    if failure is not None:
        withdraw(state.committed)  # a FAILED job keeps no proxy
        state.committed = []
    if state.staging is not None:
        leftover = remove_staging(state.staging)
        if leftover is not None and failure is not None:
            failure.message += f"; {leftover} (the next validation of this job names it)"
        elif leftover is not None:  # the proxies are committed; only the extra names remain
            log.warning("job %s: %s", spec.job_id, leftover)
    try:
        result = _result(spec, state.validated, state.outcomes, failure, watch)
    except Exception as error:  # no trustworthy record: a job without one keeps no proxy
        log.exception("job %s: the result could not be built", spec.job_id)
        withdraw(state.committed)
        state.current = None
        bare = state.stopped(error, Reason.INTERNAL_ERROR, "the job's result could not be built")
        result = _bare_failure(spec, bare, watch)
    _write_beside_outputs(result)
    return result


def _run_clip(
    job: ValidatedJob, staging: Staging, clip: ClipPlan, on_progress: ProgressCallback | None
) -> ClipOutcome:
    """Input check, run the engine once, verify, fingerprint: one clip's whole life."""
    total = clip.expected.frame_count

    def event(frames: int, phase: str) -> ClipProgress:
        return ClipProgress(clip.index, len(job.plan.clips), clip.source, frames, total, phase)

    def on_engine_progress(block: dict[str, str]) -> None:
        frames = block.get("frame", "0")
        counted = frames.isascii() and frames.isdigit()
        _notify(on_progress, event(int(frames) if counted else 0, "encode"))

    try:
        _check_inputs(staging, clip)
    except JobFailure as failure:
        return ClipOutcome(failure=failure)
    _notify(on_progress, event(0, "encode"))
    began = time.perf_counter()
    engine = run_engine(job.engine_binary, clip.argv, job.spec.clip_timeout_s, on_engine_progress)
    encoded = time.perf_counter()
    problem = _engine_failure(clip, engine, job.spec.clip_timeout_s, staging)
    if problem is not None:
        return ClipOutcome(exit_code=engine.exit_code, failure=problem)
    _notify(on_progress, event(total, "verify"))
    verification = verify_clip(clip, job.engine_binary, job.spec.clip_timeout_s)
    verified = time.perf_counter()
    timing = ClipTiming(index=clip.index, encode_s=encoded - began, verify_s=verified - encoded)

    def stopped(failure: JobFailure) -> ClipOutcome:  # after the engine ran and was verified
        return ClipOutcome(
            exit_code=engine.exit_code,
            checks=verification.checks,
            frame_count=verification.frame_count,
            timing=timing,
            failure=failure,
        )

    if verification.failed_reason is not None:
        failed = [c.name for c in verification.checks if not c.passed]
        return stopped(
            JobFailure(
                FailureClass.VERIFICATION,
                verification.failed_reason,
                f"{clip_label(clip.index)}: output failed verification: {', '.join(failed)}",
                clip_index=clip.index,
                stderr_tail=verification.decode_stderr,
            )
        )
    staged = Path(clip.staged_output)
    try:
        size, digest = file_fingerprint(staged)
    except OSError as error:  # verified, then gone or unreadable before it could be hashed
        problem_now = staging_problem(staging, after_failure=False)
        reason, why = problem_now or (
            Reason.STAGED_OUTPUT_LOST,
            f"the verified proxy {staged} could not be read to hash it "
            f"({error.strerror or error}): something removed or changed it while the job ran",
        )
        return stopped(
            JobFailure(
                FailureClass.EXECUTION,
                reason,
                f"{clip_label(clip.index)}: {why}",
                clip_index=clip.index,
            )
        )
    timing = timing.model_copy(update={"hash_s": time.perf_counter() - verified})
    _notify(on_progress, event(total, "done"))
    return ClipOutcome(
        exit_code=engine.exit_code,
        checks=verification.checks,
        frame_count=verification.frame_count,
        output_bytes=size,
        output_sha256=digest,
        timing=timing,
    )


def _check_inputs(staging: Staging, clip: ClipPlan) -> None:
    problem = staging_problem(staging, after_failure=False)
    if problem is not None:
        raise JobFailure(
            FailureClass.EXECUTION,
            problem[0],
            f"{clip_label(clip.index)}: {problem[1]}",
            clip_index=clip.index,
        )
    if not Path(clip.source).is_file():
        raise JobFailure(
            FailureClass.EXECUTION,
            Reason.SOURCE_VANISHED,
            f"{clip_label(clip.index)}: source {clip.source} disappeared after validation",
            clip_index=clip.index,
        )
    if clip.look is not None:
        digest = lut_sha256_now(clip.look)
        if digest != clip.look.lut_sha256:
            raise JobFailure(
                FailureClass.EXECUTION,
                Reason.LOOK_LUT_CHANGED,
                f"{clip_label(clip.index)}: the look's LUT {clip.look.lut} changed after "
                f"validation, before this clip's turn (SHA-256 now {digest}, at validation "
                f"{clip.look.lut_sha256}): restore it, or run a new job with the new LUT",
                clip_index=clip.index,
            )


def _engine_failure(
    clip: ClipPlan, outcome: ProcessOutcome, timeout_s: int, staging: Staging
) -> JobFailure | None:
    """The failure an engine run amounts to, named from what happened (never from stderr)."""

    def fail(reason: Reason, message: str) -> JobFailure:
        return JobFailure(
            FailureClass.EXECUTION,
            reason,
            f"{clip_label(clip.index)}: {message}",
            clip_index=clip.index,
            stderr_tail=outcome.stderr_tail or None,
        )

    if outcome.succeeded:
        return None
    ending = outcome.ending(timeout_s)
    if outcome.start_error is not None:
        return fail(Reason.ENGINE_START_FAILED, ending)
    if outcome.timed_out:
        return fail(Reason.TIMEOUT, ending)
    problem = staging_problem(staging, after_failure=True)
    if problem is not None:  # the output side failed: name that cause
        return fail(problem[0], f"{problem[1]}; {ending}")
    if outcome.signal_name is not None:
        return fail(Reason.SIGNALED, ending)
    return fail(Reason.NONZERO_EXIT, ending)


def _clip_state(position: int, outcomes: list[ClipOutcome], job_failed: bool) -> ClipState:
    if position >= len(outcomes):
        return ClipState.NOT_RUN
    if outcomes[position].failure is not None:
        return ClipState.FAILED
    return ClipState.DISCARDED if job_failed else ClipState.COMMITTED


def _duration(clip: ClipPlan, outcome: ClipOutcome) -> float | None:
    """First to last frame plus one nominal frame, for a clip that verified."""
    if outcome.output_sha256 is None:
        return None
    expected = clip.expected
    nominal = Fraction(expected.frame_rate) if expected.frame_rate else None
    span = Fraction(expected.last_time) - Fraction(expected.first_time)
    return round(float(span + (1 / nominal if nominal else 0)), 6)


def _clip_result(clip: ClipPlan, outcomes: list[ClipOutcome], job_failed: bool) -> ClipResult:
    outcome = outcomes[clip.index] if clip.index < len(outcomes) else ClipOutcome()
    return ClipResult(
        index=clip.index,
        source=clip.source,
        output=clip.output,
        state=_clip_state(clip.index, outcomes, job_failed),
        argv=list(clip.argv),
        verify_argv=list(clip.verify_argv),
        exit_code=outcome.exit_code,
        checks=list(outcome.checks),
        output_bytes=outcome.output_bytes,
        output_sha256=outcome.output_sha256,
        frame_count=outcome.frame_count,
        duration_s=_duration(clip, outcome),
        expected=clip.expected,
        decisions=clip.decisions,
        cpu_dependent=clip.cpu_dependent,
        look=clip.look,
        burn_ins=clip.burn_ins,
        look_check_argv=None if clip.look_check_argv is None else list(clip.look_check_argv),
    )


def _unplanned_clip(index: int, source: str) -> ClipResult:
    """A source of a job that failed validation: listed, never run."""
    return ClipResult(
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
        expected=None,
        decisions=(),
        cpu_dependent=(),
    )


def _result(
    spec: JobSpec,
    validated: ValidatedJob | None,
    outcomes: list[ClipOutcome],
    failure: JobFailure | None,
    watch: Stopwatch,
) -> ExecutionResult:
    plan: JobPlan | None = validated.plan if validated else None
    try:
        binary: str | None = str(engine_binary(spec.engine))
    except JobFailure:
        binary = None
    clips = (
        [_clip_result(clip, outcomes, failure is not None) for clip in plan.clips]
        if plan
        else [_unplanned_clip(index, source) for index, source in enumerate(spec.sources)]
    )
    return seal(
        ExecutionResult(
            proxx_version=proxx_version(),
            job_id=spec.job_id,
            spec_fingerprint=spec.fingerprint,
            spec=spec,
            profile=plan.profile if plan else None,
            engine=plan.engine if plan else None,
            prober=plan.prober if plan else None,
            status=Status.FAILED if failure else Status.COMPLETED,
            failure=Failure.of(failure) if failure else None,
            clips=clips,
            timing=watch.timing(outcomes),
            host=Host(engine_binary=binary),
            digest="",
        )
    )


def _unparsed_failure(raw: bytes, failure: JobFailure, watch: Stopwatch) -> ExecutionResult:
    """The record of a document that never became a JobSpec: its bytes' fingerprint."""
    return _unplanned_failure(None, sha256_hex(raw), failure, watch)


def _bare_failure(spec: JobSpec, failure: JobFailure, watch: Stopwatch) -> ExecutionResult:
    """The record when the full one could not be made: the JobSpec, the failure, no plan."""
    return _unplanned_failure(spec, spec.fingerprint, failure, watch)


def _unplanned_failure(
    spec: JobSpec | None, fingerprint: str, failure: JobFailure, watch: Stopwatch
) -> ExecutionResult:
    sources = spec.sources if spec else []
    return seal(
        ExecutionResult(
            proxx_version=proxx_version(),
            job_id=spec.job_id if spec else None,
            spec_fingerprint=fingerprint,
            spec=spec,
            profile=None,
            engine=None,
            prober=None,
            status=Status.FAILED,
            failure=Failure.of(failure),
            clips=[_unplanned_clip(index, source) for index, source in enumerate(sources)],
            timing=watch.timing([]),
            host=Host(engine_binary=None),
            digest="",
        )
    )


def _write_beside_outputs(result: ExecutionResult) -> None:
    """Keep the result with the proxies, once: an existing record is never replaced (the same
    refusal twice is the same record)."""
    where = record_path(result)
    if where is None:
        return
    target = Path(where)
    if not target.parent.is_dir() or target.exists():
        return
    try:
        write_result(result, target)
    except (OSError, ValueError) as error:  # the result is still returned
        log.warning("result not written beside the outputs at %s: %s", target, error)
