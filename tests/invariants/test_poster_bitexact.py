"""Same proxy + same engine -> the same poster PNG bytes on every x86-64 CPU the engine meets.

Each built-in profile's proxies of sources of several shapes (10-bit 4:2:2, full-range, alpha,
interlaced HD, untagged SD) get their posters made under the simulated CPUs of `test_bitexact`;
every poster must be byte-identical to the one proxx made. The harness has teeth here too:
without the bit-exact scaler flags the same command gives different bytes on the simulated CPUs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from proxx_exec import BUILTIN_PROFILES, Status, execute
from proxx_exec.bitexact import SCALER_FLAGS
from proxx_exec.tools.posters import make_posters, plan_poster
from tests.corpus import Corpus
from tests.helpers import sha256
from tests.invariants.simulated_cpus import simulated_cpus
from tests.invariants.test_bitexact import run_as, spec_for

SOURCES = (
    "hevc10_422_aac_51.mov",
    "mjpeg_full_range_pcm16be.mov",
    "prores4444_alpha.mov",
    "xdcam_1080i50_four_mono.mxf",
    "bt601_sd_untagged.mov",
)


@pytest.mark.parametrize("profile", sorted(BUILTIN_PROFILES))
def test_every_poster_is_the_same_on_every_cpu(
    profile: str, corpus: Corpus, tmp_path: Path
) -> None:
    result = execute(spec_for([corpus[n] for n in SOURCES], tmp_path / "out", profile))
    assert result.status is Status.COMPLETED, result.failure
    posters = make_posters(result)
    assert posters.problems == []
    differing = {}
    for clip, poster in zip(result.clips, posters.posters, strict=True):
        assert poster.path is not None
        argv = plan_poster(result, clip).argv
        assert "-cpuflags" not in argv  # a simulated CPU is a test device only
        made = sha256(Path(poster.path))
        digests = {
            cpu.name: run_as(cpu, argv, tmp_path / f"{clip.index}-{n}.png")
            for n, cpu in enumerate(simulated_cpus())
        }
        if set(digests.values()) != {made}:
            differing[Path(clip.source).name] = digests
    assert differing == {}


def test_without_the_bitexact_scaler_the_posters_differ(corpus: Corpus, tmp_path: Path) -> None:
    """The simulation reaches the poster's scaler: the default swscale paths round per CPU."""
    result = execute(spec_for([corpus["hevc10_422_aac_51.mov"]], tmp_path / "out", "h264_half"))
    assert result.status is Status.COMPLETED, result.failure
    argv = plan_poster(result, result.clips[0]).argv
    assert any(f"+{SCALER_FLAGS}" in arg for arg in argv)
    plain = tuple(arg.replace(f"+{SCALER_FLAGS}", "") for arg in argv)
    digests = {
        cpu.name: run_as(cpu, plain, tmp_path / f"plain-{n}.png")
        for n, cpu in enumerate(simulated_cpus())
    }
    assert len(set(digests.values())) > 1, digests
