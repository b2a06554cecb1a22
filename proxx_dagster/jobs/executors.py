"""The batch job's executor: in process, multiprocess or Celery, chosen by run config.

Each choice builds Dagster's own executor with retries disabled; the config has no `retries`
field, so no launch can turn them on. Celery's own redelivery paths are closed by
`PINNED_CELERY_SETTINGS`, applied on the submitting side here and on the workers by
`proxx_dagster.celery_app`. Every proxx job's executor records its run worker first, so the
`proxx_orphaned_runs` sensor can tell when that process dies (watch/orphans.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dagster import (
    Enum,
    EnumValue,
    Executor,
    ExecutorRequirement,
    Field,
    InitExecutorContext,
    Int,
    Noneable,
    Permissive,
    Selector,
    StringSource,
    executor,
    in_process_executor,
    multiple_process_executor_requirements,
    multiprocess_executor,
)
from dagster_celery import celery_executor

from proxx_dagster.dagster_internals import instance_class_modules, job_module
from proxx_dagster.names import BATCH_EXECUTOR
from proxx_dagster.no_retry import NO_RETRY_EXECUTOR_CONFIG
from proxx_dagster.settings import configured_cores
from proxx_dagster.watch.orphans import RunWorkerRecorded, recording_run_worker

# Settings that keep Celery from ever running a started task a second time.
PINNED_CELERY_SETTINGS: Mapping[str, object] = {
    # Acknowledge on start: a task whose worker dies is not handed to another worker.
    "task_acks_late": False,
    "task_reject_on_worker_lost": False,
    # A publish that errors is not sent again: the first attempt may have reached the broker.
    "task_publish_retry": False,
    # Redis: take no task beyond the free pool processes. A reserved, unacknowledged task
    # would go back to the queue when Redis's visibility timeout passes during a long encode,
    # while this worker still holds it.
    "worker_disable_prefetch": True,
    # Other brokers: one reserved task per pool process at most.
    "worker_prefetch_multiplier": 1,
}

# The executor of proxx's one-step jobs: in process (the step runs in the run worker), no retries.
IN_PROCESS_EXECUTOR = recording_run_worker(in_process_executor).configured(NO_RETRY_EXECUTOR_CONFIG)

PINNED_SETTING = Enum("ProxxPinnedCelerySetting", [EnumValue("PINNED_BY_PROXX")])


def _dagster_celery_field(name: str) -> Field:
    """A field of dagster-celery's own executor config, so its meaning stays theirs."""
    field = celery_executor.config_field
    fields: Mapping[str, Field] = getattr(field.config_type, "fields", {}) if field else {}
    return fields[name]


# dagster-celery's config without `retries`, with a required broker (dagster-celery would
# otherwise fall back to a broker on localhost) and with the pinned settings refused.
CELERY_CONFIG = {
    "broker": Field(
        StringSource,
        description="Broker URL, e.g. redis://host:6379/0 or pyamqp://guest:guest@host:5672//.",
    ),
    "backend": _dagster_celery_field("backend"),
    "include": _dagster_celery_field("include"),
    "config_source": Field(
        # The pinned settings are declared with a type no value of theirs can pass, so a run
        # config that names one is refused before the run is created.
        Permissive(  # type: ignore[no-untyped-call]
            {key: Field(PINNED_SETTING, is_required=False) for key in PINNED_CELERY_SETTINGS}
        ),
        is_required=False,
        default_value={},
        description="More Celery settings (must match the workers'). The settings that prevent "
        "redelivery (" + ", ".join(PINNED_CELERY_SETTINGS) + ") are pinned by proxx and must "
        "be left out.",
    ),
}

BATCH_EXECUTOR_CONFIG = Field(
    Selector(  # type: ignore[no-untyped-call]
        {
            "in_process": Field({}, description="Run the JobSpecs one after another here."),
            "multiprocess": Field(
                {
                    "max_concurrent": Field(
                        Noneable(Int),
                        is_required=False,
                        default_value=None,
                        description="JobSpecs running at once (default: PROXX_CORES, else the "
                        "CPU count).",
                    ),
                    "start_method": Field(
                        Enum("ProxxStartMethod", [EnumValue("forkserver"), EnumValue("spawn")]),
                        is_required=False,
                        default_value="forkserver",
                        description="forkserver: step processes fork from one that imported "
                        "proxx once (fast start); spawn: each step starts a new interpreter.",
                    ),
                },
                description="Run each JobSpec in its own process on this machine.",
            ),
            "celery": Field(
                CELERY_CONFIG,
                description="Send each JobSpec to `dagster-celery worker` processes started "
                "with `-A proxx_dagster.celery_app`.",
            ),
        }
    ),
    default_value={"in_process": {}},
)


def celery_config_source(requested: Mapping[str, Any]) -> dict[str, Any]:
    """The user's extra Celery settings with the pinned ones laid over them."""
    return {**requested, **PINNED_CELERY_SETTINGS}


def _start_method_config(method: str, init_context: InitExecutorContext) -> dict[str, Any]:
    """Forkserver: preload the job's module and the instance's storage, so that each step forks
    with them imported. Given a start method in config, Dagster preloads only its executor
    module, and every step process imported dagster's storage and proxx again (the measured
    cost is in docs/scaling.md)."""
    if method != "forkserver":
        return {}
    modules = ["dagster", "proxx_dagster"]
    if module := job_module(init_context):
        modules.append(module)
    if init_context.instance.is_persistent:
        modules += instance_class_modules(init_context.instance)
    return {"preload_modules": list(dict.fromkeys(modules))}


def _requirements(config: Mapping[str, Any]) -> Sequence[ExecutorRequirement]:
    return multiple_process_executor_requirements() if "in_process" not in config else []


@executor(
    name=BATCH_EXECUTOR,
    config_schema=BATCH_EXECUTOR_CONFIG,
    requirements=_requirements,
)
def proxx_batch_executor(init_context: InitExecutorContext) -> Executor:
    """Dagster's in-process, multiprocess or Celery executor, always with retries disabled,
    recording its run worker first."""
    [(choice, chosen)] = init_context.executor_config.items()
    options: Mapping[str, Any] = chosen  # type: ignore[assignment]  # the Selector's schema
    config: dict[str, Any] = {**options, **NO_RETRY_EXECUTOR_CONFIG}
    if choice == "in_process":
        definition = in_process_executor
    elif choice == "multiprocess":
        definition = multiprocess_executor
        method = options["start_method"]
        # As many steps as the encode pool has places on the configured machine (a rehearsal of
        # a big one, not the one it runs on): a step past those would only wait for a place,
        # while a step held here starts the moment another of its run ends.
        # (imported here: `python -m proxx_dagster.sizing` must not find itself already loaded)
        from proxx_dagster.sizing import pool_limit  # noqa: PLC0415

        config["max_concurrent"] = options["max_concurrent"] or pool_limit(configured_cores())
        config["start_method"] = {method: _start_method_config(method, init_context)}
    else:
        definition = celery_executor
        config["config_source"] = celery_config_source(options["config_source"])
    context = InitExecutorContext(
        job=init_context.job,
        executor_def=definition,
        executor_config=config,
        instance=init_context.instance,
    )
    return RunWorkerRecorded(definition.executor_creation_fn(context))  # type: ignore[misc]


# The folder job's executor: each part of a card in its own process on this machine, side by
# side (as many at once as PROXX_CORES, else the CPU count), retries disabled; the steps
# also take a slot of the `proxx_encode` concurrency pool when the instance limits it.
CARD_EXECUTOR = proxx_batch_executor.configured({"multiprocess": {}}, name="proxx_card_executor")
