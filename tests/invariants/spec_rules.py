"""Reads the spec's rules and the invariants matrix, for the conformance meta-test."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
SPEC = DOCS / "spec" / "execution-invariants.md"
MATRIX = DOCS / "invariants.md"
RULE_SECTIONS = (
    "What Execution IS",
    "What Execution is NOT",
    "Execution Invariants (Hard Rules)",
    "Scaling Constraints",
    "Failure Semantics",
    "Observability Guarantees",
    "Explicit Forbidden Changes",
)


@dataclass(frozen=True)
class Rule:
    heading: str  # the ### heading (or the ## section where there is none)
    text: str


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "")).strip()


def spec_rules(spec: Path = SPEC) -> list[Rule]:
    """Every bullet and numbered item of the rule sections, every line of 'What Execution is
    NOT', and every 'Forbidden:' heading."""
    rules: list[Rule] = []
    section = heading = ""
    for line in spec.read_text().splitlines():
        if line.startswith("## "):
            section = heading = line[3:].strip()
            continue
        if section not in RULE_SECTIONS:
            continue
        if line.startswith("### "):
            heading = line[4:].strip()
            if heading.startswith("Forbidden: "):
                rules.append(Rule(heading, heading))
            continue
        item = re.match(r"^(?:- |\d+\. )(.+)$", line)
        if item:
            rules.append(Rule(heading, normalise(item.group(1))))
        elif section == "What Execution is NOT" and line.startswith("Execution "):
            rules.append(Rule(heading, normalise(line)))
    return rules


@dataclass(frozen=True)
class Row:
    heading: str
    rule: str
    tests: tuple[str, ...]
    note: str


def matrix_rows(matrix: Path = MATRIX) -> list[Row]:
    """Rows of the matrix tables: | heading | rule | tests (`path::name`, ...) | how |."""
    rows = []
    for line in matrix.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in {"heading", "---"} or set(cells[0]) <= {"-", " "}:
            continue
        tests = tuple(re.findall(r"`(tests/[^`]+::[^`]+)`", cells[2]))
        rows.append(Row(cells[0], normalise(cells[1]), tests, cells[3]))
    return rows
