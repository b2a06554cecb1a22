"""What a proxy must be: the plan's promise per clip, which verification checks and the result
records, and the decisions behind it. Plain models, so that reading a result needs no media
library."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_FROZEN = ConfigDict(frozen=True, extra="forbid")

PROGRESSIVE = "progressive"
# A proxy's colour range: limited ("tv"), what every proxy codec and NLE expects.
PROXY_RANGE = "tv"


class Decision(BaseModel):
    """One property of the source and what the plan does about it, for people and audits."""

    model_config = _FROZEN

    property: str
    found: str
    decided: str


class ExpectedAudio(BaseModel):
    model_config = _FROZEN

    channels: int
    layout: str | None = Field(description="None: the source states none; any layout will do.")
    sample_rate: int
    start: str = Field(description="Start time in the proxy, seconds (an exact fraction).")


class ExpectedOutput(BaseModel):
    """Everything verification demands of one proxy."""

    model_config = _FROZEN

    major_brand: str
    video_codec: str
    video_profile: str
    pix_fmt: str
    width: int
    height: int
    sample_aspect_ratio: str
    display_matrix: bool = Field(description="Whether the proxy may carry a display matrix.")
    field_order: str
    color: tuple[str, str, str, str] = Field(description="Primaries, transfer, matrix, range.")
    frame_rate: str | None = Field(description="Nominal rate; None for variable frame rate.")
    frame_count: int
    first_time: str = Field(description="First video frame's time, seconds (exact fraction).")
    last_time: str = Field(description="Last video frame's time, seconds (exact fraction).")
    time_scale: int = Field(description="The proxy's video time scale (ticks per second).")
    audio: tuple[ExpectedAudio, ...]
    timecode: str | None
    reel_name: str | None
