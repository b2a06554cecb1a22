"""ASC MHL seals of proxy folders, as a user meets them: `proxx run` seals a COMPLETED job's
folder through the `ascmhl` library and the library's own `ascmhl verify` accepts it; a FAILED
job is never sealed; a seal that cannot be written is said (exit code 4) without failing the
job; jobs sealing one folder side by side each get their generation; a changed proxy is found
by `ascmhl verify` and named by the seal check."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

from ascmhl.history import MHLHistory

from proxx_exec import __version__, execute
from proxx_exec.handoff.job import hand_off
from proxx_exec.handoff.mhl import check_job_seal
from proxx_exec.result import ExecutionResult
from tests.conftest import SpecFactory
from tests.helpers import NO_INTERNET, Media, ascmhl, proxx, write_engine_wrapper


def write_spec(folder: Path, spec_fields: dict[str, object]) -> Path:
    path = folder / "job.json"
    path.write_text(json.dumps(spec_fields))
    return path


def sealed_paths(folder: Path) -> list[list[str]]:
    """Per generation, the files it lists (relative to the folder)."""
    history = MHLHistory.load_from_path(str(folder))
    return [sorted(m.path for m in hash_list.media_hashes) for hash_list in history.hash_lists]


def test_proxx_run_seals_a_completed_job_and_ascmhl_verify_accepts_it(
    media: Media, out_dir: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    spec = make_spec([media.standard, media.clip("A001C002.mov")], job_id="sealed")
    ran = proxx("run", "--posters", write_spec(tmp_path, spec.canonical()))
    assert ran.returncode == 0, ran.stderr
    assert ExecutionResult.from_json(ran.stdout).completed  # stdout: the result JSON only
    [generation] = sealed_paths(out_dir)
    assert generation == sorted(
        [
            "A001C001.mov",
            "A001C002.mov",
            "sealed.proxx-result.json",
            "sealed.proxx-posters/0001_A001C001.mov.png",
            "sealed.proxx-posters/0002_A001C002.mov.png",
            "sealed.proxx-contact-sheet.html",
            "sealed.proxx.ale",
            "sealed.proxx.fcpxml",
        ]
    )
    sheet = (out_dir / "sealed.proxx-contact-sheet.html").read_text()
    assert 'href="sealed.proxx.ale"' in sheet and 'href="sealed.proxx.fcpxml"' in sheet
    history = MHLHistory.load_from_path(str(out_dir))
    creator = history.hash_lists[0].creator_info
    assert (creator.tool.name, creator.tool.version) == ("proxx", __version__)
    result = ExecutionResult.from_json((out_dir / "sealed.proxx-result.json").read_bytes())
    assert result.engine is not None
    assert result.engine.sha256 in creator.comment and "sealed" in creator.comment
    verified = ascmhl("verify", out_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_changed_proxy_fails_ascmhl_verify_and_the_seal_check_names_it(
    media: Media, out_dir: Path, make_spec: SpecFactory
) -> None:
    result = execute(make_spec([media.standard], job_id="flip"))
    handed = hand_off(result)
    assert handed is not None and handed.problems == [], handed
    proxy = out_dir / "A001C001.mov"
    data = bytearray(proxy.read_bytes())
    data[len(data) // 2] ^= 0x01
    proxy.write_bytes(bytes(data))
    verified = ascmhl("verify", out_dir)
    assert verified.returncode == 11, verified.stdout + verified.stderr  # hash mismatch
    check = check_job_seal(out_dir, out_dir / "flip.proxx-result.json")
    assert not check.intact
    assert [(d.path, d.what) for d in check.differences] == [(str(proxy), "changed")]


def test_a_failed_job_is_never_sealed(
    media: Media, out_dir: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    failing = write_engine_wrapper(
        tmp_path, 'case "$*" in *-version*) exec "$REAL" "$@";; esac\nexit 1'
    )
    spec = make_spec([media.standard], job_id="fails", engine=str(failing))
    ran = proxx("run", "--posters", write_spec(tmp_path, spec.canonical()))
    assert ran.returncode == 1
    result = ExecutionResult.from_json(ran.stdout)
    assert not result.completed and (out_dir / "fails.proxx-result.json").exists()
    assert hand_off(result) is None
    assert not (out_dir / "ascmhl").exists()


def test_a_seal_that_cannot_be_written_is_said_and_the_job_stands(
    media: Media, out_dir: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    (out_dir / "ascmhl").mkdir()  # a history folder without its chain file: damaged
    spec = make_spec([media.standard], job_id="unsealed")
    ran = proxx("run", write_spec(tmp_path, spec.canonical()))
    assert ran.returncode == 4, ran.stderr
    assert ExecutionResult.from_json(ran.stdout).completed
    assert "hand-off incomplete" in ran.stderr and "chain file" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert (out_dir / "A001C001.mov").is_file()  # the proxies stand


def test_jobs_sealing_one_folder_side_by_side_each_get_a_generation(
    media: Media, out_dir: Path, make_spec: SpecFactory
) -> None:
    results = [
        execute(make_spec([media.clip(f"B00{n}C001.mov")], job_id=f"part{n}")) for n in (1, 2, 3)
    ]
    handed: list[object] = []
    threads = [threading.Thread(target=lambda r=r: handed.append(hand_off(r))) for r in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    generations = sealed_paths(out_dir)
    assert len(generations) == 3
    assert sorted(
        name for generation in generations for name in generation if "result" in name
    ) == [f"part{n}.proxx-result.json" for n in (1, 2, 3)]
    verified = ascmhl("verify", out_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def offloaded_card(media: Media, folder: Path) -> list[Path]:
    """A camera card as an offload leaves it: two clips and a sidecar, sealed by `ascmhl create`
    (the library's own command) into the card's ascmhl/ history."""
    clips = folder / "CLIPS"
    clips.mkdir(parents=True)
    sources = []
    for name in ("A001C001.mov", "A001C002.mov"):
        (clips / name).write_bytes(media.clip(name).read_bytes())
        sources.append(clips / name)
    (folder / "A001.xml").write_text("<camera card metadata/>")
    created = proxx(
        "create", folder, program=str(Path(sys.executable).parent / "ascmhl"), **NO_INTERNET
    )
    assert created.returncode == 0, created.stdout + created.stderr
    return sources


def test_a_card_whose_mhl_verifies_is_run(
    media: Media, out_dir: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    sources = offloaded_card(media, tmp_path / "A001")
    result = execute(make_spec(sources, job_id="checked", verify_source_mhl=True))
    assert result.completed, result.failure


def test_a_card_whose_mhl_does_not_verify_is_refused_naming_the_files(
    media: Media, out_dir: Path, make_spec: SpecFactory, tmp_path: Path
) -> None:
    card = tmp_path / "A001"
    sources = offloaded_card(media, card)
    damaged = bytearray(sources[1].read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    sources[1].write_bytes(bytes(damaged))
    (card / "A001.xml").unlink()
    result = execute(make_spec(sources, job_id="refused", verify_source_mhl=True))
    assert result.failure is not None
    assert (result.failure.failure_class.value, result.failure.reason.value) == (
        "VALIDATION",
        "SOURCE_MHL_MISMATCH",
    )
    message = result.failure.message
    assert f"{sources[1]}: changed" in message and f"{card / 'A001.xml'}: missing" in message
    assert str(sources[0]) not in message
    assert not list(out_dir.glob("*.mov"))  # nothing was encoded


def test_a_card_without_an_mhl_is_refused_when_one_is_asked_for(
    media: Media, make_spec: SpecFactory
) -> None:
    result = execute(make_spec([media.standard], job_id="no-mhl", verify_source_mhl=True))
    assert result.failure is not None
    assert result.failure.reason.value == "SOURCE_MHL_MISSING"
    assert "no ascmhl/ history" in result.failure.message
