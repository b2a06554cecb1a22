"""What proxx contributes to a code location, built from settings given explicitly: `proxx_job`,
`proxx_folder_job`, `proxx_batch`, the proxx assets and checks, the automation.

Importing this (or `proxx_dagster`) reads no environment variable; the code location itself,
`proxx_dagster.definitions:defs`, is built from the PROXX_* variables when it is loaded.
"""

from __future__ import annotations

from dagster import Definitions, JobDefinition

from proxx_dagster.assets import asset_specs, declared_checks
from proxx_dagster.jobs.audit_job import build_audit_job, declared_audit_check
from proxx_dagster.jobs.batch import build_batch_job
from proxx_dagster.jobs.executors import IN_PROCESS_EXECUTOR
from proxx_dagster.jobs.folder_job import build_proxx_folder_job
from proxx_dagster.jobs.ops import (
    build_execute_document_op,
    build_execute_jobspec_op,
    proxx_resources,
)
from proxx_dagster.names import AUTOMATION_RESOURCE, BATCH_JOB, DOCUMENT_JOB, FOLDER_JOB, PROXX_JOB
from proxx_dagster.no_retry import assert_no_retries, single_op_job
from proxx_dagster.reports.batch_outcome import build_batch_outcome_sensor
from proxx_dagster.reports.night_report import build_night_report_sensor
from proxx_dagster.reports.summary import build_failure_alert_sensor, build_night_summary_sensor
from proxx_dagster.schedules import build_audit_schedule, build_nightly_schedule
from proxx_dagster.settings import ProxxAutomation
from proxx_dagster.translator import ProxxTranslator
from proxx_dagster.watch.inbox import build_inbox_sensor
from proxx_dagster.watch.orphans import build_orphan_sensor
from proxx_dagster.watch.watch_sensor import build_watch_sensor

# The shell command that runs a job of ours (LAUNCHER, EXECUTE_DEFS_JOB + name) or proxx_job
# (LAUNCHER, EXECUTE_PROXX_JOB) on the instance of $DAGSTER_HOME, with the calling process as
# orchestrator (no daemon, no webserver); add `-c RUN_CONFIG_FILE`. `dg launch --job` runs the
# job in process like the `dagster job execute` it supersedes, and exits 1 when the run fails.
LAUNCHER = "dg"
CODE_LOCATION_MODULE = "proxx_dagster.definitions"  # its `defs`: workspace.yaml, pyproject.toml
EXECUTE_DEFS_JOB = ("launch", "-m", CODE_LOCATION_MODULE, "-a", "defs", "--job")
EXECUTE_PROXX_JOB = (*EXECUTE_DEFS_JOB, PROXX_JOB)


def build_proxx_job(translator: ProxxTranslator | None = None) -> JobDefinition:
    """`proxx_job`: one JobSpec, pasted as the op config, run in process with retries disabled.

    .. code-block:: python

        from dagster import Definitions
        from proxx_dagster import assert_no_retries, build_proxx_job, proxx_resources

        defs = assert_no_retries(
            Definitions(jobs=[build_proxx_job()], resources=proxx_resources())
        )
    """
    return single_op_job(
        PROXX_JOB,
        "Make verified editing proxies for one JobSpec (paste it as the op config).",
        build_execute_jobspec_op(translator),
        IN_PROCESS_EXECUTOR,
        proxx_resources(),
    )


def build_document_job(translator: ProxxTranslator | None = None) -> JobDefinition:
    """The job the schedule and the sensor launch: a JobSpec file's exact bytes in."""
    return single_op_job(
        DOCUMENT_JOB,
        "Run one JobSpec file (launched by proxx_nightly and proxx_inbox).",
        build_execute_document_op(translator),
        IN_PROCESS_EXECUTOR,
        proxx_resources(),
    )


def build_definitions(
    translator: ProxxTranslator | None = None, automation: ProxxAutomation | None = None
) -> Definitions:
    """Everything proxx contributes to a code location, checked for retry configuration:
    `proxx_job`, `proxx_batch`, the document job, the audit job, the assets and checks, the
    nightly and audit schedules, the inbox, orphan and batch-outcome sensors and their resources.

    `automation` defaults to the PROXX_* environment variables of the code location, read now
    (`ProxxAutomation.from_environment`; a wrong one raises SettingsProblem, in plain words).

    .. code-block:: python

        from proxx_dagster import ProxxTranslator, build_definitions
        from proxx_dagster.settings import ProxxAutomation

        defs = build_definitions(
            translator=ProxxTranslator(),
            automation=ProxxAutomation(inbox_folder="/proxies/inbox", timezone="Europe/Berlin"),
        )
    """
    names = translator or ProxxTranslator()
    settings = automation or ProxxAutomation.from_environment()
    document_job = build_document_job(names)
    batch_job = build_batch_job(names)
    folder_job = build_proxx_folder_job(names, settings)
    audit_job = build_audit_job(names)
    night_jobs = (PROXX_JOB, FOLDER_JOB, DOCUMENT_JOB, BATCH_JOB)
    defs = Definitions(
        jobs=[build_proxx_job(names), folder_job, document_job, batch_job, audit_job],
        assets=asset_specs(names),
        asset_checks=[declared_checks(names), declared_audit_check(names)],
        schedules=[
            build_nightly_schedule(document_job, settings),
            build_audit_schedule(audit_job, settings),
        ],
        sensors=[
            build_inbox_sensor(document_job, settings),
            build_watch_sensor(folder_job, settings),
            build_orphan_sensor(settings),
            build_batch_outcome_sensor(batch_job),
            build_night_report_sensor(night_jobs, settings),
            build_night_summary_sensor(night_jobs, settings),
            build_failure_alert_sensor(night_jobs, settings),
        ],
        resources={AUTOMATION_RESOURCE: settings},
    )
    return assert_no_retries(defs)
