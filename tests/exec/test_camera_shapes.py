"""Real camera, phone and broadcast shapes through every built-in profile, each proxy checked the
way an NLE relinks it: frame count, timestamps, displayed shape, timecode, colour and audio
layout compared with the source itself (not with the plan)."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from proxx_exec import BUILTIN_PROFILES, FailureClass, JobSpec, Reason, Status, execute
from proxx_exec.media import MediaInfo, VideoStream, probe
from proxx_exec.shape import display_rotation
from tests.corpus import REFUSED, SHAPES, Corpus
from tests.helpers import listing

PROXX = Path(sys.executable).parent / "proxx"


def spec_for(
    sources: list[Path], output_dir: Path, profile: str, job_id: str = "shapes"
) -> JobSpec:
    output_dir.mkdir(exist_ok=True)
    return JobSpec.model_validate(
        {
            "spec_version": "1",
            "job_id": job_id,
            "sources": [str(s) for s in sources],
            "output_dir": str(output_dir),
            "profile": profile,
            "clip_timeout_s": 300,
        }
    )


def displayed_aspect(video: VideoStream) -> Fraction:
    """Width over height as a viewer shows the picture: pixel aspect and rotation applied."""
    sar = Fraction(video.sample_aspect_ratio)
    aspect = Fraction(video.width, video.height) * (sar if sar > 0 else 1)
    if video.display_matrix is not None and round(display_rotation(video.display_matrix)) % 180:
        aspect = 1 / aspect
    return aspect


def span(info: MediaInfo) -> Fraction:
    video = info.video
    assert video is not None and video.first_pts is not None and video.last_pts is not None
    return video.seconds(video.last_pts) - video.seconds(video.first_pts)


def audio_offsets(info: MediaInfo) -> list[Fraction]:
    """Each audio track's start relative to the first video frame."""
    video = info.video
    assert video is not None and video.first_pts is not None
    first = video.seconds(video.first_pts)
    return [(t.first_pts or 0) * Fraction(t.time_base) - first for t in info.audio]


def assert_relinks(source: MediaInfo, proxy: MediaInfo) -> None:
    sv, pv = source.video, proxy.video
    assert sv is not None and pv is not None
    assert pv.frame_count == sv.frame_count
    assert span(proxy) == span(source)
    assert pv.display_matrix is None
    assert displayed_aspect(pv) == displayed_aspect(sv)
    assert pv.field_order == "progressive" or (
        pv.field_order == "unknown" and not pv.interlaced_frames
    )
    assert proxy.timecode == source.timecode
    assert proxy.reel_name == source.reel_name
    assert [(t.channels, t.sample_rate) for t in proxy.audio] == [
        (t.channels, t.sample_rate) for t in source.audio
    ]
    for track, stated in zip(proxy.audio, source.audio, strict=True):
        # a stated layout is kept; an unstated one ("N channels") may get QuickTime's name
        assert track.layout == stated.layout or stated.layout.endswith(" channels"), track
    for got, want, track in zip(
        audio_offsets(proxy), audio_offsets(source), source.audio, strict=True
    ):
        assert abs(got - want) < Fraction(1, track.sample_rate)
    tags = (pv.color_primaries, pv.color_trc, pv.color_space)
    assert "unknown" not in tags and pv.color_range == "tv"
    for tag, given in zip(tags, (sv.color_primaries, sv.color_trc, sv.color_space), strict=True):
        assert given in {"unknown", "gbr", tag}
    if sv.frame_durations and sv.frame_durations[-1] - sv.frame_durations[0] <= 1:
        assert pv.frame_rate == sv.frame_rate


@pytest.mark.parametrize("profile", sorted(BUILTIN_PROFILES))
def test_every_shape_relinks_through_every_profile(
    profile: str, corpus: Corpus, tmp_path: Path
) -> None:
    sources = [corpus[name] for name in SHAPES]
    result = execute(spec_for(sources, tmp_path / "proxies", profile))
    assert result.status is Status.COMPLETED, result.failure
    for clip in result.clips:
        assert clip.output is not None
        assert_relinks(probe(Path(clip.source)), probe(Path(clip.output)))


def test_a_rotated_phone_clip_is_turned_upright_not_squeezed(
    corpus: Corpus, tmp_path: Path
) -> None:
    source = corpus["phone_h264_rotated_vfr.mov"]
    result = execute(spec_for([source], tmp_path / "proxies", "h264_half"))
    assert result.status is Status.COMPLETED, result.failure
    proxy = probe(Path(result.clips[0].output or ""))
    assert proxy.video is not None
    assert (proxy.video.width, proxy.video.height, proxy.video.sample_aspect_ratio) == (
        360,
        640,
        "1/1",
    )
    decisions = {d.property: d for d in result.clips[0].decisions}
    assert decisions["rotation"].found == "display matrix 90° clockwise"
    assert decisions["rotation"].decided.startswith("turned upright (transpose=clock)")
    assert decisions["frame rate"].found.startswith("variable")
    checks = {c.name for c in result.clips[0].checks}
    assert "timestamps" in checks and "frame_rate" not in checks  # VFR: no average compared


def test_interlaced_broadcast_clip_is_deinterlaced_frame_for_frame(
    corpus: Corpus, tmp_path: Path
) -> None:
    source = corpus["xdcam_1080i50_four_mono.mxf"]
    result = execute(spec_for([source], tmp_path / "proxies", "prores_proxy"))
    assert result.status is Status.COMPLETED, result.failure
    (clip,) = result.clips
    fields = next(d for d in clip.decisions if d.property == "fields")
    assert fields.found == "interlaced, top field first"
    assert "bwdif=mode=send_frame:parity=tff" in " ".join(clip.argv)
    assert clip.frame_count == probe(source).video.frame_count  # type: ignore[union-attr]


def test_plan_shows_what_was_found_and_decided(corpus: Corpus, tmp_path: Path) -> None:
    spec = spec_for(
        [corpus["phone_hevc10_rotated_vfr.mov"], corpus["prores_2997_drop_frame.mov"]],
        tmp_path / "proxies",
        "dnxhr_lb",
    )
    spec_file = tmp_path / "job.json"
    spec_file.write_text(json.dumps(spec.canonical()))
    shown = subprocess.run(
        [str(PROXX), "plan", str(spec_file)], capture_output=True, text=True, check=True
    ).stdout
    assert "#   rotation: display matrix 270° clockwise -> turned upright" in shown
    assert "#   frame rate: variable" in shown
    assert "primaries bt2020, transfer arib-std-b67, matrix bt2020nc" in shown
    assert "#   timecode: 01:00:00;00, reel B042 -> 01:00:00;00 (drop-frame) carried" in shown
    as_json = json.loads(
        subprocess.run(
            [str(PROXX), "plan", "--json", str(spec_file)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert as_json["clips"][1]["expected"]["timecode"] == "01:00:00;00"


@pytest.mark.parametrize(
    ("name", "reason", "words"),
    [
        ("audio_only.wav", Reason.SOURCE_NO_VIDEO, "audio only"),
        ("tilted_45_degrees.mov", Reason.SOURCE_ROTATION_UNSUPPORTED, "display rotation of 315°"),
    ],
)
def test_shapes_without_a_relinkable_proxy_are_refused_up_front(
    name: str, reason: Reason, words: str, corpus: Corpus, tmp_path: Path
) -> None:
    assert name in REFUSED
    output_dir = tmp_path / "proxies"
    result = execute(spec_for([corpus[name]], output_dir, "h264_half"))
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason) == (
        FailureClass.VALIDATION,
        reason,
    )
    assert words in result.failure.message and "clip 1" in result.failure.message
    # On record, under a name that leaves the job_id free for the corrected JobSpec.
    assert [name.split("-refused-")[0] for name in listing(output_dir)] == ["shapes.proxx"]
