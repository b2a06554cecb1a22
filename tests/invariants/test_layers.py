"""Who imports whom in proxx_dagster (docs/architecture.md draws it): the top-level building
blocks, then watch/ and reports/, then jobs/, then the assembly (builders, component,
definitions). A module never imports one of a later layer, so each sub-package can be read on
its own."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "proxx_dagster"
# What each sub-package may not import: a later layer.
FORBIDDEN = {
    "watch": ("proxx_dagster.jobs", "proxx_dagster.reports"),
    "reports": ("proxx_dagster.jobs",),
    "jobs": ("proxx_dagster.reports",),
}
ASSEMBLY = ("proxx_dagster.builders", "proxx_dagster.component", "proxx_dagster.definitions")
SUB_PACKAGES = tuple(f"proxx_dagster.{sub}" for sub in ("watch", "reports", "jobs"))
# The top-level modules that are not building blocks: the assembly and its Celery entry points.
NOT_BLOCKS = {"builders", "component", "definitions", "schedules", "launcher", "celery_app", "demo"}


def _imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in prefixes)


def test_sub_packages_import_no_later_layer() -> None:
    found = [
        f"{path.relative_to(REPO)}: {module}"
        for sub, later in FORBIDDEN.items()
        for path in sorted((PACKAGE / sub).glob("*.py"))
        for module in sorted(_imported(path))
        if _under(module, (*later, *ASSEMBLY))
    ]
    assert found == []


def test_building_blocks_import_no_sub_package() -> None:
    """The first layer: a top-level building block (names, settings, launchpad, ...) imports
    none of watch/, reports/ or jobs/, so the layers drawn in docs/architecture.md hold."""
    found = [
        f"{path.relative_to(REPO)}: {module}"
        for path in sorted(PACKAGE.glob("*.py"))
        if path.stem not in NOT_BLOCKS and path.name != "__init__.py"
        for module in sorted(_imported(path))
        if _under(module, SUB_PACKAGES)
    ]
    assert found == []


def test_only_the_package_and_the_component_use_the_assembly() -> None:
    """builders is imported by the package's __init__, the component and the code location;
    nothing imports the code location (importing it reads the environment)."""
    users = {
        path.relative_to(REPO).as_posix()
        for path in sorted(PACKAGE.rglob("*.py"))
        if any(_under(m, ASSEMBLY) for m in _imported(path))
    }
    assert users == {
        "proxx_dagster/__init__.py",
        "proxx_dagster/component.py",
        "proxx_dagster/definitions.py",
        "proxx_dagster/demo.py",
    }


def test_the_module_map_names_every_module() -> None:
    """docs/architecture.md's module map is drawn from the tree: a module added, moved or
    renamed without the map fails here."""
    text = (REPO / "docs" / "architecture.md").read_text()
    missing = [
        path.relative_to(REPO).as_posix()
        for package in ("proxx_exec", "proxx_dagster")
        for path in sorted((REPO / package).rglob("*.py"))
        if path.name != "__init__.py" and f"{path.name}`" not in text  # `x.py` or `dir/x.py`
    ]
    assert missing == []
