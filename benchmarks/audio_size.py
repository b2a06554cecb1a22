"""What bit-exact audio costs in size: the H.264 profiles write 16-bit PCM because FFmpeg's AAC
encoder gives different bytes on different CPUs. Each H.264 profile's planned argv is run as
planned and once more with its audio as AAC at 192 kb/s per track (what these profiles wrote
before), everything else unchanged; the table compares the proxies' sizes.

Run alone: `.venv/bin/python -m benchmarks.audio_size` (prints the page's section).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import source_clip
from proxx_exec import JobSpec, validate_job
from proxx_exec.process import ENGINE_ENVIRONMENT

H264_PROFILES = ("h264_half", "h264_quarter")
AAC_BITRATE = "192k"  # per track: the H.264 profiles' setting before their audio became PCM


@dataclass(frozen=True)
class SizeRow:
    profile: str
    seconds: float
    tracks: str
    pcm_bytes: int
    aac_bytes: int

    @property
    def ratio(self) -> float:
        return self.pcm_bytes / self.aac_bytes

    @property
    def extra_gb_per_hour(self) -> float:
        return (self.pcm_bytes - self.aac_bytes) / self.seconds * 3600 / 1e9


def with_aac(argv: list[str]) -> list[str]:
    """The same argv with every audio track encoded as AAC instead of PCM."""
    swapped: list[str] = []
    rest = iter(argv)
    for arg in rest:
        if arg == "-c:a":
            next(rest)
            swapped += ["-c:a", "aac", "-b:a", AAC_BITRATE]
        elif arg == "-sample_fmt:a":
            next(rest)  # AAC takes its own sample format
        else:
            swapped.append(arg)
    return swapped


def _encode(argv: list[str], binary: Path, output: Path) -> int:
    subprocess.run(
        [*argv[:-1], "file:" + str(output)],
        executable=binary,
        env=ENGINE_ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=True,
    )
    size = output.stat().st_size
    output.unlink()
    return size


def measure(root: Path, source: Path, seconds: float) -> list[SizeRow]:
    """Both audio codecs per H.264 profile, in a folder of their own under `root`."""
    rows = []
    work = root / "audio-size"
    (work / "proxies").mkdir(parents=True)
    for profile in H264_PROFILES:
        spec = JobSpec.model_validate(
            {
                "spec_version": "1",
                "job_id": f"size-{profile}",
                "sources": [str(source)],
                "output_dir": str(work / "proxies"),
                "profile": profile,
            }
        )
        job = validate_job(spec)
        clip = job.plan.clips[0]
        tracks = ", ".join(
            f"{audio.layout or f'{audio.channels} ch'}" for audio in clip.expected.audio
        )
        pcm = _encode(list(clip.argv), job.engine_binary, work / f"pcm-{profile}.mov")
        aac = _encode(with_aac(list(clip.argv)), job.engine_binary, work / f"aac-{profile}.mov")
        rows.append(SizeRow(profile, seconds, tracks, pcm, aac))
        print(f"{profile}: PCM {pcm} bytes, AAC {aac} bytes", flush=True)
    return rows


def section(rows: list[SizeRow], source: str) -> list[str]:
    return [
        f"The H.264 profiles' planned argv on the {source} source, as planned (16-bit PCM) and "
        f"with AAC at {AAC_BITRATE[:-1]} kb/s per track instead, everything else the same "
        "(ProRes and DNxHR profiles always wrote PCM).",
        "",
        "| profile | audio tracks | proxy with PCM | with AAC | ratio "
        "| extra per hour of footage |",
        "| --- | --- | --- | --- | --- | --- |",
        *(
            f"| {r.profile} | {r.tracks} | {r.pcm_bytes / 1e6:.1f} MB | {r.aac_bytes / 1e6:.1f} MB "
            f"| {r.ratio:.2f}x | {r.extra_gb_per_hour:.2f} GB |"
            for r in rows
        ),
        "",
        "The extra size follows from the tracks alone (16-bit PCM at 48 kHz is 768 kb/s per "
        "channel); the ratio also depends on the picture, and this synthetic picture compresses "
        "better than most camera footage, so real proxies grow by a smaller factor.",
    ]


def main() -> None:
    seconds = 10.0
    with tempfile.TemporaryDirectory(prefix="proxx-size-") as folder:
        root = Path(folder)
        source = source_clip(root, "1920x1080", seconds)
        rows = measure(root, source, seconds)
    sys.stdout.write("\n".join(section(rows, f"{seconds:g} s 1920x1080")) + "\n")


if __name__ == "__main__":
    # no options; argparse answers `--help` instead of starting the measurement
    argparse.ArgumentParser(
        prog="python -m benchmarks.audio_size", description=(__doc__ or "").split("\n\n")[0]
    ).parse_args()
    main()
