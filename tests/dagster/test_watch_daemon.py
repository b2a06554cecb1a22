"""A camera card copied under the watch root, end to end with dagster-daemon in a subprocess: no
run while the copy is in progress, one run once it settled, verified proxies, no JobSpec written
by anyone; later clips make one more run of their own."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from benchmarks.dagster_processes import BIN, REPO, daemon, dagster_env
from benchmarks.processes import wait_for
from proxx_dagster.names import FOLDER_JOB, FOLDER_TAG
from proxx_exec import ExecutionResult
from tests.helpers import Media, slow_copy

SETTLE_S = 3
CHUNKS = 8
CHUNK_PAUSE_S = 1.0  # shorter than the settle time: the copy never looks settled


def test_a_card_copied_under_the_watch_root_becomes_proxies(
    media: Media, shipped_home: Path, tmp_path: Path
) -> None:
    home = shipped_home
    root = tmp_path / "incoming"
    card = root / "A001 Día 1"
    root.mkdir()
    env = {
        "PROXX_WATCH_ROOTS": str(root),
        "PROXX_WATCH_SETTLE_S": str(SETTLE_S),
        "PROXX_WATCH_INTERVAL_S": "5",
        "PROXX_PROFILE": "h264_quarter",
    }
    workspace = REPO / "workspace.yaml"
    subprocess.run(
        [str(BIN / "dagster"), "sensor", "start", "proxx_watch", "-w", str(workspace)],
        cwd=REPO,
        env=dagster_env(home, **env),
        check=True,
        capture_output=True,
        timeout=120,
    )
    with (
        DagsterInstance.from_config(str(home)) as instance,
        daemon(home, workspace, tmp_path / "daemon.log", **env),
    ):

        def runs() -> list[Any]:
            return list(instance.get_runs(RunsFilter(job_name=FOLDER_JOB)))

        copies = [
            threading.Thread(
                target=slow_copy,
                args=(media.standard, card / "CLIP" / name, CHUNKS, CHUNK_PAUSE_S),
            )
            for name in ("A001C001.mov", "A001C002.mov")
        ]
        for copy in copies:
            copy.start()
        for copy in copies:
            copy.join()
        (card / "CLIP" / "A001C001.xml").write_text("<sidecar/>")
        copied = time.time()
        wait_for(lambda: any(r.is_finished for r in runs()), 180, "the card's run to finish")
        [run] = runs()
        assert run.status is DagsterRunStatus.SUCCESS
        [record] = instance.get_run_records(RunsFilter(run_ids=[run.run_id]))
        assert record.create_timestamp.timestamp() >= copied  # never while copying
        assert run.tags[FOLDER_TAG] == str(card)
        first = ExecutionResult.from_json(
            (card / "Proxy" / f"{run.tags['proxx/job_id']}.proxx-result.json").read_text()
        )
        assert first.completed
        assert [Path(c.source).name for c in first.clips] == ["A001C001.mov", "A001C002.mov"]

        shutil.copyfile(media.standard, card / "A001C003.mov")
        wait_for(
            lambda: len(runs()) == 2 and all(r.is_finished for r in runs()),
            120,
            "a second run for the new clip",
        )
        time.sleep(12)  # two more looks of the sensor: nothing else is launched
        assert len(runs()) == 2
        second_run = next(r for r in runs() if r.run_id != run.run_id)
    assert second_run.status is DagsterRunStatus.SUCCESS
    second = ExecutionResult.from_json(
        (card / "Proxy" / f"{second_run.tags['proxx/job_id']}.proxx-result.json").read_text()
    )
    assert [Path(c.source).name for c in second.clips] == ["A001C003.mov"]
    assert sorted(p.name for p in (card / "Proxy").glob("*.mov")) == [
        "A001C001.mov",
        "A001C002.mov",
        "A001C003.mov",
    ]
