"""What Execution is NOT, and rules that hold by construction: the source of proxx_exec is read
and checked, so a change that would break the construction fails here."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from tests.invariants.source import called_name, calls, modules

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


# The tools around the execution path, and the one module of the path that offers them as
# commands; no other module may import them.
TOOLS = "proxx_exec.tools"
OFFERS_TOOLS = {"cli.py", "__init__.py"}


def _imported(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def test_execution_path_never_imports_the_tools() -> None:
    """The top level of proxx_exec is the execution path (jobspec -> validate -> plan -> run ->
    verify -> commit -> result); the after-the-fact tools live in `proxx_exec.tools`, and
    nothing on the path reaches them (the CLI offers them as commands, lazily)."""
    path = [(name, tree) for name, tree in modules() if "/" not in name]
    assert {"run.py", "validate.py", "verify.py", "commit.py", "result.py"} <= dict(path).keys()
    found = [
        f"{name}: {module}"
        for name, tree in path
        if name not in OFFERS_TOOLS
        for module in _imported(tree)
        if module == TOOLS or module.startswith(f"{TOOLS}.")
    ]
    assert found == []


# Reads that decide nothing and are only recorded: the ASC MHL seal's creator info names the
# host that sealed the folder (its <hostname>), as the result's host block does.
RECORDED_ONLY = {"handoff/mhl.py: platform.node"}


def test_execution_reads_no_environment_and_keeps_no_global_state() -> None:
    found = []
    for name, tree in modules():
        source = ast.unparse(tree)
        for needle in ("os.environ", "os.getenv", "os.putenv", "getpass", "platform.node"):
            if needle in source and f"{name}: {needle}" not in RECORDED_ONLY:
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


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _own_nodes(function: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function's body, without those of the functions defined inside it."""
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(node))


def _known_functions(tree: ast.Module) -> dict[str, str]:
    """Names by which a module refers to functions of proxx_exec: its own, and those it
    imports from other proxx_exec modules (local name -> the function's name)."""
    known = {
        node.name: node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("proxx_exec"):
            known.update((alias.asname or alias.name, alias.name) for alias in node.names)
    return known


def _uses(
    function: ast.AST, known: dict[str, str], names: set[str]
) -> Iterator[tuple[str, ast.AST]]:
    """Where a function calls one of `names`, or hands one on as a value (a callback)."""
    for node in _own_nodes(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.attr if node.func.attr in known.values() else None
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            target = known.get(node.id)
        else:
            target = None
        if target in names:
            yield target, node


def _repeats(site: ast.AST, function: ast.AST, parents: dict[ast.AST, ast.AST]) -> list[ast.AST]:
    """What could run `site` more than once within `function`: the loops around it (their
    iterable) and the exception handlers around it."""
    found: list[ast.AST] = []
    child, node = site, parents[site]
    while node is not function:
        if isinstance(node, ast.For | ast.AsyncFor) and child is not node.iter:
            found.append(node.iter)
        elif isinstance(node, ast.While | ast.ExceptHandler):
            found.append(node)
        elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            found += [generator.iter for generator in node.generators]
        child, node = node, parents[node]
    return found


def _describe(repeat: ast.AST) -> str:
    return (
        f"a loop over {ast.unparse(repeat)}"
        if isinstance(repeat, ast.expr)
        else type(repeat).__name__
    )


def test_the_engine_is_started_in_four_places_and_never_in_a_loop() -> None:
    """run_engine: once for the encode (run.py), once for the decode check and, with a look,
    once for the look check (verify.py), after a
    job COMPLETED once for each proxy's poster frame (tools/posters.py), and for the encode of
    `proxx reproduce` (tools/reproduce.py), which is not a job. Every
    chain of calls from any function of proxx_exec down to it passes through one loop at most,
    the loop over the plan's clips; no other loop, no `while`, no exception handler that could
    run it again, however many functions stand between (a retry loop around the clip step is
    caught as well as one around run_engine itself)."""
    trees = dict(modules())
    parents = {name: _parents(tree) for name, tree in trees.items()}
    functions: dict[str, list[tuple[str, ast.AST]]] = {}
    for name, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                functions.setdefault(node.name, []).append((name, node))
    sites = sorted(
        name
        for name, tree in trees.items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and called_name(node) == "run_engine"
    )
    # verify.py twice: the full decode, and the look check of a job with a look
    assert sites == ["run.py", "tools/posters.py", "tools/reproduce.py", "verify.py", "verify.py"]

    known = {name: _known_functions(tree) for name, tree in trees.items()}

    def reaches(fn: str, names: set[str]) -> bool:
        return any(any(_uses(d, known[module], names)) for module, d in functions[fn])

    reaching = {"run_engine"}  # the functions from which run_engine can be reached
    while grown := {fn for fn in functions if reaches(fn, reaching)} - reaching:
        reaching |= grown
    problems: list[str] = []

    def loops_down(fn: str, chain: tuple[str, ...]) -> int:
        """The most loops on any chain from `fn` down to run_engine."""
        if fn == "run_engine":
            return 0
        if fn in chain:
            problems.append(f"recursion: {' -> '.join((*chain, fn))}")
            return 0
        most = 0
        for module, function in functions.get(fn, []):
            for callee, site in _uses(function, known[module], reaching):
                repeats = _repeats(site, function, parents[module])
                problems.extend(
                    f"{module}: {callee} in {fn} inside {_describe(r)}"
                    for r in repeats
                    if not (isinstance(r, ast.expr) and "clips" in ast.unparse(r))
                )
                most = max(most, len(repeats) + loops_down(callee, (*chain, fn)))
        return most

    for fn in sorted(reaching):
        if (loops := loops_down(fn, ())) > 1:
            problems.append(f"{fn}: {loops} loops on the way to run_engine (one clip loop only)")
    assert problems == []


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
