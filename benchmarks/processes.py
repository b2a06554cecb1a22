"""The machine's process table, read from /proc, for the tests and the benchmarks: waiting,
finding an encoder and a process's descendants, and the processes the test suite left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# Every process the suite starts inherits this variable (set by tests/conftest.py), with a
# token of this session's own, unless a test hands a process a whole environment of its own.
SUITE_MARK = "PROXX_TEST_SUITE"


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    argv: tuple[str, ...]
    started: str  # clock ticks since boot: tells a process from a later one with its pid

    def __str__(self) -> str:
        return f"pid {self.pid} ({' '.join(self.argv)[:200] or '?'})"


def _read(pid: int) -> Proc | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    decoded = tuple(arg.decode("utf-8", "replace") for arg in argv if arg)
    return Proc(pid=pid, ppid=int(fields[1]), state=fields[0], argv=decoded, started=fields[19])


def processes() -> Iterator[Proc]:
    """Every process of the machine that is alive (zombies, already dead, are left out)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (proc := _read(int(entry.name))) and proc.state != "Z":
            yield proc


def still_running(procs: list[Proc]) -> list[Proc]:
    """Those of `procs` that are alive and are still the same process (not a reused pid)."""
    return [
        p for p in procs if (now := _read(p.pid)) and now.state != "Z" and now.started == p.started
    ]


def alive(pid: int) -> bool:
    proc = _read(pid)
    return proc is not None and proc.state != "Z"


def ends_within(pid: int, seconds: float) -> bool:
    """Whether the process is gone (or dead, a zombie) within `seconds` from now."""
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def parent_of(pid: int) -> int:
    proc = _read(pid)
    assert proc is not None, f"no process {pid}"
    return proc.ppid


def encoder_pid(staged_name: str) -> int | None:
    """The running encoder (an engine process with -c:v) writing `staged_name`, if any."""
    for proc in processes():
        if "-c:v" in proc.argv and any(
            arg.startswith("file:") and arg.endswith(staged_name) for arg in proc.argv
        ):
            return proc.pid
    return None


def wait_for(
    condition: Callable[[], bool], seconds: float, what: str, interval: float = 0.5
) -> None:
    """Poll a condition until it holds; fail with `what` when the bounded wait runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"gave up after {seconds:.0f}s waiting for {what}")


def _environ_has(pid: int, entry: bytes) -> bool:
    try:
        return entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # gone, or not ours to read
        return False


def marked(name: str, value: str) -> list[Proc]:
    """Live processes whose environment holds name=value."""
    entry = f"{name}={value}".encode()
    return [proc for proc in processes() if _environ_has(proc.pid, entry)]


def descendants(root: int) -> list[Proc]:
    """Live processes below `root` in the process tree."""
    table = list(processes())
    children: dict[int, list[Proc]] = {}
    for proc in table:
        children.setdefault(proc.ppid, []).append(proc)
    found: list[Proc] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child.pid)
    return found


def leftovers(root: int, token: str, folder: Path) -> list[Proc]:
    """Processes the suite started that are still alive: below the pytest process, carrying the
    suite's token, or naming a path in the session's own temporary folder (an engine has a
    fixed environment of its own, and an orphan is no longer below pytest). The machine's
    services (PostgreSQL, Redis, RabbitMQ, ...) are none of these."""
    found = {proc.pid: proc for proc in descendants(root)}
    found.update((proc.pid, proc) for proc in marked(SUITE_MARK, token))
    inside = str(folder)
    found.update((p.pid, p) for p in processes() if any(inside in arg for arg in p.argv))
    found.pop(root, None)
    return sorted(found.values(), key=lambda proc: proc.pid)


def kill(procs: list[Proc], sig: signal.Signals = signal.SIGKILL) -> None:
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)


def stop(procs: list[Proc], grace_s: float = 10.0) -> None:
    """SIGTERM, then SIGKILL what is still there after `grace_s`."""
    kill(procs, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while (remaining := [p for p in procs if alive(p.pid)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    kill(remaining)
