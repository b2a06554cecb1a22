"""Files of a card that proxx cannot read (camera RAW above all) are counted and named, with what
to use instead, in the card's run, its night report, the night's summary and the alert: never a
silent skip."""

from __future__ import annotations

import html
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dagster import (
    DagsterEventType,
    DagsterInstance,
    build_run_status_sensor_context,
    build_sensor_context,
)

from proxx_dagster.definitions import defs
from proxx_dagster.names import FOLDER_JOB, FOLDER_OP, FOLDER_TAG, PART_OP, RUN_KEY_TAG, TRIGGER_TAG
from proxx_dagster.reports.night_report import build_night_report_sensor
from proxx_dagster.reports.night_runs import night_of, night_runs
from proxx_dagster.reports.summary import build_failure_alert_sensor, build_night_summary_sensor
from proxx_dagster.settings import ProxxAutomation
from proxx_dagster.watch.camera_raw import CAMERA_RAW
from proxx_dagster.watch.cards import scan_folder
from tests.dagster.endpoints import Mailbox, SlackEndpoint, slack, smtp
from tests.dagster.helpers import events, output_metadata, step_failure
from tests.dagster.test_night_summary import _night_end, _settings
from tests.dagster.test_watch import SETTLE_S, Clock, Watch, clock
from tests.helpers import Media

__all__ = ["clock", "slack", "smtp"]  # the fixtures

folder_job = defs.resolve_job_def(FOLDER_JOB)
JOBS = (FOLDER_JOB,)
BRAW_REASON = (
    "camera RAW (Blackmagic RAW), which the pinned FFmpeg cannot decode: transcode it to ProRes "
    "with DaVinci Resolve or Blackmagic RAW Player first, then give proxx the ProRes files"
)


def _card(folder: Path, media: Media | None = None) -> Path:
    """A card of camera RAW files of three kinds, a sidecar, and a clip when `media` is given."""
    (folder / "CLIPS").mkdir(parents=True)
    (folder / "CLIPS" / "A002_C003.braw").write_bytes(b"BRAW" * 64)
    (folder / "CLIPS" / "A002_C004.braw").write_bytes(b"BRAW" * 64)
    (folder / "CLIPS" / "B001_C001.R3D").write_bytes(b"RED2" * 64)
    (folder / "DNG").mkdir()
    (folder / "DNG" / "frame_0001.dng").write_bytes(b"II*\0" * 64)
    (folder / "notes.txt").write_text("slate notes")
    if media is not None:
        shutil.copyfile(media.standard, folder / "CLIPS" / "A001_C001.mov")
    return folder


def _launch(instance: DagsterInstance, folder: Path) -> Any:
    config = {"folder": str(folder), "profile": "h264_quarter", "proxy_root": ""}
    return folder_job.execute_in_process(
        run_config={"ops": {FOLDER_OP: {"config": config}}},
        instance=instance,
        raise_on_error=False,
    )


def test_camera_raw_files_are_named_with_what_to_use_instead(tmp_path: Path) -> None:
    contents = scan_folder(_card(tmp_path / "A002"))
    assert contents.media == ()
    assert [(s.path, s.camera_raw) for s in contents.skipped] == [
        ("CLIPS/A002_C003.braw", "Blackmagic RAW"),
        ("CLIPS/A002_C004.braw", "Blackmagic RAW"),
        ("CLIPS/B001_C001.R3D", "RED R3D"),
        ("DNG/frame_0001.dng", "CinemaDNG frames"),
        ("notes.txt", None),
    ]
    assert contents.skipped[0].reason == BRAW_REASON
    assert "REDCINE-X PRO" in contents.skipped[2].reason
    assert contents.skipped[4].reason == "not a video file"
    for extension in (".ari", ".arx", ".crm", ".nev"):
        assert CAMERA_RAW[extension].tools  # each says what to use instead


def test_the_cards_run_its_night_report_and_the_summary_name_them(
    instance: DagsterInstance, media: Media, tmp_path: Path, slack: SlackEndpoint, smtp: Mailbox
) -> None:
    card = _card(tmp_path / "A001", media)
    outcome = _launch(instance, card)
    assert outcome.success
    metadata = output_metadata(instance, outcome.run_id, PART_OP)
    assert metadata["proxx/camera_raw_files"].value == 4
    said = [e.message for e in events(instance, outcome.run_id, DagsterEventType.ENGINE_EVENT)]
    assert f"{card}: 5 file(s) not read, 4 of them camera RAW" in said
    [run] = night_runs(instance, night_of(datetime.now(UTC), "UTC"), "UTC", JOBS)
    assert run.folder == str(card) and len(run.skipped) == 5
    reports = tmp_path / "reports"
    build_night_report_sensor(JOBS, ProxxAutomation(report_folder=str(reports)))(
        build_sensor_context(instance=instance)
    )
    [page_path] = reports.glob("proxx-night-*.html")
    page = html.unescape(page_path.read_text())
    assert "5 file(s) of cards not read (4 camera RAW)" in page
    assert f"{card} · 5 file(s) not read, 4 of them camera RAW" in page
    assert f"<td>CLIPS/A002_C003.braw</td><td>{BRAW_REASON}</td>" in page
    summary = build_night_summary_sensor(JOBS, _settings(reports, slack, smtp), clock=_night_end)
    summary(build_sensor_context(instance=instance))
    [(_, body)] = slack.posts
    text = body["text"]
    assert "5 file(s) of cards not read (4 camera RAW)" in text
    assert f"2 camera RAW file(s), e.g. `CLIPS/A002_C003.braw`: `{BRAW_REASON}`" in text
    assert "1 camera RAW file(s), e.g. `CLIPS/B001_C001.R3D`" in text
    assert "1 other file(s), e.g. `notes.txt`: `not a video file`" in text
    [(_, mail)] = smtp.received
    assert f"e.g. CLIPS/A002_C003.braw: {BRAW_REASON}" in mail.get_content()


def test_a_card_of_camera_raw_only_is_refused_saying_so_and_alerts(
    instance: DagsterInstance, tmp_path: Path, slack: SlackEndpoint, smtp: Mailbox
) -> None:
    card = _card(tmp_path / "A002")
    outcome = _launch(instance, card)
    assert not outcome.success
    assert (
        f"No job was started: no clip proxx can read in {card}: 4 camera RAW file(s), which must "
        "be transcoded first (proxx/skipped says which, and with what)"
    ) in step_failure(instance, outcome.run_id)
    run = instance.get_run_by_id(outcome.run_id)
    assert run is not None
    [failure] = events(instance, run.run_id, DagsterEventType.RUN_FAILURE)
    sensor = build_failure_alert_sensor(JOBS, _settings(tmp_path / "r", slack, smtp))
    sensor(
        build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=failure.get_dagster_event(),
        ).for_run_failure()
    )
    [(_, body)] = slack.posts
    assert "no job started: `No job was started: no clip proxx can read in" in body["text"]
    assert f"2 camera RAW file(s), e.g. `CLIPS/A002_C003.braw`: `{BRAW_REASON}`" in body["text"]


@pytest.mark.parametrize("name", ["clip.BRAW", "clip.braw"])
def test_the_extension_is_read_in_any_letter_case(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"x")
    [skipped] = scan_folder(tmp_path).skipped
    assert skipped.camera_raw == "Blackmagic RAW"


def test_a_watched_card_of_camera_raw_only_becomes_a_run_that_says_so(
    instance: DagsterInstance, tmp_path: Path, clock: Clock
) -> None:
    """The watch sensor launches it once (a run refused with the files named), not a log line
    nobody reads; a card with nothing of interest stays quiet."""
    root = tmp_path / "incoming"
    card = _card(root / "A002")
    quiet = root / "A003"
    quiet.mkdir()
    (quiet / "notes.txt").write_text("nothing to see")
    sensor = Watch(instance, clock, watch_roots=[str(root)])
    assert sensor.look() == []
    [request] = sensor.look(SETTLE_S)
    assert request.tags[FOLDER_TAG] == str(card) and request.tags[TRIGGER_TAG] == "watch"
    outcome = folder_job.execute_in_process(
        run_config=request.run_config,
        instance=instance,
        tags={**request.tags, RUN_KEY_TAG: str(request.run_key)},
        raise_on_error=False,
    )
    assert not outcome.success
    assert f"no clip proxx can read in {card}: 4 camera RAW file(s)" in step_failure(
        instance, outcome.run_id
    )
    assert sensor.look(SETTLE_S) == []  # once per state of the folder
