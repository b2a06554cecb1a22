"""The reference docs name every field, profile, check and reason code the code has."""

from __future__ import annotations

from pathlib import Path

from proxx_exec import BUILTIN_PROFILES, JobSpec, Reason
from proxx_exec.audit import (
    AuditReport,
    AuditTotals,
    ChangedOutput,
    ChangeKind,
    ExtraEntry,
    ExtraKind,
    MissingOutput,
    ResultAudit,
)
from proxx_exec.verify import CHECK_NAMES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_jobspec_reference_is_complete() -> None:
    text = (DOCS / "jobspec.md").read_text()
    missing = [
        f"`{name}`"
        for name in (
            *JobSpec.model_fields,
            *BUILTIN_PROFILES,
            *CHECK_NAMES,
            *(r.value for r in Reason),
        )
        if f"`{name}`" not in text
    ]
    assert missing == []


def test_audit_json_schema_is_documented() -> None:
    """docs/audit.md names every field of `proxx audit --json` and every value of its enums."""
    text = (DOCS / "audit.md").read_text()
    models = (AuditReport, ResultAudit, AuditTotals, MissingOutput, ChangedOutput, ExtraEntry)
    names = [field for model in models for field in model.model_fields]
    names += [kind.value for kind in (*ChangeKind, *ExtraKind)]
    assert [f"`{name}`" for name in names if f"`{name}`" not in text] == []
