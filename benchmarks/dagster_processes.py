"""Dagster's own processes (webserver, daemon, workers) for the tests and the benchmarks: a new
DAGSTER_HOME, processes started, awaited, always stopped, with every process they started in
turn."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

from dagster import DagsterEventType, DagsterInstance

from benchmarks.processes import marked, stop

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


SHIPPED_INSTANCE = REPO / "deploy" / "dagster.yaml"

EventTimes = dict[tuple[DagsterEventType, str | None], float]


def event_times(instance: DagsterInstance, run_id: str) -> EventTimes:
    """When each kind of Dagster event first happened in a run, per step (None: the run's own),
    e.g. `times[DagsterEventType.STEP_START, "plan_batch"]`: where a run's time went."""
    times: EventTimes = {}
    for entry in instance.all_logs(run_id):
        if entry.dagster_event is not None:
            key = (entry.dagster_event.event_type, entry.step_key)
            times.setdefault(key, entry.timestamp)
    return times


def step_start_s(times: EventTimes, step: str) -> float:
    """From the executor asking for the step's process to the step starting in it."""
    return (
        times[DagsterEventType.STEP_START, step]
        - times[DagsterEventType.STEP_WORKER_STARTING, step]
    )


def step_body_s(times: EventTimes, step: str) -> float:
    """From the step's start to its success."""
    return times[DagsterEventType.STEP_SUCCESS, step] - times[DagsterEventType.STEP_START, step]


def dagster_home(root: Path, name: str, config: str | None = None) -> Path:
    """A new DAGSTER_HOME `root/name` whose dagster.yaml is `config` (default: the shipped
    deploy/dagster.yaml)."""
    home = root / name
    home.mkdir()
    (home / "dagster.yaml").write_text(
        config if config is not None else SHIPPED_INSTANCE.read_text()
    )
    return home


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


# Marks everything a `background` process starts, also what leaves its process group: the
# daemon's `dagster api grpc` code server, for one, runs in a session of its own.
STARTED_BY = "PROXX_TEST_STARTED_BY"


def dagster_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a Dagster process: ours, the instance, and the venv's commands first
    (dagster-celery starts `celery` by name)."""
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "DAGSTER_HOME": str(home), "PATH": path, **extra}


@contextlib.contextmanager
def background_in(
    cwd: Path, argv: list[str], home: Path, log: Path, **extra_env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A process working in `cwd`, in a session of its own; on the way out it is stopped
    (SIGTERM to its group, SIGKILL after 20 s), and so is every process it started in turn,
    wherever that one runs."""
    mark = uuid.uuid4().hex
    # The instance's storage is made here, once, before any process opens it: a webserver and a
    # daemon started together on a fresh SQLite home would both create its tables and migrate
    # them (alembic), and the loser of that race fails.
    with mock.patch.dict(os.environ, extra_env), DagsterInstance.from_config(str(home)):
        pass
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**dagster_env(home, **extra_env), STARTED_BY: mark},
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            stop(marked(STARTED_BY, mark))


def background(
    argv: list[str], home: Path, log: Path, **extra_env: str
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """`background_in` the repository."""
    return background_in(REPO, argv, home, log, **extra_env)


def daemon(
    home: Path, workspace: Path, log: Path, **extra_env: str
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    return background(
        [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], home, log, **extra_env
    )


def webserver(
    home: Path, workspace: Path, port: int, log: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    return background(
        [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(workspace)],
        home,
        log,
    )
