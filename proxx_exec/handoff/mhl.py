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
history and writes its generation and the chain file; a reader (`check_job_seal`, the audit)
holds a shared one, so it never sees a generation the chain does not list yet. The library
rewrites `ascmhl_chain.xml` in place (truncated, then written): here it writes a temporary file
beside it that replaces the chain whole, so a full disk or a crash mid-write leaves the chain
as it was, never half a chain that makes every earlier seal unreadable.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import os
import platform
import stat
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
    what: str = Field(description="'missing', 'unreadable' or 'changed' (another hash).")
    recorded: str = Field(description="The recorded hash, as '<format>:<hash>'.")
    found: str | None = Field(
        description="The hash found now; None when missing; why, when unreadable."
    )

    def in_words(self) -> str:
        if self.what == "missing":
            return f"{self.path}: missing (the MHL records {self.recorded})"
        if self.what == "unreadable":
            return f"{self.path}: unreadable ({self.found}; the MHL records {self.recorded})"
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
def _folder_lock(folder: Path, shared: bool = False) -> Iterator[None]:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
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


@contextlib.contextmanager
def _committed_whole(history: MHLHistory) -> Iterator[None]:
    """While the library commits a generation, each history's chain file is written to a
    temporary file, which then replaces the chain in one rename, once the commit succeeded.
    On failure the temporary files and any generation file the commit wrote (perhaps half of
    one: the library reads every file of ascmhl/, so half a generation would make the folder's
    history unreadable for every later seal and audit) are removed: the history is as it was."""
    folders = [Path(each.asc_mhl_path) for each in MHLHistory.walk_child_histories(history)]
    before = {folder: set(folder.iterdir()) if folder.is_dir() else set() for folder in folders}
    try:
        with _chains_replaced_whole(history):
            yield
    except BaseException:
        for folder, existing in before.items():
            if folder.is_dir():
                for written in set(folder.iterdir()) - existing:
                    written.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _chains_replaced_whole(history: MHLHistory) -> Iterator[None]:
    """Each history's chain file written to a temporary file beside it, which replaces the
    chain in one rename once the commit succeeded (removed on failure)."""
    chains = [each.chain for each in MHLHistory.walk_child_histories(history)]
    real = [Path(chain.file_path) for chain in chains]
    temporary = [path.with_name(f".{path.name}.tmp") for path in real]
    for chain, path in zip(chains, temporary, strict=True):
        chain.file_path = str(path)
    try:
        yield
        for path, written in zip(real, temporary, strict=True):
            if written.exists():
                written.replace(path)
    finally:
        for chain, path, written in zip(chains, real, temporary, strict=True):
            written.unlink(missing_ok=True)
            chain.file_path = str(path)


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
                with _committed_whole(history):
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
    and hash of its original entry. MhlProblem when an entry points outside its history's
    folder (an absolute path, or `..`): an MHL handed to proxx never makes it read elsewhere."""
    recorded: dict[str, tuple[str, str]] = {}
    top = os.path.normpath(history.get_root_path())
    for each in MHLHistory.walk_child_histories(history):
        root = each.get_root_path()
        for hash_list in each.hash_lists:
            for media_hash in hash_list.media_hashes:
                if media_hash.is_directory:
                    continue
                entry = each.find_original_hash_entry_for_path(media_hash.path)
                if entry is not None:
                    path = os.path.normpath(Path(root) / media_hash.path)
                    if os.path.commonpath([top, path]) != top:
                        raise MhlProblem(
                            f"its MHL records {media_hash.path!r}, which is outside {top}"
                        )
                    recorded.setdefault(path, (entry.hash_format, entry.hash_string))
    return recorded


def differences(recorded: dict[str, tuple[str, str]], paths: Sequence[str]) -> list[Difference]:
    """Each of `paths` whose bytes are not those recorded (each must be recorded)."""
    found = []
    for path in paths:
        hash_format, expected = recorded[path]
        shown = f"{hash_format}:{expected}"
        try:
            if not stat.S_ISREG(Path(path).stat().st_mode):  # a FIFO or device would never end
                raise OSError(errno.EINVAL, "not a regular file")
            actual = hash_file(path, hash_format)
        except FileNotFoundError:
            found.append(Difference(path=path, what="missing", recorded=shown, found=None))
            continue
        except OSError as error:  # a folder where the file was, no permission, an I/O error
            why = error.strerror or str(error)
            found.append(Difference(path=path, what="unreadable", recorded=shown, found=why))
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
        with _folder_lock(folder, shared=True):  # a seal being written is waited for
            history = _load(folder)
    except MhlProblem as error:
        return problem(str(error))
    except OSError as error:
        return problem(f"the ASC MHL history of {folder} cannot be read: {error}")
    relative = os.path.relpath(result_file, folder)
    for hash_list in history.hash_lists:
        if hash_list.find_media_hash_for_path(relative) is None:
            continue
        try:
            recorded = _recorded(history)
        except MhlProblem as error:
            return problem(str(error))
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
