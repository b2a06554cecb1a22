"""Shared fixtures: generated media (made once per session) and JobSpec builders; and the check
that every process a test starts is gone when it ends."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

from benchmarks.dagster_processes import dagster_home as new_dagster_home
from benchmarks.processes import SUITE_MARK, Proc, kill, leftovers
from proxx_exec import JobSpec
from tests.corpus import Corpus
from tests.helpers import Media, unavailable

# Set before any test runs, so every process the suite starts carries it (see benchmarks/processes).
SUITE_TOKEN = uuid.uuid4().hex
os.environ[SUITE_MARK] = SUITE_TOKEN
# How long a process that was told to stop may take to go, before it counts as left behind.
STOPPING_GRACE_S = 15.0
# Where, and which processes (as text): in this process; under pytest-xdist the controller also
# gathers what each worker found after its last test (`pytest_testnodedown`).
_LEFT_BEHIND: list[tuple[str, list[str]]] = []
# The key of this list in a pytest-xdist worker's output to the controller.
LEFT_BEHIND_OUTPUT = "proxx_left_behind"
_SESSION_FOLDER: list[Path] = []  # pytest's temporary folder of this session, once known
# The files of the lock that lets a test marked `alone` run alone, and their folder, once known.
LOCKS = ("gate.lock", "tests.lock")
_LOCK_FOLDER: list[Path] = []


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
        _LEFT_BEHIND.append((where, [str(proc) for proc in found]))
        kill(found)
    return found


# The modules whose tests take minutes each, mostly waiting on Dagster's daemons and brokers (or a
# browser). On pytest-xdist's workers (python3 dev.py test, --dist loadgroup) they are one group:
# one worker runs them one after another, started first, while the other takes the rest; so no
# two of them share the machine and make each other miss their bounded waits.
SLOW_MODULES = frozenset(
    {
        "tests/browser/test_operator_flows.py",
        "tests/dagster/test_automation_daemon.py",
        "tests/dagster/test_batch_celery.py",
        "tests/dagster/test_watch_daemon.py",
        "tests/hardening/test_chaos_night.py",
    }
)
SLOW_GROUP = "slow"


class SlowModulesTogether(LoadScopeScheduling):  # type: ignore[misc]
    """pytest-xdist's scheduling by groups: the tests of SLOW_MODULES are one group, every other
    test a group of its own. Groups are handed out largest first, then in collection order."""

    def _split_scope(self, nodeid: str) -> str:
        return SLOW_GROUP if nodeid.split("::", 1)[0] in SLOW_MODULES else nodeid


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """--dist loadgroup schedules by SlowModulesTogether (pytest-xdist's own `xdist_group` marks
    do not reach its scheduler under pytest 9: it renames node ids by an attribute pytest 9 no
    longer reads)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    return SlowModulesTogether(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests of SLOW_MODULES run first, those marked `alone` last: on pytest-xdist's workers
    the longest work starts at once, and a test that measures time waits seconds, not minutes,
    for the test beside it to end. The order is otherwise kept."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("alone") is not None,
            item.nodeid.split("::", 1)[0] not in SLOW_MODULES,
        )
    )


@pytest.fixture(autouse=True)
def alone_or_beside_others(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """On pytest-xdist's workers, a test marked `alone` (it measures time) runs while no other
    test runs, and any other test beside any but such a one. A readers-writer lock on a file
    in the session's temporary folder: each test holds it shared, an `alone` test exclusively;
    an `alone` test first takes the gate, so that tests that start later wait for it instead of
    overtaking it. Set up before, and torn down after, every other fixture of the test."""
    if not hasattr(request.config, "workerinput"):  # one process: nothing runs beside
        yield
        return
    folder = tmp_path_factory.getbasetemp().parent  # the session's, parent of each worker's own
    _LOCK_FOLDER[:] = [folder]
    alone = request.node.get_closest_marker("alone") is not None
    with (folder / LOCKS[0]).open("a") as gate, (folder / LOCKS[1]).open("a") as tests:
        if alone:
            fcntl.flock(gate, fcntl.LOCK_EX)
            fcntl.flock(tests, fcntl.LOCK_EX)
        else:
            fcntl.flock(gate, fcntl.LOCK_SH)
            fcntl.flock(tests, fcntl.LOCK_SH)
            fcntl.flock(gate, fcntl.LOCK_UN)
        yield  # closing the files releases the locks


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


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist's controller: a worker ended; keep what it found after its last test (its
    tests' own finds fail those tests, reported as any failure is)."""
    output = getattr(node, "workeroutput", {})
    worker = node.gateway.id
    for where, found in output.get(LEFT_BEHIND_OUTPUT, []):
        _LEFT_BEHIND.append((f"{where} (worker {worker})", list(found)))


@pytest.hookimpl(trylast=True)  # in pytest-xdist's controller: after its workers have ended
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The session fails if any test, or anything after the last one, left a process behind.
    A pytest-xdist worker hands what it found to the controller, which says so and fails."""
    _left_behind("after the last test")
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[LEFT_BEHIND_OUTPUT] = _LEFT_BEHIND
        for folder in _LOCK_FOLDER:  # the other worker may still run tests, but never beside
            for name in LOCKS:  # one of this worker's again: the last to end removes the lock
                (folder / name).unlink(missing_ok=True)
        return
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


@pytest.fixture
def shipped_home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME on the shipped deploy/dagster.yaml (daemon and run queue as deployed), for
    the Dagster and the hardening tests alike."""
    return new_dagster_home(tmp_path, "home")
