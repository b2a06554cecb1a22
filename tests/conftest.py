"""Shared fixtures: generated media (made once per session) and JobSpec builders; and the check
that every process a test starts is gone when it ends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.processes import SUITE_MARK, Proc, kill, leftovers
from proxx_exec import JobSpec
from tests.corpus import Corpus
from tests.helpers import Media, unavailable

# Set before any test runs, so every process the suite starts carries it (see benchmarks/processes).
SUITE_TOKEN = uuid.uuid4().hex
os.environ[SUITE_MARK] = SUITE_TOKEN
# How long a process that was told to stop may take to go, before it counts as left behind.
STOPPING_GRACE_S = 15.0
_LEFT_BEHIND: list[tuple[str, list[Proc]]] = []
_SESSION_FOLDER: list[Path] = []  # pytest's temporary folder of this session, once known


def _still_running() -> list[Proc]:
    if not _SESSION_FOLDER:
        return []
    deadline = time.monotonic() + STOPPING_GRACE_S
    while (found := leftovers(os.getpid(), SUITE_TOKEN, _SESSION_FOLDER[0])) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    return found


def _left_behind(where: str) -> list[Proc]:
    """What is still running; recorded for the session's verdict, then killed so that it
    cannot disturb the tests after it."""
    found = _still_running()
    if found:
        _LEFT_BEHIND.append((where, found))
        kill(found)
    return found


@pytest.fixture(autouse=True)
def no_process_left_behind(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """After each test (its other fixtures torn down first): nothing it started still runs."""
    if not _SESSION_FOLDER:
        _SESSION_FOLDER.append(tmp_path_factory.getbasetemp())
    yield
    found = _left_behind(request.node.nodeid)
    if found:
        pytest.fail(
            f"{len(found)} process(es) started by this test still ran after it: "
            + "; ".join(map(str, found)),
            pytrace=False,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The session fails if any test, or anything after the last one, left a process behind."""
    _left_behind("after the last test")
    if not _LEFT_BEHIND:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.section("processes left behind", sep="=", red=True)
        for where, found in _LEFT_BEHIND:
            for proc in found:
                reporter.line(f"{where}: {proc}")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Media:
    return Media(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The generated codec and camera-shape sources, each made once for the whole session."""
    return Corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "proxies"
    folder.mkdir()
    return folder


SpecFactory = Callable[..., JobSpec]


@pytest.fixture(scope="session")
def turkish_locale(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment variables selecting tr_TR.UTF-8 (dotless i, comma as decimal point), a
    locale few machines have installed: compiled here into a folder of the session (LOCPATH),
    and checked to take effect, so a perturbation with it is a real one."""
    folder = tmp_path_factory.mktemp("locales")
    compiled = subprocess.run(
        ["localedef", "-i", "tr_TR", "-f", "UTF-8", str(folder / "tr_TR.UTF-8")],
        capture_output=True,
        text=True,
        check=False,
    )
    env = {"LOCPATH": str(folder), "LANG": "tr_TR.UTF-8", "LC_ALL": "tr_TR.UTF-8"}
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import locale; locale.setlocale(locale.LC_ALL, ''); "
            "print(locale.localeconv()['decimal_point'])",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.stdout.strip() != ",":
        unavailable(
            f"cannot make the tr_TR.UTF-8 locale (localedef: {compiled.stderr.strip()[-300:]}; "
            f"probe: {probe.stderr.strip()[-300:]}); install the `locales` package"
        )
    return env


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
