"""`proxx audit`: are the committed proxies still exactly what their ExecutionResults record?

Hash only, never decode: for each result file, its digest is checked against its content, and
every output of a COMMITTED clip is looked up (size first, then SHA-256). Each output folder of
the audited jobs is listed once for *extra* entries: anything directly inside it that no result
accounts for (see `extra_entries`). Result files of any format version are read: only the few
fields an audit needs are taken from the raw JSON, and the digest is computed over the document
as it is.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from proxx_exec.files import file_fingerprint
from proxx_exec.naming import RESULT_SUFFIX, STAGING_PREFIX, is_record_name
from proxx_exec.refusals import describe
from proxx_exec.result import ClipState, compute_digest, read_result_document

_FROZEN = ConfigDict(frozen=True, extra="forbid")
# Result files are read leniently: only what an audit needs, whatever else a version holds.
_LENIENT = ConfigDict(frozen=True, extra="ignore")


def _file_system_path(value: str) -> str:
    # A NUL byte cannot be in a path: the file system calls would raise instead of answering.
    if "\x00" in value:
        raise ValueError("a path cannot contain a NUL character")
    return value


RecordedPath = Annotated[str, AfterValidator(_file_system_path)]


class RecordedClip(BaseModel):
    model_config = _LENIENT

    index: int
    output: RecordedPath | None = None
    state: str
    output_bytes: int | None = None
    output_sha256: str | None = None


class RecordedSpec(BaseModel):
    model_config = _LENIENT

    job_id: str
    output_dir: RecordedPath


class RecordedResult(BaseModel):
    """The fields of an ExecutionResult (any format version) that an audit reads."""

    model_config = _LENIENT

    job_id: str | None = None
    status: str
    spec: RecordedSpec | None = None
    clips: list[RecordedClip] = []
    digest: str

    @property
    def output_dir(self) -> PurePosixPath | None:
        return PurePosixPath(self.spec.output_dir) if self.spec else None

    def committed(self) -> list[RecordedClip]:
        return [clip for clip in self.clips if clip.state == ClipState.COMMITTED.value]


class ChangeKind(StrEnum):
    SIZE = "size"
    SHA256 = "sha256"
    NOT_A_FILE = "not_a_file"
    UNREADABLE = "unreadable"


class ExtraKind(StrEnum):
    STAGING_FOLDER = "staging_folder"
    FILE = "file"
    FOLDER = "folder"
    SYMLINK = "symlink"
    OTHER = "other"


class MissingOutput(BaseModel):
    model_config = _FROZEN

    clip_index: int = Field(description="0-based clip index in the result.")
    path: str = Field(description="Where the result says the proxy is.")
    recorded_bytes: int
    recorded_sha256: str


class ChangedOutput(BaseModel):
    model_config = _FROZEN

    clip_index: int = Field(description="0-based clip index in the result.")
    path: str
    what: ChangeKind = Field(
        description="size: the size differs (the file was not hashed); sha256: same size, other "
        "bytes; not_a_file: a folder, symlink or device stands at the path; unreadable: the "
        "file could not be read."
    )
    recorded: int | str = Field(description="Recorded size or SHA-256 (or 'regular file').")
    found: int | str = Field(description="Size or SHA-256 found, or what stands there.")


class ExtraEntry(BaseModel):
    model_config = _FROZEN

    path: str
    kind: ExtraKind


class ResultAudit(BaseModel):
    """The audit of one result file."""

    model_config = _FROZEN

    result_file: str = Field(description="The result file, as an absolute path.")
    intact: bool = Field(
        description="True only if the file was read, its digest matches, no output is missing "
        "or changed, its output folder could be listed and holds no extra entry."
    )
    problem: str | None = Field(
        description="Why the result file could not be audited (unreadable, not a result); "
        "None when it was."
    )
    job_id: str | None
    status: str | None = Field(description="The recorded job status (COMPLETED or FAILED).")
    output_dir: str | None
    digest_matches: bool | None = Field(
        description="Whether the recorded digest equals the digest of the file's content."
    )
    recorded_digest: str | None
    content_digest: str | None
    outputs_checked: int = Field(description="Committed outputs looked up.")
    bytes_hashed: int = Field(description="Bytes read to compute SHA-256s.")
    missing: list[MissingOutput]
    changed: list[ChangedOutput]
    extra: list[ExtraEntry] = Field(
        description="Extra entries of the job's output folder (shared by every audited job "
        "writing into that folder)."
    )
    folder_problem: str | None = Field(description="Why the output folder could not be listed.")


class AuditTotals(BaseModel):
    model_config = _FROZEN

    results: int
    intact: int
    not_intact: int
    unreadable: int = Field(description="Result files that could not be audited.")
    tampered: int = Field(description="Result files whose digest does not match their content.")
    missing: int
    changed: int
    extra: int = Field(description="Distinct extra entries, each counted once.")
    outputs_checked: int
    bytes_hashed: int


class AuditReport(BaseModel):
    """What `proxx audit --json` prints."""

    model_config = _FROZEN

    audit_version: Literal["1"] = Field(default="1", description="This schema's version.")
    intact: bool = Field(description="True only if every audited result is intact.")
    results: list[ResultAudit] = Field(description="One per result file, in the order given.")
    totals: AuditTotals


@dataclass(frozen=True)
class LoadedResult:
    """A result file as read: its record, or why there is none."""

    path: Path
    recorded: RecordedResult | None
    problem: str | None = None
    content_digest: str | None = None

    @property
    def digest_matches(self) -> bool:
        """The record's digest is that of the file's content (it was not edited afterwards)."""
        return self.recorded is not None and self.content_digest == self.recorded.digest


def _describe_os_error(error: OSError) -> str:
    return error.strerror or str(error)


def load_result(path: Path) -> LoadedResult:
    """Read a result file for the audit; never raises for what is in the file."""
    absolute = path.absolute()
    try:
        document = read_result_document(absolute)
        content_digest = compute_digest(document)
    except ValueError as error:  # also NaN or Infinity, which canonical JSON refuses
        return LoadedResult(path=absolute, recorded=None, problem=str(error))
    try:
        recorded = RecordedResult.model_validate(document)
    except ValidationError as error:
        lines = describe(error, RecordedResult, document).replace("\n", "; ")
        return LoadedResult(
            path=absolute, recorded=None, problem=f"not a proxx ExecutionResult ({lines})"
        )
    for clip in recorded.committed():
        if clip.output is None or clip.output_bytes is None or clip.output_sha256 is None:
            return LoadedResult(
                path=absolute,
                recorded=None,
                problem=f"clip {clip.index + 1} is COMMITTED but records no output path, size "
                "or SHA-256",
            )
    return LoadedResult(path=absolute, recorded=recorded, content_digest=content_digest)


def _check_output(clip: RecordedClip) -> tuple[MissingOutput | ChangedOutput | None, int]:
    """What is wrong with one committed output (size first, then SHA-256) and the bytes hashed."""
    assert clip.output is not None and clip.output_bytes is not None
    assert clip.output_sha256 is not None
    path = Path(clip.output)

    def changed(what: ChangeKind, recorded: int | str, found: int | str) -> ChangedOutput:
        return ChangedOutput(
            clip_index=clip.index, path=clip.output or "", what=what, recorded=recorded, found=found
        )

    try:
        status = path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        missing = MissingOutput(
            clip_index=clip.index,
            path=clip.output,
            recorded_bytes=clip.output_bytes,
            recorded_sha256=clip.output_sha256,
        )
        return missing, 0
    except OSError as error:
        return changed(ChangeKind.UNREADABLE, "readable file", _describe_os_error(error)), 0
    if not stat.S_ISREG(status.st_mode):
        return changed(ChangeKind.NOT_A_FILE, "regular file", _kind(status.st_mode).value), 0
    if status.st_size != clip.output_bytes:
        return changed(ChangeKind.SIZE, clip.output_bytes, status.st_size), 0
    try:
        hashed, digest = file_fingerprint(path)
    except OSError as error:
        return changed(ChangeKind.UNREADABLE, "readable file", _describe_os_error(error)), 0
    if digest != clip.output_sha256:
        return changed(ChangeKind.SHA256, clip.output_sha256, digest), hashed
    if hashed != clip.output_bytes:  # it changed size while it was read
        return changed(ChangeKind.SIZE, clip.output_bytes, hashed), hashed
    return None, hashed


def _kind(mode: int) -> ExtraKind:
    if stat.S_ISLNK(mode):
        return ExtraKind.SYMLINK
    if stat.S_ISDIR(mode):
        return ExtraKind.FOLDER
    if stat.S_ISREG(mode):
        return ExtraKind.FILE
    return ExtraKind.OTHER


def _is_result_file(name: str) -> bool:
    return name.endswith(RESULT_SUFFIX) and not name.startswith(".")


def _claims(recorded: RecordedResult, folder: PurePosixPath) -> set[str]:
    """Names in `folder` that a result records as committed proxies."""
    return {
        PurePosixPath(clip.output).name
        for clip in recorded.committed()
        if clip.output is not None and PurePosixPath(clip.output).parent == folder
    }


def extra_entries(
    folder: PurePosixPath, audited: Iterable[LoadedResult]
) -> tuple[list[ExtraEntry], str | None]:
    """The extra entries of one output folder, or why it could not be listed.

    An entry directly inside the folder is extra unless it is
    - a proxy that an audited result records as committed there, or that a proxx result file
      in the same folder (audited or not) whose digest matches its content records so; or
    - one of proxx's own files (`*.proxx-result.json`, audited when given; a refusal's
      `*.proxx-refused-*.json`; a generated `*.proxx-jobspec.json`; `*.proxx-posters/`;
      `*.proxx-contact-sheet.html`; `proxx-night-*.html`).
    Staging folders (`.proxx-staging-*`) are always extra: a job that has ended leaves none.
    Sub-folders are reported as one entry; their content is not listed.
    """
    claimed: set[str] = set()
    audited_files = set()
    for loaded in audited:
        audited_files.add(loaded.path)
        if loaded.recorded is not None:
            claimed |= _claims(loaded.recorded, folder)
    try:
        with os.scandir(folder) as listing:
            entries = sorted((entry.name, _entry_kind(entry)) for entry in listing)
    except FileNotFoundError:
        return [], f"output folder {folder} does not exist"
    except OSError as error:
        return [], f"output folder {folder} cannot be listed: {_describe_os_error(error)}"
    for name, _ in entries:
        path = Path(folder / name)
        if _is_result_file(name) and path not in audited_files:
            sibling = load_result(path)
            if sibling.recorded is not None and sibling.digest_matches:
                claimed |= _claims(sibling.recorded, folder)
    extra = []
    for name, kind in entries:
        if name.startswith(STAGING_PREFIX):
            extra.append(ExtraEntry(path=str(folder / name), kind=ExtraKind.STAGING_FOLDER))
        elif name not in claimed and not is_record_name(name):
            extra.append(ExtraEntry(path=str(folder / name), kind=kind))
    return extra, None


def _entry_kind(entry: os.DirEntry[str]) -> ExtraKind:
    try:
        return _kind(entry.stat(follow_symlinks=False).st_mode)
    except OSError:  # removed while the folder was listed
        return ExtraKind.OTHER


def _audit_one(
    loaded: LoadedResult, extra: list[ExtraEntry], folder_problem: str | None
) -> ResultAudit:
    recorded = loaded.recorded
    if recorded is None:
        return ResultAudit(
            result_file=str(loaded.path),
            intact=False,
            problem=loaded.problem,
            job_id=None,
            status=None,
            output_dir=None,
            digest_matches=None,
            recorded_digest=None,
            content_digest=None,
            outputs_checked=0,
            bytes_hashed=0,
            missing=[],
            changed=[],
            extra=[],
            folder_problem=None,
        )
    missing: list[MissingOutput] = []
    changed: list[ChangedOutput] = []
    hashed = 0
    committed = recorded.committed()
    for clip in committed:
        finding, clip_hashed = _check_output(clip)
        hashed += clip_hashed
        if isinstance(finding, MissingOutput):
            missing.append(finding)
        elif isinstance(finding, ChangedOutput):
            changed.append(finding)
    digest_matches = loaded.digest_matches
    return ResultAudit(
        result_file=str(loaded.path),
        intact=digest_matches and not (missing or changed or extra or folder_problem),
        problem=None,
        job_id=recorded.job_id,
        status=recorded.status,
        output_dir=str(recorded.output_dir) if recorded.output_dir else None,
        digest_matches=digest_matches,
        recorded_digest=recorded.digest,
        content_digest=loaded.content_digest,
        outputs_checked=len(committed),
        bytes_hashed=hashed,
        missing=missing,
        changed=changed,
        extra=extra,
        folder_problem=folder_problem,
    )


def audit_results(paths: Sequence[Path]) -> AuditReport:
    """Audit result files together: each once (in the order first given), each output folder
    listed once against every audited result that writes into it."""
    loaded: dict[Path, LoadedResult] = {}
    for path in paths:
        absolute = path.absolute()
        if absolute not in loaded:
            loaded[absolute] = load_result(absolute)
    by_folder: dict[PurePosixPath, list[LoadedResult]] = {}
    for item in loaded.values():
        folder = item.recorded.output_dir if item.recorded else None
        if folder is not None:
            by_folder.setdefault(folder, []).append(item)
    listed = {folder: extra_entries(folder, items) for folder, items in by_folder.items()}
    audits = []
    for item in loaded.values():
        folder = item.recorded.output_dir if item.recorded else None
        extra, problem = listed[folder] if folder is not None else ([], None)
        audits.append(_audit_one(item, extra, problem))
    return AuditReport(intact=all(a.intact for a in audits), results=audits, totals=_totals(audits))


def _totals(audits: list[ResultAudit]) -> AuditTotals:
    return AuditTotals(
        results=len(audits),
        intact=sum(a.intact for a in audits),
        not_intact=sum(not a.intact for a in audits),
        unreadable=sum(a.problem is not None for a in audits),
        tampered=sum(a.digest_matches is False for a in audits),
        missing=sum(len(a.missing) for a in audits),
        changed=sum(len(a.changed) for a in audits),
        extra=len({e.path for a in audits for e in a.extra}),
        outputs_checked=sum(a.outputs_checked for a in audits),
        bytes_hashed=sum(a.bytes_hashed for a in audits),
    )


def findings(audit: ResultAudit) -> list[str]:
    """Each thing wrong with one audited result, in plain words (empty when intact)."""
    if audit.problem is not None:
        return [f"cannot audit {audit.result_file}: {audit.problem}"]
    lines = []
    if not audit.digest_matches:
        lines.append(
            f"tampered result: the recorded digest {audit.recorded_digest} does not match the "
            f"file's content (digest {audit.content_digest}); the record was changed after it "
            "was written"
        )
    lines += [
        f"missing: clip {m.clip_index + 1} {m.path} (recorded {m.recorded_bytes} bytes, "
        f"SHA-256 {m.recorded_sha256})"
        for m in audit.missing
    ]
    lines += [_describe_change(c) for c in audit.changed]
    if audit.folder_problem is not None:
        lines.append(audit.folder_problem)
    lines += [_describe_extra(e) for e in audit.extra]
    return lines


def _describe_change(change: ChangedOutput) -> str:
    where = f"changed: clip {change.clip_index + 1} {change.path}"
    if change.what is ChangeKind.SIZE:
        return f"{where}: size recorded {change.recorded} bytes, found {change.found}"
    if change.what is ChangeKind.SHA256:
        return f"{where}: same size, SHA-256 recorded {change.recorded}, found {change.found}"
    if change.what is ChangeKind.NOT_A_FILE:
        return f"{where}: a {change.found} stands where the proxy was"
    return f"{where}: cannot be read ({change.found})"


def _describe_extra(extra: ExtraEntry) -> str:
    what = {
        ExtraKind.STAGING_FOLDER: "a staging folder left behind",
        ExtraKind.FILE: "a file no result accounts for",
        ExtraKind.FOLDER: "a folder no result accounts for",
        ExtraKind.SYMLINK: "a symlink no result accounts for",
        ExtraKind.OTHER: "an entry no result accounts for",
    }[extra.kind]
    return f"extra: {extra.path} ({what})"
