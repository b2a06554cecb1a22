"""The night's summary, sent once, and an alert for each failed proxx run, sent when it ends.

The summary of a night (night_runs.py: noon to noon) is due once the night is over and every
run launched in it has ended, or at `summary_hour` of its morning (then saying what still runs).
It gives the jobs, their clips, states and reasons, the proxies made, the files of each card
that proxx did not read (camera RAW: with what to use instead), and the night report's address;
it goes to the destinations set (messages.py). The same run queries as the night report read
the runs.

Sent exactly once per night, whoever looks: the `proxx_night_summary` sensor first creates the
night's summary record beside the night report, whole and never over an existing one (a hard
link, atomic on local and network file systems); only the evaluation that created it sends. A
second tick or a second daemon racing the first finds the record and sends nothing. The record
is the one truth: no cursor is kept (a cursor is last-writer-wins, so a slower evaluation could
write an older one back). Should the process die between the record and the sending, the record
says what was claimed and no copy is sent: never twice, and the record shows it.

Each failed proxx run alerts once, when it ends, by a run-failure sensor, with the same claim:
a record per run beside the night report.
"""

from __future__ import annotations

import json
import os
import socket
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from urllib.parse import quote, urljoin
from zoneinfo import ZoneInfo

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from proxx_dagster.names import FAILURE_ALERT_SENSOR, NIGHT_SUMMARY_SENSOR
from proxx_dagster.reports.messages import Message, destinations, one_line, send, shown
from proxx_dagster.reports.night_report import report_folder, write_report
from proxx_dagster.reports.night_runs import (
    ENDED,
    NIGHT_ENDS,
    NightRun,
    UnreadableResult,
    night_of,
    night_run,
    night_runs,
    night_window,
)
from proxx_dagster.settings import ProxxAutomation
from proxx_dagster.watch.cards import Skipped
from proxx_exec import ExecutionResult
from proxx_exec.files import write_new_file
from proxx_exec.naming import failure_alert_path, night_report_path, night_summary_path

SUMMARY_INTERVAL_S = 60
MAX_LINES = 40  # per list; the rest is counted, and the night report has them all
NOT_CONFIGURED = (
    "no summary destination configured (PROXX_SLACK_TOKEN + PROXX_SLACK_CHANNEL, or "
    "PROXX_SMTP_HOST + PROXX_SMTP_FROM + PROXX_SMTP_TO)"
)


def due_night(now: datetime, automation: ProxxAutomation) -> tuple[date, datetime]:
    """The latest night whose summary time has come, and that time: `summary_hour` of the
    night's date, else the night's end."""
    zone = ZoneInfo(automation.timezone)
    hour = NIGHT_ENDS if automation.summary_hour is None else time(automation.summary_hour)
    local = now.astimezone(zone)
    night = local.date() if local.time() >= hour else local.date() - timedelta(days=1)
    return night, datetime.combine(night, hour, tzinfo=zone)


def unfinished_runs(
    instance: DagsterInstance, night: date, timezone: str, job_names: Iterable[str]
) -> list[str]:
    """The night's proxx runs that have not ended."""
    start, end = night_window(night, timezone)
    names = set(job_names)
    records = instance.get_run_records(RunsFilter(created_after=start, created_before=end))
    return sorted(
        r.dagster_run.run_id
        for r in records
        if r.dagster_run.job_name in names and r.dagster_run.status not in ENDED
    )


def report_address(automation: ProxxAutomation, page: Path) -> str:
    """The night report as the team opens it: under report_url, else its path."""
    if automation.report_url:
        base = automation.report_url.rstrip("/") + "/"
        return urljoin(base, quote(page.name))
    return str(page)


def _reason(result: ExecutionResult) -> str:
    failure = result.failure
    if failure is None:
        return ""
    return f"{failure.failure_class.value} {failure.reason.value}: {failure.message}"


class _Lines:
    """One message in two renderings: plain text, and mrkdwn with user text escaped."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.mrkdwn: list[str] = []

    def add(self, template: str, *user: str, bold: bool = False) -> None:
        """`template` with {} for each user text (the template itself is ours)."""
        self.text.append(template.format(*(one_line(u) for u in user)))
        line = template.format(*(shown(u) for u in user))
        self.mrkdwn.append(f"*{line}*" if bold else line)

    def listing(self, items: list[tuple[str, tuple[str, ...]]], what: str) -> None:
        for template, user in items[:MAX_LINES]:
            self.add("• " + template, *user)
        if len(items) > MAX_LINES:
            self.add(f"• and {len(items) - MAX_LINES} more {what}: see the night report")

    def message(self, subject: str) -> Message:
        return Message(subject, "\n".join(self.text) + "\n", "\n".join(self.mrkdwn))


def _failed_items(runs: list[NightRun]) -> list[tuple[str, tuple[str, ...]]]:
    items: list[tuple[str, tuple[str, ...]]] = []
    for run in runs:
        where = f"run {run.run_id[:8]}"
        if not run.results and not run.lost:
            items.append((f"{where}, no job started: {{}}", (run.refusal or run.status,)))
        for result in run.results:
            if isinstance(result, UnreadableResult):
                items.append(
                    (f"{where}, result unreadable: {{}}: {{}}", (result.path, result.problem))
                )
            elif result.failure is not None:
                items.append((f"{{}} ({where}): {{}}", (result.job_id or "?", _reason(result))))
        for lost in run.lost:
            items.append((f"{{}} ({where}): no result: {{}}", (lost.step, lost.why)))
        if run.never_started:
            items.append(
                (
                    f"card {{}} ({where}): {run.never_started} job(s) never started",
                    (run.card or "?",),
                )
            )
    return items


def _not_read_items(runs: list[NightRun]) -> list[tuple[str, tuple[str, ...]]]:
    """Per card, per camera RAW format and for the other files: how many were not read, one
    of them, and why (with what to use instead)."""
    items: list[tuple[str, tuple[str, ...]]] = []
    for run in runs:
        groups: dict[str | None, list[Skipped]] = {}
        for skipped in run.skipped:
            groups.setdefault(skipped.camera_raw, []).append(skipped)
        for raw, files in sorted(groups.items(), key=lambda g: (g[0] is None, g[0] or "")):
            first = files[0]
            what = "camera RAW file(s)" if raw else "other file(s)"
            items.append(
                (
                    f"{{}} (run {run.run_id[:8]}): {len(files)} {what}, e.g. {{}}: {{}}",
                    (run.folder or run.card or "?", first.path, first.reason),
                )
            )
    return items


def _job_items(runs: list[NightRun]) -> list[tuple[str, tuple[str, ...]]]:
    items: list[tuple[str, tuple[str, ...]]] = []
    for run in runs:
        for result in run.results:
            if isinstance(result, ExecutionResult):
                states = Counter(clip.state.value for clip in result.clips)
                clips = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
                items.append(
                    (
                        f"{{}}: {result.status.value}, {len(result.clips)} clip(s) "
                        f"({clips or 'none'})",
                        (result.job_id or "?",),
                    )
                )
    return items


def summary_message(
    night: date,
    *,
    automation: ProxxAutomation,
    runs: list[NightRun],
    report: str,
    still_running: list[str],
    at: datetime,
) -> Message:
    """What the team reads about a night."""
    results = [r for run in runs for r in run.results if isinstance(r, ExecutionResult)]
    completed = [r for r in results if r.completed]
    unreadable = sum(isinstance(r, UnreadableResult) for run in runs for r in run.results)
    started_none = sum(1 for run in runs if not run.results and not run.lost)
    lost = sum(len(run.lost) for run in runs)
    failed = _failed_items(runs)
    not_read_count = sum(len(run.skipped) for run in runs)
    raws = sum(1 for run in runs for s in run.skipped if s.camera_raw)
    lines = _Lines()
    lines.add(f"proxx · night of {night.isoformat()}", bold=True)
    lines.add(
        f"{len(runs)} run(s); {len(results)} job(s): {len(completed)} COMPLETED, "
        f"{len(results) - len(completed)} FAILED; {started_none} run(s) that started no job; "
        + (f"{lost} job(s) that ended without a result; " if lost else "")
        + (f"{unreadable} result(s) unreadable; " if unreadable else "")
        + (
            f"{not_read_count} file(s) of cards not read ({raws} camera RAW); "
            if not_read_count
            else ""
        )
        + f"{sum(len(r.clips) for r in completed)} proxies made"
    )
    if still_running:
        lines.add(
            f"{len(still_running)} run(s) still running at {at:%H:%M} ({automation.timezone})"
        )
    lines.add("Night report: {}", report)
    if failed:
        lines.add("Failed:", bold=True)
        lines.listing(failed, "failures")
    not_read = _not_read_items(runs)
    if not_read:
        lines.add("Not read (proxx cannot read them; what to use instead):", bold=True)
        lines.listing(not_read, "kinds of files")
    jobs = _job_items(runs)
    if jobs:
        lines.add("Jobs:", bold=True)
        lines.listing(jobs, "jobs")
    subject = (
        f"proxx night of {night.isoformat()}: {len(completed)} COMPLETED, "
        f"{len(results) - len(completed)} FAILED, {len(failed)} problem(s)"
    )
    return lines.message(subject)


def alert_message(run: NightRun, report: str) -> Message:
    """What the team reads when a proxx run fails."""
    lines = _Lines()
    heading = f"proxx · run {run.run_id[:8]} FAILED ({run.job_name}"
    if run.card:
        lines.add(heading + ", card {})", run.card, bold=True)
    else:
        lines.add(heading + ")", bold=True)
    lines.listing(_failed_items([run]), "failures")
    if not_read := _not_read_items([run]):
        lines.add("Not read (proxx cannot read them; what to use instead):")
        lines.listing(not_read, "kinds of files")
    done = sum(1 for r in run.results if isinstance(r, ExecutionResult) and r.completed)
    if done:
        lines.add(f"{done} job(s) of the run COMPLETED; their proxies are committed")
    lines.add("Night report: {}", report)
    return lines.message(f"proxx FAILED: run {run.run_id[:8]} ({run.job_name})")


def _claim(path: Path, record: dict[str, object]) -> bool:
    """Create the record; False when it exists (sent, or being sent, by another evaluation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_new_file(path, json.dumps(record, indent=2, ensure_ascii=False))
    except FileExistsError:
        return False
    return True


def _claimed(message: Message, **facts: object) -> dict[str, object]:
    return {
        **facts,
        "claimed_by": f"{socket.gethostname()} pid {os.getpid()}",
        "claimed_at": datetime.now(UTC).isoformat(),
        "subject": message.subject,
        "text": message.text,
    }


def _record_outcome(path: Path, record: dict[str, object], outcomes: list[str]) -> None:
    write_report(path, json.dumps({**record, "outcomes": outcomes}, indent=2, ensure_ascii=False))


def _now() -> datetime:
    return datetime.now(UTC)


def build_night_summary_sensor(
    job_names: Iterable[str],
    automation: ProxxAutomation,
    clock: Callable[[], datetime] = _now,
) -> SensorDefinition:
    """The summary sensor; `clock` tells the time (a test sets it to a night's end)."""
    names = tuple(job_names)

    @sensor(
        name=NIGHT_SUMMARY_SENSOR,
        minimum_interval_seconds=SUMMARY_INTERVAL_S,
        default_status=DefaultSensorStatus.RUNNING,
        description="Once per night, sends the night's summary (jobs, clips, states, reasons, "
        "proxies made, files not read, the night report) to the Slack channel and e-mail "
        "addresses set.",
    )
    def proxx_night_summary(context: SensorEvaluationContext) -> SkipReason:
        if not destinations(automation):
            return SkipReason(NOT_CONFIGURED)
        night, at = due_night(clock(), automation)
        folder = report_folder(automation, context.instance)
        record_path = Path(night_summary_path(str(folder), night.isoformat()))
        sent = SkipReason(
            f"the summary of the night of {night.isoformat()} was sent ({record_path})"
        )
        if record_path.exists():
            return sent
        running = unfinished_runs(context.instance, night, automation.timezone, names)
        if running and automation.summary_hour is None:
            return SkipReason(
                f"the night of {night.isoformat()} is over; its summary waits for "
                f"{len(running)} run(s) still running: {', '.join(running)}"
            )
        page = Path(night_report_path(str(folder), night.isoformat()))
        runs = night_runs(context.instance, night, automation.timezone, names)
        message = summary_message(
            night,
            automation=automation,
            runs=runs,
            report=report_address(automation, page),
            still_running=running,
            at=at,
        )
        record = _claimed(message, night=night.isoformat())
        try:
            if not _claim(record_path, record):
                return sent
        except OSError as error:
            return SkipReason(
                f"the summary of the night of {night.isoformat()} was not sent: its record "
                f"{record_path} cannot be written ({error.strerror or error})"
            )
        outcomes = send(automation, message, f"proxx-night-{night.isoformat()}")
        _record_outcome(record_path, record, outcomes)
        return SkipReason(f"summary of the night of {night.isoformat()}: " + "; ".join(outcomes))

    return proxx_night_summary


def build_failure_alert_sensor(
    job_names: Iterable[str], automation: ProxxAutomation
) -> SensorDefinition:
    names = tuple(job_names)

    # Every code location is watched (a run executed by a command belongs to none); the job's
    # name picks the proxx runs, as for the batch outcome.
    @run_failure_sensor(
        name=FAILURE_ALERT_SENSOR,
        monitor_all_code_locations=True,
        default_status=DefaultSensorStatus.RUNNING,
        description="Sends an alert for each failed proxx run as it ends (its FAILED jobs and "
        "reasons) to the Slack channel and e-mail addresses set.",
    )
    def proxx_failure_alert(context: RunFailureSensorContext) -> None:
        # Never a SkipReason: Dagster's run status sensor stops its look at the first one.
        run = context.dagster_run
        if run.job_name not in names or not destinations(automation):
            return
        record = context.instance.get_run_record_by_id(run.run_id)
        if record is None or record.dagster_run.status is not DagsterRunStatus.FAILURE:
            return
        failed = night_run(context.instance, record, automation.timezone)
        night = night_of(record.create_timestamp, automation.timezone)
        folder = report_folder(automation, context.instance)
        page = Path(night_report_path(str(folder), night.isoformat()))
        message = alert_message(failed, report_address(automation, page))
        path = Path(failure_alert_path(str(folder), night.isoformat(), run.run_id))
        claim = _claimed(message, run_id=run.run_id)
        if not _claim(path, claim):
            return
        outcomes = send(automation, message, f"proxx-alert-{run.run_id}")
        _record_outcome(path, claim, outcomes)
        context.log.info(f"alert for run {run.run_id}: " + "; ".join(outcomes))

    return proxx_failure_alert
