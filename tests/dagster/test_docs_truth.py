"""The docs name only tags, metadata keys and run keys that the code really sets."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from benchmarks.dagster_processes import REPO
from proxx_dagster.launchpad import describe_profile, jobspec_config_schema
from proxx_exec import BUILTIN_PROFILES, JobSpec

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
ASSET_KEYS = {"proxx/proxies", "proxx/source_media"}  # AssetKey(["proxx", ...]), not literals


def documented(pattern: str) -> set[str]:
    return {m for doc in DOCS for m in re.findall(pattern, doc.read_text())}


def package_source() -> str:
    return "\n".join(p.read_text() for p in sorted((REPO / "proxx_dagster").rglob("*.py")))


def test_every_documented_proxx_key_is_set_by_the_code() -> None:
    source = package_source()
    keys = documented(r"`(proxx/[a-z_]+)`") - ASSET_KEYS
    assert len(keys) > 10  # the docs were read
    assert sorted(key for key in keys if f'"{key}"' not in source) == []


def test_documented_run_keys_are_the_ones_the_tests_pin() -> None:
    """tests/dagster/test_automation.py and test_watch.py pin the keys the code makes; this
    pins the same forms in the operations guide."""
    text = (REPO / "docs" / "operations.md").read_text()
    for form in (
        "`inbox:<JobSpec fingerprint>`",
        "`<date>:<JobSpec fingerprint>`",
        "`watch:<card id>`",
    ):
        assert form in text, form


def test_the_guide_describes_each_profile_as_the_launchpad_does() -> None:
    text = " ".join((REPO / "docs" / "dagster.md").read_text().split())
    for name, profile in BUILTIN_PROFILES.items():
        assert f"`{name}`: {describe_profile(profile)}" in text


def test_the_launchpad_describes_each_jobspec_field_as_the_schema_does() -> None:
    """So a corrected description (e.g. output_dir: made when missing) reaches the launchpad."""
    fields = jobspec_config_schema().fields
    assert {name: field.description for name, field in fields.items()} == {
        name: info.description for name, info in JobSpec.model_fields.items()
    }


# Every place the code writes a file in a way that could replace one, and why it may.
MAY_REPLACE = {
    (
        "proxx_exec/files.py",
        "os.fdopen",
    ): "a new temporary file, then link or replace",
    ("proxx_exec/files.py", "replace"): "replace_file: the night report, replaced whole (README)",
    ("proxx_dagster/component.py", "write_text"): "`dg scaffold`'s new component folder",
    ("proxx_dagster/demo.py", "write_text"): "the demo's run config, beside a new job's folder",
    ("proxx_exec/looks/bake.py", "write_text"): "a developer's one-time bake of the shipped LUTs",
    ("proxx_exec/handoff/mhl.py", "replace"): "the ASC MHL chain file, one line more (README)",
}


def _writes_that_may_replace(path: Path) -> set[tuple[str, str]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = ast.unparse(func)
        if isinstance(func, ast.Attribute) and not name.startswith("os."):
            name = func.attr  # a method: Path.replace, Path.write_text, ...
        modes = {
            a.value
            for a in [*node.args, *(k.value for k in node.keywords)]
            if isinstance(a, ast.Constant) and isinstance(a.value, str)
        }
        if (
            name in {"rename", "move", "write_text", "write_bytes", "os.replace", "os.rename"}
            or (name == "replace" and len(node.args) == 1 and not node.keywords)  # Path's
            or (name in {"open", "os.fdopen"} and modes & {"w", "wb", "a", "ab", "w+", "r+"})
        ):
            found.add((str(path.relative_to(REPO)), name))
    return found


def test_the_readme_names_every_file_proxx_replaces() -> None:
    """README: no proxy, result or poster is ever overwritten; the night report is replaced."""
    modules = [p for pkg in ("proxx_exec", "proxx_dagster") for p in (REPO / pkg).rglob("*.py")]
    found = set().union(*(_writes_that_may_replace(path) for path in modules))
    assert found == set(MAY_REPLACE)
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "the one file proxx replaces is the night's HTML report" in readme
    assert "besides the ASC MHL chain file `ascmhl/ascmhl_chain.xml`, rewritten whole" in readme


def _resolves(dotted: str) -> bool:
    """`proxx_dagster.sizing` or `proxx_dagster.ProxxTranslator`: a module, or a name in one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(found, name):
                return False
            found = getattr(found, name)
        return True
    return False


def test_every_file_module_and_test_the_docs_name_exists() -> None:
    """A doc that names `proxx_exec/process.py`, `python -m proxx_dagster.sizing` or
    `tests/...py::test_x` points at something there: a module moved or a test renamed makes
    the docs name it anew."""
    paths = documented(r"\b((?:proxx_exec|proxx_dagster|benchmarks|tests|deploy)/[\w./-]*\w)")
    assert {p for p in paths if not (REPO / p).exists()} == set()
    dotted = documented(r"\b(proxx_(?:exec|dagster)(?:\.\w+)+)")
    assert {d for d in dotted if not _resolves(d)} == set()
    named_tests = documented(r"\b(tests/[\w/]+\.py::\w+)")
    missing = set()
    for named in named_tests:
        path, _, name = named.partition("::")
        tree = ast.parse((REPO / path).read_text())
        if name not in {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}:
            missing.add(named)
    assert missing == set()
    assert paths and dotted and named_tests
