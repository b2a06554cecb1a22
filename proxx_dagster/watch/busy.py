"""Whether a card folder is busy: another unfinished run at work on it, or a staging folder left
in its proxies' folder. Asked by the watch sensor before it scans a card, and by the folder job
before it starts. A queued run that keeps a folder's newer clips waiting goes to the front."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunsFilter

from proxx_dagster.names import FOLDER_TAG, PRIORITY_TAG
from proxx_dagster.watch.folder_spec import staging_folders
from proxx_dagster.watch.priority import FIRST

UNFINISHED = [
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


def folder_busy(
    instance: DagsterInstance, folder: Path, output_dir: Path, this_run: str | None = None
) -> str | None:
    """Why no job of this folder (proxies in `output_dir`) may start now, if another one is at
    work on it. Cheap: it reads no clip, so the watch sensor asks it before scanning a card."""
    folder = Path(os.path.normpath(folder))
    others = [
        run.run_id for run in _runs_of(instance, folder, UNFINISHED) if run.run_id != this_run
    ]
    if others:
        return f"run {others[0]} is making proxies of {folder}; wait until it ends"
    staging = staging_folders(output_dir)
    if staging:
        return (
            f"{staging[0]} exists: a job is writing proxies into {output_dir} now, "
            "or one was killed before it could clean up. Once no run of that job is active, "
            "remove the folder (nothing in it is a finished proxy)"
        )
    return None


def hurry_queued(instance: DagsterInstance, folder: Path) -> list[str]:
    """The folder's queued runs, given the first place among estimated runs (their priority
    FIRST), as the watch sensor does when the folder changed while they wait: a short run of a
    day folder's first clips, queued behind the night's longer cards, would otherwise hold the
    folder's later clips back until it ends, and these may be the longest of the night."""
    runs = _runs_of(instance, folder, [DagsterRunStatus.QUEUED])
    hurried = [run.run_id for run in runs if run.tags.get(PRIORITY_TAG) != str(FIRST)]
    for run_id in hurried:
        instance.add_run_tags(run_id, {PRIORITY_TAG: str(FIRST)})
    return hurried


def _runs_of(
    instance: DagsterInstance, folder: Path, statuses: list[DagsterRunStatus]
) -> Sequence[DagsterRun]:
    """The folder's runs in these states (its path as build_folder_job names it in the tag)."""
    tags = {FOLDER_TAG: os.path.normpath(folder)}
    return instance.get_runs(RunsFilter(tags=tags, statuses=statuses))
