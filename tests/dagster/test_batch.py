"""proxx_batch without a broker: fan-out, one failure per JobSpec, refusals, the outcome sensor,
the executor's config (retries cannot be enabled, Celery's redelivery settings are pinned)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterInvalidConfigError,
    DagsterRun,
    DagsterRunStatus,
    InitExecutorContext,
    JobDefinition,
    build_run_status_sensor_context,
    build_sensor_context,
    reconstructable,
    validate_run_config,
)
from dagster._core.executor.multiprocess import MultiprocessExecutor

from benchmarks.batch_runs import execute_batch
from benchmarks.dagster_processes import REPO
from proxx_dagster.definitions import defs
from proxx_dagster.jobs.batch import BatchEntry
from proxx_dagster.jobs.executors import PINNED_CELERY_SETTINGS, proxx_batch_executor
from proxx_dagster.jobs.executors import celery_config_source as pinned
from proxx_dagster.names import (
    BATCH_COMPLETED_TAG,
    BATCH_FAILED_TAG,
    BATCH_JOB,
    BATCH_OUTCOME_SENSOR,
    BATCH_SIZE_TAG,
    EXECUTE_BATCH_OP,
    PLAN_OP,
)
from proxx_dagster.reports.batch_outcome import batch_outcome
from proxx_dagster.sizing import pool_limit
from proxx_dagster.watch.orphans import RunWorkerRecorded
from proxx_exec import ExecutionResult, Status
from tests.dagster.helpers import events, spec_fields, stored_results
from tests.helpers import Media, job_encodes, listing, write_engine_wrapper

batch_job = defs.resolve_job_def(BATCH_JOB)


def batch_config(jobspecs: list[dict[str, Any]], **execution: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"ops": {PLAN_OP: {"config": {"jobspecs": jobspecs}}}}
    if execution:
        config["execution"] = {"config": execution}
    return config


def step_keys(instance: DagsterInstance, run_id: str, event_type: DagsterEventType) -> list[str]:
    return sorted(str(e.step_key) for e in events(instance, run_id, event_type))


def test_multiprocess_batch_fails_only_the_bad_jobspec(
    dagster_home: Path, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    second = media.clip("BATCH2.mov")
    jobspecs = [
        spec_fields(media, out_dir, "cam-a", engine=str(wrapper), profile="prores_proxy"),
        spec_fields(media, out_dir, "cam-b", engine=str(wrapper), sources=[str(second)]),
        spec_fields(media, out_dir, "cam-c", sources=[str(tmp_path / "missing.mov")]),
    ]
    code, _ = execute_batch(
        dagster_home, batch_config(jobspecs, multiprocess={"max_concurrent": 2}), tmp_path
    )
    assert code != 0  # the run fails because one of its JobSpecs did

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        [run] = instance.get_runs()
        assert run.status is DagsterRunStatus.FAILURE
        assert run.tags[BATCH_SIZE_TAG] == "3"
        succeeded = step_keys(instance, run.run_id, DagsterEventType.STEP_SUCCESS)
        failed = step_keys(instance, run.run_id, DagsterEventType.STEP_FAILURE)
        assert succeeded == [
            f"{EXECUTE_BATCH_OP}[000_cam_a]",
            f"{EXECUTE_BATCH_OP}[001_cam_b]",
            PLAN_OP,
        ]
        assert failed == [f"{EXECUTE_BATCH_OP}[002_cam_c]"]
        # every step, the failed one included, stored its typed result
        stored = stored_results(instance, run.run_id)
        outcome = batch_outcome(instance, run.run_id)
    assert sorted((r.job_id, r.status) for r in stored.values()) == [
        ("cam-a", Status.COMPLETED),
        ("cam-b", Status.COMPLETED),
        ("cam-c", Status.FAILED),
    ]
    missing = tmp_path / "missing.mov"
    assert outcome.message == (
        f"1 of 3 JobSpecs failed (002_cam_c: VALIDATION SOURCE_MISSING: clip 1: source {missing} "
        "does not exist), 2 completed"
    )
    encodes = job_encodes(tmp_path)
    assert len(encodes) == 2  # one per clip of the two good JobSpecs, never again
    assert {"A001C001.mov", "BATCH2.mov"} <= set(listing(out_dir))


def test_folder_batch_runs_files_in_name_order_and_reports_a_broken_file(
    instance: DagsterInstance, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "jobspecs"
    folder.mkdir()
    (folder / "b-second.yaml").write_text(
        "\n".join(f"{k}: {v!r}" for k, v in spec_fields(media, out_dir, "second").items())
    )
    (folder / "a-broken.json").write_bytes(b'{"job_id": "broken", \xff')
    (folder / "notes.txt").write_text("not a JobSpec")
    outcome = batch_job.execute_in_process(
        run_config={"ops": {PLAN_OP: {"config": {"folder": str(folder)}}}},
        instance=instance,
        raise_on_error=False,
    )
    assert not outcome.success
    results = {
        key: value
        for key, value in outcome.output_for_node(EXECUTE_BATCH_OP).items()
        if isinstance(value, ExecutionResult)
    }
    assert sorted(results) == ["000_a_broken", "001_second"]
    broken = results["000_a_broken"]
    assert broken.failure is not None and broken.failure.reason.value == "SPEC_UNREADABLE"
    assert results["001_second"].status is Status.COMPLETED


def failed_batch(instance: DagsterInstance, media: Media, out_dir: Path) -> DagsterRun:
    """A batch of two JobSpecs, one refused (unknown profile), run here in process."""
    jobspecs = [
        spec_fields(media, out_dir, "good"),
        spec_fields(media, out_dir, "bad", profile="no_such_profile"),
    ]
    outcome = batch_job.execute_in_process(
        run_config=batch_config(jobspecs), instance=instance, raise_on_error=False
    )
    run = instance.get_run_by_id(outcome.run_id)
    assert run is not None and run.status is DagsterRunStatus.FAILURE
    return run


def test_outcome_sensor_writes_counts_into_the_failed_run(
    instance: DagsterInstance, media: Media, out_dir: Path
) -> None:
    run = failed_batch(instance, media, out_dir)
    [failure] = events(instance, run.run_id, DagsterEventType.RUN_FAILURE)
    sensor = defs.resolve_sensor_def(BATCH_OUTCOME_SENSOR)
    context = build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure.get_dagster_event(),
    ).for_run_failure()
    sensor(context)
    tagged = instance.get_run_by_id(run.run_id)
    assert tagged is not None
    assert (tagged.tags[BATCH_FAILED_TAG], tagged.tags[BATCH_COMPLETED_TAG]) == ("1", "1")
    messages = [e.message for e in events(instance, run.run_id, DagsterEventType.ENGINE_EVENT)]
    expected = "proxx_batch: 1 of 2 JobSpecs failed (001_bad: VALIDATION PROFILE_UNKNOWN: "
    assert [m for m in messages if m.startswith(expected) and m.endswith("), 1 completed")]


def test_outcome_sensor_also_sees_a_batch_executed_by_a_command(
    instance: DagsterInstance, media: Media, out_dir: Path
) -> None:
    """A batch run by `dg launch --job proxx_batch` (in process: the run has no code location)
    is tagged like one launched from the UI, by the sensor's own evaluation of the instance."""
    sensor = defs.resolve_sensor_def(BATCH_OUTCOME_SENSOR)
    repository = defs.get_repository_def()
    # Evaluated as the daemon evaluates it: in the code location's repository.
    first = build_sensor_context(
        instance=instance, repository_def=repository, repository_name=repository.name
    )
    sensor.evaluate_tick(first)  # a run status sensor starts from the events after its first look
    run = failed_batch(instance, media, out_dir)
    assert run.remote_job_origin is None  # as with `dg launch`
    sensor.evaluate_tick(
        build_sensor_context(
            instance=instance,
            repository_def=repository,
            repository_name=repository.name,
            cursor=first.cursor,
        )
    )
    tagged = instance.get_run_by_id(run.run_id)
    assert tagged is not None
    assert (tagged.tags.get(BATCH_FAILED_TAG), tagged.tags.get(BATCH_COMPLETED_TAG)) == ("1", "1")


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        ({"jobspecs": []}, "the jobspecs list is empty"),
        ({"folder": "/nonexistent/jobspecs"}, "/nonexistent/jobspecs is not a folder"),
        ("empty-folder", "holds no JobSpec file (.json, .yaml, .yml)"),
        ("same-job-id", "a job_id may appear once per batch: 'twice' in jobspecs[0], jobspecs[1]"),
    ],
)
def test_batch_refused_as_a_whole_before_anything_starts(
    instance: DagsterInstance,
    media: Media,
    out_dir: Path,
    tmp_path: Path,
    plan: Any,
    expected: str,
) -> None:
    if plan == "empty-folder":
        plan = {"folder": str(tmp_path)}
    elif plan == "same-job-id":
        plan = {"jobspecs": [spec_fields(media, out_dir, "twice")] * 2}
    outcome = batch_job.execute_in_process(
        run_config={"ops": {PLAN_OP: {"config": plan}}}, instance=instance, raise_on_error=False
    )
    assert not outcome.success
    [failure] = events(instance, outcome.run_id, DagsterEventType.STEP_FAILURE)
    assert failure.step_key == PLAN_OP
    description = failure.get_dagster_event().step_failure_data.user_failure_data.description  # type: ignore[union-attr]
    assert description is not None and expected in description
    assert description.endswith("Nothing was started.")
    started = events(instance, outcome.run_id, DagsterEventType.STEP_START)
    assert [entry.step_key for entry in started] == [PLAN_OP]
    assert listing(out_dir) == []


def test_executor_choices_never_take_retries() -> None:
    choices: list[dict[str, dict[str, Any]]] = [
        {"in_process": {}},
        {"multiprocess": {}},
        {"celery": {"broker": "redis://x"}},
    ]
    for choice in choices:
        config = {"ops": {PLAN_OP: {"config": {"jobspecs": []}}}, "execution": {"config": choice}}
        validate_run_config(batch_job, config)
        [(name, options)] = choice.items()
        with_retries = {name: {**options, "retries": {"enabled": {}}}}
        with pytest.raises(DagsterInvalidConfigError, match="retries"):
            validate_run_config(batch_job, {**config, "execution": {"config": with_retries}})


def test_forkserver_preloads_the_job_module_and_the_instance_storage(
    instance: DagsterInstance,
) -> None:
    # Without this preload every step process imported dagster's storage and proxx again.
    job = reconstructable(proxx_batch_from_module)
    for method, expected in (("forkserver", True), ("spawn", False)):
        config = {"multiprocess": {"max_concurrent": 2, "start_method": method}}
        context = InitExecutorContext(
            job=job,
            executor_def=proxx_batch_executor,
            executor_config=config,
            instance=instance,
        )
        recorded = proxx_batch_executor.executor_creation_fn(context)  # type: ignore[misc]
        assert isinstance(recorded, RunWorkerRecorded)
        executor = recorded.inner
        assert isinstance(executor, MultiprocessExecutor)
        preload = executor._explicit_forkserver_preload
        if not expected:
            assert not preload
            continue
        assert preload is not None
        assert {"dagster", "proxx_dagster", __name__} <= set(preload)
        assert "dagster._core.storage.sqlite_storage" in preload  # the instance's storage


def proxx_batch_from_module() -> JobDefinition:
    return batch_job


def test_run_config_cannot_touch_the_pinned_celery_settings() -> None:
    for key, value in PINNED_CELERY_SETTINGS.items():
        celery = {"broker": "redis://x", "config_source": {key: value}}
        config = batch_config([], celery=celery)
        with pytest.raises(DagsterInvalidConfigError, match=f"config_source:{key}"):
            validate_run_config(batch_job, config)
    assert pinned({"task_default_priority": 3}) == {
        "task_default_priority": 3,
        **PINNED_CELERY_SETTINGS,
    }


def test_celery_run_asking_for_late_acks_is_refused_before_a_run_exists(
    dagster_home: Path, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    celery = {"broker": "redis://127.0.0.1:1/0", "config_source": {"task_acks_late": True}}
    code, output = execute_batch(
        dagster_home, batch_config([spec_fields(media, out_dir)], celery=celery), tmp_path
    )
    assert code != 0
    assert "config_source:task_acks_late for enum type ProxxPinnedCelerySetting" in output
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        assert instance.get_runs() == []
    assert listing(out_dir) == []


def test_mapping_keys_are_ordered_and_valid() -> None:
    entry = BatchEntry(index=7, origin="/x/Day 1 — cam#A.yaml", document=b"", job_id=None)
    assert entry.mapping_key == "007_Day_1_cam_A"
    named = BatchEntry(index=12, origin="jobspecs[12]", document=b"", job_id="shoot-2026/a.b")
    assert named.mapping_key == "012_shoot_2026_a_b"


def test_shipped_and_documented_batch_configs_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXX_CELERY_BROKER", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("PROXX_CELERY_BACKEND", "redis://127.0.0.1:6379/1")
    shipped = yaml.safe_load((REPO / "deploy" / "batch-celery.yaml").read_text())
    validate_run_config(batch_job, shipped)
    scaling = (REPO / "docs" / "scaling.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", scaling, flags=re.DOTALL)
    run_configs = [yaml.safe_load(block) for block in blocks if block.startswith(("ops:", "exec"))]
    assert len(run_configs) == 3
    for config in run_configs:
        validate_run_config(batch_job, {**shipped, **config})
    for key in PINNED_CELERY_SETTINGS:
        assert f"`{key} =" in scaling, f"docs/scaling.md does not explain {key}"


def test_multiprocess_runs_as_many_steps_as_the_encode_pool_of_the_configured_cores(
    instance: DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unset, max_concurrent is the encode pool's size for PROXX_CORES (a rehearsed machine),
    not for this machine's count."""
    job = reconstructable(proxx_batch_from_module)
    monkeypatch.setenv("PROXX_CORES", "64")
    for asked, expected in ((None, pool_limit(64)), (3, 3)):
        context = InitExecutorContext(
            job=job,
            executor_def=proxx_batch_executor,
            executor_config={"multiprocess": {"max_concurrent": asked, "start_method": "spawn"}},
            instance=instance,
        )
        recorded = proxx_batch_executor.executor_creation_fn(context)  # type: ignore[misc]
        assert isinstance(recorded, RunWorkerRecorded)
        executor = recorded.inner
        assert isinstance(executor, MultiprocessExecutor)
        assert executor._max_concurrent == expected
