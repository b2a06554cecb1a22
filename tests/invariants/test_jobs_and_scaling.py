"""Scaling Constraints, No Cross-Job Influence, No Background Mutation, Failure Semantics:
jobs side by side behave as they do alone, share nothing, and fail the same way."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from proxx_exec import ExecutionResult, JobSpec, Status, execute
from proxx_exec.tools.samples import SampleClip
from tests.conftest import SpecFactory
from tests.helpers import PROXX, Media, clear, engine_calls, listing, write_engine_wrapper
from tests.invariants.harness import fingerprint_of_run

HANG_ON_ENCODE = 'case "$*" in *-c:v*) exec /bin/sleep 60;; esac\nexec "$REAL" "$@"'


def run_together(specs: list[JobSpec], folder: Path) -> list[ExecutionResult]:
    """Start every job as its own `proxx run` process at once; wait for all."""
    processes = []
    for index, spec in enumerate(specs):
        spec_file = folder / f"together-{index}.json"
        spec_file.write_text(json.dumps(spec.canonical()))
        processes.append(
            subprocess.Popen(
                [PROXX, "run", str(spec_file)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
            )
        )
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    return [ExecutionResult.from_json(output) for output in outputs]


def three_jobs(make_spec: SpecFactory, media: Media, tmp_path: Path) -> list[JobSpec]:
    specs = []
    for index in range(3):
        folder = tmp_path / f"job{index}"
        folder.mkdir()
        clip = media.clip(f"J{index}.mov", SampleClip(duration_s=1, reel_name=f"J{index}"))
        specs.append(
            make_spec(
                [clip, media.standard],
                job_id=f"job{index}",
                output_dir=str(folder),
                profile="h264_half",
            )
        )
    return specs


def test_jobs_alone_equal_jobs_together_in_any_order(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    specs = three_jobs(make_spec, media, tmp_path)
    alone = [fingerprint_of_run(execute(spec)) for spec in specs]
    for order in ([0, 1, 2], [2, 1, 0]):
        for spec in specs:
            clear(Path(spec.output_dir))
        together = run_together([specs[i] for i in order], tmp_path)
        assert [fingerprint_of_run(r) for r in together] == [alone[i] for i in order]


def test_a_failing_job_beside_others_changes_nothing(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    specs = three_jobs(make_spec, media, tmp_path)
    alone = [fingerprint_of_run(execute(spec)) for spec in specs]
    for spec in specs:
        clear(Path(spec.output_dir))
    failing_folder = tmp_path / "failing"
    failing_folder.mkdir()
    failing = make_spec(
        [media.standard],
        job_id="failing",
        output_dir=str(failing_folder),
        engine=str(write_engine_wrapper(tmp_path, 'exec "$REAL" "$@" -bogus')),
    )
    results = run_together([specs[0], failing, specs[1], specs[2]], tmp_path)
    assert results[1].status is Status.FAILED
    assert [fingerprint_of_run(r) for i, r in enumerate(results) if i != 1] == alone


def test_same_source_in_two_jobs_is_encoded_twice(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    """No shared intermediate results, no cross-job caching or batch optimisation."""
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        folder.mkdir()
    results = run_together(
        [
            make_spec(
                [media.standard], job_id=f"same-{f.name}", output_dir=str(f), engine=str(wrapper)
            )
            for f in folders
        ],
        tmp_path,
    )
    assert all(r.status is Status.COMPLETED for r in results)
    encodes = [args for _, args in engine_calls(tmp_path) if "-c:v" in args]
    assert len(encodes) == 2
    assert results[0].clips[0].output_sha256 == results[1].clips[0].output_sha256


def test_a_timeout_is_the_same_failure_alone_and_in_company(
    make_spec: SpecFactory, media: Media, tmp_path: Path
) -> None:
    hanging = write_engine_wrapper(tmp_path, HANG_ON_ENCODE)
    folder = tmp_path / "timeout"
    folder.mkdir()
    spec = make_spec(
        [media.standard], job_id="to", output_dir=str(folder), engine=str(hanging), clip_timeout_s=2
    )
    alone = execute(spec)
    clear(folder)
    company = three_jobs(make_spec, media, tmp_path)
    results = run_together([spec, *company], tmp_path)
    for result in (alone, results[0]):
        assert result.failure is not None
        assert (result.failure.failure_class.value, result.failure.reason.value) == (
            "EXECUTION",
            "TIMEOUT",
        )
    assert results[0].failure == alone.failure  # same words: nothing context-dependent
    assert results[0].digest == alone.digest


def test_execution_writes_only_into_the_output_folder(
    make_spec: SpecFactory, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    """No background mutation: HOME, TMPDIR, the working directory and the sources untouched;
    the JobSpec file unchanged."""
    home, temp, cwd = (tmp_path / n for n in ("home", "tmp", "cwd"))
    for folder in (home, temp, cwd):
        folder.mkdir()
    source_digest = hashlib.sha256(media.standard.read_bytes()).hexdigest()
    spec_file = tmp_path / "job.json"
    spec_file.write_text(json.dumps(make_spec([media.standard]).canonical()))
    before = spec_file.read_bytes()
    completed = subprocess.run(
        [PROXX, "run", str(spec_file)],
        cwd=cwd,
        capture_output=True,
        env={**os.environ, "HOME": str(home), "TMPDIR": str(temp)},
        check=False,
        timeout=300,
    )
    assert completed.returncode == 0
    assert listing(home) == listing(temp) == listing(cwd) == []
    assert listing(out_dir) == ["A001C001.mov", "test-job.proxx-result.json"]
    assert hashlib.sha256(media.standard.read_bytes()).hexdigest() == source_digest
    assert spec_file.read_bytes() == before
