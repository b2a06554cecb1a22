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


def test_xml_special_characters_in_names_and_reels_are_read_back_as_written(
    media: Media, out_dir: Path, make_spec: SpecFactory
) -> None:
    source = media.clip("A&<b]]>.mov", SampleClip(duration_s=1, reel_name="R&<]]>'\"Z"))
    handed = hand_off(execute(make_spec([source], job_id="special")))
    assert handed is not None and handed.problems == [], handed
    [clip] = read_ale(out_dir / "special.proxx.ale").values()
    assert (clip.name, clip.metadata["ALE"]["Tape"]) == ("A&<b]]>", "R&<]]>'\"Z")
    root = ET.parse(out_dir / "special.proxx.fcpxml").getroot()
    [asset_clip] = root.findall("./event/asset-clip")
    assert asset_clip.get("name") == "A&<b]]>"
    assert asset_clip.find(f"./metadata/md[@key='{REEL_KEY}']").get("value") == "R&<]]>'\"Z"  # type: ignore[union-attr]


def test_a_reel_with_control_characters_is_said_and_no_garbled_file_is_written(
    media: Media, out_dir: Path, make_spec: SpecFactory
) -> None:
    """A tab or line break would split an ALE's columns and rows; XML 1.0 forbids \\x01."""
    source = media.clip("A001C009.mov", SampleClip(duration_s=1, reel_name="A0\x01\t1\nX"))
    handed = hand_off(execute(make_spec([source], job_id="garbled")))
    assert handed is not None
    [problem] = handed.problems
    assert "clip 1: its reel name 'A0\\x01\\t1\\nX' holds a control character" in problem
    assert not (out_dir / "garbled.proxx.ale").exists()
    assert not (out_dir / "garbled.proxx.fcpxml").exists()
    assert handed.seal.problem is None and handed.seal.generation  # the proxies still sealed


def test_a_timecode_that_does_not_fit_the_rate_is_said_and_the_proxies_are_still_sealed(
    media: Media, out_dir: Path, make_spec: SpecFactory
) -> None:
    """A card whose timecode track runs at another rate than its video (frames beyond the
    video's rate, or drop-frame at 25 fps): OpenTimelineIO refuses it with a ValueError, which
    must become a hand-off problem, never a traceback that skips the seal."""
    for job_id, timecode in (("offrate", "01:00:00:30"), ("dfat25", "01:00:00;00")):
        result = execute(make_spec([media.clip(f"{job_id}.mov")], job_id=job_id))
        clip = result.clips[0]
        assert clip.expected is not None
        expected = clip.expected.model_copy(update={"timecode": timecode})
        odd = result.model_copy(update={"clips": (clip.model_copy(update={"expected": expected}),)})
        handed = hand_off(odd)
        assert handed is not None
        [problem] = handed.problems
        assert f"clip 1: its timecode {timecode} does not fit 25 fps" in problem, problem
        assert handed.seal.problem is None and handed.seal.generation


def test_posters_that_raise_are_said_and_the_proxies_are_still_sealed(
    media: Media, out_dir: Path, make_spec: SpecFactory
) -> None:
    """`proxx run --posters` hands its poster maker to hand_off unguarded: a disk that fills
    while the contact sheet is written must not turn a COMPLETED run into a traceback."""
    result = execute(make_spec([media.clip("A001C012.mov")], job_id="fullposters"))

    def posters(_: object) -> None:
        raise OSError(28, "No space left on device")

    handed = hand_off(result, posters)
    assert handed is not None
    assert handed.problems == ["posters failed: OSError: [Errno 28] No space left on device"]
    assert handed.seal.problem is None and handed.seal.generation


def test_ntsc_rates_read_back_at_their_timecode_or_are_said(
    media: Media, out_dir: Path, make_spec: SpecFactory
) -> None:
    """23.976 and 59.94 drop-frame read back as the source's timecode; a 59.94 non-drop-frame
    clip gets no ALE (the adapter would write 01:00:00:00 as 01:00:03;36), its FCPXML stands."""
    cases = (
        ("r23976", "24000/1001", "01:00:00:00", None),
        ("r5994df", "60000/1001", "01:00:00;00", None),
        ("r5994ndf", "60000/1001", "01:00:00:00", "a 59.94 clip has non-drop-frame timecode"),
    )
    for job_id, rate, start, problem in cases:
        source = media.clip(f"{job_id}.mov", SampleClip(duration_s=1, rate=rate, timecode=start))
        folder = out_dir / job_id
        handed = hand_off(execute(make_spec([source], job_id=job_id, output_dir=str(folder))))
        assert handed is not None
        assert (folder / f"{job_id}.proxx.fcpxml").is_file()
        if problem is not None:
            [said] = handed.problems
            assert problem in said
            assert not (folder / f"{job_id}.proxx.ale").exists()
            continue
        assert handed.problems == [], handed
        [clip] = read_ale(folder / f"{job_id}.proxx.ale").values()
        assert timecode(clip.source_range.start_time, ";" in start) == start
