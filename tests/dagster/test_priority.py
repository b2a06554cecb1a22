"""The longest jobs first: each run the watch sensor, the inbox sensor and the nightly schedule
ask for carries a queue priority that grows with its longest job's expected time, read from the
clips' headers and the profile's measured cost (the run queue itself: test_run_queue_daemon.py;
the watch sensor's cards: test_watch.py)."""

from __future__ import annotations

import json
import math
import os
import re
import threading
from pathlib import Path

import pytest
from dagster import DagsterInstance, build_sensor_context

from proxx_dagster.builders import build_definitions
from proxx_dagster.names import INBOX_SENSOR, PRIORITY_TAG, SPEC_FILE_TAG
from proxx_dagster.settings import ProxxAutomation
from proxx_dagster.watch import priority
from proxx_dagster.watch.priority import (
    COST_PER_GIGAPIXEL,
    FIRST,
    clip_pixels,
    longest_job_s,
    work_priority,
)
from proxx_exec import BUILTIN_PROFILES
from proxx_exec.media import header_pixels
from proxx_exec.profiles import Profile
from proxx_exec.tools.samples import SampleClip
from tests.dagster.helpers import spec_fields
from tests.helpers import Media

BENCHMARKS = Path(__file__).parents[2] / "docs" / "benchmarks.md"
# The thread-count benchmark's clip: 1920x1080 at 25 fps for 3 s.
BENCHMARK_GIGAPIXELS = 1920 * 1080 * 25 * 3 / 1e9


def h264(media: Media, name: str, width: int, seconds: float) -> Path:
    """A 16:9 H.264 clip, without audio (a name of its own: Media caches clips by name)."""
    return media.clip(
        f"priority-{name}",
        SampleClip(
            width=width,
            height=width * 9 // 16,
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


def test_the_priority_grows_with_the_time_and_stays_below_a_persons_launch() -> None:
    times = [0.0, 1e-3, 0.05, 1.0, 30.0, 3600.0, 86400.0, 1e7, 1e9]
    priorities = [work_priority(t) for t in times]
    assert priorities == sorted(priorities)
    assert priorities[0] == priorities[1] == -201 and priorities[-2] == priorities[-1] == FIRST
    assert work_priority(3600.0) > work_priority(3000.0)  # 20 % longer: a step up
    assert all(p < 0 for p in priorities)  # a run launched by hand (priority 0) goes first


def test_a_clips_picture_is_read_from_its_header(media: Media, tmp_path: Path) -> None:
    mov = h264(media, "hd.mov", 320, 2.0)
    assert header_pixels(mov) == 50 * 320 * 180
    mts = h264(media, "hd.mts", 320, 2.0)  # MPEG-TS keeps no frame count: duration x rate
    assert header_pixels(mts) == pytest.approx(50 * 320 * 180, rel=0.05)


def test_a_file_that_says_nothing_is_no_estimate_and_never_blocks(
    media: Media, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.mov"
    junk.write_bytes(b"\x00\x00\x00\x18ftypqt  " + b"\xff" * 500)
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    folder = tmp_path / "folder.mov"
    folder.mkdir()
    # a video stream no decoder of this FFmpeg knows: the encoder's tag renamed in the header
    unknown = tmp_path / "unknown-codec.mov"
    unknown.write_bytes(h264(media, "tagged.mov", 320, 1.0).read_bytes().replace(b"avc1", b"zzzz"))
    pipe = tmp_path / "pipe.mov"
    os.mkfifo(pipe)  # opening it for reading would wait for a writer forever
    answers: dict[str, int | None] = {}

    def read_all() -> None:
        for path in (junk, empty, folder, unknown, pipe, tmp_path / "gone.mov"):
            answers[path.name] = header_pixels(path)

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    reader.join(30)
    assert not reader.is_alive(), f"header_pixels blocked after {sorted(answers)}"
    assert answers == dict.fromkeys(answers) and len(answers) == 6
    assert longest_job_s([[str(junk)]], "h264_half") is None


def test_the_estimate_follows_length_picture_size_profile_and_threads(media: Media) -> None:
    short, long, big = (
        str(h264(media, "short.mov", 320, 1.0)),
        str(h264(media, "long.mov", 320, 4.0)),
        str(h264(media, "big.mov", 640, 1.0)),
    )

    def seconds(jobs: list[list[str]], profile: str | Profile = "h264_half") -> float:
        estimate = longest_job_s(jobs, profile)
        assert estimate is not None
        return estimate

    unit = seconds([[short]])
    assert seconds([[long]]) == pytest.approx(4 * unit)
    assert seconds([[big]]) == pytest.approx(4 * unit)
    assert seconds([[short, long]]) == pytest.approx(5 * unit)
    # parts run side by side: a card adds its longest part to the night, not their sum
    assert seconds([[short], [long], [short]]) == pytest.approx(4 * unit)
    assert seconds([[short]], "prores_proxy") == pytest.approx(unit * 22.2 / 8.8)
    # dnxhr_lb costs about what h264_half does, on half the threads: twice as long
    assert seconds([[short]], "dnxhr_lb") == pytest.approx(2 * unit * 8.9 / 8.8)
    # a custom profile costs what the costliest built-in profile of its encoder does
    custom = BUILTIN_PROFILES["h264_quarter"].model_copy(update={"name": "house"})
    assert seconds([[short]], custom) == pytest.approx(unit)
    assert longest_job_s([[short]], "no_such_profile") is None


def test_a_big_card_is_estimated_from_a_few_headers(
    media: Media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day of many clips costs the sensor SAMPLED_CLIPS header reads; the other clips count by
    their bytes, at the picture per byte of the clips read."""
    short = h264(media, "short.mov", 320, 1.0)
    long = h264(media, "long.mov", 320, 4.0)
    clips = []
    for number in range(6 * priority.SAMPLED_CLIPS):
        clip = tmp_path / f"C{number:03d}.mov"
        os.link(long if number % 3 == 0 else short, clip)
        clips.append(str(clip))
    exact = [float(header_pixels(Path(clip)) or 0) for clip in clips]
    read: list[Path] = []

    def counted(path: Path) -> int | None:
        read.append(path)
        return header_pixels(path)

    monkeypatch.setattr(priority, "header_pixels", counted)
    estimate = clip_pixels(clips)
    assert estimate is not None
    assert len(read) == priority.SAMPLED_CLIPS and read[0] == Path(clips[0])
    assert read[-1] == Path(clips[-1])
    assert sum(estimate) == pytest.approx(sum(exact), rel=0.25)
    halves = [clips[: len(clips) // 2], clips[len(clips) // 2 :]]
    half_estimate = longest_job_s(halves, "h264_half")
    assert half_estimate is not None
    half_exact = max(sum(exact[: len(clips) // 2]), sum(exact[len(clips) // 2 :]))
    half_exact *= COST_PER_GIGAPIXEL["h264_half"] / 1e9 / BUILTIN_PROFILES["h264_half"].threads
    assert abs(work_priority(half_estimate) - work_priority(half_exact)) <= 2
    assert abs(20 * math.log10(half_estimate / half_exact)) <= 2


def test_a_jobspec_files_run_has_the_priority_of_its_sources(
    instance: DagsterInstance, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    """The inbox sensor's requests (the nightly schedule's are made by the same function)."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    long = str(h264(media, "long.mov", 640, 4.0))
    fields = {
        "short.json": [str(media.standard)],
        "long.json": [str(media.standard), long],
        "gone.json": [str(tmp_path / "gone.mov")],
    }
    for name, sources in fields.items():
        (inbox / name).write_text(json.dumps(spec_fields(media, out_dir, name, sources=sources)))
    (inbox / "broken.json").write_text("{ not json")
    automation = ProxxAutomation(inbox_folder=str(inbox))
    sensor = build_definitions(automation=automation).resolve_sensor_def(INBOX_SENSOR)
    context = build_sensor_context(resources={"proxx_automation": automation}, instance=instance)
    tick = sensor.evaluate_tick(context)
    tags = {Path(r.tags[SPEC_FILE_TAG]).name: r.tags for r in tick.run_requests or []}
    assert set(tags) == {"short.json", "long.json", "gone.json", "broken.json"}
    # refused at once, before any encode: no estimate, Dagster's 0, ahead of the estimated
    assert PRIORITY_TAG not in tags["broken.json"] and PRIORITY_TAG not in tags["gone.json"]
    assert -201 < int(tags["short.json"][PRIORITY_TAG]) < int(tags["long.json"][PRIORITY_TAG])
