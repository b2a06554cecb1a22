"""One result, whatever happens: faults outside the usual failure paths (a verified proxy gone
before it is hashed, an engine killed by a real-time signal, a release without installer
metadata, an unexpected error, an interruption) still end in one sealed FAILED result written
beside the outputs, no staging folder and no final-named proxy.

The engine and file-system faults are injected for real (an explicitly named engine wrapper,
a real signal, an installation without proxx's metadata). An unexpected error is by definition
one no test can cause on purpose through the product, so those cases make one of proxx's own
steps raise (monkeypatch), standing in for a bug."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import proxx_exec
import proxx_exec.run
from proxx_dagster.watch.folder_spec import earlier_results
from proxx_exec import ClipProgress, ClipState, FailureClass, Reason, Status, execute
from proxx_exec.commit import commit_outputs
from proxx_exec.plan import ClipPlan
from proxx_exec.result import ExecutionResult, digest_matches
from proxx_exec.tools.samples import SampleClip
from proxx_exec.verify import Verification, verify_clip
from tests.conftest import SpecFactory
from tests.helpers import (
    PROXX,
    Media,
    engine_calls,
    listing,
    reseal,
    stop_mid_encode,
    write_engine_wrapper,
)

RESULT = "test-job.proxx-result.json"
REPO = Path(__file__).resolve().parents[2]


def written(out_dir: Path) -> ExecutionResult:
    """The result beside the outputs, sealed."""
    result = ExecutionResult.from_json((out_dir / RESULT).read_bytes())
    assert digest_matches(result)
    return result


def test_a_verified_proxy_removed_before_it_is_hashed(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    """The verification decode (run by the named engine) succeeds and then the staged proxy
    is removed: hashing it finds nothing. Before: FileNotFoundError escaped, no result, the
    staging folder stayed."""
    wrapper = write_engine_wrapper(
        tmp_path,
        'case "$*" in *-c:v*) exec "$REAL" "$@";; esac\n'
        '"$REAL" "$@"; status=$?\n'
        'for a in "$@"; do case "$a" in file:*) rm -f "${a#file:}";; esac; done\n'
        "exit $status",
    )
    result = execute(make_spec([media.standard], engine=str(wrapper)))
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason) == (
        FailureClass.EXECUTION,
        Reason.STAGED_OUTPUT_LOST,
    )
    assert "could not be read to hash it" in result.failure.message
    assert result.clips[0].state is ClipState.FAILED
    assert [c.passed for c in result.clips[0].checks] == [True] * len(result.clips[0].checks)
    assert listing(out_dir) == [RESULT]
    assert written(out_dir) == result


def test_engine_killed_by_a_real_time_signal(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    """Python's signal.Signals has no member for SIGRTMIN+n: naming it raised ValueError."""
    number = signal.SIGRTMIN + 3
    wrapper = write_engine_wrapper(
        tmp_path, f'case "$*" in *-c:v*) kill -{number} $$;; esac\nexec "$REAL" "$@"'
    )
    result = execute(make_spec([media.standard], engine=str(wrapper)))
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason) == (
        FailureClass.EXECUTION,
        Reason.SIGNALED,
    )
    assert "killed by SIGRTMIN+3" in result.failure.message
    assert result.clips[0].exit_code == -number
    assert listing(out_dir) == [RESULT]
    assert written(out_dir) == result


def test_a_copy_without_installer_metadata_still_records_its_release(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    """proxx run from its source folder where its distribution is not installed (its
    dependencies are): the release comes from the code, not from importlib.metadata. Before:
    PackageNotFoundError escaped after the job had committed its proxies."""
    site = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    bare = tmp_path / "site-packages"
    bare.mkdir()
    for entry in site.iterdir():
        if "proxx" in entry.name or entry.suffix == ".pth":
            continue  # proxx's metadata and the editable install's path hooks
        (bare / entry.name).symlink_to(entry)
    source = tmp_path / "src"  # the code alone, as in a copy (the checkout may hold egg-info)
    shutil.copytree(REPO / "proxx_exec", source / "proxx_exec")
    spec_file = tmp_path / "job.json"
    spec_file.write_text(make_spec([media.standard]).model_dump_json())
    code = (
        "import importlib.metadata, sys\n"
        "from pathlib import Path\n"
        "try:\n"
        "    importlib.metadata.version('proxx-dagster')\n"
        "    sys.exit('proxx-dagster is installed here after all')\n"
        "except importlib.metadata.PackageNotFoundError:\n"
        "    pass\n"
        "from proxx_exec import execute_file\n"
        "print(execute_file(Path(sys.argv[1])).to_json())\n"
    )
    completed = subprocess.run(
        [sys.executable, "-S", "-c", code, str(spec_file)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{source}{os.pathsep}{bare}"},
    )
    assert completed.returncode == 0, completed.stderr
    result = ExecutionResult.from_json(completed.stdout)
    assert result.status is Status.COMPLETED
    assert result.proxx_version == proxx_exec.__version__
    assert listing(out_dir) == ["A001C001.mov", RESULT]


def test_an_unexpected_error_while_running_is_a_failed_result(
    make_spec: SpecFactory, media: Media, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = [media.standard, media.clip("B001C001.mov", SampleClip(duration_s=1))]
    verified: list[str] = []

    def verify_then_break(clip: ClipPlan, binary: Path, timeout_s: float) -> Verification:
        verified.append(clip.source)
        if len(verified) == 2:
            raise RuntimeError("a bug in verification")
        return verify_clip(clip, binary, timeout_s)

    monkeypatch.setattr("proxx_exec.run.verify_clip", verify_then_break)
    result = execute(make_spec(sources))
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason, result.failure.clip_index) == (
        FailureClass.EXECUTION,
        Reason.INTERNAL_ERROR,
        1,
    )
    assert "clip 2: an unexpected error stopped the job (RuntimeError: a bug in verification)" in (
        result.failure.message
    )
    assert [c.state for c in result.clips] == [ClipState.DISCARDED, ClipState.FAILED]
    assert listing(out_dir) == [RESULT]
    assert written(out_dir) == result


def test_an_unexpected_error_while_validating_is_a_refusal(
    make_spec: SpecFactory, media: Media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing was written yet: the class is VALIDATION, the record does not spend the job_id,
    and the output folder the job would have made is not made."""

    def broken_probe(path: Path) -> object:
        raise RuntimeError("a bug in probing")

    monkeypatch.setattr("proxx_exec.validate.probe", broken_probe)
    parent = tmp_path / "day1"
    parent.mkdir()
    result = execute(make_spec([media.standard], output_dir=str(parent / "proxies")))
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason) == (
        FailureClass.VALIDATION,
        Reason.INTERNAL_ERROR,
    )
    assert listing(parent) == []


def test_an_interrupted_job_records_cleans_up_and_still_stops(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path
) -> None:
    """Ctrl-C while the engine encodes: the engine is killed at once, nothing is committed, the
    staging folder is removed and an INTERRUPTED result is written; then the interruption goes
    on. Before: the staging folder stayed and the next run was refused STAGING_EXISTS."""
    long_clip = media.clip("LONG.mov", SampleClip(width=1280, height=720, duration_s=8))
    wrapper = write_engine_wrapper(tmp_path, 'echo $$ >> "$(dirname "$0")/pids"\nexec "$REAL" "$@"')

    def interrupt(event: ClipProgress) -> None:
        if event.phase == "encode" and event.frames_done > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute(
            make_spec([long_clip], profile="prores_lt", engine=str(wrapper)),
            on_progress=interrupt,
        )
    result = written(out_dir)
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason, result.failure.clip_index) == (
        FailureClass.EXECUTION,
        Reason.INTERRUPTED,
        0,
    )
    assert "clip 1: the job was interrupted (KeyboardInterrupt); nothing was committed" in (
        result.failure.message
    )
    assert listing(out_dir) == [RESULT]
    encoder = int((tmp_path / "pids").read_text().split()[-1])
    with pytest.raises(ProcessLookupError):  # killed and reaped, not encoding on
        os.kill(encoder, 0)
    assert len([c for c in engine_calls(tmp_path) if "-c:v" in c[1]]) == 1
    # The job ran and has its record: the same job again is told so, not "staging exists".
    again = execute(make_spec([long_clip], profile="prores_lt", engine=str(wrapper)))
    assert again.failure is not None and again.failure.reason is Reason.OUTPUT_EXISTS
    assert json.loads((out_dir / RESULT).read_text())["failure"]["reason"] == "INTERRUPTED"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_on_proxx_run(
    make_spec: SpecFactory, media: Media, tmp_path: Path, out_dir: Path, stop: signal.Signals
) -> None:
    """SIGINT (Ctrl-C) or SIGTERM (`kill`, `timeout`, a service manager) to `proxx run` while
    FFmpeg encodes (the engine runs in its own session, so only proxx gets it): the run stops,
    without a traceback, leaving its INTERRUPTED result and nothing else (a SIGTERM left the
    staging folder and no result: a run without a record, its folder to remove by hand); its
    FFmpeg does not encode on (the suite's fixture checks no process is left)."""
    long_clip = media.clip("LONG.mov", SampleClip(width=1280, height=720, duration_s=8))
    spec_file = tmp_path / "job.json"
    spec_file.write_text(make_spec([long_clip], profile="prores_lt").model_dump_json())
    staged = out_dir / ".proxx-staging-test-job" / "LONG.mov"
    status, _, stderr = stop_mid_encode([PROXX, "run", str(spec_file)], staged, stop)
    assert status == 128 + stop  # the status a shell shows for that signal
    assert "Traceback" not in stderr
    assert listing(out_dir) == [RESULT]
    result = written(out_dir)
    assert result.failure is not None
    assert (result.failure.failure_class, result.failure.reason) == (
        FailureClass.EXECUTION,
        Reason.INTERRUPTED,
    )


def test_a_format_2_record_still_reads_after_the_upgrade(
    make_spec: SpecFactory, media: Media, out_dir: Path
) -> None:
    """Results written before the probing library was recorded (format 2) sit beside proxies
    made before an upgrade; they still read, with their digest intact, so the watch folder and
    the folder launchpad still know which clips have proxies. Before: a ValidationError, and the
    folder launchpad refused the folder as having an unreadable earlier result."""
    execute(make_spec([media.standard]))
    path = out_dir / RESULT
    document = json.loads(path.read_bytes())
    del document["prober"]
    path.write_text(json.dumps(reseal({**document, "result_version": "2"})))
    old = ExecutionResult.from_json(path.read_bytes())
    assert (old.result_version, old.prober) == ("2", None)
    assert digest_matches(old)
    assert old.clips[0].state is ClipState.COMMITTED
    assert [earlier.job_id for earlier in earlier_results(out_dir)] == ["test-job"]


def test_a_name_that_is_not_unicode_text_is_a_refusal_not_an_escape(
    media: Media, out_dir: Path, tmp_path: Path
) -> None:
    """A clip whose file name is not UTF-8 (Python reads it as a lone surrogate, and JSON's
    `\\udcff` escape gives the same): no fingerprint or result could be written in UTF-8, so
    execute raised UnicodeEncodeError. Now the JobSpec is refused in words, the character shown
    escaped, through the API and the CLI alike."""
    odd = out_dir.parent / os.fsdecode(b"A001 \xff.mov")
    shutil.copy(media.standard, odd)
    source = json.dumps(str(odd))  # ensure_ascii: the surrogate as "\udcff"
    assert "\\udcff" in source
    spec_file = tmp_path / "odd.json"
    spec_file.write_text(
        f'{{"spec_version": "1", "job_id": "odd-name", "sources": [{source}], '
        f'"output_dir": {json.dumps(str(out_dir))}, "profile": "h264_half"}}'
    )

    result = proxx_exec.execute_document(spec_file.read_bytes())
    assert result.status is Status.FAILED and digest_matches(result)
    assert result.failure is not None and result.failure.reason is Reason.SPEC_INVALID
    assert result.failure.message.startswith('the document: `sources` item 1 "')
    assert 'A001 \\udcff.mov" holds a character that is not Unicode text' in (
        result.failure.message
    )
    with pytest.raises(ValueError, match="not Unicode text"):
        proxx_exec.JobSpec.model_validate(json.loads(spec_file.read_text()))

    completed = subprocess.run(
        [PROXX, "run", str(spec_file)], capture_output=True, text=True, check=False, timeout=120
    )
    assert completed.returncode == 1, completed.stderr
    assert "Traceback" not in completed.stderr
    assert "holds a character that is not Unicode text" in completed.stderr
    assert listing(out_dir) == []


def test_an_interruption_just_after_the_commit_keeps_no_proxy(
    make_spec: SpecFactory, media: Media, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interruption arriving just after every proxy got its final name, before the job
    counts them committed: the record is INTERRUPTED, so no proxy may stay. Before: the commit's
    names were known to the job only once the commit had returned, and all of them stayed
    beside a FAILED record."""
    real_commit = commit_outputs

    def commit_then_interrupted(*args: Any) -> None:
        real_commit(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(proxx_exec.run, "commit_outputs", commit_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        execute(make_spec([media.standard]))
    result = written(out_dir)
    assert result.failure is not None and result.failure.reason is Reason.INTERRUPTED
    assert listing(out_dir) == [RESULT]
