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
import signal
import subprocess
import sys
import time
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
UI_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
UI_STOP_WAIT_S = 60  # for `dg dev` to stop its webserver, daemon and code servers
UI_LEFTOVER_WAIT_S = 15  # for code servers to notice their parent is gone


def ui() -> None:
    """The Dagster UI and daemon (`dg dev`) on 127.0.0.1 (port $PROXX_UI_PORT, default 3000),
    on $DAGSTER_HOME (default .dagster_home). Ctrl-C, SIGTERM and SIGHUP stop all of it."""
    setup()
    home = Path(os.environ.get("DAGSTER_HOME", ROOT / ".dagster_home")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():  # sized for PROXX_CORES, else this machine's core count
        sized = subprocess.run(
            [str(BIN / "python"), "-m", "proxx_dagster.sizing"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if sized.returncode != 0:
            sys.exit(sized.stderr.strip())
        config.write_text(sized.stdout)
    port = os.environ.get("PROXX_UI_PORT", "3000")
    argv = [BIN / "dg", "dev", "-h", UI_HOST, "-p", port, "-w", ROOT / "workspace.yaml"]
    # Dagster's default log format colours every line, even into a file or a pipe.
    argv += ["--log-format", "colored" if sys.stdout.isatty() else "json"]
    print("+", " ".join(str(a) for a in argv), flush=True)
    sys.exit(supervise([str(a) for a in argv], {**os.environ, "DAGSTER_HOME": str(home)}))


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _kill_group(pgid: int, why: str) -> bool:
    """SIGKILL a process group; False if it was already gone."""
    print(why, flush=True)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def supervise(argv: list[str], env: dict[str, str]) -> int:
    """Run a service tree in a process group of its own and take all of it down on a stop
    signal: the tree's leader gets SIGINT (its clean shutdown), whatever is left of the group
    after that gets SIGKILL.

    Why not let the signal reach the tree directly: a background or scripted start leaves
    SIGINT ignored, Dagster then ignores SIGTERM too (it maps SIGTERM to the SIGINT handler),
    and a killed leader leaves its webserver, daemon and code servers running.
    """
    stop: dict[str, float] = {}
    killed = False
    child: list[subprocess.Popen[bytes]] = []

    def request_stop(signum: int, _frame: object) -> None:
        if "at" not in stop:
            stop["at"] = time.monotonic()
            print(f"stopping ({signal.Signals(signum).name})", flush=True)
            if child:
                os.kill(child[0].pid, signal.SIGINT)

    # Installed before the start, so the tree starts with default handling of these signals
    # (an exec resets handled signals to default, but keeps ignored ones ignored).
    for stop_signal in UI_STOP_SIGNALS:
        signal.signal(stop_signal, request_stop)
    process = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True)
    child.append(process)
    if "at" in stop:
        os.kill(process.pid, signal.SIGINT)
    while process.poll() is None:
        try:
            process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            if "at" in stop and time.monotonic() - stop["at"] > UI_STOP_WAIT_S:
                why = f"{argv[0]} did not stop in {UI_STOP_WAIT_S}s; killing it"
                killed = _kill_group(process.pid, why) or killed
    deadline = time.monotonic() + UI_LEFTOVER_WAIT_S
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _group_alive(process.pid):
        killed = _kill_group(process.pid, "killing what is left of the service tree") or killed
    if "at" not in stop:
        return process.returncode or 1  # the tree ended by itself: that is a failure
    return 1 if killed else 0


def test() -> None:
    setup()
    run(BIN / "ruff", "check", ".")
    run(BIN / "ruff", "format", "--check", ".")
    run(BIN / "mypy")
    run(BIN / "python", "-m", "pytest", *TEST_WORKERS, *sys.argv[2:])


# The suite in one process by default: on two pytest-xdist workers (`python3 dev.py test -n 2
# --dist loadgroup`; one worker runs the slowest modules one after another, tests/conftest.py
# SLOW_MODULES) it took 23 min 20 s, but a daemon test missed its bounded wait in one of two runs.
TEST_WORKERS: tuple[str, ...] = ()


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
