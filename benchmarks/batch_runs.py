"""proxx_batch for tests and the benchmark: Celery workers started from the shipped worker
config, and batch runs through `dg launch`."""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from dagster import DagsterInstance
from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app

from benchmarks.dagster_processes import BIN, REPO, background, dagster_env
from benchmarks.processes import wait_for
from proxx_dagster.builders import EXECUTE_DEFS_JOB, LAUNCHER
from proxx_dagster.jobs.executors import celery_config_source
from proxx_dagster.names import BATCH_JOB, PLAN_OP

REDIS = "redis://127.0.0.1:6379/0"
RABBITMQ = "pyamqp://guest:guest@127.0.0.1:5672//"


@dataclass(frozen=True)
class CeleryBroker:
    """A broker as a test uses it: Redis keys get a prefix of their own, so runs of other
    tests (or a suite running beside) never share a queue; RabbitMQ's queue is purged."""

    broker: str
    backend: str
    key_prefix: str = ""

    @classmethod
    def redis(cls) -> CeleryBroker:
        return cls(REDIS, REDIS, key_prefix=f"proxx-test-{uuid.uuid4().hex[:12]}:")

    @classmethod
    def rabbitmq(cls) -> CeleryBroker:
        return cls(RABBITMQ, "rpc://")

    @property
    def config_source(self) -> dict[str, Any]:
        if not self.key_prefix:
            return {}
        options = {"global_keyprefix": self.key_prefix}
        return {
            "broker_transport_options": options,
            "result_backend_transport_options": options,
        }

    @property
    def env(self) -> dict[str, str]:
        """What the shipped YAML files read."""
        return {"PROXX_CELERY_BROKER": self.broker, "PROXX_CELERY_BACKEND": self.backend}

    def execution(self) -> dict[str, Any]:
        """The batch's `execution` run config, as in deploy/batch-celery.yaml plus our prefix."""
        shipped = yaml.safe_load((REPO / "deploy" / "batch-celery.yaml").read_text())
        execution: dict[str, Any] = shipped["execution"]
        if self.config_source:
            execution["config"]["celery"]["config_source"] = self.config_source
        return execution

    def app(self) -> Any:
        return make_app(  # type: ignore[no-untyped-call]
            CeleryExecutor.for_cli(  # type: ignore[no-untyped-call]
                broker=self.broker,
                backend=self.backend,
                config_source=celery_config_source(self.config_source),
            ).app_args()
        )


@contextlib.contextmanager
def celery_workers(
    broker: CeleryBroker,
    home: Path,
    folder: Path,
    names: list[str],
    app: str = "proxx_dagster.celery_app",
    settings: dict[str, Any] | None = None,
) -> Iterator[list[str]]:
    """`dagster-celery worker` processes (one task at a time each) on the shipped worker
    config (plus `settings`), answering a ping before this yields their node names; always
    stopped after."""
    config = yaml.safe_load((REPO / "deploy" / "celery-worker.yaml").read_text())
    config_source = {**broker.config_source, **(settings or {})}
    if config_source:
        config["execution"]["config"]["config_source"] = config_source
    worker_yaml = folder / "celery-worker.yaml"
    worker_yaml.write_text(yaml.safe_dump(config))
    # Workers started together on an empty DAGSTER_HOME race to create its storage.
    DagsterInstance.from_config(str(home)).dispose()
    control = broker.app()
    if not broker.key_prefix:
        control.control.purge()  # leftovers of an interrupted run must not reach these workers
    argv = [str(BIN / "dagster-celery"), "worker", "start", "-A", app]
    with contextlib.ExitStack() as stack:
        for name in names:
            stack.enter_context(
                background(
                    [*argv, "-y", str(worker_yaml), "-n", name, "--", "--concurrency=1"],
                    home,
                    folder / f"worker-{name}.log",
                    **broker.env,
                )
            )
        nodes: set[str] = set()

        def all_answer() -> bool:
            for reply in control.control.ping(timeout=1.0) or []:
                nodes.update(node for node in reply if node.split("@")[0] in names)
            return len(nodes) == len(names)

        wait_for(all_answer, 90, f"Celery workers {names} to answer a ping")
        yield sorted(nodes)


@contextlib.contextmanager
def running_batch(
    home: Path, run_config: dict[str, Any], folder: Path, **extra_env: str
) -> Iterator[subprocess.Popen[str]]:
    """One proxx_batch run through `dg launch --job` (that process orchestrates); killed
    on the way out if it has not ended (`finish` waits for it)."""
    config_file = folder / f"batch-{uuid.uuid4().hex[:8]}.yaml"
    config_file.write_text(yaml.safe_dump(run_config))
    with subprocess.Popen(
        [str(BIN / LAUNCHER), *EXECUTE_DEFS_JOB, BATCH_JOB, "-c", str(config_file)],
        cwd=REPO,
        env=dagster_env(home, **extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as batch:
        try:
            yield batch
        finally:
            if batch.poll() is None:
                batch.kill()
                batch.wait()


def finish(batch: subprocess.Popen[str]) -> tuple[int, str]:
    """Wait (bounded) for a started batch; its exit code and combined output."""
    output, _ = batch.communicate(timeout=600)
    return batch.returncode, output


def execute_batch(
    home: Path, run_config: dict[str, Any], folder: Path, **extra_env: str
) -> tuple[int, str]:
    with running_batch(home, run_config, folder, **extra_env) as batch:
        return finish(batch)


def batch_config(jobspecs: list[dict[str, Any]], execution: dict[str, Any]) -> dict[str, Any]:
    """A batch's run config: pasted JobSpecs and the `execution` choice."""
    return {"ops": {PLAN_OP: {"config": {"jobspecs": jobspecs}}}, "execution": execution}
