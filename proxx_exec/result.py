"""ExecutionResult: the one source of truth about a job, and how it is fingerprinted and stored."""

from __future__ import annotations

import json
import os
import stat
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from proxx_exec.canonical import fingerprint
from proxx_exec.engines import EngineIdentity
from proxx_exec.expected import Decision, ExpectedOutput
from proxx_exec.failures import FailureClass, JobFailure, Reason
from proxx_exec.files import write_new_file
from proxx_exec.jobspec import JobSpec
from proxx_exec.looks.picture import BurnInsField, LookField
from proxx_exec.naming import refusal_path, result_path
from proxx_exec.prober import ProberIdentity
from proxx_exec.profiles import Profile

_FROZEN = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Status(StrEnum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


class ClipState(StrEnum):
    COMMITTED = "COMMITTED"
    DISCARDED = "DISCARDED"
    FAILED = "FAILED"
    NOT_RUN = "NOT_RUN"


CheckValue = str | int | list[Any] | None


class Check(BaseModel):
    model_config = _FROZEN

    name: str
    passed: bool
    expected: CheckValue
    actual: CheckValue


class Failure(BaseModel):
    model_config = _FROZEN

    failure_class: FailureClass = Field(alias="class")
    reason: Reason
    clip_index: int | None
    message: str
    stderr_tail: str | None

    @classmethod
    def of(cls, error: JobFailure) -> Failure:
        return cls.model_validate(
            {
                "class": error.failure_class,
                "reason": error.reason,
                "clip_index": error.clip_index,
                "message": error.message,
                "stderr_tail": error.stderr_tail,
            }
        )


class ClipResult(BaseModel):
    model_config = _FROZEN

    index: int = Field(description="0-based position in the JobSpec's sources.")
    source: str
    output: str | None = Field(description="Final path of the proxy (exists only if COMMITTED).")
    state: ClipState = Field(
        description="COMMITTED: verified and at `output`. DISCARDED: "
        "verified, then removed because the job failed. FAILED: this clip "
        "failed the job. NOT_RUN: never started."
    )
    argv: list[str]
    verify_argv: list[str]
    exit_code: int | None
    checks: list[Check]
    output_bytes: int | None
    output_sha256: str | None
    frame_count: int | None
    duration_s: float | None = Field(
        description="From the first to the last frame's time plus one nominal frame."
    )
    expected: ExpectedOutput | None = Field(
        description="What verification demanded of the proxy (None: the job was not planned)."
    )
    decisions: tuple[Decision, ...] = Field(
        description="What was found in the source and what the plan decided, per property."
    )
    cpu_dependent: tuple[str, ...] = Field(
        description="Stages whose bytes may differ between CPUs; empty: bit-exact on every "
        "x86-64 machine with the same engine."
    )
    look: LookField = None
    burn_ins: BurnInsField = None
    look_check_argv: list[str] | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="With a look: the command whose thumbnails `look_applied` compares.",
    )


class ClipTiming(BaseModel):
    model_config = _FROZEN

    index: int
    encode_s: float = Field(description="The engine's encode.")
    verify_s: float = Field(description="Header checks and the full verification decode.")
    hash_s: float = Field(default=0.0, description="SHA-256 of the verified proxy.")


class Timing(BaseModel):
    """Wall-clock facts: the only part of a result that may differ between two runs."""

    model_config = _FROZEN

    started_at: str
    finished_at: str
    duration_s: float
    validation_s: float | None = Field(
        default=None, description="Validation: engine identity, source probes, the plan."
    )
    commit_s: float | None = Field(default=None, description="The commit of every proxy.")
    clips: list[ClipTiming]


class Host(BaseModel):
    """Where it ran. Outside the digest: it never changes what is produced."""

    model_config = _FROZEN

    engine_binary: str | None


class ExecutionResult(BaseModel):
    model_config = _FROZEN

    # Format 3 added `prober`; a format-2 record (written before it) still reads, so the
    # results already beside proxies keep counting after an upgrade (which clips have proxies).
    result_version: Literal["2", "3"] = "3"
    proxx_version: str
    job_id: str | None
    spec_fingerprint: str = Field(
        description="SHA-256 of the canonical JobSpec (or of the raw "
        "document when it could not be parsed)."
    )
    spec: JobSpec | None
    profile: Profile | None
    engine: EngineIdentity | None
    prober: ProberIdentity | None = Field(
        description="The library that read the sources for the plan (None: not planned)."
    )
    status: Status
    failure: Failure | None
    clips: list[ClipResult]
    timing: Timing
    host: Host
    digest: str = Field(description="SHA-256 over everything but timing, host and digest.")

    @model_validator(mode="before")
    @classmethod
    def _format_2_names_no_prober(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("result_version") == "2":
            return {"prober": None, **data}
        return data

    @property
    def completed(self) -> bool:
        return self.status is Status.COMPLETED

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> ExecutionResult:
        return cls.model_validate_json(text)


def compute_digest(fields: dict[str, Any]) -> str:
    """Digest of a result's JSON form, leaving out what may differ between identical runs."""
    kept = {k: v for k, v in fields.items() if k not in {"timing", "host", "digest"}}
    return fingerprint(kept)


def seal(draft: ExecutionResult) -> ExecutionResult:
    """Stamp a result's digest over its JSON form (whatever `digest` the draft carries)."""
    return draft.model_copy(
        update={"digest": compute_digest(draft.model_dump(mode="json", by_alias=True))}
    )


def digest_matches(result: ExecutionResult) -> bool:
    fields = result.model_dump(mode="json", by_alias=True)
    if result.result_version == "2":  # its record had no `prober`; reading it added None
        del fields["prober"]
    return compute_digest(fields) == result.digest


def document_digest_matches(document: dict[str, Any]) -> bool:
    """The same check on a result file's parsed JSON, whatever proxx version wrote it."""
    return compute_digest(document) == document.get("digest")


def record_path(result: ExecutionResult) -> str | None:
    """Where the result is kept beside the proxies: a refusal under a name that does not spend
    the job_id, any other result under the job's result name. None: no JobSpec was read."""
    if result.spec is None:
        return None
    if result.failure is not None and result.failure.failure_class is FailureClass.VALIDATION:
        return refusal_path(result.spec.output_dir, result.spec.job_id, result.digest)
    return result_path(result.spec.output_dir, result.spec.job_id)


def write_result(result: ExecutionResult, path: Path) -> None:
    """Write atomically and never replace an existing file (FileExistsError if one is there)."""
    write_new_file(path, result.to_json())


def read_result_document(path: Path) -> dict[str, Any]:
    """The parsed JSON object of a result file; ValueError in plain words otherwise."""
    try:
        # Opened without waiting: a FIFO or device under a result's name (anyone who can write
        # to an output folder can make one) would block the open for ever; it is refused unread.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(descriptor, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if stat.S_ISDIR(mode):
                raise IsADirectoryError
            if not stat.S_ISREG(mode):
                raise ValueError("is not a regular file (a FIFO, socket or device)")
            start = handle.read(64)
            head = start.lstrip()
            if head and head[:1] != b"{":  # a video given by mistake is refused unread
                raise ValueError("not a proxx result: the file does not hold a JSON object")
            raw = start + handle.read()
    except IsADirectoryError:
        raise ValueError("is a folder, not a result file") from None
    except FileNotFoundError:
        raise ValueError("does not exist") from None
    except OSError as error:
        raise ValueError(f"cannot be read: {error.strerror or error}") from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"is not UTF-8 text ({error.reason} at byte {error.start})") from None
    except (json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ValueError("not a proxx result: the file does not hold a JSON object")
    if "spec_version" in document and "result_version" not in document:
        raise ValueError(
            "is a JobSpec, not a result: give the result a run of it wrote "
            "(<output_dir>/<job_id>.proxx-result.json); `proxx run` runs a JobSpec"
        )
    return document
