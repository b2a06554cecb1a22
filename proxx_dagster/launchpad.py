"""The launchpad forms: a JobSpec as a Dagster config schema derived from JobSpec's own fields,
and the folder job's form (a folder, a profile described in an editor's words, where proxies go).

Dagster checks only the shape (so the launchpad shows every field with its description);
proxx_exec validates the content, and a bad JobSpec becomes a FAILED VALIDATION result.
"""

from __future__ import annotations

from typing import Any

from dagster import Any as AnyType
from dagster import (
    Array,
    Enum,
    EnumValue,
    Field,
    Noneable,
    Shape,
)
from pydantic.fields import FieldInfo

from proxx_dagster.settings import DEFAULT_PROFILE
from proxx_exec import BUILTIN_PROFILES, JobSpec, Profile
from proxx_exec.looks.builtin import BUILTIN_LOOKS

# Dagster types per JobSpec field. `profile` is a name or a whole profile object, which Dagster's
# config system cannot express as a union, so it is passed through for proxx_exec to validate;
# so is `look`.
_DAGSTER_TYPES: dict[str, Any] = {
    "spec_version": str,
    "job_id": str,
    "sources": Array(str),
    "output_dir": str,
    "profile": AnyType,
    "naming": str,
    "clip_timeout_s": int,
    "engine": str,
    "engine_sha256": Noneable(str),
    "verify_source_mhl": bool,
    "retried_from": Noneable(str),
    "look": AnyType,  # "none", a built-in look's name or {"cube": path}: a union, like profile
    "burn_ins": Array(str),
}


def _field(name: str, info: FieldInfo) -> Field:
    dagster_type = _DAGSTER_TYPES[name]
    if info.is_required():
        return Field(dagster_type, description=info.description)
    default = list(info.default) if isinstance(info.default, tuple) else info.default
    return Field(
        dagster_type, description=info.description, default_value=default, is_required=False
    )


def jobspec_config_schema() -> Shape:
    missing = set(JobSpec.model_fields) ^ set(_DAGSTER_TYPES)
    if missing:  # a JobSpec field was added or removed without its launchpad form
        raise RuntimeError(f"JobSpec and its Dagster config disagree on: {sorted(missing)}")
    fields = {name: _field(name, info) for name, info in JobSpec.model_fields.items()}
    return Shape(fields)  # type: ignore[no-untyped-call]


_SIZES = {1: "full size", 2: "half size", 4: "quarter size", 8: "one eighth size"}


_AUDIO = {"pcm_s16le": "16-bit PCM", "pcm_s24le": "24-bit PCM", "aac": "AAC"}


def describe_profile(profile: Profile) -> str:
    """A profile in the words of an editor: codec, size, audio, file type."""
    video = {
        "prores_ks": f"ProRes {profile.decoded_profile}",
        "dnxhd": profile.decoded_profile.replace("DNXHR", "DNxHR"),
        "libx264": f"H.264 {profile.decoded_profile} (CRF {profile.crf}, preset {profile.preset})",
    }[profile.video_codec]
    audio = _AUDIO[profile.audio_codec]
    if profile.audio_bitrate_kbps:
        audio += f" {profile.audio_bitrate_kbps} kb/s"
    return f"{video}, {_SIZES[profile.scale_divisor]}, {audio} audio, .{profile.container}"


# One config type for every job built here (Dagster wants one definition per type name).
PROFILE_ENUM = Enum(
    "ProxxProfile",
    [
        EnumValue(name, description=describe_profile(BUILTIN_PROFILES[name]))
        for name in (DEFAULT_PROFILE, *(n for n in BUILTIN_PROFILES if n != DEFAULT_PROFILE))
    ],
)


def folder_config_schema() -> dict[str, Field]:
    """The launchpad: "Scaffold missing config" fills in the three things a person decides."""
    timeout = JobSpec.model_fields["clip_timeout_s"]
    return {
        "folder": Field(
            str,
            description="The camera card or day folder, as an absolute path, e.g. "
            "/media/incoming/A001. Every video file below it (sub-folders included; hidden "
            "files, symbolic links and folders named Proxy left out) becomes a clip, in name "
            "order. Clips that an earlier job of this folder took are left out.",
        ),
        "profile": Field(
            PROFILE_ENUM,
            description="The proxy format: keep one of the choices. "
            + "; ".join(f"{n}: {describe_profile(p)}" for n, p in BUILTIN_PROFILES.items()),
        ),
        "proxy_root": Field(
            str,
            description="Where the proxies go. Empty ('') for a Proxy folder inside the card "
            "folder (FOLDER/Proxy); or an absolute folder, e.g. /media/proxies, for "
            "PROXY_ROOT/<the card's path below its watch root> (as the watch sensor does, e.g. "
            "PROXY_ROOT/DAY/A001), or PROXY_ROOT/<card folder name> for a folder below no watch "
            "root.",
        ),
        "retried_from": Field(
            str,
            default_value="",
            is_required=False,
            description="Leave empty. To make proxies again for the clips of a card whose job "
            "FAILED, the card id its run names (the tag proxx/card; or the failed job's "
            "job_id); only clips without a verified proxy are made again.",
        ),
        "clip_timeout_s": Field(
            int,
            default_value=timeout.default,
            is_required=False,
            description=timeout.description,
        ),
        "look": Field(
            str,
            default_value="none",
            is_required=False,
            description="What the picture becomes: none (as it is), a built-in look ("
            + ", ".join(BUILTIN_LOOKS)
            + "), or the absolute path of a .cube LUT of yours, e.g. /luts/show.cube.",
        ),
        "burn_ins": Field(
            Array(str),
            default_value=[],
            is_required=False,
            description="Text burnt into the picture, any of: timecode, clip_name, reel, "
            "frame_number.",
        ),
    }
