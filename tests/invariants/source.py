"""proxx_exec's own source, parsed, for the tests that check rules holding by construction."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "proxx_exec"


def modules() -> Iterator[tuple[str, ast.Module]]:
    """Every module of proxx_exec, named by its path inside the package (`run.py`,
    `tools/posters.py`)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        yield name, ast.parse(path.read_text(), filename=str(path))


def called_name(node: ast.Call) -> str:
    """`run_engine` for run_engine(...), `verify_clip` for verify.verify_clip(...)."""
    func = node.func
    return (
        func.id
        if isinstance(func, ast.Name)
        else func.attr
        if isinstance(func, ast.Attribute)
        else ""
    )


def calls(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield ast.unparse(node.func)
