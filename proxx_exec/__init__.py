"""proxx_exec: the deterministic execution core. A JobSpec goes in, an ExecutionResult comes out.

This package never imports an orchestrator, never reads the environment or the clock to decide
anything, and never retries. Its public names load on first use, so a command that only reads
results (`proxx audit`) does not pay for the media library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The release, stated here once (pyproject.toml reads it): every result names it, and a lookup
# in the installer's metadata can fail where the code runs from a copy that was not installed.
# 0.2: new pinned thread counts, so new commands (results of 0.1 name it). 0.3: looks and
# burn-ins, and each COMPLETED job's folder sealed (ASC MHL) with an ALE and an FCPXML.
__version__ = "0.3.0"

if TYPE_CHECKING:
    from proxx_exec.engines import EngineIdentity
    from proxx_exec.failures import FailureClass, JobFailure, Reason
    from proxx_exec.jobspec import JobSpec, jobspec_schema, load_jobspec, load_jobspec_bytes
    from proxx_exec.plan import ClipPlan, JobPlan
    from proxx_exec.profiles import BUILTIN_PROFILES, Profile
    from proxx_exec.result import ClipState, ExecutionResult, Status, digest_matches
    from proxx_exec.run import ClipProgress, execute, execute_document, execute_file
    from proxx_exec.validate import ValidatedJob, validate_job

_HOMES = {
    "EngineIdentity": "engines",
    "FailureClass": "failures",
    "JobFailure": "failures",
    "Reason": "failures",
    "JobSpec": "jobspec",
    "jobspec_schema": "jobspec",
    "load_jobspec": "jobspec",
    "load_jobspec_bytes": "jobspec",
    "ClipPlan": "plan",
    "JobPlan": "plan",
    "BUILTIN_PROFILES": "profiles",
    "Profile": "profiles",
    "ClipState": "result",
    "ExecutionResult": "result",
    "Status": "result",
    "digest_matches": "result",
    "ClipProgress": "run",
    "execute": "run",
    "execute_document": "run",
    "execute_file": "run",
    "ValidatedJob": "validate",
    "validate_job": "validate",
}

__all__ = [
    "BUILTIN_PROFILES",
    "ClipPlan",
    "ClipProgress",
    "ClipState",
    "EngineIdentity",
    "ExecutionResult",
    "FailureClass",
    "JobFailure",
    "JobPlan",
    "JobSpec",
    "Profile",
    "Reason",
    "Status",
    "ValidatedJob",
    "digest_matches",
    "execute",
    "execute_document",
    "execute_file",
    "jobspec_schema",
    "load_jobspec",
    "load_jobspec_bytes",
    "validate_job",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'proxx_exec' has no attribute {name!r}")
    return getattr(importlib.import_module(f"proxx_exec.{home}"), name)
