"""Synthetic camera clips made with the pinned engine's lavfi sources (testsrc2, sine).

Used by `proxx samples`, the demo, the tests and the benchmark, so all of them exercise the
same kind of media: QuickTime files with a timecode track, a reel name and several audio tracks.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from proxx_exec.engines import default_engine_binary
from proxx_exec.process import ENGINE_ENVIRONMENT


@dataclass(frozen=True)
class SampleClip:
    width: int = 640
    height: int = 360
    rate: str = "25"
    duration_s: float = 2.0
    audio_channels: tuple[int, ...] = (2,)
    sample_rate: int = 48000
    timecode: str | None = "01:00:00:00"
    reel_name: str | None = "A001"
    video_codec: str = "prores_ks"
    codec_args: tuple[str, ...] = field(default=("-profile:v", "hq"))
    pix_fmt: str = "yuv422p10le"
    container: str = "mov"


def sample_argv(clip: SampleClip, output: Path) -> list[str]:
    size = f"{clip.width}x{clip.height}"
    argv = [
        "ffmpeg",
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate={clip.rate}:duration={clip.duration_s}",
    ]
    for track, _ in enumerate(clip.audio_channels):
        argv += [
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency={440 + 110 * track}:sample_rate={clip.sample_rate}:"
            f"duration={clip.duration_s}",
        ]
    argv += ["-map", "0:v"]
    for track, channels in enumerate(clip.audio_channels):
        argv += ["-map", f"{track + 1}:a", f"-ac:a:{track}", str(channels)]
    argv += ["-c:v", clip.video_codec, *clip.codec_args, "-pix_fmt", clip.pix_fmt]
    if clip.audio_channels:
        argv += ["-c:a", "pcm_s24le" if clip.container == "mov" else "aac"]
    if clip.timecode:
        argv += ["-timecode", clip.timecode]
    if clip.reel_name:
        argv += ["-metadata:s:v:0", f"reel_name={clip.reel_name}"]
    argv += ["-fflags", "+bitexact", "-f", clip.container, "-n", "file:" + str(output)]
    return argv


def make_sample(output: Path, clip: SampleClip | None = None) -> Path:
    """Write one synthetic clip (never overwriting) and return its path."""
    completed = subprocess.run(
        sample_argv(clip or SampleClip(), output),
        executable=default_engine_binary(),
        env=ENGINE_ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"could not make sample {output}: {message}")
    return output
