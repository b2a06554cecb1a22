"""Helpers for Dagster tests: run config from JobSpec fields, events of a run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import DagsterEventType, DagsterInstance, EventLogEntry

from proxx_exec import ExecutionResult
from tests.helpers import Media


def spec_fields(
    media: Media, out_dir: Path, job_id: str = "dg-job", **change: Any
) -> dict[str, Any]:
    """A small valid JobSpec on the standard clip, as launchpad config fields."""
    return {
        "spec_version": "1",
        "job_id": job_id,
        "sources": [str(media.standard)],
        "output_dir": str(out_dir),
        "profile": "h264_quarter",
        "clip_timeout_s": 120,
        **change,
    }


def run_config(spec: dict[str, Any]) -> dict[str, Any]:
    return {"ops": {"execute_jobspec": {"config": spec}}}


def events(
    instance: DagsterInstance, run_id: str, event_type: DagsterEventType
) -> list[EventLogEntry]:
    records = instance.get_records_for_run(run_id, of_type=event_type).records
    return [record.event_log_entry for record in records]


def step_failure(instance: DagsterInstance, run_id: str) -> str:
    """The message of the run's first step failure (a proxx refusal or a job's failure)."""
    failure = events(instance, run_id, DagsterEventType.STEP_FAILURE)[0]
    return failure.get_dagster_event().step_failure_data.error.message  # type: ignore[union-attr]


def output_metadata(instance: DagsterInstance, run_id: str, step: str = "") -> dict[str, Any]:
    """The metadata of the run's one step output (of the steps whose key starts with `step`)."""
    [output] = [
        entry
        for entry in events(instance, run_id, DagsterEventType.STEP_OUTPUT)
        if str(entry.step_key).startswith(step)
    ]
    return dict(output.get_dagster_event().step_output_data.metadata)


def stored_result(instance: DagsterInstance, run_id: str) -> ExecutionResult:
    """The one ExecutionResult a one-step run stored."""
    [result] = stored_results(instance, run_id).values()
    return result


def stored_results(instance: DagsterInstance, run_id: str) -> dict[str, ExecutionResult]:
    """The ExecutionResults the run's steps stored through our IO manager, by step key."""
    stored = {}
    for entry in events(instance, run_id, DagsterEventType.HANDLED_OUTPUT):
        metadata = entry.get_dagster_event().event_specific_data.metadata  # type: ignore[union-attr]
        if "proxx/result_path" in metadata:
            path = Path(str(metadata["proxx/result_path"].value))
            stored[str(entry.step_key)] = ExecutionResult.from_json(path.read_text())
    return stored
