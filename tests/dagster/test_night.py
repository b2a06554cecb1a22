"""The night report: which runs make a night, the page written from their results (escaped, with
posters), and the link the sensor writes into each run."""

from __future__ import annotations

import html
import logging
import re
import shutil
import time
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from dagster import (
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    EventLogEntry,
    build_sensor_context,
    in_process_executor,
    job,
)

from proxx_dagster.definitions import defs, proxx_job
from proxx_dagster.jobs.ops import build_execute_jobspec_op
from proxx_dagster.names import (
    FOLDER_JOB,
    FOLDER_OP,
    NIGHT_REPORT_SENSOR,
    PARTS_TAG,
    RESULT_IO_MANAGER_KEY,
)
from proxx_dagster.no_retry import NO_RETRY_EXECUTOR_CONFIG, NO_RETRY_TAGS
from proxx_dagster.reports.night_html import NO_RESULT_STATUS
from proxx_dagster.reports.night_report import build_night_report_sensor, report_folder
from proxx_dagster.reports.night_runs import night_of, night_runs, night_window
from proxx_dagster.result_io import ExecutionResultIOManager
from proxx_dagster.settings import ProxxAutomation
from tests.dagster.helpers import events, run_config, spec_fields
from tests.helpers import Media


def test_a_night_runs_from_noon_to_noon_in_the_automation_time_zone() -> None:
    berlin = "Europe/Berlin"  # UTC+1 in November
    assert night_of(datetime(2026, 11, 28, 10, 59, tzinfo=UTC), berlin) == date(2026, 11, 28)
    assert night_of(datetime(2026, 11, 28, 11, 0, tzinfo=UTC), berlin) == date(2026, 11, 29)
    assert night_of(datetime(2026, 11, 29, 1, 0, tzinfo=UTC), berlin) == date(2026, 11, 29)
    start, end = night_window(date(2026, 11, 29), berlin)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-11-28T12:00:00+01:00",
        "2026-11-29T12:00:00+01:00",
    )


def test_where_the_night_reports_go(instance: DagsterInstance, tmp_path: Path) -> None:
    home = Path(instance.root_directory)
    assert report_folder(ProxxAutomation(), instance) == home / "proxx-night-reports"
    proxies = ProxxAutomation(proxy_root=str(tmp_path / "proxies"))
    assert report_folder(proxies, instance) == tmp_path / "proxies"
    chosen = ProxxAutomation(proxy_root=str(tmp_path / "p"), report_folder=str(tmp_path / "r"))
    assert report_folder(chosen, instance) == tmp_path / "r"
    with pytest.raises(
        ValueError, match='report_folder\n  Value error, "reports" is a relative path'
    ):
        ProxxAutomation(report_folder="reports")


def test_the_sensor_writes_the_night_and_links_it_from_each_run(
    instance: DagsterInstance, media: Media, tmp_path: Path
) -> None:
    hostile = tmp_path / "clips" / "<b>bold<i> & 'A001'.mov"
    hostile.parent.mkdir()
    shutil.copyfile(media.standard, hostile)
    done = tmp_path / "done"
    done.mkdir()
    completed = proxx_job.execute_in_process(
        run_config=run_config(spec_fields(media, done, "night-ok", sources=[str(hostile)])),
        instance=instance,
    )
    failed = proxx_job.execute_in_process(
        run_config=run_config(spec_fields(media, tmp_path, "night-bad", sources=["/none.mov"])),
        instance=instance,
        raise_on_error=False,
    )
    refused = defs.resolve_job_def(FOLDER_JOB).execute_in_process(
        run_config={
            "ops": {FOLDER_OP: {"config": {"folder": "", "profile": "h264_half", "proxy_root": ""}}}
        },
        instance=instance,
        raise_on_error=False,
    )
    assert completed.success and not failed.success and not refused.success
    reports = tmp_path / "reports"
    sensor = build_night_report_sensor(
        ("proxx_job", FOLDER_JOB), ProxxAutomation(report_folder=str(reports))
    )
    assert sensor.name == NIGHT_REPORT_SENSOR
    context = build_sensor_context(instance=instance)
    sensor(context)
    night = night_of(datetime.now(UTC), "UTC").isoformat()
    page_path = reports / f"proxx-night-{night}.html"
    page = page_path.read_text()
    assert "1 COMPLETED, 1 FAILED; 1 run(s) that started no job; 1 proxies made" in page
    assert html.escape("<b>bold<i> & 'A001'.mov", quote=True) in page and "<b>bold" not in page
    assert "VALIDATION SOURCE_MISSING" in page
    assert "No job was started: folder is empty" in page
    [thumbnail] = [part.split('"')[0] for part in page.split('<img src="')[1:]]
    poster = (page_path.parent / unquote(html.unescape(thumbnail))).resolve()
    assert poster.parent == done / "night-ok.proxx-posters" and poster.is_file()
    for outcome in (completed, failed, refused):
        [link] = [
            e
            for e in events(instance, outcome.run_id, DagsterEventType.ENGINE_EVENT)
            if e.get_dagster_event().message == f"night report: {page_path}"
        ]
        metadata = link.get_dagster_event().engine_event_data.metadata
        assert metadata["proxx/night_report"].value == str(page_path)
    # Nothing ended since: nothing is rewritten or linked again.
    modified = page_path.stat().st_mtime_ns
    again = build_sensor_context(instance=instance, cursor=context.cursor)
    assert "no proxx run ended" in str(sensor(again))
    assert page_path.stat().st_mtime_ns == modified


def test_a_job_that_ended_without_a_result_is_not_called_unstarted(
    instance: DagsterInstance, media: Media, tmp_path: Path
) -> None:
    """The job ran (its result is beside its proxy), but its step ended without handing the
    result on: the page says so, never "no job started"."""
    blocked = tmp_path / "results-folder"
    blocked.write_text("a file where the result store's folder should be")
    execute_jobspec = build_execute_jobspec_op()

    @job(
        name="night_lost_result",
        tags=dict(NO_RETRY_TAGS),
        executor_def=in_process_executor.configured(dict(NO_RETRY_EXECUTOR_CONFIG)),
        resource_defs={RESULT_IO_MANAGER_KEY: ExecutionResultIOManager(base_dir=str(blocked))},
    )
    def night_lost_result() -> None:
        execute_jobspec()

    out = tmp_path / "out"
    out.mkdir()
    lost = night_lost_result.execute_in_process(
        run_config=run_config(spec_fields(media, out, "night-lost")),
        instance=instance,
        raise_on_error=False,
    )
    assert not lost.success and (out / "night-lost.proxx-result.json").is_file()
    reports = tmp_path / "reports"
    sensor = build_night_report_sensor(
        ("night_lost_result",), ProxxAutomation(report_folder=str(reports))
    )
    sensor(build_sensor_context(instance=instance))
    night = night_of(datetime.now(UTC), "UTC").isoformat()
    page = (reports / f"proxx-night-{night}.html").read_text()
    assert "0 run(s) that started no job; 1 job(s) that ended without a result; " in page
    [why] = re.findall(f'<td class="FAILED">{NO_RESULT_STATUS}</td><td>([^<]*)</td>', page)
    assert "Error occurred while handling output" in why
    assert "no job started" not in page


def test_a_run_whose_stored_result_cannot_be_read_is_shown_with_the_reason(
    instance: DagsterInstance, media: Media, tmp_path: Path
) -> None:
    """A result file the page cannot read (edited, truncated, deleted since) is never dropped:
    the run is listed with the file and what is wrong with it, not as "no job started"."""
    stored: dict[str, tuple[str, Path]] = {}
    for job_id in ("truncated", "edited", "deleted"):
        out_dir = tmp_path / job_id
        out_dir.mkdir()
        outcome = proxx_job.execute_in_process(
            run_config=run_config(spec_fields(media, out_dir, job_id)), instance=instance
        )
        [output] = events(instance, outcome.run_id, DagsterEventType.HANDLED_OUTPUT)
        data = output.get_dagster_event().event_specific_data
        path = Path(str(getattr(data, "metadata", {})["proxx/result_path"].value))
        if job_id == "truncated":
            path.write_bytes(path.read_bytes()[:40])
        elif job_id == "edited":
            path.write_text('{"status": "PARTIAL"}')
        else:
            path.unlink()
        stored[job_id] = (outcome.run_id, path)
    reports = tmp_path / "reports"
    sensor = build_night_report_sensor(("proxx_job",), ProxxAutomation(report_folder=str(reports)))
    sensor(build_sensor_context(instance=instance))
    night = night_of(datetime.now(UTC), "UTC").isoformat()
    page = html.unescape((reports / f"proxx-night-{night}.html").read_text())
    assert "no job started" not in page
    assert (
        "0 job(s): 0 COMPLETED, 0 FAILED; 0 run(s) that started no job; 3 result(s) unreadable"
        in page
    )
    rows = {
        job_id: row
        for job_id in stored
        for row in page.split("<tr>")
        if stored[job_id][0][:8] in row
    }
    assert f"{stored['truncated'][1]}: is not valid JSON" in rows["truncated"]
    assert f"{stored['edited'][1]}: not a proxx ExecutionResult (" in rows["edited"]
    assert f"{stored['deleted'][1]}: does not exist (the run ended SUCCESS)" in rows["deleted"]
    assert all("result unreadable" in row for row in rows.values())


def _ended(instance: DagsterInstance, job_name: str, at: float) -> str:
    """A run of `job_name` whose end event was made at `at` (it may be stored later)."""
    run = instance.add_run(DagsterRun(job_name=job_name, status=DagsterRunStatus.STARTED))
    success = DagsterEvent(DagsterEventType.RUN_SUCCESS.value, job_name=job_name, message="")
    instance.handle_new_event(
        EventLogEntry(  # type: ignore[no-untyped-call]
            error_info=None,
            level=logging.DEBUG,
            user_message="",
            run_id=run.run_id,
            timestamp=at,
            dagster_event=success,
        )
    )
    return run.run_id


def _linked(instance: DagsterInstance, run_id: str) -> int:
    """How often the sensor linked the night report from the run."""
    return sum(
        (e.get_dagster_event().message or "").startswith("night report: ")
        for e in events(instance, run_id, DagsterEventType.ENGINE_EVENT)
    )


def test_a_run_whose_end_is_stored_late_is_reported_once(
    instance: DagsterInstance, tmp_path: Path
) -> None:
    """An end stamped at or before the last end the sensor saw (stored late by another process,
    or at the same instant) is still reported, and no run is reported twice."""
    sensor = build_night_report_sensor(("proxx_job",), ProxxAutomation(report_folder=str(tmp_path)))
    now = time.time()
    first = _ended(instance, "proxx_job", now)
    context = build_sensor_context(instance=instance)
    sensor(context)
    same_instant = _ended(instance, "proxx_job", now)
    late = _ended(instance, "proxx_job", now - 60)
    again = build_sensor_context(instance=instance, cursor=context.cursor)
    assert "2 ended run(s)" in str(sensor(again))
    assert [_linked(instance, run) for run in (first, same_instant, late)] == [1, 1, 1]
    third = build_sensor_context(instance=instance, cursor=again.cursor)
    assert "no proxx run ended" in str(sensor(third))


def test_other_jobs_runs_never_hide_a_proxx_run(instance: DagsterInstance, tmp_path: Path) -> None:
    """More runs of other jobs end than one look reads: the looks move past them."""
    sensor = build_night_report_sensor(("proxx_job",), ProxxAutomation(report_folder=str(tmp_path)))
    now = time.time()
    for n in range(201):  # RUNS_PER_LOOK + 1: one look cannot read them all
        _ended(instance, "someone_elses_job", now - 100 + n * 0.01)
    proxx = _ended(instance, "proxx_job", now)
    cursor = None
    for _ in range(3):
        context = build_sensor_context(instance=instance, cursor=cursor)
        sensor(context)
        cursor = context.cursor
    assert _linked(instance, proxx) == 1


@pytest.mark.parametrize("stored", ["1733300000.5", "not json", '{"after": "soon"}'])
def test_an_unreadable_or_old_cursor_reads_as_empty(
    instance: DagsterInstance, tmp_path: Path, stored: str
) -> None:
    sensor = build_night_report_sensor(("proxx_job",), ProxxAutomation(report_folder=str(tmp_path)))
    run = _ended(instance, "proxx_job", time.time())
    sensor(build_sensor_context(instance=instance, cursor=stored))
    assert _linked(instance, run) == 1


def test_a_run_whose_parts_tag_is_no_number_is_reported_as_any_other(
    instance: DagsterInstance,
) -> None:
    """`proxx/parts` is a tag anyone may set at launch; a word there must not stop the report of
    every night (the sensor would raise at each look, its cursor never moving)."""
    refused = defs.resolve_job_def(FOLDER_JOB).execute_in_process(
        run_config={
            "ops": {FOLDER_OP: {"config": {"folder": "", "profile": "h264_half", "proxy_root": ""}}}
        },
        instance=instance,
        tags={PARTS_TAG: "three"},
        raise_on_error=False,
    )
    [run] = night_runs(instance, night_of(datetime.now(UTC), "UTC"), "UTC", [FOLDER_JOB])
    assert run.run_id == refused.run_id and run.parts == 0 and run.never_started == 0
