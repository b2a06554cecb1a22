"""The night report's page: one HTML page of a night's proxx runs (read by `night_runs`), linked
from each run by the `night_report` sensor.

A night is named by the date it ends on: the night of 2026-11-29 holds the proxx runs launched
from 12:00 on 2026-11-28 to 12:00 on 2026-11-29, in the automation's time zone (so the 02:00
schedule tick, the cards copied in the evening and those settling after midnight are one night).
Whenever a proxx run ends, the `proxx_night_report` sensor rewrites its night's page from the
runs' own ExecutionResults (the step outputs' stored JSON) and writes into the run an engine
event naming the page. The page is a view of results; it is replaced, the results never are.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path, PurePosixPath

from proxx_dagster.reports.night_runs import (
    NONE,
    LostJob,
    NightRun,
    UnreadableResult,
    night_window,
)
from proxx_dagster.watch.folder_spec import part_number
from proxx_exec import ExecutionResult
from proxx_exec.display import html_text
from proxx_exec.naming import contact_sheet_path, poster_path
from proxx_exec.result import ClipResult, ClipState
from proxx_exec.tools.html import link, page

NO_RESULT_STATUS = "no result"  # the status cell of a job that ended without a result


def _seconds(value: float | None) -> str:
    return NONE if value is None else f"{value:.1f} s"


def _thumbnail(page_path: str, result: ExecutionResult, clip: ClipResult) -> str:
    if result.spec is None or clip.output is None or clip.state is not ClipState.COMMITTED:
        return ""
    poster = poster_path(result.spec.output_dir, result.spec.job_id, clip.index, clip.output)
    if not Path(poster).is_file():
        return "no poster"
    alt = html_text(PurePosixPath(clip.source).name)
    return f'<img src="{link(page_path, poster)}" alt="{alt}" loading="lazy">'


def _clip_rows(page_path: str, result: ExecutionResult) -> str:
    work = {t.index: t.encode_s + t.verify_s for t in result.timing.clips}
    rows = []
    for clip in result.clips:
        proxy = PurePosixPath(clip.output).name if clip.output else NONE
        rows.append(
            f"<tr><td>{clip.index + 1}</td><td>{html_text(PurePosixPath(clip.source).name)}</td>"
            f"<td>{html_text(proxy)}</td><td>{html_text(clip.state.value)}</td>"
            f"<td>{_seconds(clip.duration_s)}</td><td>{_seconds(work.get(clip.index))}</td>"
            f"<td>{_thumbnail(page_path, result, clip)}</td></tr>"
        )
    return "\n".join(rows)


def _sheet_link(page_path: str, folder: str, name: str) -> str:
    sheet = contact_sheet_path(folder, name)
    return (
        f' · <a href="{link(page_path, sheet)}">contact sheet</a>' if Path(sheet).is_file() else ""
    )


def _job_section(
    page_path: str, run: NightRun, result: ExecutionResult, heading: str = "h2"
) -> str:
    failure = result.failure
    why = (
        f'<p class="problem">{html_text(failure.failure_class.value)} '
        f"{html_text(failure.reason.value)}: {html_text(failure.message)}</p>"
        if failure
        else ""
    )
    folder = result.spec.output_dir if result.spec else NONE
    # a part of a card has no sheet of its own: the card's section links the card's
    sheet_link = _sheet_link(page_path, folder, result.spec.job_id) if result.spec else ""
    return (
        f"<{heading}>{html_text(result.job_id or 'unreadable JobSpec')} · "
        f'<span class="{html_text(result.status.value)}">'
        f"{html_text(result.status.value)}</span></{heading}>\n"
        f'<p class="facts">run {html_text(run.run_id)} · {html_text(folder)} · '
        f"{_seconds(result.timing.duration_s)}{sheet_link}</p>\n{why}\n"
        "<table><tr><th>#</th><th>clip</th><th>proxy</th><th>state</th><th>length</th>"
        "<th>encode + verify</th><th>poster</th></tr>\n"
        f"{_clip_rows(page_path, result)}\n</table>"
    )


def _card_section(page_path: str, run: NightRun) -> str:
    """One section for a card cut into several jobs: the card, then each job it ran."""
    results = sorted(
        (r for r in run.results if isinstance(r, ExecutionResult)),
        key=lambda r: part_number(r.job_id or ""),
    )
    folder = next((r.spec.output_dir for r in results if r.spec), NONE)
    completed = sum(1 for r in results if r.completed)
    status = "COMPLETED" if completed == run.parts else "FAILED"
    problems = [
        f"{run.never_started} job(s) of this card never started" if run.never_started else "",
        f"{len(run.lost)} job(s) ended without a result" if run.lost else "",
        f"{len(results) - completed} job(s) FAILED" if completed < len(results) else "",
    ]
    why = "".join(f'<p class="problem">{html_text(p)}</p>' for p in problems if p)
    card = run.card or NONE
    parts = "\n".join(_job_section(page_path, run, r, "h3") for r in results)
    return (
        f'<h2>card {html_text(card)} · <span class="{status}">{status}</span></h2>\n'
        f'<p class="facts">run {html_text(run.run_id)} · {html_text(folder)} · '
        f"{run.parts} jobs, {completed} COMPLETED{_sheet_link(page_path, folder, card)}</p>\n"
        f"{why}\n{parts}"
    )


def _skipped_section(run: NightRun) -> str:
    """The files of a run's card that it did not read: each with why, and what to use instead."""
    raws = sum(1 for s in run.skipped if s.camera_raw)
    rows = "\n".join(
        f"<tr><td>{html_text(s.path)}</td><td>{html_text(s.reason)}</td></tr>" for s in run.skipped
    )
    return (
        f"<h3>{html_text(run.folder or NONE)} · {len(run.skipped)} file(s) not read, "
        f"{raws} of them camera RAW</h3>\n"
        f'<p class="facts">run {html_text(run.run_id)}</p>\n'
        "<table><tr><th>file</th><th>why, and what to use instead</th></tr>\n"
        f"{rows}\n</table>"
    )


def _run_cells(run: NightRun) -> str:
    return (
        f"<td>{html_text(run.run_id[:8])}</td><td>{html_text(run.job_name)}</td>"
        f"<td>{html_text(run.trigger)}</td>"
        f"<td>{html_text(f'{run.launched:%Y-%m-%d %H:%M:%S}')}</td>"
    )


def _job_row(run: NightRun, result: ExecutionResult | UnreadableResult | None) -> str:
    if result is None:
        return (
            f"<tr><td>{NONE}</td>{_run_cells(run)}"
            f'<td class="FAILED">no job started</td><td>{html_text(run.refusal or run.status)}'
            f"</td><td>{NONE}</td><td>0</td></tr>"
        )
    if isinstance(result, UnreadableResult):
        why = f"{result.path}: {result.problem} (the run ended {run.status})"
        return (
            f"<tr><td>{NONE}</td>{_run_cells(run)}"
            f'<td class="FAILED">result unreadable</td><td>{html_text(why)}</td>'
            f"<td>{NONE}</td><td>{NONE}</td></tr>"
        )
    reason = (
        f"{result.failure.failure_class.value} {result.failure.reason.value}"
        if (result.failure)
        else ""
    )
    return (
        f"<tr><td>{html_text(result.job_id or NONE)}</td>{_run_cells(run)}"
        f'<td class="{html_text(result.status.value)}">{html_text(result.status.value)}</td>'
        f"<td>{html_text(reason)}</td><td>{_seconds(result.timing.duration_s)}</td>"
        f"<td>{len(result.clips)}</td></tr>"
    )


def _lost_row(run: NightRun, lost: LostJob) -> str:
    return (
        f"<tr><td>{html_text(lost.step)}</td>{_run_cells(run)}"
        f'<td class="FAILED">{NO_RESULT_STATUS}</td><td>{html_text(lost.why)}</td>'
        f"<td>{NONE}</td><td>{NONE}</td></tr>"
    )


def _pairs(
    runs: list[NightRun],
) -> Iterator[tuple[NightRun, ExecutionResult | UnreadableResult | None]]:
    for run in runs:
        if not run.results and not run.lost:
            yield run, None
        for result in run.results:
            yield run, result


def night_report_html(night: date, timezone: str, runs: list[NightRun], page_path: str) -> str:
    start, end = night_window(night, timezone)
    pairs = list(_pairs(runs))
    results = [result for _, result in pairs if isinstance(result, ExecutionResult)]
    unreadable = sum(1 for _, result in pairs if isinstance(result, UnreadableResult))
    completed = sum(1 for result in results if result.completed)
    lost = sum(len(run.lost) for run in runs)
    never = sum(run.never_started for run in runs)
    not_read = sum(len(run.skipped) for run in runs)
    raws = sum(1 for run in runs for s in run.skipped if s.camera_raw)
    summary = (
        f"{len(results)} job(s): {completed} COMPLETED, {len(results) - completed} FAILED; "
        f"{sum(1 for _, result in pairs if result is None)} run(s) that started no job; "
        + (f"{lost} job(s) that ended without a result; " if lost else "")
        + (f"{never} job(s) of cards that never started; " if never else "")
        + (f"{unreadable} result(s) unreadable; " if unreadable else "")
        + (f"{not_read} file(s) of cards not read ({raws} camera RAW); " if not_read else "")
        + f"{sum(len(r.clips) for r in results if r.completed)} proxies made"
    )
    jobs = "\n".join(
        [_job_row(run, result) for run, result in pairs]
        + [_lost_row(run, lost) for run in runs for lost in run.lost]
    )
    sections = "\n".join(
        (
            _card_section(page_path, run)
            if run.parts > 1 and run.refusal is None
            else "\n".join(
                _job_section(page_path, run, r)
                for r in run.results
                if isinstance(r, ExecutionResult)
            )
        )
        + (_skipped_section(run) if run.skipped else "")
        for run in runs
    )
    body = (
        f"<h1>proxx · night of {night.isoformat()}</h1>\n"
        f'<p class="facts">runs launched from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} '
        f"({html_text(timezone)}) · {html_text(summary)}</p>\n"
        "<table><tr><th>job</th><th>run</th><th>Dagster job</th><th>trigger</th>"
        "<th>launched</th><th>status</th><th>reason</th><th>duration</th><th>clips</th></tr>\n"
        f"{jobs}\n</table>\n{sections}"
    )
    return page(f"proxx night of {night.isoformat()}", body)
