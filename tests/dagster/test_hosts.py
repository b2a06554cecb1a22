"""Whole runs on other hosts, on one engine: runs launched on "host A" through
`ProxxCeleryRunLauncher` are executed by Celery workers started as other hosts would start them
(their own DAGSTER_HOME view of the one PostgreSQL instance, their own working folder, their own
PROXX_HOST_NAME, the shared media and artifact paths). A worker whose engine differs is refused
in words, nothing encoded. Skipped with the reason when Redis or PostgreSQL is unreachable;
failed under CI=true.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import psutil
import pytest
import yaml
from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

from benchmarks.batch_runs import CeleryBroker
from benchmarks.dagster_processes import BIN, REPO, background_in, dagster_env
from benchmarks.processes import wait_for
from proxx_dagster.definitions import proxx_job
from proxx_dagster.hosts import (
    ENGINE_HOST_TAG,
    ENGINE_RUN_TAG,
    ENGINE_SHA256_TAG,
    ENGINE_TAG,
    HOST_METADATA_KEY,
    HOST_NAME_ENV,
)
from proxx_dagster.names import PROXX_JOB
from proxx_exec import Reason, Status, engines
from proxx_exec.naming import REFUSAL_INFIX
from tests.dagster.helpers import (
    events,
    output_metadata,
    run_config,
    spec_fields,
    step_failure,
    stored_result,
)
from tests.dagster.services import postgres_schema, require_tcp_service
from tests.helpers import REAL_ENGINE, Media, engine_calls, sha256, write_engine_wrapper

QUEUE_TAG = "dagster-celery/queue"  # dagster-celery's tag: the queue a run is sent to
ENDED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


@pytest.fixture
def redis() -> CeleryBroker:
    require_tcp_service("Redis", 6379)
    return CeleryBroker.redis()


def make_home(host: Path, artifacts: Path, broker: CeleryBroker | None = None) -> Path:
    """A host's own DAGSTER_HOME: the shipped PostgreSQL instance config, the shared artifact
    storage and, on the launching host, the shipped Celery run launcher."""
    home = host / "dagster_home"
    home.mkdir(parents=True)
    config = yaml.safe_load((REPO / "deploy" / "dagster.postgres.yaml").read_text())
    config["local_artifact_storage"] = {
        "module": "dagster._core.storage.root",
        "class": "LocalArtifactStorage",
        "config": {"base_dir": str(artifacts)},
    }
    if broker is not None:
        launcher = yaml.safe_load((REPO / "deploy" / "run-launcher-celery.yaml").read_text())
        launcher["run_launcher"]["config"]["config_source"] = broker.config_source
        config.update(launcher)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    return home


def other_engine_site(folder: Path) -> tuple[Path, str]:
    """An imageio-ffmpeg package whose FFmpeg is the real one with one byte appended: it runs
    the same, but its SHA-256 differs, as on a host with another wheel. Put first on
    PYTHONPATH, it is that host's default engine."""
    package = Path(imageio_ffmpeg.__file__).parent
    copy = folder / "imageio_ffmpeg"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    binary = copy / "binaries" / REAL_ENGINE.name
    with binary.open("ab") as handle:
        handle.write(b"\0")
    return folder, sha256(binary)


@contextlib.contextmanager
def worker(
    broker: CeleryBroker, host: Path, home: Path, name: str, queue: str, **env: str
) -> Iterator[None]:
    """A run worker as another host starts it: shipped worker config, its own home, working
    folder and host name, a thread pool (a whole run may start step processes)."""
    config = yaml.safe_load((REPO / "deploy" / "celery-worker.yaml").read_text())
    if broker.config_source:
        config["execution"]["config"]["config_source"] = broker.config_source
    worker_yaml = host / "celery-worker.yaml"
    worker_yaml.write_text(yaml.safe_dump(config))
    work = host / "work"
    work.mkdir()
    argv = [str(BIN / "dagster-celery"), "worker", "start", "-A", "proxx_dagster.celery_app"]
    argv += ["-y", str(worker_yaml), "-q", queue, "-n", name]
    argv += ["--", "--pool=threads", "--concurrency=1"]
    log = host / "worker.log"
    with background_in(work, argv, home, log, **{HOST_NAME_ENV: name}, **broker.env, **env):
        yield


def launch(
    home: Path, work: Path, spec: dict[str, Any], run_id: str, tags: dict[str, str], **env: str
) -> subprocess.Popen[str]:
    """`dagster job launch` on host A: the run is queued; host A's daemon launches it."""
    config = work / f"{run_id}.yaml"
    config.write_text(yaml.safe_dump(run_config(spec)))
    argv = [str(BIN / "dagster"), "job", "launch", "-m", "proxx_dagster.definitions"]
    argv += ["-a", "defs", "-j", PROXX_JOB, "-c", str(config), "--run-id", run_id]
    argv += ["--tags", json.dumps(tags)]
    return subprocess.Popen(
        argv,
        cwd=work,
        env=dagster_env(home, **{HOST_NAME_ENV: "host-a"}, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_worker_process(instance: DagsterInstance, run_id: str) -> psutil.Process:
    """The process that executed the run's steps, from the pid its engine events carry."""

    def pids() -> set[str]:
        return {
            str(metadata["pid"].value)
            for entry in events(instance, run_id, DagsterEventType.ENGINE_EVENT)
            if "pid" in (metadata := entry.get_dagster_event().engine_event_data.metadata)
        }

    run = instance.get_run_by_id(run_id)
    assert run is not None and run.status is DagsterRunStatus.SUCCESS, run
    # the worker's events reach the database by another connection than its run's status
    wait_for(lambda: len(pids()) == 1, 30, "the run worker's pid among its events")
    [pid] = pids()
    return psutil.Process(int(pid))


def proxies(folder: Path) -> list[str]:
    """What a job left in its output folder beside its refusal record."""
    return sorted(p.name for p in folder.iterdir() if REFUSAL_INFIX not in p.name)


def test_runs_launched_on_host_a_execute_on_other_hosts_on_one_engine(
    redis: CeleryBroker, media: Media, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"  # mounted at the same path on every host
    outputs = {name: shared / "proxies" / name for name in ("on-b", "pinned", "stamped")}
    for folder in outputs.values():
        folder.mkdir(parents=True)
    real = sha256(REAL_ENGINE)
    site, other = other_engine_site(tmp_path / "host-c" / "site")
    source = str(media.standard)
    on_b = spec_fields(media, outputs["on-b"], "on-b", sources=[source])
    pinned = spec_fields(media, outputs["pinned"], "pinned", engine_sha256=real)
    stamped = spec_fields(media, outputs["stamped"], "stamped")
    ids = {name: str(uuid.uuid4()) for name in ("on-b", "pinned", "stamped")}
    to_c = {QUEUE_TAG: "host-c-runs"}
    # As if an earlier step of this run had run on host-b (the real engine).
    b_stamp = {
        ENGINE_TAG: "imageio-ffmpeg",
        ENGINE_SHA256_TAG: real,
        ENGINE_HOST_TAG: "host-b",
        ENGINE_RUN_TAG: ids["stamped"],
    }

    with postgres_schema():
        artifacts = shared / "dagster-storage"
        home_a = make_home(tmp_path / "host-a", artifacts, redis)
        home_b = make_home(tmp_path / "host-b", artifacts)
        home_c = make_home(tmp_path / "host-c", artifacts)
        work_a = tmp_path / "host-a" / "work"
        work_a.mkdir()
        DagsterInstance.from_config(str(home_a)).dispose()  # the schema, made once
        with (
            worker(redis, tmp_path / "host-b", home_b, "host-b", "proxx-runs"),
            worker(
                redis, tmp_path / "host-c", home_c, "host-c", "host-c-runs", PYTHONPATH=str(site)
            ),
            # Host A's daemon takes the queued runs and hands them to the run launcher.
            background_in(
                work_a,
                [str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")],
                home_a,
                tmp_path / "host-a" / "daemon.log",
                **{HOST_NAME_ENV: "host-a"},
                **redis.env,
            ),
        ):
            control = redis.app()

            def both_answer() -> bool:
                nodes = {
                    n.split("@")[0] for r in control.control.ping(timeout=1.0) or [] for n in r
                }
                return {"host-b", "host-c"} <= nodes

            wait_for(both_answer, 90, "the workers of host-b and host-c to answer a ping")
            launches = [
                launch(home_a, work_a, on_b, ids["on-b"], {}, **redis.env),
                launch(home_a, work_a, pinned, ids["pinned"], to_c, **redis.env),
                launch(home_a, work_a, stamped, ids["stamped"], {**to_c, **b_stamp}, **redis.env),
            ]
            for launched in launches:
                output, _ = launched.communicate(timeout=120)
                assert launched.returncode == 0, output
            with DagsterInstance.from_config(str(home_a)) as instance:

                def all_ended() -> bool:
                    runs = [instance.get_run_by_id(run_id) for run_id in ids.values()]
                    return all(run is not None and run.status in ENDED for run in runs)

                wait_for(all_ended, 120, "the three runs to end")
                executor = run_worker_process(instance, ids["on-b"])
                assert executor.environ()[HOST_NAME_ENV] == "host-b"
                assert Path(executor.cwd()) == tmp_path / "host-b" / "work"
                assert executor.environ()["DAGSTER_HOME"] == str(home_b)

        with DagsterInstance.from_config(str(home_a)) as instance:
            runs = {name: instance.get_run_by_id(run_id) for name, run_id in ids.items()}
            result_b = stored_result(instance, ids["on-b"])
            metadata_b = output_metadata(instance, ids["on-b"])
            result_pinned = stored_result(instance, ids["pinned"])
            stamped_failures = events(instance, ids["stamped"], DagsterEventType.STEP_FAILURE)
            stamped_failure = step_failure(instance, ids["stamped"]) if stamped_failures else ""
            stamped_outputs = events(instance, ids["stamped"], DagsterEventType.STEP_OUTPUT)

    # host-b ran the whole run: proxies verified, the run stamped with host-b's engine.
    run_b = runs["on-b"]
    assert run_b is not None and run_b.status is DagsterRunStatus.SUCCESS
    assert run_b.tags[ENGINE_HOST_TAG] == "host-b"
    assert run_b.tags[ENGINE_SHA256_TAG] == real
    assert run_b.tags[ENGINE_RUN_TAG] == ids["on-b"]
    assert metadata_b[HOST_METADATA_KEY].value == "host-b"
    assert result_b.status is Status.COMPLETED
    assert result_b.engine is not None and result_b.engine.sha256 == real
    [clip] = result_b.clips
    assert clip.output is not None and sha256(Path(clip.output)) == clip.output_sha256
    assert Path(clip.output).parent == outputs["on-b"]

    # host-c's engine is another binary: the JobSpec pinning the real one is refused there.
    run_pinned = runs["pinned"]
    assert run_pinned is not None and run_pinned.status is DagsterRunStatus.FAILURE
    assert run_pinned.tags[ENGINE_HOST_TAG] == "host-c"
    assert result_pinned.failure is not None
    assert result_pinned.failure.reason is Reason.ENGINE_MISMATCH
    assert f"pins engine_sha256 {real}" in result_pinned.failure.message
    assert f"has SHA-256 {other}" in result_pinned.failure.message
    assert proxies(outputs["pinned"]) == []

    # A run whose engine is host-b's gets no step run on host-c with another engine.
    run_stamped = runs["stamped"]
    assert run_stamped is not None and run_stamped.status is DagsterRunStatus.FAILURE
    assert "this step is on host host-c" in stamped_failure
    assert f"has SHA-256 {other}" in stamped_failure
    assert f"stamped by host host-b, has SHA-256 {real}" in stamped_failure
    assert stamped_outputs == []  # no result: the job never started
    assert run_stamped.tags[ENGINE_HOST_TAG] == "host-b"  # the stamp is kept
    assert list(outputs["stamped"].iterdir()) == []


# The stamp's rules, in process on one machine (no services): PROXX_HOST_NAME stands in for
# the host, an engine wrapper with its own SHA-256 for another engine.


def test_a_stamp_copied_from_another_run_is_replaced(
    instance: DagsterInstance, media: Media, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HOST_NAME_ENV, "host-b")
    copied = {
        ENGINE_TAG: "imageio-ffmpeg",
        ENGINE_SHA256_TAG: "0" * 64,
        ENGINE_HOST_TAG: "host-z",
        ENGINE_RUN_TAG: "earlier",
    }
    outcome = proxx_job.execute_in_process(
        run_config=run_config(spec_fields(media, out_dir)), instance=instance, tags=copied
    )
    assert outcome.success
    run = instance.get_run_by_id(outcome.run_id)
    assert run is not None
    assert run.tags[ENGINE_HOST_TAG] == "host-b"
    assert run.tags[ENGINE_SHA256_TAG] == sha256(REAL_ENGINE)
    assert run.tags[ENGINE_RUN_TAG] == outcome.run_id
    assert output_metadata(instance, outcome.run_id)[HOST_METADATA_KEY].value == "host-b"


def test_another_host_with_another_engine_is_refused_and_the_same_engine_runs(
    instance: DagsterInstance,
    media: Media,
    out_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The JobSpecs name the pinned engine, "imageio-ffmpeg"; on hosts where it is another
    binary (its SHA-256 differs from the run's stamp) the step is refused. A JobSpec that names
    another engine itself is its own choice (a batch may mix them): it runs, its result says
    which engine made it."""
    other = write_engine_wrapper(tmp_path, 'exec "$REAL" "$@"')
    (tmp_path / "named").mkdir()
    named = write_engine_wrapper(tmp_path / "named", 'exec "$REAL" "$@"')
    cases = [
        ("same", "imageio-ffmpeg", None, True, "host-c"),
        ("other", "imageio-ffmpeg", other, False, "host-c"),
        # a host of the stamping host's name is checked too: two pods of different images on
        # one node share a node name (before: it was never compared, and the other engine ran)
        ("samename", "imageio-ffmpeg", other, False, "host-b"),
        ("named", str(named), None, True, "host-c"),
    ]
    finished = {}
    for job_id, engine, binary, ok, host in cases:
        monkeypatch.setenv(HOST_NAME_ENV, host)
        run_id = str(uuid.uuid4())
        (out_dir / job_id).mkdir()
        # An earlier step of this run ran on host-b with the real engine.
        stamp = {
            ENGINE_TAG: "imageio-ffmpeg",
            ENGINE_SHA256_TAG: sha256(REAL_ENGINE),
            ENGINE_HOST_TAG: "host-b",
        }
        with monkeypatch.context() as patch:
            if binary is not None:  # this host's imageio-ffmpeg is another binary
                patch.setattr(engines, "default_engine_binary", lambda binary=binary: binary)
            outcome = proxx_job.execute_in_process(
                run_config=run_config(spec_fields(media, out_dir / job_id, job_id, engine=engine)),
                instance=instance,
                tags={**stamp, ENGINE_RUN_TAG: run_id},
                run_id=run_id,
                raise_on_error=False,
            )
        assert outcome.success is ok, job_id
        if ok:
            finished[job_id] = run_id
        else:
            message = step_failure(instance, run_id)
            assert f"this step is on host {host}, whose engine (imageio-ffmpeg" in message
            assert f"{sha256(other)}; this run's engine, stamped by host host-b" in message
            assert f"has SHA-256 {sha256(REAL_ENGINE)}" in message
    assert [args for _, args in engine_calls(tmp_path)] == ["-hide_banner -version"] * 2
    for job_id in ("same", "named"):
        assert stored_result(instance, finished[job_id]).status is Status.COMPLETED
    for refused in ("other", "samename"):  # not even a refusal record: never started
        assert list((out_dir / refused).iterdir()) == []
