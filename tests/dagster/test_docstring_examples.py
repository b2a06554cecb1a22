"""Each public factory of proxx_dagster documents itself with an example, and the example runs."""

from __future__ import annotations

import inspect
import re
import textwrap

import pytest
from dagster import Definitions

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
def test_public_factory_has_an_example_that_runs(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each example runs and does what it shows: the `defs` it builds load as Dagster loads a
    code location, and a `print(...)  # ...text...` prints that text."""
    assert name in proxx_dagster.__all__
    blocks = examples(name)
    assert blocks, f"{name} has no example in its docstring"
    for block in blocks:
        namespace: dict[str, object] = {"__name__": "example"}
        exec(compile(block, f"<example of {name}>", "exec"), namespace)
        shown = [
            [part.strip() for part in comment.split("...") if part.strip()]
            for comment in re.findall(r"print\(.*\)\s*#\s*(.*)", block)
        ]
        printed = capsys.readouterr().out
        for parts in shown:
            assert parts and all(part in printed for part in parts), (parts, printed)
        if not shown:
            defs = namespace.get("defs")
            assert isinstance(defs, Definitions), f"the example of {name} builds no `defs`"
            Definitions.validate_loadable(defs)


def test_an_example_with_a_check_proxx_does_not_record_fails() -> None:
    """What the examples' test catches: a translator naming a check no result records."""

    class Misspelt(proxx_dagster.ProxxTranslator):
        def check_names(self) -> tuple[str, ...]:
            return ("job_completed", "decode")

    with pytest.raises(ValueError, match="names 'decode', which proxx does not record"):
        proxx_dagster.build_definitions(translator=Misspelt())
