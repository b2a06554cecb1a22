"""proxx_dagster: the Dagster code location around proxx_exec.

Orchestration (runs, queues, schedules, assets) lives here; execution stays in proxx_exec.
"""

from proxx_dagster.builders import build_definitions, build_proxx_job
from proxx_dagster.component import ProxxComponent
from proxx_dagster.jobs.audit_job import build_audit_job
from proxx_dagster.jobs.batch import build_batch_job
from proxx_dagster.jobs.folder_job import build_proxx_folder_job
from proxx_dagster.jobs.ops import build_execute_jobspec_op, proxx_resources
from proxx_dagster.no_retry import (
    NO_RETRY_EXECUTOR_CONFIG,
    NO_RETRY_TAGS,
    RetryConfigurationError,
    assert_no_retries,
)
from proxx_dagster.result_io import ExecutionResultIOManager, ExecutionResultType
from proxx_dagster.settings import ProxxAutomation, SettingsProblem
from proxx_dagster.translator import ProxxTranslator
from proxx_dagster.watch.folder_spec import FolderProblem, build_folder_job

__all__ = [
    "NO_RETRY_EXECUTOR_CONFIG",
    "NO_RETRY_TAGS",
    "ExecutionResultIOManager",
    "ExecutionResultType",
    "FolderProblem",
    "ProxxAutomation",
    "ProxxComponent",
    "ProxxTranslator",
    "RetryConfigurationError",
    "SettingsProblem",
    "assert_no_retries",
    "build_audit_job",
    "build_batch_job",
    "build_definitions",
    "build_execute_jobspec_op",
    "build_folder_job",
    "build_proxx_folder_job",
    "build_proxx_job",
    "proxx_resources",
]
