"""Posters in Dagster: made after a job COMPLETED, shown in the proxies' materialization, and
kept apart from the job's verdict.

Dagster's UI (1.13) renders markdown metadata with `react-markdown` and a sanitizer that allows
`data:` image sources, behind "[Show Markdown]"; path metadata is text with a copy button. So the
posters are inlined as PNG data URIs in a markdown table (up to a size budget), and the files,
the contact sheet and the night report are given as paths.
"""

from __future__ import annotations

import base64
from pathlib import Path, PurePosixPath

from dagster import OpExecutionContext

from proxx_exec import ExecutionResult
from proxx_exec.display import markdown_text
from proxx_exec.tools.posters import Poster, PosterSet, make_posters
from proxx_exec.tools.sheets import caption, posters_with_contact_sheet

# Base64 characters of posters inlined into one materialization event; the rest are named by
# path (the contact sheet file shows them all). Keeps an asset page's events small.
INLINE_BUDGET = 3_000_000


def make_job_posters(
    context: OpExecutionContext, result: ExecutionResult, contact_sheet: bool = True
) -> PosterSet | None:
    """The job's posters and contact sheet (without one: a part of a card, whose one sheet is
    written once all its parts ended), if it COMPLETED; None otherwise. Whatever goes wrong
    here is logged and reported in the PosterSet: a poster never changes the job's outcome."""
    if not result.completed:
        return None
    try:
        posters = posters_with_contact_sheet(result) if contact_sheet else make_posters(result)
    except Exception as error:  # a poster bug must not change the job's verdict
        context.log.exception("posters failed; the job's result is unchanged")
        return PosterSet(
            job_id=result.job_id or "",
            folder="",
            contact_sheet=None,
            posters=(),
            problem=f"posters failed: {type(error).__name__}: {error}",
        )
    made = sum(1 for poster in posters.posters if poster.path is not None)
    context.log.info(
        f"posters: {made} of {len(result.clips)} made in {posters.folder}"
        + (f"; contact sheet {posters.contact_sheet}" if posters.contact_sheet else "")
    )
    for problem in posters.problems:
        context.log.warning(f"poster not made (the proxies are unaffected): {problem}")
    return posters


def _inline(poster: Poster, budget: list[int]) -> str:
    """The poster as a markdown image with a data URI, or its path once the budget is spent."""
    if poster.path is None:
        return f"no poster: {markdown_text(poster.problem or 'not made')}"
    try:
        data = base64.b64encode(Path(poster.path).read_bytes()).decode("ascii")
    except OSError as error:
        return f"poster unreadable: {markdown_text(error.strerror or str(error))}"
    if len(data) > budget[0]:
        return f"not inlined (size budget): {markdown_text(poster.path)}"
    budget[0] -= len(data)
    alt = markdown_text(PurePosixPath(poster.source).name)
    return f"![{alt}](data:image/png;base64,{data})"


def posters_markdown(posters: PosterSet) -> str:
    """A contact sheet for the asset page: one row per clip, poster and caption."""
    lines = [f"**Posters of job {markdown_text(posters.job_id)}**", ""]
    if posters.problem:
        lines += [f"Problem: {markdown_text(posters.problem)}", ""]
    lines += ["| poster | clip |", "| --- | --- |"]
    budget = [INLINE_BUDGET]
    for poster in posters.posters:
        lines.append(f"| {_inline(poster, budget)} | {markdown_text(caption(poster))} |")
    return "\n".join(lines) + "\n"
