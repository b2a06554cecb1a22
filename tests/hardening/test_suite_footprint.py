"""What running the tests leaves behind: nothing in the temp folder after a green run; the
folder of a failed test, to look into."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.dagster_processes import REPO
from tests.conftest import SLOW_MODULES


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _pytest(suite: Path, temp: Path) -> subprocess.CompletedProcess[str]:
    """pytest with this project's settings, on `suite`, with `temp` as the temp folder."""
    return subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml")),
            *("--rootdir", str(suite), "-p", "no:cacheprovider", "-q", str(suite)),
        ],
        env={**os.environ, "TMPDIR": str(temp)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_a_green_run_leaves_nothing_in_the_temp_folder(tmp_path: Path) -> None:
    temp, suite = tmp_path / "temp", tmp_path / "suite"
    temp.mkdir()
    suite.mkdir()
    (suite / "test_writes.py").write_text(
        "def test_writes(tmp_path):\n    (tmp_path / 'A001.mov').write_bytes(bytes(1 << 20))\n"
    )
    green = _pytest(suite, temp)
    assert green.returncode == 0, green.stdout
    assert _files(temp) == []
    (suite / "test_writes.py").write_text(
        "def test_writes(tmp_path):\n"
        "    (tmp_path / 'A001.mov').write_bytes(bytes(1 << 20))\n"
        "    assert False, 'kept for a look'\n"
    )
    red = _pytest(suite, temp)
    assert red.returncode == 1, red.stdout
    assert [p.name for p in _files(temp)] == ["A001.mov"]


def test_every_module_named_slow_exists() -> None:
    """The modules run one after another on one pytest-xdist worker are named by path
    (tests/conftest.py): a module moved or renamed would silently join the others."""
    missing = sorted(name for name in SLOW_MODULES if not (REPO / name).is_file())
    assert missing == []
