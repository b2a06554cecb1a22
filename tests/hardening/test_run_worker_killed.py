"""The Dagster run worker killed mid-job: its FFmpeg dies within a second; the run is reported
failed by the next look of the proxx_orphaned_runs sensor, never resumed or retried; FFmpeg ran
once; no final-named output; the staging debris is named by the next validation of the job."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import yaml
from dagster import DagsterInstance, DagsterRunStatus

from proxx_exec import JobSpec, Reason, execute
from tests.dagster.helpers import run_config
from tests.dagster.processes import BIN, REPO, background
from tests.helpers import Media, engine_calls, write_engine_wrapper
from tests.processes import encoder_pid, ends_within, parent_of, wait_for


def test_killed_run_worker_is_reported_failed_not_resumed(media: Media, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.yaml").read_text())
    out = tmp_path / "out"
    out.mkdir()
    clip = media.h264_clip("WORKER.mov")
    wrapper = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    spec = {
        "spec_version": "1",
        "job_id": "worker-dies",
        "sources": [str(clip)],
        "output_dir": str(out),
        "profile": "prores_lt",
        "engine": str(wrapper),
        "clip_timeout_s": 300,
    }
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(run_config(spec)))
    env = {**os.environ, "DAGSTER_HOME": str(home), "PROXX_ORPHAN_INTERVAL_S": "5"}
    workspace = str(REPO / "workspace.yaml")
    os.environ["PROXX_ORPHAN_INTERVAL_S"] = "5"
    try:
        with (
            background(
                [str(BIN / "dagster-daemon"), "run", "-w", workspace], home, tmp_path / "daemon.log"
            ),
            DagsterInstance.from_config(str(home)) as instance,
        ):
            subprocess.run(
                [
                    str(BIN / "dagster"),
                    "job",
                    "launch",
                    "-w",
                    workspace,
                    "-j",
                    "proxx_job",
                    "-c",
                    str(config),
                ],
                cwd=REPO,
                env=env,
                check=True,
                capture_output=True,
                timeout=120,
            )
            wait_for(lambda: encoder_pid("WORKER.mov") is not None, 120, "the encode to start")
            encoder = encoder_pid("WORKER.mov")
            assert encoder is not None
            worker = parent_of(encoder)
            os.kill(worker, signal.SIGKILL)  # the run worker dies mid-clip
            assert ends_within(encoder, 1.0), "the encode outlived its run worker"
            [run] = instance.get_runs()
            wait_for(
                lambda: (
                    instance.get_run_by_id(run.run_id).status  # type: ignore[union-attr]
                    is DagsterRunStatus.FAILURE
                ),
                120,
                "the run to be reported failed",
            )
            assert len(instance.get_runs()) == 1  # not resumed, not retried
    finally:
        del os.environ["PROXX_ORPHAN_INTERVAL_S"]
    assert len([a for _, a in engine_calls(tmp_path) if "-c:v" in a]) == 1
    assert sorted(p.name for p in out.iterdir()) == [".proxx-staging-worker-dies"]
    again = execute(JobSpec.model_validate(spec))
    assert again.failure is not None and again.failure.reason is Reason.STAGING_EXISTS
    assert ".proxx-staging-worker-dies" in again.failure.message
