"""ExecutionResult: the one source of truth about a job, and how it is fingerprinted and stored."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from proxx_exec.canonical import fingerprint
from proxx_exec.engines import EngineIdentity
from proxx_exec.failures import FailureClass, Reason
from proxx_exec.files import write_new_file
from proxx_exec.jobspec import JobSpec
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


class ClipResult(BaseModel):
    model_config = _FROZEN

    index: int
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
    duration_s: float | None = Field(description="Frames divided by frame rate.")


class ClipTiming(BaseModel):
    model_config = _FROZEN

    index: int
    encode_s: float
    verify_s: float


class Timing(BaseModel):
    """Wall-clock facts: the only part of a result that may differ between two runs."""

    model_config = _FROZEN

    started_at: str
    finished_at: str
    duration_s: float
    clips: list[ClipTiming]


class Host(BaseModel):
    """Where it ran. Outside the digest: it never changes what is produced."""

    model_config = _FROZEN

    engine_binary: str | None


class ExecutionResult(BaseModel):
    model_config = _FROZEN

    result_version: Literal["1"] = "1"
    proxx_version: str
    job_id: str | None
    spec_fingerprint: str = Field(
        description="SHA-256 of the canonical JobSpec (or of the raw "
        "document when it could not be parsed)."
    )
    spec: JobSpec | None
    profile: Profile | None
    engine: EngineIdentity | None
    status: Status
    failure: Failure | None
    clips: list[ClipResult]
    timing: Timing
    host: Host
    digest: str = Field(description="SHA-256 over everything but timing, host and digest.")

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


def seal(fields: dict[str, Any]) -> ExecutionResult:
    """Build a result from its JSON-mode fields and stamp its digest."""
    draft = ExecutionResult.model_validate({**fields, "digest": ""})
    as_json = draft.model_dump(mode="json", by_alias=True)
    return draft.model_copy(update={"digest": compute_digest(as_json)})


def digest_matches(result: ExecutionResult) -> bool:
    return compute_digest(result.model_dump(mode="json", by_alias=True)) == result.digest


def write_result(result: ExecutionResult, path: Path) -> None:
    """Write atomically and never replace an existing file (FileExistsError if one is there)."""
    write_new_file(path, result.to_json())
