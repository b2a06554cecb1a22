"""Helpers for Dagster tests: run config from JobSpec fields, events of a run."""

from __future__ import annotations

from typing import Any

from dagster import DagsterEventType, DagsterInstance, EventLogEntry


def run_config(spec: dict[str, Any]) -> dict[str, Any]:
    return {"ops": {"execute_jobspec": {"config": spec}}}


def events(
    instance: DagsterInstance, run_id: str, event_type: DagsterEventType
) -> list[EventLogEntry]:
    records = instance.get_records_for_run(run_id, of_type=event_type).records
    return [record.event_log_entry for record in records]
