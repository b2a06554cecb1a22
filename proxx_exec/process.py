"""Run one engine process: argv only, no shell, fixed environment, bounded time and output.

This is the only place that starts the engine for encoding or decoding.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

STDERR_TAIL_BYTES = 8192
# The engine sees this environment and nothing else, so no variable of the caller's
# (FFREPORT, locale, TZ, AV_LOG_*) can change what it does.
ENGINE_ENVIRONMENT = {"LC_ALL": "C"}

ProgressSink = Callable[[dict[str, str]], None]


@dataclass(frozen=True)
class ProcessOutcome:
    exit_code: int | None
    signal_name: str | None
    timed_out: bool
    stderr_tail: str
    progress: dict[str, str]
    start_error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.start_error is None and not self.timed_out and self.exit_code == 0


class _ProgressReader:
    """Collects FFmpeg's `-progress` key=value blocks; hands each finished block on."""

    def __init__(self, sink: ProgressSink | None) -> None:
        self._sink = sink
        self._pending = b""
        self._block: dict[str, str] = {}
        self.last: dict[str, str] = {}

    def feed(self, chunk: bytes) -> None:
        lines = (self._pending + chunk).split(b"\n")
        self._pending = lines.pop()[-4096:]
        for line in lines:
            key, sep, value = line.decode("utf-8", "replace").strip().partition("=")
            if not sep:
                continue
            self._block[key] = value
            if key == "progress":
                self.last = self._block
                self._block = {}
                if self._sink is not None:
                    self._sink(dict(self.last))


def run_engine(
    binary: Path,
    argv: tuple[str, ...],
    timeout_s: float,
    on_progress: ProgressSink | None = None,
) -> ProcessOutcome:
    """Run once. On timeout the whole process group is killed; nothing is ever re-run."""
    try:
        process = subprocess.Popen(
            list(argv),
            executable=binary,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ENGINE_ENVIRONMENT,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as error:
        return ProcessOutcome(None, None, False, "", {}, start_error=str(error))
    progress = _ProgressReader(on_progress)
    stderr_tail = bytearray()
    with process:  # closes both pipes and reaps the process
        timed_out = _pump(process, progress, stderr_tail, timeout_s)
    exit_code = process.returncode
    signal_name = signal.Signals(-exit_code).name if exit_code < 0 else None
    if timed_out:
        signal_name = None
    return ProcessOutcome(
        exit_code=exit_code,
        signal_name=signal_name,
        timed_out=timed_out,
        stderr_tail=stderr_tail.decode("utf-8", "replace"),
        progress=progress.last,
    )


def _pump(
    process: subprocess.Popen[bytes],
    progress: _ProgressReader,
    stderr_tail: bytearray,
    timeout_s: float,
) -> bool:
    """Read stdout and stderr until both close or the deadline passes; True on timeout."""
    assert process.stdout is not None and process.stderr is not None
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, "stdout")
        selector.register(process.stderr, selectors.EVENT_READ, "stderr")
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _kill_group(process)
                return True
            for key, _ in selector.select(timeout=min(remaining, 1.0)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.data == "stdout":
                    progress.feed(chunk)
                else:
                    stderr_tail.extend(chunk)
                    del stderr_tail[:-STDERR_TAIL_BYTES]
    # Both pipes closed: the process is exiting; give it the rest of the deadline to do so.
    try:
        process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return True
    return False


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
