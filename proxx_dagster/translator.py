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

from proxx_dagster.posters import posters_markdown
from proxx_exec import ExecutionResult
from proxx_exec.display import markdown_text
from proxx_exec.handoff.job import HandOff
from proxx_exec.naming import result_path
from proxx_exec.tools.audit import ResultAudit
from proxx_exec.tools.posters import PosterSet
from proxx_exec.verify import CHECK_NAMES

COMPLETED_CHECK = "job_completed"
OUTPUTS_INTACT_CHECK = "outputs_intact"
HANDED_OFF_CHECK = "handed_off"
MHL_GENERATION_KEY = "proxx/mhl_generation"
ALE_KEY = "proxx/ale"
FCPXML_KEY = "proxx/fcpxml"
# Metadata keys used in more than one place.
STATUS_KEY = "proxx/status"
DIGEST_KEY = "proxx/result_digest"
FINGERPRINT_KEY = "proxx/spec_fingerprint"
RESULT_FILE_KEY = "proxx/result_file"
RESULT_PATH_KEY = "proxx/result_path"  # where the result IO manager stored a step's result
# Posters, contact sheet and night report: shown beside the result, never derived into it.
POSTERS_KEY = "proxx/posters"
POSTER_FILES_KEY = "proxx/poster_files"
CONTACT_SHEET_KEY = "proxx/contact_sheet"
POSTER_PROBLEMS_KEY = "proxx/poster_problems"
NIGHT_REPORT_KEY = "proxx/night_report"
# The files of a card that its run did not read (cards.py's Skipped), as JSON: its night reads them.
SKIPPED_FILES_KEY = "proxx/skipped_files"
FOLDER_KEY = "proxx/folder"  # the card folder a folder job was built from
CAMERA_RAW_KEY = "proxx/camera_raw_files"  # how many of them are camera RAW
POSTER_COLUMNS = TableSchema(
    columns=[
        TableColumn("index", "int"),
        TableColumn("poster", "string"),
        TableColumn("frame", "int"),
        TableColumn("sha256", "string"),
        TableColumn("problem", "string"),
    ]
)
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
    """Names and metadata of proxx assets and checks, all derived from the ExecutionResult.

    Subclass it to rename or add, and pass the subclass to `build_definitions` (or to
    `build_proxx_job`, `build_batch_job`, `build_execute_jobspec_op`):

    .. code-block:: python

        from dagster import AssetKey
        from proxx_dagster import ProxxTranslator, build_definitions

        class StudioTranslator(ProxxTranslator):
            def proxies_key(self) -> AssetKey:
                return AssetKey(["studio", "editing_proxies"])

            def check_names(self) -> tuple[str, ...]:
                return ("job_completed", "frame_count", "decodes_without_error")  # only these

        defs = build_definitions(translator=StudioTranslator())
    """

    def proxies_key(self) -> AssetKey:
        return AssetKey(["proxx", "proxies"])

    def source_media_key(self) -> AssetKey:
        return AssetKey(["proxx", "source_media"])

    def check_names(self) -> tuple[str, ...]:
        """The asset checks declared on the proxies and reported after each job: `job_completed`
        and proxx's verification checks. With `outputs_intact_check`, the only source of check
        names. An override may leave checks out, never name one proxx does not record."""
        return (COMPLETED_CHECK, *CHECK_NAMES)

    def declared_check_names(self) -> tuple[str, ...]:
        """`check_names()`, refused if it names a check no ExecutionResult records (it would be
        declared and never reported)."""
        names = self.check_names()
        known = (COMPLETED_CHECK, *CHECK_NAMES)
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(
                f"{type(self).__name__}.check_names() names {', '.join(map(repr, unknown))}, "
                f"which proxx does not record; its checks are: {', '.join(known)}"
            )
        return names

    def outputs_intact_check(self) -> str:
        """The per-partition check the audit job reports: the committed proxies still match
        the job's ExecutionResult (sizes, SHA-256s, digest, nothing extra)."""
        return OUTPUTS_INTACT_CHECK

    def handed_off_check(self) -> str:
        """The check reported after each COMPLETED job's hand-off: its ALE and FCPXML written and
        its proxy folder sealed (ASC MHL). Its failure never fails the job's step."""
        return HANDED_OFF_CHECK

    def hand_off_metadata(self, handed: HandOff) -> dict[str, Any]:
        """Where the hand-off's files are: the MHL generation, the ALE and the FCPXML."""
        metadata: dict[str, Any] = {}
        if handed.seal.generation:
            metadata[MHL_GENERATION_KEY] = MetadataValue.path(handed.seal.generation)
        if handed.editorial.ale:
            metadata[ALE_KEY] = MetadataValue.path(handed.editorial.ale)
        if handed.editorial.fcpxml:
            metadata[FCPXML_KEY] = MetadataValue.path(handed.editorial.fcpxml)
        return metadata

    def handed_off_evaluation(self, handed: HandOff) -> AssetCheckEvaluation:
        """`handed_off` for one COMPLETED job: passed when nothing of its hand-off went wrong."""
        problems = handed.problems
        return AssetCheckEvaluation(
            asset_key=self.proxies_key(),
            check_name=self.handed_off_check(),
            passed=not problems,
            severity=AssetCheckSeverity.ERROR,
            description="; ".join(map(markdown_text, problems))
            or f"ALE, FCPXML and the ASC MHL seal of {len(handed.seal.files)} files written",
            metadata={
                **self.hand_off_metadata(handed),
                "proxx/job_id": handed.job_id,
                "proxx/sealed_files": len(handed.seal.files),
            },
        )

    def summary_metadata(self, result: ExecutionResult) -> dict[str, Any]:
        engine = result.engine
        metadata: dict[str, Any] = {
            STATUS_KEY: result.status.value,
            "proxx/job_id": result.job_id or "",
            FINGERPRINT_KEY: result.spec_fingerprint,
            DIGEST_KEY: result.digest,
            "proxx/engine": f"{engine.name} · {engine.version_line} · sha256 {engine.sha256}"
            if engine
            else "not resolved",
            "proxx/prober": result.prober.describe() if result.prober else "not resolved",
            "proxx/clip_count": len(result.clips),
        }
        if result.spec is not None:
            metadata[RESULT_FILE_KEY] = MetadataValue.path(
                result_path(result.spec.output_dir, result.spec.job_id)
            )
        if result.failure is not None:
            metadata["proxx/failure_class"] = result.failure.failure_class.value
            metadata["proxx/failure_reason"] = result.failure.reason.value
            metadata["proxx/failure_message"] = result.failure.message
        return metadata

    def failure_metadata(self, result: ExecutionResult) -> dict[str, Any]:
        """Metadata of the step failure of a FAILED result: the summary and the stderr tail."""
        tail = result.failure.stderr_tail if result.failure else None
        return {**self.summary_metadata(result), "proxx/stderr_tail": tail or ""}

    def observation_metadata(self, result: ExecutionResult) -> dict[str, Any]:
        """Metadata of the source-media observation: the sources the JobSpec names."""
        return {
            "proxx/sources": list(result.spec.sources) if result.spec else [],
            FINGERPRINT_KEY: result.spec_fingerprint,
        }

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

    def poster_metadata(self, posters: PosterSet) -> dict[str, Any]:
        """Metadata of a COMPLETED job's posters: the posters inline (markdown), their files,
        the contact sheet and any problem. Never part of the result or its checks."""
        metadata: dict[str, Any] = {
            POSTERS_KEY: MetadataValue.md(posters_markdown(posters)),
            POSTER_FILES_KEY: MetadataValue.table(
                [
                    TableRecord(
                        {
                            "index": poster.index,
                            "poster": poster.path or "",
                            "frame": poster.frame if poster.frame is not None else -1,
                            "sha256": poster.sha256 or "",
                            "problem": poster.problem or "",
                        }
                    )
                    for poster in posters.posters
                ],
                schema=POSTER_COLUMNS,
            ),
        }
        if posters.contact_sheet:
            metadata[CONTACT_SHEET_KEY] = MetadataValue.path(posters.contact_sheet)
        if posters.problems:
            metadata[POSTER_PROBLEMS_KEY] = "; ".join(posters.problems)
        return metadata

    def check_evaluations(self, result: ExecutionResult) -> list[AssetCheckEvaluation]:
        """One evaluation per declared check (`check_names`) that the result holds: passed
        only if it passed on every clip; `job_completed` passes exactly when it COMPLETED."""
        key = self.proxies_key()
        evaluations = []
        for name in self.declared_check_names():
            if name == COMPLETED_CHECK:
                evaluations.append(
                    AssetCheckEvaluation(
                        asset_key=key,
                        check_name=COMPLETED_CHECK,
                        passed=result.completed,
                        severity=AssetCheckSeverity.ERROR,
                        metadata={STATUS_KEY: result.status.value, DIGEST_KEY: result.digest},
                    )
                )
                continue
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

    def audit_metadata(self, audit: ResultAudit, problems: list[str]) -> dict[str, Any]:
        """Metadata of an `outputs_intact` evaluation: the audit of the partition's result file
        and every problem found with the partition, in plain words."""
        metadata: dict[str, Any] = {
            RESULT_FILE_KEY: MetadataValue.path(audit.result_file),
            "proxx/outputs_checked": audit.outputs_checked,
            "proxx/bytes_hashed": audit.bytes_hashed,
            "proxx/findings": MetadataValue.md(
                "\n".join(f"- {markdown_text(line)}" for line in problems) or "none"
            ),
            "proxx/audit": MetadataValue.json(audit.model_dump(mode="json")),
        }
        if audit.recorded_digest is not None:
            metadata[DIGEST_KEY] = audit.recorded_digest
        return metadata
