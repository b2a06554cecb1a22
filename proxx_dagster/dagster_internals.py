"""Every use of Dagster's private modules (`dagster._…`), in one place, each with its reason.

Dagster's public API (`import dagster`) lacks these; the rest of proxx_dagster uses the public
API only. When a Dagster upgrade moves one of them, this is the only module to change.
"""

from __future__ import annotations

from dagster import DagsterInstance, EventLogRecord, InitExecutorContext

# A check evaluation reported for a partition counts as current (the asset page shows its
# status) only when it names the materialization it checked; AssetCheckEvaluation takes that as
# this record, which `dagster` does not export.
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

# The executor's init context holds its job as a ReconstructableJob when the job was loaded from
# code; only that class knows the module, and no public accessor exposes it.
from dagster._core.definitions.reconstruct import ReconstructableJob

# An engine event with metadata, reported into a run from outside it (a sensor linking the
# night report from each run): `DagsterInstance.report_engine_event` takes it, but Dagster's
# public API does not export the class.
from dagster._core.events import EngineEventData

# An executor that wraps Dagster's own (to record the run worker before it orchestrates, see
# watch/orphans.py) implements `Executor`'s abstract members, whose types Dagster does not export.
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.execution.step_dependency_config import StepDependencyConfig

# A run launcher that sends whole runs to Celery (launcher.py) overrides `launch_run`, whose
# context type Dagster does not export, and sends the run the way dagster-celery's own launcher
# does: the execute-run arguments, packed with Dagster's serializer.
from dagster._core.launcher import LaunchRunContext

# Dagster's own run tags. Dagster publishes no constants for its system tags, and proxx both sets
# them (a run that can never be retried, a run's place in the queue) and reads them (a run that
# is a retry, a run's key).
from dagster._core.storage.tags import (
    MAX_RETRIES_TAG,
    PRIORITY_TAG,
    RETRY_NUMBER_TAG,
    RETRY_ON_ASSET_OR_OP_FAILURE_TAG,
    RUN_KEY_TAG,
    WILL_RETRY_TAG,
)

# The arguments of a whole run executed by a worker (`execute_job`), as dagster-celery's own
# launcher builds them.
from dagster._grpc.types import ExecuteRunArgs

# What an instance's dagster.yaml configures (storage, compute logs, run launcher, ...) is held
# as ConfigurableClassData in its InstanceRef; the public API has the objects, not their modules.
from dagster._serdes import ConfigurableClassData, pack_value

# Whether a string is a cron schedule Dagster accepts: the automation's cron setting is checked
# when it is read, so a wrong one is named in plain words rather than when the schedule is built.
from dagster._utils.schedules import is_valid_cron_string

__all__ = [
    "MAX_RETRIES_TAG",
    "PRIORITY_TAG",
    "RETRY_NUMBER_TAG",
    "RETRY_ON_ASSET_OR_OP_FAILURE_TAG",
    "RUN_KEY_TAG",
    "WILL_RETRY_TAG",
    "ConfigurableClassData",
    "EngineEventData",
    "ExecuteRunArgs",
    "ExecutionPlan",
    "LaunchRunContext",
    "PlanOrchestrationContext",
    "RetryMode",
    "StepDependencyConfig",
    "instance_class_modules",
    "is_valid_cron_string",
    "job_module",
    "materialization_target",
    "pack_value",
]


def job_module(init_context: InitExecutorContext) -> str | None:
    """The module the executor's job was loaded from, if it was loaded from a module."""
    job = init_context.job
    return job.get_module() if isinstance(job, ReconstructableJob) else None


def instance_class_modules(instance: DagsterInstance) -> list[str]:
    """The modules of the classes the instance's dagster.yaml configures, in its order."""
    return [
        value.module_name
        for value in instance.get_ref()
        if isinstance(value, ConfigurableClassData)
    ]


def materialization_target(record: EventLogRecord) -> AssetCheckEvaluationTargetMaterializationData:
    """What an AssetCheckEvaluation names as the materialization it checked."""
    return AssetCheckEvaluationTargetMaterializationData(
        storage_id=record.storage_id,
        run_id=record.event_log_entry.run_id,
        timestamp=record.timestamp,
    )
