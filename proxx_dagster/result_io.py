"""The ExecutionResult as a Dagster type, stored as readable JSON by a small IO manager."""

from __future__ import annotations

from pathlib import Path

from dagster import (
    ConfigurableIOManager,
    DagsterInstance,
    DagsterType,
    InputContext,
    MetadataValue,
    OutputContext,
    TypeCheck,
    TypeCheckContext,
)
from pydantic import Field

from proxx_dagster.translator import DIGEST_KEY, RESULT_PATH_KEY, STATUS_KEY
from proxx_exec import ExecutionResult, digest_matches
from proxx_exec.files import write_new_file


def _check_result(_: TypeCheckContext, value: object) -> TypeCheck:
    if not isinstance(value, ExecutionResult):
        return TypeCheck(
            success=False, description=f"expected an ExecutionResult, got {type(value).__name__}"
        )
    if not digest_matches(value):
        return TypeCheck(
            success=False, description="the result's digest does not match its content"
        )
    return TypeCheck(
        success=True,
        metadata={STATUS_KEY: value.status.value, DIGEST_KEY: value.digest},
    )


# The op output's Dagster type: an ExecutionResult whose digest matches its content.
ExecutionResultType = DagsterType(
    name="ExecutionResult",
    description="A proxx_exec ExecutionResult whose digest matches its content.",
    type_check_fn=_check_result,
    typing_type=ExecutionResult,
)


class ExecutionResultIOManager(ConfigurableIOManager):
    """Stores each result as `<base_dir>/<run_id>/<step_key>/<output>.json` and reads it back.

    Each file is written once, whole or not at all, and never replaced. Our jobs use it under
    the key `proxx_result_io_manager` (`proxx_resources()`); a job of yours that wraps our op
    can keep the results elsewhere:

    .. code-block:: python

        from dagster import Definitions, in_process_executor, job
        from proxx_dagster import (
            NO_RETRY_EXECUTOR_CONFIG,
            NO_RETRY_TAGS,
            ExecutionResultIOManager,
            build_execute_jobspec_op,
        )

        execute_jobspec = build_execute_jobspec_op()

        @job(
            tags=dict(NO_RETRY_TAGS),
            executor_def=in_process_executor.configured(dict(NO_RETRY_EXECUTOR_CONFIG)),
        )
        def proxies() -> None:
            execute_jobspec()

        results = ExecutionResultIOManager(base_dir="/srv/proxx-results")
        defs = Definitions(jobs=[proxies], resources={"proxx_result_io_manager": results})
    """

    base_dir: str | None = Field(
        default=None,
        description="Folder for result files; default: the instance's storage folder.",
    )

    def _path(self, instance: DagsterInstance, output: OutputContext) -> Path:
        base = (
            Path(self.base_dir)
            if self.base_dir
            else Path(instance.storage_directory()) / "proxx-results"
        )
        return base / output.run_id / str(output.step_key) / f"{output.name}.json"

    def handle_output(self, context: OutputContext, obj: ExecutionResult) -> None:
        path = self._path(context.step_context.instance, context)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_new_file(path, obj.to_json())  # a step writes its own output once
        context.add_output_metadata({RESULT_PATH_KEY: MetadataValue.path(str(path))})

    def load_input(self, context: InputContext) -> ExecutionResult:
        upstream = context.upstream_output
        assert upstream is not None
        path = self._path(context.instance, upstream)
        return ExecutionResult.from_json(path.read_text(encoding="utf-8"))
