"""The watch sensor: each camera-card or day folder under the watch roots becomes one run once
it has settled (its card's JobSpecs: one job, or several parts of a big card).

A folder settles when two looks at least `watch_settle_s` apart see the same thing: every entry's
path, size and modification time, hidden ones included, so a copy in progress (a file added,
growing or touched) is never taken. The sensor's cursor keeps, per folder, what it saw and since
when; a folder that changes starts over.

A settled folder's JobSpecs come from `folder_spec` (the same builder as the launchpad); its run
key is `watch:<card id>` (folder name + fingerprint of clips and settings), so Dagster launches
a folder state once. A folder that later gains clips makes a new card of the new clips only: the
clips of earlier jobs are known from their results in the output folder.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import (
    DefaultSensorStatus,
    JobDefinition,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from proxx_dagster.names import (
    FOLDER_JOB,
    FOLDER_OP,
    FOLDER_TAG,
    PRIORITY_TAG,
    TRIGGER_TAG,
    VOLUME_TAG,
    WATCH_SENSOR,
)
from proxx_dagster.no_retry import NO_RETRY_TAGS
from proxx_dagster.settings import ProxxAutomation
from proxx_dagster.watch.busy import folder_busy, hurry_queued
from proxx_dagster.watch.cards import card_folders, observe
from proxx_dagster.watch.folder_spec import (
    FolderJob,
    FolderProblem,
    build_folder_job,
    card_tags,
    proxy_dir,
)
from proxx_dagster.watch.priority import priority_tags
from proxx_dagster.watch.run_requests import (
    CLOCK_MARGIN_S,
    know_the_encode_pool,
    launched_run_keys,
    output_volume,
)

RUN_KEY_PREFIX = "watch:"


@dataclass
class Sighting:
    seen: str  # the folder's observation digest
    since: float  # when this state was first seen (epoch seconds)
    done: bool = False  # launched, or nothing to launch: look again only when it changes


def _load_cursor(raw: str | None) -> dict[str, Sighting]:
    if not raw:
        return {}
    return {folder: Sighting(**fields) for folder, fields in json.loads(raw)["folders"].items()}


def _dump_cursor(sightings: dict[str, Sighting]) -> str:
    return json.dumps({"folders": {k: asdict(v) for k, v in sorted(sightings.items())}})


def watch_run_config(folder_job: FolderJob, proxy_root: str | None) -> dict[str, Any]:
    """The launchpad config a person would type for this folder (the deployment's proxy root,
    as the launchpad takes it): the run shows it as is, and launched again by hand it makes
    the same job into the same output folder."""
    spec = folder_job.parts[0]
    config = {
        "folder": str(folder_job.folder),
        "profile": spec.profile,
        "proxy_root": proxy_root or "",
        "clip_timeout_s": spec.clip_timeout_s,
    }
    return {"ops": {FOLDER_OP: {"config": config}}}


def unreadable_only(folder_job: FolderJob) -> bool:
    """A folder with no video file but camera RAW: its run is launched to be refused, so the
    files are named where people look (the run, the night report, the summary, the alert)."""
    return folder_job.clip_count == 0 and any(s.camera_raw for s in folder_job.skipped)


def _unreadable_key(seen: str, folder_job: FolderJob) -> str:
    """Once per folder state: the folder and the digest of what it holds."""
    return f"{RUN_KEY_PREFIX}no-clip:{folder_job.folder}:{seen[:16]}"


class _Watcher:
    """One sensor evaluation: look at every card folder, launch the settled ones."""

    def __init__(self, context: SensorEvaluationContext, settings: ProxxAutomation) -> None:
        self.context = context
        self.settings = settings
        self.now = time.time()
        self._settled: list[tuple[float, FolderJob]] = []  # since when, the job
        self._unreadable: list[tuple[str, FolderJob]] = []  # the folder's digest, its files

    def look(self, folder: Path, before: Sighting | None) -> Sighting | None:
        """The folder's new cursor entry (None: forget it); may add a run request."""
        log = self.context.log
        try:
            seen = observe(folder)
        except OSError as error:
            log.warning(f"{folder}: not readable now ({error}); it settles from scratch")
            return None
        if before is None or before.seen != seen:
            return Sighting(seen, self.now)
        waited = self.now - before.since
        if before.done or waited < self.settings.watch_settle_s:
            return before
        settings = self.settings
        output_dir = proxy_dir(folder, settings.proxy_root, settings.watch_roots)
        # asked before the card is scanned: a busy folder is looked at again next tick
        busy = folder_busy(self.context.instance, folder, output_dir)
        if busy:
            log.info(f"{folder}: settled, waiting: {busy}")
            for run_id in hurry_queued(self.context.instance, folder):
                log.info(
                    f"{folder}: queued run {run_id} moved to the front: the new clips wait for it"
                )
            return before
        try:
            folder_job = build_folder_job(
                folder,
                profile=settings.profile,
                proxy_root=settings.proxy_root,
                watch_roots=settings.watch_roots,
                clips_per_job=settings.clips_per_job,
                engine=settings.engine,
                verify_source_mhl=settings.verify_card_mhl,
            )
        except FolderProblem as problem:
            log.warning(f"{folder}: no job: {problem}")
            return before  # asked again at the next look
        if folder_job.card_id is None and unreadable_only(folder_job):
            self._unreadable.append((seen, folder_job))  # a run that says so, never silence
        elif folder_job.card_id is None:
            log.info(f"{folder}: settled, no new clip ({folder_job.clip_count} video files)")
        else:
            self._settled.append((before.since, folder_job))
        return Sighting(seen, before.since, done=True)

    def requests(self) -> list[RunRequest]:
        """A run request per settled folder whose job was not launched yet (one look at the
        runs for all of them), and one per settled folder of camera RAW only, whose run is
        refused saying what the folder holds and what to use instead."""
        if not self._settled and not self._unreadable:
            return []
        oldest = min([self.now, *(since for since, _ in self._settled)]) - CLOCK_MARGIN_S
        launched = launched_run_keys(
            self.context.instance, FOLDER_JOB, datetime.fromtimestamp(oldest, UTC)
        )
        return [
            self._request(folder_job)
            for _, folder_job in self._settled
            if folder_job.card_id is not None
            and f"{RUN_KEY_PREFIX}{folder_job.card_id}" not in launched
        ] + [
            self._unreadable_request(seen, folder_job)
            for seen, folder_job in self._unreadable
            if _unreadable_key(seen, folder_job) not in launched
        ]

    def _unreadable_request(self, seen: str, folder_job: FolderJob) -> RunRequest:
        self.context.log.warning(
            f"{folder_job.folder}: settled, no clip proxx can read; launched to say so"
        )
        config = {
            "folder": str(folder_job.folder),
            "profile": self.settings.profile,
            "proxy_root": self.settings.proxy_root or "",
        }
        return RunRequest(
            run_key=_unreadable_key(seen, folder_job),
            run_config={"ops": {FOLDER_OP: {"config": config}}},
            tags={**NO_RETRY_TAGS, FOLDER_TAG: str(folder_job.folder), TRIGGER_TAG: "watch"},
        )

    def _request(self, folder_job: FolderJob) -> RunRequest:
        assert folder_job.card_id is not None
        jobs = [part.sources for part in folder_job.parts]
        place = priority_tags(jobs, folder_job.parts[0].profile)
        self.context.log.info(
            f"{folder_job.folder}: settled; card {folder_job.card_id} with "
            f"{len(folder_job.sources)} clips in {len(folder_job.parts)} job(s) "
            f"({len(folder_job.skipped)} files skipped) -> {folder_job.output_dir}; "
            f"queue priority {place.get(PRIORITY_TAG, 'none (not estimated): 0')}"
        )
        return RunRequest(
            run_key=f"{RUN_KEY_PREFIX}{folder_job.card_id}",
            run_config=watch_run_config(folder_job, self.settings.proxy_root),
            tags={
                **NO_RETRY_TAGS,
                **card_tags(folder_job),
                VOLUME_TAG: output_volume(folder_job.parts[0]),
                TRIGGER_TAG: "watch",
                **place,
            },
        )


def build_watch_sensor(job: JobDefinition, automation: ProxxAutomation) -> SensorDefinition:
    @sensor(
        name=WATCH_SENSOR,
        job=job,
        minimum_interval_seconds=automation.watch_interval_s,
        default_status=DefaultSensorStatus.STOPPED,
        description="Turns each camera-card or day folder under the watch roots into one "
        "proxy run once nothing in it changed for the settle time (a big card runs as several "
        "jobs side by side); later clips become a new run of their own.",
    )
    def proxx_watch(
        context: SensorEvaluationContext, proxx_automation: ProxxAutomation
    ) -> SensorResult | SkipReason:
        if not proxx_automation.watch_roots:
            return SkipReason("no watch root configured (PROXX_WATCH_ROOTS)")
        watcher = _Watcher(context, proxx_automation)
        before = _load_cursor(context.cursor)
        after: dict[str, Sighting] = {}
        for root in map(Path, proxx_automation.watch_roots):
            for folder in card_folders(root, proxx_automation.watch_card_depth):
                sighting = watcher.look(folder, before.get(str(folder)))
                if sighting is not None:
                    after[str(folder)] = sighting
        cursor = _dump_cursor(after)
        requests = watcher.requests()
        if requests:
            know_the_encode_pool(context.instance, context.log)
            return SensorResult(run_requests=requests, cursor=cursor)
        waiting = sum(not s.done for s in after.values())
        return SensorResult(
            cursor=cursor,
            skip_reason=f"no folder to launch: {len(after)} seen, {waiting} not settled or busy",
        )

    return proxx_watch
