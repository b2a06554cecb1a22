"""Engine selection and identity. The engine is chosen by the JobSpec alone; PATH is never read.

The default engine is the FFmpeg binary inside the locked imageio-ffmpeg wheel, located in the
package's own files (not through imageio_ffmpeg.get_ffmpeg_exe, which honours an environment
variable and falls back to PATH).
"""

from __future__ import annotations

import importlib.resources
import os
import subprocess
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from proxx_exec.failures import Reason, invalid
from proxx_exec.files import file_fingerprint
from proxx_exec.jobspec import DEFAULT_ENGINE
from proxx_exec.process import ENGINE_ENVIRONMENT

VERSION_TIMEOUT_S = 30


class EngineIdentity(BaseModel):
    """What ran: enough to reproduce, location-independent (the binary path is in `host`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description='"imageio-ffmpeg <version>" or "ffmpeg at <path>".')
    version_line: str = Field(description="First line of `ffmpeg -version`.")
    sha256: str = Field(description="SHA-256 of the engine binary.")


def default_engine_binary() -> Path:
    """The FFmpeg binary shipped inside the installed imageio-ffmpeg package: the one
    `ffmpeg-*` file in its `binaries` folder (a wheel is built for one platform and carries
    its one binary), read through the package's files, not through its private modules."""
    try:
        binaries = importlib.resources.files("imageio_ffmpeg.binaries")
    except ImportError as error:
        raise invalid(
            Reason.ENGINE_UNAVAILABLE, f"the imageio-ffmpeg package is not importable: {error}"
        ) from None
    shipped = sorted(
        entry.name
        for entry in binaries.iterdir()
        if entry.name.startswith("ffmpeg-") and entry.is_file()
    )
    if len(shipped) != 1:
        raise invalid(
            Reason.ENGINE_UNAVAILABLE,
            f"the installed imageio-ffmpeg holds {len(shipped)} FFmpeg binaries "
            f"({', '.join(shipped) or 'none'}), not the one of its platform's wheel",
        )
    return Path(str(binaries / shipped[0]))


def engine_binary(engine: str) -> Path:
    """The binary a JobSpec's `engine` field names. A pure lookup: nothing is searched."""
    return default_engine_binary() if engine == DEFAULT_ENGINE else Path(engine)


def engine_name(engine: str) -> str:
    if engine == DEFAULT_ENGINE:
        # The package's own constant, not the installer's metadata (which a copy may lack).
        from imageio_ffmpeg import __version__  # noqa: PLC0415 - as default_engine_binary

        return f"imageio-ffmpeg {__version__}"
    return f"ffmpeg at {engine}"


def identify_engine(engine: str, pinned_sha256: str | None = None) -> tuple[EngineIdentity, Path]:
    """Check that the named engine exists, runs, is FFmpeg and, when a JobSpec pins one, has
    the pinned SHA-256; return its identity and binary."""
    binary = engine_binary(engine)
    if not binary.is_file():
        raise invalid(Reason.ENGINE_UNAVAILABLE, f"engine binary {binary} does not exist")
    if not os.access(binary, os.X_OK):
        raise invalid(Reason.ENGINE_UNAVAILABLE, f"engine binary {binary} is not executable")
    try:
        completed = subprocess.run(
            ["ffmpeg", "-hide_banner", "-version"],  # noqa: S607 - argv[0] only; binary is absolute
            executable=binary,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            env=ENGINE_ENVIRONMENT,
            timeout=VERSION_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise invalid(
            Reason.ENGINE_UNAVAILABLE, f"engine binary {binary} cannot run: {error}"
        ) from None
    first_line = completed.stdout.decode("utf-8", "replace").partition("\n")[0].strip()
    if completed.returncode != 0 or not first_line.startswith("ffmpeg version "):
        raise invalid(
            Reason.ENGINE_NOT_FFMPEG,
            f"engine binary {binary} is not FFmpeg (`-version` printed "
            f"{first_line[:120]!r}, exit status {completed.returncode})",
        )
    _, digest = file_fingerprint(binary)
    identity = EngineIdentity(name=engine_name(engine), version_line=first_line, sha256=digest)
    if pinned_sha256 is not None and digest != pinned_sha256:
        raise invalid(Reason.ENGINE_MISMATCH, mismatch_message(identity, binary, pinned_sha256))
    return identity, binary


def mismatch_message(identity: EngineIdentity, binary: Path, pinned_sha256: str) -> str:
    """Why a pinned job is refused here, and what to do, in words."""
    if identity.name.startswith(DEFAULT_ENGINE):
        remedy = (
            f"install the imageio-ffmpeg wheel whose FFmpeg has SHA-256 {pinned_sha256} (the "
            "locked one: `python3 dev.py setup` from the same commit as the other machines)"
        )
    else:
        remedy = f"put the FFmpeg binary with SHA-256 {pinned_sha256} at {binary}"
    return (
        f"the JobSpec pins engine_sha256 {pinned_sha256}, but the engine on this machine "
        f"({identity.name}, {binary}) has SHA-256 {identity.sha256}. Another engine may give "
        f"other bytes, so nothing was run: {remedy}, or run the job on a machine that has it"
    )
