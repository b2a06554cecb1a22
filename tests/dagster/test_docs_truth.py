"""The docs name only tags, metadata keys and run keys that the code really sets."""

from __future__ import annotations

import re

from proxx_dagster.config import jobspec_config_schema
from proxx_dagster.folder_job import describe_profile
from proxx_exec import BUILTIN_PROFILES, JobSpec
from tests.dagster.processes import REPO

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
ASSET_KEYS = {"proxx/proxies", "proxx/source_media"}  # AssetKey(["proxx", ...]), not literals


def documented(pattern: str) -> set[str]:
    return {m for doc in DOCS for m in re.findall(pattern, doc.read_text())}


def package_source() -> str:
    return "\n".join(p.read_text() for p in sorted((REPO / "proxx_dagster").glob("*.py")))


def test_every_documented_proxx_key_is_set_by_the_code() -> None:
    source = package_source()
    keys = documented(r"`(proxx/[a-z_]+)`") - ASSET_KEYS
    assert len(keys) > 10  # the docs were read
    assert sorted(key for key in keys if f'"{key}"' not in source) == []


def test_documented_run_keys_are_the_ones_the_tests_pin() -> None:
    """tests/dagster/test_automation.py and test_watch.py pin the keys the code makes; this
    pins the same forms in the operations guide."""
    text = (REPO / "docs" / "operations.md").read_text()
    for form in (
        "`inbox:<JobSpec fingerprint>`",
        "`<date>:<JobSpec fingerprint>`",
        "`watch:<job_id>`",
    ):
        assert form in text, form


def test_the_guide_describes_each_profile_as_the_launchpad_does() -> None:
    text = " ".join((REPO / "docs" / "dagster.md").read_text().split())
    for name, profile in BUILTIN_PROFILES.items():
        assert f"`{name}`: {describe_profile(profile)}" in text


def test_the_launchpad_describes_each_jobspec_field_as_the_schema_does() -> None:
    """So a corrected description (e.g. output_dir: made when missing) reaches the launchpad."""
    fields = jobspec_config_schema().fields
    assert {name: field.description for name, field in fields.items()} == {
        name: info.description for name, info in JobSpec.model_fields.items()
    }
