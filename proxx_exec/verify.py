"""Output verification. Exit code 0 proves nothing: every promise of the profile is checked
against structured data (PyAV headers, the engine's machine-readable progress of a full decode).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxx_exec.failures import Reason
from proxx_exec.media import MediaInfo, NotMedia, NoVideo, probe
from proxx_exec.plan import ClipPlan
from proxx_exec.process import run_engine
from proxx_exec.result import Check


@dataclass(frozen=True)
class Verification:
    checks: list[Check]
    failed_reason: Reason | None
    decode_stderr: str | None
    frame_count: int | None


def _check(name: str, expected: Any, actual: Any) -> Check:
    return Check(name=name, passed=expected == actual, expected=expected, actual=actual)


# Header checks, in the order they are reported, each with the reason its failure carries.
_HEADER_CHECKS: tuple[tuple[str, Reason, Callable[[MediaInfo], Any]], ...] = (
    ("container", Reason.CONTAINER_MISMATCH, lambda m: m.major_brand),
    ("video_codec", Reason.CODEC_MISMATCH, lambda m: m.video_codec),
    ("video_profile", Reason.CODEC_PROFILE_MISMATCH, lambda m: m.video_profile),
    ("pix_fmt", Reason.PIXEL_FORMAT_MISMATCH, lambda m: m.pix_fmt),
    ("dimensions", Reason.DIMENSIONS_MISMATCH, lambda m: [m.width, m.height]),
    ("frame_rate", Reason.FRAME_RATE_MISMATCH, lambda m: m.frame_rate),
    (
        "audio_tracks",
        Reason.AUDIO_MISMATCH,
        lambda m: [[t.channels, t.sample_rate] for t in m.audio],
    ),
    ("timecode", Reason.TIMECODE_MISMATCH, lambda m: m.timecode),
    ("reel_name", Reason.REEL_NAME_MISMATCH, lambda m: m.reel_name),
)


# Every check a clip can report, in report order (asset checks are declared from this list).
CHECK_NAMES: tuple[str, ...] = (
    "output_exists",
    "output_non_empty",
    "readable",
    *(name for name, _, _ in _HEADER_CHECKS),
    "decodes_without_error",
    "frame_count",
)


def _expected_header(clip: ClipPlan) -> dict[str, Any]:
    e = clip.expected
    return {
        "container": e.major_brand,
        "video_codec": e.video_codec,
        "video_profile": e.video_profile,
        "pix_fmt": e.pix_fmt,
        "dimensions": [e.width, e.height],
        "frame_rate": e.frame_rate,
        "audio_tracks": [[t.channels, t.sample_rate] for t in e.audio],
        "timecode": e.timecode,
        "reel_name": e.reel_name,
    }


def verify_clip(clip: ClipPlan, binary: Path, timeout_s: float) -> Verification:
    staged = Path(clip.staged_output)
    size = staged.stat().st_size if staged.is_file() else None
    checks = [_check("output_exists", True, size is not None)]
    if size is None:
        return Verification(checks, Reason.OUTPUT_MISSING, None, None)
    checks.append(Check(name="output_non_empty", passed=size > 0, expected=">0", actual=size))
    if size == 0:
        return Verification(checks, Reason.OUTPUT_EMPTY, None, None)
    try:
        info = probe(staged)
    except (NotMedia, NoVideo) as error:
        checks.append(Check(name="readable", passed=False, expected=True, actual=str(error)))
        return Verification(checks, Reason.OUTPUT_UNREADABLE, None, None)
    failed: Reason | None = None
    expected = _expected_header(clip)
    for name, reason, read in _HEADER_CHECKS:
        check = _check(name, expected[name], read(info))
        checks.append(check)
        if not check.passed and failed is None:
            failed = reason
    decode = run_engine(binary, clip.verify_argv, timeout_s)
    checks.append(_check("decodes_without_error", True, decode.succeeded))
    if not decode.succeeded and failed is None:
        failed = Reason.DECODE_ERROR
    decoded_frames = int(decode.progress["frame"]) if "frame" in decode.progress else None
    checks.append(_check("frame_count", clip.expected.frame_count, decoded_frames))
    if decoded_frames != clip.expected.frame_count and failed is None:
        failed = Reason.FRAME_COUNT_MISMATCH
    return Verification(
        checks,
        failed,
        decode.stderr_tail if not decode.succeeded else None,
        decoded_frames,
    )
