"""Bake the built-in looks' .cube LUTs from OpenColorIO's built-in studio config. Run ONCE, by a
developer, never per machine: `python -m proxx_exec.looks.bake` (needs the `bake` extra,
`opencolorio==2.6.0`), then copy the SHA-256 it prints into `builtin.BUILTIN_LOOKS`.

Each LUT is OCIO's processor sampled on a 33-point grid (red fastest, as the .cube format
orders it), clamped to [0, 1] and written with six decimals. The shipped files are the
contract: the plan names them by SHA-256 and a test checks the shipped bytes; baking again is
only for adding a look (OCIO computes with CPU-specific SIMD, so a re-bake elsewhere may round
one value differently, which is why the files are shipped instead).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import sys
from pathlib import Path
from typing import Any

from proxx_exec.looks.builtin import BUILTIN_LOOKS, LUT_DIR, LUT_SIZE, OCIO_CONFIG, OCIO_VERSION

_SDR_DISPLAY = ("Rec.1886 Rec.709 - Display", "ACES 2.0 - SDR 100 nits (Rec.709)")


def _processor(ocio: Any, config: Any, source: str) -> Any:
    """The OCIO processor of one look: a camera colour space, or an HDR display's picture
    taken back to the scene (inverse ACES 2.0 output transform), rendered for Rec.1886."""
    if source.startswith("display:"):
        display, view = source.removeprefix("display:").split("|")
        back = ocio.DisplayViewTransform(
            src="ACES2065-1",
            display=display,
            view=view,
            direction=ocio.TRANSFORM_DIR_INVERSE,
        )
        forward = ocio.DisplayViewTransform(
            src="ACES2065-1", display=_SDR_DISPLAY[0], view=_SDR_DISPLAY[1]
        )
        group = ocio.GroupTransform([back, forward])
        return config.getProcessor(group)
    return config.getProcessor(source, _SDR_DISPLAY[0], _SDR_DISPLAY[1], ocio.TRANSFORM_DIR_FORWARD)


def cube_text(title: str, samples: list[float]) -> str:
    lines = [f'TITLE "{title}"', f"LUT_3D_SIZE {LUT_SIZE}"]
    for at in range(0, len(samples), 3):
        lines.append(" ".join(f"{min(1.0, max(0.0, value)):.6f}" for value in samples[at : at + 3]))
    return "\n".join(lines) + "\n"


def bake(folder: Path) -> dict[str, str]:
    """Write every built-in look's .cube into `folder`; their SHA-256 by file name."""
    try:
        ocio: Any = importlib.import_module("PyOpenColorIO")  # a bake-time dependency only
    except ImportError:
        sys.exit(f"baking needs OpenColorIO {OCIO_VERSION}: pip install 'proxx-dagster[bake]'")

    if ocio.__version__ != OCIO_VERSION:
        sys.exit(f"bake with OpenColorIO {OCIO_VERSION}; this is {ocio.__version__}")
    config = ocio.Config.CreateFromBuiltinConfig(OCIO_CONFIG)
    grid = [
        value / (LUT_SIZE - 1)
        for blue in range(LUT_SIZE)
        for green in range(LUT_SIZE)
        for red in range(LUT_SIZE)
        for value in (red, green, blue)
    ]
    digests = {}
    for name, look in BUILTIN_LOOKS.items():
        cpu = _processor(ocio, config, look.ocio_source).getOptimizedCPUProcessor(
            ocio.OPTIMIZATION_LOSSLESS
        )
        samples = cpu.applyRGB(list(grid))  # a list comes back as a new list
        text = cube_text(f"proxx {name}: {look.description}", samples)
        (folder / look.file).write_text(text, encoding="ascii")
        digests[look.file] = hashlib.sha256(text.encode("ascii")).hexdigest()
    return digests


def main() -> None:
    # argparse, so `--help` is answered, never taken for the folder to write LUTs into
    parser = argparse.ArgumentParser(
        prog="python -m proxx_exec.looks.bake", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument(
        "folder", type=Path, nargs="?", default=LUT_DIR, help="where the .cube files go"
    )
    folder = parser.parse_args().folder
    for file, digest in bake(folder).items():
        print(f"{digest}  {file}")


if __name__ == "__main__":
    main()
