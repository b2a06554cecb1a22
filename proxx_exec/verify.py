"""Output verification. Exit code 0 proves nothing: every promise of the plan is checked against
structured data (PyAV headers and index, the engine's machine-readable progress of a full decode).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from proxx_exec.expected import ExpectedOutput
from proxx_exec.failures import Reason
from proxx_exec.looks.picture import lut_sha256_now
from proxx_exec.media import MediaInfo, NotMedia, VideoStream, probe
from proxx_exec.plan import ClipPlan, look_thumbnails
from proxx_exec.process import run_engine
from proxx_exec.result import Check


@dataclass(frozen=True)
class Verification:
    checks: tuple[Check, ...]
    failed_reason: Reason | None
    decode_stderr: str | None
    frame_count: int | None


@dataclass(frozen=True)
class _HeaderCheck:
    """One promise of the plan: its name, the reason its failure carries, and how to read the
    expected value from the plan and the actual one from the proxy. `expected` returning None
    means the check does not apply to this clip (e.g. a frame rate for variable frame rate)."""

    name: str
    reason: Reason
    expected: Callable[[ExpectedOutput], Any]
    actual: Callable[[MediaInfo, VideoStream], Any]
    matches: Callable[[ExpectedOutput, Any, Any], bool] = lambda _, want, got: bool(want == got)


UNSTATED = "(not stated)"


def _audio_tracks_match(
    _: ExpectedOutput, expected: list[list[Any]], actual: list[list[Any]]
) -> bool:
    """Same tracks, channel counts and rates in order; the layout too where the source states
    one."""
    return len(expected) == len(actual) and all(
        want[0] == got[0] and want[2] == got[2] and want[1] in {UNSTATED, got[1]}
        for want, got in zip(expected, actual, strict=True)
    )


def _audio_starts_match(plan: ExpectedOutput, expected: list[str], actual: list[str]) -> bool:
    """Equal to within one sample: the proxy counts audio time in samples, the source may not."""
    if len(expected) != len(actual):
        return False
    return all(
        abs(Fraction(want) - Fraction(got)) < Fraction(1, track.sample_rate)
        for want, got, track in zip(expected, actual, plan.audio, strict=True)
    )


def _times(video: VideoStream) -> list[str]:
    return [str(video.seconds(pts or 0)) for pts in (video.first_pts, video.last_pts)]


def _field_order(video: VideoStream) -> str:
    if video.field_order in {"tt", "bb", "tb", "bt"} or video.interlaced_frames:
        return video.field_order
    return "progressive"


# Header checks in report order. The engine's decode adds `decodes_without_error` and
# `frame_count` after them, and `timestamps` comes last: with frames missing, the count is the
# clearer reason.
HEADER_CHECKS: tuple[_HeaderCheck, ...] = (
    _HeaderCheck(
        "container", Reason.CONTAINER_MISMATCH, lambda e: e.major_brand, lambda m, v: m.major_brand
    ),
    _HeaderCheck(
        "video_codec", Reason.CODEC_MISMATCH, lambda e: e.video_codec, lambda m, v: v.codec
    ),
    _HeaderCheck(
        "video_profile",
        Reason.CODEC_PROFILE_MISMATCH,
        lambda e: e.video_profile,
        lambda m, v: v.profile,
    ),
    _HeaderCheck(
        "pix_fmt", Reason.PIXEL_FORMAT_MISMATCH, lambda e: e.pix_fmt, lambda m, v: v.pix_fmt
    ),
    _HeaderCheck(
        "dimensions",
        Reason.DIMENSIONS_MISMATCH,
        lambda e: [e.width, e.height],
        lambda m, v: [v.width, v.height],
    ),
    _HeaderCheck(
        "pixel_aspect",
        Reason.PIXEL_ASPECT_MISMATCH,
        lambda e: e.sample_aspect_ratio,
        lambda m, v: v.sample_aspect_ratio,
    ),
    _HeaderCheck(
        "display_matrix",
        Reason.ROTATION_MISMATCH,
        lambda e: "none",
        lambda m, v: (
            "none" if v.display_matrix is None else "matrix " + ",".join(map(str, v.display_matrix))
        ),
    ),
    _HeaderCheck(
        "field_order",
        Reason.FIELD_ORDER_MISMATCH,
        lambda e: e.field_order,
        lambda m, v: _field_order(v),
    ),
    _HeaderCheck(
        "color_tags",
        Reason.COLOR_TAGS_MISMATCH,
        lambda e: list(e.color),
        lambda m, v: [v.color_primaries, v.color_trc, v.color_space, v.color_range],
    ),
    _HeaderCheck(
        "frame_rate", Reason.FRAME_RATE_MISMATCH, lambda e: e.frame_rate, lambda m, v: v.frame_rate
    ),
    _HeaderCheck(
        "audio_tracks",
        Reason.AUDIO_MISMATCH,
        lambda e: [[t.channels, t.layout or UNSTATED, t.sample_rate] for t in e.audio],
        lambda m, v: [[t.channels, t.layout, t.sample_rate] for t in m.audio],
        _audio_tracks_match,
    ),
    _HeaderCheck(
        "audio_start",
        Reason.AUDIO_START_MISMATCH,
        lambda e: [t.start for t in e.audio],
        lambda m, v: [str((t.first_pts or 0) * Fraction(t.time_base)) for t in m.audio],
        _audio_starts_match,
    ),
    _HeaderCheck(
        "timecode", Reason.TIMECODE_MISMATCH, lambda e: e.timecode, lambda m, v: m.timecode
    ),
    _HeaderCheck(
        "reel_name", Reason.REEL_NAME_MISMATCH, lambda e: e.reel_name, lambda m, v: m.reel_name
    ),
)

# Every check a clip can report, in report order (asset checks are declared from this list).
CHECK_NAMES: tuple[str, ...] = (
    "output_exists",
    "output_non_empty",
    "readable",
    *(check.name for check in HEADER_CHECKS),
    "decodes_without_error",
    "look_applied",
    "frame_count",
    "timestamps",
)

# A look changes pictures when the test pattern's samples through its LUT differ from the
# pattern's own by more than 1/64 of the range on average: an identity LUT measures 0 (the
# rounding of tetrahedral interpolation on 16-bit samples), every built-in look far more.
# Measured on a pattern, never on the footage: a legit look over black or flat frames (a slate,
# a fade-in) can change them by nothing.
LOOK_CHANGE_MIN = 65536 // 64


def _look_applied(clip: ClipPlan, binary: Path, timeout_s: float) -> Check:
    """The look's LUT, unchanged since validation, changes a test pattern (as 16-bit RGB): the
    mean sample difference, against LOOK_CHANGE_MIN."""
    assert clip.look_check_argv is not None and clip.look is not None
    expected = f"a mean difference above {LOOK_CHANGE_MIN} of 65535"
    lut_now = lut_sha256_now(clip.look)
    if lut_now != clip.look.lut_sha256:
        # The engine read the LUT while encoding: the look recorded may not be the one applied.
        return Check(
            name="look_applied",
            passed=False,
            expected=expected,
            actual=f"the LUT {clip.look.lut} changed during the job: SHA-256 now {lut_now}, "
            f"at validation {clip.look.lut_sha256}",
        )
    outcome = run_engine(binary, clip.look_check_argv, timeout_s)
    paths = [Path(p) for p in look_thumbnails(clip.staged_output, clip.index)]
    problem: str | None
    try:
        unlooked, looked = (p.read_bytes() for p in paths)
    except OSError as error:
        unlooked = looked = b""
        problem = outcome.ending(int(timeout_s)) if not outcome.succeeded else str(error)
    else:
        problem = None if len(unlooked) == len(looked) > 0 else "no thumbnails were made"
    finally:
        for path in paths:
            path.unlink(missing_ok=True)
    if problem is not None:
        return Check(name="look_applied", passed=False, expected=expected, actual=problem)
    count = len(unlooked) // 2
    before = struct.unpack(f"<{count}H", unlooked)
    after = struct.unpack(f"<{count}H", looked)
    mean = round(sum(abs(a - b) for a, b in zip(before, after, strict=True)) / count)
    return Check(
        name="look_applied",
        passed=mean > LOOK_CHANGE_MIN,
        expected=expected,
        actual=f"the mean difference is {mean}",
    )


def verify_clip(clip: ClipPlan, binary: Path, timeout_s: float) -> Verification:
    staged = Path(clip.staged_output)
    size = staged.stat().st_size if staged.is_file() else None
    checks = [
        Check(name="output_exists", passed=size is not None, expected=True, actual=size is not None)
    ]
    if size is None:
        return Verification(tuple(checks), Reason.OUTPUT_MISSING, None, None)
    checks.append(Check(name="output_non_empty", passed=size > 0, expected=">0", actual=size))
    if size == 0:
        return Verification(tuple(checks), Reason.OUTPUT_EMPTY, None, None)
    try:
        info = probe(staged)
        problem = None if info.video is not None else "no video stream"
    except NotMedia as error:
        info, problem = None, str(error)
    checks.append(
        Check(
            name="readable",
            passed=problem is None,
            expected=True,
            actual=True if problem is None else problem,
        )
    )
    if info is None or info.video is None:
        return Verification(tuple(checks), Reason.OUTPUT_UNREADABLE, None, None)
    failed: Reason | None = None
    for header in HEADER_CHECKS:
        expected = header.expected(clip.expected)
        if expected is None and header.name == "frame_rate":
            continue  # variable frame rate: the timestamps check covers it
        actual = header.actual(info, info.video)
        passed = header.matches(clip.expected, expected, actual)
        checks.append(Check(name=header.name, passed=passed, expected=expected, actual=actual))
        if not passed and failed is None:
            failed = header.reason
    decode = run_engine(binary, clip.verify_argv, timeout_s)
    checks.append(
        Check(
            name="decodes_without_error",
            passed=decode.succeeded,
            expected=True,
            actual=decode.succeeded,
        )
    )
    if not decode.succeeded and failed is None:
        failed = Reason.DECODE_ERROR
    if clip.look_check_argv is not None:
        look_check = _look_applied(clip, binary, timeout_s)
        checks.append(look_check)
        if not look_check.passed and failed is None:
            failed = Reason.LOOK_NOT_APPLIED
    decoded_frames = int(decode.progress["frame"]) if "frame" in decode.progress else None
    count_ok = decoded_frames == clip.expected.frame_count
    checks.append(
        Check(
            name="frame_count",
            passed=count_ok,
            expected=clip.expected.frame_count,
            actual=decoded_frames,
        )
    )
    if not count_ok and failed is None:
        failed = Reason.FRAME_COUNT_MISMATCH
    expected_times = [clip.expected.first_time, clip.expected.last_time]
    actual_times = _times(info.video)
    times_ok = expected_times == actual_times
    checks.append(
        Check(name="timestamps", passed=times_ok, expected=expected_times, actual=actual_times)
    )
    if not times_ok and failed is None:
        failed = Reason.TIMESTAMPS_MISMATCH
    return Verification(
        tuple(checks),
        failed,
        decode.stderr_tail if not decode.succeeded else None,
        decoded_frames,
    )
