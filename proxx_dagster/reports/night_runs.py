"""The runs of a night, read from the instance: a night is named by the date it ends on (the
night of 2026-11-29 holds the proxx runs launched from 12:00 on 2026-11-28 to 12:00 on
2026-11-29, in the automation's time zone); each run with its ExecutionResults (the step
outputs' stored JSON), the jobs that ended without one, and a refusal."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from dagster import (
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunRecord,
    RunsFilter,
)
from pydantic import TypeAdapter, ValidationError

from proxx_dagster.names import (
    CARD_TAG,
    FINISH_OP,
    FOLDER_OP,
    JOB_ID_TAG,
    PARTS_TAG,
    PLAN_OP,
    TRIGGER_TAG,
)
from proxx_dagster.reports.batch_outcome import NO_RESULT, failure_text, step_failure_says
from proxx_dagster.translator import FOLDER_KEY, RESULT_PATH_KEY, SKIPPED_FILES_KEY
from proxx_dagster.watch.cards import Skipped
from proxx_exec import ExecutionResult
from proxx_exec.refusals import describe
from proxx_exec.result import read_result_document

NONE = "-"  # an empty cell
NIGHT_ENDS = time(12, 0)  # a night runs from noon to noon


ENDED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
_SKIPPED_LIST = TypeAdapter(tuple[Skipped, ...])


def night_of(moment: datetime, timezone: str) -> date:
    """The night a moment belongs to: the date it ends on."""
    local = moment.astimezone(ZoneInfo(timezone))
    return local.date() if local.time() < NIGHT_ENDS else local.date() + timedelta(days=1)


def night_window(night: date, timezone: str) -> tuple[datetime, datetime]:
    end = datetime.combine(night, NIGHT_ENDS, tzinfo=ZoneInfo(timezone))
    return end - timedelta(days=1), end


@dataclass(frozen=True)
class LostJob:
    """A JobSpec step that started and ended without a result (its worker was lost, or it
    raised): a job may have begun, so it is listed, never taken for a refusal."""

    step: str  # the step's mapping key in a batch, else the run's job id (or NONE)
    why: str


@dataclass(frozen=True)
class NightRun:
    """One run of the night: its results, the jobs that ended without one, or why it started
    no job."""

    run_id: str
    job_name: str
    trigger: str
    launched: datetime
    status: str
    results: tuple[ExecutionResult | UnreadableResult, ...]
    refusal: str | None
    lost: tuple[LostJob, ...] = ()
    card: str | None = None  # a folder run's card id
    parts: int = 0  # how many jobs the card was cut into (0: not a card run, or not planned)
    skipped: tuple[Skipped, ...] = ()  # files of the card the run did not read, and why
    folder: str | None = None  # the card folder, when the run read one

    @property
    def never_started(self) -> int:
        """Jobs of the card that the run ended before starting (none when the run refused the
        card before it was cut: its row says why, and no job was due)."""
        if self.refusal is not None:
            return 0
        return max(0, self.parts - len(self.results) - len(self.lost))


@dataclass(frozen=True)
class UnreadableResult:
    """A result the run stored that cannot be read now: where, and what is wrong with it."""

    path: str
    problem: str


def read_stored_result(path: Path) -> ExecutionResult | UnreadableResult:
    """The result a step stored, or what is wrong with its file, in plain words."""
    try:
        document = read_result_document(path)
    except ValueError as error:  # missing, unreadable, not JSON: said in plain words
        return UnreadableResult(str(path), str(error))
    try:
        return ExecutionResult.from_json(path.read_bytes())
    except ValidationError as error:
        lines = describe(error, ExecutionResult, document).replace("\n", "; ")
        return UnreadableResult(str(path), f"not a proxx ExecutionResult ({lines})")
    except OSError as error:  # removed between the two reads
        return UnreadableResult(str(path), f"cannot be read: {error.strerror or error}")


def _results(
    instance: DagsterInstance, run_id: str
) -> dict[str, ExecutionResult | UnreadableResult]:
    """The stored results by step key."""
    found = {}
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.HANDLED_OUTPUT)
    for record in records.records:
        event = record.event_log_entry.dagster_event
        data = event.event_specific_data if event else None
        metadata = getattr(data, "metadata", None) or {}
        if RESULT_PATH_KEY in metadata:
            path = Path(str(metadata[RESULT_PATH_KEY].value))
            found[str(record.event_log_entry.step_key)] = read_stored_result(path)
    return found


def _lost(
    instance: DagsterInstance, run: DagsterRun, with_result: Iterable[str]
) -> tuple[LostJob, ...]:
    """JobSpec steps that started and have no result: never ended (the worker died), or
    failed with an error rather than with a proxx refusal."""
    started: list[str] = []
    ended: dict[str, DagsterEvent | None] = {}
    for event_type in (DagsterEventType.STEP_START, DagsterEventType.STEP_FAILURE):
        for record in instance.get_records_for_run(run.run_id, of_type=event_type).records:
            step = str(record.event_log_entry.step_key)
            if event_type is DagsterEventType.STEP_START:
                started.append(step)
            else:
                ended[step] = record.event_log_entry.dagster_event
    lost = []
    for step in started:
        failure = ended.get(step)
        data = failure.step_failure_data if failure else None
        refused = data is not None and data.user_failure_data is not None
        if step.startswith((PLAN_OP, FOLDER_OP, FINISH_OP)) or step in with_result or refused:
            continue
        name = step.partition("[")[2].removesuffix("]") or run.tags.get(JOB_ID_TAG, NONE)
        lost.append(LostJob(name, failure_text(failure) if failure else NO_RESULT))
    return tuple(lost)


def _refusal(instance: DagsterInstance, run_id: str) -> str | None:
    """What a run that ended without a result said: its step failure's description."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_FAILURE)
    for record in records.records:
        says = step_failure_says(record.event_log_entry.dagster_event)
        if says is not None:
            return says
    return None


def night_runs(
    instance: DagsterInstance, night: date, timezone: str, job_names: Iterable[str]
) -> list[NightRun]:
    """The ended proxx runs launched during the night, oldest first."""
    start, end = night_window(night, timezone)
    names = set(job_names)
    records = instance.get_run_records(
        RunsFilter(statuses=ENDED, created_after=start, created_before=end),
        order_by="create_timestamp",
        ascending=True,
    )
    return [night_run(instance, r, timezone) for r in records if r.dagster_run.job_name in names]


def night_run(instance: DagsterInstance, record: RunRecord, timezone: str) -> NightRun:
    """One ended run as the night sees it, from its own events."""
    run = record.dagster_run
    results = _results(instance, run.run_id)
    lost = _lost(instance, run, results) if run.status is not DagsterRunStatus.SUCCESS else ()
    folder, skipped = skipped_files(instance, run.run_id)
    return NightRun(
        run_id=run.run_id,
        job_name=run.job_name,
        trigger=run.tags.get(TRIGGER_TAG, "launched by hand"),
        launched=record.create_timestamp.astimezone(ZoneInfo(timezone)),
        status=run.status.value,
        results=tuple(results.values()),
        refusal=None if results or lost else _refusal(instance, run.run_id),
        lost=lost,
        card=run.tags.get(CARD_TAG),
        # a tag anyone may set: a non-number must not stop every night's report
        parts=int(p) if (p := run.tags.get(PARTS_TAG, "")).isdecimal() else 0,
        skipped=skipped,
        folder=folder,
    )


def skipped_files(instance: DagsterInstance, run_id: str) -> tuple[str | None, tuple[Skipped, ...]]:
    """The card folder the run read and the files of it that the run said it did not read
    (folder_job.report_skipped)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT)
    for record in records.records:
        event = record.event_log_entry.dagster_event
        metadata = event.engine_event_data.metadata if event and event.engine_event_data else {}
        if SKIPPED_FILES_KEY in metadata:
            folder = str(metadata[FOLDER_KEY].value) if FOLDER_KEY in metadata else None
            try:
                return folder, _SKIPPED_LIST.validate_python(metadata[SKIPPED_FILES_KEY].value)
            except ValidationError:
                return folder, (Skipped(NONE, f"the run's {SKIPPED_FILES_KEY} cannot be read"),)
    return None, ()
