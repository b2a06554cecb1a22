"""Validation: every check that can be made before anything is written. Reads, never writes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from proxx_exec.engines import EngineIdentity, identify_engine
from proxx_exec.failures import Reason, clip_label, invalid
from proxx_exec.jobspec import CubeLook, JobSpec
from proxx_exec.looks.cube import CubeProblem
from proxx_exec.looks.picture import USER_CUBE, AppliedLook, check_shipped_font, resolve_look
from proxx_exec.media import MediaInfo, NotMedia, probe, prober_identity
from proxx_exec.naming import (
    check_template,
    collision_key,
    final_path,
    output_name,
    result_path,
    staging_dir,
)
from proxx_exec.plan import JobPlan, plan_clip, plan_job
from proxx_exec.prober import ProberIdentity
from proxx_exec.profiles import BUILTIN_PROFILES, Profile, unknown_profile
from proxx_exec.shape import ClipShape, decide


@dataclass(frozen=True)
class ValidatedJob:
    spec: JobSpec
    plan: JobPlan
    engine_binary: Path


def resolve_profile(spec: JobSpec) -> Profile:
    if isinstance(spec.profile, Profile):
        return spec.profile
    try:
        return BUILTIN_PROFILES[spec.profile]
    except KeyError:
        raise invalid(Reason.PROFILE_UNKNOWN, unknown_profile(spec.profile)) from None


def validate_job(spec: JobSpec) -> ValidatedJob:
    """Return the plan of a runnable job, or raise JobFailure(VALIDATION, ...)."""
    profile = resolve_profile(spec)
    check_template(spec.naming)
    _check_output_dir(spec)
    reading = read_job(spec, profile)
    _check_outputs(spec, reading.names)
    return reading.validated()


@dataclass(frozen=True)
class Reading:
    """Everything a plan is made of but the output folder: the engine, the probing library, each
    source's shape and output name. Reads, never writes; `proxx reproduce` plans from it too."""

    spec: JobSpec
    profile: Profile
    engine: EngineIdentity
    engine_binary: Path
    prober: ProberIdentity
    shapes: tuple[ClipShape, ...]
    names: tuple[str, ...]

    def validated(self, output_dir: str | None = None) -> ValidatedJob:
        """The job's plan, writing into `output_dir` instead of the JobSpec's when given (the
        commands then differ only in the paths under it)."""
        spec = self.spec
        if output_dir is not None:
            spec = JobSpec.model_validate({**spec.model_dump(), "output_dir": output_dir})
        clips = tuple(
            plan_clip(spec, self.profile, index, shape, name)
            for index, (shape, name) in enumerate(zip(self.shapes, self.names, strict=True))
        )
        plan = plan_job(spec, self.profile, self.engine, self.prober, clips)
        return ValidatedJob(spec=spec, plan=plan, engine_binary=self.engine_binary)


def read_job(spec: JobSpec, profile: Profile | None = None) -> Reading:
    """The engine's identity and every source's shape and output name; JobFailure(VALIDATION)
    when any cannot be had. The output folder is not looked at."""
    profile = profile or resolve_profile(spec)
    engine, binary = identify_engine(spec.engine, spec.engine_sha256)
    _check_sources_exist(spec)
    look = _look(spec)
    shapes = tuple(
        decide(profile, _probe_source(index, path), index, path, look=look, burn_ins=spec.burn_ins)
        for index, path in enumerate(spec.sources)
    )
    names = tuple(
        output_name(
            spec.naming, source=source, index=index, job_id=spec.job_id, extension=profile.extension
        )
        for index, source in enumerate(spec.sources)
    )
    return Reading(spec, profile, engine, binary, prober_identity(), shapes, names)


def _look(spec: JobSpec) -> AppliedLook | None:
    """The JobSpec's look, its LUT read and checked (LOOK_INVALID with the line that is
    wrong), and the burn-ins' font checked against the shipped one."""
    cube = spec.look.cube if isinstance(spec.look, CubeLook) else None
    try:
        if spec.burn_ins:
            check_shipped_font()
        return resolve_look(USER_CUBE if cube else str(spec.look), cube)
    except CubeProblem as problem:
        raise invalid(Reason.LOOK_INVALID, str(problem)) from None


def _check_output_dir(spec: JobSpec) -> None:
    """The output folder, or the nearest folder above it when it is still to be made (the job
    makes it when it starts, never on a refusal), must be a writable folder."""
    output_dir = Path(spec.output_dir)
    existing = output_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise invalid(
            Reason.OUTPUT_DIR_MISSING,
            f"output_dir {output_dir} cannot be made: {existing} is a file, not a folder",
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        where = "" if existing == output_dir else f" (nor can it be made in {existing})"
        raise invalid(
            Reason.OUTPUT_DIR_NOT_WRITABLE, f"output_dir {output_dir} is not writable{where}"
        )
    staging = staging_dir(spec.output_dir, spec.job_id)
    if os.path.lexists(staging):
        raise invalid(
            Reason.STAGING_EXISTS,
            f"staging folder {staging} already exists: job {spec.job_id} is running "
            "elsewhere, or an earlier run was killed before it could clean up. Check "
            "that no run of this job is active, then remove the folder (nothing in it "
            "is a finished proxy)",
        )
    result_file = result_path(spec.output_dir, spec.job_id)
    if os.path.lexists(result_file):
        raise invalid(
            Reason.OUTPUT_EXISTS,
            f"job {spec.job_id} already ran (its result is {result_file}). A job runs once: "
            "to run it again, give it a new job_id (and set retried_from to this one)",
        )


def _check_sources_exist(spec: JobSpec) -> None:
    """Every missing source at once: a wrong folder usually loses them all."""
    missing = [(i, p) for i, p in enumerate(spec.sources) if not os.path.lexists(p)]
    if not missing:
        return
    first, path = missing[0]
    if len(missing) == 1:
        message = f"{clip_label(first)}: source {path} does not exist"
    else:
        shown = "\n".join(f"  {clip_label(i)}: {p}" for i, p in missing[:20])
        more = f"\n  ... and {len(missing) - 20} more" if len(missing) > 20 else ""
        message = (
            f"{len(missing)} of {len(spec.sources)} sources do not exist, the first "
            f"{clip_label(first)}: {path}. All of them:\n{shown}{more}"
        )
    raise invalid(Reason.SOURCE_MISSING, message, clip_index=first)


def _probe_source(index: int, path: str) -> MediaInfo:
    source = Path(path)
    if not source.exists():
        raise invalid(
            Reason.SOURCE_MISSING,
            f"{clip_label(index)}: source {path} does not exist",
            clip_index=index,
        )
    if not source.is_file() or not os.access(source, os.R_OK):
        raise invalid(
            Reason.SOURCE_UNREADABLE,
            f"{clip_label(index)}: source {path} {_not_a_readable_clip(source)}",
            clip_index=index,
        )
    size = source.stat().st_size
    if size == 0:
        raise invalid(
            Reason.SOURCE_NOT_MEDIA,
            f"{clip_label(index)}: source {path} is empty (0 bytes)",
            clip_index=index,
        )
    try:
        return probe(source)
    except NotMedia as error:
        raise invalid(
            Reason.SOURCE_NOT_MEDIA,
            f"{clip_label(index)}: source {path} does not open as media ({error}). If it was "
            f"just copied, the copy may be unfinished: it holds {size:,} bytes, so compare that "
            "with the original's size, then wait for the copy to end or copy it again; "
            "otherwise the file is damaged or not a video file",
            clip_index=index,
        ) from None


def _not_a_readable_clip(source: Path) -> str:
    """What is wrong with a source that exists but is no file this user can read."""
    if source.is_dir():
        return (
            "is a folder, not a clip: list each clip file in it as a source (proxx_folder_job "
            "in Dagster takes a whole folder)"
        )
    if not source.is_file():
        return "is not a regular file (a device, a pipe or a socket): name the clip file itself"
    return "cannot be read by this user: check the file's permissions and its mount"


def _check_outputs(spec: JobSpec, names: tuple[str, ...]) -> None:
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        key = collision_key(name)
        if key in seen:
            raise invalid(
                Reason.OUTPUT_COLLISION,
                f"clips {seen[key] + 1} and {index + 1} would both write {name!r} (names "
                "are compared ignoring case and Unicode normalisation); change the "
                "naming template, e.g. add {index}",
                clip_index=index,
            )
        seen[key] = index
        output = final_path(spec.output_dir, name)
        if os.path.lexists(output):
            raise invalid(
                Reason.OUTPUT_EXISTS,
                f"{clip_label(index)}: output {output} already exists; proxx never overwrites",
                clip_index=index,
            )
