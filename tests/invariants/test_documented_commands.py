"""Every `python -m MODULE` the docs (and module docstrings) name still exists after a module
moves, and answers `--help` without doing anything: no folder made, no measurement started."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "dev.py"]
DOCUMENTS += sorted((REPO / "deploy").glob("*.yaml"))
# module docstrings say how to run a module alone too
DOCUMENTS += [
    p for d in ("proxx_exec", "proxx_dagster", "benchmarks") for p in (REPO / d).rglob("*.py")
]
COMMAND = re.compile(r"python3? -m ((?:proxx_exec|proxx_dagster|benchmarks)(?:\.[a-z_]+)*)")


def _documented_modules() -> set[str]:
    return {m for path in DOCUMENTS for m in COMMAND.findall(path.read_text(encoding="utf-8"))}


def test_docs_name_module_commands() -> None:
    assert {"proxx_dagster.demo", "proxx_dagster.sizing"} <= _documented_modules()


def test_each_documented_module_command_answers_help_and_does_nothing(tmp_path: Path) -> None:
    answered = {}
    for module in sorted(_documented_modules()):
        done = subprocess.run(
            [sys.executable, "-m", module, "--help"],
            cwd=tmp_path,
            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        answered[module] = (done.returncode, "usage" in done.stdout.lower(), done.stderr[-300:])
    made = sorted(p.name for p in tmp_path.iterdir())
    assert {m: a for m, a in answered.items() if a[:2] != (0, True)} == {}
    assert made == []
