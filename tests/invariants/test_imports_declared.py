"""What proxx imports is declared: every third-party module either package imports comes from a
distribution pyproject.toml names, and no private module of another package (`x._y`) is
imported, except Dagster's, in the one module that gathers them with their reasons."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("proxx_exec", "proxx_dagster")
PRIVATE_ALLOWED = {"proxx_dagster/dagster_internals.py"}  # every dagster._ use, with its reason


def _imports() -> Iterator[tuple[str, str]]:
    """(module path inside the repo, absolute module imported) for both packages."""
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            name = path.relative_to(REPO).as_posix()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    yield from ((name, alias.name) for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    yield name, node.module


def _normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {
        _normalized(re.split(r"[\[<>=!~; ]", dep, maxsplit=1)[0]) for dep in project["dependencies"]
    }


def test_every_third_party_import_is_a_declared_dependency() -> None:
    owners = importlib.metadata.packages_distributions()
    declared = _declared()
    undeclared = sorted(
        f"{name}: {module} ({', '.join(owners.get(top, ['no distribution']))})"
        for name, module in _imports()
        if (top := module.split(".")[0]) not in sys.stdlib_module_names
        and top not in PACKAGES
        and not any(_normalized(d) in declared for d in owners.get(top, []))
    )
    assert undeclared == []


def test_no_private_module_of_another_package_is_imported() -> None:
    private = sorted(
        f"{name}: {module}"
        for name, module in _imports()
        if module.split(".")[0] not in PACKAGES
        and module != "__future__"
        and any(part.startswith("_") for part in module.split("."))
        and name not in PRIVATE_ALLOWED
    )
    assert private == []


def test_every_sub_package_is_shipped() -> None:
    """The wheel holds what is imported: setuptools is given every package by name."""
    listed = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = sorted(
        init.parent.relative_to(REPO).as_posix().replace("/", ".")
        for package in PACKAGES
        for init in (REPO / package).rglob("__init__.py")
    )
    assert sorted(listed) == found
