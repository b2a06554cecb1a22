"""Whole runs on other hosts: dagster-celery's `CeleryRunLauncher`, with proxx's pins.

The launcher sends each run to a Celery queue (`proxx-runs` unless configured); a worker on
any host that listens on it executes the whole run there (`execute_job`, registered by
`proxx_dagster.celery_app`), reading the run from its own `DAGSTER_HOME` view of the shared
instance storage. Start such workers with `--pool=threads`: a prefork pool's processes are
daemonic, and a run using the multiprocess executor could not start its step processes.

What proxx changes: the settings that stop Celery from handing a started task to another worker
(`PINNED_CELERY_SETTINGS`) are laid over the launcher's Celery config, the broker must be named
(no default broker on localhost), and a run is never resumed: resuming would start its engine
again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from dagster import Field, StringSource
from dagster_celery.launcher import CeleryRunLauncher
from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG, DAGSTER_CELERY_TASK_ID_TAG
from dagster_celery.tasks import create_execute_job_task

from proxx_dagster.dagster_internals import (
    ConfigurableClassData,
    EngineEventData,
    ExecuteRunArgs,
    LaunchRunContext,
    pack_value,
)
from proxx_dagster.jobs.executors import celery_config_source

RUN_QUEUE = "proxx-runs"


class ProxxCeleryRunLauncher(CeleryRunLauncher):
    """Runs as Celery tasks on `RUN_QUEUE`, never redelivered, never resumed."""

    def __init__(
        self,
        broker: str,
        *,
        backend: str | None = "rpc://",
        default_queue: str = RUN_QUEUE,
        include: list[str] | None = None,
        config_source: Mapping[str, Any] | None = None,
        inst_data: ConfigurableClassData | None = None,
    ) -> None:
        super().__init__(
            default_queue=default_queue,
            broker=broker,
            backend=backend,
            include=include,
            config_source=celery_config_source(config_source or {}),
            inst_data=inst_data,
        )

    def launch_run(self, context: LaunchRunContext) -> None:
        """As dagster-celery's, but sent to the queue by the queue's own routing key:
        dagster-celery's `<queue>.execute_job` key matches no binding of a queue a worker
        declares with `-q <queue>`, and the broker drops the run."""
        run = context.dagster_run
        if run.job_code_origin is None:
            raise ValueError(f"run {run.run_id} has no code origin to execute it from")
        args = ExecuteRunArgs(
            job_origin=run.job_code_origin,
            run_id=run.run_id,
            instance_ref=None,  # the worker reads the run from its own DAGSTER_HOME
            set_exit_code_on_failure=True,
        )
        queue = run.tags.get(DAGSTER_CELERY_QUEUE_TAG, self.default_queue)
        task = create_execute_job_task(self.celery)
        sent = task.si(execute_job_args_packed=pack_value(args)).apply_async(queue=queue)
        self._instance.add_run_tags(run.run_id, {DAGSTER_CELERY_TASK_ID_TAG: sent.task_id})
        self._instance.report_engine_event(
            f"Run sent to Celery queue {queue}",
            run,
            EngineEventData({"Celery Task ID": sent.task_id, "Celery Queue": queue}),
            cls=self.__class__,
        )

    @property
    def supports_resume_run(self) -> bool:
        return False  # resuming would start the run's engine again

    @classmethod
    def config_type(cls) -> Any:
        fields: dict[str, Any] = dict(super().config_type())  # type: ignore[arg-type]
        fields["broker"] = Field(
            StringSource,
            description="Broker URL, e.g. redis://host:6379/0 or pyamqp://guest:guest@host:5672//.",
        )
        fields["default_queue"] = Field(
            StringSource,
            is_required=False,
            default_value=RUN_QUEUE,
            description="The Celery queue runs are sent to, unless a run's "
            "`dagster-celery/queue` tag names another.",
        )
        return fields

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> Self:
        return cls(inst_data=inst_data, **config_value)
