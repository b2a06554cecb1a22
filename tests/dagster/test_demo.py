"""The demo runs a real proxy job through `dg launch` on its own SQLite instance, and its closing
hint is one line that survives copy and paste on a narrow terminal."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus

from benchmarks.dagster_processes import REPO, dagster_env
from proxx_exec import ExecutionResult


def test_demo_runs_a_job_and_prints_a_pasteable_ui_command(tmp_path: Path) -> None:
    folder = tmp_path / "demo folder"  # a space: the hint must quote it
    completed = subprocess.run(
        [sys.executable, "-m", "proxx_dagster.demo", str(folder)],
        cwd=tmp_path,
        env={**dagster_env(tmp_path / "elsewhere"), "COLUMNS": "40"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    home = folder / "dagster_home"
    hint = shlex.split(completed.stdout.strip().splitlines()[-1])
    assert hint == [f"DAGSTER_HOME={home}", "python3", str(REPO / "dev.py"), "ui"]
    with DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
    assert (run.job_name, run.status) == ("proxx_job", DagsterRunStatus.SUCCESS)
    [result_file] = (folder / "proxies" / "demo-001").glob("*.proxx-result.json")
    result = ExecutionResult.from_json(result_file.read_text())
    assert result.completed and [c.state.value for c in result.clips] == ["COMMITTED"] * 3
    assert not (tmp_path / "elsewhere").exists()  # the demo's own instance, not $DAGSTER_HOME
