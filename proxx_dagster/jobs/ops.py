"""The op: refuse retries, call proxx_exec exactly once, report the result, fail iff FAILED."""

import base64
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from dagster import (
    AssetMaterialization,
    AssetObservation,
    Failure,
    Field,
    In,
    MetadataValue,
    OpDefinition,
    OpExecutionContext,
    Out,
    Output,
    op,
)

from proxx_dagster.hosts import check_engine_host
from proxx_dagster.launchpad import jobspec_config_schema
from proxx_dagster.names import (
    DOCUMENT_OP,
    ENCODE_POOL,
    EXECUTE_OP,
    JOB_PARTITIONS,
    PROXX_OP_TAG,
    RESULT_IO_MANAGER_KEY,
)
from proxx_dagster.no_retry import pin_no_retry_tags, refuse_retry
from proxx_dagster.posters import make_job_posters
from proxx_dagster.result_io import ExecutionResultIOManager, ExecutionResultType
from proxx_dagster.translator import CONTACT_SHEET_KEY, ProxxTranslator
from proxx_dagster.watch.orphans import end_with_run_worker
from proxx_exec import ClipProgress, ExecutionResult, execute_document
from proxx_exec.canonical import canonical_json
from proxx_exec.tools.posters import PosterSet


def proxx_op(
    name: str,
    description: str,
    *,
    config_schema: Any = None,
    ins: Mapping[str, In] | None = None,
) -> Callable[[Callable[..., Any]], OpDefinition]:
    """The decorator of every op that runs a JobSpec (`run_document`): its ExecutionResult out
    through the result IO manager, the tag that `assert_no_retries` looks for, and the machine's
    encode slots (every encoding op shares the pool)."""
    return op(
        name=name,
        description=description,
        config_schema=config_schema,
        ins=ins,
        out=Out(ExecutionResultType, io_manager_key=RESULT_IO_MANAGER_KEY),
        tags={PROXX_OP_TAG: "true"},
        pool=ENCODE_POOL,
    )


def proxx_resources() -> dict[str, Any]:
    """Resources a job needs to run our ops (the result IO manager); pass them to your
    Definitions when you wrap the ops (example: `build_execute_jobspec_op`)."""
    return {RESULT_IO_MANAGER_KEY: ExecutionResultIOManager()}


class _ProgressLog:
    """Per-clip progress into the run log: phase changes and every quarter of the encode."""

    def __init__(self, context: OpExecutionContext) -> None:
        self._context = context
        self._last: tuple[int, str, int] | None = None

    def __call__(self, event: ClipProgress) -> None:
        quarter = 4 * event.frames_done // max(event.frames_total, 1)
        key = (event.index, event.phase, quarter)
        if key == self._last:
            return
        self._last = key
        self._context.log.info(
            f"clip {event.index + 1}/{event.clip_count} {event.source}: {event.phase} "
            f"{event.frames_done}/{event.frames_total} frames"
        )


def _report_assets(
    context: OpExecutionContext,
    result: ExecutionResult,
    translator: ProxxTranslator,
    posters: PosterSet | None,
) -> None:
    if result.job_id is None or result.spec is None:
        return  # an unparseable JobSpec names no partition; the result still says why
    if not context.instance.has_dynamic_partition(JOB_PARTITIONS, result.job_id):
        context.instance.add_dynamic_partitions(JOB_PARTITIONS, [result.job_id])
    context.log_event(
        AssetObservation(
            asset_key=translator.source_media_key(),
            partition=result.job_id,
            metadata=translator.observation_metadata(result),
        )
    )
    if result.completed:
        context.log_event(
            AssetMaterialization(
                asset_key=translator.proxies_key(),
                partition=result.job_id,
                metadata={
                    **translator.materialization_metadata(result),
                    **(translator.poster_metadata(posters) if posters else {}),
                },
            )
        )
    for evaluation in translator.check_evaluations(result):
        context.log_event(evaluation)  # type: ignore[arg-type]  # accepted at run time


def run_document(
    context: OpExecutionContext,
    raw: bytes,
    names: ProxxTranslator,
    extra_metadata: Mapping[str, Any] | None = None,
    *,
    contact_sheet: bool = True,
    fail: bool = True,
) -> Iterator[Output[ExecutionResult]]:
    """The one path of every op that runs a JobSpec: refuse retries, run once, report, fail iff
    FAILED. `extra_metadata` (e.g. how the JobSpec was built) joins the output's metadata.
    A part of a card passes `fail=False` (and `contact_sheet=False` when the card has several
    parts): the card's last step fails the run, naming each FAILED part, and writes its sheet."""
    refuse_retry(context)
    pin_no_retry_tags(context)
    end_with_run_worker(context.instance, context.dagster_run)
    # Before any engine runs: a run never mixes engines across hosts.
    extra_metadata = {**(extra_metadata or {}), **check_engine_host(context, raw)}
    result = execute_document(raw, on_progress=_ProgressLog(context))
    # after the verdict; never changes it
    posters = make_job_posters(context, result, contact_sheet)
    _report_assets(context, result, names, posters)
    metadata = {**extra_metadata, **names.summary_metadata(result)}
    if result.failure is not None and not fail:  # the step succeeds: its output says why
        metadata.update(names.failure_metadata(result))
    if posters is not None and posters.contact_sheet:
        metadata[CONTACT_SHEET_KEY] = MetadataValue.path(posters.contact_sheet)
    yield Output(result, metadata=metadata)
    if result.failure is not None and fail:
        failure = result.failure
        raise Failure(
            description=f"{failure.failure_class.value} {failure.reason.value}: {failure.message}",
            metadata={**extra_metadata, **names.failure_metadata(result)},
            allow_retries=False,
        )


def build_execute_jobspec_op(
    translator: ProxxTranslator | None = None, name: str = EXECUTE_OP
) -> OpDefinition:
    """The op that runs one JobSpec (its config) exactly once: it refuses to run as any kind of
    retry, yields the ExecutionResult and fails exactly when the result is FAILED. Use your own
    translator to rename assets or metadata, and keep the load-time retry check:

    .. code-block:: python

        from dagster import Definitions, in_process_executor, job
        from proxx_dagster import (
            NO_RETRY_EXECUTOR_CONFIG,
            NO_RETRY_TAGS,
            assert_no_retries,
            build_execute_jobspec_op,
            proxx_resources,
        )

        execute_jobspec = build_execute_jobspec_op()

        @job(
            tags=dict(NO_RETRY_TAGS),
            executor_def=in_process_executor.configured(dict(NO_RETRY_EXECUTOR_CONFIG)),
        )
        def camera_a_proxies() -> None:
            execute_jobspec()

        defs = assert_no_retries(
            Definitions(jobs=[camera_a_proxies], resources=proxx_resources())
        )
    """
    names = translator or ProxxTranslator()

    @proxx_op(
        name,
        description="Run one JobSpec with proxx_exec: every clip encoded once, verified, then "
        "committed. Yields the ExecutionResult; fails exactly when the result is FAILED.",
        config_schema=jobspec_config_schema(),
    )
    def execute_jobspec(context: OpExecutionContext) -> Iterator[Output[ExecutionResult]]:
        config: dict[str, Any] = dict(context.op_config)
        yield from run_document(context, canonical_json(config), names)

    return execute_jobspec


def build_execute_document_op(
    translator: ProxxTranslator | None = None, name: str = DOCUMENT_OP
) -> OpDefinition:
    """The op behind the schedule and the sensor: the JobSpec file's exact bytes in, so a file
    that cannot even be parsed still ends in a FAILED VALIDATION result that Dagster shows."""
    names = translator or ProxxTranslator()

    @proxx_op(
        name,
        description="Run one JobSpec document (a file's bytes, base64) with proxx_exec.",
        config_schema={
            "spec_file": Field(str, description="Where the document was read, for the audit."),
            "document_base64": Field(str, description="The file's exact bytes, base64."),
        },
    )
    def execute_jobspec_document(
        context: OpExecutionContext,
    ) -> Iterator[Output[ExecutionResult]]:
        raw = base64.b64decode(context.op_config["document_base64"], validate=True)
        context.log.info(f"JobSpec file {context.op_config['spec_file']} ({len(raw)} bytes)")
        yield from run_document(context, raw, names)

    return execute_jobspec_document
