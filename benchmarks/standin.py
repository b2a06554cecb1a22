"""A big machine simulated on a small one, and an engine stand-in that encodes on it.

`SimulatedMachine` is an N-core machine in a thread of the benchmark: an encode asks it to hold
`threads` cores for `work` core-seconds; while the holds ask for more threads than N cores, every
thread runs at N / demand of a core (processor sharing, as a kernel shares oversubscribed
cores), and idle cores stay idle. It records the demand over time, from which the cores busy at
any moment follow.

`write_standin` writes an executable that a JobSpec names as its engine. For an encode (the
command proxx plans: `-threads N`, output in the job's staging folder) it runs the real engine on
the real, tiny source clip - leaving a real proxy that verification checks like any other - and
then holds its pinned threads on the simulated machine for the work the clip it stands for
would take. Everything else (`-version`, probes, the verification decode) runs the real engine
directly. The stand-in itself uses almost no CPU, so a 2-core machine can rehearse 64 cores.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shlex
import socket
import stat
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TICK_S = 0.01  # the simulated scheduler's time step; holds last seconds, so 10 ms is fine-grained


@dataclass
class _Hold:
    threads: int
    remaining: float  # core-seconds of work left
    done: threading.Event = field(default_factory=threading.Event)


class SimulatedMachine:
    """N simulated cores shared by the holds on them; served on a Unix socket."""

    def __init__(self, cores: int, socket_path: Path) -> None:
        self.cores = cores
        self.socket_path = socket_path
        self.timeline: list[tuple[float, int]] = []  # (monotonic time, threads demanded)
        self._holds: list[_Hold] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(socket_path))
        self._server.listen(256)
        self._server.settimeout(0.2)  # accept() wakes up to see the machine stop
        self._threads = [
            threading.Thread(target=self._schedule, daemon=True),
            threading.Thread(target=self._accept, daemon=True),
        ]

    def __enter__(self) -> SimulatedMachine:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._server.close()
        self.socket_path.unlink(missing_ok=True)

    def _record(self) -> None:  # with the lock held
        self.timeline.append((time.monotonic(), sum(h.threads for h in self._holds)))

    def hold(self, threads: int, work: float) -> None:
        """Occupy `threads` threads until `work` core-seconds are done (blocks)."""
        entry = _Hold(threads, work)
        with self._lock:
            self._holds.append(entry)
            self._record()
        entry.done.wait()

    def _schedule(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(TICK_S):
            now = time.monotonic()
            elapsed, last = now - last, now
            with self._lock:
                demand = sum(h.threads for h in self._holds)
                if not demand:
                    continue
                per_thread = min(1.0, self.cores / demand) * elapsed
                finished = []
                for entry in self._holds:
                    entry.remaining -= entry.threads * per_thread
                    if entry.remaining <= 0:
                        finished.append(entry)
                for entry in finished:
                    self._holds.remove(entry)
                    entry.done.set()
                if finished:
                    self._record()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(None)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection, connection.makefile("rw") as stream:
            request = json.loads(stream.readline())
            self.hold(int(request["threads"]), float(request["work"]))
            with contextlib.suppress(OSError):  # the encode was stopped while it held
                stream.write("done\n")
                stream.flush()

    def busy_cores(self, start: float, end: float, steps: int) -> list[float]:
        """Mean cores busy in each of `steps` equal slices of [start, end] (monotonic times)."""
        width = (end - start) / steps
        busy = [0.0] * steps
        points = [*self.timeline, (end, 0)]
        for (at, demand), (until, _) in itertools.pairwise(points):
            for index in range(steps):
                low = max(at, start + index * width)
                high = min(until, start + (index + 1) * width)
                if high > low:
                    busy[index] += min(demand, self.cores) * (high - low) / width
        return busy

    def core_seconds(self, start: float, end: float) -> float:
        """Core-seconds busy between two monotonic times."""
        return sum(self.busy_cores(start, end, 1)) * (end - start)


STANDIN = """
# proxx scale rehearsal: engine stand-in (written by benchmarks/standin.py)
import json, os, socket, subprocess, sys

REAL = {real!r}
MACHINE = {machine!r}
WORK = {work!r}  # "<card folder>/<clip file>" -> core-seconds its encode stands for
argv = sys.argv[1:]
last = argv[-1] if argv else ""
if "-threads" in argv and ".proxx-staging-" in last:
    status = subprocess.call([REAL, *argv])
    if status:
        sys.exit(status)
    path = argv[argv.index("-i") + 1].removeprefix("file:")
    source = os.path.basename(os.path.dirname(path)) + "/" + os.path.basename(path)
    threads = int(argv[argv.index("-threads") + 1])
    with socket.socket(socket.AF_UNIX) as machine:
        machine.connect(MACHINE)
        machine.sendall((json.dumps({{"threads": threads, "work": WORK[source]}}) + "\\n").encode())
        if machine.makefile().readline().strip() != "done":
            sys.exit("the simulated machine went away")
    sys.exit(0)
os.execv(REAL, [REAL, *argv])
"""


def write_standin(path: Path, real_engine: Path, machine: Path, work: dict[str, float]) -> Path:
    """An executable engine stand-in at `path` (see the module's docstring): a shell script
    that runs this Python on the stand-in's code beside it (a `#!` line would limit the path of
    the interpreter). `work` maps "<card folder>/<clip file>" to core-seconds."""
    code = path.with_name(path.name + ".py")
    code.write_text(STANDIN.format(real=str(real_engine), machine=str(machine), work=work))
    path.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(code))} "$@"\n'
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def short_socket_path(folder: Path) -> Path:
    """A socket path under the 108-byte limit of AF_UNIX, whatever `folder` is."""
    path = folder / "machine.sock"
    if len(os.fsencode(path)) < 100:
        return path
    return Path(tempfile.gettempdir()) / f"proxx-machine-{os.getpid()}.sock"
