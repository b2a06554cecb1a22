"""Retries made impossible, in three layers.

1. Load time: `assert_no_retries` refuses definitions in which a job running a proxx op carries a
   retry policy (op, node or job-level `op_retry_policy`), run tags that enable run retries, or
   an executor whose retries are enabled or left to run config.
2. Every run: `NO_RETRY_TAGS` on our jobs, executors with retries disabled, and the op pins the
   tags on its own run before anything else, so a launch tag cannot re-enable run retries.
3. Run time: `refuse_retry` stops, before any side effect, an op running as a retry, a resumed
   attempt, a re-execution of an earlier run, or a step on a Celery worker configured to
   redeliver tasks whose worker died.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from dagster import (
    DagsterInvalidDefinitionError,
    Definitions,
    ExecutorDefinition,
    Failure,
    Field,
    GraphDefinition,
    JobDefinition,
    OpDefinition,
    OpExecutionContext,
)
from dagster import job as build_job

from proxx_dagster.names import (
    MAX_RETRIES_TAG,
    PROXX_OP_TAG,
    RETRY_NUMBER_TAG,
    RETRY_ON_ASSET_OR_OP_FAILURE_TAG,
)

NO_RETRY_TAGS: Mapping[str, str] = {MAX_RETRIES_TAG: "0", RETRY_ON_ASSET_OR_OP_FAILURE_TAG: "false"}
NO_RETRY_EXECUTOR_CONFIG: Mapping[str, object] = {"retries": {"disabled": {}}}
REFUSED_KEY = "proxx/refused"  # metadata of a refusal


class RetryConfigurationError(DagsterInvalidDefinitionError):
    """A definition would let Dagster run a proxx job more than once."""


def _retry_tag_problems(tags: Mapping[str, str]) -> list[str]:
    problems = []
    raw = tags.get(MAX_RETRIES_TAG)
    if raw is not None and raw.strip() != "0":
        problems.append(f"tag {MAX_RETRIES_TAG}={raw!r} (must be '0')")
    raw = tags.get(RETRY_ON_ASSET_OR_OP_FAILURE_TAG)
    if raw is not None and raw.strip().lower() != "false":
        problems.append(f"tag {RETRY_ON_ASSET_OR_OP_FAILURE_TAG}={raw!r} (must be 'false')")
    return problems


def _ops(graph: GraphDefinition, prefix: str = "") -> Iterator[tuple[str, OpDefinition, bool]]:
    """Every op under a graph: (node path, definition, whether the node sets a retry policy)."""
    for node in graph.nodes:
        path = f"{prefix}{node.name}"
        if isinstance(node.definition, GraphDefinition):
            yield from _ops(node.definition, prefix=f"{path}.")
        elif isinstance(node.definition, OpDefinition):
            yield path, node.definition, node.retry_policy is not None


def _retries_field(config_type: object) -> bool:
    """Whether run config can set a `retries` field anywhere under this config type."""
    fields: Mapping[str, Field] = getattr(config_type, "fields", None) or {}
    return any(
        name == "retries" or _retries_field(field.config_type) for name, field in fields.items()
    )


def _retries_enabled(config: object) -> bool:
    """Whether a resolved executor config has a `retries` entry other than disabled."""
    if not isinstance(config, Mapping):
        return False
    return any(
        (key == "retries" and value != NO_RETRY_EXECUTOR_CONFIG["retries"])
        or _retries_enabled(value)
        for key, value in config.items()
    )


def _executor_problems(job: JobDefinition) -> list[str]:
    executor = job.executor_def
    name = f"executor {executor.name!r} of job {job.name!r}"
    fix = "build it with .configured(NO_RETRY_EXECUTOR_CONFIG)"
    # What the executor runs with when run config gives it nothing: for an executor built with
    # .configured(...), its configured values (defaults filled in); for any other, {}.
    resolved = executor.apply_config_mapping({})
    if not resolved.success:
        return [f"{name} needs run config, so its retries cannot be checked; {fix}"]
    if _retries_enabled(resolved.value):
        return [f"{name} has retries enabled; {fix}"]
    # What run config may still set (a configured executor takes no run config of its own).
    field = executor.config_field
    if field is not None and _retries_field(field.config_type):
        return [f"{name} lets run config enable retries; {fix}"]
    return []


def runs_proxx(job: JobDefinition) -> bool:
    return any(PROXX_OP_TAG in op.tags for _, op, _ in _ops(job.graph))


def retry_problems(job: JobDefinition) -> list[str]:
    """Every way this job could be retried, each naming its offender."""
    problems = []
    if job.op_retry_policy is not None:
        problems.append(f"job {job.name!r} sets op_retry_policy")
    for path, op, node_policy in _ops(job.graph):
        if op.retry_policy is not None or node_policy:
            problems.append(f"op {path!r} in job {job.name!r} has a retry policy")
    run_tags = {**job.tags, **(job.run_tags or {})}
    problems += [f"job {job.name!r} has {p}" for p in _retry_tag_problems(run_tags)]
    return problems + _executor_problems(job)


def assert_no_retries(defs: Definitions) -> Definitions:
    """Refuse definitions in which any job that runs a proxx op could be retried.

    Call it on your own Definitions when you wrap our ops; it returns them unchanged, or raises
    RetryConfigurationError naming every offender. Jobs without proxx ops are left alone.

    .. code-block:: python

        from dagster import Definitions, RetryPolicy, job
        from proxx_dagster import (
            RetryConfigurationError,
            assert_no_retries,
            build_execute_jobspec_op,
            proxx_resources,
        )

        retried = build_execute_jobspec_op().with_retry_policy(RetryPolicy(max_retries=2))

        @job
        def nightly() -> None:
            retried()

        try:
            assert_no_retries(Definitions(jobs=[nightly], resources=proxx_resources()))
        except RetryConfigurationError as error:
            print(error)  # ... op 'execute_jobspec' in job 'nightly' has a retry policy ...
    """
    problems = []
    for job in defs.resolve_all_job_defs():
        if runs_proxx(job):
            problems += retry_problems(job)
    if problems:
        raise RetryConfigurationError(
            "proxx jobs must never be retried (a retry is a new job with a new job_id): "
            + "; ".join(problems)
        )
    return defs


def _celery_redelivery() -> list[str]:
    """Settings of the Celery worker running this step that would hand it to another worker.

    Only a process that has loaded Celery can be running a Celery task, so none is imported.
    """
    celery = sys.modules.get("celery")
    task = celery.current_task if celery is not None else None
    if not task:
        return []
    settings = ("task_acks_late", "task_reject_on_worker_lost")
    return [
        f"Celery worker setting {key}={task.app.conf.get(key)!r} would redeliver this task"
        for key in settings
        if task.app.conf.get(key)
    ]


def refuse_retry(context: OpExecutionContext) -> None:
    """Fail before any side effect when this attempt is not the first and only one."""
    reasons = _celery_redelivery()
    if context.retry_number > 0:
        reasons.append(f"op retry attempt {context.retry_number}")
    run = context.run
    raw_number = run.tags.get(RETRY_NUMBER_TAG)
    if raw_number is not None and raw_number != "0":
        reasons.append(f"automatic run retry {raw_number} ({RETRY_NUMBER_TAG})")
    if run.parent_run_id is not None:
        reasons.append(f"re-execution of run {run.parent_run_id}")
    step_key = context.get_step_execution_context().step.key
    stats = context.instance.get_run_step_stats(run.run_id, step_keys=[step_key])
    if any(
        (step.attempts or 0) > 1 for step in stats
    ):  # each start or restart of the step in this run
        reasons.append("resumed attempt: this step already started once in this run")
    if reasons:
        raise Failure(
            description="proxx refuses to run a JobSpec again (" + "; ".join(reasons) + "). "
            "Nothing was started. To re-run a failed job, launch it as a new job with a new "
            "job_id and retried_from set to the failed job's id.",
            metadata={REFUSED_KEY: "; ".join(reasons)},
            allow_retries=False,
        )


def pin_no_retry_tags(context: OpExecutionContext) -> None:
    """Overwrite retry-enabling tags on this run, whatever the launch asked for."""
    tags = context.run.tags
    if any(tags.get(key) != value for key, value in NO_RETRY_TAGS.items()):
        context.instance.add_run_tags(context.run_id, dict(NO_RETRY_TAGS))
        context.log.warning(
            "run tags asked for retries; proxx pinned %s on this run",
            ", ".join(f"{k}={v}" for k, v in NO_RETRY_TAGS.items()),
        )


def no_retry_job(
    name: str,
    description: str,
    wiring: Callable[[], None],
    executor_def: ExecutorDefinition,
    resource_defs: Mapping[str, Any] | None = None,
) -> JobDefinition:
    """The one way proxx builds a job: `wiring` calls its ops; the run tags keep run retries off
    (`NO_RETRY_TAGS`) and the executor given must have its retries disabled (`assert_no_retries`
    checks both when the definitions load)."""
    return build_job(
        name=name,
        description=description,
        tags=dict(NO_RETRY_TAGS),
        executor_def=executor_def,
        resource_defs=dict(resource_defs) if resource_defs is not None else None,
    )(wiring)


def single_op_job(
    name: str,
    description: str,
    op_def: OpDefinition,
    executor_def: ExecutorDefinition,
    resource_defs: Mapping[str, Any] | None = None,
) -> JobDefinition:
    """A no-retry job of one op (`proxx_job`, the document job, the audit job)."""

    def one_op() -> None:
        op_def()

    return no_retry_job(name, description, one_op, executor_def, resource_defs)
