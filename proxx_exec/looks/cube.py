"""Reading a .cube 3D LUT (Adobe/Resolve format) as FFmpeg's `lut3d` will read it, strictly:
anything lut3d would read differently from what the file means, or not at all, is refused with
the line that is wrong."""

from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

MAX_CUBE_BYTES = 64 * 1024 * 1024
MIN_SIZE, MAX_SIZE = 2, 129  # lut3d reads up to 256 points a side; 129 is the largest in use


# How FFmpeg's lut3d reads a .cube (libavfilter/vf_lut3d.c, parse_cube), which these rules follow:
# - lines are read by fgets into 512 bytes: a longer line is read as two, so one is refused;
# - only `\n` ends a line, and C's isspace (space, tab, CR, VT, FF) separates words;
# - keywords count only at the start of a line; before LUT_3D_SIZE every line is ignored, so a
#   DOMAIN line there is not read (only the default one means the same);
# - LUT_3D_SIZE is read by strtol with base 0: `033` is 27 (octal), so a leading 0 is refused;
# - DOMAIN_MIN/MAX (a space after MIN/MAX) only scale the input by 1/(max - min), clipped to
#   at most 1: DOMAIN_MIN must be 0 0 0 and DOMAIN_MAX at least 1 to be read as meant;
# - a value is read by scanf's %f: a plain decimal number is read alike by both (Python's float
#   would also take `1_0`, which %f reads as 1).
MAX_LINE = 510  # characters before the `\n`: fgets into 512 bytes reads 511 with the `\n`
_SPACE = re.compile(r"[ \t\r\v\f]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SIZE = re.compile(r"[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


class CubeProblem(ValueError):
    """Why a .cube file cannot be a look, in plain words (the line, when one is wrong)."""


@dataclass(frozen=True)
class Cube:
    size: int
    title: str | None
    sha256: str


def _numbers(words: list[str], count: int, line: int, what: str) -> tuple[float, ...]:
    if len(words) != count:
        raise CubeProblem(f"line {line}: {what} needs {count} numbers, found {len(words)}")
    values = []
    for word in words:
        if not _NUMBER.fullmatch(word):
            raise CubeProblem(f"line {line}: {word!r} is not a number")
        value = float(word)
        if not math.isfinite(value):
            raise CubeProblem(f"line {line}: {word!r} is not a finite number")
        values.append(value)
    return tuple(values)


@dataclass
class _Reading:
    size: int | None = None
    title: str | None = None
    rows: int = 0
    last: int = 0


_DOMAIN = {"DOMAIN_MIN": (0.0, 0.0, 0.0), "DOMAIN_MAX": (1.0, 1.0, 1.0)}


def _keyword(
    words: list[str], raw: str, number: int, reading: _Reading, domain: dict[str, tuple[float, ...]]
) -> None:
    keyword = words[0]
    if reading.rows:
        raise CubeProblem(f"line {number}: {keyword} after the table of values")
    if raw[:1] in " \t\r\v\f":
        raise CubeProblem(
            f"line {number}: {keyword} does not start the line (FFmpeg reads a keyword only there)"
        )
    if keyword == "TITLE":
        reading.title = raw.strip()[len("TITLE") :].strip().strip('"')
    elif keyword == "LUT_3D_SIZE":
        if reading.size is not None:
            raise CubeProblem(f"line {number}: a second LUT_3D_SIZE")
        if len(words) != 2 or not _SIZE.fullmatch(words[1]):
            raise CubeProblem(
                f"line {number}: LUT_3D_SIZE needs one whole number, without a leading 0 "
                "(FFmpeg reads 033 as octal, 27)"
            )
        reading.size = int(words[1])
        if not MIN_SIZE <= reading.size <= MAX_SIZE:
            raise CubeProblem(
                f"line {number}: LUT_3D_SIZE {reading.size} is outside {MIN_SIZE}..{MAX_SIZE}"
            )
    elif keyword in domain:
        values = _numbers(words[1:], 3, number, keyword)
        if reading.size is None and values != _DOMAIN[keyword]:
            raise CubeProblem(
                f"line {number}: {keyword} before LUT_3D_SIZE, where FFmpeg does not read it: "
                "put it after LUT_3D_SIZE"
            )
        if raw[len(keyword)] != " ":
            raise CubeProblem(f"line {number}: {keyword} must be followed by a space")
        domain[keyword] = values
    elif keyword == "LUT_1D_SIZE":
        raise CubeProblem(
            f"line {number}: a 1D LUT (or a 1D shaper before the 3D table); a look is one 3D LUT"
        )
    else:
        raise CubeProblem(f"line {number}: unknown keyword {keyword!r}")


def parse_cube(data: bytes) -> Cube:
    """The LUT's size and title; CubeProblem naming the line that is wrong."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CubeProblem(f"line {line}: not plain ASCII text (a .cube file is)") from None
    reading = _Reading()
    domain: dict[str, tuple[float, ...]] = dict(_DOMAIN)
    for number, raw in enumerate(text.split("\n"), start=1):
        if len(raw) > MAX_LINE:
            raise CubeProblem(
                f"line {number}: longer than {MAX_LINE} characters (FFmpeg would read it as two)"
            )
        if "\r" in raw.removesuffix("\r"):
            raise CubeProblem(
                f"line {number}: a carriage return inside the line: FFmpeg ends lines only at "
                "\\n (CR-only line ends are not read)"
            )
        control = _CONTROL.search(raw)
        if control:
            raise CubeProblem(f"line {number}: a control character {control.group()!r}")
        words = _SPACE.split(raw.strip(" \t\r\v\f")) if raw.strip(" \t\r\v\f") else []
        if not words or words[0].startswith("#"):
            continue
        reading.last = number
        if words[0][0].isalpha():
            _keyword(words, raw, number, reading, domain)
            continue
        if reading.size is None:
            raise CubeProblem(f"line {number}: values before LUT_3D_SIZE")
        _numbers(words, 3, number, "a row of the table")
        reading.rows += 1
        if reading.rows > reading.size**3:
            raise CubeProblem(f"line {number}: more rows than LUT_3D_SIZE {reading.size} allows")
    size = reading.size
    if size is None:
        raise CubeProblem("no LUT_3D_SIZE line: not a 3D LUT")
    if reading.rows < size**3:
        raise CubeProblem(
            f"line {reading.last}: the table ends after {reading.rows} rows; LUT_3D_SIZE {size} "
            f"needs {size**3}"
        )
    low, high = domain["DOMAIN_MIN"], domain["DOMAIN_MAX"]
    if low != _DOMAIN["DOMAIN_MIN"] or any(value < 1 for value in high):
        raise CubeProblem(
            f"DOMAIN_MIN {low} and DOMAIN_MAX {high}: FFmpeg reads a domain from 0 0 0 to at "
            "least 1 1 1 as meant, no other (it only scales the input by 1/(max - min), at most 1)"
        )
    return Cube(size=size, title=reading.title, sha256=hashlib.sha256(data).hexdigest())


def read_cube(path: Path) -> Cube:
    """Read and check a .cube file; CubeProblem in plain words otherwise."""
    try:
        if not path.exists():
            raise CubeProblem("does not exist")
        if not path.is_file():
            raise CubeProblem("is not a file")
        if not os.access(path, os.R_OK):
            raise CubeProblem("cannot be read by this user: check its permissions")
        with path.open("rb") as handle:
            data = handle.read(MAX_CUBE_BYTES + 1)
    except OSError as error:
        raise CubeProblem(f"cannot be read: {error.strerror or error}") from None
    if len(data) > MAX_CUBE_BYTES:
        raise CubeProblem(f"is larger than {MAX_CUBE_BYTES} bytes: not a look LUT")
    return parse_cube(data)
