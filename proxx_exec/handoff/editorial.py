"""Editorial hand-off: an Avid ALE and an FCPXML beside a COMPLETED job's proxies."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from proxx_exec.result import ExecutionResult

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Editorial(BaseModel):
    """The editorial files written for one job, and why any was not."""

    model_config = _FROZEN

    ale: str | None = Field(description="The ALE file (None: not written).")
    fcpxml: str | None = Field(description="The FCPXML file (None: not written).")
    problems: tuple[str, ...] = Field(description="Why a file was not written, in plain words.")


def write_editorial(result: ExecutionResult) -> Editorial:
    return Editorial(ale=None, fcpxml=None, problems=())
