"""The code location: `proxx_job`, the proxx assets and checks, the result IO manager.

`dagster dev` and `workspace.yaml` load `defs` from here.
"""

from __future__ import annotations

from typing import Any

from dagster import Definitions, JobDefinition, in_process_executor, job

from proxx_dagster.assets import asset_specs, declared_checks
from proxx_dagster.io import ExecutionResultIOManager
from proxx_dagster.no_retry import NO_RETRY_EXECUTOR_CONFIG, NO_RETRY_TAGS, assert_no_retries
from proxx_dagster.ops import (
    RESULT_IO_MANAGER_KEY,
    build_execute_document_op,
    build_execute_jobspec_op,
)
from proxx_dagster.orphans import build_orphan_sensor
from proxx_dagster.resources import ProxxAutomation
from proxx_dagster.schedules import build_nightly_schedule
from proxx_dagster.sensors import build_inbox_sensor
from proxx_dagster.spec_files import DOCUMENT_JOB
from proxx_dagster.translator import ProxxTranslator

# `dagster job execute` arguments that run proxx_job in the calling process (no daemon);
# add `-c RUN_CONFIG`. The command takes -m/-f, not -w.
EXECUTE_PROXX_JOB = ("job", "execute", "-m", __name__, "-a", "defs", "-j", "proxx_job")


def proxx_resources() -> dict[str, Any]:
    """Resources a job needs to run our op; pass them to your Definitions when you wrap it."""
    return {RESULT_IO_MANAGER_KEY: ExecutionResultIOManager()}


def build_proxx_job(translator: ProxxTranslator | None = None) -> JobDefinition:
    execute_jobspec = build_execute_jobspec_op(translator)

    @job(
        name="proxx_job",
        description="Make verified editing proxies for one JobSpec (paste it as the op config).",
        tags=dict(NO_RETRY_TAGS),
        executor_def=in_process_executor.configured(NO_RETRY_EXECUTOR_CONFIG),
        resource_defs=proxx_resources(),
    )
    def proxx_job() -> None:
        execute_jobspec()

    return proxx_job


def build_document_job(translator: ProxxTranslator | None = None) -> JobDefinition:
    """The job the schedule and the sensor launch: a JobSpec file's exact bytes in."""
    execute_document = build_execute_document_op(translator)

    @job(
        name=DOCUMENT_JOB,
        description="Run one JobSpec file (launched by proxx_nightly and proxx_inbox).",
        tags=dict(NO_RETRY_TAGS),
        executor_def=in_process_executor.configured(NO_RETRY_EXECUTOR_CONFIG),
        resource_defs=proxx_resources(),
    )
    def proxx_document_job() -> None:
        execute_document()

    return proxx_document_job


def build_definitions(
    translator: ProxxTranslator | None = None, automation: ProxxAutomation | None = None
) -> Definitions:
    """Everything proxx contributes to a code location, checked for retry configuration.

    `automation` defaults to the PROXX_* environment variables of the code location.
    """
    names = translator or ProxxTranslator()
    settings = automation or ProxxAutomation.from_environment()
    document_job = build_document_job(names)
    defs = Definitions(
        jobs=[build_proxx_job(names), document_job],
        assets=asset_specs(names),
        asset_checks=[declared_checks(names)],
        schedules=[build_nightly_schedule(document_job, settings)],
        sensors=[build_inbox_sensor(document_job, settings), build_orphan_sensor(settings)],
        resources={"proxx_automation": settings},
    )
    return assert_no_retries(defs)


defs = build_definitions()
proxx_job = defs.resolve_job_def("proxx_job")
