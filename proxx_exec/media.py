"""Structured facts about a media file, read through PyAV (libavformat's own data structures).

Only headers are read here; whole-file decoding is the engine's job in `verify`.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
from pydantic import BaseModel, ConfigDict, Field


class AudioTrack(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    channels: int
    sample_rate: int


class MediaInfo(BaseModel):
    """What one probe found. Frame rate is kept as an exact fraction string, e.g. "30000/1001"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    major_brand: str | None = Field(description="ISO/QuickTime major brand, if any.")
    video_codec: str
    video_profile: str | None
    pix_fmt: str | None
    width: int
    height: int
    frame_rate: str
    frame_count: int = Field(
        description="Video frames: the container index, or a count of packets where it has none."
    )
    audio: tuple[AudioTrack, ...]
    timecode: str | None
    reel_name: str | None

    @property
    def frame_rate_fraction(self) -> Fraction:
        return Fraction(self.frame_rate)


class NotMedia(Exception):
    """The file could not be opened as media at all."""


class NoVideo(Exception):
    """The file is media but holds no video stream."""


def probe(path: Path) -> MediaInfo:
    """Read container and stream headers; raise NotMedia or NoVideo."""
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise NotMedia(str(error)) from None
    with container:
        videos = [s for s in container.streams.video if not _is_attached_picture(s)]
        if not videos:
            raise NoVideo(f"{path} has no video stream")
        video = videos[0]
        codec = video.codec_context
        timecode, reel_name = _timecode_and_reel(container)
        frame_rate = video.average_rate or video.guessed_rate
        return MediaInfo(
            major_brand=container.metadata.get("major_brand"),
            video_codec=codec.name,
            video_profile=codec.profile,
            pix_fmt=codec.format.name if codec.format is not None else None,
            width=codec.width,
            height=codec.height,
            frame_rate=str(Fraction(frame_rate)) if frame_rate else "0",
            frame_count=video.frames or _count_packets(container, video),
            audio=tuple(
                AudioTrack(
                    channels=s.codec_context.channels, sample_rate=s.codec_context.sample_rate
                )
                for s in container.streams.audio
            ),
            timecode=timecode,
            reel_name=reel_name,
        )


def _count_packets(container: av.container.InputContainer, video: av.video.VideoStream) -> int:
    """For containers without a frame index (e.g. Matroska): count the video packets."""
    return sum(1 for packet in container.demux(video) if packet.size)


def _is_attached_picture(stream: av.stream.Stream) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def _timecode_and_reel(container: av.container.InputContainer) -> tuple[str | None, str | None]:
    """Start timecode and reel name, from the timecode track first, then the video stream."""
    timecode: str | None = None
    reel_name: str | None = None
    for stream in (*container.streams.data, *container.streams.video):
        metadata = stream.metadata
        timecode = timecode or metadata.get("timecode")
        reel_name = reel_name or metadata.get("reel_name")
    return timecode or container.metadata.get("timecode"), reel_name
