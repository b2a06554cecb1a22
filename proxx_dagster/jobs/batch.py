"""`proxx_batch`: many JobSpecs in one run, one independent step per JobSpec.

`plan_batch` reads the batch (JobSpecs pasted in the config, or a folder of JobSpec files) and
fans it out; each `execute_batch_jobspec` step runs one JobSpec exactly once, like `proxx_job`.
A failed JobSpec fails its own step only. The executor (in process, multiprocess, Celery) is
chosen by run config; the steps are the same code whatever runs them.
"""

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import (
    Array,
    DynamicOut,
    DynamicOutput,
    ExecutorDefinition,
    Failure,
    Field,
    In,
    JobDefinition,
    OpDefinition,
    OpExecutionContext,
    Output,
    Selector,
    op,
)
from pydantic import BaseModel, ConfigDict

from proxx_dagster.jobs.executors import proxx_batch_executor
from proxx_dagster.jobs.ops import proxx_op, proxx_resources, run_document
from proxx_dagster.launchpad import jobspec_config_schema
from proxx_dagster.names import (
    BATCH_JOB,
    BATCH_SIZE_TAG,
    ENCODE_POOL,
    EXECUTE_BATCH_OP,
    PLAN_OP,
)
from proxx_dagster.no_retry import no_retry_job
from proxx_dagster.translator import ProxxTranslator
from proxx_dagster.watch.spec_files import SPEC_SUFFIXES, list_spec_files, read_spec
from proxx_exec import ExecutionResult
from proxx_exec.canonical import canonical_json

_KEY_CHARACTERS = re.compile(r"[^A-Za-z0-9_]+")


class BatchEntry(BaseModel):
    """One JobSpec of a batch as its step receives it: the document's exact bytes."""

    model_config = ConfigDict(frozen=True)

    index: int
    origin: str  # "jobspecs[2]" or the file the document was read from
    document: bytes
    job_id: str | None  # None: the document is not a valid JobSpec; its step says why

    @property
    def mapping_key(self) -> str:
        """The step's name within the run: position first (stable order), then a readable id."""
        name = self.job_id or Path(self.origin).stem
        return f"{self.index:03d}_{_KEY_CHARACTERS.sub('_', name)[:60].strip('_') or 'jobspec'}"


def _refuse(message: str) -> Failure:
    return Failure(
        description=f"{BATCH_JOB} refused: {message}. Nothing was started.", allow_retries=False
    )


def _pasted_entries(jobspecs: list[Mapping[str, Any]]) -> list[BatchEntry]:
    entries = []
    for index, fields in enumerate(jobspecs):
        job_id = fields.get("job_id")
        entries.append(
            BatchEntry(
                index=index,
                origin=f"jobspecs[{index}]",
                document=canonical_json(dict(fields)),
                job_id=job_id if isinstance(job_id, str) else None,
            )
        )
    return entries


def _folder_entries(folder: Path) -> list[BatchEntry]:
    if not folder.is_dir():
        raise _refuse(f"{folder} is not a folder")
    entries = []
    for index, path in enumerate(list_spec_files(folder)):
        try:
            spec_file = read_spec(path)
        except OSError as error:
            raise _refuse(f"cannot read {path} ({error.strerror or error})") from None
        job_id = spec_file.spec.job_id if spec_file.spec else None
        entries.append(
            BatchEntry(index=index, origin=str(path), document=spec_file.raw, job_id=job_id)
        )
    if not entries:
        raise _refuse(f"{folder} holds no JobSpec file ({', '.join(SPEC_SUFFIXES)})")
    return entries


def batch_entries(config: Mapping[str, Any]) -> list[BatchEntry]:
    """The batch in order, refused as a whole (before anything starts) when it is empty or
    names one job_id twice, since two steps would then race for the same outputs."""
    if "folder" in config:
        entries = _folder_entries(Path(config["folder"]))
    else:
        entries = _pasted_entries(config["jobspecs"])
        if not entries:
            raise _refuse("the jobspecs list is empty")
    counts = Counter(entry.job_id for entry in entries if entry.job_id is not None)
    repeated = sorted(job_id for job_id, count in counts.items() if count > 1)
    if repeated:
        places = "; ".join(
            f"{job_id!r} in " + ", ".join(e.origin for e in entries if e.job_id == job_id)
            for job_id in repeated
        )
        raise _refuse(f"a job_id may appear once per batch: {places}")
    return entries


BATCH_CONFIG = Selector(  # type: ignore[no-untyped-call]
    {
        "jobspecs": Field(
            Array(jobspec_config_schema()),
            description="The JobSpecs of the batch, each as in proxx_job.",
        ),
        "folder": Field(
            str,
            description="A folder of JobSpec files (.json, .yaml, .yml), run in name order.",
        ),
    }
)


@op(
    name=PLAN_OP,
    description="Read the batch and fan it out: one execute step per JobSpec.",
    config_schema=BATCH_CONFIG,
    out=DynamicOut(BatchEntry),
    pool=ENCODE_POOL,  # the run queue starts a batch's run only when the pool has a place
)
def plan_batch(context: OpExecutionContext) -> Iterator[DynamicOutput[BatchEntry]]:
    entries = batch_entries(context.op_config)
    context.instance.add_run_tags(context.run_id, {BATCH_SIZE_TAG: str(len(entries))})
    context.log.info(f"batch of {len(entries)} JobSpec(s): " + ", ".join(e.origin for e in entries))
    for entry in entries:
        yield DynamicOutput(entry, mapping_key=entry.mapping_key)


def build_execute_batch_op(translator: ProxxTranslator | None = None) -> OpDefinition:
    names = translator or ProxxTranslator()

    @proxx_op(
        EXECUTE_BATCH_OP,
        description="Run one JobSpec of the batch with proxx_exec, exactly once. Yields its "
        "ExecutionResult; fails exactly when the result is FAILED, leaving the others alone.",
        ins={"entry": In(BatchEntry)},
    )
    def execute_batch_jobspec(
        context: OpExecutionContext, entry: BatchEntry
    ) -> Iterator[Output[ExecutionResult]]:
        context.log.info(f"JobSpec {entry.origin} ({len(entry.document)} bytes)")
        yield from run_document(context, entry.document, names)

    return execute_batch_jobspec


def build_batch_job(
    translator: ProxxTranslator | None = None, executor_def: ExecutorDefinition | None = None
) -> JobDefinition:
    """`proxx_batch`: many JobSpecs in one run, one step each. The default executor is chosen
    under `execution` in the run config (in process, multiprocess, Celery); pass another
    executor, configured with retries disabled, to run the same steps elsewhere.

    .. code-block:: python

        from dagster import Definitions, multiprocess_executor
        from proxx_dagster import (
            NO_RETRY_EXECUTOR_CONFIG,
            assert_no_retries,
            build_batch_job,
            proxx_resources,
        )

        batch = build_batch_job(
            executor_def=multiprocess_executor.configured(
                {**NO_RETRY_EXECUTOR_CONFIG, "max_concurrent": 4}
            )
        )
        defs = assert_no_retries(Definitions(jobs=[batch], resources=proxx_resources()))
    """
    execute = build_execute_batch_op(translator)

    def proxx_batch() -> None:
        plan_batch().map(execute)

    return no_retry_job(
        BATCH_JOB,
        "Run many JobSpecs, one step each; in process, multiprocess or on Celery "
        "workers, chosen under `execution` in the run config.",
        proxx_batch,
        executor_def or proxx_batch_executor,
        proxx_resources(),
    )
