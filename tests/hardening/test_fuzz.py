"""Hostile and malformed JobSpecs: every input ends in a JobSpec or a structured VALIDATION
failure, never another exception, never a hang.

CI runs a few hundred examples per test; the long run (>= 10,000) is
`PROXX_FUZZ_EXAMPLES=10000 python3 dev.py test tests/hardening/test_fuzz.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from dagster import DagsterInvalidConfigError, validate_run_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxx_dagster.definitions import proxx_job
from proxx_exec import FailureClass, JobFailure, JobSpec, load_jobspec_bytes, validate_job
from proxx_exec.jobspec import parse_jobspec

EXAMPLES = int(os.environ.get("PROXX_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = [
    "spec_version",
    "job_id",
    "sources",
    "output_dir",
    "profile",
    "naming",
    "clip_timeout_s",
    "engine",
    "retried_from",
]
names = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
paths = st.one_of(
    names,
    names.map(lambda n: "/" + n),
    st.just("/../../etc/passwd"),
    st.just("-i"),
    st.just("/tmp/a\x00b"),
    st.just("/tmp/x\ny"),
)
BASE = {
    "spec_version": "1",
    "job_id": "fuzz",
    "sources": ["/media/a.mov"],
    "output_dir": "/proxies",
    "profile": "h264_half",
}
field_values: dict[str, st.SearchStrategy[Any]] = {
    "spec_version": st.sampled_from(["1", 1, "2", None]) | json_value,
    "job_id": names | json_value,
    "sources": st.lists(paths, max_size=3) | json_value,
    "output_dir": paths | json_value,
    "profile": st.sampled_from(["h264_half", "nope"])
    | json_value
    | st.fixed_dictionaries(
        {
            "name": names,
            "container": st.sampled_from(["mov", "mp4", "avi"]),
            "video_codec": st.sampled_from(["libx264", "prores_ks", "x"]),
        }
    ),
    "naming": names | st.sampled_from(["{source_stem}", "../{x}", "{index:>9}", "{", "}"]),
    "clip_timeout_s": st.integers() | json_value,
    "engine": paths | st.just("imageio-ffmpeg"),
    "retried_from": names | st.none(),
}


@st.composite
def mutated_specs(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = dict(BASE)
    for name in draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=4)):
        document[name] = draw(field_values[name])
    for name in draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=2)):
        document.pop(name, None)
    if draw(st.booleans()):
        document[draw(st.text(max_size=6))] = draw(json_value)
    return document


def outcome(raw: bytes) -> JobSpec | JobFailure:
    try:
        return load_jobspec_bytes(raw)
    except JobFailure as failure:
        assert failure.failure_class is FailureClass.VALIDATION
        assert failure.message
        return failure


@FUZZ
@given(mutated_specs(), st.sampled_from(["json", "yaml"]))
def test_mutated_documents(document: dict[str, Any], form: str) -> None:
    raw = (json.dumps(document) if form == "json" else yaml.safe_dump(document)).encode()
    outcome(raw)


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes(raw: bytes) -> None:
    outcome(raw)


@FUZZ
@given(json_value)
def test_arbitrary_json(value: Any) -> None:
    outcome(json.dumps(value).encode())


@FUZZ
@given(mutated_specs())
def test_launchpad_config(document: dict[str, Any]) -> None:
    """What the launchpad accepts, proxx turns into a JobSpec or a VALIDATION failure."""
    config = {"ops": {"execute_jobspec": {"config": document}}}
    try:
        resolved = validate_run_config(proxx_job, config)
    except DagsterInvalidConfigError:
        return  # Dagster refused the shape with its own message
    op_config = resolved["ops"]["execute_jobspec"]["config"]
    try:
        parse_jobspec(op_config)
    except JobFailure as failure:
        assert failure.failure_class is FailureClass.VALIDATION


@settings(
    max_examples=max(EXAMPLES // 10, 20),
    deadline=5000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=mutated_specs())
def test_valid_shapes_validate_without_writing(document: dict[str, Any], tmp_path: Path) -> None:
    """A fuzzed JobSpec that parses is validated against a real, empty output folder:
    validation ends in a plan or a VALIDATION failure and writes nothing."""
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    document = {**document, "output_dir": str(out)}
    parsed = outcome(json.dumps(document).encode())
    if isinstance(parsed, JobSpec):
        try:
            validate_job(parsed)
        except JobFailure as failure:
            assert failure.failure_class is FailureClass.VALIDATION
    assert list(out.iterdir()) == []


def test_deep_nesting_and_alias_bombs_are_refused_quickly() -> None:
    deep_json = b"[" * 200_000 + b"]" * 200_000
    deep_yaml = b"a: " + b"[" * 50_000 + b"]" * 50_000
    bomb = b"a: &a [x, x, x, x, x, x, x, x]\n" + b"".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 8)}]\n".encode()
        for i in range(9)
    )
    for raw in (deep_json, deep_yaml, bomb, b"\xff" * 1000, b"x" * (17 * 1024 * 1024)):
        result = outcome(raw)
        assert isinstance(result, JobFailure)
