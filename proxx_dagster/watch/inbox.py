"""The inbox sensor: each JobSpec file dropped into the inbox folder launches one run.

The run key is the file's content fingerprint, so Dagster's own run-key bookkeeping (kept with
the runs in the instance, and consulted again after a daemon restart) guarantees that a file is
launched once: none lost, none taken twice. Editing a file makes it a new job.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    DefaultSensorStatus,
    JobDefinition,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from proxx_dagster.names import DOCUMENT_JOB, INBOX_SENSOR
from proxx_dagster.settings import ProxxAutomation
from proxx_dagster.watch.run_requests import (
    CLOCK_MARGIN_S,
    know_the_encode_pool,
    launched_run_keys,
    run_request,
)
from proxx_dagster.watch.spec_files import read_specs


def build_inbox_sensor(job: JobDefinition, automation: ProxxAutomation) -> SensorDefinition:
    @sensor(
        name=INBOX_SENSOR,
        job=job,
        minimum_interval_seconds=automation.inbox_interval_s,
        default_status=DefaultSensorStatus.STOPPED,
        description="Launches each JobSpec file dropped into the inbox folder once (write it "
        "under a hidden name and rename it into place).",
    )
    def proxx_inbox(
        context: SensorEvaluationContext, proxx_automation: ProxxAutomation
    ) -> Iterator[RunRequest | SkipReason]:
        if not proxx_automation.inbox_folder:
            yield SkipReason("no inbox folder configured (PROXX_INBOX_FOLDER)")
            return
        spec_files = read_specs(Path(proxx_automation.inbox_folder), context.log)
        if not spec_files:
            return
        # A file's run is created after the file was written: older runs cannot be its run.
        oldest = min(spec_file.modified for spec_file in spec_files) - CLOCK_MARGIN_S
        launched = launched_run_keys(
            context.instance, DOCUMENT_JOB, datetime.fromtimestamp(oldest, UTC)
        )
        know_the_encode_pool(context.instance, context.log)
        for spec_file in spec_files:
            run_key = f"inbox:{spec_file.content_fingerprint}"
            if run_key not in launched:
                yield run_request(spec_file, run_key, "inbox")

    return proxx_inbox
