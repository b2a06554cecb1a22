"""Test helpers: generated media, engine wrappers that record each invocation, listings."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from proxx_exec.engines import default_engine_binary
from proxx_exec.naming import STAGING_PREFIX
from proxx_exec.result import compute_digest
from proxx_exec.tools.samples import SampleClip, make_sample

REAL_ENGINE = default_engine_binary()
PROXX = str(Path(sys.executable).parent / "proxx")  # the `proxx` command of this venv


def unavailable(message: str) -> NoReturn:
    """A test that cannot run here: skipped with the reason, but failed under CI=true, where
    everything a test needs must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must provide it", pytrace=False)
    pytest.skip(message)


class Media:
    """A session's set of generated source clips, made once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, Path] = {}

    def clip(self, name: str, clip: SampleClip | None = None) -> Path:
        if name not in self._cache:
            self._cache[name] = make_sample(self.folder / name, clip or SampleClip(duration_s=1))
        return self._cache[name]

    def h264_clip(
        self, name: str, width: int = 1280, height: int = 720, seconds: float = 8
    ) -> Path:
        """A fast-to-make H.264 source; the default is an encode long enough to interrupt."""
        return self.clip(
            name,
            SampleClip(
                width=width,
                height=height,
                duration_s=seconds,
                video_codec="libx264",
                pix_fmt="yuv420p",
                codec_args=("-preset", "ultrafast"),
            ),
        )

    @property
    def standard(self) -> Path:
        """640x360 ProRes HQ, 25 fps, 25 frames, stereo + mono tracks, timecode, reel name."""
        return self.clip("A001C001.mov", SampleClip(duration_s=1, audio_channels=(2, 1)))


def write_engine_wrapper(folder: Path, body: str) -> Path:
    """A shell script standing in as an explicitly named engine. It logs every call
    (time, arguments) and then runs `body`, which may exec the real FFmpeg."""
    log = folder / "engine-calls.log"
    script = folder / "ffmpeg-wrapper"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s %s\\n" "$(/bin/date +%s.%N)" "$*" >> "{log}"\n'
        f'REAL="{REAL_ENGINE}"\n'
        f"{body}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def engine_calls(folder: Path) -> list[tuple[float, str]]:
    log = folder / "engine-calls.log"
    if not log.exists():
        return []
    rows = []
    for line in log.read_text().splitlines():
        stamp, _, args = line.partition(" ")
        rows.append((float(stamp), args))
    return rows


def job_encodes(folder: Path) -> list[str]:
    """The recorded engine calls that encoded a clip of a job: they write into its staging
    folder (posters and `proxx reproduce` write elsewhere)."""
    return [args for _, args in engine_calls(folder) if "-c:v" in args and STAGING_PREFIX in args]


def listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def clear(folder: Path) -> None:
    """Empty a folder (files and folders alike), keeping the folder itself."""
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


def proxx(*args: str | Path, program: str = PROXX, **env: str) -> subprocess.CompletedProcess[str]:
    """This venv's `proxx` command (or another `program` of it), run as a user runs it; `env`
    adds environment variables."""
    return subprocess.run(
        [program, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, **env},
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reseal(document: dict[str, Any]) -> dict[str, Any]:
    """The result document with a digest that matches its content, as proxx would write it."""
    return {**document, "digest": compute_digest(document)}


@contextlib.contextmanager
def mounted(*argv: str) -> Iterator[None]:
    """`mount ARGV...` for the duration (a tmpfs, a bind mount); unavailable where this
    process may not mount."""
    target = argv[-1]
    completed = subprocess.run(["mount", *argv], capture_output=True, check=False)
    if completed.returncode != 0:
        unavailable(f"cannot mount here ({completed.stderr.decode().strip()})")
    try:
        yield
    finally:
        subprocess.run(["umount", target], check=True)


def slow_copy(source: Path, target: Path, chunks: int, pause_s: float) -> None:
    """Write the file in `chunks` pieces, `pause_s` apart, as a copy from a slow card reader
    does (the file grows for chunks x pause_s seconds)."""
    data = source.read_bytes()
    target.parent.mkdir(parents=True, exist_ok=True)
    step = len(data) // chunks + 1
    with target.open("wb") as sink:
        for start in range(0, len(data), step):
            sink.write(data[start : start + step])
            sink.flush()
            time.sleep(pause_s)


def _default_interrupt() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_mid_encode(command: list[str], staged: Path, stop: signal.Signals) -> tuple[int, str, str]:
    """Run a `proxx` command, send it `stop` once its engine has written into `staged`, and
    return its exit status, standard output and standard error. The command starts with Ctrl-C's
    default meaning, as in a terminal, even when the suite itself was started with SIGINT
    ignored (a background job of a non-interactive shell, `nohup`), which children inherit."""
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_interrupt,  # noqa: PLW1509 - no lock taken: one signal() call
    ) as running:
        deadline = time.monotonic() + 120
        while not (staged.is_file() and staged.stat().st_size > 0):
            assert running.poll() is None, running.communicate()
            assert time.monotonic() < deadline, "the encode never started"
            time.sleep(0.05)
        running.send_signal(stop)
        stdout, stderr = running.communicate(timeout=60)
    return running.returncode, stdout, stderr


# The library's own commands: ascmhl 1.2 keeps `verify` and `xsd-schema-check` in
# `ascmhl-debug` (`ascmhl` itself has create, diff, flatten and info).
ASCMHL_DEBUG = str(Path(sys.executable).parent / "ascmhl-debug")
# Its commands ask GitHub for a newer release at start; a closed loopback proxy answers at once,
# so the tests never reach the internet.
NO_INTERNET = {
    **os.environ,
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
}


def ascmhl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The library's `ascmhl-debug` command (verify, hash), kept off the internet."""
    return proxx(*args, program=ASCMHL_DEBUG, **NO_INTERNET)
