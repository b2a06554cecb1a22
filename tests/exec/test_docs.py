"""The reference docs name every field, profile, check and reason code the code has."""

from __future__ import annotations

from pathlib import Path

from proxx_exec import BUILTIN_PROFILES, JobSpec, Reason
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
