"""Same JobSpec + same engine -> the same bytes on every x86-64 CPU the engine can meet.

Each built-in profile's plan for each source codec is run under simulated CPUs (no SIMD, SSE2
only, no AVX2/AVX-512/FMA3, no AVX-512, this machine) and every output must be byte-identical.
Where a stage cannot be made bit-exact, the plan says so, and that claim is checked too.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from proxx_exec import BUILTIN_PROFILES, JobSpec, Status, execute, validate_job
from proxx_exec.looks import PICTURE_DATA
from proxx_exec.plan import ClipPlan
from proxx_exec.process import ENGINE_ENVIRONMENT
from tests.corpus import CODECS, Corpus
from tests.helpers import REAL_ENGINE
from tests.invariants.simulated_cpus import SimulatedCpu, simulated_cpus


def spec_for(sources: list[Path], output_dir: Path, profile: object) -> JobSpec:
    output_dir.mkdir(exist_ok=True)
    return JobSpec.model_validate(
        {
            "spec_version": "1",
            "job_id": "bitexact",
            "sources": [str(s) for s in sources],
            "output_dir": str(output_dir),
            "profile": profile,
            "naming": "{index}_{source_stem}",
        }
    )


def run_as(cpu: SimulatedCpu, argv: tuple[str, ...], output: Path) -> str:
    """Run an argv as `cpu` would, writing to `output` instead of the staging folder."""
    assert argv[-1].startswith("file:")
    command = cpu.argv((*argv[:-1], f"file:{output}"))
    completed = subprocess.run(
        command,
        executable=REAL_ENGINE,
        env=ENGINE_ENVIRONMENT,
        cwd=PICTURE_DATA,  # as the engine runs: the shipped LUTs and font are named from there
        capture_output=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert completed.returncode == 0, (cpu.name, completed.stderr.decode()[-2000:])
    return hashlib.sha256(output.read_bytes()).hexdigest()


def digests_per_cpu(clip: ClipPlan, folder: Path, machine: bool = True) -> dict[str, str]:
    """Output SHA-256 per simulated CPU; `machine=False` leaves this machine as it is out."""
    suffix = Path(clip.output).suffix
    return {
        cpu.name: run_as(cpu, clip.argv, folder / f"{clip.index}-{n}{suffix}")
        for n, cpu in enumerate(simulated_cpus())
        if machine or cpu.cpuflags is not None
    }


def test_the_simulated_cpus_include_the_baselines() -> None:
    names = [cpu.name for cpu in simulated_cpus()]
    assert names[:3] == ["no SIMD", "SSE2 only", "no AVX2/AVX-512/FMA3"]
    assert names[-1] == "this machine"


@pytest.mark.parametrize("profile", sorted(BUILTIN_PROFILES))
def test_every_profile_gives_the_same_bytes_on_every_cpu(
    profile: str, corpus: Corpus, tmp_path: Path
) -> None:
    """The real job (encoded, verified, committed on this machine) records each proxy's SHA-256;
    every simulated CPU must produce exactly those bytes from the recorded command."""
    sources = [corpus[name] for name in CODECS]
    spec = spec_for(sources, tmp_path / "out", profile)
    plan = validate_job(spec).plan
    assert plan.bitexact, [clip.cpu_dependent for clip in plan.clips]
    result = execute(spec)
    assert result.status is Status.COMPLETED, result.failure
    differing = {}
    for clip, recorded in zip(plan.clips, result.clips, strict=True):
        # A simulated CPU is a test device; production commands never carry one.
        assert "-cpuflags" not in clip.argv
        assert not any("asm=" in arg for arg in clip.argv)
        assert list(clip.argv) == recorded.argv
        digests = digests_per_cpu(clip, tmp_path, machine=False)
        if set(digests.values()) != {recorded.output_sha256}:
            differing[Path(clip.source).name] = {**digests, "recorded": recorded.output_sha256}
    assert differing == {}


def test_the_simulation_changes_what_is_not_made_bit_exact(corpus: Corpus, tmp_path: Path) -> None:
    """The harness has teeth: FFmpeg's default (floating-point) AAC decoder, with nothing else
    changed, gives different samples on the simulated CPUs."""
    source = corpus["h264_aac_stereo.mp4"]
    argv = (
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-i",
        f"file:{source}",
        "-map",
        "0:a",
        "-c:a",
        "pcm_s32le",
        "-f",
        "wav",
        "file:placeholder",
    )
    digests = {
        cpu.name: run_as(cpu, argv, tmp_path / f"{n}.wav") for n, cpu in enumerate(simulated_cpus())
    }
    assert len(set(digests.values())) > 1, digests


def test_a_cpu_dependent_stage_is_declared_and_really_differs(
    corpus: Corpus, tmp_path: Path
) -> None:
    """A custom profile with AAC audio: the plan and the result say which stage depends on the
    CPU, and the simulated CPUs show that it does."""
    custom = {
        "name": "h264_aac_custom",
        "container": "mov",
        "video_codec": "libx264",
        "codec_profile": "high",
        "pix_fmt": "yuv420p",
        "scale_divisor": 2,
        "scaler": "bicubic",
        "threads": 2,
        "crf": 23,
        "preset": "fast",
        "gop": 25,
        "audio_codec": "aac",
        "audio_bitrate_kbps": 128,
    }
    plan = validate_job(
        spec_for([corpus["prores_pcm24_stereo.mov"]], tmp_path / "out", custom)
    ).plan
    assert not plan.bitexact
    (clip,) = plan.clips
    assert clip.cpu_dependent == (
        "audio encoder aac: FFmpeg's AAC encoder computes in floating point with CPU-specific SIMD",
    )
    assert len(set(digests_per_cpu(clip, tmp_path).values())) > 1
