"""What the proxy of one source must be: every property an editor relinks on, decided explicitly.

Each rule reads what `media.probe` found and returns a decision that is written into the plan
(`Decision`: what was found, what was decided) together with the FFmpeg arguments and filters
that carry it out and what verification will demand of the proxy. FFmpeg's own defaults
(autorotate, untagged colour, its choice of time base) never decide anything.

Pure functions only; a source shape that cannot give a relinkable proxy raises VALIDATION.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from proxx_exec import bitexact
from proxx_exec.expected import PROGRESSIVE, PROXY_RANGE, Decision, ExpectedAudio, ExpectedOutput
from proxx_exec.failures import Reason, clip_label, invalid
from proxx_exec.looks.builtin import BUILTIN_LOOKS, HLG, PQ
from proxx_exec.looks.picture import (
    AppliedBurnIns,
    AppliedLook,
    BurnInFacts,
    applied_burn_ins,
    burn_in_filters,
    clip_name,
    look_filters,
)
from proxx_exec.media import AudioStream, MediaInfo, VideoStream
from proxx_exec.profiles import Profile

_INTERLACED = {"tt": "tff", "bt": "tff", "bb": "bff", "tb": "bff"}
_ALPHA_FORMATS = ("yuva", "rgba", "bgra", "argb", "abgr", "gbrap", "ya")


@dataclass(frozen=True)
class ClipShape:
    """Everything decided for one clip: the plan turns it into argv."""

    video_stream: int  # stream indexes in the source file
    audio_streams: tuple[int, ...]
    input_args: tuple[str, ...]  # before -i: decoders, bit-exact decoding, rotation handling
    video_filter: str
    audio_sample_fmt: str
    expected: ExpectedOutput
    decisions: tuple[Decision, ...]
    cpu_dependent: tuple[str, ...]
    look: AppliedLook | None = None
    burn_ins: AppliedBurnIns | None = None


def decide(
    profile: Profile,
    info: MediaInfo,
    index: int,
    path: str,
    *,
    look: AppliedLook | None = None,
    burn_ins: tuple[str, ...] = (),
) -> ClipShape:
    """Decide every property of one clip's proxy, or refuse the source (VALIDATION)."""
    video = info.video
    if video is None:
        raise invalid(
            Reason.SOURCE_NO_VIDEO,
            f"{clip_label(index)}: source {path} has no video stream"
            + (f" (it is audio only: {len(info.audio)} audio track(s))" if info.audio else "")
            + "; proxies are made of video clips, so leave it out of the job",
            clip_index=index,
        )
    _check_timing(video, index, path)
    orient = _orientation(video, index, path)
    width, height, sar = _geometry(video, orient, profile, index, path)
    fields = _fields(video)
    colour = _colour(video)
    timing = _timing(video, info)
    decoders, cpu_dependent = _decoders(video, info.audio, profile)
    audio = tuple(_expected_audio(track, info) for track in info.audio)
    look_decision = _look_decision(video, look, index, path)
    tags = look.colour if look is not None else colour.tags
    flags = f"flags={profile.scaler}+{bitexact.SCALER_FLAGS}"
    if look is None:
        picture = [
            f"scale={width}:{height}:{flags}"
            f":in_range={colour.in_range}:out_range={PROXY_RANGE}{colour.matrix_args}",
        ]
    else:
        picture = [
            f"scale={width}:{height}:{flags}:in_range={colour.in_range}:out_range=pc"
            + (f":in_color_matrix={colour.tags[2]}" if not colour.matrix_args else ""),
            f"format={bitexact.LUT3D_INPUT}",
            *look_filters(look),
            f"scale={flags}:in_range=pc:out_range={PROXY_RANGE}:out_color_matrix={tags[2]}",
        ]
    burn = _burn_ins(burn_ins, info, path, (width, height))
    chain = [
        *orient.filters,
        *fields.filters,
        *picture,
        f"format={profile.pix_fmt}",
        *(burn[0] if burn else ()),
        # setsar's default `max` (100) would round the ratio; the plan's is kept exactly.
        f"setsar=r={sar.numerator}/{sar.denominator}:max=65535",
        "setparams=field_mode=prog"
        f":color_primaries={tags[0]}:color_trc={tags[1]}"
        f":colorspace={tags[2]}:range={PROXY_RANGE}",
    ]
    timecode = info.timecode if profile.carry_timecode else None
    expected = ExpectedOutput(
        major_brand=profile.container_brand,
        video_codec=profile.decoded_codec,
        video_profile=profile.decoded_profile,
        pix_fmt=profile.pix_fmt,
        width=width,
        height=height,
        sample_aspect_ratio=f"{sar.numerator}/{sar.denominator}",
        display_matrix=False,
        field_order=PROGRESSIVE,
        color=(*tags, PROXY_RANGE),
        frame_rate=timing.frame_rate,
        frame_count=video.frame_count,
        first_time=str(timing.first),
        last_time=str(timing.last),
        time_scale=Fraction(video.time_base).denominator,
        audio=audio,
        timecode=timecode,
        reel_name=info.reel_name if profile.carry_reel_name and timecode else None,
    )
    decisions = (
        *decoders,
        orient.decision,
        Decision(
            property="picture size",
            found=f"{video.width}x{video.height}, pixel aspect {_sar_text(video)}",
            decided=f"{width}x{height} (1/{profile.scale_divisor}, even sides), pixel aspect "
            f"{sar.numerator}:{sar.denominator} so the picture keeps its displayed shape",
        ),
        fields.decision,
        colour.decision,
        _alpha_decision(video, profile),
        timing.decision,
        _audio_decision(info.audio, profile),
        Decision(
            property="timecode",
            found=_or_none(info.timecode) + (f", reel {info.reel_name}" if info.reel_name else ""),
            decided=_timecode_text(profile, info, expected),
        ),
        *((look_decision,) if look_decision else ()),
        *((burn[1],) if burn else ()),
    )
    return ClipShape(
        video_stream=video.index,
        audio_streams=tuple(track.index for track in info.audio),
        input_args=_input_args(video, info.audio),
        video_filter=",".join(chain),
        audio_sample_fmt=profile.audio_sample_fmt,
        expected=expected,
        decisions=decisions,
        cpu_dependent=cpu_dependent,
        look=look,
        burn_ins=applied_burn_ins(burn_ins, height) if burn else None,
    )


def _or_none(value: str | None) -> str:
    return value if value else "none"


def _check_timing(video: VideoStream, index: int, path: str) -> None:
    if video.frame_count > 0 and video.last_pts is None:
        raise invalid(
            Reason.SOURCE_TRUNCATED,
            f"{clip_label(index)}: source {path} is cut short: its index lists "
            f"{video.frame_count} frames but the file ends before the last of them (a copy "
            "still in progress, or a damaged file)",
            clip_index=index,
        )
    if video.frame_count <= 0 or video.first_pts is None or video.last_pts is None:
        raise invalid(
            Reason.SOURCE_TIMING_INVALID,
            f"{clip_label(index)}: source {path} has no video frames with timestamps",
            clip_index=index,
        )
    if Fraction(video.frame_rate) <= 0:
        raise invalid(
            Reason.SOURCE_TIMING_INVALID,
            f"{clip_label(index)}: source {path} states no frame rate",
            clip_index=index,
        )


# --- orientation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Orientation:
    filters: tuple[str, ...]
    swaps_sides: bool
    decision: Decision


def display_rotation(matrix: tuple[int, ...]) -> float:
    """Clockwise display rotation in degrees, [0, 360), as FFmpeg's own autorotate reads it."""
    scale_x = math.hypot(matrix[0], matrix[3])
    scale_y = math.hypot(matrix[1], matrix[4])
    if scale_x == 0 or scale_y == 0:
        return math.nan
    counter_clockwise = -math.degrees(math.atan2(matrix[1] / scale_y, matrix[0] / scale_x))
    theta = -round(counter_clockwise)
    return theta - 360 * math.floor(theta / 360 + 0.9 / 360)


def _orientation(video: VideoStream, index: int, path: str) -> _Orientation:
    """Turn the picture upright with explicit filters; the proxy carries no display matrix.

    Why upright: Resolve and Premiere both show a phone clip upright by applying its display
    matrix, and relink proxies by their displayed shape. An upright proxy has that shape in its
    pixels, so it displays right in every player, NLE and thumbnail, whether or not it honours
    display matrices. The filter choice mirrors FFmpeg's autorotate, which is turned off.
    """
    matrix = video.display_matrix
    found = "none (upright)"
    if matrix is None:
        return _Orientation((), False, Decision(property="rotation", found=found, decided="kept"))
    theta = display_rotation(matrix)
    mirrored = matrix[0] * matrix[4] - matrix[1] * matrix[3] < 0
    found = f"display matrix {theta:g}° clockwise" + (", mirrored" if mirrored else "")
    if math.isnan(theta) or min(abs(theta - a) for a in (0, 90, 180, 270, 360)) >= 1:
        raise invalid(
            Reason.SOURCE_ROTATION_UNSUPPORTED,
            f"{clip_label(index)}: source {path} has a display rotation of {theta:g}°; proxx turns "
            "pictures upright only by quarter turns (0, 90, 180, 270°)",
            clip_index=index,
        )
    filters: tuple[str, ...]
    if abs(theta - 90) < 1:
        filters = ("transpose=" + ("cclock_flip" if matrix[3] > 0 else "clock"),)
    elif abs(theta - 180) < 1:
        filters = (*(("hflip",) if matrix[0] < 0 else ()), *(("vflip",) if matrix[4] < 0 else ()))
    elif abs(theta - 270) < 1:
        filters = ("transpose=" + ("clock_flip" if matrix[3] < 0 else "cclock"),)
    else:
        filters = ("vflip",) if matrix[4] < 0 else ()
    swaps = abs(theta - 90) < 1 or abs(theta - 270) < 1
    decided = (
        f"turned upright ({', '.join(filters) or 'no change'}); the proxy has no display matrix"
    )
    return _Orientation(filters, swaps, Decision(property="rotation", found=found, decided=decided))


# --- geometry --------------------------------------------------------------------------------


def scaled_size(width: int, height: int, divisor: int) -> tuple[int, int]:
    """Divide, then round each side down to an even number (chroma subsampling needs it)."""
    return max(2, width // divisor // 2 * 2), max(2, height // divisor // 2 * 2)


def _source_sar(video: VideoStream) -> Fraction:
    sar = Fraction(video.sample_aspect_ratio)
    return sar if sar > 0 else Fraction(1)


def _sar_text(video: VideoStream) -> str:
    sar = Fraction(video.sample_aspect_ratio)
    return f"{sar.numerator}:{sar.denominator}" if sar > 0 else "not stated (square)"


def _geometry(
    video: VideoStream, orient: _Orientation, profile: Profile, index: int, path: str
) -> tuple[int, int, Fraction]:
    """Proxy size and the pixel aspect that keeps the source's displayed shape exactly."""
    sar = _source_sar(video)
    width, height = video.width, video.height
    if orient.swaps_sides:
        width, height, sar = height, width, 1 / sar
    out_width, out_height = scaled_size(width, height, profile.scale_divisor)
    min_width, min_height = max(profile.min_size[0], 4), max(profile.min_size[1], 4)
    if out_width < min_width or out_height < min_height:
        raise invalid(
            Reason.SOURCE_UNSUPPORTED,
            f"{clip_label(index)}: source {path} is too small ({video.width}x{video.height}): "
            f"profile {profile.name} would make {out_width}x{out_height}, below "
            f"{profile.video_codec}'s minimum {min_width}x{min_height}",
            clip_index=index,
        )
    display_aspect = Fraction(width) * sar / height
    return out_width, out_height, _storable(display_aspect * out_height / out_width)


def _storable(ratio: Fraction) -> Fraction:
    """The nearest ratio whose terms fit the 16 bits H.264's header gives each (exact for any
    real source shape; only contrived sizes get approximated)."""
    limit = 65535
    if ratio.numerator <= limit and ratio.denominator <= limit:
        return ratio
    ratio = ratio.limit_denominator(limit)
    return 1 / (1 / ratio).limit_denominator(limit) if ratio.numerator > limit else ratio


# --- fields ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fields:
    filters: tuple[str, ...]
    decision: Decision


def _fields(video: VideoStream) -> _Fields:
    """Interlaced sources are deinterlaced frame for frame: same frame count, same times.

    Scaling interlaced frames as if they were progressive would blend the two fields; bwdif
    (send_frame) makes one progressive frame per source frame, so relinking by frame count
    and timecode holds. Frames the stream marks progressive pass through untouched.
    """
    parity = _INTERLACED.get(video.field_order)
    if parity is None and video.interlaced_frames:
        parity = "auto"
    found = {
        "progressive": "progressive",
        "unknown": "not stated",
        "tt": "interlaced, top field first",
        "bb": "interlaced, bottom field first",
        "tb": "interlaced, top coded first, bottom shown first",
        "bt": "interlaced, bottom coded first, top shown first",
    }[video.field_order]
    if video.field_order == "unknown" and video.interlaced_frames:
        found += ", first frame interlaced"
    if parity is None:
        return _Fields((), Decision(property="fields", found=found, decided="progressive, kept"))
    parity_words = {"tff": "top", "bff": "bottom", "auto": "per frame"}[parity]
    return _Fields(
        (f"bwdif=mode=send_frame:parity={parity}:deint=interlaced",),
        Decision(
            property="fields",
            found=found,
            decided=f"deinterlaced (bwdif, one frame per frame, {parity_words} field "
            "first); the proxy is progressive",
        ),
    )


# --- colour ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Colour:
    tags: tuple[str, str, str]  # primaries, transfer, matrix written into the proxy
    in_range: str
    matrix_args: str
    decision: Decision


def _conventional(video: VideoStream) -> tuple[str, str, str]:
    """What an untagged picture of this size conventionally means (ITU-R BT.709 for HD; BT.601
    for standard definition: the 525-line variant up to 486 lines, the 625-line one above)."""
    if video.height >= 720 or video.width >= 1280:
        return "bt709", "bt709", "bt709"
    if video.height <= 486:
        return "smpte170m", "smpte170m", "smpte170m"
    return "bt470bg", "smpte170m", "bt470bg"


def _colour(video: VideoStream) -> _Colour:
    """Tags are carried; untagged ones get their conventional meaning, so that an NLE reads
    the proxy (a smaller picture, which it might otherwise guess differently) the way it reads
    the source. Proxies are limited range; RGB sources are converted with the BT.709 matrix."""
    found = (
        video.color_primaries,
        video.color_trc,
        video.color_space,
    )
    conventional = _conventional(video)
    rgb = video.color_space == "gbr" or video.pix_fmt.startswith(("rgb", "bgr", "gbr"))
    tags = tuple(c if c != "unknown" else conventional[i] for i, c in enumerate(found))
    matrix_args = ""
    if rgb:
        tags = (tags[0], tags[1], "bt709")
        matrix_args = ":out_color_matrix=bt709"
    in_range = "pc" if video.color_range == "pc" or video.pix_fmt.startswith("yuvj") else "tv"
    primaries, trc, matrix = tags
    return _Colour(
        tags=(primaries, trc, matrix),
        in_range=in_range,
        matrix_args=matrix_args,
        decision=Decision(
            property="colour",
            found=f"primaries {found[0]}, transfer {found[1]}, matrix {found[2]}, "
            f"range {video.color_range}",
            decided=f"primaries {primaries}, transfer {trc}, matrix {matrix}"
            + (" (converted from RGB)" if rgb else "")
            + f", limited range{' (converted from full)' if in_range == 'pc' else ''}",
        ),
    )


def _alpha_decision(video: VideoStream, profile: Profile) -> Decision:
    has_alpha = video.pix_fmt.startswith(_ALPHA_FORMATS)
    return Decision(
        property="pixel format",
        found=f"{video.pix_fmt}" + (" (with alpha)" if has_alpha else ""),
        decided=f"{profile.pix_fmt}"
        + (", alpha dropped (proxy formats carry none)" if has_alpha else ""),
    )


# --- timing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Timing:
    frame_rate: str | None
    first: Fraction
    last: Fraction
    decision: Decision


def _shifted(pts: int, time_base: str, info: MediaInfo) -> Fraction:
    """A source timestamp as FFmpeg writes it: less the file's start, which FFmpeg converts
    from microseconds into the stream's time base rounding half away from zero."""
    exact = Fraction(info.start_time_us, 1_000_000) / Fraction(time_base)
    offset = math.floor(abs(exact) + Fraction(1, 2)) * (1 if exact >= 0 else -1)
    return (pts - offset) * Fraction(time_base)


def _timing(video: VideoStream, info: MediaInfo) -> _Timing:
    """Every frame keeps its timestamp (passthrough, the source's time base). FFmpeg moves the
    earliest stream start to zero; the other streams keep their offsets to it."""
    start = Fraction(info.start_time_us, 1_000_000)
    first = _shifted(video.first_pts or 0, video.time_base, info)
    last = _shifted(video.last_pts or 0, video.time_base, info)
    gaps = video.frame_durations
    # Timestamps rounded to a coarse time base (e.g. 29.97 fps in milliseconds) alternate by
    # one tick; that is still one frame rate.
    constant = not gaps or gaps[-1] - gaps[0] <= 1
    rate = Fraction(video.frame_rate)
    shown_rate = f"{float(rate):.6g}"
    if constant:
        found = f"{shown_rate} fps, constant"
        decided = f"{shown_rate} fps kept, every timestamp passed through"
    else:
        found = f"variable ({len(gaps)} different frame durations, nominal {shown_rate} fps)"
        decided = "variable, timestamps kept (checked by frame count, first and last time)"
    start_text = f"video starts at {float(first):.6f} s" + (
        f" (source start {float(start):.6f} s moved to 0)" if start else ""
    )
    return _Timing(
        frame_rate=video.frame_rate if constant else None,
        first=first,
        last=last,
        decision=Decision(property="frame rate", found=found, decided=f"{decided}; {start_text}"),
    )


_UNSTATED_LAYOUT = re.compile(r"^\d+ channels$")


def proxy_layout(track: AudioStream) -> str | None:
    """The layout a track's proxy must state: the source's, or None where the source states
    none ("6 channels"): the channels are kept in their order, and the proxy states whatever
    QuickTime records for that many channels."""
    return None if _UNSTATED_LAYOUT.match(track.layout) else track.layout


def _expected_audio(track: AudioStream, info: MediaInfo) -> ExpectedAudio:
    start = _shifted(track.first_pts or 0, track.time_base, info)
    return ExpectedAudio(
        channels=track.channels,
        layout=proxy_layout(track),
        sample_rate=track.sample_rate,
        start=str(start),
    )


def _audio_decision(tracks: tuple[AudioStream, ...], profile: Profile) -> Decision:
    if not tracks:
        return Decision(property="audio", found="none", decided="none")
    found = "; ".join(f"{t.codec} {t.layout} {t.sample_rate} Hz" for t in tracks)
    unstated = [str(n) for n, t in enumerate(tracks, start=1) if proxy_layout(t) is None]
    return Decision(
        property="audio",
        found=f"{len(tracks)} track(s): {found}",
        decided=f"every track kept in order, same channels, layout, rate and start, as "
        f"{profile.audio_codec}"
        + (
            f"; track(s) {', '.join(unstated)} state no layout: their channels are kept in "
            "order, and the proxy states what QuickTime records for that many"
            if unstated
            else ""
        ),
    )


def _timecode_text(profile: Profile, info: MediaInfo, expected: ExpectedOutput) -> str:
    if info.timecode is None:
        return "none to carry"
    if expected.timecode is None:
        return f"not carried (profile {profile.name} has carry_timecode false)"
    drop = " (drop-frame)" if ";" in info.timecode else ""
    reel = f", reel {expected.reel_name}" if expected.reel_name else ""
    return f"{expected.timecode}{drop} carried{reel}"


# --- look and burn-ins ------------------------------------------------------------------------

# The YCbCr matrices swscale converts to RGB (the names FFmpeg's tags use).
_RGB_MATRICES = frozenset(
    {"bt709", "smpte170m", "bt470bg", "fcc", "smpte240m", "bt2020nc", "bt2020c"}
)
_HDR_NAMES = {HLG: "HLG", PQ: "PQ"}


def _look_decision(
    video: VideoStream, look: AppliedLook | None, index: int, path: str
) -> Decision | None:
    """A look takes the source's picture as its LUT expects it: an HDR source (HLG, PQ) only
    by the look made for its transfer, and an HDR look only an HDR source of that transfer."""
    if look is None:
        return None
    builtin = BUILTIN_LOOKS.get(look.look)
    wanted = builtin.hdr_transfer if builtin else None
    trc = video.color_trc
    if wanted is not None and trc != wanted:
        raise invalid(
            Reason.LOOK_SOURCE_MISMATCH,
            f"{clip_label(index)}: look {look.look} is for {_HDR_NAMES[wanted]} sources (transfer "
            f"{wanted}), but source {path} is tagged transfer {trc}",
            clip_index=index,
        )
    if wanted is None and trc in _HDR_NAMES:
        fitting = next(n for n, b in BUILTIN_LOOKS.items() if b.hdr_transfer == trc)
        raise invalid(
            Reason.LOOK_SOURCE_MISMATCH,
            f"{clip_label(index)}: source {path} is {_HDR_NAMES[trc]} (transfer {trc}); look "
            f"{look.look} expects a picture that is not HDR. Use the look {fitting} for it "
            "(tone-mapped to Rec.709), or no look",
            clip_index=index,
        )
    if (
        video.color_space not in _RGB_MATRICES
        and not video.pix_fmt.startswith(("rgb", "bgr", "gbr"))
        and video.color_space != "unknown"
    ):
        raise invalid(
            Reason.LOOK_SOURCE_MISMATCH,
            f"{clip_label(index)}: source {path} has the colour matrix {video.color_space}, "
            "which the engine cannot convert to RGB for a look",
            clip_index=index,
        )
    return Decision(
        property="look",
        found=f"transfer {trc}, primaries {video.color_primaries}",
        decided=f"{look.look}: LUT {look.lut} (SHA-256 {look.lut_sha256}) on 16-bit packed RGB; "
        "the proxy is Rec.709, tagged bt709",
    )


_BURN_IN_WORDS = {
    "timecode": "timecode",
    "clip_name": "clip name",
    "reel": "reel",
    "frame_number": "frame number",
}


def _burn_ins(
    items: tuple[str, ...], info: MediaInfo, path: str, size: tuple[int, int]
) -> tuple[tuple[str, ...], Decision] | None:
    if not items:
        return None
    assert info.video is not None
    video = info.video
    timecode = info.timecode or "00:00:00:00"
    facts = BurnInFacts(
        clip_name=clip_name(path),
        reel=info.reel_name,
        timecode=timecode,
        rate=video.frame_rate,
        width=size[0],
        height=size[1],
    )
    notes = []
    if "timecode" in items:
        drop = " drop-frame" if ";" in timecode else ""
        notes.append(
            f"timecode from {timecode}{drop} at {video.frame_rate} fps"
            + ("" if info.timecode else " (the source has none: counted from zero)")
        )
    if "reel" in items and info.reel_name is None:
        notes.append("no reel name in the source: none shown")
    shown = ", ".join(_BURN_IN_WORDS[item] for item in items)
    return burn_in_filters(items, facts), Decision(
        property="burn-ins",
        found=f"clip {facts.clip_name}, reel {info.reel_name or 'none'}, timecode "
        f"{info.timecode or 'none'}",
        decided=f"{shown} burnt in" + (f" ({'; '.join(notes)})" if notes else ""),
    )


# --- decoders --------------------------------------------------------------------------------


def _decoders(
    video: VideoStream, audio: tuple[AudioStream, ...], profile: Profile
) -> tuple[tuple[Decision, ...], tuple[str, ...]]:
    decisions = []
    cpu_dependent = []
    for stream, codec in ((video.index, video.codec), *((a.index, a.codec) for a in audio)):
        decoder = bitexact.decoder_for(codec)
        if decoder is None:
            decided = f"FFmpeg's default {codec} decoder; not verified bit-exact"
            cpu_dependent.append(f"stream {stream} ({codec}): decoder not verified bit-exact")
        else:
            decided = f"{decoder}, bit-exact"
        decisions.append(
            Decision(property=f"decoder, stream {stream}", found=codec, decided=decided)
        )
    reason = bitexact.CPU_DEPENDENT_ENCODERS.get(profile.audio_codec)
    if reason and audio:
        cpu_dependent.append(f"audio encoder {profile.audio_codec}: {reason}")
    return tuple(decisions), tuple(cpu_dependent)


def _input_args(video: VideoStream, audio: tuple[AudioStream, ...]) -> tuple[str, ...]:
    """Decoder choices per stream, bit-exact decoding, and FFmpeg's autorotate off (with the
    display matrix cleared, so the upright proxy is not rotated a second time)."""
    args: list[str] = []
    for stream, codec in ((video.index, video.codec), *((a.index, a.codec) for a in audio)):
        decoder = bitexact.decoder_for(codec)
        if decoder is not None:
            args += [f"-c:{stream}", decoder]
    args += [*bitexact.DECODER_OPTIONS, "-noautorotate", f"-display_rotation:{video.index}", "0"]
    return tuple(args)
