"""The one builder of a JobSpec from a card or day folder, for the watch sensor and the folder
launchpad alike.

Same folder contents, same earlier results and same settings give the same JobSpec, byte for
byte: the clips are the folder's video files in name order, the job_id is the folder's name and
a fingerprint of everything the JobSpec says plus each clip's size and modification time.

A clip that an earlier job of the same output folder already took is left out, decided from
that job's ExecutionResult on disk: a COMPLETED job made its proxy; a job that FAILED while
encoding or verifying is re-run only when asked (`retried_from`), never by itself. A job refused
at validation started nothing, so its clips count as new.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydantic import ValidationError

from proxx_dagster.cards import PROXY_FOLDER, FolderContents, MediaFile, Skipped, scan_folder
from proxx_exec import BUILTIN_PROFILES, ExecutionResult, FailureClass, JobSpec
from proxx_exec.canonical import canonical_json, fingerprint
from proxx_exec.files import write_new_file
from proxx_exec.jobspec import DEFAULT_ENGINE, job_id_from, relative_path_problem
from proxx_exec.naming import RESULT_SUFFIX, STAGING_PREFIX, jobspec_path
from proxx_exec.profiles import unknown_profile
from proxx_exec.refusals import describe

DEFAULT_PROFILE = "h264_half"
DEFAULT_NAMING = "{source_stem}"  # relink-friendly: the proxy keeps the clip's name
_SLUG_LENGTH = 60
_ID_HASH_LENGTH = 12


class FolderProblem(Exception):
    """The folder, its settings or its earlier results do not allow a job; says what to do."""


@dataclass(frozen=True)
class FolderJob:
    folder: Path
    output_dir: Path
    spec: JobSpec | None  # None: no clip is left to make a proxy of
    skipped: tuple[Skipped, ...]  # not clips, or clips of earlier jobs, each with the reason
    clip_count: int  # video files found, new or not


def proxy_dir(folder: Path, proxy_root: str | None, watch_roots: Sequence[str] = ()) -> Path:
    """Where a card folder's proxies go, for the watch sensor and the launchpad alike (so a
    job launched by hand finds the results of the sensor's jobs): `FOLDER/Proxy` without a proxy
    root; with one, the card's path below the watch root that holds it, mirrored under the proxy
    root (ROOT/DAY/A001 -> PROXY_ROOT/DAY/A001), or `PROXY_ROOT/<folder name>` for a folder
    below no watch root. The deepest watch root counts when roots are nested."""
    if not proxy_root:
        return folder / PROXY_FOLDER
    below = [
        folder.relative_to(root)
        for root in map(Path, watch_roots)
        if folder.is_relative_to(root) and folder != root
    ]
    return Path(proxy_root) / (
        min(below, key=lambda part: len(part.parts)) if below else folder.name
    )


def jobspec_file(output_dir: Path, job_id: str) -> Path:
    """The generated JobSpec, kept beside the proxies and the result."""
    return Path(jobspec_path(str(output_dir), job_id))


def staging_folders(output_dir: Path) -> list[Path]:
    """Jobs at work in the output folder now, or killed before they could clean up."""
    if not output_dir.is_dir():
        return []
    return sorted(p for p in output_dir.iterdir() if p.name.startswith(STAGING_PREFIX))


def job_slug(folder: Path) -> str:
    """The readable part of a job_id: the folder name in letters, digits, '.', '_' and '-'."""
    return job_id_from(folder.name, "folder", _SLUG_LENGTH)


def _check_inputs(folder: Path, profile: str, proxy_root: str | None) -> None:
    if problem := relative_path_problem(str(folder)):
        raise FolderProblem(f"folder {problem}")
    if not folder.is_dir():
        raise FolderProblem(f"folder {folder} does not exist or is not a folder")
    if profile not in BUILTIN_PROFILES:
        raise FolderProblem(unknown_profile(profile))
    if proxy_root:
        root = PurePosixPath(proxy_root)
        if problem := relative_path_problem(proxy_root):
            raise FolderProblem(
                f"proxy_root {problem}; or leave it empty for a Proxy folder beside the clips"
            )
        if root.is_relative_to(PurePosixPath(folder)):
            raise FolderProblem(
                f"proxy_root {proxy_root} is inside the folder {folder}: its proxies would be "
                "taken for clips; choose a folder outside it, or leave proxy_root empty"
            )


def earlier_results(output_dir: Path) -> list[ExecutionResult]:
    """The results of every earlier job of this output folder, in name order."""
    if not output_dir.is_dir():
        return []
    results = []
    for path in sorted(output_dir.glob(f"*{RESULT_SUFFIX}")):
        try:
            results.append(ExecutionResult.from_json(path.read_bytes()))
        except (OSError, ValidationError) as error:
            raise FolderProblem(
                f"the earlier result {path} cannot be read ({type(error).__name__}), so it is "
                "unknown which clips already have proxies; restore the file or move it away"
            ) from None
    return results


def _sources(result: ExecutionResult) -> list[str]:
    if result.spec is not None:
        return list(result.spec.sources)
    return [clip.source for clip in result.clips]


def _has_verified_proxy(result: ExecutionResult, source: str) -> bool:
    """The result committed this clip's proxy and the file is still there, at its size."""
    if not result.completed:
        return False
    for clip in result.clips:
        if clip.source == source and clip.output and clip.output_bytes is not None:
            try:
                return Path(clip.output).stat().st_size == clip.output_bytes
            except OSError:
                return False
    return False


def _taken(results: list[ExecutionResult], retried_from: str | None) -> dict[str, tuple[str, str]]:
    """Sources an earlier job took, with (job_id, reason), minus those `retried_from` gives
    back (its clips that have no verified proxy)."""
    taken: dict[str, tuple[str, str]] = {}
    for result in results:
        failure = result.failure
        if failure is not None and failure.failure_class is FailureClass.VALIDATION:
            continue  # a refusal started nothing: its clips are new
        job_id = result.job_id or "?"
        for source in _sources(result):
            if result.completed:
                reason = f"proxy made by job {job_id}"
            else:
                reason = (
                    f"in job {job_id}, which FAILED ({failure.reason.value if failure else '?'}); "
                    f"to make its proxy again, launch with retried_from: {job_id}"
                )
            taken.setdefault(source, (job_id, reason))
    if retried_from is not None:
        retried = next((r for r in results if r.job_id == retried_from), None)
        if retried is None:
            known = ", ".join(sorted({r.job_id or "?" for r in results})) or "none"
            raise FolderProblem(
                f"retried_from {retried_from!r}: no job of that id wrote its result into this "
                f"output folder (jobs found there: {known})"
            )
        for source in _sources(retried):
            if not _has_verified_proxy(retried, source):
                taken.pop(source, None)
    return taken


def _job_id(folder: Path, spec: JobSpec, media: list[MediaFile]) -> str:
    """Folder name + fingerprint of the folder, the JobSpec (every default filled in, job_id
    left out) and each clip's size and modification time."""
    jobspec = {k: v for k, v in spec.canonical().items() if k != "job_id"}
    stats = [[str(m.path), m.size, m.mtime_ns] for m in media]
    digest = fingerprint({"folder": str(folder), "jobspec": jobspec, "clips": stats})
    return f"{job_slug(folder)}-{digest[:_ID_HASH_LENGTH]}"


def build_folder_job(
    folder: Path,
    *,
    profile: str = DEFAULT_PROFILE,
    proxy_root: str | None = None,
    watch_roots: Sequence[str] = (),
    retried_from: str | None = None,
    clip_timeout_s: int | None = None,
    engine: str = DEFAULT_ENGINE,
) -> FolderJob:
    """The JobSpec for a folder's clips that no earlier job took, its proxies in `proxy_dir`.
    Raises FolderProblem."""
    folder = Path(os.path.normpath(folder)) if folder.is_absolute() else folder
    _check_inputs(folder, profile, proxy_root)
    output_dir = proxy_dir(folder, proxy_root, watch_roots)
    try:
        contents: FolderContents = scan_folder(folder)
    except OSError as error:
        raise FolderProblem(f"folder {folder} cannot be read: {error.strerror or error}") from None
    taken = _taken(earlier_results(output_dir), retried_from or None)
    new = [m for m in contents.media if str(m.path) not in taken]
    left_out = [
        Skipped(str(m.path.relative_to(folder)), taken[str(m.path)][1])
        for m in contents.media
        if str(m.path) in taken
    ]
    skipped = tuple(sorted((*contents.skipped, *left_out), key=lambda s: s.path))
    if not new:
        return FolderJob(folder, output_dir, None, skipped, len(contents.media))
    fields: dict[str, object] = {
        "spec_version": "1",
        "sources": [str(m.path) for m in new],
        "output_dir": str(output_dir),
        "profile": profile,
        "naming": DEFAULT_NAMING,
        "retried_from": retried_from or None,
    }
    if clip_timeout_s is not None:
        fields["clip_timeout_s"] = clip_timeout_s
    if engine != DEFAULT_ENGINE:  # left out otherwise: the job ids of today's folders stay
        fields["engine"] = engine
    try:
        draft = JobSpec.model_validate({**fields, "job_id": job_slug(folder)})
    except ValidationError as error:
        raise FolderProblem(describe(error, JobSpec, fields)) from None
    spec = JobSpec.model_validate({**draft.canonical(), "job_id": _job_id(folder, draft, new)})
    return FolderJob(folder, output_dir, spec, skipped, len(contents.media))


def jobspec_document(spec: JobSpec) -> bytes:
    """The bytes the job runs from and that are kept beside its results: canonical JSON."""
    return canonical_json(spec.canonical())


def write_jobspec(spec: JobSpec) -> Path:
    """Keep the JobSpec beside the proxies (the output folder is made, with its parents).

    An existing file of the same job must hold the same bytes; it is never replaced.
    """
    output_dir = Path(spec.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    target = jobspec_file(output_dir, spec.job_id)
    document = jobspec_document(spec)
    try:
        write_new_file(target, document)  # appears whole or not at all, and never replaces
    except FileExistsError:
        if target.read_bytes() != document:
            raise FolderProblem(
                f"{target} exists with other content; it belongs to an earlier job of the same "
                "id, which is never replaced"
            ) from None
    return target
