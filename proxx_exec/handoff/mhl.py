"""ASC MHL: the seal of a proxy folder and the check of a camera card's own MHL, through the
`ascmhl` library (its history, hashing and generation writer; never a hand-made XML).

Why not its `create` / `verify` command functions: they say what differs only in printed text
(`click.echo`), and proxx names the differing files from data. So the same building blocks the
commands use are called here: `MHLHistory.load_from_path` (which also checks every generation
against the chain file's hash), `MHLGenerationCreationSession`, `seal_file_path` (the hashing
and comparison `ascmhl create --single_file` does) and `hash_file`.

A seal is a new generation of the output folder's history listing one COMPLETED job's files
(`create --single_file` semantics: files of other jobs keep the generations they have). Jobs
of one card write into one folder side by side, and the library numbers generations by reading
the history first, so a seal holds an exclusive lock (`flock`) on the folder while it reads the
history and writes its generation.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import platform
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ascmhl import errors as mhl_errors
from ascmhl.commands import seal_file_path
from ascmhl.generator import MHLGenerationCreationSession
from ascmhl.hasher import hash_file
from ascmhl.hashlist import MHLAuthor, MHLCreatorInfo, MHLProcess, MHLProcessInfo, MHLTool
from ascmhl.history import MHLHistory
from ascmhl.ignore import MHLIgnoreSpec
from ascmhl.utils import datetime_now_isostring
from pydantic import BaseModel, ConfigDict, Field

from proxx_exec import __version__
from proxx_exec.naming import MHL_FOLDER, NIGHT_REPORT_PREFIX, REFUSAL_INFIX, STAGING_PREFIX

HASH_FORMAT = "xxh128"  # the ASC MHL default
# Entries of a proxy folder that belong to no job's custody, recorded in each generation so
# that `ascmhl verify` of the folder leaves them out: a running job's staging folder, the
# hidden temporary files of a record or poster being written, refusals (a refused job started
# nothing) and night reports (rewritten each night).
FOLDER_IGNORES = (
    f"{STAGING_PREFIX}*",
    ".poster-*",
    ".*.tmp",
    f"*{REFUSAL_INFIX}*.json",
    f"{NIGHT_REPORT_PREFIX}*.html",
)

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class MhlProblem(Exception):
    """The history cannot be read or written; the message says why in plain words."""


class Seal(BaseModel):
    """What a seal did: the generation written and the files it lists, or why none was."""

    model_config = _FROZEN

    folder: str
    generation: str | None = Field(description="The new generation's file (None: not sealed).")
    files: tuple[str, ...] = Field(description="The files the generation lists.")
    problem: str | None = Field(description="Why the folder is not (fully) sealed.")


class Difference(BaseModel):
    """One file whose bytes are not those an MHL history records."""

    model_config = _FROZEN

    path: str
    what: str = Field(description="'missing', or 'changed' (another hash).")
    recorded: str = Field(description="The recorded hash, as '<format>:<hash>'.")
    found: str | None = Field(description="The hash found now; None when missing.")

    def in_words(self) -> str:
        if self.what == "missing":
            return f"{self.path}: missing (the MHL records {self.recorded})"
        return f"{self.path}: changed (the MHL records {self.recorded}, found {self.found})"


@dataclass(frozen=True)
class Creator:
    """Who sealed: proxx and its version (the MHL's tool), the engine and the job (its
    comment)."""

    job_id: str
    comment: str

    def info(self) -> MHLCreatorInfo:
        info = MHLCreatorInfo()
        info.tool = MHLTool("proxx", __version__)
        info.creation_date = datetime_now_isostring()
        info.host_name = platform.node()
        info.comment = self.comment
        info.authors.append(MHLAuthor(f"proxx job {self.job_id}", role="proxy generation"))
        return info


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The library prints its progress (`click.echo`); proxx's standard output carries the
    result JSON, so the library's words are kept off it."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _load(root: Path) -> MHLHistory:
    """The history at `root` (empty when there is none); MhlProblem when it is damaged."""
    try:
        with _quiet():
            return MHLHistory.load_from_path(str(root))
    except mhl_errors.ModifiedMHLManifestFileException as error:
        raise MhlProblem(f"the ASC MHL history is damaged: {error.message}") from None
    except mhl_errors.MissingMHLManifestException as error:
        raise MhlProblem(f"the ASC MHL history is incomplete: {error.message}") from None
    except mhl_errors.NoMHLChainException as error:
        raise MhlProblem(f"the ASC MHL history has no chain file: {error.message}") from None
    except (OSError, ValueError, SyntaxError) as error:  # lxml's XMLSyntaxError is one
        raise MhlProblem(f"the ASC MHL history cannot be read: {error}") from None


def seal_files(folder: Path, files: Sequence[Path], creator: Creator) -> Seal:
    """A new generation of `folder`'s history listing `files` (each inside it). Never raises
    for the seal's own trouble: the Seal says what went wrong."""
    listed = tuple(str(path) for path in files)

    def failed(problem: str, generation: str | None = None) -> Seal:
        return Seal(folder=str(folder), generation=generation, files=listed, problem=problem)

    outside = [path for path in listed if folder not in Path(path).parents]
    if outside:
        return failed(f"not inside {folder}: {', '.join(outside)}")
    try:
        with _folder_lock(folder):
            history = _load(folder)
            ignores = MHLIgnoreSpec(history.latest_ignore_patterns(), list(FOLDER_IGNORES))
            session = MHLGenerationCreationSession(history, ignores)
            differing = []
            with _quiet():
                for path in listed:
                    sealed = seal_file_path(history, path, [HASH_FORMAT], session)
                    if not sealed[HASH_FORMAT].success:
                        differing.append(path)
                process = MHLProcessInfo()
                process.process = MHLProcess("in-place")
                session.commit(creator.info(), process)
            generation = history.hash_lists[-1].file_path
    except MhlProblem as problem:
        return failed(str(problem))
    except OSError as error:
        return failed(f"the ASC MHL history of {folder} could not be written: {error}")
    if differing:
        return failed(
            "the files differ from their earlier seal (the generation records them as failed): "
            + ", ".join(differing),
            generation,
        )
    return Seal(folder=str(folder), generation=generation, files=listed, problem=None)


def _recorded(history: MHLHistory) -> dict[str, tuple[str, str]]:
    """Every file an MHL history and its child histories record, by absolute path: the format
    and hash of its original entry."""
    recorded: dict[str, tuple[str, str]] = {}
    for each in MHLHistory.walk_child_histories(history):
        root = each.get_root_path()
        for hash_list in each.hash_lists:
            for media_hash in hash_list.media_hashes:
                if media_hash.is_directory:
                    continue
                entry = each.find_original_hash_entry_for_path(media_hash.path)
                if entry is not None:
                    path = os.path.normpath(Path(root) / media_hash.path)
                    recorded.setdefault(path, (entry.hash_format, entry.hash_string))
    return recorded


def differences(recorded: dict[str, tuple[str, str]], paths: Sequence[str]) -> list[Difference]:
    """Each of `paths` whose bytes are not those recorded (each must be recorded)."""
    found = []
    for path in paths:
        hash_format, expected = recorded[path]
        shown = f"{hash_format}:{expected}"
        try:
            actual = hash_file(path, hash_format)
        except FileNotFoundError:
            found.append(Difference(path=path, what="missing", recorded=shown, found=None))
            continue
        if actual != expected:
            now = f"{hash_format}:{actual}"
            found.append(Difference(path=path, what="changed", recorded=shown, found=now))
    return found


def history_root(path: Path) -> Path | None:
    """The nearest folder at or above `path` that holds an ASC MHL history."""
    for folder in (path, *path.parents):
        if (folder / MHL_FOLDER).is_dir():
            return folder
    return None


class CardCheck(BaseModel):
    """A card's own MHL, checked against the files it records."""

    model_config = _FROZEN

    root: str = Field(description="The folder that holds the card's ascmhl/ history.")
    files_checked: int
    differences: tuple[Difference, ...]
    not_recorded: tuple[str, ...] = Field(description="Sources of the job the MHL does not list.")


def check_card(root: Path, sources: Sequence[str]) -> CardCheck:
    """Hash every file the card's history records (the whole card, once) and compare; also name
    the job's sources it does not record. MhlProblem when the history cannot be read."""
    history = _load(root)
    if not history.hash_lists:
        raise MhlProblem(f"{root / MHL_FOLDER} holds no generation")
    recorded = _recorded(history)
    paths = sorted(recorded)
    return CardCheck(
        root=str(root),
        files_checked=len(paths),
        differences=tuple(differences(recorded, paths)),
        not_recorded=tuple(s for s in sources if os.path.normpath(s) not in recorded),
    )


class JobSealCheck(BaseModel):
    """One job's seal in its proxy folder's history, checked against the files it lists."""

    model_config = _FROZEN

    generation: str | None = Field(description="The generation that seals the job (None: none).")
    files_checked: int
    differences: tuple[Difference, ...]
    problem: str | None = Field(description="Why the seal could not be checked, or is missing.")

    @property
    def intact(self) -> bool:
        return self.problem is None and not self.differences

    def findings(self) -> list[str]:
        lines = [f"ASC MHL: {self.problem}"] if self.problem else []
        return lines + [f"ASC MHL: {d.in_words()}" for d in self.differences]


def check_job_seal(folder: Path, result_file: Path) -> JobSealCheck:
    """The generation of `folder`'s history that lists the job's result file, and every file it
    lists compared with the bytes found now. Hash only; never writes."""

    def problem(words: str) -> JobSealCheck:
        return JobSealCheck(generation=None, files_checked=0, differences=(), problem=words)

    if not (folder / MHL_FOLDER).is_dir():
        return problem(f"{folder} has no {MHL_FOLDER}/ history: the job was never sealed")
    try:
        history = _load(folder)
    except MhlProblem as error:
        return problem(str(error))
    relative = os.path.relpath(result_file, folder)
    for hash_list in history.hash_lists:
        if hash_list.find_media_hash_for_path(relative) is None:
            continue
        recorded = _recorded(history)
        paths = [
            os.path.normpath(folder / media_hash.path)
            for media_hash in hash_list.media_hashes
            if not media_hash.is_directory
        ]
        return JobSealCheck(
            generation=hash_list.file_path,
            files_checked=len(paths),
            differences=tuple(differences(recorded, [p for p in paths if p in recorded])),
            problem=None,
        )
    return problem(f"no generation of {folder / MHL_FOLDER} lists {result_file.name}: not sealed")
