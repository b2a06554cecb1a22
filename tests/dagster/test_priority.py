"""The heaviest work first: each run the watch sensor, the inbox sensor and the nightly schedule
ask for carries a queue priority that grows with its estimated encode work, read from the clips'
headers and the profile's measured cost (the run queue itself: test_run_queue_daemon.py)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from dagster import DagsterInstance, build_sensor_context

from proxx_dagster.builders import build_definitions
from proxx_dagster.names import INBOX_SENSOR, PRIORITY_TAG, SPEC_FILE_TAG
from proxx_dagster.settings import ProxxAutomation
from proxx_dagster.watch import priority
from proxx_dagster.watch.priority import COST_PER_GIGAPIXEL, estimated_work_s, work_priority
from proxx_exec import BUILTIN_PROFILES
from proxx_exec.media import header_pixels
from proxx_exec.tools.samples import SampleClip
from tests.dagster.helpers import spec_fields
from tests.helpers import Media

BENCHMARKS = Path(__file__).parents[2] / "docs" / "benchmarks.md"
# The thread-count benchmark's clip: 1920x1080 at 25 fps for 3 s.
BENCHMARK_GIGAPIXELS = 1920 * 1080 * 25 * 3 / 1e9


def h264(
    media: Media, name: str, width: int, height: int, seconds: float, rate: str = "25"
) -> Path:
    return media.clip(
        name,
        SampleClip(
            width=width,
            height=height,
            rate=rate,
            duration_s=seconds,
            audio_channels=(),
            video_codec="libx264",
            codec_args=("-preset", "ultrafast"),
            pix_fmt="yuv420p",
            container="mpegts" if name.endswith(".mts") else "mov",
        ),
    )


def test_every_built_in_profile_has_the_cost_its_benchmark_measured() -> None:
    """The table is the thread-count benchmark's CPU at each profile's pinned thread count, per
    gigapixel of its clip: a profile added or re-measured without the table fails here."""
    assert set(COST_PER_GIGAPIXEL) == set(BUILTIN_PROFILES)
    rows = re.findall(r"^\| (\w+) \| (\d+) \| [^|]+ \| ([\d.]+) s \(", BENCHMARKS.read_text(), re.M)
    measured = {
        name: float(cpu) / BENCHMARK_GIGAPIXELS
        for name, threads, cpu in rows
        if name in BUILTIN_PROFILES and int(threads) == BUILTIN_PROFILES[name].threads
    }
    assert set(measured) == set(BUILTIN_PROFILES)
    for name, cost in measured.items():
        assert COST_PER_GIGAPIXEL[name] == pytest.approx(cost, rel=0.02), name


def test_the_priority_grows_with_the_work_and_stays_below_a_persons_launch() -> None:
    works = [0.0, 1e-3, 0.05, 1.0, 30.0, 3600.0, 86400.0, 1e7, 1e9]
    priorities = [work_priority(w) for w in works]
    assert priorities == sorted(priorities)
    assert priorities[0] == priorities[1] == -201 and priorities[-2] == priorities[-1] == -1
    assert work_priority(3600.0) > work_priority(3000.0)  # ~20 % more work: a step up
    assert all(p < 0 for p in priorities)  # a run launched by hand (priority 0) goes first


def test_a_clips_picture_is_read_from_its_header(media: Media, tmp_path: Path) -> None:
    mov = h264(media, "hd.mov", 320, 180, 2.0)
    assert header_pixels(mov) == 50 * 320 * 180
    # MPEG-TS keeps no frame count: its duration times its frame rate
    mts = h264(media, "hd.mts", 320, 180, 2.0, rate="30000/1001")
    assert header_pixels(mts) == pytest.approx(60 * 320 * 180, rel=0.05)
    junk = tmp_path / "junk.mov"
    junk.write_bytes(b"\x00\x00\x00\x18ftypqt  " + b"\xff" * 500)
    assert header_pixels(junk) is None
    assert header_pixels(tmp_path / "gone.mov") is None
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    assert header_pixels(empty) is None


def test_the_estimate_follows_length_picture_size_and_profile(media: Media) -> None:
    short = h264(media, "short.mov", 320, 180, 1.0)
    long = h264(media, "long.mov", 320, 180, 4.0)
    big = h264(media, "big.mov", 640, 360, 1.0)
    assert estimated_work_s([long], "h264_half") == pytest.approx(
        4 * estimated_work_s([short], "h264_half")
    )
    assert estimated_work_s([big], "h264_half") == pytest.approx(
        4 * estimated_work_s([short], "h264_half")
    )
    assert estimated_work_s([short, long], "prores_proxy") == pytest.approx(
        5 * estimated_work_s([short], "h264_half") * 22.2 / 8.8
    )
    assert estimated_work_s([str(short), "/nowhere/gone.mov"], "h264_half") == pytest.approx(
        estimated_work_s([short], "h264_half")
    )


def test_a_big_card_is_estimated_from_a_few_headers(
    media: Media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day of many clips costs the sensor SAMPLED_CLIPS header reads; the other clips count by
    their bytes, at the picture per byte of the clips read."""
    short = h264(media, "short.mov", 320, 180, 1.0)
    long = h264(media, "long.mov", 320, 180, 4.0)
    card = tmp_path / "card"
    card.mkdir()
    clips = []
    for number in range(3 * priority.SAMPLED_CLIPS):
        clip = card / f"C{number:03d}.mov"
        os.link(long if number % 3 == 0 else short, clip)
        clips.append(clip)
    exact = sum(header_pixels(clip) or 0 for clip in clips) / 1e9 * COST_PER_GIGAPIXEL["h264_half"]
    read: list[Path] = []

    def counted(path: Path) -> int | None:
        read.append(path)
        return header_pixels(path)

    monkeypatch.setattr(priority, "header_pixels", counted)
    estimate = estimated_work_s(clips, "h264_half")
    assert len(read) == priority.SAMPLED_CLIPS and read[0] == clips[0] and read[-1] == clips[-1]
    assert estimate == pytest.approx(exact, rel=0.25)
    assert work_priority(estimate) - work_priority(exact) in (-2, -1, 0, 1, 2)


def test_a_jobspec_files_run_has_the_priority_of_its_sources(
    instance: DagsterInstance, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    """The inbox sensor's requests (the nightly schedule's are made by the same function)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    long = str(h264(media, "long4.mov", 640, 360, 4.0))
    fields = {"short.json": [str(media.standard)], "long.json": [str(media.standard), long]}
    for name, sources in fields.items():
        (inbox / name).write_text(json.dumps(spec_fields(media, out_dir, name, sources=sources)))
    (inbox / "broken.json").write_text("{ not json")
    automation = ProxxAutomation(inbox_folder=str(inbox))
    sensor = build_definitions(automation=automation).resolve_sensor_def(INBOX_SENSOR)
    context = build_sensor_context(resources={"proxx_automation": automation}, instance=instance)
    tick = sensor.evaluate_tick(context)
    tags = {Path(r.tags[SPEC_FILE_TAG]).name: r.tags for r in tick.run_requests or []}
    assert set(tags) == {"short.json", "long.json", "broken.json"}
    assert PRIORITY_TAG not in tags["broken.json"]  # refused at once, before any encode
    for name, sources in fields.items():
        expected = work_priority(estimated_work_s(sources, "h264_quarter"))
        assert tags[name][PRIORITY_TAG] == str(expected)
    assert int(tags["short.json"][PRIORITY_TAG]) < int(tags["long.json"][PRIORITY_TAG])
