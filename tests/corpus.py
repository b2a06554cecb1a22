"""Source shapes generated with the pinned engine: the codecs and the camera, phone and broadcast
shapes proxx must handle. Each is a short clip made on first use and kept for the session.

`CODECS` covers the source codecs of the bit-exactness proof; `SHAPES` the shapes an NLE has to
relink (rotation, variable frame rate, interlace, anamorphic, drop-frame, offsets, many tracks).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from proxx_exec.process import ENGINE_ENVIRONMENT
from tests.helpers import REAL_ENGINE


@dataclass(frozen=True)
class Recipe:
    """FFmpeg arguments after `ffmpeg -nostdin -v error`, with {out} for the output; `then`
    optionally re-wraps the result with input options (e.g. a display rotation)."""

    args: tuple[str, ...]
    then: tuple[str, ...] = field(default=())
    then_output: tuple[str, ...] = field(default=())


def _video(size: str = "640x360", rate: str = "25", seconds: float = 1, extra: str = "") -> str:
    return f"testsrc2=size={size}:rate={rate}:duration={seconds}{extra}"


def _tone(seconds: float = 1, rate: int = 48000) -> str:
    return f"sine=frequency=440:sample_rate={rate}:duration={seconds}"


def _lavfi(*graphs: str) -> tuple[str, ...]:
    args: list[str] = []
    for graph in graphs:
        args += ["-f", "lavfi", "-i", graph]
    return tuple(args)


def _mono_tracks(count: int) -> tuple[str, ...]:
    labels = "".join(f"[a{i}]" for i in range(count))
    maps: list[str] = ["-filter_complex", f"[1:a]asplit={count}{labels}", "-map", "0:v"]
    for i in range(count):
        maps += ["-map", f"[a{i}]"]
    return tuple(maps)


# HDR as phones record it: BT.2020 primaries, HLG transfer (tags set on the frames themselves).
_HLG = ",setparams=color_primaries=bt2020:color_trc=arib-std-b67:colorspace=bt2020nc"
_X264 = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
_X265 = ("-c:v", "libx265", "-x265-params", "log-level=error", "-preset", "ultrafast")
# Frames dropped unevenly, as phones do; timestamps passed through (variable frame rate).
_PHONE_VFR = ",select='not(eq(mod(n\\,7)\\,3))*not(eq(mod(n\\,11)\\,5))'"

CODECS: dict[str, Recipe] = {
    "h264_aac_stereo.mp4": Recipe(
        (*_lavfi(_video(), _tone()), *_X264, "-c:a", "aac", "-ac", "2", "-f", "mp4")
    ),
    "hevc10_422_aac_51.mov": Recipe(
        (
            *_lavfi(_video(), _tone()),
            *_X265,
            "-pix_fmt",
            "yuv422p10le",
            "-c:a",
            "aac",
            "-ac",
            "6",
        )
    ),
    "prores_pcm24_stereo.mov": Recipe(
        (*_lavfi(_video(), _tone()), "-c:v", "prores_ks", "-c:a", "pcm_s24le", "-ac", "2")
    ),
    "dnxhr_pcm16_mono.mov": Recipe(
        (
            *_lavfi(_video(), _tone()),
            "-c:v",
            "dnxhd",
            "-profile:v",
            "dnxhr_hq",
            "-pix_fmt",
            "yuv422p",
            "-c:a",
            "pcm_s16le",
        )
    ),
    "mpeg2_ac3_51.mkv": Recipe(
        (
            *_lavfi(_video(), _tone()),
            "-c:v",
            "mpeg2video",
            "-b:v",
            "8M",
            "-c:a",
            "ac3",
            "-ac",
            "6",
        )
    ),
    "mpeg2_mp2_stereo.mpg": Recipe(
        (*_lavfi(_video(), _tone()), "-c:v", "mpeg2video", "-c:a", "mp2", "-ac", "2", "-f", "vob")
    ),
    "h264_mp3_stereo.mkv": Recipe(
        (*_lavfi(_video(), _tone()), *_X264, "-c:a", "libmp3lame", "-ac", "2")
    ),
    "mjpeg_full_range_pcm16be.mov": Recipe(
        (
            *_lavfi(_video(), _tone()),
            "-c:v",
            "mjpeg",
            "-pix_fmt",
            "yuvj422p",
            "-c:a",
            "pcm_s16be",
        )
    ),
    "ffv1_rgb10_pcm24_51.mkv": Recipe(
        (
            *_lavfi(_video(extra=",format=gbrp10le"), _tone()),
            "-c:v",
            "ffv1",
            "-c:a",
            "pcm_s24le",
            "-ac",
            "6",
        )
    ),
}

SHAPES: dict[str, Recipe] = {
    # An iPhone-like clip: H.264, 600 ticks a second, frames dropped, shown rotated 90° clockwise.
    "phone_h264_rotated_vfr.mov": Recipe(
        (
            *_lavfi(_video("1280x720", "30", 2, _PHONE_VFR), _tone(2)),
            "-fps_mode",
            "passthrough",
            *_X264,
            "-c:a",
            "aac",
            "-ac",
            "2",
            "-video_track_timescale",
            "600",
        ),
        then=("-display_rotation", "-90"),
        then_output=("-video_track_timescale", "600"),
    ),
    "phone_hevc10_rotated_vfr.mov": Recipe(
        (
            *_lavfi(_video("1280x720", "30", 2, _PHONE_VFR + _HLG), _tone(2)),
            "-fps_mode",
            "passthrough",
            *_X265,
            "-pix_fmt",
            "yuv420p10le",
            "-tag:v",
            "hvc1",
            "-c:a",
            "aac",
            "-ac",
            "2",
            "-video_track_timescale",
            "600",
        ),
        then=("-display_rotation", "90"),
        then_output=("-video_track_timescale", "600", "-tag:v", "hvc1"),
    ),
    "xdcam_1080i50_four_mono.mxf": Recipe(
        (
            *_lavfi(_video("1920x1080", "25", 1, ",setfield=tff"), _tone()),
            *_mono_tracks(4),
            "-c:v",
            "mpeg2video",
            "-b:v",
            "20M",
            "-pix_fmt",
            "yuv422p",
            "-flags",
            "+ilme+ildct",
            "-c:a",
            "pcm_s24le",
            "-timecode",
            "10:00:00:00",
        )
    ),
    "prores_2997_drop_frame.mov": Recipe(
        (
            *_lavfi(_video("1280x720", "30000/1001"), _tone()),
            "-c:v",
            "prores_ks",
            "-c:a",
            "pcm_s24le",
            "-timecode",
            "01:00:00;00",
            "-metadata:s:v:0",
            "reel_name=B042",
        )
    ),
    "hdv_anamorphic_1440.mov": Recipe(
        (
            *_lavfi(_video("1440x1080", "25", 1, ",setsar=4/3"), _tone()),
            *_X264,
            "-c:a",
            "pcm_s16le",
            "-ac",
            "2",
        )
    ),
    "prores4444_alpha.mov": Recipe(
        (
            *_lavfi(_video(extra=",format=yuva444p10le")),
            "-c:v",
            "prores_ks",
            "-profile:v",
            "4444",
            "-pix_fmt",
            "yuva444p10le",
        )
    ),
    "hevc10_422.mov": Recipe((*_lavfi(_video()), *_X265, "-pix_fmt", "yuv422p10le")),
    "mpegts_large_offset.ts": Recipe(
        (
            *_lavfi(_video(), _tone()),
            *_X264,
            "-c:a",
            "aac",
            "-ac",
            "2",
            "-output_ts_offset",
            "36000",
        )
    ),
    "sixteen_mono_tracks.mov": Recipe(
        (
            *_lavfi(_video(seconds=0.5), _tone(0.5)),
            *_mono_tracks(16),
            "-c:v",
            "prores_ks",
            "-c:a",
            "pcm_s24le",
        )
    ),
    "aac_51.mp4": Recipe((*_lavfi(_video(), _tone()), *_X264, "-c:a", "aac", "-ac", "6")),
    "audio_starts_late.mov": Recipe(
        (
            "-f",
            "lavfi",
            "-i",
            _video(seconds=2),
            "-itsoffset",
            "0.5",
            "-f",
            "lavfi",
            "-i",
            _tone(1.5),
            "-map",
            "0",
            "-map",
            "1",
            "-c:v",
            "prores_ks",
            "-c:a",
            "pcm_s24le",
        )
    ),
    "bt601_sd_untagged.mov": Recipe(
        (
            *_lavfi(_video("720x576", "25", 1, ",setsar=16/15"), _tone()),
            "-c:v",
            "prores_ks",
            "-c:a",
            "pcm_s16le",
        )
    ),
}

REFUSED: dict[str, Recipe] = {
    "audio_only.wav": Recipe((*_lavfi(_tone()), "-c:a", "pcm_s16le")),
    "tilted_45_degrees.mov": Recipe(
        (*_lavfi(_video()), "-c:v", "prores_ks"), then=("-display_rotation", "45")
    ),
}


def _engine(args: Sequence[str]) -> None:
    completed = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", *args],
        executable=REAL_ENGINE,
        env=ENGINE_ENVIRONMENT,
        capture_output=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr.decode("utf-8", "replace"))


class Corpus:
    """The session's generated sources, each made once on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __getitem__(self, name: str) -> Path:
        recipe = {**CODECS, **SHAPES, **REFUSED}[name]
        path = self.folder / name
        if not path.exists():
            if recipe.then:
                raw = self.folder / f"raw-{name}"
                _engine([*recipe.args, str(raw)])
                _engine(
                    [
                        *recipe.then,
                        "-i",
                        str(raw),
                        "-map",
                        "0",
                        "-c",
                        "copy",
                        *recipe.then_output,
                        str(path),
                    ]
                )
                raw.unlink()
            else:
                _engine([*recipe.args, str(path)])
        return path
