"""What Execution is NOT, and rules that hold by construction: the source of proxx_exec is read
and checked, so a change that would break the construction fails here."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "proxx_exec"
# Orchestration, concurrency, scheduling, networking, randomness: none belongs in execution.
FORBIDDEN_IMPORTS = {
    "dagster",
    "dagster_graphql",
    "dagster_postgres",
    "dagster_celery",
    "celery",
    "threading",
    "multiprocessing",
    "concurrent",
    "asyncio",
    "sched",
    "random",
    "secrets",
    "socket",
    "urllib",
    "http",
    "requests",
    "tenacity",
    "functools",
}


def modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.glob("*.py")):
        yield path.name, ast.parse(path.read_text(), filename=str(path))


def calls(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield ast.unparse(node.func)


def test_execution_imports_no_orchestration_concurrency_or_network() -> None:
    found = []
    for name, tree in modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                roots = [(node.module or "").split(".")[0]]
            else:
                continue
            found += [f"{name}: {root}" for root in roots if root in FORBIDDEN_IMPORTS]
    assert found == []


def test_execution_reads_no_environment_and_keeps_no_global_state() -> None:
    found = []
    for name, tree in modules():
        source = ast.unparse(tree)
        for needle in ("os.environ", "os.getenv", "os.putenv", "getpass", "platform.node"):
            if needle in source:
                found.append(f"{name}: {needle}")
        found += [f"{name}: global" for node in ast.walk(tree) if isinstance(node, ast.Global)]
        found += [f"{name}: {c}" for c in calls(tree) if c.endswith(("lru_cache", "cache"))]
    assert found == []


def test_clock_reads_are_confined_to_timing_and_the_timeout() -> None:
    """Wall clock: only the result's timing block. Monotonic clock: the clip timeout and the
    per-clip durations of the timing block. Nothing else may look at time."""
    allowed = {
        ("run.py", "datetime.now"),
        ("run.py", "time.perf_counter"),
        ("process.py", "time.monotonic"),
    }
    used = {
        (name, c)
        for name, tree in modules()
        for c in calls(tree)
        if c
        in {
            "datetime.now",
            "datetime.utcnow",
            "time.time",
            "time.perf_counter",
            "time.monotonic",
            "time.time_ns",
            "date.today",
            "time.localtime",
        }
    }
    assert used <= allowed


def test_the_engine_is_started_in_exactly_two_places_and_never_in_a_loop() -> None:
    """run_engine: once for the encode (run.py) and once for the decode check (verify.py);
    neither call sits inside a loop or an exception handler that could repeat it."""
    sites = []
    for name, tree in modules():
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                child.parent = node  # type: ignore[attr-defined]
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "run_engine":
                sites.append(name)
                parent: ast.AST | None = node
                while (parent := getattr(parent, "parent", None)) is not None:
                    assert not isinstance(parent, ast.While | ast.For | ast.ExceptHandler), (
                        f"{name}: run_engine inside {type(parent).__name__}"
                    )
                    if isinstance(parent, ast.FunctionDef):
                        break
    assert sorted(sites) == ["run.py", "verify.py"]


def test_no_shell_and_no_overwrite_flag() -> None:
    for name, tree in modules():
        source = ast.unparse(tree)
        assert "shell=True" not in source, name
        assert "'-y'" not in source and '"-y"' not in source, name


def test_one_module_decides_names_and_one_commits() -> None:
    """Output paths are built only in naming.py; files are renamed, linked or removed only in
    commit.py (and in files.py, the atomic write of the result file)."""
    moves = {"os.link", "os.rename", "os.replace", "shutil.rmtree", "shutil.move"}
    where = {(name, c) for name, tree in modules() for c in calls(tree) if c in moves}
    assert {name for name, _ in where} <= {"commit.py", "files.py"}
