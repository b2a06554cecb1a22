"""The night report: one HTML page of a night's proxx runs, kept up to date by a sensor and linked
from each run.

A night is named by the date it ends on: the night of 2026-11-29 holds the proxx runs launched
from 12:00 on 2026-11-28 to 12:00 on 2026-11-29, in the automation's time zone (so the 02:00
schedule tick, the cards copied in the evening and those settling after midnight are one night).
Whenever a proxx run ends, the `proxx_night_report` sensor rewrites its night's page from the
runs' own ExecutionResults (the step outputs' stored JSON) and writes into the run an engine
event naming the page. The page is a view of results; it is replaced, the results never are.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from dagster import (
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    MetadataValue,
    RunRecord,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from proxx_dagster.batch_outcome import NO_RESULT, failure_text
from proxx_dagster.cards import Skipped
from proxx_dagster.dagster_internals import EngineEventData
from proxx_dagster.folder_spec import part_number
from proxx_dagster.names import (
    CARD_TAG,
    FINISH_OP,
    FOLDER_OP,
    JOB_ID_TAG,
    NIGHT_REPORT_SENSOR,
    PARTS_TAG,
    PLAN_OP,
    TRIGGER_TAG,
)
from proxx_dagster.resources import ProxxAutomation
from proxx_dagster.translator import (
    FOLDER_KEY,
    NIGHT_REPORT_KEY,
    RESULT_PATH_KEY,
    SKIPPED_FILES_KEY,
)
from proxx_exec import ExecutionResult
from proxx_exec.display import html_text
from proxx_exec.naming import contact_sheet_path, night_report_path, poster_path
from proxx_exec.refusals import describe
from proxx_exec.result import ClipResult, ClipState, read_result_document
from proxx_exec.sheets import link, page

NIGHT_ENDS = time(12, 0)  # a night runs from noon to noon
REPORT_INTERVAL_S = 30
DEFAULT_REPORT_FOLDER = "proxx-night-reports"  # under DAGSTER_HOME when nothing else is set
ENDED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
NONE = "-"  # an empty cell
NO_RESULT_STATUS = "no result"  # the status cell of a job that ended without a result
# A run's end is stamped with the time its event was made, which may be stored later (another
# process, a slow database, a host whose clock is behind): each look goes this far back before
# the last end it saw, and skips the runs it already saw there.
LATE_WRITE_MARGIN_S = 300
_SKIPPED_LIST = TypeAdapter(tuple[Skipped, ...])
RUNS_PER_LOOK = 200  # new ended runs read per look; the rest are read by the next look


class _Cursor(BaseModel):
    """Where the night report sensor stopped: the latest run end it saw, and the runs it saw
    that ended within LATE_WRITE_MARGIN_S before it."""

    model_config = ConfigDict(extra="forbid")

    after: float = 0.0
    seen: list[str] = []


def _read_cursor(text: str | None) -> _Cursor:
    """The stored cursor; an unreadable or older-format one (a bare timestamp) reads as empty,
    so the next look rewrites every night with an ended run (pages are views: harmless)."""
    try:
        return _Cursor.model_validate_json(text or "{}")
    except ValidationError:
        return _Cursor()


def night_of(moment: datetime, timezone: str) -> date:
    """The night a moment belongs to: the date it ends on."""
    local = moment.astimezone(ZoneInfo(timezone))
    return local.date() if local.time() < NIGHT_ENDS else local.date() + timedelta(days=1)


def night_window(night: date, timezone: str) -> tuple[datetime, datetime]:
    end = datetime.combine(night, NIGHT_ENDS, tzinfo=ZoneInfo(timezone))
    return end - timedelta(days=1), end


def report_folder(automation: ProxxAutomation, instance: DagsterInstance) -> Path:
    """Where night reports go: report_folder, else proxy_root, else under DAGSTER_HOME."""
    chosen = automation.report_folder or automation.proxy_root
    return Path(chosen) if chosen else Path(instance.root_directory) / DEFAULT_REPORT_FOLDER


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


def _refusal(instance: DagsterInstance, run_id: str) -> str | None:
    """What a run that ended without a result said: its step failure's description."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_FAILURE)
    for record in records.records:
        event = record.event_log_entry.dagster_event
        data = event.step_failure_data if event else None
        if data is not None and data.user_failure_data and data.user_failure_data.description:
            return data.user_failure_data.description
        if data is not None and data.error is not None:
            return data.error.message.strip().splitlines()[0]
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


def _seconds(value: float | None) -> str:
    return NONE if value is None else f"{value:.1f} s"


def _thumbnail(page_path: str, result: ExecutionResult, clip: ClipResult) -> str:
    if result.spec is None or clip.output is None or clip.state is not ClipState.COMMITTED:
        return ""
    poster = poster_path(result.spec.output_dir, result.spec.job_id, clip.index, clip.output)
    if not Path(poster).is_file():
        return "no poster"
    alt = html_text(PurePosixPath(clip.source).name)
    return f'<img src="{link(page_path, poster)}" alt="{alt}" loading="lazy">'


def _clip_rows(page_path: str, result: ExecutionResult) -> str:
    work = {t.index: t.encode_s + t.verify_s for t in result.timing.clips}
    rows = []
    for clip in result.clips:
        proxy = PurePosixPath(clip.output).name if clip.output else NONE
        rows.append(
            f"<tr><td>{clip.index + 1}</td><td>{html_text(PurePosixPath(clip.source).name)}</td>"
            f"<td>{html_text(proxy)}</td><td>{html_text(clip.state.value)}</td>"
            f"<td>{_seconds(clip.duration_s)}</td><td>{_seconds(work.get(clip.index))}</td>"
            f"<td>{_thumbnail(page_path, result, clip)}</td></tr>"
        )
    return "\n".join(rows)


def _sheet_link(page_path: str, folder: str, name: str) -> str:
    sheet = contact_sheet_path(folder, name)
    return (
        f' · <a href="{link(page_path, sheet)}">contact sheet</a>' if Path(sheet).is_file() else ""
    )


def _job_section(
    page_path: str, run: NightRun, result: ExecutionResult, heading: str = "h2"
) -> str:
    failure = result.failure
    why = (
        f'<p class="problem">{html_text(failure.failure_class.value)} '
        f"{html_text(failure.reason.value)}: {html_text(failure.message)}</p>"
        if failure
        else ""
    )
    folder = result.spec.output_dir if result.spec else NONE
    # a part of a card has no sheet of its own: the card's section links the card's
    sheet_link = _sheet_link(page_path, folder, result.spec.job_id) if result.spec else ""
    return (
        f"<{heading}>{html_text(result.job_id or 'unreadable JobSpec')} · "
        f'<span class="{html_text(result.status.value)}">'
        f"{html_text(result.status.value)}</span></{heading}>\n"
        f'<p class="facts">run {html_text(run.run_id)} · {html_text(folder)} · '
        f"{_seconds(result.timing.duration_s)}{sheet_link}</p>\n{why}\n"
        "<table><tr><th>#</th><th>clip</th><th>proxy</th><th>state</th><th>length</th>"
        "<th>encode + verify</th><th>poster</th></tr>\n"
        f"{_clip_rows(page_path, result)}\n</table>"
    )


def _card_section(page_path: str, run: NightRun) -> str:
    """One section for a card cut into several jobs: the card, then each job it ran."""
    results = sorted(
        (r for r in run.results if isinstance(r, ExecutionResult)),
        key=lambda r: part_number(r.job_id or ""),
    )
    folder = next((r.spec.output_dir for r in results if r.spec), NONE)
    completed = sum(1 for r in results if r.completed)
    status = "COMPLETED" if completed == run.parts else "FAILED"
    problems = [
        f"{run.never_started} job(s) of this card never started" if run.never_started else "",
        f"{len(run.lost)} job(s) ended without a result" if run.lost else "",
        f"{len(results) - completed} job(s) FAILED" if completed < len(results) else "",
    ]
    why = "".join(f'<p class="problem">{html_text(p)}</p>' for p in problems if p)
    card = run.card or NONE
    parts = "\n".join(_job_section(page_path, run, r, "h3") for r in results)
    return (
        f'<h2>card {html_text(card)} · <span class="{status}">{status}</span></h2>\n'
        f'<p class="facts">run {html_text(run.run_id)} · {html_text(folder)} · '
        f"{run.parts} jobs, {completed} COMPLETED{_sheet_link(page_path, folder, card)}</p>\n"
        f"{why}\n{parts}"
    )


def _skipped_section(run: NightRun) -> str:
    """The files of a run's card that it did not read: each with why, and what to use instead."""
    raws = sum(1 for s in run.skipped if s.camera_raw)
    rows = "\n".join(
        f"<tr><td>{html_text(s.path)}</td><td>{html_text(s.reason)}</td></tr>" for s in run.skipped
    )
    return (
        f"<h3>{html_text(run.folder or NONE)} · {len(run.skipped)} file(s) not read, "
        f"{raws} of them camera RAW</h3>\n"
        f'<p class="facts">run {html_text(run.run_id)}</p>\n'
        "<table><tr><th>file</th><th>why, and what to use instead</th></tr>\n"
        f"{rows}\n</table>"
    )


def _run_cells(run: NightRun) -> str:
    return (
        f"<td>{html_text(run.run_id[:8])}</td><td>{html_text(run.job_name)}</td>"
        f"<td>{html_text(run.trigger)}</td>"
        f"<td>{html_text(f'{run.launched:%Y-%m-%d %H:%M:%S}')}</td>"
    )


def _job_row(run: NightRun, result: ExecutionResult | UnreadableResult | None) -> str:
    if result is None:
        return (
            f"<tr><td>{NONE}</td>{_run_cells(run)}"
            f'<td class="FAILED">no job started</td><td>{html_text(run.refusal or run.status)}'
            f"</td><td>{NONE}</td><td>0</td></tr>"
        )
    if isinstance(result, UnreadableResult):
        why = f"{result.path}: {result.problem} (the run ended {run.status})"
        return (
            f"<tr><td>{NONE}</td>{_run_cells(run)}"
            f'<td class="FAILED">result unreadable</td><td>{html_text(why)}</td>'
            f"<td>{NONE}</td><td>{NONE}</td></tr>"
        )
    reason = (
        f"{result.failure.failure_class.value} {result.failure.reason.value}"
        if (result.failure)
        else ""
    )
    return (
        f"<tr><td>{html_text(result.job_id or NONE)}</td>{_run_cells(run)}"
        f'<td class="{html_text(result.status.value)}">{html_text(result.status.value)}</td>'
        f"<td>{html_text(reason)}</td><td>{_seconds(result.timing.duration_s)}</td>"
        f"<td>{len(result.clips)}</td></tr>"
    )


def _lost_row(run: NightRun, lost: LostJob) -> str:
    return (
        f"<tr><td>{html_text(lost.step)}</td>{_run_cells(run)}"
        f'<td class="FAILED">{NO_RESULT_STATUS}</td><td>{html_text(lost.why)}</td>'
        f"<td>{NONE}</td><td>{NONE}</td></tr>"
    )


def _pairs(
    runs: list[NightRun],
) -> Iterator[tuple[NightRun, ExecutionResult | UnreadableResult | None]]:
    for run in runs:
        if not run.results and not run.lost:
            yield run, None
        for result in run.results:
            yield run, result


def night_report_html(night: date, timezone: str, runs: list[NightRun], page_path: str) -> str:
    start, end = night_window(night, timezone)
    pairs = list(_pairs(runs))
    results = [result for _, result in pairs if isinstance(result, ExecutionResult)]
    unreadable = sum(1 for _, result in pairs if isinstance(result, UnreadableResult))
    completed = sum(1 for result in results if result.completed)
    lost = sum(len(run.lost) for run in runs)
    never = sum(run.never_started for run in runs)
    not_read = sum(len(run.skipped) for run in runs)
    raws = sum(1 for run in runs for s in run.skipped if s.camera_raw)
    summary = (
        f"{len(results)} job(s): {completed} COMPLETED, {len(results) - completed} FAILED; "
        f"{sum(1 for _, result in pairs if result is None)} run(s) that started no job; "
        + (f"{lost} job(s) that ended without a result; " if lost else "")
        + (f"{never} job(s) of cards that never started; " if never else "")
        + (f"{unreadable} result(s) unreadable; " if unreadable else "")
        + (f"{not_read} file(s) of cards not read ({raws} camera RAW); " if not_read else "")
        + f"{sum(len(r.clips) for r in results if r.completed)} proxies made"
    )
    jobs = "\n".join(
        [_job_row(run, result) for run, result in pairs]
        + [_lost_row(run, lost) for run in runs for lost in run.lost]
    )
    sections = "\n".join(
        (
            _card_section(page_path, run)
            if run.parts > 1 and run.refusal is None
            else "\n".join(
                _job_section(page_path, run, r)
                for r in run.results
                if isinstance(r, ExecutionResult)
            )
        )
        + (_skipped_section(run) if run.skipped else "")
        for run in runs
    )
    body = (
        f"<h1>proxx · night of {night.isoformat()}</h1>\n"
        f'<p class="facts">runs launched from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} '
        f"({html_text(timezone)}) · {html_text(summary)}</p>\n"
        "<table><tr><th>job</th><th>run</th><th>Dagster job</th><th>trigger</th>"
        "<th>launched</th><th>status</th><th>reason</th><th>duration</th><th>clips</th></tr>\n"
        f"{jobs}\n</table>\n{sections}"
    )
    return page(f"proxx night of {night.isoformat()}", body)


def write_report(path: Path, html: str) -> None:
    """Replace the page whole (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(html)
        Path(temp).chmod(0o644)
        Path(temp).replace(path)
    finally:
        Path(temp).unlink(missing_ok=True)


def build_night_report_sensor(
    job_names: Iterable[str], automation: ProxxAutomation
) -> SensorDefinition:
    names = tuple(job_names)

    @sensor(
        name=NIGHT_REPORT_SENSOR,
        minimum_interval_seconds=REPORT_INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        description="Whenever a proxx run ends, rewrites the HTML report of its night (jobs, "
        "clips, status, reason codes, durations, posters) and links it from the run.",
    )
    def proxx_night_report(context: SensorEvaluationContext) -> SkipReason:
        cursor = _read_cursor(context.cursor)
        look_from = datetime.fromtimestamp(max(cursor.after - LATE_WRITE_MARGIN_S, 0), UTC)
        seen = set(cursor.seen)
        read = context.instance.get_run_records(
            RunsFilter(statuses=ENDED, updated_after=look_from),
            order_by="update_timestamp",
            ascending=True,
            limit=RUNS_PER_LOOK + len(seen),
        )
        # Every run read moves the cursor, other jobs' runs too, or a long stretch of them
        # would fill each look and hide the proxx runs behind it.
        after = max([cursor.after, *(r.update_timestamp.timestamp() for r in read)])
        recent = {
            r.dagster_run.run_id
            for r in read
            if r.update_timestamp.timestamp() > after - LATE_WRITE_MARGIN_S
        }
        if len(read) == RUNS_PER_LOOK + len(seen):  # cut short: seen runs past the cut stay
            recent |= seen
        moved = _Cursor(after=after, seen=sorted(recent)).model_dump_json()
        ended: list[RunRecord] = [
            record
            for record in read
            if record.dagster_run.job_name in names and record.dagster_run.run_id not in seen
        ]
        if not ended:
            context.update_cursor(moved)
            return SkipReason("no proxx run ended since the last look")
        folder = report_folder(automation, context.instance)
        nights = {night_of(r.create_timestamp, automation.timezone) for r in ended}
        pages = {}
        for night in sorted(nights):
            path = Path(night_report_path(str(folder), night.isoformat()))
            runs = night_runs(context.instance, night, automation.timezone, names)
            try:
                write_report(path, night_report_html(night, automation.timezone, runs, str(path)))
            except OSError as error:  # the next look tries again; no run is affected
                return SkipReason(f"night report {path} not written: {error.strerror or error}")
            pages[night] = path
        for record in ended:
            path = pages[night_of(record.create_timestamp, automation.timezone)]
            context.instance.report_engine_event(
                f"night report: {path}",
                record.dagster_run,
                EngineEventData(metadata={NIGHT_REPORT_KEY: MetadataValue.path(str(path))}),
            )
        context.update_cursor(moved)
        return SkipReason(
            f"{len(ended)} ended run(s); wrote " + ", ".join(str(p) for p in pages.values())
        )

    return proxx_night_report
