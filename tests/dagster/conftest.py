"""A real Dagster instance per test: a temporary DAGSTER_HOME on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance

from benchmarks.dagster_processes import dagster_home as new_home
from proxx_dagster.names import ENCODE_POOL
from proxx_dagster.sizing import instance_yaml

INSTANCE_YAML = "telemetry:\n  enabled: false\n"


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    return new_home(tmp_path, "dagster_home", INSTANCE_YAML)


@pytest.fixture
def instance(dagster_home: Path) -> Iterator[DagsterInstance]:
    with DagsterInstance.from_config(str(dagster_home)) as dagster_instance:
        yield dagster_instance


SIZED_CORES = 16


@pytest.fixture
def sized_instance(tmp_path: Path) -> Iterator[DagsterInstance]:
    """An instance as shipped (`python -m proxx_dagster.sizing`): its pools have a default."""
    home = new_home(tmp_path, "sized_home", instance_yaml(SIZED_CORES))
    with DagsterInstance.from_config(str(home)) as dagster_instance:
        yield dagster_instance


def pool_places(instance: DagsterInstance) -> int | None:
    """The encode pool's places as the instance knows them (None: it does not know the pool)."""
    storage = instance.event_log_storage
    if ENCODE_POOL not in storage.get_concurrency_keys():
        return None
    return storage.get_concurrency_info(ENCODE_POOL).slot_count
