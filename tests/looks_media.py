"""Tiny source clips for the looks tests, made with lavfi: a flat, log-like picture (what a camera
log curve looks like before its look), and HLG and PQ pictures tagged as such."""

from __future__ import annotations

import subprocess
from pathlib import Path

from proxx_exec.process import ENGINE_ENVIRONMENT
from tests.helpers import REAL_ENGINE

# name -> (frame rate, filter, extra output args)
_CLIPS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # Low contrast and saturation, lifted blacks: how S-Log3 footage looks uncorrected.
    "A001C003_log.mov": (
        "30000/1001",
        "eq=contrast=0.45:brightness=0.08:saturation=0.5",
        ("-timecode", "01:00:59;28", "-metadata:s:v", "reel_name=A001"),
    ),
    # A log clip that opens on black (a fade-in, as after a slate): its first frame is black.
    "A001C004_black_first.mov": (
        "25",
        "eq=contrast=0.45:brightness=0.08:saturation=0.5,fade=t=in:st=0:n=3",
        (),
    ),
    "B002C001_hlg.mov": (
        "25",
        "setparams=color_trc=arib-std-b67:color_primaries=bt2020:colorspace=bt2020nc",
        ("-timecode", "10:00:00:00"),
    ),
    "C003C001_pq.mov": (
        "24000/1001",
        "setparams=color_trc=smpte2084:color_primaries=bt2020:colorspace=bt2020nc",
        (),
    ),
}


def make_clip(folder: Path, name: str, size: str = "320x180", frames: int = 6) -> Path:
    """One clip of `frames` frames, ProRes 4:2:2 10-bit in QuickTime (made once per folder)."""
    path = folder / name
    if path.exists():
        return path
    rate, graph, extra = _CLIPS[name]
    argv = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=size={size}:rate={rate}",
        "-frames:v",
        str(frames),
        "-vf",
        graph,
        "-c:v",
        "prores_ks",
        "-profile:v",
        "hq",
        "-pix_fmt",
        "yuv422p10le",
        *extra,
        str(path),
    ]
    subprocess.run(argv, executable=REAL_ENGINE, env=ENGINE_ENVIRONMENT, check=True)
    return path


def named_clip(folder: Path, source: Path, name: str) -> Path:
    """A copy of `source` under another (hostile) name."""
    target = folder / name
    target.write_bytes(source.read_bytes())
    return target
