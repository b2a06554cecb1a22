"""proxx_exec: the deterministic execution core. A JobSpec goes in, an ExecutionResult comes out.

This package never imports an orchestrator, never reads the environment or the clock to decide
anything, and never retries.
"""

from proxx_exec.engines import EngineIdentity
from proxx_exec.failures import FailureClass, JobFailure, Reason
from proxx_exec.jobspec import JobSpec, jobspec_schema, load_jobspec, load_jobspec_bytes
from proxx_exec.plan import ClipPlan, JobPlan
from proxx_exec.profiles import BUILTIN_PROFILES, Profile
from proxx_exec.result import ClipState, ExecutionResult, Status, digest_matches
from proxx_exec.run import ClipProgress, execute, execute_document, execute_file
from proxx_exec.validate import ValidatedJob, validate_job

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
