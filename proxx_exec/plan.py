"""The plan: one exact argv per clip, a pure function of JobSpec, profile, engine and sources.

Nothing here reads the clock, the environment, the working directory or the machine's load.
What each clip's proxy must be is decided in `shape`; this module writes it as FFmpeg argv.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict, Field

from proxx_exec import bitexact
from proxx_exec.engines import EngineIdentity
from proxx_exec.expected import Decision, ExpectedOutput
from proxx_exec.jobspec import JobSpec
from proxx_exec.looks.picture import AppliedLook, BurnInsField, LookField, look_filters
from proxx_exec.naming import final_path, staged_path, staging_dir
from proxx_exec.prober import ProberIdentity
from proxx_exec.profiles import Profile
from proxx_exec.shape import ClipShape

ENGINE_PROGRAM = "ffmpeg"
# Shared by the encode and the verification decode: quiet, machine-readable progress on stdout,
# stop at the first decode error, never read stdin.
COMMON_INPUT_ARGS = (
    "-nostdin",
    "-hide_banner",
    "-nostats",
    "-loglevel",
    "error",
    "-xerror",
    "-progress",
    "pipe:1",
)
_BITEXACT_MUXING = ("-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact")

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class ClipPlan(BaseModel):
    model_config = _FROZEN

    index: int = Field(description="0-based position in the JobSpec's sources.")
    source: str
    output: str = Field(description="Final path of the proxy after the commit.")
    staged_output: str = Field(description="Where the engine writes before the commit.")
    argv: tuple[str, ...] = Field(
        description="The encode command; argv[0] is the engine's program name, the binary is "
        "the job's engine, and the last argument is the staged output."
    )
    verify_argv: tuple[str, ...] = Field(description="The full-decode verification command.")
    expected: ExpectedOutput
    decisions: tuple[Decision, ...] = Field(
        description="What was found in the source and what the plan decided, per property."
    )
    cpu_dependent: tuple[str, ...] = Field(
        description="Stages whose bytes may differ between CPUs; empty when the whole clip is "
        "bit-exact on every x86-64 machine."
    )
    look: LookField = None
    burn_ins: BurnInsField = None
    look_check_argv: tuple[str, ...] | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="With a look: writes a 64x36 test pattern as 16-bit RGB without the look "
        "and through the look's LUT, in the staging folder; verification's `look_applied` "
        "compares them.",
    )


class JobPlan(BaseModel):
    model_config = _FROZEN

    job_id: str
    spec_fingerprint: str
    profile: Profile
    engine: EngineIdentity
    prober: ProberIdentity
    staging_dir: str
    clips: tuple[ClipPlan, ...]

    @property
    def bitexact(self) -> bool:
        return not any(clip.cpu_dependent for clip in self.clips)


def encode_argv(
    profile: Profile, shape: ClipShape, source_path: str, staged: str
) -> tuple[str, ...]:
    expected = shape.expected
    argv: list[str] = [ENGINE_PROGRAM, *COMMON_INPUT_ARGS, *shape.input_args]
    argv += ["-i", "file:" + source_path]
    # Every stream mapped by its index in the file: the video stream, then each audio track.
    argv += ["-map", f"0:{shape.video_stream}"]
    for stream in shape.audio_streams:
        argv += ["-map", f"0:{stream}"]
    # Source metadata is dropped wholesale and what must survive is written back explicitly.
    argv += ["-map_metadata", "-1", "-map_chapters", "-1"]
    argv += [
        "-filter:v",
        shape.video_filter,
        # Each frame keeps its timestamp, counted in the source's own time base.
        "-fps_mode",
        "passthrough",
        "-enc_time_base:v",
        "demux",
        "-video_track_timescale",
        str(expected.time_scale),
        "-c:v",
        profile.video_codec,
        "-profile:v",
        profile.codec_profile,
        "-pix_fmt",
        profile.pix_fmt,
        "-threads",
        str(profile.threads),
        *bitexact.ENCODER_OPTIONS.get(profile.video_codec, ()),
    ]
    if profile.video_codec == "libx264":
        argv += ["-preset", str(profile.preset), "-crf", str(profile.crf), "-g", str(profile.gop)]
    if shape.audio_streams:
        argv += ["-c:a", profile.audio_codec, "-sample_fmt:a", shape.audio_sample_fmt]
        for track, audio in enumerate(expected.audio):
            argv += [f"-ar:a:{track}", str(audio.sample_rate)]
            if audio.layout is not None:  # a stated layout, written as stated
                argv += [f"-ch_layout:a:{track}", audio.layout]
        if profile.audio_bitrate_kbps is not None:
            argv += ["-b:a", f"{profile.audio_bitrate_kbps}k"]
    if expected.timecode is not None:
        argv += ["-timecode", expected.timecode]
    if expected.reel_name is not None:
        argv += ["-metadata:s:v:0", f"reel_name={expected.reel_name}"]
    argv += [*_BITEXACT_MUXING, "-f", profile.container, "file:" + staged]
    return tuple(argv)


def decode_argv(staged: str) -> tuple[str, ...]:
    """Decode every video and audio frame; -xerror turns any decode error into a failure."""
    return (
        ENGINE_PROGRAM,
        *COMMON_INPUT_ARGS,
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


# What the look check runs the LUT over: a test pattern (colour bars, a grey ramp, saturated
# and mid-tone patches), not the footage, so a legit look over a clip whose first frames are
# black or flat (a slate, a fade-in) is not taken for a LUT that changes nothing.
LOOK_PATTERN = "testsrc2=size=64x36:rate=1"


def look_thumbnails(staged: str, index: int) -> tuple[str, str]:
    """Where the look check writes the pattern without and with the look (16-bit RGB): in the
    staging folder, named by the clip's index (a name made from the clip's, with a suffix,
    could pass the file system's 255-byte limit)."""
    stem = f"{PurePosixPath(staged).parent}/look-check-{index}"
    return f"{stem}.unlooked.rgb48", f"{stem}.looked.rgb48"


def look_check_argv(look: AppliedLook, staged: str, index: int) -> tuple[str, ...]:
    """One run: the test pattern as the packed 16-bit RGB the look is applied to, written as it
    is and through the plan's LUT (the same `lut3d` filter as the encode)."""
    unlooked, looked = look_thumbnails(staged, index)
    graph = (
        f"{LOOK_PATTERN},format={bitexact.LUT3D_INPUT},split[unlooked][pattern];"
        f"[pattern]{','.join(look_filters(look))}[looked]"
    )
    return (
        ENGINE_PROGRAM,
        *COMMON_INPUT_ARGS,
        "-filter_complex",
        graph,
        *("-map", "[unlooked]", "-frames:v", "1", "-f", "rawvideo", "file:" + unlooked),
        *("-map", "[looked]", "-frames:v", "1", "-f", "rawvideo", "file:" + looked),
    )


def plan_clip(
    spec: JobSpec,
    profile: Profile,
    index: int,
    shape: ClipShape,
    name: str,
) -> ClipPlan:
    source_path = spec.sources[index]
    staged = staged_path(spec.output_dir, spec.job_id, name)
    return ClipPlan(
        index=index,
        source=source_path,
        output=final_path(spec.output_dir, name),
        staged_output=staged,
        argv=encode_argv(profile, shape, source_path, staged),
        verify_argv=decode_argv(staged),
        expected=shape.expected,
        decisions=shape.decisions,
        cpu_dependent=shape.cpu_dependent,
        look=shape.look,
        burn_ins=shape.burn_ins,
        look_check_argv=None if shape.look is None else look_check_argv(shape.look, staged, index),
    )


def plan_job(
    spec: JobSpec,
    profile: Profile,
    engine: EngineIdentity,
    prober: ProberIdentity,
    clips: tuple[ClipPlan, ...],
) -> JobPlan:
    return JobPlan(
        job_id=spec.job_id,
        spec_fingerprint=spec.fingerprint,
        profile=profile,
        engine=engine,
        prober=prober,
        staging_dir=staging_dir(spec.output_dir, spec.job_id),
        clips=clips,
    )
