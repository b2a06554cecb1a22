"""How results appear in Dagster: asset keys, metadata and check evaluations. Override to rename.

Everything here is derived from the ExecutionResult alone.
"""

from __future__ import annotations

from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    TableColumn,
    TableRecord,
    TableSchema,
)

from proxx_exec import ExecutionResult
from proxx_exec.naming import result_path
from proxx_exec.verify import CHECK_NAMES

COMPLETED_CHECK = "job_completed"
CLIP_COLUMNS = TableSchema(
    columns=[
        TableColumn("index", "int"),
        TableColumn("source", "string"),
        TableColumn("output", "string"),
        TableColumn("state", "string"),
        TableColumn("bytes", "int"),
        TableColumn("sha256", "string"),
        TableColumn("duration_s", "float"),
        TableColumn("argv", "string"),
    ]
)


class ProxxTranslator:
    """Names and metadata of proxx assets. Subclass and pass to `build_definitions`."""

    def proxies_key(self) -> AssetKey:
        return AssetKey(["proxx", "proxies"])

    def source_media_key(self) -> AssetKey:
        return AssetKey(["proxx", "source_media"])

    def check_names(self) -> tuple[str, ...]:
        return (COMPLETED_CHECK, *CHECK_NAMES)

    def summary_metadata(self, result: ExecutionResult) -> dict[str, Any]:
        engine = result.engine
        metadata: dict[str, Any] = {
            "proxx/status": result.status.value,
            "proxx/job_id": result.job_id or "",
            "proxx/spec_fingerprint": result.spec_fingerprint,
            "proxx/result_digest": result.digest,
            "proxx/engine": f"{engine.name} · {engine.version_line} · sha256 {engine.sha256}"
            if engine
            else "not resolved",
            "proxx/clip_count": len(result.clips),
        }
        if result.spec is not None:
            metadata["proxx/result_file"] = MetadataValue.path(
                result_path(result.spec.output_dir, result.spec.job_id)
            )
        if result.failure is not None:
            metadata["proxx/failure_class"] = result.failure.failure_class.value
            metadata["proxx/failure_reason"] = result.failure.reason.value
            metadata["proxx/failure_message"] = result.failure.message
        return metadata

    def materialization_metadata(self, result: ExecutionResult) -> dict[str, Any]:
        rows = [
            TableRecord(
                {
                    "index": clip.index,
                    "source": clip.source,
                    "output": clip.output or "",
                    "state": clip.state.value,
                    "bytes": clip.output_bytes or 0,
                    "sha256": clip.output_sha256 or "",
                    "duration_s": clip.duration_s or 0.0,
                    "argv": " ".join(clip.argv),
                }
            )
            for clip in result.clips
        ]
        return {
            **self.summary_metadata(result),
            "proxx/clips": MetadataValue.table(rows, schema=CLIP_COLUMNS),
        }

    def check_evaluations(self, result: ExecutionResult) -> list[AssetCheckEvaluation]:
        """One evaluation per check the result holds: passed only if it passed on every clip."""
        key = self.proxies_key()
        evaluations = [
            AssetCheckEvaluation(
                asset_key=key,
                check_name=COMPLETED_CHECK,
                passed=result.completed,
                severity=AssetCheckSeverity.ERROR,
                metadata={
                    "proxx/status": result.status.value,
                    "proxx/result_digest": result.digest,
                },
            )
        ]
        for name in CHECK_NAMES:
            per_clip = [
                (clip.index, check)
                for clip in result.clips
                for check in clip.checks
                if check.name == name
            ]
            if not per_clip:
                continue
            evaluations.append(
                AssetCheckEvaluation(
                    asset_key=key,
                    check_name=name,
                    passed=all(check.passed for _, check in per_clip),
                    severity=AssetCheckSeverity.ERROR,
                    metadata={
                        f"clip {index}": MetadataValue.json(
                            {
                                "expected": check.expected,
                                "actual": check.actual,
                                "passed": check.passed,
                            }
                        )
                        for index, check in per_clip
                    },
                )
            )
        return evaluations
