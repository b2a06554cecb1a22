"""proxx_job through Dagster's own processes: the CLI, the GraphQL API of a running webserver
(what the UI does), and the daemon with run retries switched on at the instance."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster_graphql import DagsterGraphQLClient

from benchmarks.dagster_processes import BIN, REPO, daemon, dagster_env, free_port, webserver
from benchmarks.processes import wait_for
from proxx_dagster.builders import EXECUTE_PROXX_JOB, LAUNCHER
from tests.dagster.helpers import run_config, spec_fields
from tests.helpers import Media, job_encodes, listing, write_engine_wrapper

PROXIES = AssetKey(["proxx", "proxies"])


def test_dg_launch_cli(dagster_home: Path, media: Media, out_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(run_config(spec_fields(media, out_dir, "cli-1"))))
    completed = subprocess.run(
        [
            str(BIN / LAUNCHER),
            *EXECUTE_PROXX_JOB,
            "-c",
            str(config),
        ],
        cwd=REPO,
        env=dagster_env(dagster_home),
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert listing(out_dir) == [
        "A001C001.mov",
        "ascmhl",
        "cli-1.proxx-contact-sheet.html",
        "cli-1.proxx-posters",
        "cli-1.proxx-result.json",
        "cli-1.proxx.ale",
        "cli-1.proxx.fcpxml",
    ]
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        [run] = instance.get_runs()
        assert run.status is DagsterRunStatus.SUCCESS
        assert run.tags["dagster/max_retries"] == "0"


def test_launch_through_graphql_against_a_running_webserver(
    dagster_home: Path, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    workspace = REPO / "workspace.yaml"
    with (
        webserver(dagster_home, workspace, port, tmp_path / "webserver.log"),
        daemon(dagster_home, workspace, tmp_path / "daemon.log"),
    ):

        def answering() -> bool:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/server_info", timeout=2
                ) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        wait_for(answering, 120, "the webserver to answer")
        client = DagsterGraphQLClient("127.0.0.1", port_number=port)
        run_id = client.submit_job_execution(
            "proxx_job", run_config=run_config(spec_fields(media, out_dir, "gql-1"))
        )

        def finished() -> bool:
            return client.get_run_status(run_id) in {
                DagsterRunStatus.SUCCESS,
                DagsterRunStatus.FAILURE,
            }

        wait_for(finished, 180, "the queued run to finish")
        assert client.get_run_status(run_id) is DagsterRunStatus.SUCCESS
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        event = instance.get_latest_materialization_event(PROXIES)
        assert event is not None and event.run_id == run_id
        materialization = event.asset_materialization
        assert materialization is not None and materialization.partition == "gql-1"
        assert "proxx/result_digest" in materialization.metadata
        result = json.loads((out_dir / "gql-1.proxx-result.json").read_text())
        assert materialization.metadata["proxx/result_digest"].value == result["digest"]


CONTROL_LOCATION = """
from dagster import Definitions, Failure, job, op


@op
def always_fails() -> None:
    raise Exception("control: an ordinary failing op, retried by the instance")


@job
def control_job() -> None:
    always_fails()


defs = Definitions(jobs=[control_job])
"""


def test_instance_run_retries_never_rerun_a_proxx_job(
    dagster_home: Path, media: Media, out_dir: Path, tmp_path: Path
) -> None:
    """run_retries on (max 3), daemon running, a failing JobSpec launched twice (once with
    dagster/max_retries=3): each is one run, one encode. A control job proves the daemon retries."""
    (dagster_home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "run_retries:\n  enabled: true\n  max_retries: 3\n  retry_on_asset_or_op_failure: true\n"
    )
    (tmp_path / "control.py").write_text(CONTROL_LOCATION)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        yaml.safe_dump(
            {
                "load_from": [
                    {
                        "python_module": {
                            "module_name": "proxx_dagster.definitions",
                            "attribute": "defs",
                            "location_name": "proxx",
                            "working_directory": str(REPO),
                        }
                    },
                    {
                        "python_file": {
                            "relative_path": str(tmp_path / "control.py"),
                            "location_name": "control",
                        }
                    },
                ]
            }
        )
    )
    wrapper = write_engine_wrapper(
        tmp_path, 'case "$*" in *-c:v*) exit 3;; esac\nexec "$REAL" "$@"'
    )

    def launch(job: str, location: str, config: dict[str, Any], tags: dict[str, str]) -> None:
        config_file = tmp_path / f"{job}-{len(tags)}.yaml"
        config_file.write_text(yaml.safe_dump(config))
        subprocess.run(
            [
                str(BIN / "dagster"),
                "job",
                "launch",
                "-w",
                str(workspace),
                "-l",
                location,
                "-j",
                job,
                "-c",
                str(config_file),
                "--tags",
                json.dumps(tags),
            ],
            cwd=REPO,
            env=dagster_env(dagster_home),
            check=True,
            capture_output=True,
            timeout=120,
        )

    with (
        daemon(dagster_home, workspace, tmp_path / "daemon.log"),
        DagsterInstance.from_config(str(dagster_home)) as instance,
    ):
        launch("control_job", "control", {}, {})
        for job_id, tags in (("r-1", {}), ("r-2", {"dagster/max_retries": "3"})):
            launch(
                "proxx_job",
                "proxx",
                run_config(spec_fields(media, out_dir, job_id, engine=str(wrapper))),
                tags,
            )

        def runs(job: str) -> list[Any]:
            return list(instance.get_runs(RunsFilter(job_name=job)))

        wait_for(
            lambda: len(runs("control_job")) >= 3, 240, "the daemon to retry the control job twice"
        )
        proxx_runs = runs("proxx_job")
        wait_for(lambda: all(r.is_finished for r in runs("proxx_job")), 60, "proxx runs to finish")
        assert len(proxx_runs) == 2
        assert all(r.status is DagsterRunStatus.FAILURE for r in runs("proxx_job"))
        assert all(r.tags.get("dagster/will_retry") == "false" for r in runs("proxx_job"))
    encodes = job_encodes(tmp_path)
    assert len(encodes) == 2  # one per job, never again
    assert [n for n in listing(out_dir) if not n.endswith(".proxx-result.json")] == []


def test_workspace_yaml_and_pyproject_both_load_the_code_location(dagster_home: Path) -> None:
    for extra in (["-w", str(REPO / "workspace.yaml")], []):  # [] = [tool.dagster]
        completed = subprocess.run(
            [str(BIN / "dagster"), "definitions", "validate", *extra],
            cwd=REPO,
            env=dagster_env(dagster_home),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr[-2000:]
