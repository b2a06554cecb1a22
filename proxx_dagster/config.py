"""The launchpad form of a JobSpec: a Dagster config schema derived from JobSpec's own fields.

Dagster checks only the shape (so the launchpad shows every field with its description);
proxx_exec validates the content, and a bad JobSpec becomes a FAILED VALIDATION result.
"""

from __future__ import annotations

from typing import Any

from dagster import Any as AnyType
from dagster import Array, Field, Noneable, Shape
from pydantic.fields import FieldInfo

from proxx_exec import JobSpec

# Dagster types per JobSpec field. `profile` is a name or a whole profile object, which Dagster's
# config system cannot express as a union, so it is passed through for proxx_exec to validate;
# so is `look`.
_DAGSTER_TYPES: dict[str, Any] = {
    "spec_version": str,
    "job_id": str,
    "sources": Array(str),
    "output_dir": str,
    "profile": AnyType,
    "naming": str,
    "clip_timeout_s": int,
    "engine": str,
    "engine_sha256": Noneable(str),
    "retried_from": Noneable(str),
    "look": AnyType,  # "none", a built-in look's name or {"cube": path}: a union, like profile
    "burn_ins": Array(str),
}


def _field(name: str, info: FieldInfo) -> Field:
    dagster_type = _DAGSTER_TYPES[name]
    if info.is_required():
        return Field(dagster_type, description=info.description)
    default = list(info.default) if isinstance(info.default, tuple) else info.default
    return Field(
        dagster_type, description=info.description, default_value=default, is_required=False
    )


def jobspec_config_schema() -> Shape:
    missing = set(JobSpec.model_fields) ^ set(_DAGSTER_TYPES)
    if missing:  # a JobSpec field was added or removed without its launchpad form
        raise RuntimeError(f"JobSpec and its Dagster config disagree on: {sorted(missing)}")
    fields = {name: _field(name, info) for name, info in JobSpec.model_fields.items()}
    return Shape(fields)  # type: ignore[no-untyped-call]
