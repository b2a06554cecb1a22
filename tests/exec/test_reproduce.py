"""`proxx reproduce`: a fresh job reproduces byte for byte on this machine; a proxy altered after
the fact (and its record re-sealed to match, which `proxx audit` cannot see) is named as the clip
that differs; another engine binary, a changed record or a failed job is refused before anything
runs; the committed proxies are never touched."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from proxx_exec import BUILTIN_PROFILES, execute
from proxx_exec.result import record_path
from proxx_exec.tools.samples import SampleClip
from tests.conftest import SpecFactory
from tests.helpers import (
    PROXX,
    Media,
    engine_calls,
    listing,
    load_json,
    proxx,
    reseal,
    sha256,
    stop_mid_encode,
    write_engine_wrapper,
)

JOB = "repro-job"


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Each file's inode, modification time and SHA-256: any touch shows."""
    state = {}
    for name in listing(folder):
        path = folder / name
        status = path.stat()
        digest = sha256(path) if path.is_file() else ""
        state[name] = (status.st_ino, status.st_mtime_ns, digest)
    return state


def write_sealed(path: Path, document: dict[str, Any]) -> None:
    """Write a result whose digest matches its content, as proxx would have."""
    path.write_text(json.dumps(reseal(document), indent=2))


@pytest.fixture
def result_file(media: Media, out_dir: Path, make_spec: SpecFactory) -> Path:
    sources = [media.standard, media.clip("B001C001.mov")]
    assert execute(make_spec(sources, job_id=JOB)).completed
    return out_dir / f"{JOB}.proxx-result.json"


def test_a_fresh_job_reproduces_identically(
    result_file: Path, out_dir: Path, tmp_path: Path
) -> None:
    before = snapshot(out_dir)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    completed = proxx("reproduce", result_file, TMPDIR=str(temporary))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    document = load_json(result_file)
    for clip in document["clips"]:
        assert f"recorded    {clip['output_bytes']} bytes, SHA-256 {clip['output_sha256']}" in (
            completed.stdout
        )
        assert f"reproduced  {clip['output_bytes']} bytes, SHA-256 {clip['output_sha256']}" in (
            completed.stdout
        )
    assert completed.stdout.count(" IDENTICAL ") == 2
    assert "REPRODUCED: all 2 proxies are byte-identical" in completed.stdout
    assert document["engine"]["sha256"] in completed.stdout
    assert "clip 1/2: encoding and verifying" in completed.stderr
    assert snapshot(out_dir) == before  # committed proxies untouched, no result written
    assert listing(temporary) == []  # the scratch folder was removed


def test_an_altered_proxy_is_named_even_when_its_record_was_resealed(
    result_file: Path, out_dir: Path
) -> None:
    """Clip 2's proxy is changed and its record re-sealed to match: the audit sees a consistent
    record; only a reproduction shows that these bytes are not what the JobSpec gives."""
    document = load_json(result_file)
    altered = Path(document["clips"][1]["output"])
    data = bytearray(altered.read_bytes())
    data[len(data) // 2] ^= 0x01
    altered.write_bytes(bytes(data))
    document["clips"][1]["output_sha256"] = hashlib.sha256(data).hexdigest()
    result_file.unlink()
    write_sealed(result_file, document)
    assert proxx("audit", result_file).returncode == 0

    completed = proxx("reproduce", result_file)
    assert completed.returncode == 1
    assert "clip 1/2 IDENTICAL" in completed.stdout
    assert f"clip 2/2 DIFFERS {altered.name}" in completed.stdout
    assert "NOT REPRODUCED: 1 of 2 proxies identical; clip 2 differs." in completed.stdout
    assert altered.read_bytes() == bytes(data)


def test_another_engine_binary_is_refused_before_anything_runs(
    media: Media, out_dir: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    assert execute(make_spec([media.standard], job_id=JOB, engine=str(wrapper))).completed
    recorded = load_json(out_dir / f"{JOB}.proxx-result.json")["engine"]["sha256"]
    with wrapper.open("a") as script:
        script.write("# another build of the engine\n")
    encodes_before = [c for c in engine_calls(tmp_path) if "-c:v" in c[1]]

    completed = proxx("reproduce", out_dir / f"{JOB}.proxx-result.json")
    assert completed.returncode == 3
    message = completed.stderr
    assert "refused" in message and "nothing was run" in message
    assert recorded in message
    assert sha256(wrapper) in message
    assert [c for c in engine_calls(tmp_path) if "-c:v" in c[1]] == encodes_before
    assert "Traceback" not in message


def test_a_program_the_record_names_as_engine_is_never_run(
    result_file: Path, out_dir: Path, tmp_path: Path
) -> None:
    """A result from elsewhere whose JobSpec names another program on this machine as its
    engine (digest recomputed): refused by the binary's SHA-256 before that program runs even
    once, not after asking it for `-version`."""
    program = write_engine_wrapper(tmp_path, "echo 'ffmpeg version 9'")
    document = load_json(result_file)
    document["spec"]["engine"] = str(program)
    hostile = tmp_path / "hostile.proxx-result.json"
    write_sealed(hostile, document)
    before = snapshot(out_dir)

    completed = proxx("reproduce", hostile)
    assert completed.returncode == 3, completed.stdout + completed.stderr
    assert "refused" in completed.stderr and "nothing was run" in completed.stderr
    assert sha256(program) in completed.stderr
    assert document["engine"]["sha256"] in completed.stderr
    assert engine_calls(tmp_path) == []  # the program never ran, not even for `-version`
    assert snapshot(out_dir) == before
    assert "Traceback" not in completed.stderr


def test_a_changed_record_a_failed_job_and_a_non_result_are_refused(
    result_file: Path, make_spec: SpecFactory, out_dir: Path, tmp_path: Path
) -> None:
    document = load_json(result_file)
    document["clips"][0]["frame_count"] += 1
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(document))
    failed = execute(make_spec([tmp_path / "gone.mov"], job_id="failed-job"))
    assert failed.failure is not None
    not_json = tmp_path / "notes.txt"
    not_json.write_text("hello")
    cases = {
        tampered: "does not match its content",
        Path(record_path(failed) or ""): "did not complete (FAILED, VALIDATION SOURCE_MISSING",
        not_json: "does not hold a JSON object",
        tmp_path / "absent.json": "does not exist",
    }
    for path, words in cases.items():
        completed = proxx("reproduce", path)
        assert completed.returncode == 3, path
        assert words in completed.stderr, (path, completed.stderr)
        assert "Traceback" not in completed.stderr and "[/]" not in completed.stderr


def test_the_scratch_folder_is_new_or_empty_and_outside_the_output_folder(
    result_file: Path, out_dir: Path, tmp_path: Path
) -> None:
    before = snapshot(out_dir)
    inside = proxx("reproduce", result_file, "--into", out_dir / "again")
    assert inside.returncode == 2 and "inside the job's output folder" in inside.stderr
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "something").write_text("x")
    refused = proxx("reproduce", result_file, "--into", busy)
    assert refused.returncode == 2 and "is not empty" in refused.stderr
    not_utf8 = tmp_path / os.fsdecode(b"again \xff")
    odd = proxx("reproduce", result_file, "--into", not_utf8)
    assert odd.returncode == 2, odd.stderr
    assert "holds a character that is not Unicode text" in odd.stderr
    assert "Traceback" not in odd.stderr and not not_utf8.exists()

    into = tmp_path / "reproduced"
    completed = proxx("reproduce", result_file, "--into", into)
    assert completed.returncode == 0, completed.stdout
    assert f"scratch folder {into} (kept)" in completed.stdout
    for clip in load_json(result_file)["clips"]:
        copy = into / Path(clip["output"]).name
        assert sha256(copy) == clip["output_sha256"]
    assert snapshot(out_dir) == before


def test_a_clip_with_cpu_dependent_stages_says_so(
    media: Media, out_dir: Path, make_spec: SpecFactory
) -> None:
    profile = {
        **BUILTIN_PROFILES["h264_quarter"].model_dump(),
        "name": "h264_aac",
        "audio_codec": "aac",
        "audio_bitrate_kbps": 128,
    }
    result = execute(make_spec([media.standard], job_id=JOB, profile=profile))
    assert result.completed and result.clips[0].cpu_dependent
    completed = proxx("reproduce", out_dir / f"{JOB}.proxx-result.json")
    assert completed.returncode == 0, completed.stdout  # the same CPU: identical
    for stage in result.clips[0].cpu_dependent:
        assert f"may differ on another CPU: {stage}" in completed.stdout


def test_commands_added_to_the_record_are_never_run(
    result_file: Path, out_dir: Path, tmp_path: Path
) -> None:
    """The issue's tampering: an extra output inserted after the input of clip 1's encode, the
    digest recomputed. Only commands derived from the JobSpec here may run: refused, nothing
    written anywhere."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    evil = elsewhere / "evil.mov"
    document = load_json(result_file)
    argv = document["clips"][0]["argv"]
    after_input = argv.index("-i") + 2
    argv[after_input:after_input] = ["-map", "0:0", "-c:v", "copy", "-f", "mov", f"file:{evil}"]
    tampered = tmp_path / "tampered.proxx-result.json"
    write_sealed(tampered, document)
    before = snapshot(out_dir)
    into = tmp_path / "into"

    completed = proxx("reproduce", tampered, "--into", into)
    assert completed.returncode == 3, completed.stdout + completed.stderr
    message = completed.stderr
    assert "refused" in message and "nothing was run" in message
    assert "clip 1: the recorded encode command is not the one the recorded JobSpec gives" in (
        message
    )
    # The first argument that differs, as recorded and as derived here.
    assert re.search(r"\(argument \d+: recorded '[^']+', derived here '[^']+'\)", message)
    assert "Only commands derived here from the JobSpec are ever run" in message
    assert "REPRODUCED" not in completed.stdout
    assert not evil.exists() and listing(elsewhere) == []
    assert not into.exists()
    assert snapshot(out_dir) == before


def test_the_probing_library_is_recorded_and_another_one_is_refused(
    result_file: Path, tmp_path: Path
) -> None:
    """The plan's facts come from PyAV's libav: the result names it (inside the digest) and a
    result planned with another is refused, naming both."""
    import av  # noqa: PLC0415 - the test's own view of the library

    document = load_json(result_file)
    prober = document["prober"]
    assert prober["pyav"] == av.__version__
    assert prober["ffmpeg"] == av.ffmpeg_version_info
    assert prober["libraries"]["libavformat"] == ".".join(
        map(str, av.library_versions["libavformat"])
    )
    prober["pyav"] = "14.0.0"
    prober["libraries"]["libavformat"] = "61.1.100"
    changed = tmp_path / "planned-elsewhere.proxx-result.json"
    write_sealed(changed, document)

    completed = proxx("reproduce", changed)
    assert completed.returncode == 3, completed.stdout + completed.stderr
    assert "nothing was run" in completed.stderr
    assert f"this machine reads media with PyAV {av.__version__}" in completed.stderr
    assert "planned with PyAV 14.0.0" in completed.stderr
    assert "libavformat 61.1.100" in completed.stderr


def test_pyav_is_pinned_exactly() -> None:
    """Its answers go into the plan: pyproject allows one version, the one locked."""
    import tomllib  # noqa: PLC0415

    root = Path(__file__).resolve().parents[2]
    dependencies = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [d.split("#")[0].strip() for d in dependencies if d.startswith("av")]
    locked = [
        line.strip()
        for line in (root / "requirements.lock").read_text().splitlines()
        if line.startswith("av==")
    ]
    assert pins == locked and len(pins) == 1


def test_a_second_reproduction_into_the_same_folder_is_refused_in_words(
    result_file: Path, tmp_path: Path
) -> None:
    """Two reproductions of one job into one scratch folder at once: both found it empty, so the
    second meets the first's staging folder. A refusal (the CLI's exit 3), never a traceback, and
    the first one's folder is left to it."""
    from proxx_exec.naming import staging_dir  # noqa: PLC0415
    from proxx_exec.tools.reproduce import Refusal, load_reproducible, reproduce_clips  # noqa: PLC0415

    job = load_reproducible(result_file)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    first = Path(staging_dir(str(scratch), JOB))
    first.mkdir()  # the other reproduction's, made after this one checked the folder
    (first / "half.mov").write_bytes(b"in progress")

    with pytest.raises(Refusal, match="another run of job repro-job is active"):
        reproduce_clips(job, scratch)
    assert listing(first) == ["half.mov"]


def test_a_proxy_name_taken_in_the_scratch_folder_meanwhile_is_reported_not_raised(
    result_file: Path, tmp_path: Path
) -> None:
    """Something puts a file under clip 1's output name while the reproduction runs: that file
    is left as it is, the verdicts stand, the clip says its proxy was not kept, and the staging
    folder is still removed."""
    from proxx_exec.result import ClipResult  # noqa: PLC0415
    from proxx_exec.tools.reproduce import Verdict, load_reproducible, reproduce_clips  # noqa: PLC0415

    job = load_reproducible(result_file)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    taken = scratch / Path(job.result.clips[0].output or "").name

    def intrude(clip: ClipResult) -> None:
        if clip.index == 1:
            taken.write_bytes(b"someone else's")

    clips = reproduce_clips(job, scratch, on_clip=intrude)
    assert [clip.verdict for clip in clips] == [Verdict.IDENTICAL, Verdict.IDENTICAL]
    assert clips[0].detail == f"the proxy was not kept: {taken} appeared meanwhile"
    assert clips[1].detail is None
    assert taken.read_bytes() == b"someone else's"
    assert listing(scratch) == sorted([taken.name, Path(job.result.clips[1].output or "").name])


def test_a_reproduction_stopped_mid_encode_keeps_no_half_proxy(
    media: Media, out_dir: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    """SIGTERM (or Ctrl-C) while the engine writes: the reproduction stops with the status a
    SIGTERM gives, the engine is gone, and the scratch folder holds neither the staging folder
    nor the half-encoded file under the proxy's name (it was kept there as if reproduced)."""
    long_clip = media.clip("LONG.mov", SampleClip(width=1280, height=720, duration_s=8))
    assert execute(make_spec([long_clip], job_id=JOB, profile="prores_lt")).completed
    into = tmp_path / "into"
    staged = into / f".proxx-staging-{JOB}" / "LONG.mov"
    result = out_dir / f"{JOB}.proxx-result.json"
    status, stdout, stderr = stop_mid_encode(
        [PROXX, "reproduce", str(result), "--into", str(into)], staged, signal.SIGTERM
    )
    assert status == 128 + signal.SIGTERM, stdout + stderr
    assert "Traceback" not in stderr
    assert listing(into) == []
