"""Every built-in profile end to end on generated media, checked from the outside with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from proxx_exec import BUILTIN_PROFILES, ClipState, ExecutionResult, Status, execute
from proxx_exec.media import probe
from proxx_exec.tools.samples import SampleClip
from tests.conftest import SpecFactory
from tests.helpers import Media, listing

EXPECTED = {
    # profile: (codec, codec profile, pix_fmt, size of a 640x360 source)
    "prores_proxy": ("prores", "Proxy", "yuv422p10le", (320, 180)),
    "prores_lt": ("prores", "LT", "yuv422p10le", (640, 360)),
    "dnxhr_lb": ("dnxhd", "DNXHR LB", "yuv422p", (320, 180)),
    "h264_half": ("h264", "High", "yuv420p", (320, 180)),
    "h264_quarter": ("h264", "High", "yuv420p", (160, 90)),
}


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.mark.parametrize("profile", sorted(BUILTIN_PROFILES))
def test_builtin_profile_end_to_end(
    profile: str, media: Media, make_spec: SpecFactory, out_dir: Path
) -> None:
    source = media.standard
    result = execute(make_spec([source], profile=profile))

    assert result.status is Status.COMPLETED, result.failure
    codec, codec_profile, pix_fmt, (width, height) = EXPECTED[profile]
    output = Path(result.clips[0].output or "")
    assert output == out_dir / "A001C001.mov"
    info = probe(output)
    assert info.video is not None
    video = info.video
    assert (video.codec, video.profile, video.pix_fmt) == (codec, codec_profile, pix_fmt)
    assert (video.width, video.height) == (width, height)
    assert video.frame_rate == "25"
    assert decoded_frames(output) == 25 == decoded_frames(source)
    assert [(t.channels, t.sample_rate, t.codec) for t in info.audio] == [
        (2, 48000, "pcm_s16le"),
        (1, 48000, "pcm_s16le"),
    ]
    assert info.timecode == "01:00:00:00"
    assert info.reel_name == "A001"
    clip = result.clips[0]
    assert clip.state is ClipState.COMMITTED
    assert all(check.passed for check in clip.checks)
    assert {c.name for c in clip.checks} >= {
        "container",
        "video_codec",
        "video_profile",
        "pix_fmt",
        "dimensions",
        "frame_rate",
        "audio_tracks",
        "timecode",
        "reel_name",
        "decodes_without_error",
        "frame_count",
    }
    assert clip.output_bytes == output.stat().st_size
    assert listing(out_dir) == ["A001C001.mov", "test-job.proxx-result.json"]
    stored = ExecutionResult.from_json((out_dir / "test-job.proxx-result.json").read_text())
    assert stored == result


def test_444_high_bit_depth_source_gets_420_8bit_h264(media: Media, make_spec: SpecFactory) -> None:
    source = media.clip(
        "C444.mov",
        SampleClip(duration_s=1, codec_args=("-profile:v", "4444"), pix_fmt="yuv444p10le"),
    )
    source_video = probe(source).video
    assert source_video is not None
    assert source_video.pix_fmt in {"yuv444p10le", "yuv444p12le"}  # ProRes 4444: 12-bit decode
    result = execute(make_spec([source], profile="h264_half"))
    assert result.status is Status.COMPLETED, result.failure
    output_video = probe(Path(result.clips[0].output or "")).video
    assert output_video is not None and output_video.pix_fmt == "yuv420p"


def test_odd_sizes_become_even(media: Media, make_spec: SpecFactory) -> None:
    source = media.clip("ODD.mov", SampleClip(width=646, height=362, duration_s=1))
    result = execute(make_spec([source], profile="h264_quarter"))
    assert result.status is Status.COMPLETED, result.failure
    video = probe(Path(result.clips[0].output or "")).video
    assert video is not None and (video.width, video.height) == (160, 90)


def test_source_without_audio_or_timecode(media: Media, make_spec: SpecFactory) -> None:
    source = media.clip(
        "MUTE.mov", SampleClip(duration_s=1, audio_channels=(), timecode=None, reel_name=None)
    )
    result = execute(make_spec([source], profile="prores_proxy"))
    assert result.status is Status.COMPLETED, result.failure
    info = probe(Path(result.clips[0].output or ""))
    assert info.audio == () and info.timecode is None and info.reel_name is None


def test_many_audio_tracks_keep_channel_counts(media: Media, make_spec: SpecFactory) -> None:
    source = media.clip("MULTI.mov", SampleClip(duration_s=1, audio_channels=(1, 2, 6, 1)))
    result = execute(make_spec([source], profile="h264_quarter"))
    assert result.status is Status.COMPLETED, result.failure
    info = probe(Path(result.clips[0].output or ""))
    assert [t.channels for t in info.audio] == [1, 2, 6, 1]


def test_custom_profile_mp4(media: Media, make_spec: SpecFactory, out_dir: Path) -> None:
    custom = {
        "name": "h264_mp4_small",
        "container": "mp4",
        "video_codec": "libx264",
        "codec_profile": "main",
        "pix_fmt": "yuv420p",
        "scale_divisor": 4,
        "scaler": "lanczos",
        "threads": 1,
        "crf": 28,
        "preset": "veryfast",
        "gop": 50,
        "audio_codec": "aac",
        "audio_bitrate_kbps": 128,
        "carry_reel_name": False,
    }
    result = execute(make_spec([media.standard], profile=custom))
    assert result.status is Status.COMPLETED, result.failure
    assert result.profile is not None and result.profile.name == "h264_mp4_small"
    output = out_dir / "A001C001.mp4"
    info = probe(output)
    assert info.video is not None
    assert (info.major_brand, info.video.profile, info.timecode) == ("isom", "Main", "01:00:00:00")
    argv = result.clips[0].argv
    assert argv[argv.index("-threads") + 1] == "1"
    # FFmpeg's AAC encoder is floating point: the plan and the result say so.
    assert any("aac" in stage for stage in result.clips[0].cpu_dependent)


def test_hostile_file_names_stay_file_names(
    media: Media, make_spec: SpecFactory, out_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "shoot day $(touch pwned) 'one'"
    folder.mkdir()
    source = folder / '-y -i "x" ; rm -rf q.mov'
    source.write_bytes(media.standard.read_bytes())
    result = execute(make_spec([source]))
    assert result.status is Status.COMPLETED, result.failure
    assert listing(out_dir) == ['-y -i "x" ; rm -rf q.mov', "test-job.proxx-result.json"]
    assert not (Path.cwd() / "pwned").exists() and not (tmp_path / "pwned").exists()
