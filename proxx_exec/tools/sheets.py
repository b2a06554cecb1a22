"""HTML pages of posters: a job's contact sheet, and the card's.

Every string that comes from a user (file names, job ids, messages) goes through `html_text`
(`proxx_exec.display`) or `link`, so a clip named `<script>…` is shown, never run. Images are
linked relative to the page, so a proxy tree moved or mounted elsewhere keeps its pages working.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from proxx_exec.display import html_text
from proxx_exec.failures import clip_label
from proxx_exec.files import write_new_file
from proxx_exec.naming import contact_sheet_path
from proxx_exec.result import ExecutionResult
from proxx_exec.tools.html import link, page
from proxx_exec.tools.posters import Poster, PosterSet, make_posters, plan_poster, unmade_poster


def caption(poster: Poster) -> str:
    """What a poster shows, in words: clip number, clip name, timecode and frame."""
    parts = [clip_label(poster.index), PurePosixPath(poster.source).name]
    if poster.timecode:
        parts.append(f"TC {poster.timecode}")
    if poster.frame is not None:
        parts.append(f"frame {poster.frame + 1} of {poster.frame_count}")
    return " · ".join(parts)


def figure(page_path: str, poster: Poster) -> str:
    label = html_text(caption(poster))
    if poster.path is None:
        return (
            f'<figure class="missing"><div>no poster: {html_text(poster.problem)}</div>'
            f"<figcaption>{label}</figcaption></figure>"
        )
    return (
        f'<figure><img src="{link(page_path, poster.path)}" alt="{label}" loading="lazy">'
        f"<figcaption>{label}</figcaption></figure>"
    )


def contact_sheet_html(result: ExecutionResult, posters: PosterSet, page_path: str) -> str:
    engine = result.engine.name if result.engine else "not resolved"
    profile = result.profile.name if result.profile else "not resolved"
    facts = (
        f'<p class="facts"><span class="{html_text(result.status.value)}">'
        f"{html_text(result.status.value)}</span> · {len(result.clips)} clip(s) · profile "
        f"{html_text(profile)} · engine {html_text(engine)} · result digest "
        f"{html_text(result.digest[:16])}</p>"
    )
    problems = "".join(f'<p class="problem">{html_text(p)}</p>' for p in posters.problems)
    figures = "\n".join(figure(page_path, poster) for poster in posters.posters)
    body = (
        f"<h1>Contact sheet · job {html_text(posters.job_id)}</h1>\n{facts}\n{problems}\n"
        f'<div class="sheet">\n{figures}\n</div>'
    )
    return page(f"proxx contact sheet · {posters.job_id}", body)


def posters_with_contact_sheet(result: ExecutionResult) -> PosterSet:
    """The posters of a COMPLETED job (`make_posters`) and its contact sheet, written once
    beside the result. Never raises for their own trouble; never touches the result."""
    posters = make_posters(result)
    if result.spec is None or not posters.posters:
        return posters
    sheet = contact_sheet_path(result.spec.output_dir, result.spec.job_id)
    try:
        write_new_file(Path(sheet), contact_sheet_html(result, posters, sheet))
    except OSError as error:
        problem = f"the contact sheet {sheet} was not written: {error.strerror or error}"
        return posters.model_copy(update={"problem": problem})
    return posters.model_copy(update={"contact_sheet": sheet})


def posters_found(result: ExecutionResult) -> tuple[Poster, ...]:
    """The posters its own step made of a COMPLETED job, as found on disk (no engine is run)."""
    found = []
    for clip in result.clips:
        poster = unmade_poster(clip)
        try:
            plan = plan_poster(result, clip)
        except ValueError as error:
            found.append(poster.model_copy(update={"problem": str(error)}))
            continue
        if Path(plan.path).is_file():
            found.append(poster.model_copy(update={"path": plan.path, "frame": plan.frame}))
        else:
            found.append(poster.model_copy(update={"problem": "its job made no poster"}))
    return tuple(found)


def card_contact_sheet_html(card_id: str, results: list[ExecutionResult], page_path: str) -> str:
    """One page for a card cut into several jobs: a section per job, its posters in order."""
    completed = sum(1 for result in results if result.completed)
    sections = []
    for result in results:
        status = html_text(result.status.value)
        heading = (
            f'<h2>job {html_text(result.job_id or "?")} · <span class="{status}">{status}</span>'
            f" · {len(result.clips)} clip(s)</h2>"
        )
        if not result.completed:
            sections.append(f'{heading}\n<p class="problem">no proxy committed, no poster</p>')
            continue
        figures = "\n".join(figure(page_path, poster) for poster in posters_found(result))
        sections.append(f'{heading}\n<div class="sheet">\n{figures}\n</div>')
    body = (
        f"<h1>Contact sheet · card {html_text(card_id)}</h1>\n"
        f'<p class="facts">{len(results)} job(s), {completed} COMPLETED</p>\n' + "\n".join(sections)
    )
    return page(f"proxx contact sheet · {card_id}", body)


def write_card_contact_sheet(
    card_id: str, output_dir: str, results: list[ExecutionResult]
) -> tuple[str | None, str | None]:
    """The card's one contact sheet, written once beside its jobs' results: (its path, None),
    or (None, why it was not written). Never raises for its own trouble."""
    sheet = contact_sheet_path(output_dir, card_id)
    try:
        write_new_file(Path(sheet), card_contact_sheet_html(card_id, results, sheet))
    except OSError as error:
        return None, f"the contact sheet {sheet} was not written: {error.strerror or error}"
    return sheet, None
