"""The plan: one exact argv per clip, a pure function of JobSpec, profile, engine and sources.

Nothing here reads the clock, the environment, the working directory or the machine's load.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from proxx_exec.engines import EngineIdentity
from proxx_exec.jobspec import JobSpec
from proxx_exec.media import AudioTrack, MediaInfo
from proxx_exec.naming import final_path, staged_path, staging_dir
from proxx_exec.profiles import Profile

ENGINE_PROGRAM = "ffmpeg"
# Shared by the encode and the verification decode: quiet, machine-readable progress on stdout,
# stop at the first decode error, never read stdin.
_COMMON_INPUT_ARGS = (
    "-nostdin",
    "-hide_banner",
    "-nostats",
    "-loglevel",
    "error",
    "-xerror",
    "-progress",
    "pipe:1",
)
_BITEXACT = ("-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact")


class ExpectedOutput(BaseModel):
    """What verification demands of one proxy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    major_brand: str
    video_codec: str
    video_profile: str
    pix_fmt: str
    width: int
    height: int
    frame_rate: str
    frame_count: int
    audio: tuple[AudioTrack, ...]
    timecode: str | None
    reel_name: str | None


class ClipPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(description="0-based position in the JobSpec's sources.")
    source: str
    output: str = Field(description="Final path of the proxy after the commit.")
    staged_output: str = Field(description="Where the engine writes before the commit.")
    argv: tuple[str, ...] = Field(
        description="The encode command; argv[0] is the engine's "
        "program name, the binary is the job's engine."
    )
    verify_argv: tuple[str, ...] = Field(description="The full-decode verification command.")
    expected: ExpectedOutput


class JobPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str
    spec_fingerprint: str
    profile: Profile
    engine: EngineIdentity
    staging_dir: str
    clips: tuple[ClipPlan, ...]


def scaled_size(width: int, height: int, divisor: int) -> tuple[int, int]:
    """Divide, then round each side down to an even number (chroma subsampling needs it)."""
    return max(2, width // divisor // 2 * 2), max(2, height // divisor // 2 * 2)


def expected_output(profile: Profile, source: MediaInfo) -> ExpectedOutput:
    width, height = scaled_size(source.width, source.height, profile.scale_divisor)
    timecode = source.timecode if profile.carry_timecode else None
    return ExpectedOutput(
        major_brand=profile.container_brand,
        video_codec=profile.decoded_codec,
        video_profile=profile.decoded_profile,
        pix_fmt=profile.pix_fmt,
        width=width,
        height=height,
        frame_rate=source.frame_rate,
        frame_count=source.frame_count,
        audio=source.audio,
        timecode=timecode,
        reel_name=source.reel_name if profile.carry_reel_name and timecode else None,
    )


def encode_argv(
    profile: Profile, source_path: str, staged: str, expected: ExpectedOutput
) -> tuple[str, ...]:
    argv: list[str] = [ENGINE_PROGRAM, *_COMMON_INPUT_ARGS, "-i", "file:" + source_path]
    # Every stream mapped explicitly: the first video stream and every audio track, in order.
    argv += ["-map", "0:v:0"]
    for track in range(len(expected.audio)):
        argv += ["-map", f"0:a:{track}"]
    # Source metadata is dropped wholesale and what must survive is written back explicitly.
    argv += ["-map_metadata", "-1", "-map_chapters", "-1"]
    argv += [
        "-vf",
        f"scale={expected.width}:{expected.height}:flags={profile.scaler},format={profile.pix_fmt}",
        "-fps_mode",
        "passthrough",
        "-c:v",
        profile.video_codec,
        "-profile:v",
        profile.codec_profile,
        "-pix_fmt",
        profile.pix_fmt,
        "-threads",
        str(profile.threads),
    ]
    if profile.video_codec == "libx264":
        argv += ["-preset", str(profile.preset), "-crf", str(profile.crf), "-g", str(profile.gop)]
    if expected.audio:
        argv += ["-c:a", profile.audio_codec]
        if profile.audio_bitrate_kbps is not None:
            argv += ["-b:a", f"{profile.audio_bitrate_kbps}k"]
    if expected.timecode is not None:
        argv += ["-timecode", expected.timecode]
    if expected.reel_name is not None:
        argv += ["-metadata:s:v:0", f"reel_name={expected.reel_name}"]
    argv += [*_BITEXACT, "-f", profile.container, "file:" + staged]
    return tuple(argv)


def decode_argv(staged: str) -> tuple[str, ...]:
    """Decode every video and audio frame; -xerror turns any decode error into a failure."""
    return (
        ENGINE_PROGRAM,
        *_COMMON_INPUT_ARGS,
        "-i",
        "file:" + staged,
        "-map",
        "0:v:0",
        "-map",
        "0:a?",
        "-fps_mode",
        "passthrough",
        "-f",
        "null",
        "-",
    )


def plan_job(
    spec: JobSpec,
    profile: Profile,
    engine: EngineIdentity,
    sources: tuple[MediaInfo, ...],
    output_names: tuple[str, ...],
) -> JobPlan:
    clips = []
    for index, (source_path, info, name) in enumerate(
        zip(spec.sources, sources, output_names, strict=True)
    ):
        expected = expected_output(profile, info)
        staged = staged_path(spec.output_dir, spec.job_id, name)
        clips.append(
            ClipPlan(
                index=index,
                source=source_path,
                output=final_path(spec.output_dir, name),
                staged_output=staged,
                argv=encode_argv(profile, source_path, staged, expected),
                verify_argv=decode_argv(staged),
                expected=expected,
            )
        )
    return JobPlan(
        job_id=spec.job_id,
        spec_fingerprint=spec.fingerprint,
        profile=profile,
        engine=engine,
        staging_dir=staging_dir(spec.output_dir, spec.job_id),
        clips=tuple(clips),
    )
