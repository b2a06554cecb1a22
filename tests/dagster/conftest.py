"""A real Dagster instance per test: a temporary DAGSTER_HOME on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import DagsterInstance

from benchmarks.dagster_processes import dagster_home as new_home

INSTANCE_YAML = "telemetry:\n  enabled: false\n"


@pytest.fixture
def dagster_home(tmp_path: Path) -> Path:
    return new_home(tmp_path, "dagster_home", INSTANCE_YAML)


@pytest.fixture
def instance(dagster_home: Path) -> Iterator[DagsterInstance]:
    with DagsterInstance.from_config(str(dagster_home)) as dagster_instance:
        yield dagster_instance
