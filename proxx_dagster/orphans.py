"""Runs whose worker died are found and reported failed, never resumed or reassigned.

The op records where it runs (host, pid and the process's start time, so a reused pid is not
mistaken for the worker). The `proxx_orphaned_runs` sensor looks at started proxx runs of its
own host and reports those whose worker is gone as failed. Dagster's run monitoring does the
same only for run launchers with worker health checks, which the default launcher lacks.
"""

import os
import socket
from collections.abc import Iterator
from pathlib import Path

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    OpExecutionContext,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from proxx_dagster.names import ORPHAN_SENSOR, WORKER_HOST_TAG, WORKER_PID_TAG, WORKER_STARTED_TAG
from proxx_dagster.resources import ProxxAutomation


def process_start_ticks(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def record_worker(context: OpExecutionContext) -> None:
    context.instance.add_run_tags(
        context.run_id,
        {
            WORKER_HOST_TAG: socket.gethostname(),
            WORKER_PID_TAG: str(os.getpid()),
            WORKER_STARTED_TAG: process_start_ticks(os.getpid()) or "unknown",
        },
    )


def worker_alive(pid: int, started: str) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        zombie = "\nState:\tZ" in status.read_text()
    except OSError:
        return False
    return not zombie and process_start_ticks(pid) == started


def build_orphan_sensor(automation: ProxxAutomation) -> SensorDefinition:
    @sensor(
        name=ORPHAN_SENSOR,
        minimum_interval_seconds=automation.orphan_interval_s,
        default_status=DefaultSensorStatus.RUNNING,
        description="Reports started proxx runs on this host whose run worker has died as "
        "failed. Never resumes or relaunches them.",
    )
    def proxx_orphaned_runs(context: SensorEvaluationContext) -> Iterator[SkipReason]:
        host = socket.gethostname()
        started = context.instance.get_runs(
            RunsFilter(statuses=[DagsterRunStatus.STARTED], tags={WORKER_HOST_TAG: host})
        )
        reported = []
        for run in started:
            pid = run.tags.get(WORKER_PID_TAG, "")
            if pid.isdigit() and not worker_alive(int(pid), run.tags.get(WORKER_STARTED_TAG, "")):
                context.instance.report_run_failed(
                    run,
                    message=f"the run worker (pid {pid} on {host}) died while the run was "
                    "in progress; proxx does not resume or retry it. Any staging folder it "
                    "left is named by the next validation of the job.",
                )
                reported.append(run.run_id)
        yield SkipReason(
            f"{len(started)} started proxx run(s) on {host}; reported failed: "
            f"{', '.join(reported) or 'none'}"
        )

    return proxx_orphaned_runs
