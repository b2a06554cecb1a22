"""Each public factory of proxx_dagster documents itself with an example, and the example runs."""

from __future__ import annotations

import inspect
import re
import textwrap

import pytest

import proxx_dagster

DOCUMENTED = [
    "ExecutionResultIOManager",
    "ProxxTranslator",
    "assert_no_retries",
    "build_audit_job",
    "build_batch_job",
    "build_definitions",
    "build_execute_jobspec_op",
    "build_proxx_job",
]
BLOCK = re.compile(r"\.\. code-block:: python\n\n((?:(?: {4}.*)?\n)+)")


def examples(name: str) -> list[str]:
    text = inspect.getdoc(getattr(proxx_dagster, name)) or ""
    return [textwrap.dedent(block) for block in BLOCK.findall(text + "\n")]


@pytest.mark.parametrize("name", DOCUMENTED)
def test_public_factory_has_an_example_that_runs(name: str) -> None:
    assert name in proxx_dagster.__all__
    blocks = examples(name)
    assert blocks, f"{name} has no example in its docstring"
    for block in blocks:
        exec(compile(block, f"<example of {name}>", "exec"), {"__name__": "example"})
