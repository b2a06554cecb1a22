"""JobSpec files as the schedule and the sensor see them: listed in name order, read once,
turned into a run request that carries the file's exact bytes."""

import base64
import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dagster import DagsterInstance, RunRequest, RunsFilter

from proxx_dagster.names import (
    DOCUMENT_OP,
    JOB_ID_TAG,
    RUN_KEY_TAG,
    SPEC_FILE_TAG,
    TRIGGER_TAG,
    VOLUME_TAG,
)
from proxx_dagster.no_retry import NO_RETRY_TAGS
from proxx_exec import JobFailure, JobSpec, load_jobspec_bytes
from proxx_exec.jobspec import read_spec_file

SPEC_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class SpecFile:
    path: Path
    raw: bytes
    spec: JobSpec | None  # None: not a valid JobSpec; its run ends in a VALIDATION result
    modified: float  # the file's mtime, taken just before it was read

    @property
    def content_fingerprint(self) -> str:
        """The JobSpec fingerprint when it parses, else the SHA-256 of the bytes."""
        return self.spec.fingerprint if self.spec else hashlib.sha256(self.raw).hexdigest()


def list_spec_files(folder: Path) -> list[Path]:
    """Regular files with a JobSpec suffix, sorted by name; hidden and partial files skipped."""
    if not folder.is_dir():
        return []
    return sorted(
        entry
        for entry in folder.iterdir()
        if entry.suffix.lower() in SPEC_SUFFIXES
        and not entry.name.startswith(".")
        and entry.is_file()
    )


def read_spec(path: Path, substitutions: dict[str, str] | None = None) -> SpecFile:
    """The file read by proxx_exec's own reader. Its mtime is taken first: a file replaced in
    between has a later mtime than the one recorded, so the sensor's look-back (from the oldest
    mtime) can only grow, never miss the run of the bytes it read."""
    modified = path.stat().st_mtime
    raw = read_spec_file(path)
    for token, value in (substitutions or {}).items():
        raw = raw.replace(token.encode(), value.encode())
    try:
        spec: JobSpec | None = load_jobspec_bytes(raw)
    except JobFailure:
        spec = None
    return SpecFile(path=path, raw=raw, spec=spec, modified=modified)


def read_specs(
    folder: Path, log: logging.Logger, substitutions: dict[str, str] | None = None
) -> list[SpecFile]:
    """Every JobSpec file of the folder in name order; a file that vanished or cannot be read
    is left for the next look, with a warning."""
    found = []
    for path in list_spec_files(folder):
        try:
            found.append(read_spec(path, substitutions))
        except OSError as error:
            log.warning(f"{path}: not read ({error}); left for the next look")
    return found


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
    if spec_file.spec is not None:
        tags[JOB_ID_TAG] = spec_file.spec.job_id
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
