"""The service surface: the shipped UI listens on 127.0.0.1 only, telemetry is off, and no
secret (a database password) reaches a result, a log line or asset metadata."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml
from dagster import DagsterInstance, serialize_value

from benchmarks.dagster_processes import REPO, free_port, listening
from benchmarks.processes import descendants, still_running, wait_for
from proxx_dagster.definitions import proxx_job
from tests.dagster.helpers import run_config
from tests.dagster.services import postgres_schema
from tests.helpers import Media

SECRET = "Pr0xx-S3cret-Passw0rd"


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port`, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                found.add(address)
    return found


def test_shipped_ui_listens_on_loopback_only(tmp_path: Path) -> None:
    """... and its logs, written to a file, are plain text without colour codes."""
    port = free_port()
    home = tmp_path / "home"
    env = {**os.environ, "DAGSTER_HOME": str(home), "PROXX_UI_PORT": str(port)}
    log_file = tmp_path / "ui.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(REPO / "dev.py"), "ui"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    try:
        wait_for(lambda: listening(port), 120, "dg dev to listen")
        addresses = listening_addresses(port)
        assert addresses == {"0100007F"}, addresses  # 127.0.0.1 only, no 0.0.0.0 or ::
        # everything dev.py started: dg dev, its webserver, daemon and code servers
        started = descendants(process.pid)
        commands = " ".join(" ".join(proc.argv) for proc in started)
        assert {"dagster_webserver", "dagster._daemon", "code-server"} <= set(commands.split())
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # a scripted stop: SIGTERM, not Ctrl-C
        code = process.wait(timeout=120)
    assert code == 0  # stopped cleanly, nothing had to be killed
    assert still_running(started) == []
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert config["telemetry"] == {"enabled": False}
    logged = log_file.read_text()
    assert "Launching Dagster services" in logged  # the services did log here
    assert "\x1b" not in logged


def test_shipped_instance_configs_turn_telemetry_and_retries_off() -> None:
    for name in ("dagster.yaml", "dagster.postgres.yaml"):
        config = yaml.safe_load((REPO / "deploy" / name).read_text())
        assert config["telemetry"] == {"enabled": False}
        assert config["run_retries"] == {"enabled": False}
        assert config["run_monitoring"]["max_resume_run_attempts"] == 0
    postgres = (REPO / "deploy" / "dagster.postgres.yaml").read_text()
    assert "env: DAGSTER_POSTGRES_URL" in postgres  # the URL, password included, stays in env


def test_no_secret_in_results_logs_or_metadata(media: Media, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.postgres.yaml").read_text())
    out = tmp_path / "out"
    out.mkdir()
    with postgres_schema(password=SECRET), DagsterInstance.from_config(str(home)) as instance:
        spec = {
            "spec_version": "1",
            "job_id": "secret-check",
            "profile": "h264_quarter",
            "sources": [str(media.standard)],
            "output_dir": str(out),
        }
        outcome = proxx_job.execute_in_process(run_config=run_config(spec), instance=instance)
        assert outcome.success
        records = instance.get_records_for_run(outcome.run_id).records
        logged = "".join(serialize_value(r.event_log_entry) for r in records)
        run = instance.get_run_by_id(outcome.run_id)
        stored = list((Path(instance.storage_directory()) / "proxx-results").rglob("*.json"))
    texts = [
        logged,
        serialize_value(run),
        (out / "secret-check.proxx-result.json").read_text(),
        *(p.read_text() for p in stored),
    ]
    assert stored and len(logged) > 1000
    assert all(SECRET not in text for text in texts)
