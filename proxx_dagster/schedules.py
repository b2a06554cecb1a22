"""The schedules: `proxx_nightly` (every JobSpec file in the nightly folder, once per night, in
name order) and `proxx_audit_nightly` (the audit job, stopped until an operator starts it)."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from dagster import (
    DefaultScheduleStatus,
    JobDefinition,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from proxx_dagster.names import (
    AUDIT_JOB,
    AUDIT_SCHEDULE,
    DOCUMENT_JOB,
    NIGHTLY_SCHEDULE,
)
from proxx_dagster.no_retry import NO_RETRY_TAGS
from proxx_dagster.settings import ProxxAutomation
from proxx_dagster.watch.run_requests import know_the_encode_pool, launched_run_keys, run_request
from proxx_dagster.watch.spec_files import read_specs
from proxx_exec.naming import result_path

DATE_TOKEN = "{date}"  # noqa: S105 - a template token, not a secret


def build_nightly_schedule(job: JobDefinition, automation: ProxxAutomation) -> ScheduleDefinition:
    @schedule(
        name=NIGHTLY_SCHEDULE,
        job=job,
        cron_schedule=automation.cron,
        execution_timezone=automation.timezone,
        default_status=DefaultScheduleStatus.STOPPED,
        description="Runs every JobSpec file in the nightly folder once per night, in file-name "
        f"order. {DATE_TOKEN} in a file becomes the night's date (YYYY-MM-DD).",
    )
    def proxx_nightly(
        context: ScheduleEvaluationContext, proxx_automation: ProxxAutomation
    ) -> Iterator[RunRequest | SkipReason]:
        if not proxx_automation.nightly_folder:
            yield SkipReason("no nightly folder configured (PROXX_NIGHTLY_FOLDER)")
            return
        night = context.scheduled_execution_time.date().isoformat()
        already = launched_run_keys(
            context.instance, DOCUMENT_JOB, context.scheduled_execution_time - timedelta(days=2)
        )
        know_the_encode_pool(context.instance, context.log)
        launched = 0
        folder = Path(proxx_automation.nightly_folder)
        for spec_file in read_specs(folder, context.log, {DATE_TOKEN: night}):
            spec = spec_file.spec
            if spec is not None and Path(result_path(spec.output_dir, spec.job_id)).exists():
                context.log.info(
                    f"{spec_file.path}: job {spec.job_id} already has a result; not launched"
                )
                continue
            run_key = f"{night}:{spec_file.content_fingerprint}"
            if run_key in already:
                continue
            launched += 1
            yield run_request(spec_file, run_key, "nightly")
        if not launched:
            yield SkipReason("no JobSpec to run tonight")

    return proxx_nightly


# Four hours after the nightly schedule's default (02:00), when its jobs have usually ended.
DEFAULT_AUDIT_CRON = "0 6 * * *"


def build_audit_schedule(
    audit_job: JobDefinition, automation: ProxxAutomation, cron: str = DEFAULT_AUDIT_CRON
) -> ScheduleDefinition:
    """`proxx_audit_nightly`: launch the audit job on `cron` in the automation's time zone.
    Stopped until an operator starts it."""
    return ScheduleDefinition(
        name=AUDIT_SCHEDULE,
        job=audit_job,
        cron_schedule=cron,
        execution_timezone=automation.timezone,
        default_status=DefaultScheduleStatus.STOPPED,
        tags=dict(NO_RETRY_TAGS),
        description=f"Runs {AUDIT_JOB} ({cron}, {automation.timezone}): every materialized "
        "partition's proxies checked against its ExecutionResult.",
    )
