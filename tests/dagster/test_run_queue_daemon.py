"""The run queue of the sized instance, with dagster-daemon in a subprocess: the encode pool, not
the run limit, decides when a run starts (no run is started to wait at the pool), a queued run
is launched within about a second of a place freeing (Dagster's default looks every 5 s, and
the machine stood idle that long between runs), and the higher priority goes first."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from benchmarks.dagster_processes import daemon
from benchmarks.processes import wait_for
from proxx_dagster.names import ENCODE_POOL, PRIORITY_TAG, RUN_KEY_TAG
from proxx_dagster.sizing import instance_yaml, max_concurrent_runs, pool_limit
from tests.dagster.helpers import events

pytestmark = pytest.mark.alone  # it measures how soon a run starts: see tests/conftest.py

CORES = 12  # four places in the pool: 3 encode slots + 1 ahead; the run limit is eight
# How long each run's op pauses, in the order the sensor asks for them. The four runs that fill
# the pool last longer than launching a run takes, the first ending 12 s before the others:
# Dagster's code server answers a launch once the run worker has started (seconds on a loaded
# machine) and the queue launches nothing else meanwhile, so each place frees while the queue is
# idle, as in a night of long runs. The two waiting runs pause 8 s: longer than the 5 s for which
# the queue still counts a place for a run that has just started, so the second waiting run goes
# into the second place to free, not into the first waiting run's.
PAUSES_S = (15, 27, 27, 27, 8, 8)
# Their queue priorities (proxx's sensors give the heavier work the higher one): the last run
# asked for goes before the one asked for just before it.
PRIORITIES = (-1, -1, -1, -1, -201, -100)
FILLING = 4
MOST_IDLE_S = 1.5  # the 1 s dequeue look, plus the look itself on a loaded machine

# A code location of one job, its op in the encode pool as proxx's are, and a sensor that asks
# for all its runs in one tick, making the pool known first as proxx's sensors do.
LOCATION = f"""
import time
from dagster import DefaultSensorStatus, Definitions, RunRequest, in_process_executor, job, op
from dagster import sensor
from proxx_dagster.watch.run_requests import know_the_encode_pool

@op(pool="{ENCODE_POOL}")
def pause(context) -> None:
    time.sleep(float(context.run.tags["pause_s"]))

@job(executor_def=in_process_executor)
def queued_job() -> None:
    pause()

@sensor(job=queued_job, minimum_interval_seconds=1, default_status=DefaultSensorStatus.RUNNING)
def burst(context):
    know_the_encode_pool(context.instance, context.log)
    for number, (pause_s, priority) in enumerate(zip({PAUSES_S}, {PRIORITIES})):
        tags = {{"pause_s": str(pause_s), "{PRIORITY_TAG}": str(priority)}}
        yield RunRequest(run_key=str(number), tags=tags)

defs = Definitions(jobs=[queued_job], sensors=[burst])
"""


def launched(instance: DagsterInstance, run_id: str) -> float:
    [starting] = events(instance, run_id, DagsterEventType.RUN_STARTING)
    return starting.timestamp


def place_freed(instance: DagsterInstance, run_id: str) -> float:
    """When the run's op gave its place in the pool back: as its step succeeded."""
    [success] = events(instance, run_id, DagsterEventType.STEP_SUCCESS)
    return success.timestamp


def test_a_queued_run_starts_within_a_second_or_so_of_a_place_freeing(tmp_path: Path) -> None:
    assert pool_limit(CORES) == FILLING < len(PAUSES_S) < max_concurrent_runs(CORES)
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(CORES))
    (tmp_path / "location.py").write_text(LOCATION)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(f"load_from:\n  - python_file: {tmp_path / 'location.py'}\n")
    with DagsterInstance.from_config(str(home)) as instance:
        with daemon(home, workspace, tmp_path / "daemon.log"):
            wait_for(
                lambda: (
                    len(runs := instance.get_run_records()) == len(PAUSES_S)
                    and all(r.dagster_run.is_finished for r in runs)
                ),
                240,
                "every run to finish",
            )
        records = instance.get_run_records()
        assert all(r.dagster_run.status is DagsterRunStatus.SUCCESS for r in records)
        # All were queued before any place freed, so each place that freed had a run waiting.
        freed = sorted(place_freed(instance, r.dagster_run.run_id) for r in records)
        assert max(r.create_timestamp.timestamp() for r in records) < freed[0]
        starts = sorted(launched(instance, r.dagster_run.run_id) for r in records)
        keys = {
            launched(instance, r.dagster_run.run_id): r.dagster_run.tags[RUN_KEY_TAG]
            for r in records
        }
    # The run limit would have started all six at once; the pool's four places held two back
    # until places freed: the i-th waiting run is launched into the i-th place to free.
    seen = {"launched": [x - starts[0] for x in starts], "freed": [x - starts[0] for x in freed]}
    assert starts[FILLING - 1] < freed[0] < starts[FILLING], f"a run beyond the pool: {seen}"
    # The queue takes the higher priority first, whatever the order the runs were asked for in.
    assert [keys[start] for start in starts[FILLING:]] == ["5", "4"], seen
    idle = [start - free for start, free in zip(starts[FILLING:], freed, strict=False)]
    print("place freed -> waiting run launched (s):", [f"{gap:.2f}" for gap in idle])
    assert len(idle) == 2 and all(0 <= gap <= MOST_IDLE_S for gap in idle), idle
