"""Run one engine process: argv only, no shell, fixed environment, bounded time and output,
and never outliving the process that started it.

This is the only place that runs the engine for a clip (the encode, the verification decode);
`engines.py` asks it for its `-version` and `tools/samples.py` makes sample clips.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from proxx_exec.looks import PICTURE_DATA

STDERR_TAIL_BYTES = 8192
KILLED_WAIT_S = 10  # for a SIGKILLed engine to be gone (longer only in uninterruptible I/O)
# The engine sees this environment and nothing else, so no variable of the caller's
# (FFREPORT, locale, TZ, AV_LOG_*) can change what it does.
ENGINE_ENVIRONMENT = {"LC_ALL": "C"}

ProgressSink = Callable[[dict[str, str]], None]


def _load_prctl() -> Callable[..., int] | None:
    """libc's prctl(2), resolved once at import (never in a forked child); Linux only."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _dies_with(parent: int) -> Callable[[], None] | None:
    """What the forked engine runs just before exec: ask the kernel to SIGKILL it when its
    parent dies, so a worker killed mid-encode (SIGKILL, OOM) takes its FFmpeg along instead of
    leaving it to encode into the staging folder of a job already reported dead.

    Why this way: nothing runs in a SIGKILLed worker, so only the kernel can end its engine; a
    watchdog process per engine would be one more process to outlive. The setting survives
    exec (the engine is not set-uid) and is not inherited by the engine's own children (FFmpeg
    starts none; the timeout still kills the whole process group).

    Thread safety: Python warns that `preexec_fn` may deadlock in a child forked from a
    threaded process (Dagster and Celery workers have threads) when the function takes a lock
    another thread held at fork time. This one takes none: it calls an already-resolved libc
    function and getppid(2), and imports, logs and allocates nothing beyond small integers.

    The kernel sends the signal when the *thread* that forked the engine ends, not the process.
    That thread is the one inside `run_engine`, which returns only after the engine has been
    reaped, so the thread outlives the engine unless the whole process dies. Dagster runs a step
    in the thread that executes it (in process: the run worker's; multiprocess: the step
    process's main thread; Celery: the pool process's main thread), and so does the `proxx` CLI.

    Elsewhere than Linux there is no such signal and the engine is left as before.
    """
    prctl = _PRCTL
    if prctl is None:
        return None

    def in_child() -> None:
        if prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            # Popen raises SubprocessError in the parent: the engine did not start.
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return in_child


# What a signal most likely means for an encode, for the message.
_SIGNAL_MEANING = {
    "SIGKILL": "killed (by the out-of-memory killer or an operator)",
    "SIGXFSZ": "stopped at the file-size limit (RLIMIT_FSIZE)",
    "SIGSEGV": "crashed",
    "SIGTERM": "terminated",
    "SIGINT": "interrupted",
}


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

    def ending(self, timeout_s: int) -> str:
        """How the engine's run ended, in words, for a run that did not succeed: one wording
        for the run's failure reasons and for `proxx reproduce`."""
        if self.start_error is not None:
            return f"the engine could not start: {self.start_error}"
        if self.timed_out:
            return (
                f"the engine ran longer than clip_timeout_s={timeout_s} and its process group "
                "was killed"
            )
        if self.signal_name is not None:
            meaning = _SIGNAL_MEANING.get(self.signal_name, "killed by a signal")
            return f"the engine was killed by {self.signal_name}: {meaning}"
        return f"the engine exited with status {self.exit_code}"


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
            # A fixed working folder: the plan names the shipped LUTs and font relative to it,
            # so the commands are the same wherever proxx is installed.
            cwd=PICTURE_DATA,
            start_new_session=True,
            close_fds=True,
            preexec_fn=_dies_with(os.getpid()),  # noqa: PLW1509 - safe here, see _dies_with
        )
    except (OSError, subprocess.SubprocessError) as error:
        return ProcessOutcome(None, None, False, "", {}, start_error=str(error))
    progress = _ProgressReader(on_progress)
    stderr_tail = bytearray()
    with process:  # closes both pipes and reaps the process
        try:
            timed_out = _pump(process, progress, stderr_tail, timeout_s)
        except BaseException:
            # Interrupted (Ctrl-C, a run terminated, an error in the progress sink): the engine
            # must not encode on into a staging folder its job is about to remove. Reaped here
            # (Popen's own exit waits only a moment after a KeyboardInterrupt).
            _kill_group(process)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=KILLED_WAIT_S)
            raise
    exit_code = process.returncode
    signal_name = signal_name_of(-exit_code) if exit_code < 0 else None
    if timed_out:
        signal_name = None
    return ProcessOutcome(
        exit_code=exit_code,
        signal_name=signal_name,
        timed_out=timed_out,
        stderr_tail=stderr_tail.decode("utf-8", "replace"),
        progress=progress.last,
    )


def signal_name_of(number: int) -> str:
    """A signal's name for any number a process can die of, real-time ones included (Python's
    `signal.Signals` has no member for SIGRTMIN+n)."""
    try:
        return signal.Signals(number).name
    except ValueError:
        pass
    low, high = getattr(signal, "SIGRTMIN", None), getattr(signal, "SIGRTMAX", None)
    if low is not None and high is not None and low <= number <= high:
        return f"SIGRTMIN+{number - low}"
    return f"signal {number}"


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
