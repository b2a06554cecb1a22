"""Shared fixtures: generated media (made once per session) and JobSpec builders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proxx_exec import JobSpec
from tests.helpers import Media


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return Media(tmp_path_factory.mktemp("media"))


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "proxies"
    folder.mkdir()
    return folder


SpecFactory = Callable[..., JobSpec]


@pytest.fixture
def make_spec(out_dir: Path) -> SpecFactory:
    def build(sources: list[Path], **fields: Any) -> JobSpec:
        document: dict[str, Any] = {
            "spec_version": "1",
            "job_id": "test-job",
            "sources": [str(s) for s in sources],
            "output_dir": str(out_dir),
            "profile": "h264_quarter",
            "clip_timeout_s": 120,
        }
        document.update(fields)
        return JobSpec.model_validate(document)

    return build
