"""Encoding profiles: every encoder setting explicit, built-ins immutable.

A profile says what the proxy must be; `plan` turns it into argv and `verify` checks the output
against it. The compatibility tables here are the one place that knows which codec, codec
profile, pixel format, audio codec and container go together.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from proxx_exec.refusals import closest

Container = Literal["mov", "mp4"]
VideoCodec = Literal["prores_ks", "dnxhd", "libx264"]
AudioCodec = Literal["pcm_s16le", "pcm_s24le", "aac"]

# (encoder, codec profile) -> (decoded codec name, decoded profile name, allowed pixel formats)
_VIDEO_PROFILES: dict[tuple[str, str], tuple[str, str, frozenset[str]]] = {
    ("prores_ks", "proxy"): ("prores", "Proxy", frozenset({"yuv422p10le"})),
    ("prores_ks", "lt"): ("prores", "LT", frozenset({"yuv422p10le"})),
    ("prores_ks", "standard"): ("prores", "Standard", frozenset({"yuv422p10le"})),
    ("prores_ks", "hq"): ("prores", "HQ", frozenset({"yuv422p10le"})),
    ("dnxhd", "dnxhr_lb"): ("dnxhd", "DNXHR LB", frozenset({"yuv422p"})),
    ("dnxhd", "dnxhr_sq"): ("dnxhd", "DNXHR SQ", frozenset({"yuv422p"})),
    ("dnxhd", "dnxhr_hq"): ("dnxhd", "DNXHR HQ", frozenset({"yuv422p"})),
    ("libx264", "main"): ("h264", "Main", frozenset({"yuv420p"})),
    ("libx264", "high"): ("h264", "High", frozenset({"yuv420p"})),
}
# Containers and the codecs they accept, and the major brand the muxer writes for each.
_CONTAINER_CODECS: dict[str, frozenset[str]] = {
    "mov": frozenset({"prores_ks", "dnxhd", "libx264", "pcm_s16le", "pcm_s24le", "aac"}),
    "mp4": frozenset({"libx264", "aac"}),
}
CONTAINER_BRANDS: dict[str, str] = {"mov": "qt  ", "mp4": "isom"}
_AUDIO_SAMPLE_FORMATS: dict[str, str] = {"pcm_s16le": "s16", "pcm_s24le": "s32", "aac": "fltp"}
# Smallest picture an encoder accepts (FFmpeg's DNxHR encoder refuses anything below 256x120).
_MIN_SIZE: dict[str, tuple[int, int]] = {"dnxhd": (256, 120)}
# MP4's timecode track has no place for a reel name; only QuickTime carries it.
_CARRIES_REEL_NAME = frozenset({"mov"})
_X264_PRESETS = frozenset(
    {"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower"}
)


class Profile(BaseModel):
    """A fully explicit encoding profile. Built-ins are fixed; a JobSpec may give its own."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: str = Field(description="Profile name, recorded in the result.", min_length=1)
    container: Container = Field(description="Output container; also the file extension.")
    video_codec: VideoCodec = Field(description="FFmpeg video encoder.")
    codec_profile: str = Field(description="Encoder profile passed as -profile:v.")
    pix_fmt: str = Field(description="Output pixel format, always converted explicitly.")
    scale_divisor: Literal[1, 2, 4, 8] = Field(
        description="Output size is the source size divided by this, each side rounded down "
        "to an even number (minimum 2)."
    )
    scaler: Literal["bicubic", "bilinear", "lanczos"] = Field(
        description="swscale algorithm used for resizing and pixel-format conversion."
    )
    threads: int = Field(
        ge=1,
        le=64,
        description="Encoder thread count, pinned because some encoders' output depends on it.",
    )
    crf: int | None = Field(default=None, ge=0, le=51, description="x264 constant quality.")
    preset: str | None = Field(default=None, description="x264 speed preset.")
    gop: int | None = Field(default=None, ge=1, le=600, description="x264 keyframe interval.")
    audio_codec: AudioCodec = Field(
        description="Codec for every audio track; each track keeps its channel count."
    )
    audio_bitrate_kbps: int | None = Field(
        default=None, ge=32, le=1536, description="Bitrate per audio track (aac only)."
    )
    carry_timecode: bool = Field(
        default=True, description="Copy the source's start timecode into the proxy."
    )
    carry_reel_name: bool = Field(
        default=True, description="Copy the source's reel name into the proxy's timecode track."
    )

    @model_validator(mode="after")
    def _check_compatibility(self) -> Profile:
        problems = profile_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def extension(self) -> str:
        return "." + self.container

    @property
    def decoded_codec(self) -> str:
        return _VIDEO_PROFILES[(self.video_codec, self.codec_profile)][0]

    @property
    def decoded_profile(self) -> str:
        return _VIDEO_PROFILES[(self.video_codec, self.codec_profile)][1]

    @property
    def min_size(self) -> tuple[int, int]:
        return _MIN_SIZE.get(self.video_codec, (2, 2))

    @property
    def container_brand(self) -> str:
        return CONTAINER_BRANDS[self.container]

    @property
    def audio_sample_fmt(self) -> str:
        """The sample format the audio encoder takes, converted to explicitly."""
        return _AUDIO_SAMPLE_FORMATS[self.audio_codec]


def profile_problems(profile: Profile) -> list[str]:
    """Every reason this combination of settings cannot produce a valid proxy."""
    problems: list[str] = []
    key = (profile.video_codec, profile.codec_profile)
    entry = _VIDEO_PROFILES.get(key)
    if entry is None:
        known = sorted(p for c, p in _VIDEO_PROFILES if c == profile.video_codec)
        problems.append(
            f"codec_profile {profile.codec_profile!r} is not supported for "
            f"{profile.video_codec} (supported: {', '.join(known)})"
        )
    elif profile.pix_fmt not in entry[2]:
        problems.append(
            f"pix_fmt {profile.pix_fmt!r} is not valid for {profile.video_codec} "
            f"{profile.codec_profile} (valid: {', '.join(sorted(entry[2]))})"
        )
    accepted = _CONTAINER_CODECS[profile.container]
    for codec in (profile.video_codec, profile.audio_codec):
        if codec not in accepted:
            problems.append(f"container {profile.container} cannot hold {codec}")
    x264_only = {"crf": profile.crf, "preset": profile.preset, "gop": profile.gop}
    if profile.video_codec == "libx264":
        missing = [name for name, value in x264_only.items() if value is None]
        if missing:
            problems.append(f"libx264 needs explicit {', '.join(missing)}")
        if profile.preset is not None and profile.preset not in _X264_PRESETS:
            problems.append(
                f"preset {profile.preset!r} is not one of {', '.join(sorted(_X264_PRESETS))}"
            )
    else:
        given = [name for name, value in x264_only.items() if value is not None]
        if given:
            problems.append(f"{', '.join(given)} only apply to libx264")
    if (profile.audio_codec == "aac") != (profile.audio_bitrate_kbps is not None):
        problems.append("audio_bitrate_kbps is required for aac and not allowed for PCM")
    if profile.carry_reel_name and profile.container not in _CARRIES_REEL_NAME:
        problems.append(
            f"container {profile.container} cannot carry a reel name; use mov or set "
            "carry_reel_name to false"
        )
    if profile.carry_reel_name and not profile.carry_timecode:
        problems.append(
            "the reel name lives in the timecode track: carry_reel_name needs carry_timecode"
        )
    return problems


def _builtin(**fields: object) -> Profile:
    return Profile.model_validate(fields)


# Every built-in profile writes 16-bit PCM: FFmpeg's AAC encoder gives different bytes on
# different CPUs (see bitexact.py), and PCM in QuickTime relinks in every NLE.
_PCM = {"audio_codec": "pcm_s16le"}
_X264 = {
    "video_codec": "libx264",
    "codec_profile": "high",
    "pix_fmt": "yuv420p",
    "crf": 23,
    "preset": "fast",
    "gop": 25,
}

# Thread counts (measured in docs/benchmarks.md, "Thread counts"; why in docs/determinism.md):
# ProRes slice threads and x264 frame threads cost no measurable CPU up to 8 threads; 4 lets a
# lone job use 4 cores of a big machine and oversubscribes a 2-core one only 2x. DNxHR's slice
# threads cost CPU beyond 2 (3-11 % at 4, 16-38 % at 8) and it already runs ~2x real time: 2.
# Parallelism beyond a job's threads comes from running many jobs at once.
BUILTIN_PROFILES: MappingProxyType[str, Profile] = MappingProxyType(
    {
        profile.name: profile
        for profile in (
            _builtin(
                name="prores_proxy",
                container="mov",
                video_codec="prores_ks",
                codec_profile="proxy",
                pix_fmt="yuv422p10le",
                scale_divisor=2,
                scaler="bicubic",
                threads=4,
                **_PCM,
            ),
            _builtin(
                name="prores_lt",
                container="mov",
                video_codec="prores_ks",
                codec_profile="lt",
                pix_fmt="yuv422p10le",
                scale_divisor=1,
                scaler="bicubic",
                threads=4,
                **_PCM,
            ),
            _builtin(
                name="dnxhr_lb",
                container="mov",
                video_codec="dnxhd",
                codec_profile="dnxhr_lb",
                pix_fmt="yuv422p",
                scale_divisor=2,
                scaler="bicubic",
                threads=2,
                **_PCM,
            ),
            _builtin(
                name="h264_half",
                container="mov",
                scale_divisor=2,
                scaler="bicubic",
                threads=4,
                **_X264,
                **_PCM,
            ),
            _builtin(
                name="h264_quarter",
                container="mov",
                scale_divisor=4,
                scaler="bicubic",
                threads=4,
                **_X264,
                **_PCM,
            ),
        )
    }
)


def unknown_profile(name: str) -> str:
    """Why `name` is not a built-in profile, with the name most likely meant."""
    guess = closest(name, BUILTIN_PROFILES)
    return (
        f"unknown profile {name!r}"
        + (f"; did you mean {guess}?" if guess else ".")
        + f" The built-in profiles are {', '.join(BUILTIN_PROFILES)} (`proxx profiles` shows "
        "every setting)."
    )
