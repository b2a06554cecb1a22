"""proxx_job through a real Dagster instance (SQLite) and real FFmpeg."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    AssetKey,
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    ReexecutionOptions,
    TableMetadataValue,
    build_reconstructable_job,
    execute_job,
    validate_run_config,
)
from dagster._core.execution.api import execute_run

from proxx_dagster import assert_no_retries
from proxx_dagster.definitions import defs, proxx_job
from proxx_dagster.translator import COMPLETED_CHECK
from proxx_exec import ExecutionResult, JobSpec, Status, execute
from proxx_exec.verify import CHECK_NAMES
from tests.dagster.helpers import events, run_config, spec_fields, step_failure, stored_result
from tests.helpers import Media, clear, engine_calls, listing, write_engine_wrapper

PROXIES = AssetKey(["proxx", "proxies"])
SOURCES = AssetKey(["proxx", "source_media"])


def test_success_typed_output_stored_json_assets_and_checks(
    instance: DagsterInstance, media: Media, out_dir: Path
) -> None:
    fields = spec_fields(media, out_dir)
    outcome = proxx_job.execute_in_process(run_config=run_config(fields), instance=instance)
    assert outcome.success
    typed = outcome.output_for_node("execute_jobspec")
    assert isinstance(typed, ExecutionResult) and typed.status is Status.COMPLETED
    assert stored_result(instance, outcome.run_id) == typed

    materialization = instance.get_latest_materialization_event(PROXIES)
    assert materialization is not None and materialization.asset_materialization is not None
    assert materialization.asset_materialization.partition == "dg-job"
    metadata = materialization.asset_materialization.metadata
    assert metadata["proxx/result_digest"].value == typed.digest
    assert metadata["proxx/spec_fingerprint"].value == typed.spec_fingerprint
    assert typed.engine is not None and typed.engine.sha256 in str(metadata["proxx/engine"].value)
    assert typed.prober is not None
    assert metadata["proxx/prober"].value == typed.prober.describe()
    clips = metadata["proxx/clips"]
    assert isinstance(clips, TableMetadataValue)
    rows = clips.records
    assert rows[0].data["sha256"] == typed.clips[0].output_sha256
    assert str(rows[0].data["argv"]).startswith("ffmpeg ")
    assert instance.get_dynamic_partitions("proxx_jobs") == ["dg-job"]
    observed = events(instance, outcome.run_id, DagsterEventType.ASSET_OBSERVATION)
    observation = observed[0].get_dagster_event().asset_observation_data.asset_observation
    assert observation.asset_key == SOURCES and observation.partition == "dg-job"
    assert observation.metadata["proxx/sources"].value == [str(media.standard)]
    graph = defs.resolve_asset_graph()
    assert SOURCES in graph.get(PROXIES).parent_keys  # lineage: source media -> proxies

    checks = events(instance, outcome.run_id, DagsterEventType.ASSET_CHECK_EVALUATION)
    reported = {e.get_dagster_event().asset_check_evaluation_data.check_name: e for e in checks}
    # every check but `look_applied`, which only a job with a look has
    assert set(reported) == {COMPLETED_CHECK, *CHECK_NAMES} - {"look_applied"}
    assert all(e.get_dagster_event().asset_check_evaluation_data.passed for e in checks)

    # The same JobSpec through proxx_exec directly gives the same result digest.
    clear(out_dir)
    assert execute(JobSpec.model_validate(fields)).digest == typed.digest


def wrapper_failing(tmp_path: Path, kind: str) -> str:
    bodies = {
        "exit": 'case "$*" in *-c:v*) exit 3;; esac\nexec "$REAL" "$@"',
        "frames": 'case "$*" in *-c:v*) for last; do :; done\n'
        '  n=$#; i=0; for a; do i=$((i+1)); [ $i -lt $n ] && set -- "$@" "$a"; done\n'
        '  shift $n; exec "$REAL" "$@" -frames:v 5 "$last";; esac\nexec "$REAL" "$@"',
    }
    return str(write_engine_wrapper(tmp_path, bodies[kind]))


@pytest.mark.parametrize(
    ("case", "failure_class", "reason"),
    [
        ("missing", "VALIDATION", "SOURCE_MISSING"),
        ("exit", "EXECUTION", "NONZERO_EXIT"),
        ("frames", "VERIFICATION", "FRAME_COUNT_MISMATCH"),
        ("bad_profile", "VALIDATION", "PROFILE_INVALID"),
    ],
)
def test_each_failure_class_fails_the_step_and_keeps_the_result(
    case: str,
    failure_class: str,
    reason: str,
    instance: DagsterInstance,
    media: Media,
    out_dir: Path,
    tmp_path: Path,
) -> None:
    changes: dict[str, dict[str, Any]] = {
        "missing": {"sources": [str(tmp_path / "gone.mov")]},
        "exit": {"engine": wrapper_failing(tmp_path, "exit")} if case == "exit" else {},
        "frames": {"engine": wrapper_failing(tmp_path, "frames")} if case == "frames" else {},
        "bad_profile": {"profile": {"name": "x"}},
    }
    change = changes[case]
    outcome = proxx_job.execute_in_process(
        run_config=run_config(spec_fields(media, out_dir, **change)),
        instance=instance,
        raise_on_error=False,
    )
    assert not outcome.success
    failures = events(instance, outcome.run_id, DagsterEventType.STEP_FAILURE)
    assert len(failures) == 1
    error_data = failures[0].get_dagster_event().step_failure_data
    user_failure = error_data.user_failure_data
    assert user_failure is not None
    metadata = user_failure.metadata
    assert metadata["proxx/failure_class"].value == failure_class
    assert metadata["proxx/failure_reason"].value == reason
    result = stored_result(instance, outcome.run_id)
    assert result.status is Status.FAILED
    assert metadata["proxx/result_digest"].value == result.digest
    assert (result.failure.failure_class.value, result.failure.reason.value) == (  # type: ignore[union-attr]
        failure_class,
        reason,
    )
    assert instance.get_latest_materialization_event(PROXIES) is None
    # Only the job's record: its result, or a refusal's record that leaves the job_id free.
    assert [n for n in listing(out_dir) if not n.startswith("dg-job.proxx-")] == []


def test_launchpad_schema_lists_every_jobspec_field_with_its_description() -> None:
    config_field = proxx_job.graph.node_dict["execute_jobspec"].definition.config_field
    assert config_field is not None
    fields = config_field.config_type.fields  # type: ignore[attr-defined]
    assert set(fields) == set(JobSpec.model_fields)
    for name, info in JobSpec.model_fields.items():
        assert fields[name].description == info.description
        assert fields[name].is_required == info.is_required()


def test_executor_retries_cannot_be_turned_on(media: Media, out_dir: Path) -> None:
    config = {
        **run_config(spec_fields(media, out_dir)),
        "execution": {"config": {"retries": {"enabled": {}}}},
    }
    resolved = validate_run_config(proxx_job, config)  # the configured executor ignores it
    assert resolved["execution"] == {"in_process": {"retries": {"disabled": {}}}}


def test_launch_tags_cannot_enable_run_retries(
    instance: DagsterInstance, media: Media, out_dir: Path
) -> None:
    outcome = proxx_job.execute_in_process(
        run_config=run_config(spec_fields(media, out_dir)),
        instance=instance,
        tags={"dagster/max_retries": "3", "dagster/retry_on_asset_or_op_failure": "true"},
    )
    assert outcome.success
    run = instance.get_run_by_id(outcome.run_id)
    assert run is not None
    assert run.tags["dagster/max_retries"] == "0"
    assert run.tags["dagster/retry_on_asset_or_op_failure"] == "false"


def test_op_refuses_to_run_as_an_automatic_retry(
    instance: DagsterInstance, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    fields = spec_fields(media, out_dir, engine=str(wrapper))
    outcome = proxx_job.execute_in_process(
        run_config=run_config(fields),
        instance=instance,
        tags={"dagster/retry_number": "1"},
        raise_on_error=False,
    )
    assert not outcome.success
    message = step_failure(instance, outcome.run_id)
    assert "refuses" in message and "retried_from" in message
    assert engine_calls(tmp_path) == []  # not even `-version`
    assert listing(out_dir) == []


def test_op_refuses_a_reexecution_from_failure(
    instance: DagsterInstance, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    job = build_reconstructable_job("proxx_dagster.builders", "build_proxx_job")
    fields = spec_fields(media, out_dir, engine=wrapper_failing(tmp_path, "exit"))
    with execute_job(job, instance, run_config=run_config(fields)) as first:
        assert not first.success
    calls_after_first = len(engine_calls(tmp_path))
    options = ReexecutionOptions.from_failure(first.run_id, instance)
    with execute_job(job, instance, reexecution_options=options) as second:
        assert not second.success
        assert second.dagster_run.parent_run_id == first.run_id
        assert "re-execution of run" in step_failure(instance, second.run_id)
    assert len(engine_calls(tmp_path)) == calls_after_first  # FFmpeg never started again


def test_op_refuses_a_resumed_attempt(
    instance: DagsterInstance, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    """A run whose step already started once (as when a crashed run worker is resumed)."""
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    job = build_reconstructable_job("proxx_dagster.builders", "build_proxx_job")
    run = instance.create_run_for_job(
        proxx_job, run_config=run_config(spec_fields(media, out_dir, engine=str(wrapper)))
    )
    instance.report_engine_event("first attempt", run)  # the run existed before
    instance.report_dagster_event(
        DagsterEvent(
            DagsterEventType.STEP_START.value,
            job_name="proxx_job",
            step_key="execute_jobspec",
            message="earlier attempt of the step",
        ),
        run_id=run.run_id,
    )
    assert not execute_run(job, run, instance).success  # how a run worker executes a run
    assert "resumed attempt" in step_failure(instance, run.run_id)
    assert engine_calls(tmp_path) == []
    assert listing(out_dir) == []


def test_definitions_pass_their_own_retry_check() -> None:
    assert assert_no_retries(defs) is defs
    assert json.loads(json.dumps(dict(proxx_job.tags))) == {
        "dagster/max_retries": "0",
        "dagster/retry_on_asset_or_op_failure": "false",
    }
