"""A big card is cut into parts: one folder-job run whose steps are the card's JobSpecs, each
atomic, all writing into the card's one proxy folder; one contact sheet, one place to retry."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from benchmarks.dagster_processes import BIN, REPO, dagster_env
from proxx_dagster.builders import EXECUTE_DEFS_JOB, LAUNCHER
from proxx_dagster.jobs.folder_job import build_proxx_folder_job
from proxx_dagster.names import CARD_TAG, FINISH_OP, FOLDER_JOB, FOLDER_OP, PART_OP, PARTS_TAG
from proxx_dagster.reports.night_html import night_report_html
from proxx_dagster.reports.night_runs import night_of, night_runs
from proxx_dagster.settings import ProxxAutomation
from proxx_dagster.watch import folder_spec
from proxx_dagster.watch.folder_spec import build_folder_job, cut_card, part_number, part_sizes
from proxx_exec import ExecutionResult, JobSpec, Status, engines
from proxx_exec.naming import contact_sheet_path, result_path
from tests.dagster.helpers import events, stored_results
from tests.helpers import Media, write_engine_wrapper

CLIPS = ["A001.mov", "A002.mov", "A003_BAD.mov", "A004.mov", "A005.mov"]
CARD_JOB = build_proxx_folder_job(automation=ProxxAutomation(clips_per_job=2))


def card(root: Path, media: Media, clips: list[str]) -> Path:
    folder = root / "A001"
    folder.mkdir(parents=True, exist_ok=True)
    for clip in clips:
        shutil.copyfile(media.standard, folder / clip)
    return folder


def launch(instance: DagsterInstance, folder: Path, **change: Any) -> Any:
    config = {"folder": str(folder), "profile": "h264_quarter", "proxy_root": "", **change}
    return CARD_JOB.execute_in_process(
        run_config={"ops": {FOLDER_OP: {"config": config}}},
        instance=instance,
        raise_on_error=False,
    )


def spec(sources: int) -> JobSpec:
    return JobSpec.model_validate(
        {
            "spec_version": "1",
            "job_id": "A001-0123456789ab",
            "sources": [f"/media/A001/C{i:03d}.mov" for i in range(sources)],
            "output_dir": "/media/proxies/A001",
            "profile": "h264_half",
        }
    )


@pytest.mark.parametrize(
    ("clips", "per_job", "sizes"),
    [(1, 8, [1]), (8, 8, [8]), (9, 8, [5, 4]), (150, 8, [8] * 17 + [7] * 2), (5, 2, [2, 2, 1])],
)
def test_a_card_is_cut_into_the_fewest_parts_of_nearly_equal_size(
    clips: int, per_job: int, sizes: list[int]
) -> None:
    assert part_sizes(clips, per_job) == sizes
    assert max(sizes) - min(sizes) <= 1 and max(sizes) <= per_job
    card_spec = spec(clips)
    parts = cut_card(card_spec, per_job)
    assert [len(p.sources) for p in parts] == sizes
    # the card's clips in their order, each in one part, everything else the card's
    assert [s for p in parts for s in p.sources] == list(card_spec.sources)
    assert {p.output_dir for p in parts} == {card_spec.output_dir}
    if len(parts) == 1:
        assert parts == (card_spec,)  # a small card is exactly the one job it was
    else:
        count = len(parts)
        assert [p.job_id for p in parts] == [
            f"A001-0123456789ab-p{n}of{count}" for n in range(1, count + 1)
        ]


def test_the_cut_depends_on_the_card_only_never_on_the_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    here = cut_card(spec(150), 8)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(64)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (60.0, 60.0, 60.0))
    assert cut_card(spec(150), 8) == here


def test_clips_that_would_share_a_proxy_name_are_refused_before_a_card_is_cut(
    media: Media, tmp_path: Path
) -> None:
    folder = card(tmp_path, media, ["A001.mov", "A002.mov"])
    (folder / "B").mkdir()
    shutil.copyfile(media.standard, folder / "B" / "A001.mov")
    assert len(build_folder_job(folder, clips_per_job=8).parts) == 1  # the job refuses itself
    with pytest.raises(folder_spec.FolderProblem, match="would give proxies of one name"):
        build_folder_job(folder, clips_per_job=2)


def _step_keys(instance: DagsterInstance, run_id: str) -> list[str]:
    return sorted(str(e.step_key) for e in events(instance, run_id, DagsterEventType.STEP_START))


def test_a_big_card_is_one_run_of_parts_into_one_folder_with_one_contact_sheet(
    instance: DagsterInstance, media: Media, tmp_path: Path
) -> None:
    folder = card(tmp_path, media, CLIPS)
    outcome = launch(instance, folder)
    assert outcome.success
    steps = _step_keys(instance, outcome.run_id)
    assert steps == sorted([FOLDER_OP, FINISH_OP, *(f"{PART_OP}[p{n}of3]" for n in (1, 2, 3))])
    results = sorted(
        stored_results(instance, outcome.run_id).values(), key=lambda r: r.job_id or ""
    )
    assert [len(r.clips) for r in results] == [2, 2, 1]
    assert all(r.status is Status.COMPLETED for r in results)
    proxies = folder / "Proxy"
    made = [Path(c.output or "") for r in results for c in r.clips]
    assert made == [proxies / name for name in CLIPS]
    assert all(
        Path(c.output or "").stat().st_size == c.output_bytes for r in results for c in r.clips
    )
    run = instance.get_run_by_id(outcome.run_id)
    assert run is not None
    card_id = run.tags[CARD_TAG]
    assert run.tags[PARTS_TAG] == "3"
    assert [r.job_id for r in results] == [f"{card_id}-p{n}of3" for n in (1, 2, 3)]
    for result in results:  # each part atomic, with its own result beside the proxies
        assert Path(result_path(str(proxies), result.job_id or "")).is_file()
    # one contact sheet for the card, none per part
    sheets = sorted(p.name for p in proxies.glob("*.proxx-contact-sheet.html"))
    assert sheets == [Path(contact_sheet_path(str(proxies), card_id)).name]
    sheet = Path(contact_sheet_path(str(proxies), card_id)).read_text()
    assert sheet.count("<figure>") == len(CLIPS)  # a poster per proxy, none missing
    # the night report shows the card as one section listing its parts
    night = night_of(datetime.now(UTC), "UTC")
    [card_run] = night_runs(instance, night, "UTC", [CARD_JOB.name])
    assert card_run.card == card_id and card_run.parts == 3 and len(card_run.results) == 3
    page = night_report_html(night, "UTC", [card_run], str(tmp_path / "n.html"))
    assert page.count(f"<h2>card {card_id}") == 1
    assert page.count("<h3>") == 3
    assert "never started" not in page
    # a run that ended before its last parts began says so in the card's section
    cut_short = replace(card_run, results=card_run.results[:1], status="CANCELED")
    page = night_report_html(night, "UTC", [cut_short], str(tmp_path / "n.html"))
    assert page.count(f"<h2>card {card_id}") == 1 and page.count("<h3>") == 1
    assert "2 job(s) of this card never started" in page
    # a run that refused the card before cutting it (the folder changed) is one row saying why:
    # no card section, no job counted as never started
    refused = replace(card_run, results=(), status="FAILURE", refusal="the folder changed")
    page = night_report_html(night, "UTC", [refused], str(tmp_path / "n.html"))
    assert "<h2>card" not in page and "never started" not in page
    assert "the folder changed" in page


def test_a_failed_part_fails_the_run_by_name_and_relaunching_makes_only_its_clips(
    instance: DagsterInstance, media: Media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = card(tmp_path, media, CLIPS)
    failing = write_engine_wrapper(
        tmp_path, 'case "$*" in *BAD*-c:v*) exit 3;; esac\nexec "$REAL" "$@"'
    )
    with monkeypatch.context() as patch:
        patch.setattr(engines, "default_engine_binary", lambda: failing)
        outcome = launch(instance, folder)
    assert not outcome.success
    run = instance.get_run_by_id(outcome.run_id)
    assert run is not None and run.status is DagsterRunStatus.FAILURE
    card_id = run.tags[CARD_TAG]
    [failure] = events(instance, outcome.run_id, DagsterEventType.STEP_FAILURE)
    assert failure.step_key == FINISH_OP
    message = failure.get_dagster_event().step_failure_data.error.message  # type: ignore[union-attr]
    assert f"1 of 3 job(s) FAILED: p2of3 ({card_id}-p2of3)" in message
    assert f"retried_from: {card_id}" in message
    proxies = folder / "Proxy"
    # the other parts' proxies are committed; the failed part committed none
    assert sorted(p.name for p in proxies.glob("*.mov")) == ["A001.mov", "A002.mov", "A005.mov"]
    # the failed clips are not taken again by themselves
    again = launch(instance, folder)
    assert not again.success
    # one place to retry: the card
    retried = launch(instance, folder, retried_from=card_id)
    assert retried.success
    [result] = stored_results(instance, retried.run_id).values()
    assert isinstance(result, ExecutionResult) and result.status is Status.COMPLETED
    assert [Path(c.source).name for c in result.clips] == ["A003_BAD.mov", "A004.mov"]
    assert result.spec is not None and result.spec.retried_from == card_id
    assert sorted(p.name for p in proxies.glob("*.mov")) == sorted(CLIPS)


def test_a_card_whose_parts_were_all_refused_is_launched_again_plainly(
    instance: DagsterInstance, media: Media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused at validation, no job spent its id: the message says to launch the card again
    (retried_from would find no job of that id), and no card sheet is kept for it, so the
    successful launch that follows writes the card's sheet (before: a stale all-FAILED sheet
    stayed, and the second run's sheet was refused as existing)."""
    folder = card(tmp_path, media, CLIPS[:3])
    broken = write_engine_wrapper(tmp_path, 'case "$*" in *-version*) exit 1;; esac')
    with monkeypatch.context() as patch:
        patch.setattr(engines, "default_engine_binary", lambda: broken)
        refused = launch(instance, folder)
    assert not refused.success
    [failure] = events(instance, refused.run_id, DagsterEventType.STEP_FAILURE)
    message = failure.get_dagster_event().step_failure_data.error.message  # type: ignore[union-attr]
    assert "2 of 2 job(s) FAILED" in message and "ENGINE_NOT_FFMPEG" in message
    assert "launch the card again (its clips without a proxy are taken again)" in message
    assert "retried_from" not in message and "other jobs' proxies" not in message
    proxies = folder / "Proxy"
    assert not list(proxies.glob("*.proxx-contact-sheet.html"))
    again = launch(instance, folder)
    assert again.success
    [sheet] = proxies.glob("*.proxx-contact-sheet.html")
    assert sheet.read_text().count("<figure>") == 3


def test_parts_are_taken_in_clip_order_past_nine() -> None:
    ids = [f"A001-0123456789ab-p{n}of19" for n in range(19, 0, -1)]
    assert [part_number(i) for i in sorted(ids, key=part_number)] == list(range(1, 20))
    assert part_number("A001-0123456789ab") == 1  # the one job of a small card


def test_the_parts_of_a_card_run_side_by_side_in_processes_of_their_own(
    dagster_home: Path, media: Media, tmp_path: Path
) -> None:
    """Through `dg launch`, as a deployment runs it: the code location reads
    PROXX_CLIPS_PER_JOB, and the folder job's multiprocess executor starts each part in its own
    process, both at once."""
    folder = card(tmp_path, media, CLIPS[:2] + CLIPS[3:])  # 4 clips: 2 parts of 2
    config = {"folder": str(folder), "profile": "h264_quarter", "proxy_root": ""}
    config_file = tmp_path / "card.yaml"
    config_file.write_text(json.dumps({"ops": {FOLDER_OP: {"config": config}}}))
    launched = subprocess.Popen(
        [str(BIN / LAUNCHER), *EXECUTE_DEFS_JOB, FOLDER_JOB, "-c", str(config_file)],
        cwd=REPO,
        env=dagster_env(dagster_home, PROXX_CLIPS_PER_JOB="2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = launched.communicate(timeout=600)
    finally:
        if launched.poll() is None:
            os.killpg(launched.pid, signal.SIGKILL)
            launched.wait()
    assert launched.returncode == 0, output[-3000:]
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        [run] = instance.get_runs()
        assert run.status is DagsterRunStatus.SUCCESS and run.tags[PARTS_TAG] == "2"
        starts = {
            str(e.step_key): e for e in events(instance, run.run_id, DagsterEventType.STEP_START)
        }
        ends = {
            str(e.step_key): e for e in events(instance, run.run_id, DagsterEventType.STEP_SUCCESS)
        }
        parts = [f"{PART_OP}[p1of2]", f"{PART_OP}[p2of2]"]
        pids = {starts[key].get_dagster_event().pid for key in parts}
        assert (
            len(pids) == 2 and starts[FOLDER_OP].get_dagster_event().pid not in pids
        )  # a process per part
        # side by side: each part started before the other ended
        assert starts[parts[1]].timestamp < ends[parts[0]].timestamp
        assert starts[parts[0]].timestamp < ends[parts[1]].timestamp
        assert len(stored_results(instance, run.run_id)) == 2
    assert sorted(p.name for p in (folder / "Proxy").glob("*.mov")) == sorted(CLIPS[:2] + CLIPS[3:])
