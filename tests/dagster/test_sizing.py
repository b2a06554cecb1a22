"""The instance settings sized for N cores: the shipped files are what the module writes for 16
cores, the numbers follow the profiles' thread counts, and Dagster reads them as meant."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from dagster import DagsterInstance

from benchmarks.processes import wait_for
from proxx_dagster.builders import build_definitions
from proxx_dagster.names import (
    BATCH_JOB,
    DOCUMENT_JOB,
    DOCUMENT_OP,
    ENCODE_POOL,
    EXECUTE_BATCH_OP,
    EXECUTE_OP,
    FOLDER_JOB,
    FOLDER_OP,
    PART_OP,
    PLAN_OP,
    PROXX_JOB,
)
from proxx_dagster.sizing import (
    ahead,
    encode_slots,
    instance_yaml,
    max_concurrent_runs,
    most_threads,
    pool_limit,
)
from proxx_exec import BUILTIN_PROFILES

REPO = Path(__file__).resolve().parents[2]
SHIPPED_CORES = 16


@pytest.mark.parametrize(
    ("name", "postgres"), [("dagster.yaml", False), ("dagster.postgres.yaml", True)]
)
def test_the_shipped_files_are_what_the_module_writes(name: str, postgres: bool) -> None:
    assert (REPO / "deploy" / name).read_text() == instance_yaml(SHIPPED_CORES, postgres), (
        f"deploy/{name} differs: python -m proxx_dagster.sizing --cores {SHIPPED_CORES}"
        + (" --postgres" if postgres else "")
        + f" > deploy/{name}"
    )


def test_the_numbers_follow_the_profiles_threads() -> None:
    threads = max(p.threads for p in BUILTIN_PROFILES.values())
    assert most_threads() == threads
    assert encode_slots(1) == 1  # never none
    assert encode_slots(64) == 64 // threads
    assert ahead(1) == 1 and ahead(100) == 10  # 6 s of start-up per 60 s clip
    for cores in (1, 2, 16, 64, 4096):
        slots = encode_slots(cores)
        assert pool_limit(cores) == slots + ahead(slots)
        # the pool decides when an encoding run starts; the rest are runs past their encodes
        assert max_concurrent_runs(cores) == 2 * pool_limit(cores)


def test_dagster_reads_the_settings_as_meant(tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text(instance_yaml(64))
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        concurrency = instance.get_concurrency_config()
        queue = concurrency.run_queue_config
        assert queue is not None and queue.max_concurrent_runs == max_concurrent_runs(64)
        assert queue.tag_concurrency_limits == []  # no per-volume limit
        # a run is launched only when the pool has a place for its first step, nothing spare
        assert queue.should_block_op_concurrency_limited_runs
        assert concurrency.pool_config.op_granularity_run_buffer == 0  # set, not a default
        assert concurrency.pool_config.default_pool_limit == pool_limit(64)
        assert concurrency.pool_config.pool_granularity.value == "op"  # type: ignore[union-attr]
        coordinator = instance.run_coordinator
        assert getattr(coordinator, "dequeue_interval_seconds", None) == 1
        assert getattr(coordinator, "dequeue_use_threads", None) is True


def _sizing(*args: str, cores: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin"} | ({"PROXX_CORES": cores} if cores else {})
    return subprocess.run(
        [sys.executable, "-m", "proxx_dagster.sizing", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=env,
    )


def test_the_command_sizes_for_proxx_cores_and_says_what_is_wrong() -> None:
    assert _sizing(cores="64").stdout == instance_yaml(64)
    assert _sizing("--cores", "8", "--postgres", cores="64").stdout == instance_yaml(8, True)
    wrong = _sizing(cores="many")
    assert (wrong.returncode, wrong.stderr.strip()) == (
        2,
        "PROXX_CORES='many': not a whole number of cores; set e.g. PROXX_CORES=16",
    )
    assert "Traceback" not in _sizing("--cores", "0").stderr


def test_every_encoding_op_waits_for_the_encode_pool() -> None:
    """The pool sizes every encode on the machine, not only a card's parts: an op that runs a
    JobSpec outside it would put more threads on the cores than the sizing planned."""
    encoding = {}
    for job in build_definitions().resolve_all_job_defs():
        for node in job.graph.node_defs:
            if node.name in {PART_OP, EXECUTE_BATCH_OP, DOCUMENT_OP, EXECUTE_OP}:
                encoding[node.name] = getattr(node, "pool", None)
    assert encoding == dict.fromkeys(
        [PART_OP, EXECUTE_BATCH_OP, DOCUMENT_OP, EXECUTE_OP], ENCODE_POOL
    )


def test_every_run_that_encodes_begins_in_the_encode_pool() -> None:
    """The run queue holds a run back while the pool is full only if each of its first steps
    waits for that pool: a run beginning outside it would be launched, then wait at the pool,
    spinning a core (the test below)."""
    first_steps = {}
    for job in build_definitions().resolve_all_job_defs():
        pools = {node.name: getattr(node.definition, "pool", None) for node in job.graph.nodes}
        if ENCODE_POOL in pools.values():
            upstream = job.graph.dependency_structure.input_to_upstream_outputs_for_node
            first_steps[job.name] = {name: pools[name] for name in pools if not upstream(name)}
    assert first_steps == {
        BATCH_JOB: {PLAN_OP: ENCODE_POOL},
        DOCUMENT_JOB: {DOCUMENT_OP: ENCODE_POOL},
        FOLDER_JOB: {FOLDER_OP: ENCODE_POOL},
        PROXX_JOB: {EXECUTE_OP: ENCODE_POOL},
    }


# A one-op job whose op waits at a full pool, run in process; used by the test below.
WAITING_JOB = """
import sys
from dagster import DagsterInstance, execute_job, in_process_executor, job, op, reconstructable

@op(pool="full")
def waits() -> None:
    pass

@job(executor_def=in_process_executor)
def waiting() -> None:
    waits()

if __name__ == "__main__":
    with DagsterInstance.get() as instance:
        instance.event_log_storage.set_concurrency_slots("full", 1)
        instance.event_log_storage.claim_concurrency_slot("full", "another-run", "its-step")
        sys.stdout.write("waiting\\n")
        sys.stdout.flush()
        execute_job(reconstructable(waiting), instance=instance)
"""


@pytest.mark.alone  # it measures a process's CPU share
def test_a_step_waiting_at_a_full_pool_keeps_a_core_busy(tmp_path: Path) -> None:
    """Why the sizing starts no run just to wait at the pool (sizing.py, docs/scaling.md): in
    Dagster 1.13 the wait does not sleep. When this fails, Dagster's wait sleeps: starting runs
    ahead to wait at the pool may be worth it again."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (tmp_path / "waiting.py").write_text(WAITING_JOB)
    process = subprocess.Popen(
        [sys.executable, str(tmp_path / "waiting.py")],
        cwd=tmp_path,
        env={"DAGSTER_HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    try:
        with DagsterInstance.from_config(str(home)) as instance:

            def waiting() -> bool:
                info = instance.event_log_storage.get_concurrency_info("full")
                return info.pending_step_count > 0

            wait_for(waiting, 120, "the step to wait at the pool")
        watched = psutil.Process(process.pid)
        before, began = sum(watched.cpu_times()[:2]), time.monotonic()
        time.sleep(4)
        busy = (sum(watched.cpu_times()[:2]) - before) / (time.monotonic() - began)
    finally:
        process.kill()
        process.wait()
    assert busy > 0.5, f"the waiting run used {busy:.0%} of a core"
