"""The built-in looks: camera log curves and HDR pictures to Rec.709, as .cube LUTs shipped in
this package with their SHA-256 (baked once by `proxx_exec.looks.bake`, never per machine)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from proxx_exec.looks import PICTURE_DATA

LUT_DIR = PICTURE_DATA / "luts"
LUT_SIZE = 33
OCIO_VERSION = "2.6.0"
OCIO_CONFIG = "studio-config-v5.0.0_aces-v2.1_ocio-v2.6"
HLG = "arib-std-b67"
PQ = "smpte2084"
# What every look gives: ITU-R BT.709 primaries and matrix, BT.1886 display (tagged bt709).
REC709_TAGS = ("bt709", "bt709", "bt709")


@dataclass(frozen=True)
class BuiltinLook:
    file: str
    sha256: str
    description: str  # what the LUT expects and does, in words
    ocio_source: str  # the OCIO colour space (or HDR display|view) the bake starts from
    hdr_transfer: str | None = None  # the transfer tag an HDR look's source must carry

    @property
    def name(self) -> str:
        """How the plan names the LUT: relative to the engine's working folder (PICTURE_DATA)."""
        return f"luts/{self.file}"

    @property
    def path(self) -> Path:
        return LUT_DIR / self.file


def _camera(file: str, sha256: str, space: str) -> BuiltinLook:
    return BuiltinLook(
        file,
        sha256,
        f"{space} (full-range code values) to Rec.709, ACES 2.0 SDR 100 nits output transform",
        space,
    )


def _hdr(file: str, sha256: str, display: str, view: str, transfer: str) -> BuiltinLook:
    return BuiltinLook(
        file,
        sha256,
        f"{display.removesuffix(' - Display')} to Rec.709: tone-mapped by the ACES 2.0 output "
        f"transforms ({view} inverted, then SDR 100 nits Rec.709)",
        f"display:{display}|{view}",
        transfer,
    )


BUILTIN_LOOKS: MappingProxyType[str, BuiltinLook] = MappingProxyType(
    {
        "sony_slog3_sgamut3cine_to_rec709": _camera(
            "sony_slog3_sgamut3cine_to_rec709.cube",
            "c7a1442713e389579ba2f52b5ef278016eea4058054ba8418cd7531abbdfa3a4",
            "S-Log3 S-Gamut3.Cine",
        ),
        "sony_slog3_sgamut3_to_rec709": _camera(
            "sony_slog3_sgamut3_to_rec709.cube",
            "4c5ba8af9e8c1268d69ac9d5d86023fc3d994e4dca063c9505665d7ff8b03e4f",
            "S-Log3 S-Gamut3",
        ),
        "arri_logc3_ei800_to_rec709": _camera(
            "arri_logc3_ei800_to_rec709.cube",
            "a4393c2bb5d9f1361df4fc0d9b47b38f9235f1c62612779c6316d7b7bc3d8a61",
            "ARRI LogC3 (EI800)",
        ),
        "arri_logc4_to_rec709": _camera(
            "arri_logc4_to_rec709.cube",
            "c66e0024a4f54505906d8a29b84c1fd2fcac4921dbb41c74eb0b7542b251cf9f",
            "ARRI LogC4",
        ),
        "canon_log3_cinema_gamut_to_rec709": _camera(
            "canon_log3_cinema_gamut_to_rec709.cube",
            "c0fdcfd245ca74c9eef01bf19cdcf6d28c5d0a43dd8fc891b3e649a9efca4006",
            "CanonLog3 CinemaGamut D55",
        ),
        "panasonic_vlog_vgamut_to_rec709": _camera(
            "panasonic_vlog_vgamut_to_rec709.cube",
            "457d108e5f69dd0c343e4efa46f389fd1b617f8828e6456d58caaa56e477ee99",
            "V-Log V-Gamut",
        ),
        "bmd_film_widegamut_gen5_to_rec709": _camera(
            "bmd_film_widegamut_gen5_to_rec709.cube",
            "d802f2510baccd040f58c47072da0b0b6328323437d6c8dd1cce0e9988e85034",
            "BMDFilm WideGamut Gen5",
        ),
        "hlg_to_rec709": _hdr(
            "hlg_to_rec709.cube",
            "92f25efff494f7d18bd7b5360c48b502495f4bceb69585629374eac40df56b7b",
            "Rec.2100-HLG - Display",
            "ACES 2.0 - HDR 1000 nits (P3 D65)",
            HLG,
        ),
        "pq_to_rec709": _hdr(
            "pq_to_rec709.cube",
            "969769774a30f201d9cd4b2af9c76ffb45224f69b8912d2e4110151361afc4f6",
            "Rec.2100-PQ - Display",
            "ACES 2.0 - HDR 1000 nits (Rec.2020)",
            PQ,
        ),
    }
)
