"""The `proxx_orphaned_runs` sensor under the shipped daemon: a healthy multiprocess batch, whose
step processes end while the run goes on, is never reported failed, not even for a moment; a
run whose run worker is SIGKILLed is reported failed at the sensor's next look, never resumed or
retried; its FFmpeg died with it, ran once, left no final-named output; the staging debris is
named by the next validation of the job."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus
from dagster._core.scheduler.instigation import InstigatorType

from benchmarks.dagster_processes import BIN, REPO, background, daemon, dagster_env, dagster_home
from benchmarks.processes import encoder_pid, ends_within, parent_of, wait_for
from proxx_dagster.builders import EXECUTE_PROXX_JOB, LAUNCHER
from proxx_dagster.names import (
    BATCH_COMPLETED_TAG,
    BATCH_FAILED_TAG,
    BATCH_JOB,
    EXECUTE_BATCH_OP,
    ORPHAN_SENSOR,
    PLAN_OP,
    PROXX_JOB,
    RUN_WORKER_PID_TAG,
)
from proxx_dagster.reports.batch_outcome import STEP_PROCESS_DIED
from proxx_dagster.watch.orphans import RUN_WORKER_ENV, RunWorker, end_with_run_worker
from proxx_exec import JobSpec, Reason, execute
from tests.dagster.helpers import events, run_config, spec_fields
from tests.helpers import Media, engine_calls, job_encodes, write_engine_wrapper

WORKSPACE = REPO / "workspace.yaml"
INTERVAL = {"PROXX_ORPHAN_INTERVAL_S": "5"}
# A run ends in one of these; a run reported failed while it runs shows FAILURE first.
ENDED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


@contextlib.contextmanager
def shipped_daemon(tmp_path: Path) -> Iterator[tuple[Path, DagsterInstance]]:
    """An instance on the shipped deploy/dagster.yaml with its daemon running, the orphan
    sensor looking every 5 s."""
    home = dagster_home(tmp_path, "home")
    # The storage is made here first: processes opening an empty DAGSTER_HOME together race.
    with (
        DagsterInstance.from_config(str(home)) as instance,
        daemon(home, WORKSPACE, tmp_path / "daemon.log", **INTERVAL),
    ):
        yield home, instance


def launch(home: Path, job: str, config: dict[str, Any], folder: Path) -> str:
    """Queue a run as the web UI would (`dagster job launch`); the daemon starts its run
    worker. The run's id."""
    config_file = folder / f"{job}-run.yaml"
    config_file.write_text(yaml.safe_dump(config))
    with DagsterInstance.from_config(str(home)) as instance:
        before = {run.run_id for run in instance.get_runs()}
    argv = [str(BIN / "dagster"), "job", "launch", "-w", str(WORKSPACE), "-j", job]
    subprocess.run(
        [*argv, "-c", str(config_file)],
        cwd=REPO,
        env=dagster_env(home, **INTERVAL),
        check=True,
        capture_output=True,
        timeout=120,
    )
    with DagsterInstance.from_config(str(home)) as instance:
        [run_id] = {run.run_id for run in instance.get_runs()} - before
    return run_id


def statuses_until_it_ends(instance: DagsterInstance, run_id: str) -> list[DagsterRunStatus]:
    """Every status the run shows, read every 0.2 s from now until it ends (bounded)."""
    seen: list[DagsterRunStatus] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        if not seen or seen[-1] is not run.status:
            seen.append(run.status)
        if run.status in ENDED:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not end within 300 s; it showed {seen}")


def orphan_sensor_looks(instance: DagsterInstance, after: float, before: float) -> list[str]:
    """What the orphan sensor said at each look between two moments."""
    [state] = [
        state
        for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
        if state.instigator_name == ORPHAN_SENSOR
    ]
    ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id, after=after)
    return [str(tick.skip_reason) for tick in ticks if tick.timestamp < before]


def test_healthy_multiprocess_batch_is_never_reported_failed(media: Media, tmp_path: Path) -> None:
    """The issue's night: a batch of a long and a short JobSpec on two step processes. The short
    step's process ends; the run worker (and the long step) go on. The run must stay STARTED
    until it ends SUCCESS, with no failure in its log and no batch outcome written."""
    out = tmp_path / "out"
    out.mkdir()
    # The long JobSpec's engine waits 20 s before it encodes: four looks of the sensor after the
    # short step has ended, without loading the machine.
    slow = write_engine_wrapper(
        tmp_path, 'case "$*" in *.proxx-staging-*) sleep 20;; esac\nexec "$REAL" "$@"'
    )
    jobspecs = [
        spec_fields(media, out, "long", engine=str(slow), profile="prores_lt"),
        spec_fields(media, out, "short", sources=[str(media.clip("SHORT.mov"))]),
    ]
    config = {
        "ops": {PLAN_OP: {"config": {"jobspecs": jobspecs}}},
        "execution": {"config": {"multiprocess": {"max_concurrent": 2}}},
    }
    with shipped_daemon(tmp_path) as (home, instance):
        run_id = launch(home, BATCH_JOB, config, tmp_path)
        seen = statuses_until_it_ends(instance, run_id)
        assert seen[-2:] == [DagsterRunStatus.STARTED, DagsterRunStatus.SUCCESS], seen
        assert DagsterRunStatus.FAILURE not in seen
        assert events(instance, run_id, DagsterEventType.RUN_FAILURE) == []
        run = instance.get_run_by_id(run_id)
        assert run is not None
        assert BATCH_FAILED_TAG not in run.tags and BATCH_COMPLETED_TAG not in run.tags
        engine_messages = [
            entry.message for entry in events(instance, run_id, DagsterEventType.ENGINE_EVENT)
        ]
        assert not [m for m in engine_messages if m.startswith(f"{BATCH_JOB}:")]

        # It was a real test: the short step's process had ended while the long one ran, and
        # the sensor looked at the run (and left it alone) several times in between.
        ends = {
            str(entry.step_key): entry.timestamp
            for entry in events(instance, run_id, DagsterEventType.STEP_SUCCESS)
        }
        short_end = ends[f"{EXECUTE_BATCH_OP}[001_short]"]
        long_end = ends[f"{EXECUTE_BATCH_OP}[000_long]"]
        assert long_end - short_end > 15
        looks = orphan_sensor_looks(instance, short_end, long_end)
        assert len([look for look in looks if look.startswith("1 started")]) >= 2, looks
        assert all(look.endswith("worker gone: none; reported failed: none") for look in looks), (
            looks
        )
    assert len(job_encodes(tmp_path)) == 1  # the long JobSpec's, through its wrapper


@pytest.mark.parametrize("started_by", ["daemon", "cli"])
def test_killed_run_worker_is_reported_failed_not_resumed(
    media: Media, tmp_path: Path, started_by: str
) -> None:
    """Launched through the daemon, the run worker is a child of the code server, which reports
    the run failed itself when that child exits; run by `dg launch`, the run worker is that
    command, and only proxx_orphaned_runs can tell. Either way: one failure, nothing resumed."""
    out = tmp_path / "out"
    out.mkdir()
    clip = media.h264_clip("WORKER.mov")
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    spec = {
        "spec_version": "1",
        "job_id": "worker-dies",
        "sources": [str(clip)],
        "output_dir": str(out),
        "profile": "prores_lt",
        "engine": str(wrapper),
        "clip_timeout_s": 300,
    }
    with shipped_daemon(tmp_path) as (home, instance), contextlib.ExitStack() as stack:
        if started_by == "daemon":
            launch(home, PROXX_JOB, run_config(spec), tmp_path)
        else:
            config_file = tmp_path / "run.yaml"
            config_file.write_text(yaml.safe_dump(run_config(spec)))
            argv = [str(BIN / LAUNCHER), *EXECUTE_PROXX_JOB, "-c", str(config_file)]
            stack.enter_context(background(argv, home, tmp_path / "dg.log", **INTERVAL))
        wait_for(lambda: encoder_pid("WORKER.mov") is not None, 120, "the encode to start")
        encoder = encoder_pid("WORKER.mov")
        assert encoder is not None
        worker = parent_of(encoder)
        [run] = instance.get_runs()
        run_id = run.run_id
        assert run.tags[RUN_WORKER_PID_TAG] == str(worker)  # recorded by the run worker itself
        os.kill(worker, signal.SIGKILL)  # the run worker dies mid-clip
        assert ends_within(encoder, 1.0), "the encode outlived its run worker"
        seen = statuses_until_it_ends(instance, run_id)
        assert seen[-1] is DagsterRunStatus.FAILURE, seen
        [failure] = events(instance, run_id, DagsterEventType.RUN_FAILURE)  # reported once
        if started_by == "cli":
            assert f"the run worker (pid {worker} on " in failure.message
        assert len(instance.get_runs()) == 1  # not resumed, not retried
    assert len([a for _, a in engine_calls(tmp_path) if "-c:v" in a]) == 1
    assert sorted(p.name for p in out.iterdir()) == [".proxx-staging-worker-dies"]
    again = execute(JobSpec.model_validate(spec))
    assert again.failure is not None and again.failure.reason is Reason.STAGING_EXISTS
    assert ".proxx-staging-worker-dies" in again.failure.message


def test_killed_step_process_fails_its_step_only_and_the_run_at_its_end(
    media: Media, tmp_path: Path
) -> None:
    """A multiprocess step's process SIGKILLed mid-encode: the executor in the (living) run
    worker fails that step; the run stays STARTED until the other step has completed, then
    fails once, and the batch outcome says what happened to each."""
    out = tmp_path / "out"
    out.mkdir()
    slow = write_engine_wrapper(
        tmp_path, 'case "$*" in *.proxx-staging-*) sleep 15;; esac\nexec "$REAL" "$@"'
    )
    jobspecs = [
        spec_fields(media, out, "long", engine=str(slow)),
        spec_fields(media, out, "dies", sources=[str(media.h264_clip("DIES.mov"))]),
    ]
    jobspecs[1]["profile"] = "prores_lt"
    config = {
        "ops": {PLAN_OP: {"config": {"jobspecs": jobspecs}}},
        "execution": {"config": {"multiprocess": {"max_concurrent": 2}}},
    }
    with shipped_daemon(tmp_path) as (home, instance):
        run_id = launch(home, BATCH_JOB, config, tmp_path)
        wait_for(lambda: encoder_pid("DIES.mov") is not None, 120, "the encode to start")
        encoder = encoder_pid("DIES.mov")
        assert encoder is not None
        os.kill(parent_of(encoder), signal.SIGKILL)  # the step's process, not the run worker
        assert ends_within(encoder, 1.0), "the encode outlived its step process"
        seen = statuses_until_it_ends(instance, run_id)
        assert seen[-2:] == [DagsterRunStatus.STARTED, DagsterRunStatus.FAILURE], seen
        [failure] = events(instance, run_id, DagsterEventType.RUN_FAILURE)
        [completed] = [
            entry
            for entry in events(instance, run_id, DagsterEventType.STEP_SUCCESS)
            if entry.step_key == f"{EXECUTE_BATCH_OP}[000_long]"
        ]
        assert failure.timestamp > completed.timestamp  # not reported failed while it ran
        [step_failure] = events(instance, run_id, DagsterEventType.STEP_FAILURE)
        assert step_failure.step_key == f"{EXECUTE_BATCH_OP}[001_dies]"

        def outcome_written() -> bool:
            run = instance.get_run_by_id(run_id)
            return run is not None and BATCH_FAILED_TAG in run.tags

        wait_for(outcome_written, 120, "the batch outcome")
        run = instance.get_run_by_id(run_id)
        assert run is not None
        assert (run.tags[BATCH_FAILED_TAG], run.tags[BATCH_COMPLETED_TAG]) == ("1", "1")
        [message] = [
            entry.message
            for entry in events(instance, run_id, DagsterEventType.ENGINE_EVENT)
            if entry.message.startswith(f"{BATCH_JOB}:")
        ]
        assert (
            message
            == f"{BATCH_JOB}: 1 of 2 JobSpecs failed (001_dies: {STEP_PROCESS_DIED}), 1 completed"
        )


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_steps_end_with_their_killed_run_worker(
    media: Media, tmp_path: Path, start_method: str
) -> None:
    """The run worker of a multiprocess batch SIGKILLed while a step encodes: the step process
    (the child of a forkserver, or of the run worker itself; nothing else would stop it) ends
    within seconds and its FFmpeg with it, instead of encoding on and committing proxies into a
    run already reported failed."""
    out = tmp_path / "out"
    out.mkdir()
    jobspecs = [
        spec_fields(media, out, "orphan", sources=[str(media.h264_clip("ORPHAN.mov"))]),
    ]
    jobspecs[0]["profile"] = "prores_lt"
    config = {
        "ops": {PLAN_OP: {"config": {"jobspecs": jobspecs}}},
        "execution": {"config": {"multiprocess": {"start_method": start_method}}},
    }
    with shipped_daemon(tmp_path) as (home, instance):
        run_id = launch(home, BATCH_JOB, config, tmp_path)
        wait_for(lambda: encoder_pid("ORPHAN.mov") is not None, 120, "the encode to start")
        encoder = encoder_pid("ORPHAN.mov")
        assert encoder is not None
        step = parent_of(encoder)
        run = instance.get_run_by_id(run_id)
        assert run is not None
        worker = int(run.tags[RUN_WORKER_PID_TAG])
        assert worker != step
        os.kill(worker, signal.SIGKILL)
        assert ends_within(step, 5.0), "the step process outlived its run worker"
        assert ends_within(encoder, 1.0), "the encode outlived its step process"
        seen = statuses_until_it_ends(instance, run_id)
        assert seen[-1] is DagsterRunStatus.FAILURE, seen
        assert len(events(instance, run_id, DagsterEventType.RUN_FAILURE)) == 1
        step_ends = [
            entry.step_key
            for kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE)
            for entry in events(instance, run_id, kind)
        ]
        assert step_ends == [PLAN_OP]  # the JobSpec's step recorded no end
    assert sorted(p.name for p in out.iterdir()) == [".proxx-staging-orphan"]


def test_a_run_worker_is_gone_when_its_pid_is_free_reused_or_a_zombie() -> None:
    me = RunWorker.this_process()
    assert not me.is_gone()
    assert RunWorker(me.host, me.pid, me.created - 60).is_gone()  # the pid, another process
    with subprocess.Popen(["sleep", "0"]) as child:
        started = psutil.Process(child.pid).create_time()
        wait_for(lambda: psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE, 10, "exit")
        assert RunWorker(me.host, child.pid, started).is_gone()  # exited, not yet reaped
    assert RunWorker(me.host, child.pid, started).is_gone()  # reaped: no such process


def test_product_code_reads_no_proc() -> None:
    """Process liveness comes from psutil: nothing proxx ships reads Linux's /proc, so the CLI,
    the daemon and the watch folder run where there is none (macOS)."""
    readers = [
        str(path.relative_to(REPO))
        for package in ("proxx_exec", "proxx_dagster")
        for path in sorted((REPO / package).rglob("*.py"))
        if "/proc/" in path.read_text() or '"/proc"' in path.read_text()
    ]
    assert readers == []


def test_a_step_writes_the_run_worker_again_where_a_concurrent_writer_lost_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dagster's run storage rewrites a run's whole tag set on every tag change, so the daemon
    adding its own tag at launch can write back a set it read before the run worker recorded
    itself (seen under load: the record gone from the run). The run worker also hands its
    record down to its step processes; a step finding the run's tags without it writes them
    again, and nothing is written for another run's record."""
    monkeypatch.delenv(RUN_WORKER_ENV, raising=False)
    me = RunWorker.this_process()
    with DagsterInstance.ephemeral() as instance:
        lost = instance.add_run(DagsterRun(job_name=PROXX_JOB))
        other = instance.add_run(DagsterRun(job_name=PROXX_JOB))
        me.hand_down(lost.run_id)  # as the executor does, before its steps start
        end_with_run_worker(instance, other)  # a step of another run: not its worker
        end_with_run_worker(instance, lost)
        assert RunWorker.from_tags(tags_of(instance, other)) is None
        assert RunWorker.from_tags(tags_of(instance, lost)) == me


def tags_of(instance: DagsterInstance, run: DagsterRun) -> dict[str, str]:
    stored = instance.get_run_by_id(run.run_id)
    assert stored is not None
    return dict(stored.tags)
