"""A JobSpec file's run request (the file's exact bytes, its volume, trigger and place in the
queue as tags), the run keys already launched, asked of the instance, that the schedule and the
inbox sensor skip, and the encode pool made known before any of proxx's sensors asks for runs."""

from __future__ import annotations

import base64
import logging
import os
from datetime import datetime
from pathlib import Path

from dagster import DagsterInstance, RunRequest, RunsFilter
from sqlalchemy.exc import SQLAlchemyError

from proxx_dagster.names import (
    DOCUMENT_OP,
    ENCODE_POOL,
    JOB_ID_TAG,
    RUN_KEY_TAG,
    SPEC_FILE_TAG,
    TRIGGER_TAG,
    VOLUME_TAG,
)
from proxx_dagster.no_retry import NO_RETRY_TAGS
from proxx_dagster.watch.priority import priority_tags
from proxx_dagster.watch.spec_files import SpecFile
from proxx_exec import JobSpec


def output_volume(spec: JobSpec | None) -> str:
    """The mount point holding the output folder: runs writing to one volume share a limit."""
    if spec is None:
        return "unknown"
    path = Path(spec.output_dir)
    while not path.exists() and path != path.parent:
        path = path.parent
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return str(path)


# Seconds looked back before a file's time when asking for the runs made from it: the run
# is created after the file, but clocks of the machines involved may disagree a little.
CLOCK_MARGIN_S = 60


def launched_run_keys(instance: DagsterInstance, job_name: str, since: datetime) -> set[str]:
    """Run keys of the job's runs created since `since`, read from the runs themselves.

    Dagster skips a run key it finds through its tag index, but on PostgreSQL a daemon killed
    between writing a run and writing that run's tag rows leaves a run its index cannot find,
    and the next tick would launch the file again. The run record always carries its tags, so
    this look does not depend on the index.
    """
    runs = instance.get_runs(RunsFilter(job_name=job_name, created_after=since))
    return {key for run in runs if (key := run.tags.get(RUN_KEY_TAG))}


def run_request(spec_file: SpecFile, run_key: str, source: str) -> RunRequest:
    tags = {
        **NO_RETRY_TAGS,
        SPEC_FILE_TAG: str(spec_file.path),
        TRIGGER_TAG: source,
        VOLUME_TAG: output_volume(spec_file.spec),
    }
    if spec_file.spec is not None:  # a file that is no JobSpec is refused at once, at priority 0
        tags[JOB_ID_TAG] = spec_file.spec.job_id
        tags |= priority_tags([spec_file.spec.sources], spec_file.spec.profile)
    return RunRequest(
        run_key=run_key,
        run_config={
            "ops": {
                DOCUMENT_OP: {
                    "config": {
                        "spec_file": str(spec_file.path),
                        "document_base64": base64.b64encode(spec_file.raw).decode("ascii"),
                    }
                }
            }
        },
        tags=tags,
    )


def know_the_encode_pool(instance: DagsterInstance, log: logging.Logger) -> None:
    """Give the encode pool its limit (the instance's default) before runs that use it are
    requested. Dagster's run queue holds runs back only for a pool it already knows; it learns a
    new one during the pass that first sees it, after deciding, so on a fresh instance the first
    burst of runs (a night's cards) would all be launched, most of them to wait at the pool.
    A storage error here only costs that: logged, and the runs are requested all the same."""
    storage = instance.event_log_storage
    try:
        if not storage.supports_global_concurrency_limits:
            return  # a storage without pools: nothing to hold runs back with
        if ENCODE_POOL not in storage.get_concurrency_keys():
            storage.initialize_concurrency_limit_to_default(ENCODE_POOL)
    except SQLAlchemyError as error:  # e.g. two first ticks at once on PostgreSQL
        log.warning(f"could not give the pool {ENCODE_POOL} its limit yet: {error}")
