"""ASC MHL seals of proxy folders, as a user meets them: `proxx run` seals a COMPLETED job's
folder through the `ascmhl` library and the library's own `ascmhl verify` accepts it; a FAILED
job is never sealed; a seal that cannot be written is said (exit code 4) without failing the
job; jobs sealing one folder side by side each get their generation; a changed proxy is found
by `ascmhl verify` and named by the seal check."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

from ascmhl.hasher import hash_file
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


def test_the_chain_file_is_replaced_whole_never_rewritten_in_place(
    media: Media, out_dir: Path, make_spec: SpecFactory
) -> None:
    """A reader that opened the chain before a seal reads the whole chain it opened: the library
    truncates and rewrites ascmhl_chain.xml in place, where a full disk or a crash mid-write
    would leave half a chain and every earlier seal unreadable."""
    first = execute(make_spec([media.clip("C001C001.mov")], job_id="first"))
    assert hand_off(first) is not None
    chain = out_dir / "ascmhl" / "ascmhl_chain.xml"
    before = chain.read_bytes()
    with chain.open("rb") as opened:
        second = execute(make_spec([media.clip("C001C002.mov")], job_id="second"))
        handed = hand_off(second)
        assert handed is not None and handed.seal.problem is None, handed
        assert opened.read() == before  # the old chain, whole
    assert len(sealed_paths(out_dir)) == 2
    assert sorted(p.name for p in (out_dir / "ascmhl").iterdir() if p.name.startswith(".")) == []
    verified = ascmhl("verify", out_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_seal_check_waits_for_a_seal_being_written(
    media: Media, out_dir: Path, make_spec: SpecFactory
) -> None:
    """The audit reads a history under a shared lock: while a seal holds the folder's exclusive
    lock (a generation written, the chain not yet), the check waits rather than read between."""
    result = execute(make_spec([media.clip("C002C001.mov")], job_id="locked"))
    assert hand_off(result) is not None
    result_file = out_dir / "locked.proxx-result.json"
    descriptor = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    checks: list[object] = []
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # as a seal in another process holds it
        reader = threading.Thread(
            target=lambda: checks.append(check_job_seal(out_dir, result_file))
        )
        reader.start()
        reader.join(timeout=1.0)
        assert reader.is_alive() and checks == []  # waiting for the lock
    finally:
        os.close(descriptor)
    reader.join(timeout=30)
    [check] = checks
    assert check.intact, check  # type: ignore[attr-defined]


def test_a_card_file_that_cannot_be_read_is_named_in_the_refusal_not_an_internal_error(
    media: Media, make_spec: SpecFactory, tmp_path: Path
) -> None:
    """A recorded file that is now a folder (or unreadable: permissions, an I/O error) is a
    difference the refusal names, never an unexpected error."""
    card = tmp_path / "A001"
    sources = offloaded_card(media, card)
    (card / "A001.xml").unlink()
    (card / "A001.xml").mkdir()
    result = execute(make_spec(sources, job_id="unreadable", verify_source_mhl=True))
    assert result.failure is not None
    assert result.failure.reason.value == "SOURCE_MHL_MISMATCH", result.failure.message
    assert f"{card / 'A001.xml'}: unreadable (not a regular file; the MHL records" in (
        result.failure.message
    )


def test_cards_offloaded_with_other_hash_formats_are_verified(
    media: Media, make_spec: SpecFactory, tmp_path: Path, out_dir: Path
) -> None:
    """Offload tools seal with md5, xxh64, sha1 or c4 as well as xxh128: each verifies, and a
    changed clip is found in each."""
    for index, hash_format in enumerate(("md5", "xxh64", "sha1", "c4")):
        card = tmp_path / hash_format / "CLIPS"
        card.mkdir(parents=True)
        sources = [card / "A001C001.mov"]
        sources[0].write_bytes(media.clip("A001C001.mov").read_bytes())
        program = str(Path(sys.executable).parent / "ascmhl")
        created = proxx("create", card.parent, "-h", hash_format, program=program, **NO_INTERNET)
        assert created.returncode == 0, created.stdout + created.stderr
        checked = execute(
            make_spec(
                sources,
                job_id=f"card{index}",
                verify_source_mhl=True,
                output_dir=str(out_dir / hash_format),
            )
        )
        assert checked.completed, checked.failure
        sources[0].write_bytes(sources[0].read_bytes() + b"\0")
        refused = execute(make_spec(sources, job_id=f"changed{index}", verify_source_mhl=True))
        assert refused.failure is not None
        assert f"{sources[0]}: changed (the MHL records {hash_format}:" in refused.failure.message


def reseal_generation(card: Path, body: str) -> None:
    """The card's generation replaced by `body`, and the chain's hash of it made to match: an
    MHL consistent in itself, as another tool (or a hand) could leave it."""
    generation = next((card / "ascmhl").glob("*.mhl"))
    generation.write_text(body)
    chain = card / "ascmhl" / "ascmhl_chain.xml"
    text = chain.read_text()
    found = re.search(r"<(c4|xxh128|md5|sha1|xxh64)>([^<]*)<", text)
    assert found is not None
    hash_format = found.group(1)
    fresh = f"<{hash_format}>{hash_file(str(generation), hash_format)}<"
    chain.write_text(text.replace(found.group(0), fresh))


def test_a_card_mhl_pointing_outside_the_card_is_refused_and_nothing_there_is_read(
    media: Media, make_spec: SpecFactory, tmp_path: Path
) -> None:
    """An MHL entry `../../x` or `/x` would have proxx hash any file of the machine (a FIFO or
    /dev/zero: for ever); a FIFO on the card itself is named, never read."""
    outside = tmp_path / "outside"
    os.mkfifo(outside)  # reading it would block the validation for ever
    for name, path in (("rel", "../outside"), ("abs", str(outside))):
        card = tmp_path / name
        sources = offloaded_card(media, card)
        reseal_generation(
            card,
            '<hashlist xmlns="urn:ASC:MHL:v2.0" version="2.0"><hashes><hash>'
            f'<path>{path}</path><md5 action="original">00</md5></hash></hashes></hashlist>',
        )
        result = execute(make_spec(sources, job_id=name, verify_source_mhl=True))
        assert result.failure is not None
        assert result.failure.reason.value == "SOURCE_MHL_MISMATCH"
        assert f"its MHL records '{path}', which is outside {card}" in result.failure.message
    card = tmp_path / "fifo"
    sources = offloaded_card(media, card)
    (card / "A001.xml").unlink()
    os.mkfifo(card / "A001.xml")
    result = execute(make_spec(sources, job_id="fifo", verify_source_mhl=True))
    assert result.failure is not None
    assert f"{card / 'A001.xml'}: unreadable (not a regular file;" in result.failure.message


HALF_WRITTEN_SEAL = """
import resource, signal, sys
from proxx_exec.handoff.job import seal_job
from proxx_exec.result import ExecutionResult
result = ExecutionResult.from_json(open(sys.argv[1]).read())
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
print(seal_job(result).problem)
"""


def test_a_seal_cut_short_by_a_full_disk_leaves_the_history_as_it_was(
    media: Media, out_dir: Path, make_spec: SpecFactory
) -> None:
    """A generation (or chain) write that fails halfway (a full disk; here a file size limit)
    must not leave half a generation in ascmhl/: the library reads every file there, so every
    later seal and audit of the folder would fail. The next seal works and the folder
    verifies."""
    first = execute(make_spec([media.clip("D001C001.mov")], job_id="before"))
    assert hand_off(first) is not None
    history = sorted(p.name for p in (out_dir / "ascmhl").iterdir())
    cut = execute(make_spec([media.clip("D001C002.mov")], job_id="cut"))
    result_file = out_dir / "cut.proxx-result.json"
    for limit in (300, 1500):  # cut in the generation; in the chain
        ran = subprocess.run(
            [sys.executable, "-c", HALF_WRITTEN_SEAL, str(result_file), str(limit)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert "could not be written" in ran.stdout and "File too large" in ran.stdout, (
            ran.stdout + ran.stderr
        )
        assert sorted(p.name for p in (out_dir / "ascmhl").iterdir()) == history
        assert check_job_seal(out_dir, out_dir / "before.proxx-result.json").intact
    handed = hand_off(cut)
    assert handed is not None and handed.seal.problem is None, handed
    verified = ascmhl("verify", out_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
