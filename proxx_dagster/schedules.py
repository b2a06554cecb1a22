"""The nightly schedule: every JobSpec file in the nightly folder, once per night, in name order."""

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

from proxx_dagster.names import DOCUMENT_JOB, NIGHTLY_SCHEDULE
from proxx_dagster.resources import ProxxAutomation
from proxx_dagster.spec_files import launched_run_keys, read_specs, run_request
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
