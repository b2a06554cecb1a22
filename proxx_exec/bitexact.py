"""Which stages of a plan give the same bytes on every x86-64 CPU, and the options that make them.

FFmpeg picks SIMD code paths at run time. Integer decoders and encoders give the same result on
every path; floating-point ones (the default AAC and AC-3 decoders, the AAC encoder) do not, and
some integer stages pick a different algorithm per CPU unless told not to (x264's SSSE3 intra
analysis, the DNxHD encoder's SSE2 DCT, swscale without `accurate_rnd+bitexact`). This module is
the one place that knows which is which; `tests/invariants/test_bitexact.py` proves each claim
by running plans under simulated CPUs (FFmpeg's `-cpuflags`, x264's `asm`).
"""

from __future__ import annotations

from types import MappingProxyType

# Source codec -> the decoder that gives the same samples on every CPU. Video decoders of these
# codecs are integer-exact (by their standards, or lossless; with FFmpeg's bit-exact flag and
# the simple IDCT); for AAC, AC-3, MP3 and MP2 only the fixed-point decoders are; PCM is a copy.
_PCM = (
    "pcm_s16le",
    "pcm_s16be",
    "pcm_s24le",
    "pcm_s24be",
    "pcm_s32le",
    "pcm_s32be",
    "pcm_u8",
    "pcm_s8",
)
BITEXACT_DECODERS: MappingProxyType[str, str] = MappingProxyType(
    {
        "h264": "h264",
        "hevc": "hevc",
        "prores": "prores",
        "dnxhd": "dnxhd",
        "mpeg2video": "mpeg2video",
        "mjpeg": "mjpeg",
        "ffv1": "ffv1",
        "aac": "aac_fixed",
        "ac3": "ac3_fixed",
        "mp3": "mp3",
        "mp2": "mp2",
        **{codec: codec for codec in _PCM},
    }
)

# Decoder options given before `-i`: FFmpeg's bit-exact mode and the C simple IDCT, as FATE uses.
DECODER_OPTIONS: tuple[str, ...] = (
    "-flags:v",
    "+bitexact",
    "-flags:a",
    "+bitexact",
    "-idct:v",
    "simple",
)

# swscale flags appended to the profile's scaling algorithm. `flags=` inside the scale filter
# replaces any global -sws_flags, so they are always written into the filter itself.
SCALER_FLAGS = "accurate_rnd+bitexact+full_chroma_int"

# The pixel format a 3D LUT is applied in. FFmpeg's lut3d interpolates planar float and planar
# 16-bit input with CPU-specific SIMD (SSE2/AVX/AVX2 tetrahedral code that rounds unlike C), but
# packed RGB with its plain C code on every CPU: the picture is converted to packed 16-bit RGB
# (by swscale, with SCALER_FLAGS) before `lut3d` and back after it.
LUT3D_INPUT = "rgb48le"

# Encoder options that make an encoder's bytes independent of the CPU.
ENCODER_OPTIONS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        # x264 uses faster, different intra analysis where SSSE3 exists, and SIMD macroblock-tree
        # arithmetic that rounds differently; cpu-independent turns both off.
        "libx264": ("-x264-params", "cpu-independent=1"),
        # The default DCT on x86 is an SSE2 one that rounds unlike the C integer DCT.
        "dnxhd": ("-dct", "int"),
        "prores_ks": ("-dct", "int"),
    }
)

# Encoders whose output depends on the CPU whatever the options (floating point + SIMD).
CPU_DEPENDENT_ENCODERS: MappingProxyType[str, str] = MappingProxyType(
    {"aac": "FFmpeg's AAC encoder computes in floating point with CPU-specific SIMD"}
)


def decoder_for(codec: str) -> str | None:
    """The bit-exact decoder for a source codec, or None when proxx knows none."""
    return BITEXACT_DECODERS.get(codec)
