"""The one builder of a card or day folder's JobSpecs, for the watch sensor and the folder
launchpad alike.

Same folder contents, same earlier results and same settings give the same JobSpecs, byte for
byte: the clips are the folder's video files in name order; the card's id is the folder's name
and a fingerprint of everything its JobSpec says plus each clip's size and modification time.
A card of more than `clips_per_job` new clips is cut (`cut_card`) into the fewest parts of at
most that many clips, sizes differing by at most one, each its own JobSpec `<card id>-pNofM`
writing into the card's one output folder; a smaller card is one JobSpec whose id is the card's.
The cut depends on the card and the setting only, never on the machine.

A clip that an earlier job of the same output folder already took is left out, decided from
that job's ExecutionResult on disk: a COMPLETED job made its proxy; a job that FAILED while
encoding or verifying is re-run only when asked (`retried_from`: the failed job's id, or its
card's id for every part of that card), never by itself. A job refused at validation started
nothing, so its clips count as new.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from proxx_dagster.names import CARD_TAG, FOLDER_TAG, JOB_ID_TAG, PARTS_TAG
from proxx_dagster.settings import DEFAULT_CLIPS_PER_JOB, DEFAULT_PROFILE, proxies_inside
from proxx_dagster.watch.cards import PROXY_FOLDER, FolderContents, MediaFile, Skipped, scan_folder
from proxx_exec import BUILTIN_PROFILES, ExecutionResult, FailureClass, JobSpec
from proxx_exec.canonical import canonical_json, fingerprint
from proxx_exec.failures import JobFailure
from proxx_exec.files import write_new_file
from proxx_exec.jobspec import DEFAULT_ENGINE, job_id_from, relative_path_problem
from proxx_exec.naming import (
    RESULT_SUFFIX,
    STAGING_PREFIX,
    collision_key,
    jobspec_path,
    output_name,
)
from proxx_exec.profiles import unknown_profile
from proxx_exec.refusals import describe

DEFAULT_NAMING = "{source_stem}"  # relink-friendly: the proxy keeps the clip's name
_SLUG_LENGTH = 60
_ID_HASH_LENGTH = 12
_PART_SUFFIX = re.compile(r"-p[0-9]+of[0-9]+$")  # the end of a part's job_id: -p2of3


class FolderProblem(Exception):
    """The folder, its settings or its earlier results do not allow a job; says what to do."""


@dataclass(frozen=True)
class FolderJob:
    folder: Path
    output_dir: Path
    card_id: str | None  # None: no clip is left to make a proxy of
    parts: tuple[JobSpec, ...]  # the card's JobSpecs in clip order; empty when card_id is None
    skipped: tuple[Skipped, ...]  # not clips, or clips of earlier jobs, each with the reason
    clip_count: int  # video files found, new or not

    @property
    def sources(self) -> list[str]:
        """The new clips of the card, in order, over all its parts."""
        return [source for part in self.parts for source in part.sources]


def part_key(job_id: str, card_id: str) -> str:
    """A part's name within its card's run, e.g. `p2of3` (`p1of1` for a card of one job)."""
    return job_id.removeprefix(f"{card_id}-") if job_id != card_id else "p1of1"


def part_number(job_id: str) -> int:
    """A part's place in its card (1 for the job of a card of one job): `-p10of19` is 10."""
    match = _PART_SUFFIX.search(job_id)
    return int(match.group(0)[2:].split("of")[0]) if match else 1


def card_of(job_id: str) -> str:
    """The card id a job of a folder belongs to: its own id, less a part's `-pNofM`."""
    return _PART_SUFFIX.sub("", job_id)


_Clip = TypeVar("_Clip")  # a clip's name, or anything standing for a clip


def part_sizes(clip_count: int, clips_per_job: int) -> list[int]:
    """The fewest parts of at most `clips_per_job` clips, sizes differing by at most one,
    the larger ones first."""
    count = -(-clip_count // clips_per_job)  # ceiling
    base, extra = divmod(clip_count, count)
    return [base + 1] * extra + [base] * (count - extra)


def consecutive_parts(clips: Sequence[_Clip], clips_per_job: int) -> list[list[_Clip]]:
    """`clips` cut in order into parts of the sizes `part_sizes` gives."""
    parts: list[list[_Clip]] = []
    start = 0
    for size in part_sizes(len(clips), clips_per_job):
        parts.append(list(clips[start : start + size]))
        start += size
    return parts


def cut_card(card: JobSpec, clips_per_job: int) -> tuple[JobSpec, ...]:
    """The card's JobSpec cut into parts of consecutive clips (`part_sizes`), each with the id
    `<card id>-pNofM` and everything else the card's; the card itself when it has at most
    `clips_per_job` clips. Depends on its arguments only, never on the machine."""
    if clips_per_job < 1:
        raise ValueError(f"clips_per_job must be at least 1, not {clips_per_job}")
    if len(card.sources) <= clips_per_job:
        return (card,)
    fields = card.canonical()
    cut = consecutive_parts(card.sources, clips_per_job)
    return tuple(
        JobSpec.model_validate(
            {**fields, "job_id": f"{card.job_id}-p{number}of{len(cut)}", "sources": sources}
        )
        for number, sources in enumerate(cut, start=1)
    )


def _same_proxy_names(card: JobSpec) -> list[str]:
    """Clips of the card whose proxies would have one name (a single job refuses them itself;
    parts running side by side would each find the name free)."""
    extension = BUILTIN_PROFILES[str(card.profile)].extension
    try:
        keys = [
            collision_key(
                output_name(card.naming, source=s, index=i, job_id=card.job_id, extension=extension)
            )
            for i, s in enumerate(card.sources)
        ]
    except JobFailure:
        return []  # a name that cannot be a file: the part holding it refuses it, saying why
    repeated = {key for key, count in Counter(keys).items() if count > 1}
    return [s for s, key in zip(card.sources, keys, strict=True) if key in repeated]


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
        if problem := relative_path_problem(proxy_root):
            raise FolderProblem(
                f"proxy_root {problem}; or leave it empty for a Proxy folder beside the clips"
            )
        if proxies_inside(proxy_root, folder):
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
    back: the clips without a verified proxy of that job, or of every part of that card."""
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
                    f"to make its proxy again, launch with retried_from: {card_of(job_id)}"
                )
            taken.setdefault(source, (job_id, reason))
    if retried_from is not None:
        retried = [
            r
            for r in results
            if r.job_id is not None and retried_from in {r.job_id, card_of(r.job_id)}
        ]
        if not retried:
            known = ", ".join(sorted({r.job_id or "?" for r in results})) or "none"
            raise FolderProblem(
                f"retried_from {retried_from!r}: no job or card of that id wrote its result "
                f"into this output folder (jobs found there: {known})"
            )
        for result in retried:
            for source in _sources(result):
                if not any(_has_verified_proxy(r, source) for r in retried):
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
    clips_per_job: int = DEFAULT_CLIPS_PER_JOB,
    engine: str = DEFAULT_ENGINE,
    look: str = "none",
    burn_ins: Sequence[str] = (),
    verify_source_mhl: bool = False,
) -> FolderJob:
    """The JobSpecs (`cut_card`) for a folder's clips that no earlier job took, their proxies
    in `proxy_dir`. Raises FolderProblem."""
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
        return FolderJob(folder, output_dir, None, (), skipped, len(contents.media))
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
    if look != "none":  # a built-in look's name, or the absolute path of a user's .cube
        fields["look"] = {"cube": look} if look.startswith("/") else look
    if burn_ins:
        fields["burn_ins"] = list(burn_ins)
    if verify_source_mhl:  # likewise
        fields["verify_source_mhl"] = True
    try:
        draft = JobSpec.model_validate({**fields, "job_id": job_slug(folder)})
    except ValidationError as error:
        raise FolderProblem(describe(error, JobSpec, fields)) from None
    card = JobSpec.model_validate({**draft.canonical(), "job_id": _job_id(folder, draft, new)})
    parts = cut_card(card, clips_per_job)
    if len(parts) > 1 and (same := _same_proxy_names(card)):
        raise FolderProblem(
            f"{len(same)} clips would give proxies of one name, e.g. "
            + ", ".join(same[:2])
            + "; rename them, or give each sub-folder of clips its own card folder"
        )
    return FolderJob(folder, output_dir, card.job_id, parts, skipped, len(contents.media))


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


def card_tags(folder_job: FolderJob) -> dict[str, str]:
    """The run's tags naming its card: folder, card id, parts, and the job id of a one-job card."""
    assert folder_job.card_id is not None
    tags = {
        FOLDER_TAG: str(folder_job.folder),
        CARD_TAG: folder_job.card_id,
        PARTS_TAG: str(len(folder_job.parts)),
    }
    if len(folder_job.parts) == 1:
        tags[JOB_ID_TAG] = folder_job.parts[0].job_id
    return tags
