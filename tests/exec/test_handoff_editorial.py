"""The ALE and FCPXML beside a COMPLETED job's proxies, read back: the ALE through
OpenTimelineIO's ALE adapter (the library that wrote it), the FCPXML through the standard
library's ElementTree (which wrote it) with OpenTimelineIO's timecode arithmetic. Sources made
with the pinned FFmpeg: a drop-frame 29.97 clip with its reel (the corpus), and 25 fps clips
starting at a non-zero timecode with a stereo and a mono track."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from proxx_exec import execute
from proxx_exec.handoff.editorial import REEL_KEY, write_editorial
from proxx_exec.handoff.job import hand_off
from proxx_exec.tools.samples import SampleClip
from tests.conftest import SpecFactory
from tests.corpus import Corpus
from tests.helpers import Media


def read_ale(path: Path) -> dict[str, otio.schema.Clip]:
    collection = otio.adapters.read_from_file(str(path), adapter_name="ale")
    return {clip.name: clip for clip in collection.find_clips()}


def timecode(time: otio.opentime.RationalTime, drop_frame: bool) -> str:
    return str(otio.opentime.to_timecode(time, time.rate, drop_frame=drop_frame))


def test_ale_and_fcpxml_of_25_fps_clips_at_a_non_zero_timecode(
    media: Media, out_dir: Path, make_spec: SpecFactory
) -> None:
    sources = [
        media.clip(
            "D004C007.mov",
            SampleClip(
                duration_s=1, timecode="10:11:12:13", reel_name="D004", audio_channels=(2, 1)
            ),
        ),
        media.clip(
            "D004C008.mov", SampleClip(duration_s=1, timecode="10:20:00:00", reel_name="D004")
        ),
    ]
    result = execute(make_spec(sources, job_id="day4"))
    handed = hand_off(result)
    assert handed is not None and handed.problems == [], handed
    assert handed.editorial.ale == str(out_dir / "day4.proxx.ale")
    assert str(out_dir / "day4.proxx.ale") in handed.seal.files  # sealed with the proxies

    clips = read_ale(out_dir / "day4.proxx.ale")
    assert sorted(clips) == ["D004C007", "D004C008"]
    first = clips["D004C007"]
    assert first.source_range.start_time.rate == 25
    assert timecode(first.source_range.start_time, False) == "10:11:12:13"
    assert first.source_range.duration.value == 25
    assert timecode(first.source_range.end_time_exclusive(), False) == "10:11:13:13"
    assert first.metadata["ALE"]["Tape"] == "D004"
    assert first.metadata["ALE"]["Tracks"] == "VA1A2A3"  # stereo + mono: three channels
    assert first.metadata["ALE"]["FPS"] == "25"
    assert first.media_reference.target_url == "D004C007.mov"
    assert clips["D004C008"].metadata["ALE"]["Tracks"] == "VA1A2"

    root = ET.parse(out_dir / "day4.proxx.fcpxml").getroot()
    assert root.tag == "fcpxml"
    [clip, _] = root.findall("./event/asset-clip")
    asset = root.find(f"./resources/asset[@id='{clip.get('ref')}']")
    form = root.find(f"./resources/format[@id='{clip.get('format')}']")
    assert asset is not None and form is not None
    frame = Fraction(form.get("frameDuration", "").removesuffix("s"))
    start = Fraction(str(clip.get("start")).removesuffix("s")) / frame
    assert start.denominator == 1  # on the frame grid
    assert clip.get("tcFormat") == "NDF"
    assert timecode(otio.opentime.RationalTime(int(start), 1 / frame), False) == "10:11:12:13"
    assert clip.find(f"./metadata/md[@key='{REEL_KEY}']").get("value") == "D004"  # type: ignore[union-attr]
    assert (asset.get("audioSources"), asset.get("audioChannels")) == ("2", "3")
    assert asset.get("src") == (out_dir / "D004C007.mov").as_uri()


def test_drop_frame_2997_timecode_survives_both_files(
    corpus: Corpus, out_dir: Path, make_spec: SpecFactory
) -> None:
    source = corpus["prores_2997_drop_frame.mov"]
    result = execute(make_spec([source], job_id="ntsc"))
    assert result.completed, result.failure
    editorial = write_editorial(result)
    assert editorial.problems == (), editorial

    [clip] = read_ale(out_dir / "ntsc.proxx.ale").values()
    assert abs(clip.source_range.start_time.rate - 30000 / 1001) < 1e-9
    assert timecode(clip.source_range.start_time, True) == "01:00:00;00"
    assert clip.metadata["ALE"]["Tape"] == "B042"
    assert clip.metadata["ALE"]["FPS"] == "29.97"

    root = ET.parse(out_dir / "ntsc.proxx.fcpxml").getroot()
    [asset_clip] = root.findall("./event/asset-clip")
    form = root.find(f"./resources/format[@id='{asset_clip.get('format')}']")
    assert form is not None and form.get("frameDuration") == "1001/30000s"
    assert asset_clip.get("tcFormat") == "DF"
    frames = Fraction(str(asset_clip.get("start")).removesuffix("s")) / Fraction(1001, 30000)
    assert frames.denominator == 1
    assert timecode(otio.opentime.RationalTime(int(frames), 30000 / 1001), True) == "01:00:00;00"
    reel = asset_clip.find(f"./metadata/md[@key='{REEL_KEY}']")
    assert reel is not None and reel.get("value") == "B042"
