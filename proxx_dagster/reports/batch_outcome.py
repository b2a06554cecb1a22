"""How a failed batch ended, JobSpec by JobSpec, written into the run by a run-failure sensor.

Dagster fails a batch run when any step fails and names the failed steps; this adds the count
and how each failed JobSpec ended, read from the steps' own events: the step's failure (a FAILED
result's class, reason and message, or a refusal), or no result at all when its worker died.
"""

from __future__ import annotations

from dataclasses import dataclass

from dagster import (
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    DefaultSensorStatus,
    JobDefinition,
    RunFailureSensorContext,
    SensorDefinition,
    run_failure_sensor,
)

from proxx_dagster.names import (
    BATCH_COMPLETED_TAG,
    BATCH_FAILED_TAG,
    BATCH_JOB,
    BATCH_OUTCOME_SENSOR,
    BATCH_SIZE_TAG,
    EXECUTE_BATCH_OP,
)

NO_RESULT = "no result: its step ended without one (its worker was lost)"
STEP_PROCESS_DIED = "no result: its step process died mid-step (killed or crashed)"
# What Dagster's multiprocess executor raises for a step whose process died; it then fails the
# step with this error, whose own message is only the class's path.
_CHILD_PROCESS_CRASH = "ChildProcessCrashException"
_STEP_EVENTS = (
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
)


@dataclass(frozen=True)
class BatchOutcome:
    size: int
    completed: list[str]  # mapping keys
    failed: dict[str, str]  # mapping key -> what happened

    @property
    def message(self) -> str:
        if self.size == 0:
            return "the batch was not planned; no JobSpec ran"
        not_run = self.size - len(self.completed) - len(self.failed)
        details = "; ".join(f"{key}: {why}" for key, why in sorted(self.failed.items()))
        text = f"{len(self.failed)} of {self.size} JobSpecs failed"
        text += f" ({details})" if details else ""
        text += f", {len(self.completed)} completed"
        return text + (f", {not_run} not run" if not_run > 0 else "")


def step_failure_says(event: DagsterEvent | None) -> str | None:
    """What a step failure says in its own words, for the batch outcome and the night report:
    the op's description (a FAILED result's "CLASS REASON: message", or a refusal), else the
    error's first line (a step process that died says so)."""
    data = event.step_failure_data if event else None
    if data is None:
        return None
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    if data.error is not None and data.error.cls_name == _CHILD_PROCESS_CRASH:
        return STEP_PROCESS_DIED
    if data.error is not None and data.error.message.strip():
        return data.error.message.strip().splitlines()[0]
    return None


def failure_text(event: DagsterEvent) -> str:
    """A step failure in one line (`step_failure_says`, first line, shortened)."""
    text = (step_failure_says(event) or "failed").strip()
    line = text.splitlines()[0] if text else "failed"
    return line if len(line) <= 160 else line[:157] + "..."


def batch_outcome(instance: DagsterInstance, run_id: str) -> BatchOutcome:
    """Each JobSpec step of the run: completed, failed (saying how), or ended without a result."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        raise ValueError(f"no run {run_id}")
    started: set[str] = set()
    succeeded: set[str] = set()
    failures: dict[str, str] = {}
    for event_type in _STEP_EVENTS:
        for record in instance.get_records_for_run(run_id, of_type=event_type).records:
            entry = record.event_log_entry
            step = entry.step_key or ""
            event = entry.dagster_event
            if event is None or not step.startswith(f"{EXECUTE_BATCH_OP}["):
                continue
            if event_type is DagsterEventType.STEP_START:
                started.add(step)
            elif event_type is DagsterEventType.STEP_SUCCESS:
                succeeded.add(step)
            else:
                failures[step] = failure_text(event)
    failed = {_mapping_key(step): failures.get(step, NO_RESULT) for step in started - succeeded}
    completed = sorted(_mapping_key(step) for step in succeeded)
    return BatchOutcome(int(run.tags.get(BATCH_SIZE_TAG, "0")), completed, failed)


def _mapping_key(step_key: str) -> str:
    return step_key.removeprefix(f"{EXECUTE_BATCH_OP}[").removesuffix("]")


def build_batch_outcome_sensor(batch_job: JobDefinition) -> SensorDefinition:
    # Every code location is watched, not only this one: a batch executed by a command
    # (`dg launch --job proxx_batch`) belongs to no code location, and Dagster would leave it
    # out of a sensor that names its jobs. The job's name picks the batches.
    @run_failure_sensor(
        name=BATCH_OUTCOME_SENSOR,
        monitor_all_code_locations=True,
        default_status=DefaultSensorStatus.RUNNING,
        description="Writes into each failed proxx_batch run how many of its JobSpecs failed "
        "and why, and tags the run with the counts.",
    )
    def proxx_batch_outcome(context: RunFailureSensorContext) -> None:
        run = context.dagster_run
        if run.job_name != batch_job.name:
            # Not a SkipReason: Dagster's run status sensor stops its look at the first one,
            # and the batch runs after it in that look were acted on again at the next.
            return
        outcome = batch_outcome(context.instance, run.run_id)
        context.instance.add_run_tags(
            run.run_id,
            {
                BATCH_FAILED_TAG: str(len(outcome.failed)),
                BATCH_COMPLETED_TAG: str(len(outcome.completed)),
            },
        )
        context.instance.report_engine_event(f"{BATCH_JOB}: {outcome.message}", run)

    return proxx_batch_outcome
