"""Other x86-64 machines, simulated with the same engine binary.

FFmpeg's global `-cpuflags` limits the SIMD paths of its own libraries (decoders, swscale,
swresample, encoders); x264 detects the CPU itself, so its `asm` parameter is limited too. A
level asks only for features this machine has: x264 would crash on an instruction it lacks.
Used by tests only: a production argv never carries either (test_bitexact checks that).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# x264's CPU flag bits (x264.h: X264_CPU_*) and the /proc/cpuinfo flag that stands for each.
_X264_BITS = {
    "mmx": 0x1,
    "sse": 0x2 | 0x4,  # MMX2 (MMXEXT) comes with SSE
    "sse2": 0x8,
    "abm": 0x10,  # LZCNT
    "pni": 0x20,  # SSE3
    "ssse3": 0x40,
    "sse4_1": 0x80,
    "sse4_2": 0x100,
    "avx": 0x200,
    "fma": 0x1000,
    "bmi1": 0x2000,
    "bmi2": 0x4000,
    "avx2": 0x8000,
}
_X264_AVX512 = 0x10000
_X264_UP_TO_AVX = 0x3FF  # MMX ... AVX, no FMA3/AVX2/AVX-512
_X264_UP_TO_AVX2 = _X264_UP_TO_AVX | 0x1000 | 0x2000 | 0x4000 | 0x8000


def host_cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def host_x264_mask(flags: set[str]) -> int:
    mask = 0
    for flag, bits in _X264_BITS.items():
        if flag in flags:
            mask |= bits
    if {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        mask |= _X264_AVX512
    return mask


@dataclass(frozen=True)
class SimulatedCpu:
    name: str
    cpuflags: str | None  # FFmpeg's -cpuflags value; None: this machine as it is
    x264_asm: int | None  # x264's asm mask; None: x264's own detection

    def argv(self, argv: tuple[str, ...]) -> tuple[str, ...]:
        """The same command as this CPU would run it."""
        out = list(argv)
        if self.x264_asm is not None and "-x264-params" in out:
            at = out.index("-x264-params") + 1
            out[at] = f"{out[at]}:asm={self.x264_asm}"
        if self.cpuflags is not None:
            out[1:1] = ["-cpuflags", self.cpuflags]
        return tuple(out)


def simulated_cpus() -> list[SimulatedCpu]:
    """No SIMD; SSE2 only (the x86-64 baseline); up to AVX (no AVX2, AVX-512 or FMA3); up to
    AVX2 (no AVX-512), where this machine has AVX-512; and this machine as it is."""
    flags = host_cpu_flags()
    host = host_x264_mask(flags)
    cpus = [
        SimulatedCpu("no SIMD", "0", 0),
        SimulatedCpu("SSE2 only", "mmx+mmxext+sse+sse2", 0xF & host),
        SimulatedCpu("no AVX2/AVX-512/FMA3", "-avx2-avx512-avx512icl-fma3", _X264_UP_TO_AVX & host),
    ]
    if "avx512f" in flags:
        cpus.append(SimulatedCpu("AVX2, no AVX-512", "-avx512-avx512icl", _X264_UP_TO_AVX2 & host))
    cpus.append(SimulatedCpu("this machine", None, None))
    return cpus
