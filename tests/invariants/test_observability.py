"""Observability Guarantees: the ExecutionResult alone says what happened; logs only add
detail; every count Dagster shows equals the count of COMPLETED / FAILED results."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus

from proxx_dagster.definitions import proxx_job
from proxx_dagster.translator import COMPLETED_CHECK
from proxx_exec import ExecutionResult, Status, digest_matches, execute
from proxx_exec.result import record_path
from tests.conftest import SpecFactory
from tests.dagster.conftest import INSTANCE_YAML
from tests.dagster.helpers import events, run_config, stored_result
from tests.helpers import PROXX, Media, clear, write_engine_wrapper
from tests.invariants.harness import fingerprint_of_run


def test_the_result_alone_decides(make_spec: SpecFactory, media: Media, tmp_path: Path) -> None:
    ok = execute(make_spec([media.standard]))
    bad = execute(make_spec([tmp_path / "nope.mov"], job_id="bad"))
    for result in (ok, bad):
        stored = ExecutionResult.from_json(result.to_json())  # nothing outside the JSON needed
        assert stored == result and digest_matches(stored)
        assert stored.completed is (stored.status is Status.COMPLETED)
        assert (stored.failure is None) is stored.completed
        assert len(stored.clips) == len(stored.spec.sources)  # type: ignore[union-attr]
        assert stored.engine is None or len(stored.engine.sha256) == 64
    assert {ok.status, bad.status} == {Status.COMPLETED, Status.FAILED}


def test_logs_are_supplemental(make_spec: SpecFactory, media: Media, out_dir: Path) -> None:
    """`proxx run` with its log stream (standard error: progress, messages) read, full, or not
    there at all: the same job, the same result file, the same exit code. Only the log differs."""
    spec_file = out_dir.parent / "job.json"
    spec_file.write_text(json.dumps(make_spec([media.standard]).canonical()))
    runs = []
    for stderr in ("2>&1", "2>/dev/full", "2>&-"):  # read; every write fails; descriptor closed
        clear(out_dir)
        result_file = out_dir.parent / "result.json"
        result_file.unlink(missing_ok=True)
        ran = subprocess.run(
            [
                "sh",
                "-c",
                f'exec "$0" "$@" {stderr}',
                PROXX,
                "run",
                spec_file,
                "--result",
                result_file,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert ran.returncode == 0, (stderr, ran.stdout)
        runs.append((ExecutionResult.from_json(result_file.read_text()), ran.stdout))
    first = fingerprint_of_run(runs[0][0])
    assert all(fingerprint_of_run(result) == first for result, _ in runs[1:])
    assert all(result.completed for result, _ in runs)
    logged = runs[0][1]  # the log, where it could be read, agrees with the result
    assert f"COMPLETED {runs[0][0].job_id}" in logged and "Traceback" not in logged


def test_dagster_counts_equal_result_counts(media: Media, tmp_path: Path) -> None:
    """Run successes, step failures, materializations and the job_completed check: each count
    equals the count of COMPLETED or FAILED ExecutionResults."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    failing = str(
        write_engine_wrapper(tmp_path, 'case "$*" in *-c:v*) exit 2;; esac\nexec "$REAL" "$@"')
    )
    documents: list[dict[str, Any]] = []
    for index, engine in enumerate(
        ["imageio-ffmpeg", failing, "imageio-ffmpeg", failing, "imageio-ffmpeg"]
    ):
        folder = tmp_path / f"o{index}"
        folder.mkdir()
        documents.append(
            {
                "spec_version": "1",
                "job_id": f"m{index}",
                "engine": engine,
                "sources": [str(media.standard)],
                "output_dir": str(folder),
                "profile": "h264_quarter",
            }
        )
    documents.append(
        {
            "spec_version": "1",
            "job_id": "m-invalid",
            "sources": ["/nope.mov"],
            "output_dir": str(tmp_path),
            "profile": "h264_quarter",
        }
    )
    with DagsterInstance.from_config(str(home)) as instance:
        results = []
        for document in documents:
            outcome = proxx_job.execute_in_process(
                run_config=run_config(document), instance=instance, raise_on_error=False
            )
            stored = stored_result(instance, outcome.run_id)
            record = record_path(stored)
            assert record is not None
            results.append(ExecutionResult.from_json(Path(record).read_text()))
            assert results[-1] == stored
            assert outcome.success is results[-1].completed
        completed = sum(r.status is Status.COMPLETED for r in results)
        failed = sum(r.status is Status.FAILED for r in results)
        assert (completed, failed) == (3, 3)
        runs = instance.get_runs()
        assert sum(r.status is DagsterRunStatus.SUCCESS for r in runs) == completed
        assert sum(r.status is DagsterRunStatus.FAILURE for r in runs) == failed
        materialized = instance.get_materialized_partitions(AssetKey(["proxx", "proxies"]))
        assert len(materialized) == completed
        passed = failed_checks = 0
        for run in runs:
            for entry in events(instance, run.run_id, DagsterEventType.ASSET_CHECK_EVALUATION):
                data = entry.get_dagster_event().asset_check_evaluation_data
                if data.check_name == COMPLETED_CHECK:
                    passed += data.passed
                    failed_checks += not data.passed
        assert (passed, failed_checks) == (completed, failed)
