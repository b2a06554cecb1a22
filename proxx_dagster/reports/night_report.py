"""The night report's sensor: whenever a proxx run ends, it rewrites that night's page (made by
`night_html` from the runs `night_runs` reads) and writes into the run an engine event naming
the page. The page is a view of results; it is replaced whole, the results never are."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    DagsterInstance,
    DefaultSensorStatus,
    MetadataValue,
    RunRecord,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)
from pydantic import BaseModel, ConfigDict, ValidationError

from proxx_dagster.dagster_internals import EngineEventData
from proxx_dagster.names import (
    NIGHT_REPORT_SENSOR,
)
from proxx_dagster.reports.night_html import night_report_html
from proxx_dagster.reports.night_runs import ENDED, night_of, night_runs
from proxx_dagster.settings import ProxxAutomation
from proxx_dagster.translator import NIGHT_REPORT_KEY
from proxx_exec.files import replace_file
from proxx_exec.naming import night_report_path

REPORT_INTERVAL_S = 30


DEFAULT_REPORT_FOLDER = "proxx-night-reports"  # under DAGSTER_HOME when nothing else is set


# A run's end is stamped with the time its event was made, which may be stored later (another
# process, a slow database, a host whose clock is behind): each look goes this far back before
# the last end it saw, and skips the runs it already saw there.
LATE_WRITE_MARGIN_S = 300


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


def report_folder(automation: ProxxAutomation, instance: DagsterInstance) -> Path:
    """Where night reports go: report_folder, else proxy_root, else under DAGSTER_HOME."""
    chosen = automation.report_folder or automation.proxy_root
    return Path(chosen) if chosen else Path(instance.root_directory) / DEFAULT_REPORT_FOLDER


def write_report(path: Path, html: str) -> None:
    """Replace the page whole (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, html)


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
