"""`proxx audit` as a user runs it: a flipped byte, a truncated file, a deleted file, a tampered
result and extra entries are each found and named; an untouched job audits clean; files that are
not results get plain words, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from proxx_exec import execute
from proxx_exec.result import compute_digest
from tests.conftest import SpecFactory
from tests.helpers import PROXX, Media, listing, proxx, reseal, sha256

JOB = "audit-job"


def audit(*paths: Path, as_json: bool = False) -> subprocess.CompletedProcess[str]:
    return proxx("audit", *(["--json"] if as_json else []), *paths)


def audit_json(*paths: Path) -> tuple[int, dict[str, Any]]:
    completed = audit(*paths, as_json=True)
    assert "Traceback" not in completed.stderr
    return completed.returncode, json.loads(completed.stdout)


@pytest.fixture
def result_file(media: Media, out_dir: Path, make_spec: SpecFactory) -> Path:
    """A COMPLETED three-clip job; its result file beside the proxies."""
    sources = [media.standard, media.clip("B001C001.mov"), media.clip("C001C001.mov")]
    assert execute(make_spec(sources, job_id=JOB)).completed
    return out_dir / f"{JOB}.proxx-result.json"


def proxies(result_file: Path) -> list[Path]:
    document = json.loads(result_file.read_text())
    return [Path(clip["output"]) for clip in document["clips"]]


def test_an_untouched_job_audits_clean(result_file: Path) -> None:
    before = {p: sha256(p) for p in proxies(result_file)}
    code, report = audit_json(result_file)
    assert code == 0
    assert report["audit_version"] == "1" and report["intact"] is True
    [job] = report["results"]
    assert job["intact"] and job["digest_matches"] and job["job_id"] == JOB
    assert job["missing"] == job["changed"] == job["extra"] == []
    assert job["outputs_checked"] == 3
    assert job["bytes_hashed"] == sum(p.stat().st_size for p in before)
    readable = audit(result_file)
    assert readable.returncode == 0
    assert readable.stdout.startswith(f"intact {JOB} (COMPLETED, 3 proxies")
    assert {p: sha256(p) for p in proxies(result_file)} == before  # the audit only reads


def test_each_change_is_found_and_named(result_file: Path, out_dir: Path) -> None:
    flipped, truncated, deleted = proxies(result_file)
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))
    size = truncated.stat().st_size
    with truncated.open("r+b") as handle:
        handle.truncate(size // 2)
    deleted.unlink()
    (out_dir / ".proxx-staging-crashed-job").mkdir()
    (out_dir / "notes.txt").write_text("not a proxy")
    after = listing(out_dir)

    code, report = audit_json(result_file)
    assert code == 1 and report["intact"] is False
    [job] = report["results"]
    assert job["digest_matches"] is True
    assert [(m["clip_index"], m["path"]) for m in job["missing"]] == [(2, str(deleted))]
    assert [(c["clip_index"], c["path"], c["what"]) for c in job["changed"]] == [
        (0, str(flipped), "sha256"),
        (1, str(truncated), "size"),
    ]
    assert job["changed"][0]["found"] == sha256(flipped)
    assert job["changed"][1]["recorded"] == size and job["changed"][1]["found"] == size // 2
    assert [(e["path"], e["kind"]) for e in job["extra"]] == [
        (str(out_dir / ".proxx-staging-crashed-job"), "staging_folder"),
        (str(out_dir / "notes.txt"), "file"),
    ]
    totals = report["totals"]
    assert (totals["missing"], totals["changed"], totals["extra"]) == (1, 2, 2)

    text = audit(result_file)
    assert text.returncode == 1
    assert f"NOT INTACT {JOB}" in text.stdout
    assert f"missing: clip 3 {deleted}" in text.stdout
    assert f"changed: clip 1 {flipped}: same size, SHA-256 recorded" in text.stdout
    assert f"changed: clip 2 {truncated}: size recorded {size} bytes, found {size // 2}" in (
        text.stdout
    )
    assert "(a staging folder left behind)" in text.stdout
    assert f"extra: {out_dir / 'notes.txt'} (a file no result accounts for)" in text.stdout
    assert listing(out_dir) == after  # nothing repaired, nothing removed


def test_a_tampered_result_is_found(result_file: Path) -> None:
    document = json.loads(result_file.read_text())
    recorded = document["digest"]
    document["clips"][1]["frame_count"] += 1
    result_file.write_text(json.dumps(document, indent=2))
    code, report = audit_json(result_file)
    assert code == 1
    [job] = report["results"]
    assert job["digest_matches"] is False and job["recorded_digest"] == recorded
    assert job["content_digest"] == compute_digest(document) != recorded
    assert job["missing"] == job["changed"] == job["extra"] == []  # the proxies are fine
    assert report["totals"]["tampered"] == 1
    assert "tampered result: the recorded digest" in audit(result_file).stdout


def test_files_that_are_not_results_get_plain_words(result_file: Path, tmp_path: Path) -> None:
    cases = {
        "absent.json": (None, "does not exist"),
        "folder.json": (None, "is a folder"),
        "job.yaml": (b"spec_version: '1'\n", "does not hold a JSON object"),
        "list.json": (b"[1, 2]", "does not hold a JSON object"),
        "broken.json": (b'{"digest": ', "is not valid JSON"),
        "latin1.json": ('{"job_id": "caf\xe9"}'.encode("latin-1"), "is not UTF-8 text"),
        "nan.json": (b'{"status": NaN, "digest": "x"}', "Out of range float"),
        "other.json": (b'{"name": "x"}', "not a proxx ExecutionResult (`status` is missing"),
        "job.json": (b'{"spec_version": "1"}', "is a JobSpec, not a result: give the result a"),
    }
    for name, (content, _) in cases.items():
        if name == "folder.json":
            (tmp_path / name).mkdir()
        elif content is not None:
            (tmp_path / name).write_bytes(content)
    paths = [tmp_path / name for name in cases]
    completed = audit(result_file, *paths)
    assert completed.returncode == 1
    assert "Traceback" not in completed.stdout + completed.stderr
    assert completed.stdout.startswith(f"intact {JOB}")  # the good one is still audited
    for name, (_, words) in cases.items():
        assert f"cannot audit {tmp_path / name}: " in completed.stdout, name
        line = next(
            line for line in completed.stdout.splitlines() if f"{tmp_path / name}: " in line
        )
        assert words in line, (name, line)
    _, report = audit_json(result_file, *paths)
    assert report["totals"]["unreadable"] == len(cases)
    assert [r["problem"] is None for r in report["results"]] == [True] + [False] * len(cases)


def test_a_record_naming_a_path_with_a_nul_gets_plain_words(
    result_file: Path, tmp_path: Path
) -> None:
    """A result handed over by someone else, its digest recomputed, whose proxy path or output
    folder holds a NUL (no file system path can): named, the good result still audited, no
    traceback."""
    document = json.loads(result_file.read_text())
    in_output = json.loads(json.dumps(document))
    in_output["clips"][0]["output"] = in_output["clips"][0]["output"] + "\x00.mov"
    in_folder = json.loads(json.dumps(document))
    in_folder["spec"]["output_dir"] = "/proxies/day1\x00"
    hostile = {"output.json": in_output, "folder.json": in_folder}
    for name, changed in hostile.items():
        (tmp_path / name).write_text(json.dumps(reseal(changed)))
    paths = [tmp_path / name for name in hostile]

    completed = audit(result_file, *paths)
    assert completed.returncode == 1
    assert "Traceback" not in completed.stdout + completed.stderr
    assert completed.stdout.startswith(f"intact {JOB}")
    assert (
        f"cannot audit {paths[0]}: not a proxx ExecutionResult (`clips` item 1 `output`: a path "
        "cannot contain a NUL character)"
    ) in completed.stdout
    assert (
        f"cannot audit {paths[1]}: not a proxx ExecutionResult (`spec.output_dir`: a path cannot "
        "contain a NUL character)"
    ) in completed.stdout


def bounded(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`proxx` that may hang on the old code: ended (and failed) after a minute."""
    return subprocess.run(
        [PROXX, *map(str, args)], capture_output=True, text=True, check=False, timeout=60
    )


def test_a_fifo_under_a_result_name_is_refused_unread(result_file: Path, out_dir: Path) -> None:
    """Anyone who can write to an output folder can make a FIFO named like a result: opening
    it waited for a writer for ever, so `proxx audit` of the folder's job (which reads the
    results beside it) and `proxx reproduce` of it hung. Now it is named and left unread."""
    fifo = out_dir / "other.proxx-result.json"
    os.mkfifo(fifo)

    completed = bounded("audit", result_file, fifo)
    assert completed.returncode == 1
    assert completed.stdout.startswith(f"intact {JOB}")
    assert f"cannot audit {fifo}: is not a regular file (a FIFO, socket or device)" in (
        completed.stdout
    )
    alone = bounded("audit", result_file)  # the FIFO is read as a sibling result
    assert alone.returncode == 0 and alone.stdout.startswith(f"intact {JOB}"), alone.stdout
    reproduced = bounded("reproduce", fifo)
    assert reproduced.returncode == 3
    assert "is not a regular file (a FIFO, socket or device)" in reproduced.stderr


def test_a_result_of_an_older_format_is_audited(result_file: Path, tmp_path: Path) -> None:
    """Format 1 had no expected/decisions/cpu_dependent per clip: the audit reads what it needs
    and checks the digest over the document as written."""
    document = json.loads(result_file.read_text())
    for clip in document["clips"]:
        for field in ("expected", "decisions", "cpu_dependent"):
            del clip[field]
    document["result_version"] = "1"
    old = tmp_path / "format-1.json"
    old.write_text(json.dumps(reseal(document)))
    code, report = audit_json(old)
    assert code == 0, report
    assert report["results"][0]["outputs_checked"] == 3
    proxies(result_file)[0].unlink()
    code, report = audit_json(old)
    assert code == 1 and len(report["results"][0]["missing"]) == 1


def test_extra_means_no_result_in_the_folder_accounts_for_it(
    result_file: Path, media: Media, out_dir: Path, make_spec: SpecFactory
) -> None:
    """A second job in the same folder: its proxy is accounted for by its own result file,
    audited or not, unless that file's digest no longer matches its content."""
    assert execute(make_spec([media.clip("D001C001.mov")], job_id="second")).completed
    second = out_dir / "second.proxx-result.json"
    failed = execute(make_spec([out_dir / "gone.mov"], job_id="failed-job"))
    assert not failed.completed  # leaves its result file, which is a record, never extra
    code, report = audit_json(result_file)
    assert code == 0, report["results"][0]["extra"]

    document = json.loads(second.read_text())
    document["proxx_version"] = "0.0.0"
    second.write_text(json.dumps(document))
    code, report = audit_json(result_file)
    assert code == 1
    assert [e["path"] for e in report["results"][0]["extra"]] == [str(out_dir / "D001C001.mov")]
    code, report = audit_json(result_file, second)  # audited together: named as tampered
    assert code == 1
    assert [r["digest_matches"] for r in report["results"]] == [True, False]
    assert report["results"][0]["extra"] == []
