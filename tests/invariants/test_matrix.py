"""The conformance matrix covers every rule of the spec, and names only real, collected tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.invariants.spec_rules import MATRIX, SPEC, matrix_rows, spec_rules

REPO = Path(__file__).resolve().parents[2]


def collected_tests() -> set[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    return {line.split("[")[0] for line in completed.stdout.splitlines() if "::" in line}


def test_every_rule_has_a_row() -> None:
    rules = spec_rules(SPEC)
    assert len(rules) > 150  # the parser found the spec's rules
    rows = {(row.heading, row.rule) for row in matrix_rows(MATRIX)}
    missing = [
        f"{rule.heading}: {rule.text}" for rule in rules if (rule.heading, rule.text) not in rows
    ]
    assert missing == []


def test_every_row_is_a_rule_and_names_collected_tests() -> None:
    rules = {(rule.heading, rule.text) for rule in spec_rules(SPEC)}
    collected = collected_tests()
    problems = []
    for row in matrix_rows(MATRIX):
        if (row.heading, row.rule) not in rules:
            problems.append(f"row is not a rule of the spec: {row.heading}: {row.rule}")
        if not row.tests:
            problems.append(f"row names no test: {row.rule}")
        problems += [
            f"{row.rule}: {test} not collected" for test in row.tests if test not in collected
        ]
    assert problems == []


def test_the_spec_copy_is_the_contract() -> None:
    """docs/spec is the project's own copy; when the shared original is beside the checkout,
    the two must be identical."""
    original = REPO.parent / "shared" / "spec" / "execution-invariants.md"
    text = SPEC.read_text()
    assert "NON-NEGOTIABLE" in text
    if original.exists():
        assert original.read_text() == text
