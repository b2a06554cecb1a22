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

from proxx_exec import ExecutionResult, digest_matches


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
        metadata={"proxx/status": value.status.value, "proxx/result_digest": value.digest},
    )


ExecutionResultType = DagsterType(
    name="ExecutionResult",
    description="A proxx_exec ExecutionResult whose digest matches its content.",
    type_check_fn=_check_result,
    typing_type=ExecutionResult,
)


class ExecutionResultIOManager(ConfigurableIOManager):
    """Stores each result as `<base_dir>/<run_id>/<step_key>/<output>.json` and reads it back."""

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
        temporary = path.with_suffix(".tmp")
        temporary.write_text(obj.to_json(), encoding="utf-8")
        temporary.replace(path)  # a step writes its own output once; the rename makes it whole
        context.add_output_metadata({"proxx/result_path": MetadataValue.path(str(path))})

    def load_input(self, context: InputContext) -> ExecutionResult:
        upstream = context.upstream_output
        assert upstream is not None
        path = self._path(context.instance, upstream)
        return ExecutionResult.from_json(path.read_text(encoding="utf-8"))
