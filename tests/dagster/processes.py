"""Dagster's own processes (webserver, daemon) for tests: started, awaited, always stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    """Poll a condition until it holds; fail with `what` when the bounded wait runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"gave up after {seconds:.0f}s waiting for {what}")


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name: [state, ppid, pgrp, ...], None once gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def descendants(pid: int) -> set[tuple[int, str]]:
    """Every living process below `pid`, as (pid, start time): the start time tells a process
    apart from a later one that reuses its pid."""
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in Path("/proc").iterdir():
        fields = _stat_fields(int(entry.name)) if entry.name.isdigit() else None
        if fields is not None and fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append((int(entry.name), fields[19]))
    found: set[tuple[int, str]] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child[0])
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def still_running(processes: set[tuple[int, str]]) -> set[tuple[int, str]]:
    """The processes of the set that exist and are not zombies."""
    alive = set()
    for pid, started in processes:
        fields = _stat_fields(pid)
        if fields is not None and fields[19] == started and fields[0] != "Z":
            alive.add((pid, started))
    return alive


def dagster_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a Dagster process: ours, the instance, and the venv's commands first
    (dagster-celery starts `celery` by name)."""
    path = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "DAGSTER_HOME": str(home), "PATH": path, **extra}


@contextlib.contextmanager
def background(
    argv: list[str], home: Path, log: Path, **extra_env: str
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv,
            cwd=REPO,
            env=dagster_env(home, **extra_env),
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
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def daemon(
    home: Path, workspace: Path, log: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    return background([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], home, log)


def webserver(
    home: Path, workspace: Path, port: int, log: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    return background(
        [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(workspace)],
        home,
        log,
    )
