"""Every name proxx shows in Dagster, defined once: jobs, ops, schedules, sensors, resources and
run tags. Asset keys, check names and metadata keys belong to `ProxxTranslator` (overridable).
"""

from __future__ import annotations

# Dagster's own run tags, which proxx sets and reads, come from Dagster through the adapter.
from proxx_dagster.dagster_internals import (
    MAX_RETRIES_TAG,
    PRIORITY_TAG,
    RETRY_NUMBER_TAG,
    RETRY_ON_ASSET_OR_OP_FAILURE_TAG,
    RUN_KEY_TAG,
)

__all__ = [
    "ASSET_GROUP",
    "AUDIT_CHECKS_DEFINITION",
    "AUDIT_JOB",
    "AUDIT_OP",
    "AUDIT_SCHEDULE",
    "AUTOMATION_RESOURCE",
    "BATCH_COMPLETED_TAG",
    "BATCH_EXECUTOR",
    "BATCH_FAILED_TAG",
    "BATCH_JOB",
    "BATCH_OUTCOME_SENSOR",
    "BATCH_SIZE_TAG",
    "CARD_TAG",
    "CHECKS_DEFINITION",
    "DOCUMENT_JOB",
    "DOCUMENT_OP",
    "ENCODE_POOL",
    "EXECUTE_BATCH_OP",
    "EXECUTE_OP",
    "FAILURE_ALERT_SENSOR",
    "FINISH_OP",
    "FOLDER_JOB",
    "FOLDER_OP",
    "FOLDER_TAG",
    "INBOX_SENSOR",
    "JOB_ID_TAG",
    "JOB_PARTITIONS",
    "MAX_RETRIES_TAG",
    "NIGHTLY_SCHEDULE",
    "NIGHT_REPORT_SENSOR",
    "NIGHT_SUMMARY_SENSOR",
    "ORPHAN_SENSOR",
    "PARTS_TAG",
    "PART_OP",
    "PLAN_OP",
    "PRIORITY_TAG",
    "PROXX_JOB",
    "PROXX_OP_TAG",
    "RESULT_IO_MANAGER_KEY",
    "RETRY_NUMBER_TAG",
    "RETRY_ON_ASSET_OR_OP_FAILURE_TAG",
    "RUN_KEY_TAG",
    "RUN_WORKER_CREATED_TAG",
    "RUN_WORKER_HOST_TAG",
    "RUN_WORKER_PID_TAG",
    "SPEC_FILE_TAG",
    "TRIGGER_TAG",
    "VOLUME_TAG",
    "WATCH_SENSOR",
]

# Jobs and their ops.
PROXX_JOB = "proxx_job"
EXECUTE_OP = "execute_jobspec"
DOCUMENT_JOB = "proxx_document_job"  # launched by the schedule and the sensor
DOCUMENT_OP = "execute_jobspec_document"
BATCH_JOB = "proxx_batch"
PLAN_OP = "plan_batch"
EXECUTE_BATCH_OP = "execute_batch_jobspec"
BATCH_EXECUTOR = "proxx_batch_executor"
FOLDER_JOB = "proxx_folder_job"  # launched from the folder launchpad and the watch sensor
FOLDER_OP = "plan_card"  # the launchpad's config: builds the card's JobSpecs, one per part
PART_OP = "make_part_proxies"  # one step per part JobSpec
FINISH_OP = "finish_card"  # the card's contact sheet; fails the run when a part failed
AUDIT_JOB = "proxx_audit"  # audits the committed proxies of materialized partitions
AUDIT_OP = "audit_proxies"

# Schedules, sensors, the asset group, the asset checks' definition, the partitions, resources.
NIGHTLY_SCHEDULE = "proxx_nightly"
AUDIT_SCHEDULE = "proxx_audit_nightly"
INBOX_SENSOR = "proxx_inbox"
ORPHAN_SENSOR = "proxx_orphaned_runs"
WATCH_SENSOR = "proxx_watch"
BATCH_OUTCOME_SENSOR = "proxx_batch_outcome"
NIGHT_REPORT_SENSOR = "proxx_night_report"
NIGHT_SUMMARY_SENSOR = "proxx_night_summary"
FAILURE_ALERT_SENSOR = "proxx_failure_alert"
ASSET_GROUP = "proxx"
CHECKS_DEFINITION = "proxx_verification"
AUDIT_CHECKS_DEFINITION = "proxx_audit_checks"
JOB_PARTITIONS = "proxx_jobs"
RESULT_IO_MANAGER_KEY = "proxx_result_io_manager"
# The automation resource's key; also the parameter name of the ops, schedules and sensors that
# take it (Dagster matches them by name).
AUTOMATION_RESOURCE = "proxx_automation"

# The concurrency pool of the steps that encode (op tag `dagster/concurrency_key`).
ENCODE_POOL = "proxx_encode"

# Op tag marking the ops that run proxx_exec; the load-time retry check looks for it.
PROXX_OP_TAG = "proxx/executes_jobspec"

# Run tags set by proxx.
JOB_ID_TAG = "proxx/job_id"
SPEC_FILE_TAG = "proxx/spec_file"
TRIGGER_TAG = "proxx/trigger"  # "nightly", "inbox" or "watch"
FOLDER_TAG = "proxx/folder"  # the card folder a folder job was built from
CARD_TAG = "proxx/card"  # the card's id: its one job's id, or the stem of its parts' ids
PARTS_TAG = "proxx/parts"  # how many jobs (parts) the card was cut into
VOLUME_TAG = "proxx/output_volume"  # shown on the run; no limit keys on it (docs/benchmarks.md)
BATCH_SIZE_TAG = "proxx/batch_size"
BATCH_FAILED_TAG = "proxx/batch_failed"
BATCH_COMPLETED_TAG = "proxx/batch_completed"
# The run worker (written once, by the run worker itself; see watch/orphans.py).
RUN_WORKER_HOST_TAG = "proxx/run_worker_host"
RUN_WORKER_PID_TAG = "proxx/run_worker_pid"
RUN_WORKER_CREATED_TAG = "proxx/run_worker_created"  # the process's create time, epoch seconds
