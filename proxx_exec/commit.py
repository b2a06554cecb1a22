"""Staging and the all-or-nothing commit: the only code that creates, moves or removes proxies
and the staging folder (records such as the result are written by `files.write_new_file`).

Outputs appear at their final names only when every clip passed, by hard links, which fail
rather than replace an existing file (no check-then-rename race).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from proxx_exec.failures import FailureClass, JobFailure, Reason, clip_label, invalid
from proxx_exec.plan import JobPlan

# Below this much free space, a failed write is taken to be the volume filling up.
FULL_VOLUME_BYTES = 1 << 20


@dataclass(frozen=True)
class Staging:
    """The job's claimed staging folder, identified by device and inode, not just by name."""

    path: Path
    device: int
    inode: int


def create_staging(plan: JobPlan) -> Staging:
    """Claim the job's staging folder atomically; refuse if any run of the job holds it."""
    path = Path(plan.staging_dir)
    try:
        # The output folder is made (with its parents) by a job that starts, never by a refusal.
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        path.mkdir(mode=0o755)
        status = path.lstat()
    except FileExistsError:
        raise invalid(
            Reason.STAGING_EXISTS,
            f"staging folder {path} appeared after validation: another run of job "
            f"{plan.job_id} is active",
        ) from None
    except OSError as error:
        raise JobFailure(
            FailureClass.EXECUTION,
            Reason.STAGING_FAILED,
            f"cannot create staging folder {path}: {error.strerror or error}",
        ) from None
    return Staging(path=path, device=status.st_dev, inode=status.st_ino)


def staging_problem(staging: Staging, *, after_failure: bool) -> tuple[Reason, str] | None:
    """What is wrong with the staging folder now, from the file system's own answers.

    Always: gone, or replaced by something else (a symlink, another folder). After an engine
    failure also: no longer writable, or its volume full — the likely causes, named.
    """
    try:
        status = staging.path.lstat()
    except OSError:
        status = None
    if status is None or (status.st_dev, status.st_ino) != (staging.device, staging.inode):
        return (
            Reason.OUTPUT_DIR_CHANGED,
            f"the staging folder {staging.path} was removed or replaced while the job ran "
            "(was the output folder moved, deleted or unmounted?)",
        )
    if not after_failure:
        return None
    if not os.access(staging.path, os.W_OK | os.X_OK):
        return (
            Reason.OUTPUT_NOT_WRITABLE,
            f"the output folder became read-only while the job ran ({staging.path})",
        )
    volume = os.statvfs(staging.path)
    free = volume.f_bavail * volume.f_frsize
    if free < FULL_VOLUME_BYTES:
        return (
            Reason.DISK_FULL,
            f"the output volume is full ({free} bytes free under {staging.path})",
        )
    return None


def remove_staging(staging: Staging) -> str | None:
    """Remove the job's own staging folder; never follow a symlink put in its place.

    Returns what went wrong, if anything, so the caller can report it.
    """
    try:
        status = staging.path.lstat()
    except FileNotFoundError:
        return None
    try:
        if (status.st_dev, status.st_ino) != (staging.device, staging.inode):
            return f"{staging.path} is no longer the folder this job created; left alone"
        shutil.rmtree(staging.path)
    except OSError as error:
        return f"staging folder {staging.path} could not be removed: {error.strerror or error}"
    return None


def commit_outputs(plan: JobPlan, staging: Staging, linked: list[str]) -> None:
    """Give every staged output its final name, or none of them. Each name made is added to
    `linked` as it is made (the caller's list, so an interruption just after the last one still
    knows what to take back); on failure they are taken back and the list emptied."""
    problem = staging_problem(staging, after_failure=False)
    if problem is not None:
        raise JobFailure(FailureClass.EXECUTION, problem[0], problem[1])
    try:
        for clip in plan.clips:
            try:
                os.link(clip.staged_output, clip.output)
            except FileExistsError:
                raise JobFailure(
                    FailureClass.EXECUTION,
                    Reason.OUTPUT_EXISTS,
                    f"{clip_label(clip.index)}: {clip.output} appeared while the job ran; "
                    "nothing was overwritten",
                    clip_index=clip.index,
                ) from None
            except OSError as error:
                raise JobFailure(
                    FailureClass.EXECUTION,
                    Reason.COMMIT_FAILED,
                    f"{clip_label(clip.index)}: cannot commit {clip.output}: "
                    f"{error.strerror or error}",
                    clip_index=clip.index,
                ) from None
            linked.append(clip.output)
    except BaseException:  # whatever stops the commit (an interrupt too): all or nothing
        withdraw(linked)
        linked.clear()
        raise


def withdraw(outputs: list[str]) -> None:
    """Take back final names this job's commit created (only those), so that a job that ends
    FAILED leaves none of its proxies."""
    for path in outputs:
        Path(path).unlink(missing_ok=True)


def keep_staged(plan: JobPlan, indices: list[int]) -> dict[int, str]:
    """`proxx reproduce`: the staged output of each clip in `indices` that was made, under its
    final name in the scratch folder (new or empty when checked), whatever its verdict. Returns,
    by clip index, why a proxy could not be kept (its name taken meanwhile, the folder gone); it
    then goes with the staging folder, as does every other clip's."""
    not_kept: dict[int, str] = {}
    for clip in (plan.clips[index] for index in indices):
        staged = Path(clip.staged_output)
        if not staged.is_file():
            continue
        try:
            os.link(staged, clip.output)  # a link never replaces a file, unlike a rename
        except FileExistsError:
            not_kept[clip.index] = f"the proxy was not kept: {clip.output} appeared meanwhile"
            continue
        except OSError as error:
            not_kept[clip.index] = (
                f"the proxy was not kept as {clip.output}: {error.strerror or error}"
            )
            continue
        staged.unlink()
    return not_kept
