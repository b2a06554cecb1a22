"""The schedule and the sensor end to end with dagster-daemon in a subprocess, on SQLite and on
PostgreSQL: every file launched once (also across a daemon crash), runs queued by Dagster's run
queue, and results identical to the same JobSpecs run alone, whatever the queue order.

The crash comes while the daemon launches runs and takes down what it started, so it may catch
a run on its way: that run is never launched a second time, it ends (Dagster's run monitoring
fails one that never started), and it leaves a whole result or nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from benchmarks.dagster_processes import BIN, REPO, background, dagster_home
from benchmarks.processes import wait_for
from proxx_dagster.names import INBOX_SENSOR
from proxx_exec import ExecutionResult, JobSpec, Status, execute
from proxx_exec.tools.samples import SampleClip
from tests.dagster.helpers import events
from tests.dagster.services import postgres_schema
from tests.helpers import Media, clear

# Run monitoring as shipped, but quicker: a run the crash caught mid-launch is reported failed
# within the test's wait (shipped: after 180 s, looked at every 120 s).
START_TIMEOUT_S = 60
MONITORING = {"start_timeout_seconds": START_TIMEOUT_S, "poll_interval_seconds": 5}


def _quicker_monitoring(shipped: str) -> str:
    config = yaml.safe_load(shipped)
    config["run_monitoring"] = {**config["run_monitoring"], **MONITORING}
    return yaml.safe_dump(config)


@pytest.fixture(params=["sqlite", "postgres"])
def instance_yaml(request: pytest.FixtureRequest) -> Iterator[str]:
    """The shipped instance configuration, on SQLite or (dagster.postgres.yaml) PostgreSQL."""
    if request.param == "sqlite":
        yield _quicker_monitoring((REPO / "deploy" / "dagster.yaml").read_text())
        return
    with postgres_schema():
        yield _quicker_monitoring((REPO / "deploy" / "dagster.postgres.yaml").read_text())


def spec(media_file: Path, out_dir: Path, job_id: str) -> dict[str, Any]:
    return {
        "spec_version": "1",
        "job_id": job_id,
        "sources": [str(media_file)],
        "output_dir": str(out_dir),
        "profile": "h264_quarter",
        "clip_timeout_s": 300,
    }


def far_from_midnight() -> str:
    """A fixed-offset time zone in which it is about noon now, so that the schedule's night (its
    date) cannot change while the test runs, whenever it runs."""
    offset = 12 - datetime.now(UTC).hour  # -11 .. +12 hours
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3


def test_nightly_and_inbox_through_the_daemon(
    instance_yaml: str, media: Media, tmp_path: Path
) -> None:
    home = dagster_home(tmp_path, "home", instance_yaml)
    out_dir = tmp_path / "proxies"
    out_dir.mkdir()
    clips = [media.clip(f"Q{i}.mov", SampleClip(duration_s=1, reel_name=f"Q{i}")) for i in range(3)]
    fields = [spec(clip, out_dir, f"queue-{i}") for i, clip in enumerate(clips)]

    # Alone, one after another, straight through proxx_exec.
    alone = {f["job_id"]: execute(JobSpec.model_validate(f)) for f in fields}
    assert all(r.status is Status.COMPLETED for r in alone.values())
    clear(out_dir)

    inbox, nightly = tmp_path / "inbox", tmp_path / "nightly"
    inbox.mkdir()
    nightly.mkdir()
    # Reversed file names: the queue sees queue-2 first, queue-0 last.
    for index, document in enumerate(fields):
        (inbox / f"{9 - index}-{document['job_id']}.json").write_text(json.dumps(document))
    (inbox / "0-unreadable.json").write_text("{ this is not a JobSpec")
    night = {**spec(clips[0], out_dir, "night-{date}"), "naming": "{source_stem}_{job_id}"}
    (nightly / "night.yaml").write_text(yaml.safe_dump(night))

    zone = far_from_midnight()
    env = {
        "PROXX_INBOX_FOLDER": str(inbox),
        "PROXX_NIGHTLY_FOLDER": str(nightly),
        "PROXX_NIGHTLY_CRON": "* * * * *",
        "PROXX_TIMEZONE": zone,
        "PROXX_INBOX_INTERVAL_S": "5",
    }
    os.environ.update(env)
    try:
        workspace = REPO / "workspace.yaml"
        for kind, name in (("schedule", "proxx_nightly"), ("sensor", "proxx_inbox")):
            subprocess.run(
                [str(BIN / "dagster"), kind, "start", name, "-w", str(workspace)],
                cwd=REPO,
                env={**os.environ, "DAGSTER_HOME": str(home)},
                check=True,
                capture_output=True,
                timeout=120,
            )
        with DagsterInstance.from_config(str(home)) as instance:

            def document_runs() -> list[Any]:
                return list(instance.get_runs())

            with background(
                [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
                home,
                tmp_path / "daemon-1.log",
            ) as first:
                wait_for(lambda: len(document_runs()) >= 2, 120, "the first runs")
                os.killpg(first.pid, signal.SIGKILL)  # a daemon crash, mid-work
                # Runs it was launching or had launched: leaving this block stops their run
                # workers too (as a crash of the whole machine would), so they may fail.
                caught = {
                    r.run_id
                    for r in document_runs()
                    if r.status in (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED)
                }
            with background(
                [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
                home,
                tmp_path / "daemon-2.log",
            ):
                wait_for(
                    lambda: (
                        len(document_runs()) >= 5 and all(r.is_finished for r in document_runs())
                    ),
                    240 + START_TIMEOUT_S,
                    "four inbox runs and one nightly run to finish",
                )
                # Looks by the sensor after every run finished must launch nothing again.
                runs_before, finished_at = len(document_runs()), time.time()
                wait_for(
                    lambda: _sensor_looks_since(instance, finished_at) >= 2,
                    60,
                    "two more looks by the inbox sensor",
                )
                assert len(document_runs()) == runs_before
            runs = document_runs()
            by_file: dict[str, list[Any]] = {}
            for run in runs:
                by_file.setdefault(run.tags["proxx/spec_file"], []).append(run)
            assert {Path(f).name: len(r) for f, r in by_file.items()} == {
                "0-unreadable.json": 1,
                "7-queue-2.json": 1,
                "8-queue-1.json": 1,
                "9-queue-0.json": 1,
                "night.yaml": 1,
            }
            for run in runs:
                assert events(instance, run.run_id, DagsterEventType.RUN_ENQUEUED)  # queued
            # A run the crash caught ends anyway (run monitoring fails one that never started),
            # and is never launched again (one run per file, above).
            cut_short = {
                Path(r.tags["proxx/spec_file"]).name
                for r in runs
                if r.run_id in caught and r.status is DagsterRunStatus.FAILURE
            }
            assert all(r.is_finished for r in runs)
            for name, file_runs in by_file.items():
                [run] = file_runs
                if Path(name).name in cut_short:
                    continue
                if "unreadable" not in name:
                    assert run.status is DagsterRunStatus.SUCCESS, name
                    continue
                assert run.status is DagsterRunStatus.FAILURE
                failure = events(instance, run.run_id, DagsterEventType.STEP_FAILURE)[0]
                metadata = failure.get_dagster_event().step_failure_data.user_failure_data.metadata  # type: ignore[union-attr]
                assert metadata["proxx/failure_class"].value == "VALIDATION"
                assert metadata["proxx/failure_reason"].value == "SPEC_UNREADABLE"
    finally:
        for name in env:
            del os.environ[name]

    tonight = datetime.now(ZoneInfo(zone)).date().isoformat()
    night_job = f"night-{tonight}"
    cut_jobs = {
        name.split("-", 1)[1].removesuffix(".json") if name != "night.yaml" else night_job
        for name in cut_short - {"0-unreadable.json"}
    }
    for job_id in cut_jobs:  # a run cut short leaves a whole result or nothing
        if (out_dir / f"{job_id}.proxx-result.json").exists():
            continue
        named = (
            {Path(c.output).name for c in alone[job_id].clips if c.output}
            if job_id in alone
            else set()
        )
        stray = [p.name for p in out_dir.iterdir() if job_id in p.name or p.name in named]
        assert not stray, stray
    for job_id, before in alone.items():
        if job_id in cut_jobs:
            continue
        queued = ExecutionResult.from_json((out_dir / f"{job_id}.proxx-result.json").read_text())
        assert queued.digest == before.digest
        assert [c.output_sha256 for c in queued.clips] == [c.output_sha256 for c in before.clips]
    nights = sorted(p.name for p in out_dir.glob("night-*.proxx-result.json"))
    if night_job not in cut_jobs:
        assert nights == [f"{night_job}.proxx-result.json"]


def _sensor_looks_since(instance: DagsterInstance, since: float) -> int:
    """Evaluations of the inbox sensor that began after `since` and have ended."""
    states = instance.all_instigator_state()
    sensor = next(s for s in states if s.name == INBOX_SENSOR)
    ticks = instance.get_ticks(sensor.instigator_origin_id, sensor.selector_id)
    return sum(tick.timestamp > since and tick.status.value != "STARTED" for tick in ticks)
