"""Looks and burn-ins (issue 22): a user's .cube, a built-in camera log transform and HLG/PQ to
Rec.709, each verified and recorded with its LUT's SHA-256; a broken LUT refused at validation
with its line; burn-ins that draw any clip name as written; JobSpecs without them unchanged."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from proxx_exec import ExecutionResult, JobSpec, Status, execute, validate_job
from proxx_exec.failures import FailureClass, JobFailure, Reason
from proxx_exec.looks import PICTURE_DATA
from proxx_exec.looks.builtin import BUILTIN_LOOKS, LUT_SIZE
from proxx_exec.looks.cube import read_cube
from proxx_exec.looks.picture import FONT_FILE, FONT_NAME, FONT_SHA256, option_value
from proxx_exec.process import ENGINE_ENVIRONMENT
from proxx_exec.run import ClipProgress
from proxx_exec.tools.posters import make_posters
from tests.conftest import SpecFactory
from tests.helpers import REAL_ENGINE, listing, proxx, sha256
from tests.looks_media import make_clip, named_clip

LOG = "A001C003_log.mov"
HLG = "B002C001_hlg.mov"
PQ = "C003C001_pq.mov"


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("looks-media")


def negative_cube(size: int = 2) -> str:
    """A user's LUT: the photographic negative (each channel 1 - value)."""
    rows = [
        f"{1 - r / (size - 1):.6f} {1 - g / (size - 1):.6f} {1 - b / (size - 1):.6f}"
        for b in range(size)
        for g in range(size)
        for r in range(size)
    ]
    return f'TITLE "negative"\n# a comment\nLUT_3D_SIZE {size}\n\n' + "\n".join(rows) + "\n"


def completed(spec: JobSpec) -> ExecutionResult:
    result = execute(spec)
    assert result.status is Status.COMPLETED, result.failure
    return result


def poster_of(result: ExecutionResult) -> bytes:
    posters = make_posters(result)
    assert posters.problems == []
    (poster,) = posters.posters
    assert poster.path is not None
    return Path(poster.path).read_bytes()


def test_proxx_looks_lists_every_builtin_look_with_its_sha256() -> None:
    shown = proxx("looks", "--json")
    assert shown.returncode == 0, shown.stderr
    listed = {row["name"]: row["sha256"] for row in json.loads(shown.stdout)}
    assert listed == {name: look.sha256 for name, look in BUILTIN_LOOKS.items()}
    assert proxx("looks").returncode == 0


def test_the_shipped_luts_and_font_are_the_recorded_files() -> None:
    for name, look in BUILTIN_LOOKS.items():
        assert sha256(look.path) == look.sha256, name
        assert read_cube(look.path).size == LUT_SIZE
    assert sha256(FONT_FILE) == FONT_SHA256
    assert "Bitstream Vera" in FONT_FILE.with_suffix(".LICENSE").read_text()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("LUT_3D_SIZE 2\n0 0 0\n1 0 0\n0 1 0\n1 1 zero\n", "line 5: 'zero' is not a number"),
        ("LUT_3D_SIZE 2\n0 0 0\n1 0\n", "line 3: a row of the table needs 3 numbers, found 2"),
        ("TITLE x\nLUT_3D_SIZE 2\n0 0 0\n1 0 0\n", "line 4: the table ends after 2 rows"),
        ("0 0 0\n", "line 1: values before LUT_3D_SIZE"),
        ("LUT_1D_SIZE 4\n", "line 1: a 1D LUT"),
        ("LUT_3D_SIZE 2\nLUT_3D_INPUT_RANGE 0 1\n", "line 2: unknown keyword 'LUT_3D_INPUT_RANGE'"),
        ("LUT_3D_SIZE 1\n", "line 1: LUT_3D_SIZE 1 is outside 2..129"),
        ("# only a comment\n", "no LUT_3D_SIZE line"),
        (negative_cube() + "0 0 0\n", "line 13: more rows than LUT_3D_SIZE 2 allows"),
        ("LUT_3D_SIZE 2\n\xe9\n", "line 2: not plain ASCII text"),
        # Read otherwise by FFmpeg's lut3d (vf_lut3d.c parse_cube), so refused:
        (negative_cube(8).replace("SIZE 8", "SIZE 010"), "line 3: LUT_3D_SIZE needs one whole"),
        ("DOMAIN_MAX 2 2 2\n" + negative_cube(), "line 1: DOMAIN_MAX before LUT_3D_SIZE"),
        (
            negative_cube().replace("SIZE 2\n", "SIZE 2\nDOMAIN_MIN -1 -1 -1\n"),
            "DOMAIN_MIN (-1.0, -1.0, -1.0) and DOMAIN_MAX (1.0, 1.0, 1.0): FFmpeg reads",
        ),
        (
            negative_cube().replace("SIZE 2\n", "SIZE 2\nDOMAIN_MAX 0.5 0.5 0.5\n"),
            "DOMAIN_MIN (0.0, 0.0, 0.0) and DOMAIN_MAX (0.5, 0.5, 0.5): FFmpeg reads",
        ),
        (negative_cube().replace("1.000000 1.000000 1.000000", "1_0 1 1"), "line 5: '1_0' is"),
        (" " + negative_cube().split("\n", 2)[2], "line 1: LUT_3D_SIZE does not start the line"),
        (negative_cube().replace("# a comment", "#" + "x" * 510), "line 2: longer than 510"),
        (negative_cube().replace("\n0.000000 1.000000", "\f0.000000 1.000000", 1), "line 5: a row"),
        (negative_cube().replace("SIZE 2\n", "SIZE 2\nLUT_3D_SIZE 3\n"), "line 4: a second"),
        (negative_cube().replace("# a comment", "# a\x00comment"), "line 2: a control character"),
        (negative_cube().replace("\n", "\r"), "line 1: a carriage return inside the line"),
    ],
)
def test_a_broken_lut_is_refused_at_validation_naming_the_line(
    text: str, expected: str, clips: Path, make_spec: SpecFactory, tmp_path: Path, out_dir: Path
) -> None:
    cube = tmp_path / "broken.cube"
    cube.write_bytes(text.encode("latin-1"))
    spec = make_spec([make_clip(clips, LOG)], look={"cube": str(cube)})
    with pytest.raises(JobFailure) as refused:
        validate_job(spec)
    assert refused.value.failure_class is FailureClass.VALIDATION
    assert refused.value.reason is Reason.LOOK_INVALID
    assert refused.value.message == f"the look's LUT {cube} {expected}" or (
        refused.value.message.startswith(f"the look's LUT {cube} {expected}")
    )
    result = execute(spec)
    assert result.failure is not None and result.failure.reason is Reason.LOOK_INVALID
    assert [name for name in listing(out_dir) if not name.endswith(".json")] == []


@pytest.mark.parametrize(
    ("make", "expected"), [("missing", "does not exist"), ("dir", "is not a file")]
)
def test_a_missing_lut_is_refused(
    make: str, expected: str, clips: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    cube = tmp_path / "look.cube"
    if make == "dir":
        cube.mkdir()
    with pytest.raises(JobFailure) as refused:
        validate_job(make_spec([make_clip(clips, LOG)], look={"cube": str(cube)}))
    assert refused.value.reason is Reason.LOOK_INVALID
    assert refused.value.message == f"the look's LUT {cube} {expected}"


def test_no_look_and_no_burn_ins_keep_todays_jobspec_and_commands(
    clips: Path, make_spec: SpecFactory
) -> None:
    """A JobSpec without the new fields has the canonical form (so the fingerprint) and the
    commands it had before them: nothing about looks appears in either."""
    source = make_clip(clips, LOG)
    plain = make_spec([source])
    explicit = make_spec([source], look="none", burn_ins=[])
    assert "look" not in plain.canonical() and "burn_ins" not in plain.canonical()
    assert plain.fingerprint == explicit.fingerprint
    (clip,) = validate_job(plain).plan.clips
    assert clip.argv == validate_job(explicit).plan.clips[0].argv
    graph = clip.argv[clip.argv.index("-filter:v") + 1]
    assert graph.startswith("scale=") and "lut3d" not in graph and "drawtext" not in graph
    assert "look" not in clip.model_dump(mode="json")
    assert not any(d.property in {"look", "burn-ins"} for d in clip.decisions)


def test_commands_with_a_builtin_look_and_burn_ins_do_not_name_the_install_folder(
    clips: Path, make_spec: SpecFactory
) -> None:
    """The shipped LUT and font are named relative to the engine's working folder, so proxx
    installed elsewhere (another host, another venv) plans the same commands."""
    spec = make_spec(
        [make_clip(clips, LOG)],
        look="sony_slog3_sgamut3cine_to_rec709",
        burn_ins=["timecode", "clip_name"],
    )
    (clip,) = validate_job(spec).plan.clips
    package = str(PICTURE_DATA.parent.parent)
    assert not [arg for arg in clip.argv if package in arg], clip.argv
    graph = clip.argv[clip.argv.index("-filter:v") + 1]
    assert "lut3d=file=luts/sony_slog3_sgamut3cine_to_rec709.cube" in graph
    assert "fontfile=fonts/DejaVuSansMono.ttf" in graph
    assert (PICTURE_DATA / "luts/sony_slog3_sgamut3cine_to_rec709.cube").is_file()


def test_a_font_that_is_not_the_shipped_one_is_refused(
    clips: Path, make_spec: SpecFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """drawtext quietly draws with a fontconfig font when its font file cannot be loaded, so
    the shipped font is checked at validation, as the plan records its SHA-256."""
    monkeypatch.setattr("proxx_exec.looks.picture.FONT_SHA256", "0" * 64)
    spec = make_spec([make_clip(clips, LOG)], burn_ins=["clip_name"])
    with pytest.raises(JobFailure) as refused:
        validate_job(spec)
    assert refused.value.reason is Reason.LOOK_INVALID
    assert "is not the shipped file" in refused.value.message
    assert "reinstall proxx" in refused.value.message
    validate_job(make_spec([make_clip(clips, LOG)]))  # no burn-ins: the font is not needed


def test_a_users_cube_look_is_applied_recorded_and_tagged(
    clips: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    cube = tmp_path / "negative.cube"
    cube.write_text(negative_cube())
    source = make_clip(clips, LOG)
    looked = completed(make_spec([source], look={"cube": str(cube)}))
    (clip,) = looked.clips
    assert clip.look is not None
    assert (clip.look.look, clip.look.lut, clip.look.lut_sha256) == (
        "cube",
        str(cube),
        sha256(cube),
    )
    tags = next(check for check in clip.checks if check.name == "color_tags")
    assert tags.passed and tags.actual == ["bt709", "bt709", "bt709", "tv"]
    plain_spec = make_spec([source], job_id="plain", output_dir=str(tmp_path / "plain"))
    Path(plain_spec.output_dir).mkdir()
    plain = completed(plain_spec)
    # The look changed the picture: the posters differ, the negative one is its complement.
    assert poster_of(looked) != poster_of(plain)
    assert _mean_luma(Path(looked.spec.output_dir), looked) + _mean_luma(  # type: ignore[union-attr]
        Path(plain_spec.output_dir), plain
    ) == pytest.approx(255, abs=20)


def _mean_luma(_: Path, result: ExecutionResult) -> float:
    """The mean of the middle frame's grey levels, decoded by the engine."""
    assert result.clips[0].output is not None
    completed_run = subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-i",
            result.clips[0].output,
            "-frames:v",
            "1",
            "-vf",
            "scale=16:9,format=gray",
            "-f",
            "rawvideo",
            "-",
        ],
        executable=REAL_ENGINE,
        env=ENGINE_ENVIRONMENT,
        capture_output=True,
        check=True,
    )
    pixels = completed_run.stdout
    return sum(pixels) / len(pixels)


@pytest.mark.parametrize(
    ("source", "look"),
    [(LOG, "sony_slog3_sgamut3cine_to_rec709"), (HLG, "hlg_to_rec709"), (PQ, "pq_to_rec709")],
)
def test_a_builtin_look_gives_a_verified_rec709_proxy(
    source: str, look: str, clips: Path, make_spec: SpecFactory
) -> None:
    result = completed(make_spec([make_clip(clips, source)], look=look, profile="prores_proxy"))
    (clip,) = result.clips
    assert clip.look is not None and clip.look.lut_sha256 == BUILTIN_LOOKS[look].sha256
    tags = next(check for check in clip.checks if check.name == "color_tags")
    assert tags.passed and tags.actual == ["bt709", "bt709", "bt709", "tv"]
    decision = next(d for d in clip.decisions if d.property == "look")
    assert BUILTIN_LOOKS[look].sha256 in decision.decided
    applied = next(check for check in clip.checks if check.name == "look_applied")
    assert applied.passed, applied
    assert clip.cpu_dependent == ()


def test_a_look_that_leaves_the_picture_as_it_was_fails_verification(
    clips: Path, make_spec: SpecFactory, tmp_path: Path, out_dir: Path
) -> None:
    """An identity LUT changes nothing: `look_applied` compares the proxy's first frame with
    the source's made without the look, and the job fails LOOK_NOT_APPLIED, leaving no proxy."""
    cube = tmp_path / "identity.cube"
    rows = [f"{r}.0 {g}.0 {b}.0" for b in (0, 1) for g in (0, 1) for r in (0, 1)]
    cube.write_text("LUT_3D_SIZE 2\n" + "\n".join(rows) + "\n")
    result = execute(make_spec([make_clip(clips, LOG)], look={"cube": str(cube)}))
    assert result.status is Status.FAILED
    assert result.failure is not None
    assert result.failure.failure_class is FailureClass.VERIFICATION
    assert result.failure.reason is Reason.LOOK_NOT_APPLIED
    applied = next(check for check in result.clips[0].checks if check.name == "look_applied")
    assert not applied.passed and str(applied.actual).startswith("the mean difference is ")
    assert [name for name in listing(out_dir) if not name.endswith(".json")] == []


def test_a_look_over_a_clip_that_opens_on_black_is_verified(
    clips: Path, make_spec: SpecFactory
) -> None:
    """A camera look maps black to black: a clip whose first frame is black (a slate, a
    fade-in) must not be taken for one whose LUT changes nothing."""
    source = make_clip(clips, "A001C004_black_first.mov")
    result = completed(
        make_spec([source], look="sony_slog3_sgamut3cine_to_rec709", profile="prores_proxy")
    )
    applied = next(check for check in result.clips[0].checks if check.name == "look_applied")
    assert applied.passed, applied


def test_a_look_over_a_clip_with_a_long_name_is_verified(
    clips: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    """A clip's name may take nearly all of the file system's 255 bytes: the look check's
    files must not be named from it."""
    source = named_clip(tmp_path, make_clip(clips, LOG), "L" * 245 + ".mov")
    result = completed(make_spec([source], look="sony_slog3_sgamut3cine_to_rec709"))
    applied = next(check for check in result.clips[0].checks if check.name == "look_applied")
    assert applied.passed, applied


def test_a_lut_changed_while_the_job_ran_fails_verification(
    clips: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    """The engine reads the LUT when it encodes: one changed after validation is caught."""
    cube = tmp_path / "negative.cube"
    cube.write_text(negative_cube())
    spec = make_spec([make_clip(clips, LOG)], look={"cube": str(cube)})

    def change_the_lut(_: object) -> None:  # while the engine encodes
        cube.write_text(negative_cube().replace("negative", "changed"))

    result = execute(spec, on_progress=change_the_lut)
    assert result.failure is not None and result.failure.reason is Reason.LOOK_NOT_APPLIED
    applied = next(check for check in result.clips[0].checks if check.name == "look_applied")
    assert f"the LUT {cube} changed during the job" in str(applied.actual)


def test_a_lut_removed_before_a_clips_turn_fails_that_clip_naming_it(
    clips: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    """Removed once clip 1 is done, the LUT is missed by clip 2's engine: the job fails
    EXECUTION LOOK_LUT_CHANGED naming the LUT, not an engine exit status."""
    cube = tmp_path / "negative.cube"
    cube.write_text(negative_cube())
    first = make_clip(clips, LOG)
    spec = make_spec([first, named_clip(tmp_path, first, "second.mov")], look={"cube": str(cube)})

    def remove_the_lut(progress: ClipProgress) -> None:
        if progress.index == 0 and progress.phase == "done":
            cube.unlink(missing_ok=True)

    result = execute(spec, on_progress=remove_the_lut)
    assert result.failure is not None
    assert result.failure.failure_class is FailureClass.EXECUTION
    assert result.failure.reason is Reason.LOOK_LUT_CHANGED
    assert result.failure.message.startswith(f"clip 2: the look's LUT {cube} changed after")


def test_a_looked_job_reproduces(clips: Path, make_spec: SpecFactory, out_dir: Path) -> None:
    spec = make_spec(
        [make_clip(clips, HLG)], look="hlg_to_rec709", burn_ins=["timecode", "clip_name"]
    )
    completed(spec)
    reproduced = proxx("reproduce", out_dir / f"{spec.job_id}.proxx-result.json")
    assert reproduced.returncode == 0, reproduced.stdout + reproduced.stderr


@pytest.mark.parametrize(
    ("source", "look", "words"),
    [
        (HLG, "sony_slog3_sgamut3cine_to_rec709", "is HLG (transfer arib-std-b67); look"),
        (LOG, "hlg_to_rec709", "look hlg_to_rec709 is for HLG sources"),
        (PQ, "hlg_to_rec709", "look hlg_to_rec709 is for HLG sources"),
    ],
)
def test_a_look_that_does_not_fit_the_source_is_refused(
    source: str, look: str, words: str, clips: Path, make_spec: SpecFactory
) -> None:
    with pytest.raises(JobFailure) as refused:
        validate_job(make_spec([make_clip(clips, source)], look=look))
    assert refused.value.reason is Reason.LOOK_SOURCE_MISMATCH
    assert words in refused.value.message


def test_an_hdr_source_without_a_look_is_carried_as_today(
    clips: Path, make_spec: SpecFactory
) -> None:
    (clip,) = completed(make_spec([make_clip(clips, HLG)])).clips
    tags = next(check for check in clip.checks if check.name == "color_tags")
    assert tags.actual == ["bt2020", "arib-std-b67", "bt2020nc", "tv"]


def test_proxx_plan_shows_the_look_and_burn_ins_per_clip(
    clips: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    look = "arri_logc4_to_rec709"
    sources = [make_clip(clips, LOG), named_clip(tmp_path, make_clip(clips, LOG), "second.mov")]
    spec = make_spec(sources, look=look, burn_ins=["timecode", "reel"])
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(spec.model_dump_json())
    shown = proxx("plan", spec_file)
    assert shown.returncode == 0, shown.stderr
    looks = re.findall(rf"#   look: .* -> {look}: LUT .*\(SHA-256 ([0-9a-f]{{64}})\)", shown.stdout)
    assert looks == [BUILTIN_LOOKS[look].sha256] * 2
    burns = re.findall(
        r"#   burn-ins: .* -> timecode, reel burnt in \(timecode from (\S+)", shown.stdout
    )
    assert burns == ["01:00:59;28"] * 2


HOSTILE_NAMES = (
    "A:b'c\\d%e,f[g];h=i.mov",
    " spaced  out .mov",
    "%{frame_num}\\'\\\\:.mov",
)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_clip_name_is_burnt_in_as_written(
    name: str, clips: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    """The proxy with the escaped name in its filter graph is byte-identical to one made with
    the name read from a file by drawtext (no escaping at all)."""
    source = named_clip(tmp_path, make_clip(clips, LOG), name)
    result = completed(make_spec([source], burn_ins=["clip_name"], profile="prores_proxy"))
    (clip,) = result.clips
    assert clip.output is not None and clip.output_sha256 is not None
    text_file = tmp_path / "name.txt"
    text_file.write_text(name)
    argv = list(clip.argv)
    graph = argv.index("-filter:v") + 1
    escaped = f"text={option_value(name)}:expansion=none"
    assert escaped in argv[graph]
    argv[graph] = argv[graph].replace(escaped, f"textfile={text_file}:expansion=none")
    argv[-1] = f"file:{tmp_path / 'reference.mov'}"
    subprocess.run(
        argv,
        executable=REAL_ENGINE,
        env=ENGINE_ENVIRONMENT,
        cwd=PICTURE_DATA,  # where the engine finds the font the plan names
        check=True,
        capture_output=True,
    )
    assert sha256(tmp_path / "reference.mov") == clip.output_sha256
    (tmp_path / "plain").mkdir()
    plain = completed(
        make_spec(
            [source], profile="prores_proxy", job_id="plain", output_dir=str(tmp_path / "plain")
        )
    )
    assert plain.clips[0].output_sha256 != clip.output_sha256  # the name was drawn at all


def test_burn_ins_record_the_font_and_a_size_from_the_proxy(
    clips: Path, make_spec: SpecFactory
) -> None:
    items = ["timecode", "clip_name", "reel", "frame_number"]
    result = completed(make_spec([make_clip(clips, LOG)], burn_ins=items, profile="prores_proxy"))
    (clip,) = result.clips
    assert clip.burn_ins is not None
    assert clip.burn_ins.items == tuple(items)
    assert (clip.burn_ins.font, clip.burn_ins.font_sha256) == (FONT_NAME, FONT_SHA256)
    assert clip.burn_ins.font_size == 10  # 180 / 2 = 90 lines high: the 10-pixel minimum
    graph = clip.argv[clip.argv.index("-filter:v") + 1]
    assert graph.count("drawtext=") == 4
    assert "timecode=01\\\\:00\\\\:59\\;28:rate=30000/1001" in graph  # drop-frame, running
    assert "fontconfig" not in graph and "font=" not in graph.replace("fontfile=", "")
