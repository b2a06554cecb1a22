"""What a look and burn-ins do to the picture, written as FFmpeg filters; what the plan and the
result record of them (the LUT's and the font's SHA-256).

Bit-exactness (see `bitexact.LUT3D_INPUT`): the LUT is applied by `lut3d` to PACKED 16-bit RGB,
which FFmpeg computes with its plain C code on every CPU; the conversions into and out of it
are swscale's with the bit-exact flags. Burn-ins are drawn by `drawtext` with the font shipped
in this package (never looked up through fontconfig). Shipped files are named relative to the
engine's working folder, `PICTURE_DATA`, so the commands do not depend on where proxx is installed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from proxx_exec.looks import PICTURE_DATA, shipped_file
from proxx_exec.looks.builtin import BUILTIN_LOOKS, REC709_TAGS
from proxx_exec.looks.cube import CubeProblem, read_cube

FONT_NAME = "fonts/DejaVuSansMono.ttf"  # relative to the engine's working folder
FONT_FILE = PICTURE_DATA / FONT_NAME
FONT_SHA256 = "0f5db4f1749979d961019838b160bec74abdf7f9eca69553fe1aa856bbff49a4"
USER_CUBE = "cube"

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class AppliedLook(BaseModel):
    """The look a clip's picture went through, as the plan and the result record it."""

    model_config = _FROZEN

    look: str = Field(description="A built-in look's name, or \"cube\" for the user's LUT.")
    lut: str = Field(
        description="The .cube file applied: the user's absolute path, or a shipped LUT's name "
        "relative to the engine's working folder (the package's picture data)."
    )
    lut_sha256: str = Field(description="SHA-256 of the .cube file's bytes, read at validation.")
    colour: tuple[str, str, str] = Field(description="Primaries, transfer, matrix it gives.")


class AppliedBurnIns(BaseModel):
    """The text burnt into a clip's picture."""

    model_config = _FROZEN

    items: tuple[str, ...]
    font: str = Field(
        description="The font file drawn with, relative to the engine's working folder."
    )
    font_sha256: str
    font_size: int = Field(description="Pixels, chosen from the proxy's height.")


# How a clip's plan and its result carry the look and the burn-ins: left out of the JSON when
# None, so plans and results of jobs without them keep their form and digests.
LookField = Annotated[
    AppliedLook | None,
    Field(
        exclude_if=lambda value: value is None,
        description="The look applied, with its LUT's SHA-256 (None: the picture as it is).",
    ),
]
BurnInsField = Annotated[
    AppliedBurnIns | None,
    Field(
        exclude_if=lambda value: value is None,
        description="The text burnt in, with the font's SHA-256 (None: none).",
    ),
]


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lut_sha256_now(look: AppliedLook) -> str:
    """The SHA-256 of the look's LUT as it is now, or why it cannot be read, in words: compared
    with the one read at validation, since the engine reads the file again."""
    try:
        return file_sha256(shipped_file(look.lut))
    except OSError as error:
        return f"unreadable ({error.strerror or error})"


def resolve_look(look: str, cube: str | None) -> AppliedLook | None:
    """The look named by a JobSpec, its LUT checked; CubeProblem when it cannot be used.
    `look` is "none", a built-in name or "cube" (then `cube` is the user's file)."""
    if look == "none":
        return None
    if look == USER_CUBE:
        assert cube is not None
        try:
            found = read_cube(Path(cube))
        except CubeProblem as problem:
            raise CubeProblem(f"the look's LUT {cube} {problem}") from None
        return AppliedLook(look=USER_CUBE, lut=cube, lut_sha256=found.sha256, colour=REC709_TAGS)
    builtin = BUILTIN_LOOKS[look]
    try:
        digest = file_sha256(builtin.path)
    except OSError as error:
        raise CubeProblem(
            f"the built-in look {look}'s LUT {builtin.path} cannot be read "
            f"({error.strerror or error}): reinstall proxx"
        ) from None
    if digest != builtin.sha256:
        raise CubeProblem(
            f"the built-in look {look}'s LUT {builtin.path} is not the shipped file (SHA-256 "
            f"{digest[:16]}…, shipped {builtin.sha256[:16]}…): reinstall proxx"
        )
    return AppliedLook(look=look, lut=builtin.name, lut_sha256=digest, colour=REC709_TAGS)


def check_shipped_font() -> None:
    """The burn-ins' font is the shipped file, whose SHA-256 the plan records; CubeProblem
    (the picture data is not what was shipped) otherwise."""
    try:
        digest = file_sha256(FONT_FILE)
    except OSError as error:
        raise CubeProblem(
            f"the burn-in font {FONT_FILE} cannot be read ({error.strerror or error}): "
            "reinstall proxx"
        ) from None
    if digest != FONT_SHA256:
        raise CubeProblem(
            f"the burn-in font {FONT_FILE} is not the shipped file (SHA-256 {digest[:16]}…, "
            f"shipped {FONT_SHA256[:16]}…): reinstall proxx"
        )


# --- filter-graph text -------------------------------------------------------------------------


def option_value(text: str) -> str:
    """`text` as one filter option's value inside a filter graph: escaped for the option parser
    (`\\`, `'`, `:` and spaces, which it would trim at either end), then for the graph parser
    (`\\`, `'`, `[`, `]`, `,`, `;`), FFmpeg's two escaping levels."""
    first = "".join("\\" + c if c in "\\': " else c for c in text)
    return "".join("\\" + c if c in "\\'[],;" else c for c in first)


@dataclass(frozen=True)
class PictureSteps:
    """Filters around the scale: `to_rgb` replaces the scale's pixel format target, `look`
    follows it, `burn_ins` follow the final pixel format."""

    look: tuple[str, ...]
    burn_ins: tuple[str, ...]


def look_filters(look: AppliedLook) -> tuple[str, ...]:
    return (f"lut3d=file={option_value(look.lut)}:interp=tetrahedral",)


def font_size(height: int) -> int:
    """A line of text 1/24 of the picture high (at least 10 pixels), even."""
    return max(10, height // 24 // 2 * 2)


@dataclass(frozen=True)
class BurnInFacts:
    clip_name: str
    reel: str | None
    timecode: str  # the source's start timecode, or 00:00:00:00
    rate: str  # the frame rate the timecode counts in, as a fraction
    width: int
    height: int


def burn_in_filters(items: tuple[str, ...], facts: BurnInFacts) -> tuple[str, ...]:
    """One drawtext per item: clip name top left, reel top right, timecode bottom left, frame
    number bottom right; white on a translucent black box, sized from the proxy's height."""
    size = font_size(facts.height)
    margin = size // 2
    common = (
        f"fontfile={option_value(FONT_NAME)}:fontsize={size}:fontcolor=white"
        f":box=1:boxcolor=black@0.6:boxborderw={max(2, size // 5)}"
    )
    top, bottom = f"y={margin}", f"y=h-th-{margin}"
    left, right = f"x={margin}", f"x=w-tw-{margin}"
    filters = []
    for item in items:
        if item == "clip_name":
            text = f"text={option_value(facts.clip_name)}:expansion=none"
            filters.append(f"drawtext={common}:{text}:{left}:{top}")
        elif item == "reel" and facts.reel is not None:
            text = f"text={option_value('REEL ' + facts.reel)}:expansion=none"
            filters.append(f"drawtext={common}:{text}:{right}:{top}")
        elif item == "timecode":
            code = option_value(facts.timecode)
            filters.append(f"drawtext={common}:timecode={code}:rate={facts.rate}:{left}:{bottom}")
        elif item == "frame_number":
            text = option_value("%{frame_num}")
            filters.append(f"drawtext={common}:text={text}:start_number=0:{right}:{bottom}")
    return tuple(filters)


def applied_burn_ins(items: tuple[str, ...], height: int) -> AppliedBurnIns:
    return AppliedBurnIns(
        items=items, font=FONT_NAME, font_sha256=FONT_SHA256, font_size=font_size(height)
    )


def clip_name(path: str) -> str:
    return Path(path).name
