"""The nightly schedule, the inbox sensor and the document job, with Dagster's test contexts and
a real instance."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    RunRequest,
    RunsFilter,
    build_schedule_context,
    build_sensor_context,
)
from dagster._core.storage.runs.schema import RunTagsTable

from proxx_dagster.builders import build_definitions, build_document_job
from proxx_dagster.settings import ProxxAutomation, SettingsProblem
from proxx_dagster.sizing import pool_limit
from proxx_exec import ExecutionResult, JobSpec, Status
from tests.dagster.conftest import SIZED_CORES, pool_places
from tests.dagster.helpers import events, spec_fields
from tests.helpers import Media

NIGHT = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def write_spec(folder: Path, name: str, **fields: Any) -> Path:
    path = folder / name
    path.write_text(json.dumps(fields))
    return path


def requests(result: Any) -> list[RunRequest]:
    return list(result.run_requests or [])


def nightly(folder: Path) -> tuple[Any, dict[str, Any]]:
    automation = ProxxAutomation(nightly_folder=str(folder))
    defs = build_definitions(automation=automation)
    return defs.resolve_schedule_def("proxx_nightly"), {"proxx_automation": automation}


def test_nightly_runs_every_file_once_in_name_order(
    media: Media, out_dir: Path, tmp_path: Path, instance: DagsterInstance
) -> None:
    folder = tmp_path / "nightly"
    folder.mkdir()
    write_spec(folder, "b.json", **spec_fields(media, out_dir, "cam-b-{date}"))
    write_spec(folder, "a.yaml", **spec_fields(media, out_dir, "cam-a-{date}"))
    (folder / "c.json").write_text("{ not json")
    (folder / ".d.json.partial").write_text("{}")
    (folder / "notes.txt").write_text("not a JobSpec")
    schedule, resources = nightly(folder)
    with build_schedule_context(
        scheduled_execution_time=NIGHT, resources=resources, instance=instance
    ) as context:
        result = schedule.evaluate_tick(context)
    runs = requests(result)
    assert [r.tags["proxx/spec_file"] for r in runs] == [
        str(folder / n) for n in ("a.yaml", "b.json", "c.json")
    ]
    assert [r.tags.get("proxx/job_id") for r in runs] == [
        "cam-a-2026-11-28",
        "cam-b-2026-11-28",
        None,
    ]
    expected_a = JobSpec.model_validate(spec_fields(media, out_dir, "cam-a-2026-11-28"))
    assert runs[0].run_key == f"2026-11-28:{expected_a.fingerprint}"
    for run in runs:
        assert run.tags["dagster/max_retries"] == "0"
        volume = run.tags["proxx/output_volume"]
        assert volume.startswith("/") if "proxx/job_id" in run.tags else volume == "unknown"
        config = run.run_config["ops"]["execute_jobspec_document"]["config"]
        assert base64.b64decode(config["document_base64"])  # the exact bytes travel
    # The next night: same files, new keys; the same night evaluated again: same keys.
    later = NIGHT.replace(day=29)
    with build_schedule_context(
        scheduled_execution_time=later, resources=resources, instance=instance
    ) as context:
        next_night = requests(schedule.evaluate_tick(context))
    assert {r.run_key for r in next_night}.isdisjoint({r.run_key for r in runs})
    with build_schedule_context(
        scheduled_execution_time=NIGHT, resources=resources, instance=instance
    ) as context:
        assert [r.run_key for r in requests(schedule.evaluate_tick(context))] == [
            r.run_key for r in runs
        ]


def test_nightly_skips_jobs_that_already_have_a_result(
    media: Media, out_dir: Path, tmp_path: Path, instance: DagsterInstance
) -> None:
    folder = tmp_path / "nightly"
    folder.mkdir()
    write_spec(folder, "once.json", **spec_fields(media, out_dir, "once"))
    (out_dir / "once.proxx-result.json").write_text("{}")
    schedule, resources = nightly(folder)
    with build_schedule_context(
        scheduled_execution_time=NIGHT, resources=resources, instance=instance
    ) as context:
        result = schedule.evaluate_tick(context)
    assert requests(result) == []
    assert "no JobSpec" in (result.skip_message or "")


def test_nightly_without_a_folder_says_so(instance: DagsterInstance) -> None:
    automation = ProxxAutomation()
    schedule = build_definitions(automation=automation).resolve_schedule_def("proxx_nightly")
    assert schedule.cron_schedule == "0 2 * * *"
    with build_schedule_context(
        scheduled_execution_time=NIGHT, resources={"proxx_automation": automation}
    ) as context:
        result = schedule.evaluate_tick(context)
    assert "PROXX_NIGHTLY_FOLDER" in (result.skip_message or "")


@pytest.mark.parametrize("asker", ["inbox", "nightly"])
def test_the_encode_pool_is_known_before_runs_are_asked_for(
    asker: str, media: Media, out_dir: Path, tmp_path: Path, sized_instance: DagsterInstance
) -> None:
    """Dagster's run queue holds runs back only for a pool it knows: a fresh instance's first
    burst would otherwise all start, to wait at the pool (sizing.py)."""
    folder = tmp_path / asker
    folder.mkdir()
    write_spec(folder, "job.json", **spec_fields(media, out_dir, "first-night"))
    automation = (
        ProxxAutomation(inbox_folder=str(folder))
        if asker == "inbox"
        else ProxxAutomation(nightly_folder=str(folder))
    )
    defs = build_definitions(automation=automation)
    resources = {"proxx_automation": automation}
    assert pool_places(sized_instance) is None
    if asker == "inbox":
        context = build_sensor_context(resources=resources, instance=sized_instance)
        asked = requests(defs.resolve_sensor_def("proxx_inbox").evaluate_tick(context))
    else:
        with build_schedule_context(
            scheduled_execution_time=NIGHT, resources=resources, instance=sized_instance
        ) as night:
            asked = requests(defs.resolve_schedule_def("proxx_nightly").evaluate_tick(night))
    assert len(asked) == 1
    assert pool_places(sized_instance) == pool_limit(SIZED_CORES)


def test_inbox_keys_are_content_fingerprints(
    media: Media, out_dir: Path, tmp_path: Path, instance: DagsterInstance
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good = write_spec(inbox, "job.json", **spec_fields(media, out_dir, "drop-1"))
    (inbox / "broken.yaml").write_bytes(b"\xff\xfe")
    automation = ProxxAutomation(inbox_folder=str(inbox))
    sensor = build_definitions(automation=automation).resolve_sensor_def("proxx_inbox")
    context = build_sensor_context(resources={"proxx_automation": automation}, instance=instance)
    first = requests(sensor.evaluate_tick(context))
    assert [r.tags["proxx/spec_file"] for r in first] == [str(inbox / "broken.yaml"), str(good)]
    spec = JobSpec.model_validate(spec_fields(media, out_dir, "drop-1"))
    assert first[1].run_key == f"inbox:{spec.fingerprint}"
    good.write_text(json.dumps(spec_fields(media, out_dir, "drop-2")))  # edited: a new job
    second = requests(sensor.evaluate_tick(context))
    assert second[0].run_key == first[0].run_key and second[1].run_key != first[1].run_key


def test_inbox_never_relaunches_a_run_its_tag_index_lost(
    media: Media, out_dir: Path, tmp_path: Path, instance: DagsterInstance
) -> None:
    """A daemon killed between writing a run and its tag rows (seen on PostgreSQL) leaves a run
    Dagster's run-key lookup cannot find; the sensor reads the runs themselves."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_spec(inbox, "job.json", **spec_fields(media, out_dir, "drop-1"))
    automation = ProxxAutomation(inbox_folder=str(inbox))
    defs = build_definitions(automation=automation)
    sensor = defs.resolve_sensor_def("proxx_inbox")
    context = build_sensor_context(resources={"proxx_automation": automation}, instance=instance)
    [request] = requests(sensor.evaluate_tick(context))
    run = instance.create_run_for_job(
        defs.resolve_job_def("proxx_document_job"),
        run_config=request.run_config,
        tags={**request.tags, "dagster/run_key": request.run_key or ""},
    )
    with instance.run_storage.connect() as connection:  # type: ignore[attr-defined]
        connection.execute(RunTagsTable.delete().where(RunTagsTable.c.run_id == run.run_id))
    assert (
        list(instance.get_runs(RunsFilter(tags={"dagster/run_key": request.run_key or ""}))) == []
    )
    assert requests(sensor.evaluate_tick(context)) == []


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROXX_NIGHTLY_FOLDER", str(tmp_path))
    monkeypatch.setenv("PROXX_NIGHTLY_CRON", "30 3 * * *")
    monkeypatch.setenv("PROXX_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("PROXX_INBOX_INTERVAL_S", "10")
    settings = ProxxAutomation.from_environment()
    defs = build_definitions(automation=settings)
    schedule = defs.resolve_schedule_def("proxx_nightly")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("30 3 * * *", "Europe/Berlin")
    assert defs.resolve_sensor_def("proxx_inbox").minimum_interval_seconds == 10
    monkeypatch.setenv("PROXX_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsProblem, match="unknown time zone"):
        ProxxAutomation.from_environment()


@pytest.mark.parametrize("document", [b"\xff not utf-8", b"{ broken", b"spec_version: '1'\n"])
def test_a_bad_file_still_ends_in_a_visible_validation_result(
    document: bytes, instance: DagsterInstance
) -> None:
    job = build_document_job()
    config = {
        "ops": {
            "execute_jobspec_document": {
                "config": {
                    "spec_file": "/inbox/bad.json",
                    "document_base64": base64.b64encode(document).decode(),
                }
            }
        }
    }
    outcome = job.execute_in_process(run_config=config, instance=instance, raise_on_error=False)
    assert not outcome.success
    result = outcome.output_for_node("execute_jobspec_document")
    assert isinstance(result, ExecutionResult)
    assert result.status is Status.FAILED and result.failure is not None
    assert result.failure.failure_class.value == "VALIDATION"
    assert events(instance, outcome.run_id, DagsterEventType.STEP_FAILURE)
