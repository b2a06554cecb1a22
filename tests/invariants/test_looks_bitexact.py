"""Looks and burn-ins keep the promise: the same JobSpec and engine give the same bytes under every
simulated CPU (`test_bitexact`'s harness), for every built-in look, a user's .cube and every
burn-in. The harness has teeth: the same LUT applied to planar float RGB, which FFmpeg's lut3d
computes with CPU-specific SIMD, gives different bytes on the simulated CPUs."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxx_exec import JobSpec, Status, execute, validate_job
from proxx_exec.bitexact import LUT3D_INPUT
from proxx_exec.looks.builtin import BUILTIN_LOOKS, HLG, PQ
from tests.corpus import CODECS, Corpus
from tests.invariants.simulated_cpus import simulated_cpus
from tests.invariants.test_bitexact import digests_per_cpu, run_as, spec_for
from tests.looks_media import make_clip

_SOURCE_FOR = {HLG: "B002C001_hlg.mov", PQ: "C003C001_pq.mov", None: "A001C003_log.mov"}
_CUBE = "LUT_3D_SIZE 3\n" + "\n".join(
    f"{(r / 2) ** 2:.6f} {g / 2:.6f} {(b / 2) ** 0.5:.6f}"
    for b in range(3)
    for g in range(3)
    for r in range(3)
)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("looks-bitexact-media")


def _cases() -> list[tuple[str, object, list[str]]]:
    cases: list[tuple[str, object, list[str]]] = [
        (_SOURCE_FOR[look.hdr_transfer], name, []) for name, look in BUILTIN_LOOKS.items()
    ]
    cases.append((_SOURCE_FOR[None], "user-cube", []))
    cases.append((_SOURCE_FOR[None], "none", ["timecode", "clip_name", "reel", "frame_number"]))
    cases.append((_SOURCE_FOR[HLG], "hlg_to_rec709", ["timecode", "clip_name", "frame_number"]))
    return cases


@pytest.mark.parametrize(("source", "look", "burn_ins"), _cases())
def test_every_look_and_burn_in_gives_the_same_bytes_on_every_cpu(
    source: str, look: str, burn_ins: list[str], clips: Path, tmp_path: Path
) -> None:
    if look == "user-cube":
        cube = tmp_path / "user.cube"
        cube.write_text(_CUBE + "\n")
        chosen: object = {"cube": str(cube)}
    else:
        chosen = look
    spec = spec_for([make_clip(clips, source)], tmp_path / "out", "prores_proxy")
    spec = JobSpec.model_validate({**spec.canonical(), "look": chosen, "burn_ins": burn_ins})
    plan = validate_job(spec).plan
    assert plan.bitexact
    result = execute(spec)
    assert result.status is Status.COMPLETED, result.failure
    (clip,) = plan.clips
    (recorded,) = result.clips
    graph = clip.argv[clip.argv.index("-filter:v") + 1]
    if look != "none":
        assert f"format={LUT3D_INPUT},lut3d=" in graph
    assert graph.count("drawtext=") == len(burn_ins)
    digests = digests_per_cpu(clip, tmp_path, machine=False)
    assert set(digests.values()) == {recorded.output_sha256}, digests


def test_lut3d_on_planar_input_differs_between_cpus(clips: Path, tmp_path: Path) -> None:
    """Why bitexact.LUT3D_INPUT is packed: the plan's own decode, scale and LUT, with the LUT
    given planar 16-bit RGB instead, gives different pictures on the simulated CPUs (its AVX2
    code rounds unlike its C code); packed, the same command gives one picture everywhere."""
    spec = spec_for([make_clip(clips, _SOURCE_FOR[None])], tmp_path / "out", "prores_proxy")
    spec = JobSpec.model_validate({**spec.canonical(), "look": "sony_slog3_sgamut3cine_to_rec709"})
    (clip,) = validate_job(spec).plan.clips
    at = clip.argv.index("-filter:v") + 1
    graph = clip.argv[at]
    until_lut = graph[: graph.index(",", graph.index("lut3d="))]  # the picture as lut3d leaves it
    assert f"format={LUT3D_INPUT},lut3d=" in until_lut

    def pictures(pixel_format: str) -> set[str]:
        argv = (
            *clip.argv[:at],
            until_lut.replace(f"format={LUT3D_INPUT},", f"format={pixel_format},"),
            "-f",
            "rawvideo",
            "file:placeholder",
        )
        return {
            run_as(cpu, argv, tmp_path / f"{pixel_format}-{n}.raw")
            for n, cpu in enumerate(simulated_cpus())
        }

    assert len(pictures("gbrp16le")) > 1
    assert len(pictures(LUT3D_INPUT)) == 1


def test_a_look_with_burn_ins_is_bit_exact_for_every_source_codec(
    corpus: Corpus, tmp_path: Path
) -> None:
    """The codec corpus (H.264, HEVC 10-bit 4:2:2, ProRes, DNxHR, MPEG-2, MJPEG full range, RGB
    FFV1 and their audio) through a camera look with every burn-in."""
    spec = spec_for([corpus[name] for name in CODECS], tmp_path / "out", "prores_proxy")
    spec = JobSpec.model_validate(
        {
            **spec.canonical(),
            "look": "arri_logc3_ei800_to_rec709",
            "burn_ins": ["timecode", "clip_name", "reel", "frame_number"],
        }
    )
    plan = validate_job(spec).plan
    assert plan.bitexact
    result = execute(spec)
    assert result.status is Status.COMPLETED, result.failure
    differing = {}
    for clip, recorded in zip(plan.clips, result.clips, strict=True):
        digests = digests_per_cpu(clip, tmp_path, machine=False)
        if set(digests.values()) != {recorded.output_sha256}:
            differing[Path(clip.source).name] = digests
    assert differing == {}
