"""`proxx_folder_job`: proxies of a camera card or day folder, launched without writing a JobSpec.

The launchpad asks for a folder, a profile and where the proxies go. The op builds the JobSpec
with the same builder as the watch sensor (`folder_spec`), keeps it beside the results, shows it
in the run's metadata, and runs it through `run_document`, the path every proxx op shares.

(No `from __future__ import annotations` here: Dagster reads the op's context annotation.)
"""

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import (
    DagsterInstance,
    DagsterRunStatus,
    Enum,
    EnumValue,
    Failure,
    Field,
    JobDefinition,
    MetadataValue,
    OpDefinition,
    OpExecutionContext,
    Out,
    Output,
    RunsFilter,
    TableColumn,
    TableRecord,
    TableSchema,
    job,
    op,
)

from proxx_dagster.executors import IN_PROCESS_EXECUTOR
from proxx_dagster.folder_spec import (
    DEFAULT_PROFILE,
    FolderJob,
    FolderProblem,
    build_folder_job,
    jobspec_document,
    staging_folders,
    write_jobspec,
)
from proxx_dagster.io import ExecutionResultType
from proxx_dagster.names import (
    AUTOMATION_RESOURCE,
    FOLDER_JOB,
    FOLDER_OP,
    FOLDER_TAG,
    JOB_ID_TAG,
    PROXX_OP_TAG,
    RESULT_IO_MANAGER_KEY,
)
from proxx_dagster.no_retry import NO_RETRY_TAGS, refuse_retry
from proxx_dagster.ops import proxx_resources, run_document
from proxx_dagster.resources import ProxxAutomation
from proxx_dagster.translator import ProxxTranslator
from proxx_exec import BUILTIN_PROFILES, ExecutionResult, JobSpec, Profile

UNFINISHED = [
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
SKIPPED_COLUMNS = TableSchema(
    columns=[TableColumn("file", "string"), TableColumn("reason", "string")]
)
_SIZES = {1: "full size", 2: "half size", 4: "quarter size", 8: "one eighth size"}
_AUDIO = {"pcm_s16le": "16-bit PCM", "pcm_s24le": "24-bit PCM", "aac": "AAC"}


def describe_profile(profile: Profile) -> str:
    """A profile in the words of an editor: codec, size, audio, file type."""
    video = {
        "prores_ks": f"ProRes {profile.decoded_profile}",
        "dnxhd": profile.decoded_profile.replace("DNXHR", "DNxHR"),
        "libx264": f"H.264 {profile.decoded_profile} (CRF {profile.crf}, preset {profile.preset})",
    }[profile.video_codec]
    audio = _AUDIO[profile.audio_codec]
    if profile.audio_bitrate_kbps:
        audio += f" {profile.audio_bitrate_kbps} kb/s"
    return f"{video}, {_SIZES[profile.scale_divisor]}, {audio} audio, .{profile.container}"


# One config type for every job built here (Dagster wants one definition per type name).
PROFILE_ENUM = Enum(
    "ProxxProfile",
    [
        EnumValue(name, description=describe_profile(BUILTIN_PROFILES[name]))
        for name in (DEFAULT_PROFILE, *(n for n in BUILTIN_PROFILES if n != DEFAULT_PROFILE))
    ],
)


def folder_config_schema() -> dict[str, Field]:
    """The launchpad: "Scaffold missing config" fills in the three things a person decides."""
    timeout = JobSpec.model_fields["clip_timeout_s"]
    return {
        "folder": Field(
            str,
            description="The camera card or day folder, as an absolute path, e.g. "
            "/media/incoming/A001. Every video file below it (sub-folders included; hidden "
            "files, symbolic links and folders named Proxy left out) becomes a clip, in name "
            "order. Clips that an earlier job of this folder took are left out.",
        ),
        "profile": Field(
            PROFILE_ENUM,
            description="The proxy format: keep one of the choices. "
            + "; ".join(f"{n}: {describe_profile(p)}" for n, p in BUILTIN_PROFILES.items()),
        ),
        "proxy_root": Field(
            str,
            description="Where the proxies go. Empty ('') for a Proxy folder inside the card "
            "folder (FOLDER/Proxy); or an absolute folder, e.g. /media/proxies, for "
            "PROXY_ROOT/<the card's path below its watch root> (as the watch sensor does, e.g. "
            "PROXY_ROOT/DAY/A001), or PROXY_ROOT/<card folder name> for a folder below no watch "
            "root.",
        ),
        "retried_from": Field(
            str,
            default_value="",
            is_required=False,
            description="Leave empty. To make proxies again for the clips of a job of this "
            "folder that FAILED, its job_id (shown on its run); only clips without a verified "
            "proxy are made again.",
        ),
        "clip_timeout_s": Field(
            int,
            default_value=timeout.default,
            is_required=False,
            description=timeout.description,
        ),
    }


def folder_metadata(folder_job: FolderJob, spec_file: Path | None = None) -> dict[str, Any]:
    """How the JobSpec was made: the folder, what was skipped and why, the JobSpec itself."""
    metadata: dict[str, Any] = {
        "proxx/folder": MetadataValue.path(str(folder_job.folder)),
        "proxx/output_dir": MetadataValue.path(str(folder_job.output_dir)),
        "proxx/video_files": folder_job.clip_count,
        "proxx/skipped": MetadataValue.table(
            [TableRecord({"file": s.path, "reason": s.reason}) for s in folder_job.skipped],
            schema=SKIPPED_COLUMNS,
        ),
    }
    if folder_job.spec is not None:
        metadata["proxx/jobspec"] = MetadataValue.json(folder_job.spec.canonical())
    if spec_file is not None:
        metadata["proxx/jobspec_file"] = MetadataValue.path(str(spec_file))
    return metadata


def folder_busy(
    instance: DagsterInstance, folder: Path, output_dir: Path, this_run: str | None = None
) -> str | None:
    """Why no job of this folder (proxies in `output_dir`) may start now, if another one is at
    work on it. Cheap: it reads no clip, so the watch sensor asks it before scanning a card."""
    folder = Path(os.path.normpath(folder))  # as build_folder_job names it in the run's tag
    runs = instance.get_runs(RunsFilter(tags={FOLDER_TAG: str(folder)}, statuses=UNFINISHED))
    others = [run.run_id for run in runs if run.run_id != this_run]
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


def _refuse(description: str, metadata: dict[str, Any] | None = None) -> Failure:
    return Failure(
        description=f"No job was started: {description}",
        metadata=metadata or {},
        allow_retries=False,
    )


def prepare_folder_job(
    context: OpExecutionContext, automation: ProxxAutomation
) -> tuple[FolderJob, JobSpec, Path]:
    """Build the folder's JobSpec (its proxies where the watch sensor would put them: the
    automation's watch roots decide the mirrored path below proxy_root), check nothing else
    works on the folder, keep the JobSpec beside the results and name the run after its job.
    Raises Failure with what to do."""
    config = context.op_config
    if not config["folder"]:
        raise _refuse("folder is empty; write the card folder's path, e.g. /media/incoming/A001")
    try:
        folder_job = build_folder_job(
            Path(config["folder"]),
            profile=config["profile"],
            proxy_root=config["proxy_root"] or None,
            watch_roots=automation.watch_roots,
            retried_from=config["retried_from"] or None,
            clip_timeout_s=config["clip_timeout_s"],
            engine=automation.engine,
        )
    except FolderProblem as problem:
        raise _refuse(str(problem)) from None
    busy = folder_busy(context.instance, folder_job.folder, folder_job.output_dir, context.run_id)
    if busy:
        raise _refuse(busy, folder_metadata(folder_job))
    spec = folder_job.spec
    if spec is None:
        raise _refuse(
            f"no new clip in {folder_job.folder}: {folder_job.clip_count} video file(s), each "
            "already in an earlier job (proxx/skipped says which and why)",
            folder_metadata(folder_job),
        )
    expected = context.run.tags.get(JOB_ID_TAG)
    if expected and expected != spec.job_id:
        raise _refuse(
            f"this run was launched for job {expected}, but {folder_job.folder} now makes job "
            f"{spec.job_id}: the folder changed after it settled. The watch sensor launches "
            "the new job once it settles again",
            folder_metadata(folder_job),
        )
    try:
        spec_file = write_jobspec(spec)
    except (FolderProblem, OSError) as problem:
        raise _refuse(f"the JobSpec could not be kept beside the results: {problem}") from None
    context.instance.add_run_tags(
        context.run_id, {FOLDER_TAG: str(folder_job.folder), JOB_ID_TAG: spec.job_id}
    )
    context.log.info(
        f"JobSpec {spec.job_id} ({len(spec.sources)} clips, {len(folder_job.skipped)} skipped), "
        f"kept at {spec_file}:\n{json.dumps(spec.canonical(), indent=2, ensure_ascii=False)}"
    )
    return folder_job, spec, spec_file


def build_folder_op(
    translator: ProxxTranslator | None = None, name: str = FOLDER_OP
) -> OpDefinition:
    names = translator or ProxxTranslator()

    @op(
        name=name,
        description="Make verified proxies of every new clip in a camera card or day folder: "
        "the JobSpec is built from the folder, kept beside the results, then run like any "
        "other. Fails exactly when the result is FAILED.",
        config_schema=folder_config_schema(),
        out=Out(ExecutionResultType, io_manager_key=RESULT_IO_MANAGER_KEY),
        tags={PROXX_OP_TAG: "true"},
    )
    def make_folder_proxies(
        context: OpExecutionContext, proxx_automation: ProxxAutomation
    ) -> Iterator[Output[ExecutionResult]]:
        refuse_retry(context)  # before the folder is read or anything is written
        folder_job, spec, spec_file = prepare_folder_job(context, proxx_automation)
        metadata = folder_metadata(folder_job, spec_file)
        yield from run_document(context, jobspec_document(spec), names, metadata)

    return make_folder_proxies


def build_proxx_folder_job(
    translator: ProxxTranslator | None = None, automation: ProxxAutomation | None = None
) -> JobDefinition:
    """`proxx_folder_job`, with the automation's settings as its `proxx_automation` resource:
    their watch roots decide where a card's proxies go below a proxy root, as for the watch
    sensor (`build_definitions` passes its own; default: no watch root)."""
    make_folder_proxies = build_folder_op(translator)

    @job(
        name=FOLDER_JOB,
        description="Make proxies of a camera card or day folder: give the folder, keep one "
        "profile, say where the proxies go, launch. No JobSpec to write. Also launched by the "
        "proxx_watch sensor.",
        tags=dict(NO_RETRY_TAGS),
        executor_def=IN_PROCESS_EXECUTOR,
        resource_defs={**proxx_resources(), AUTOMATION_RESOURCE: automation or ProxxAutomation()},
    )
    def proxx_folder_job() -> None:
        make_folder_proxies()

    return proxx_folder_job
