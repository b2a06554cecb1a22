"""Runs whose run worker died are found and reported failed, never resumed or reassigned.

What is judged is the run worker: the one process that runs the run's executor (Dagster's
`dagster api execute_run`, or the `dagster job execute` / `dg launch` process). It records
itself once, as the executor starts: host, pid and its create time, so a later process given the
same pid is not mistaken for it. Steps never write it: in a multiprocess or Celery run, step
processes end while the run goes on, and a step whose process dies is reported as a failed step
by the executor in the (living) run worker. In process, the run worker is the step's process.

The `proxx_orphaned_runs` sensor looks at started proxx runs whose run worker is on its own host
and reports those whose run worker is gone (at two looks in a row) as failed. Dagster's run
monitoring does the same only for run launchers with a worker health check, which the default
launcher lacks; Dagster's code server reports a run worker it started that exits, but not one
it no longer knows (the code server restarted or died with it), nor a run executed by a
command (`dg launch`). Liveness comes from psutil, the same on Linux and macOS; when it cannot
tell (a process it may not inspect), the run is left alone: a healthy run is never reported
failed. A multiprocess step process ends itself when its run worker is gone
(`end_with_run_worker`), so it never works on for a run already reported failed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from typing import Any

import psutil
from dagster import (
    DagsterEvent,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    DefaultSensorStatus,
    Executor,
    ExecutorDefinition,
    InitExecutorContext,
    RunsFilter,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from proxx_dagster.dagster_internals import (
    ExecutionPlan,
    PlanOrchestrationContext,
    RetryMode,
    StepDependencyConfig,
)
from proxx_dagster.names import (
    ORPHAN_SENSOR,
    RUN_WORKER_CREATED_TAG,
    RUN_WORKER_HOST_TAG,
    RUN_WORKER_PID_TAG,
)
from proxx_dagster.settings import ProxxAutomation

# The run worker also hands its record to the step processes it starts, which inherit its
# environment: a run's tags can lose it (Dagster's run storage rewrites the whole tag set, so the
# daemon adding its own tag at launch may write back a set read before ours), the environment
# cannot. Steps read it from there and write the tags again where they were lost.
RUN_WORKER_ENV = "PROXX_RUN_WORKER"

# Two readings of one process's create time may differ: psutil derives it from the boot time,
# which the kernel reports in whole seconds and recomputes when the clock is adjusted.
_SAME_START_S = 1.0


@dataclass(frozen=True)
class RunWorker:
    host: str
    pid: int
    created: float  # the process's create time, seconds since the epoch

    @classmethod
    def this_process(cls) -> RunWorker:
        return cls(socket.gethostname(), os.getpid(), psutil.Process().create_time())

    @classmethod
    def from_tags(cls, tags: Mapping[str, str]) -> RunWorker | None:
        try:
            return cls(
                tags[RUN_WORKER_HOST_TAG],
                int(tags[RUN_WORKER_PID_TAG]),
                float(tags[RUN_WORKER_CREATED_TAG]),
            )
        except (KeyError, ValueError):
            return None

    @classmethod
    def handed_down(cls, run_id: str) -> RunWorker | None:
        """The run worker of `run_id`, as its executor handed it to this process (none: this
        process was not started by that run's worker, e.g. a Celery worker)."""
        try:
            record = json.loads(os.environ.get(RUN_WORKER_ENV, ""))
            if record["run_id"] != run_id:
                return None
            return cls(str(record["host"]), int(record["pid"]), float(record["created"]))
        except (ValueError, TypeError, KeyError):
            return None

    def hand_down(self, run_id: str) -> None:
        os.environ[RUN_WORKER_ENV] = json.dumps(
            {"run_id": run_id, "host": self.host, "pid": self.pid, "created": self.created}
        )

    def tags(self) -> dict[str, str]:
        return {
            RUN_WORKER_HOST_TAG: self.host,
            RUN_WORKER_PID_TAG: str(self.pid),
            RUN_WORKER_CREATED_TAG: repr(self.created),
        }

    def is_gone(self) -> bool:
        """Whether this process (on this host) has surely ended: no process has its pid, the
        one that has it started at another time (a reused pid), or it is a zombie."""
        try:
            process = psutil.Process(self.pid)
            if abs(process.create_time() - self.created) > _SAME_START_S:
                return True
            return process.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:  # ZombieProcess included
            return True
        except psutil.AccessDenied:
            return False  # it exists; not ours to inspect, so not ours to call dead


def end_with_run_worker(instance: DagsterInstance, run: DagsterRun) -> None:
    """In a step of a run, write the run worker's tags again if they were lost. In a step
    process below its run worker (a multiprocess step: the run worker, or the forkserver it
    started, is its parent), end this process when the run worker ends, so no step encodes on
    into the staging folder of a run already reported failed. On Linux its engine then dies with
    it (proxx_exec/process.py). A thread polls the worker every second: nothing else learns of a
    SIGKILL. In process, on Celery workers, or without a record, it does nothing more."""
    worker = RunWorker.handed_down(run.run_id)
    if worker is None:
        return
    if RunWorker.from_tags(run.tags) != worker:
        instance.add_run_tags(run.run_id, worker.tags())
    if worker.host != socket.gethostname() or worker.pid == os.getpid():
        return
    try:
        below = any(parent.pid == worker.pid for parent in psutil.Process().parents())
    except psutil.Error:
        return
    if below and not worker.is_gone():
        threading.Thread(target=_end_when_gone, args=(worker,), daemon=True).start()


def _end_when_gone(worker: RunWorker) -> None:
    while not worker.is_gone():
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGKILL)  # as if killed with it: no result, nothing committed


class RunWorkerRecorded(Executor):
    """Dagster's executor, which first records the process running it (the run worker) in the
    run's tags. `execute` runs only in the run worker: step processes and Celery workers run
    their steps without it."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        worker = RunWorker.this_process()
        worker.hand_down(plan_context.run_id)  # before any step process starts
        plan_context.instance.add_run_tags(plan_context.run_id, worker.tags())
        return self.inner.execute(plan_context, execution_plan)

    @property
    def retries(self) -> RetryMode:
        return self.inner.retries

    @property
    def step_dependency_config(self) -> StepDependencyConfig:
        return self.inner.step_dependency_config

    def __getattr__(self, name: str) -> Any:
        # An executor's own code reads it back through the plan context (dagster-celery's
        # execution loop calls `executor.app_args()`): everything else is the inner one's.
        if name == "inner":  # not yet set (an object being built or unpickled)
            raise AttributeError(name)
        return getattr(self.inner, name)


def recording_run_worker(definition: ExecutorDefinition) -> ExecutorDefinition:
    """`definition` whose executors record their run worker (configure it afterwards)."""
    create = definition.executor_creation_fn
    assert create is not None, f"executor {definition.name!r} cannot create an executor"

    def creation_fn(init_context: InitExecutorContext) -> Executor:
        return RunWorkerRecorded(create(init_context))

    return ExecutorDefinition(
        name=definition.name,
        config_schema=definition.config_field,
        requirements=definition.get_requirements,
        executor_creation_fn=creation_fn,
        description=definition.description,
    )


def report_orphaned_runs(
    instance: DagsterInstance, host: str, gone_before: Set[str]
) -> tuple[int, set[str], list[str]]:
    """Look at every started run whose run worker was on `host`. A run whose worker is gone is
    reported failed when its worker was already gone at the previous look (`gone_before`):
    Dagster's code server reports a run worker it started that exits within a second, and one
    look's wait keeps the two from both reporting it. Returns how many runs were looked at, the
    runs whose worker is gone now (for the next look) and the ids of those reported."""
    started = instance.get_runs(
        RunsFilter(statuses=[DagsterRunStatus.STARTED], tags={RUN_WORKER_HOST_TAG: host})
    )
    gone: set[str] = set()
    reported = []
    for run in started:
        worker = RunWorker.from_tags(run.tags)
        if worker is None or not worker.is_gone():
            continue
        if run.run_id not in gone_before:
            gone.add(run.run_id)
            continue
        # Read again after seeing the worker gone: it may have ended the run just before it
        # exited, and a dead worker can change nothing any more.
        now = instance.get_run_by_id(run.run_id)
        if now is None or now.status is not DagsterRunStatus.STARTED:
            continue
        instance.report_run_failed(
            now,
            message=f"the run worker (pid {worker.pid} on {host}) died while the run was in "
            "progress; proxx does not resume or retry it. Any staging folder it left is named "
            "by the next validation of the job.",
        )
        reported.append(run.run_id)
    return len(started), gone, reported


def build_orphan_sensor(automation: ProxxAutomation) -> SensorDefinition:
    @sensor(
        name=ORPHAN_SENSOR,
        minimum_interval_seconds=automation.orphan_interval_s,
        default_status=DefaultSensorStatus.RUNNING,
        description="Reports started proxx runs whose run worker (on this host) has died as "
        "failed. Never resumes or relaunches them.",
    )
    def proxx_orphaned_runs(context: SensorEvaluationContext) -> Iterator[SkipReason]:
        host = socket.gethostname()
        gone_before = set(json.loads(context.cursor)) if context.cursor else set()
        looked_at, gone, reported = report_orphaned_runs(context.instance, host, gone_before)
        context.update_cursor(json.dumps(sorted(gone)))
        yield SkipReason(
            f"{looked_at} started proxx run(s) with their run worker on {host}; worker gone: "
            f"{', '.join(sorted(gone)) or 'none'}; reported failed: {', '.join(reported) or 'none'}"
        )

    return proxx_orphaned_runs
