"""The Celery app for proxx workers: dagster-celery's app with redelivery closed.

Start workers with `dagster-celery worker start -A proxx_dagster.celery_app -y worker.yaml`.
They take steps (`execute_plan`, from the Celery executor) and whole runs (`execute_job`, from
`proxx_dagster.launcher.ProxxCeleryRunLauncher`), from the queues they listen on.
The YAML names the broker; the settings in `PINNED_CELERY_SETTINGS` are laid over it here, so a
worker cannot be configured to hand a started task to another worker.
"""

import logging

from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_task

from proxx_dagster.jobs.executors import PINNED_CELERY_SETTINGS

app = make_app()  # type: ignore[no-untyped-call]
for key, pinned in PINNED_CELERY_SETTINGS.items():
    if key in app.conf.changes and app.conf.changes[key] != pinned:
        logging.getLogger(__name__).warning(
            "the worker config sets %s=%r; proxx pins %r (a started task must never run again)",
            key,
            app.conf.changes[key],
            pinned,
        )
app.conf.update(PINNED_CELERY_SETTINGS)
execute_plan = create_task(app)  # type: ignore[no-untyped-call]
execute_job = create_execute_job_task(app)
