"""proxx_batch on Dagster's Celery executor with real brokers and `dagster-celery worker`
processes: the same results whatever executes the batch, no redelivery when a worker dies,
never an overwrite. Skipped with the reason when a broker is unreachable; failed under CI=true.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from benchmarks.batch_runs import (
    CeleryBroker,
    batch_config,
    celery_workers,
    execute_batch,
    finish,
    running_batch,
)
from benchmarks.processes import encoder_pid, ends_within, parent_of, wait_for
from proxx_dagster.names import EXECUTE_BATCH_OP
from proxx_dagster.reports.batch_outcome import NO_RESULT, batch_outcome
from proxx_exec import JobSpec, Reason, Status, execute
from tests.dagster.helpers import events, spec_fields, stored_results
from tests.dagster.services import require_tcp_service
from tests.helpers import Media, clear, engine_calls, listing, sha256, write_engine_wrapper

Outcome = dict[str, tuple[Status, str, dict[str, str]]]


@pytest.fixture
def redis() -> CeleryBroker:
    require_tcp_service("Redis", 6379)
    return CeleryBroker.redis()


@pytest.fixture
def rabbitmq() -> CeleryBroker:
    require_tcp_service("RabbitMQ", 5672)
    return CeleryBroker.rabbitmq()


def run_outcome(home: Path, out_dir: Path) -> tuple[Outcome, set[str]]:
    """Per job_id: status, result digest, SHA-256 of each proxy file; and the Celery workers
    that executed steps, from the engine events the workers wrote."""
    with DagsterInstance.from_config(str(home)) as instance:
        run = instance.get_runs(limit=1)[0]
        results = stored_results(instance, run.run_id)
        workers = {
            str(metadata["Celery worker"].value)
            for entry in events(instance, run.run_id, DagsterEventType.ENGINE_EVENT)
            if "Celery worker" in (metadata := entry.get_dagster_event().engine_event_data.metadata)
        }
    outcome = {
        str(result.job_id): (
            result.status,
            result.digest,
            {Path(c.output).name: sha256(Path(c.output)) for c in result.clips if c.output},
        )
        for result in results.values()
    }
    return outcome, workers


def identities(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_same_results_in_process_multiprocess_and_on_celery_workers(
    redis: CeleryBroker,
    rabbitmq: CeleryBroker,
    dagster_home: Path,
    media: Media,
    out_dir: Path,
    tmp_path: Path,
) -> None:
    clips = [media.standard, media.clip("BATCH2.mov"), media.clip("C3.mov"), media.clip("C4.mov")]
    profiles = ["prores_proxy", "h264_quarter", "dnxhr_lb", "h264_half"]
    jobspecs = [
        spec_fields(media, out_dir, f"job-{n}", sources=[str(clip)], profile=profile)
        for n, (clip, profile) in enumerate(zip(clips, profiles, strict=True))
    ]
    outcomes: dict[str, Outcome] = {}
    executions: list[tuple[str, dict[str, Any]]] = [
        ("in_process", {"config": {"in_process": {}}}),
        ("multiprocess", {"config": {"multiprocess": {"max_concurrent": 2}}}),
        ("multiprocess, spawn", {"config": {"multiprocess": {"start_method": "spawn"}}}),
    ]
    for name, execution in executions:
        code, output = execute_batch(dagster_home, batch_config(jobspecs, execution), tmp_path)
        assert code == 0, output
        outcomes[name], _ = run_outcome(dagster_home, out_dir)
        clear(out_dir)
    for name, broker, workers in [
        ("redis, 1 worker", redis, ["solo"]),
        ("redis, 2 workers", CeleryBroker.redis(), ["left", "right"]),
        ("rabbitmq, 2 workers", rabbitmq, ["left", "right"]),
    ]:
        with celery_workers(broker, dagster_home, tmp_path, workers) as nodes:
            config = batch_config(jobspecs, broker.execution())
            code, output = execute_batch(dagster_home, config, tmp_path, **broker.env)
            assert code == 0, output
            outcomes[name], used = run_outcome(dagster_home, out_dir)
            assert used == set(nodes)  # 4 JobSpecs, one task per worker at a time: all work
            if name.startswith("rabbitmq"):
                again = [{**spec, "job_id": f"{spec['job_id']}-again"} for spec in jobspecs]
                before = {
                    p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out_dir.iterdir()
                }
                code, _ = execute_batch(
                    dagster_home, batch_config(again, broker.execution()), tmp_path, **broker.env
                )
                assert code != 0
                refused, _ = run_outcome(dagster_home, out_dir)
                assert {job: status for job, (status, _, _) in refused.items()} == {
                    spec["job_id"]: Status.FAILED for spec in again
                }
                with DagsterInstance.from_config(str(dagster_home)) as instance:
                    run = instance.get_runs(limit=1)[0]
                    reasons = {
                        str(r.job_id): r.failure.reason if r.failure else None
                        for r in stored_results(instance, run.run_id).values()
                    }
                assert set(reasons.values()) == {Reason.OUTPUT_EXISTS}
                after = identities(out_dir)
                assert {name: after[name] for name in before} == before  # nothing overwritten
        clear(out_dir)

    reference = outcomes["in_process"]
    assert {status for status, _, _ in reference.values()} == {Status.COMPLETED}
    assert len(reference) == 4
    for name, outcome in outcomes.items():
        assert outcome == reference, f"{name} differs from in_process"


def test_worker_killed_mid_jobspec_fails_that_job_only_and_is_never_redelivered(
    redis: CeleryBroker, dagster_home: Path, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    long_clip = media.h264_clip("VICTIM.mov")
    victim = spec_fields(
        media, out_dir, "victim", sources=[str(long_clip)], profile="prores_lt", engine=str(wrapper)
    )
    others = [
        spec_fields(media, out_dir, "other-1", engine=str(wrapper)),
        spec_fields(
            media, out_dir, "other-2", sources=[str(media.clip("BATCH2.mov"))], engine=str(wrapper)
        ),
    ]
    reference = {}
    for fields in others:  # what the other JobSpecs give alone, through the core
        result = execute(JobSpec.model_validate(fields))
        assert result.status is Status.COMPLETED
        reference[result.job_id] = (result.digest, sha256(Path(str(result.clips[0].output))))
    clear(out_dir)
    (tmp_path / "engine-calls.log").unlink()

    # The workers' config asks for late acknowledgement and requeue on worker loss; the proxx
    # app pins both off, so the killed task must still not come back.
    late_acks = {"task_acks_late": True, "task_reject_on_worker_lost": True}
    with celery_workers(redis, dagster_home, tmp_path, ["left", "right"], settings=late_acks):
        config = batch_config([victim, *others], redis.execution())
        with running_batch(dagster_home, config, tmp_path, **redis.env) as batch:
            wait_for(lambda: encoder_pid("VICTIM.mov") is not None, 120, "the victim's encode")
            encoder = encoder_pid("VICTIM.mov")
            assert encoder is not None
            os.kill(parent_of(encoder), signal.SIGKILL)  # the Celery worker process running it
            assert ends_within(encoder, 1.0), "the encode outlived its Celery worker"
            code, output = finish(batch)
    assert code != 0
    assert "WorkerLostError" in output and "signal 9 (SIGKILL)" in output
    worker_log = (tmp_path / "worker-left.log").read_text()
    assert "the worker config sets task_acks_late=True; proxx pins False" in worker_log

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        [run] = instance.get_runs()
        assert run.status is DagsterRunStatus.FAILURE
        outcome = batch_outcome(instance, run.run_id)
        results = {r.job_id: r for r in stored_results(instance, run.run_id).values()}
        victim_starts = [
            e
            for e in events(instance, run.run_id, DagsterEventType.STEP_START)
            if e.step_key == f"{EXECUTE_BATCH_OP}[000_victim]"
        ]
    assert outcome.failed == {"000_victim": NO_RESULT}
    assert outcome.completed == ["001_other_1", "002_other_2"]
    assert len(victim_starts) == 1  # the step was never started again
    assert {
        job: (r.digest, sha256(Path(str(r.clips[0].output))))
        for job, r in results.items()
        if job != "victim"
    } == reference
    victim_encodes = [a for _, a in engine_calls(tmp_path) if "VICTIM.mov" in a and "-c:v" in a]
    assert len(victim_encodes) == 1  # FFmpeg started once for that clip, and never again
    assert "VICTIM.mov" not in listing(out_dir)  # no final-named partial output


def test_worker_configured_to_redeliver_is_refused_before_any_encode(
    redis: CeleryBroker, dagster_home: Path, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    late_acks = {"task_acks_late": True, "task_reject_on_worker_lost": True}
    # dagster-celery's stock app does not pin anything, so the worker really acks late
    with celery_workers(
        redis, dagster_home, tmp_path, ["late"], app="dagster_celery.app", settings=late_acks
    ):
        config = batch_config([spec_fields(media, out_dir, engine=str(wrapper))], redis.execution())
        code, _ = execute_batch(dagster_home, config, tmp_path, **redis.env)
    assert code != 0
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        [run] = instance.get_runs()
        outcome = batch_outcome(instance, run.run_id)
    [(key, how)] = outcome.failed.items()
    assert key == "000_dg_job"
    assert how.startswith("proxx refuses to run a JobSpec again (Celery worker setting ")
    assert "task_acks_late=True would redeliver this task" in how
    assert engine_calls(tmp_path) == []
    assert listing(out_dir) == []
