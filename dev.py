#!/usr/bin/env python3
"""Project tasks with nothing but Python >= 3.11: set up, run the demo, test, benchmark, lock.

python3 dev.py demo    # set up .venv from the lock file, make clips, run a proxy job
python3 dev.py test    # set up, then lint, type-check and run the whole test suite
python3 dev.py bench   # set up, then run the benchmark and update docs/benchmarks.md
python3 dev.py lock    # re-resolve requirements.lock from pyproject.toml
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
LOCK = ROOT / "requirements.lock"
STAMP = VENV / ".proxx-installed"


def run(*argv: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in argv), flush=True)
    completed = subprocess.run([str(a) for a in argv], cwd=ROOT, env=env, check=False)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def setup() -> None:
    """Create .venv and install exactly the locked versions, once per lock-file change."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script runs before the venv exists
        sys.exit("Python 3.11 or newer is required")
    wanted = hashlib.sha256(LOCK.read_bytes() + (ROOT / "pyproject.toml").read_bytes())
    if STAMP.exists() and STAMP.read_text() == wanted.hexdigest():
        return
    if not (BIN / "python").exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = (BIN / "python", "-m", "pip", "--disable-pip-version-check")
    run(*pip, "install", "--quiet", "-r", LOCK)
    run(*pip, "install", "--quiet", "--no-deps", "-e", ROOT)
    STAMP.write_text(wanted.hexdigest())


def demo() -> None:
    setup()
    run(BIN / "python", "-m", "proxx_dagster.demo", ROOT / ".demo")


UI_HOST = "127.0.0.1"  # never all interfaces: Dagster's webserver has no authentication


def ui() -> None:
    """The Dagster UI and daemon on 127.0.0.1 (port $PROXX_UI_PORT, default 3000), on
    $DAGSTER_HOME (default .dagster_home)."""
    setup()
    home = Path(os.environ.get("DAGSTER_HOME", ROOT / ".dagster_home")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_bytes((ROOT / "deploy" / "dagster.yaml").read_bytes())
    port = os.environ.get("PROXX_UI_PORT", "3000")
    run(
        BIN / "dagster",
        "dev",
        "-h",
        UI_HOST,
        "-p",
        port,
        "-w",
        ROOT / "workspace.yaml",
        env={**os.environ, "DAGSTER_HOME": str(home)},
    )


def test() -> None:
    setup()
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy")
    run(BIN / "python", "-m", "pytest", *sys.argv[2:])


def bench() -> None:
    setup()
    run(BIN / "python", "-m", "benchmarks", *sys.argv[2:])


def lock() -> None:
    setup()
    run(BIN / "python", "-m", "pip", "install", "--quiet", "pip-tools")
    run(
        BIN / "pip-compile",
        "--quiet",
        "--extra",
        "dev",
        "--strip-extras",
        "--no-emit-find-links",
        "--no-emit-index-url",
        "-o",
        LOCK,
        "pyproject.toml",
        env={**os.environ, "CUSTOM_COMPILE_COMMAND": "python3 dev.py lock"},
    )


TASKS = {"demo": demo, "test": test, "ui": ui, "bench": bench, "lock": lock, "setup": setup}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TASKS:
        sys.exit(f"usage: python3 dev.py {{{'|'.join(TASKS)}}} [args]")
    TASKS[sys.argv[1]]()
