"""Structured facts about a media file, read through PyAV (libavformat's own data structures).

What is read: container and stream headers, the container's frame index (or the video packets'
timestamps where the container keeps no complete index), and the first decoded video frame,
which carries what headers may not (display matrix, field order, colour tags). Whole-file
decoding is the engine's job in `verify`. Nothing here decides anything: `shape` does.
"""

from __future__ import annotations

import itertools
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
from pydantic import BaseModel, ConfigDict, Field

from proxx_exec.prober import ProberIdentity

FieldOrder = Literal["progressive", "tt", "bb", "tb", "bt", "unknown"]

# FFmpeg's own names (av_color_*_name) for the values PyAV reports as integers.
_PRIMARIES = {
    1: "bt709",
    2: "unknown",
    4: "bt470m",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "film",
    9: "bt2020",
    10: "smpte428",
    11: "smpte431",
    12: "smpte432",
    22: "ebu3213",
}
_TRANSFERS = {
    1: "bt709",
    2: "unknown",
    4: "gamma22",
    5: "gamma28",
    6: "smpte170m",
    7: "smpte240m",
    8: "linear",
    9: "log100",
    10: "log316",
    11: "iec61966-2-4",
    12: "bt1361e",
    13: "iec61966-2-1",
    14: "bt2020-10",
    15: "bt2020-12",
    16: "smpte2084",
    17: "smpte428",
    18: "arib-std-b67",
}
_MATRICES = {
    0: "gbr",
    1: "bt709",
    2: "unknown",
    4: "fcc",
    5: "bt470bg",
    6: "smpte170m",
    7: "smpte240m",
    8: "ycgco",
    9: "bt2020nc",
    10: "bt2020c",
    11: "smpte2085",
    12: "chroma-derived-nc",
    13: "chroma-derived-c",
    14: "ictcp",
}
_RANGES = {0: "unknown", 1: "tv", 2: "pc"}
_FIELD_ORDERS: dict[int, FieldOrder] = {
    0: "unknown",
    1: "progressive",
    2: "tt",
    3: "bb",
    4: "tb",
    5: "bt",
}
UNKNOWN = "unknown"

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class VideoStream(BaseModel):
    """The video stream a proxy is made from, as the file states it."""

    model_config = _FROZEN

    index: int = Field(description="Stream index in the file.")
    codec: str
    profile: str | None
    pix_fmt: str
    width: int = Field(description="Coded picture width, before any display rotation.")
    height: int
    sample_aspect_ratio: str = Field(description='Pixel aspect, "0/1" when the file states none.')
    display_matrix: tuple[int, ...] | None = Field(
        description="The 3x3 display matrix as stored (9 fixed-point integers), if any."
    )
    field_order: FieldOrder
    interlaced_frames: bool = Field(description="The first decoded frame is interlaced.")
    color_primaries: str
    color_trc: str
    color_space: str
    color_range: str
    time_base: str
    frame_rate: str = Field(description="Nominal frame rate (libavformat's r_frame_rate).")
    frame_count: int
    first_pts: int | None = Field(description="First presentation timestamp, in time_base.")
    last_pts: int | None = Field(description="Last presentation timestamp, in time_base.")
    frame_durations: tuple[int, ...] = Field(
        description="Distinct gaps between consecutive frames, in time_base, sorted."
    )

    def seconds(self, pts: int) -> Fraction:
        return pts * Fraction(self.time_base)


class AudioStream(BaseModel):
    model_config = _FROZEN

    index: int = Field(description="Stream index in the file.")
    codec: str
    channels: int
    layout: str = Field(description='FFmpeg channel layout name, e.g. "stereo", "5.1(side)".')
    sample_rate: int
    sample_fmt: str
    time_base: str
    first_pts: int | None


class MediaInfo(BaseModel):
    """What one probe found."""

    model_config = _FROZEN

    format_name: str
    major_brand: str | None = Field(description="ISO/QuickTime major brand, if any.")
    start_time_us: int = Field(
        description="Earliest stream start in microseconds, which FFmpeg moves to 0."
    )
    video: VideoStream | None
    audio: tuple[AudioStream, ...]
    timecode: str | None
    reel_name: str | None


def prober_identity() -> ProberIdentity:
    """PyAV and the libav libraries it loaded: what `probe` reads with."""
    return ProberIdentity(
        pyav=av.__version__,
        ffmpeg=av.ffmpeg_version_info,
        libraries={
            name: ".".join(str(part) for part in version)
            for name, version in sorted(av.library_versions.items())
        },
    )


class NotMedia(Exception):
    """The file could not be opened or decoded as media."""


def _in_words(error: Exception) -> str:
    """What FFmpeg said, without its error number or the path the caller names already."""
    if isinstance(error, av.FFmpegError) and error.strerror:
        return f"FFmpeg: {error.strerror}"
    return str(error) or type(error).__name__


def probe(path: Path) -> MediaInfo:
    """Read what the file states about itself; raise NotMedia when it cannot be read."""
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as error:
        raise NotMedia(_in_words(error)) from None
    with container:
        try:
            return _read(container)
        except (av.FFmpegError, StopIteration, ValueError) as error:
            raise NotMedia(_in_words(error)) from None


def header_pixels(path: Path) -> int | None:
    """Frames x width x height of the file's video as its headers state them (the frame count
    when the container keeps one, else duration x frame rate): a cheap measure of how much
    picture a clip holds. Only what opening the file reads (headers, and the few packets FFmpeg
    looks at to recognise the streams). None when it is no regular file (a pipe would block),
    cannot be read, or states no video it can decode."""
    try:
        if not path.is_file():
            return None
        with av.open(str(path), mode="r") as container:
            videos = _video_streams(container)
            if not videos or videos[0].codec_context is None:
                return None  # no video, or none this FFmpeg decodes: its job is refused
            stream = videos[0]
            frames = stream.frames
            if frames <= 0:
                rate = _nominal_rate(stream)
                if stream.duration and stream.time_base:
                    seconds = Fraction(stream.duration * stream.time_base)
                else:
                    seconds = Fraction(container.duration or 0, av.time_base)
                frames = int(seconds * rate) if rate else 0
            pixels = frames * stream.codec_context.width * stream.codec_context.height
    except (av.FFmpegError, UnicodeDecodeError, ValueError, OSError):
        return None
    return pixels if pixels > 0 else None


def _video_streams(container: av.container.InputContainer) -> list[av.video.VideoStream]:
    """The video streams that are pictures of the clip (not a cover image), in file order."""
    return [s for s in container.streams.video if not _is_attached_picture(s)]


def _nominal_rate(stream: av.video.VideoStream) -> Fraction | None:
    """The stream's frame rate as the container states it (libavformat's r_frame_rate)."""
    rate = stream.base_rate or stream.average_rate or stream.guessed_rate
    return Fraction(rate) if rate else None


def _read(container: av.container.InputContainer) -> MediaInfo:
    videos = _video_streams(container)
    audio = tuple(_audio(s) for s in container.streams.audio if s.codec_context.channels > 0)
    video = _video(container, videos[0]) if videos else None
    timecode, reel_name = _timecode_and_reel(container)
    return MediaInfo(
        format_name=container.format.name,
        major_brand=container.metadata.get("major_brand"),
        start_time_us=container.start_time or 0,
        video=video,
        audio=audio,
        timecode=timecode,
        reel_name=reel_name,
    )


def _video(container: av.container.InputContainer, stream: av.video.VideoStream) -> VideoStream:
    count, first, last, durations = _timing(container, stream)
    container.seek(0)
    frame = next(container.decode(stream))
    codec = stream.codec_context
    matrix = _display_matrix(frame)
    rate = _nominal_rate(stream)
    return VideoStream(
        index=stream.index,
        codec=codec.codec.canonical_name,
        profile=codec.profile,
        pix_fmt=frame.format.name,
        width=frame.width,
        height=frame.height,
        sample_aspect_ratio=_ratio(Fraction(stream.sample_aspect_ratio or 0)),
        display_matrix=matrix,
        field_order=_FIELD_ORDERS.get(codec.field_order, "unknown"),
        interlaced_frames=frame.interlaced_frame,
        color_primaries=_PRIMARIES.get(codec.color_primaries, UNKNOWN),
        color_trc=_TRANSFERS.get(codec.color_trc, UNKNOWN),
        color_space=_MATRICES.get(codec.colorspace, UNKNOWN),
        color_range=_RANGES.get(codec.color_range, UNKNOWN),
        time_base=str(stream.time_base),
        frame_rate=str(rate) if rate else "0",
        frame_count=count,
        first_pts=first,
        last_pts=last,
        frame_durations=durations,
    )


def _ratio(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def _display_matrix(frame: av.VideoFrame) -> tuple[int, ...] | None:
    """The frame's display matrix (FFmpeg attaches the stream's to each decoded frame)."""
    for data in frame.side_data:
        side: Any = data  # PyAV's stubs type the container's iteration as str
        if side.type.name == "DISPLAYMATRIX":
            return tuple(struct.unpack("<9i", bytes(side)))
    return None


def _timing(
    container: av.container.InputContainer, stream: av.video.VideoStream
) -> tuple[int, int | None, int | None, tuple[int, ...]]:
    """Frame count, first and last presentation timestamps and distinct frame gaps.

    With a complete frame index (QuickTime, MP4, MXF) the gaps come from the index and only the
    last group of pictures is read, for the last presentation time; otherwise every video
    packet's header is read (MPEG-TS, Matroska, AVI).
    """
    entries = stream.index_entries
    if stream.frames > 0 and len(entries) == stream.frames:
        stamps = [entry.timestamp for entry in entries]
        keys = [i for i, entry in enumerate(entries) if entry.is_keyframe] or [0]
        container.seek(stamps[keys[-1]], stream=stream, backward=True, any_frame=False)
        tail = [p.pts for p in container.demux(stream) if p.pts is not None and p.size]
        # Fewer packets after the last keyframe than the index lists: the file is cut short
        # (an index written first, the data not all there). No last time then.
        last = max(tail) if len(tail) >= len(entries) - keys[-1] else None
        return stream.frames, stream.start_time, last, _gaps(stamps)
    pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None and p.size)
    if not pts:
        return 0, None, None, ()
    return len(pts), pts[0], pts[-1], _gaps(pts)


def _gaps(stamps: list[int]) -> tuple[int, ...]:
    ordered = sorted(stamps)
    return tuple(sorted({b - a for a, b in itertools.pairwise(ordered)}))


def _audio(stream: av.audio.AudioStream) -> AudioStream:
    codec = stream.codec_context
    return AudioStream(
        index=stream.index,
        codec=codec.codec.canonical_name,
        channels=codec.channels,
        layout=codec.layout.name,
        sample_rate=codec.sample_rate,
        sample_fmt=codec.format.name if codec.format is not None else UNKNOWN,
        time_base=str(stream.time_base),
        first_pts=stream.start_time,
    )


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
