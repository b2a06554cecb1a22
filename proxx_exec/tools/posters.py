"""Poster frames: one still per committed proxy, made by the job's engine after the job COMPLETED.

A poster is never part of a proxy's verdict: it is made from the committed, verified file only
after the ExecutionResult exists, and whatever happens to it (a full disk, an engine error, a
proxy that changed since) is reported here, beside the result, and changes nothing in it.

Each poster is a pure function of the proxy's bytes and the engine: the frame is chosen from the
result's own expectations (the middle frame by index), the scaler is bit-exact
(`bitexact.SCALER_FLAGS`), decoding uses the bit-exact decoders and flags, and the PNG is written
with FFmpeg's bit-exact flags, so the same proxy and engine give the same PNG bytes on every CPU
(`tests/invariants/test_poster_bitexact.py`).
"""

from __future__ import annotations

import math
import tempfile
from fractions import Fraction
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from proxx_exec import bitexact
from proxx_exec.canonical import sha256_hex
from proxx_exec.engines import identify_engine
from proxx_exec.expected import ExpectedOutput
from proxx_exec.failures import JobFailure, clip_label
from proxx_exec.files import file_fingerprint, write_new_file
from proxx_exec.naming import poster_path, posters_dir
from proxx_exec.plan import COMMON_INPUT_ARGS, ENGINE_PROGRAM
from proxx_exec.process import run_engine
from proxx_exec.result import ClipResult, ClipState, ExecutionResult

POSTER_MAX_WIDTH = 320  # pixels: a thumbnail an editor recognises a shot by
POSTER_SCALER = "bicubic"
POSTER_TIMEOUT_S = 120  # one seek and one decoded frame
# What FFmpeg's scale filter calls each YCbCr matrix a proxy can be tagged with.
_RGB_MATRICES = frozenset(
    {"bt709", "smpte170m", "bt470bg", "bt601", "fcc", "smpte240m", "bt2020nc", "bt2020"}
)

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class PosterPlan(BaseModel):
    """How one proxy's poster is made: which frame, where, and the exact command."""

    model_config = _FROZEN

    index: int = Field(description="0-based clip index, as in the result.")
    proxy: str
    path: str = Field(description="Where the poster is kept.")
    frame: int | None = Field(
        description="0-based index of the frame shown (None: variable frame rate, where the "
        "frame is the first one at or after `seek`)."
    )
    seek: str | None = Field(description="Seconds sought to before decoding (None: frame 0).")
    width: int
    height: int
    argv: tuple[str, ...] = Field(description="argv[0] is the engine's program name.")


class Poster(BaseModel):
    """What became of one proxy's poster."""

    model_config = _FROZEN

    index: int
    source: str
    proxy: str
    path: str | None = Field(description="The poster file; None when none was made.")
    frame: int | None
    frame_count: int
    timecode: str | None = Field(description="The proxy's start timecode.")
    sha256: str | None
    bytes: int | None
    problem: str | None = Field(description="Why there is no poster; None when there is one.")


class PosterSet(BaseModel):
    """The posters of one COMPLETED job and its contact sheet. Never part of its result."""

    model_config = _FROZEN

    job_id: str
    folder: str
    contact_sheet: str | None = Field(description="The contact sheet file, when written.")
    posters: tuple[Poster, ...]
    problem: str | None = Field(description="Why no poster of the job could be made.")

    @property
    def problems(self) -> list[str]:
        """Everything that went wrong, in plain words, job first, then clip by clip."""
        found = [self.problem] if self.problem else []
        return found + [
            f"{clip_label(p.index)}: {p.problem}" for p in self.posters if p.problem is not None
        ]


def _even(value: Fraction) -> int:
    """The nearest even number of pixels (at least 2), halves rounded up."""
    return max(2, 2 * math.floor(value / 2 + Fraction(1, 2)))


def poster_size(expected: ExpectedOutput) -> tuple[int, int]:
    """The poster's pixels: the proxy's display shape (pixel aspect applied), at most
    POSTER_MAX_WIDTH wide, both sides even."""
    display_width = expected.width * Fraction(expected.sample_aspect_ratio)
    width = _even(min(Fraction(POSTER_MAX_WIDTH), display_width))
    return width, _even(width * expected.height / display_width)


def _seconds(value: Fraction) -> str:
    """Seconds as FFmpeg parses them exactly: whole microseconds, rounded down."""
    micro = math.floor(value * 1_000_000)
    sign, micro = ("-", -micro) if micro < 0 else ("", micro)
    return f"{sign}{micro // 1_000_000}.{micro % 1_000_000:06d}"


def poster_frame(expected: ExpectedOutput) -> tuple[int | None, str | None]:
    """The frame a poster shows: the middle one by index, frame_count // 2. At a constant rate
    the seek lands half a frame before it, so no rounding can pick a neighbour; at a variable
    rate, the first frame at or after the middle of the clip's time span."""
    middle = expected.frame_count // 2
    if middle == 0:
        return 0, None
    first, last = Fraction(expected.first_time), Fraction(expected.last_time)
    if expected.frame_rate is None:
        return None, _seconds((first + last) / 2)
    return middle, _seconds(first + (middle - Fraction(1, 2)) / Fraction(expected.frame_rate))


def plan_poster(result: ExecutionResult, clip: ClipResult) -> PosterPlan:
    """The poster of one committed clip of a COMPLETED result; ValueError when it has none."""
    expected = clip.expected
    if result.spec is None or clip.output is None or expected is None:
        raise ValueError("the clip was never planned")
    if clip.state is not ClipState.COMMITTED:
        raise ValueError(f"its proxy is {clip.state.value}, not committed")
    decoder = bitexact.decoder_for(expected.video_codec)
    if decoder is None:
        raise ValueError(f"proxx knows no bit-exact decoder for {expected.video_codec}")
    matrix, colour_range = expected.color[2], expected.color[3]
    if matrix not in _RGB_MATRICES:
        raise ValueError(f"its colour matrix {matrix} has no RGB conversion in the engine")
    width, height = poster_size(expected)
    frame, seek = poster_frame(expected)
    path = poster_path(result.spec.output_dir, result.spec.job_id, clip.index, clip.output)
    argv = [
        ENGINE_PROGRAM,
        *COMMON_INPUT_ARGS,
        *bitexact.DECODER_OPTIONS,
        "-c:v",
        decoder,
    ]
    if seek is not None:
        # -ss as an absolute timestamp of the stream, not an offset from the file's start.
        argv += ["-seek_timestamp", "1", "-ss", seek]
    argv += [
        "-i",
        "file:" + clip.output,
        "-map",
        "0:v:0",
        "-frames:v",
        "1",
        "-filter:v",
        f"scale={width}:{height}:flags={POSTER_SCALER}+{bitexact.SCALER_FLAGS}"
        f":in_range={colour_range}:out_range=pc:in_color_matrix={matrix},"
        "format=rgb24,setsar=1",
        "-c:v",
        "png",
        "-flags:v",
        "+bitexact",
        "-fflags",
        "+bitexact",
        "-f",
        "image2",
        "-update",
        "1",
    ]
    return PosterPlan(
        index=clip.index,
        proxy=clip.output,
        path=path,
        frame=frame,
        seek=seek,
        width=width,
        height=height,
        argv=(*argv, "file:" + path),
    )


def _make_one(binary: Path, plan: PosterPlan, clip: ClipResult) -> tuple[str, int]:
    """Check the proxy is the verified one, run the engine once into a private folder, and
    write the poster into place (never over an existing file). Raises ValueError or OSError."""
    _, proxy_digest = file_fingerprint(Path(plan.proxy))
    if proxy_digest != clip.output_sha256:
        raise ValueError("the proxy is no longer the verified file (its SHA-256 changed)")
    target = Path(plan.path)
    if target.exists():
        raise ValueError(f"{target.name} already exists; posters are never overwritten")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".poster-") as private:
        temp = Path(private) / "poster.png"
        outcome = run_engine(binary, (*plan.argv[:-1], "file:" + str(temp)), POSTER_TIMEOUT_S)
        if not outcome.succeeded or not temp.is_file() or temp.stat().st_size == 0:
            why = outcome.start_error or (
                "timed out" if outcome.timed_out else f"exit status {outcome.exit_code}"
            )
            last = (outcome.stderr_tail.strip().splitlines() or [""])[-1]
            raise ValueError(f"the engine made no poster ({why}) {last}".strip())
        data = temp.read_bytes()
        write_new_file(target, data)  # whole, and never over another file
    return sha256_hex(data), len(data)


def unmade_poster(clip: ClipResult) -> Poster:
    """A clip's poster before it is made: what the clip says, no file yet."""
    expected = clip.expected
    return Poster(
        index=clip.index,
        source=clip.source,
        proxy=clip.output or "",
        path=None,
        frame=None,
        frame_count=expected.frame_count if expected else 0,
        timecode=expected.timecode if expected else None,
        sha256=None,
        bytes=None,
        problem=None,
    )


def _poster(binary: Path, result: ExecutionResult, clip: ClipResult) -> Poster:
    made = unmade_poster(clip)
    try:
        plan = plan_poster(result, clip)
        digest, size = _make_one(binary, plan, clip)
    except (ValueError, OSError) as error:
        return made.model_copy(update={"problem": str(error)})
    return made.model_copy(
        update={"path": plan.path, "frame": plan.frame, "sha256": digest, "bytes": size}
    )


def make_posters(result: ExecutionResult) -> PosterSet:
    """A poster per committed proxy of a COMPLETED result, made with its engine. Never raises
    for a poster's own trouble: each problem is reported in the PosterSet, and the result is
    not touched."""
    spec = result.spec
    if spec is None or not result.completed or result.engine is None:
        return PosterSet(
            job_id=result.job_id or "",
            folder="",
            contact_sheet=None,
            posters=(),
            problem="posters are made only of a COMPLETED job's proxies",
        )
    folder = posters_dir(spec.output_dir, spec.job_id)

    def failed(problem: str) -> PosterSet:
        return PosterSet(
            job_id=spec.job_id, folder=folder, contact_sheet=None, posters=(), problem=problem
        )

    try:
        identity, binary = identify_engine(spec.engine)
    except JobFailure as error:
        return failed(f"the job's engine cannot run: {error.message}")
    if identity.sha256 != result.engine.sha256:
        return failed(
            f"the engine at {binary} is not the one that made the proxies (SHA-256 "
            f"{identity.sha256[:16]}…, the result records {result.engine.sha256[:16]}…)"
        )
    try:
        Path(folder).mkdir(exist_ok=True)
    except OSError as error:
        return failed(f"cannot make the folder {folder}: {error.strerror or error}")
    posters = tuple(_poster(binary, result, clip) for clip in result.clips)
    return PosterSet(
        job_id=spec.job_id, folder=folder, contact_sheet=None, posters=posters, problem=None
    )
