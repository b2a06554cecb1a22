"""Synthetic camera clips made with the pinned engine's lavfi sources (testsrc2, sine).

Used by `proxx samples`, the demo, the tests and the benchmark, so all of them exercise the
same kind of media: QuickTime files with a timecode track, a reel name and several audio tracks.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from proxx_exec.engines import default_engine_binary
from proxx_exec.jobspec import job_id_from
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


@dataclass(frozen=True)
class SampleCard:
    clips: tuple[Path, ...]
    jobspec: Path  # a ready JobSpec for the clips, proxies into <folder>/proxies


def make_card(folder: Path, count: int = 3, seconds: float = 2.0) -> SampleCard:
    """A camera card's worth of clips (A001C001.mov, A002C001.mov, ...: ProRes HQ, 10:00:00:00,
    11:00:00:00, ... timecode, the reel named like the clip, a stereo and a mono track) and a
    JobSpec that makes their proxies. The folder is made if missing; nothing is overwritten."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for index in range(count):
        reel = f"A{index + 1:03d}"
        path = folder / f"{reel}C001.mov"
        if path.exists():
            raise FileExistsError(17, "exists", str(path))
        clips.append(
            make_sample(
                path,
                SampleClip(
                    duration_s=seconds,
                    reel_name=reel,
                    audio_channels=(2, 1),
                    timecode=f"{10 + index:02d}:00:00:00",
                ),
            )
        )
    jobspec = folder / "proxx-job.json"
    document = {
        "spec_version": "1",
        "job_id": f"samples-{job_id_from(folder.name, 'clips')}",
        "sources": [str(clip) for clip in clips],
        "output_dir": str(folder / "proxies"),
        "profile": "h264_half",
    }
    with jobspec.open("x", encoding="utf-8") as stream:  # never overwrites
        stream.write(json.dumps(document, indent=2) + "\n")
    return SampleCard(clips=tuple(clips), jobspec=jobspec)
